"""A DIALOG+ session creates or revises the person's one living co-produced plan (FR-35, FR-36)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from services.careplans.domain.codes import (
    CS_CATEGORY,
    EXT_EPISODE,
    EXT_REFERRAL,
    EXT_SESSION,
    SNOMED,
    SNOMED_CARE_PLAN,
    SNOMED_PCSP,
    ActionReview,
    CareTeamRole,
    Category,
    GoalKind,
    Performer,
    PlanStatus,
    Section,
    parse_code,
)
from services.careplans.domain.content import add_member, set_complex_needs, set_period, set_section
from services.careplans.domain.dialog import ITEM_BY_ID, QR, is_dialog, referral_of
from services.careplans.domain.fhir import Json, coding, extension, ref, reference, simple, value_of
from services.careplans.domain.lifecycle import Verb, next_status
from services.careplans.domain.plans import check_activation, check_fields, check_revision_agreed, status_of
from services.careplans.domain.session import (
    AgreedAction,
    ChosenDomain,
    Review,
    action_activity,
    actions_of,
    check_session,
    domain_goal,
    record_review,
    session_extension,
)
from services.careplans.persistence import tables
from services.careplans.service.context import Context
from services.careplans.service.parts import Parts, read_agreement, read_capacity
from services.careplans.service.plans import goal_facts, record_coproduction, store
from services.careplans.service.responses import emit, record_response
from services.kit.clock import instant, parse_instant
from services.kit.errors import PreconditionFailed, RequiredMissing, UnknownCode, Unprocessable
from services.kit.parameters import Params
from services.kit.repository import Stored
from services.kit.resources import validate


@dataclass(frozen=True)
class Outcome:
    """What a session produced: the plan, and whether it is new."""

    plan: Stored
    created: bool


# ---------------------------------------------------------------- reading the parameters


async def _response(ctx: Context, parts: Parts) -> tuple[str, Json]:
    """The session's DIALOG (FR-35): a new QuestionnaireResponse, or a reference to a recorded one."""
    found = parts.all("response")
    if not found:
        raise RequiredMissing(
            "A DIALOG+ session starts with the person's DIALOG ratings (FR-35)", parts.where("response")
        )
    given = found[0]
    if isinstance(given.get("resource"), dict):
        resource = validate(given["resource"], "QuestionnaireResponse")
        recorded = await record_response(ctx, resource)
        return f"QuestionnaireResponse/{recorded.response.id}", recorded.response.resource()
    target = parts.required_reference("response", ("QuestionnaireResponse",))
    stored = await ctx.repo("QuestionnaireResponse").find(target.removeprefix("QuestionnaireResponse/"))
    if stored is None or not is_dialog(stored.resource().get("questionnaire")):
        raise Unprocessable(f"{target} is not a recorded DIALOG", parts.where("response"))
    return target, stored.resource()


def _action(part: Parts) -> AgreedAction:
    who = parse_code(Performer, part.required_code("who"), part.where("who"))
    performer = part.reference(
        "performer", kinds=("Patient", "PractitionerRole", "Practitioner", "RelatedPerson", "Organization")
    )
    return AgreedAction(part.required_string("description"), who, performer, part.required_moment("by"), part.prefix)


def _domain(part: Parts) -> ChosenDomain:
    code = part.required_code("item")
    item = ITEM_BY_ID.get(code)
    if item is None:
        raise UnknownCode(
            f"{code!r} is not a DIALOG item; expected one of: {', '.join(ITEM_BY_ID)}", part.where("item")
        )
    kind = part.code("goalKind")
    return ChosenDomain(
        item=item,
        understanding=part.required_string("understanding"),
        looking_forward=part.required_string("lookingForward"),
        exploring_options=part.required_string("exploringOptions"),
        goal_kind=parse_code(GoalKind, kind, part.where("goalKind")) if kind else GoalKind.RECOVERY,
        actions=tuple(_action(a) for a in part.each("action")),
        where=part.prefix,
    )


def _review(part: Parts) -> Review:
    outcome = parse_code(ActionReview, part.required_code("outcome"), part.where("outcome"))
    return Review(part.required_string("action"), outcome, part.required_string("note"), part.prefix)


# ---------------------------------------------------------------- the plan


def _new_plan(subject: str, episode: str, clinician: str, date: str) -> Json:
    return {
        "resourceType": "CarePlan",
        "extension": [simple(EXT_EPISODE, "Reference", reference(episode))],
        "status": PlanStatus.DRAFT.value,
        "intent": "plan",
        "category": [
            {"coding": [coding(SNOMED, SNOMED_CARE_PLAN)]},
            {"coding": [coding(SNOMED, SNOMED_PCSP)]},
            {"coding": [coding(CS_CATEGORY, Category.DIALOG_PLUS.value, "DIALOG+ personalised care plan")]},
        ],
        "title": "DIALOG+ personalised care plan",
        "subject": reference(subject),
        "period": {"start": date[:10]},
        "created": date,
        "author": reference(clinician),
        "contributor": [reference(clinician)],
    }


async def _living_plan(ctx: Context, subject: str, episode: str) -> Stored | None:
    """The one open DIALOG+ plan of this episode (FR-36: one living plan per episode)."""
    t = tables.care_plan
    found = await ctx.repo("CarePlan").all_where(t.c.current_key == f"{Category.DIALOG_PLUS}|{subject}|{episode}")
    return found[0] if found else None


def _check_version(existing: Stored | None, expected: int | None) -> None:
    if existing is None and expected is not None:
        raise PreconditionFailed("There is no plan to revise for this episode yet; send no If-Match", "If-Match")
    if existing is not None and expected is None:
        raise PreconditionFailed(
            f"CarePlan/{existing.id} is this episode's plan: revising it requires If-Match", "If-Match"
        )
    if existing is not None and expected != existing.version_id:
        raise PreconditionFailed(
            f'If-Match W/"{expected}" does not match the current version W/"{existing.version_id}"', "If-Match"
        )


async def _goals_by_domain(ctx: Context, plan: Json) -> dict[str, Stored]:
    ids = [(ref(g) or "").removeprefix("Goal/") for g in plan.get("goal") or []]
    if not ids:
        return {}
    found = await ctx.repo("Goal").all_where(tables.goal.c.id.in_(ids))
    by_domain: dict[str, Stored] = {}
    for stored in found:
        row = tables.goal_row(stored.resource())
        if row["domain"] and row["lifecycle_status"] == "active":
            by_domain[row["domain"]] = stored
    return by_domain


async def _goal_for(ctx: Context, domain: ChosenDomain, plan: Json, existing: dict[str, Stored], date: str) -> str:
    """The domain's Goal: the open one, brought up to date, or a new one (FR-36: goals link to domains)."""
    goal = domain_goal(domain, ref(plan.get("subject")) or "", date[:10])
    current = existing.get(domain.item.link_id)
    if current is None:
        stored = await ctx.save("Goal", goal)
        plan.setdefault("goal", []).append(reference(f"Goal/{stored.id}"))
        return f"Goal/{stored.id}"
    before = current.resource()
    if before.get("description") != goal["description"] or before.get("category") != goal["category"]:
        before.update(description=goal["description"], category=goal["category"])
        await ctx.save("Goal", before, current)
    return f"Goal/{current.id}"


def _apply_reviews(plan: Json, reviews: list[Review], clinician: str, time: str) -> None:
    by_id = {a.get("id"): a for a in plan.get("activity") or []}
    for review in reviews:
        record_review(by_id[review.action_id], review, clinician, time)


def _apply_content(plan: Json, parts: Parts) -> None:
    """Plan content a session may also record: sections, period, care team, complex needs."""
    for section in parts.each("section"):
        code = parse_code(Section, section.required_code("code"), section.where("code"))
        set_section(plan, code, section.required_string("text"))
    set_period(plan, parts.moment("periodStart"), parts.moment("periodEnd"), parts.boolean("longTerm"))
    for member in parts.each("careTeamMember"):
        role = parse_code(CareTeamRole, member.required_code("role"), member.where("role"))
        consent = member.reference("sharingConsent", kinds=("Consent",))
        assessment = None
        if member.has("carerAssessmentDate") or member.has("carerAssessmentOutcome"):
            # FR-40: a carer assessment records both when it happened and what it found.
            assessment = (
                member.required_moment("carerAssessmentDate"),
                member.required_string("carerAssessmentOutcome"),
            )
        add_member(plan, role, member.required_reference("member"), consent, assessment)
    complex_needs = parts.boolean("complexNeeds")
    if complex_needs is not None:
        set_complex_needs(plan, complex_needs)


@dataclass(frozen=True)
class Session:
    """What a session's parameters say, read and checked before anything is stored."""

    episode: str
    clinician: str
    date: str
    domains: tuple[ChosenDomain, ...]
    reviews: tuple[Review, ...]


def _read_session(ctx: Context, parts: Parts) -> Session:
    episode = parts.required_reference("episode", ("EpisodeOfCare",))
    clinician = parts.required_reference("clinician", ("PractitionerRole",))
    if not ctx.worker(clinician).known:
        raise Unprocessable(f"{clinician} is not a worker in the directory", parts.where("clinician"))
    return Session(
        episode=episode,
        clinician=clinician,
        date=parts.moment("date") or instant(ctx.now),
        domains=tuple(_domain(d) for d in parts.each("domain")),
        reviews=tuple(_review(r) for r in parts.each("review")),
    )


async def _add_domains(ctx: Context, plan: Json, session: Session, subject: str) -> None:
    """Each chosen domain's Goal, and its agreed actions as activities linked to that Goal."""
    goals = await _goals_by_domain(ctx, plan)
    for domain in session.domains:
        goal = await _goal_for(ctx, domain, plan, goals, session.date)
        for action in domain.actions:
            activity = action_activity(
                action,
                activity_id=f"action-{uuid.uuid4().hex[:12]}",
                item=domain.item,
                goal=goal,
                subject=subject,
                clinician=session.clinician,
            )
            plan.setdefault("activity", []).append(activity)


async def dialog_plus_session(ctx: Context, params: Params, expected: int | None) -> Outcome:
    """Record a DIALOG+ session and create or revise the episode's co-produced plan (FR-35, FR-36)."""
    parts = Parts(params)
    session = _read_session(ctx, parts)
    response_ref, response = await _response(ctx, parts)
    subject = ref(response.get("subject")) or ""
    agreement, capacity = read_agreement(parts, subject), read_capacity(parts)
    existing = await _living_plan(ctx, subject, session.episode)
    _check_version(existing, expected)
    plan = existing.resource() if existing else _new_plan(subject, session.episode, session.clinician, session.date)
    status = next_status(Verb.REVISE, status_of(plan))
    check_session(session.domains, session.reviews, actions_of(plan))
    if status is PlanStatus.ACTIVE and session.domains:
        check_revision_agreed(plan, agreement)
    _apply_reviews(plan, list(session.reviews), session.clinician, session.date)
    await _add_domains(ctx, plan, session, subject)
    await _link_evidence(ctx, plan, response_ref, response)
    plan.setdefault("extension", []).append(
        session_extension(session.domains, date=session.date, response=response_ref, clinician=session.clinician)
    )
    _apply_content(plan, parts)
    record_coproduction(plan, agreement, capacity)
    check_fields(plan)
    if status is PlanStatus.ACTIVE:
        check_activation(plan, await goal_facts(ctx, plan))
    stored = await store(ctx, plan, existing)
    # The session's number in its plan makes its id: `CarePlan/{id}#{n}` (as the migration backfills).
    held = sum(1 for e in plan.get("extension") or [] if e.get("url") == EXT_SESSION)
    await ctx.session.execute(
        tables.dialog_plus_session.insert().values(
            id=f"{stored.id}#{held}",
            subject=subject,
            plan=f"CarePlan/{stored.id}",
            episode=session.episode,
            clinician=session.clinician,
            held_at=parse_instant(session.date),
        )
    )
    if existing is None:
        # DIALOG+ is itself a therapeutic intervention (Q-DLG-02): the first session starts it.
        referral = ref(value_of(extension(plan, EXT_REFERRAL)))
        await emit(
            ctx, "intervention-started", subject, parse_instant(session.date), referral, focus=f"CarePlan/{stored.id}"
        )
    return Outcome(stored, existing is None)


async def _link_evidence(ctx: Context, plan: Json, response_ref: str, response: Json) -> None:
    """supportingInfo → the response and its score Observations; the plan learns its referral."""
    if ref(response.get("subject")) != ref(plan.get("subject")):
        raise Unprocessable("The DIALOG is the plan's person's", f"{QR}.subject")
    referral = referral_of(response)
    if referral and extension(plan, EXT_REFERRAL) is None:
        plan.setdefault("extension", []).append(simple(EXT_REFERRAL, "Reference", reference(referral)))
    observations = await ctx.repo("Observation").all_where(tables.observation.c.derived_from == response_ref)
    linked = {ref(s) for s in plan.get("supportingInfo") or []}
    for target in [response_ref, *(f"Observation/{o.id}" for o in observations)]:
        if target not in linked:
            plan.setdefault("supportingInfo", []).append(reference(target))
