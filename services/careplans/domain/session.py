"""A DIALOG+ session: chosen domains, the four steps, agreed actions and the review of open ones.

The person chooses up to three domains to discuss (clinical-domain §2.1); each goes through the
four solution-focused steps and ends in agreed actions (what, who, by when), which become the
plan's activities. Before new actions are added, every open action from earlier sessions is
reviewed (done, partly, not done, dropped, with a note): §2.4. Partly done and not done actions
stay open (they carry forward and are reviewed again); done and dropped ones close.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from services.careplans.domain.codes import (
    CS_ACTION,
    CS_DIALOG_ITEM,
    CS_GOAL_KIND,
    EXT_ACTION_REVIEW,
    EXT_PERFORMER_TYPE,
    EXT_SESSION,
    SNOMED,
    ActionReview,
    GoalKind,
    Performer,
)
from services.careplans.domain.dialog import DialogItem
from services.careplans.domain.fhir import Json, coding, complex_extension, concept, reference, simple
from services.kit.errors import Issue, RequiredMissing, Unprocessable

MAX_DOMAINS = 3
OPEN_ACTION_STATUSES = frozenset({"not-started", "scheduled", "in-progress", "on-hold"})
REVIEW_STATUS = {
    ActionReview.DONE: "completed",
    ActionReview.PARTLY: "in-progress",
    ActionReview.NOT_DONE: "not-started",
    ActionReview.DROPPED: "cancelled",
}


@dataclass(frozen=True)
class AgreedAction:
    """Step 4: what will be done, who does it, by when."""

    description: str
    who: Performer
    performer: str | None
    due: str
    where: str


@dataclass(frozen=True)
class ChosenDomain:
    """A domain the person chose to discuss, with the four steps."""

    item: DialogItem
    understanding: str
    looking_forward: str
    exploring_options: str
    goal_kind: GoalKind
    actions: tuple[AgreedAction, ...]
    where: str


@dataclass(frozen=True)
class Review:
    """The review of one open action at this session."""

    action_id: str
    outcome: ActionReview
    note: str
    where: str


@dataclass(frozen=True)
class ActionState:
    """An action already on the plan."""

    id: str
    description: str
    open: bool


def actions_of(plan: Json) -> list[ActionState]:
    """The DIALOG+ actions a plan holds (activities with an id)."""
    found = []
    for activity in plan.get("activity") or []:
        detail = activity.get("detail") or {}
        if activity.get("id"):
            found.append(
                ActionState(
                    activity["id"],
                    str(detail.get("description") or ""),
                    detail.get("status") in OPEN_ACTION_STATUSES,
                )
            )
    return found


def _check_domains(domains: Sequence[ChosenDomain]) -> None:
    if len(domains) > MAX_DOMAINS:
        raise Unprocessable(
            f"The person chooses up to {MAX_DOMAINS} domains to discuss in a session",
            domains[MAX_DOMAINS].where,
        )
    seen: set[str] = set()
    for domain in domains:
        if domain.item.link_id in seen:
            raise Unprocessable(f"{domain.item.link_id} is chosen twice", domain.where)
        seen.add(domain.item.link_id)
        if not domain.actions:
            raise RequiredMissing(
                f"Discussing {domain.item.link_id} ends in at least one agreed action (step 4)", domain.where
            )
        for action in domain.actions:
            if action.who is Performer.OTHER and not action.performer:
                raise RequiredMissing("An action for someone else names who (performer)", action.where)


def _check_reviews(reviews: Sequence[Review], actions: Sequence[ActionState]) -> set[str]:
    known = {a.id: a for a in actions}
    reviewed: set[str] = set()
    for review in reviews:
        action = known.get(review.action_id)
        if action is None:
            raise Unprocessable(f"The plan has no action {review.action_id!r}", review.where)
        if not action.open:
            raise Unprocessable(f"The action {review.action_id!r} is already closed", review.where)
        if review.action_id in reviewed:
            raise Unprocessable(f"The action {review.action_id!r} is reviewed twice", review.where)
        reviewed.add(review.action_id)
    return reviewed


def check_session(domains: Sequence[ChosenDomain], reviews: Sequence[Review], actions: Sequence[ActionState]) -> None:
    """Up to three distinct domains, each with actions; every open action reviewed before new ones."""
    _check_domains(domains)
    reviewed = _check_reviews(reviews, actions)
    if not any(d.actions for d in domains):
        return
    unreviewed = [a for a in actions if a.open and a.id not in reviewed]
    if unreviewed:
        issues = [
            Issue(
                "business-rule",
                f"Review the open action {a.id!r} ({a.description}) before adding new actions",
                (f"CarePlan.activity.where(id='{a.id}')",),
            )
            for a in unreviewed
        ]
        raise Unprocessable(issues[0].diagnostics, issues=issues)


def item_concept(item: DialogItem) -> Json:
    """The DIALOG domain as a CodeableConcept (the SNOMED item concept and the local code)."""
    return {"coding": [coding(SNOMED, item.snomed), coding(CS_DIALOG_ITEM, item.link_id, item.label)]}


def action_activity(
    action: AgreedAction, *, activity_id: str, item: DialogItem, goal: str, subject: str, clinician: str
) -> Json:
    """A plan activity for an agreed action (FR-36: activities are the agreed actions)."""
    performer = action.performer or (subject if action.who is Performer.PERSON else clinician)
    return {
        "id": activity_id,
        "detail": {
            "extension": [simple(EXT_PERFORMER_TYPE, "Code", action.who.value)],
            "kind": "Task",
            "code": concept(CS_ACTION, "dialog-plus-action", "DIALOG+ agreed action"),
            "reasonCode": [item_concept(item)],
            "goal": [reference(goal)],
            "status": "not-started",
            "scheduledPeriod": {"end": action.due},
            "performer": [reference(performer)],
            "description": action.description,
        },
    }


def record_review(activity: Json, review: Review, author: str, time: str) -> None:
    """Write a review into its activity: the new status and a progress note."""
    activity["detail"]["status"] = REVIEW_STATUS[review.outcome]
    activity.setdefault("progress", []).append(
        {
            "extension": [simple(EXT_ACTION_REVIEW, "Code", review.outcome.value)],
            "authorReference": reference(author),
            "time": time,
            "text": review.note,
        }
    )


def domain_goal(domain: ChosenDomain, subject: str, start: str) -> Json:
    """The Goal for a chosen domain, in the person's words (looking forward)."""
    return {
        "resourceType": "Goal",
        "lifecycleStatus": "active",
        "category": [item_concept(domain.item), concept(CS_GOAL_KIND, domain.goal_kind.value)],
        "description": {"text": domain.looking_forward},
        "subject": reference(subject),
        "expressedBy": reference(subject),
        "startDate": start,
        "target": [{"measure": {"coding": [coding(SNOMED, domain.item.snomed)]}}],
    }


def session_extension(domains: Sequence[ChosenDomain], *, date: str, response: str, clinician: str) -> Json:
    """The record of a session: when, which response, and the notes of the four steps."""
    ext = complex_extension(
        EXT_SESSION,
        ("date", "DateTime", date),
        ("response", "Reference", reference(response)),
        ("clinician", "Reference", reference(clinician)),
    )
    for domain in domains:
        ext["extension"].append(
            {
                "url": "domain",
                "extension": [
                    simple("item", "Code", domain.item.link_id),
                    simple("understanding", "String", domain.understanding),
                    simple("looking-forward", "String", domain.looking_forward),
                    simple("exploring-options", "String", domain.exploring_options),
                ],
            }
        )
    return ext
