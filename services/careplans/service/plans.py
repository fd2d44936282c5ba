"""Care plans: create, update, activate (the co-production gate), review, complete, read."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.exc import IntegrityError

from services.careplans.domain import access
from services.careplans.domain.codes import (
    CS_GOAL_KIND,
    EXT_AGREEMENT,
    EXT_CAPACITY,
    EXT_COPRODUCED,
    EXT_NEXT_REVIEW,
    EXT_PHYSICAL_HEALTH_CONDITION,
    EXT_REFERRAL,
    PHYSICAL_HEALTH_CONDITION,
    SNOMED,
    SNOMED_CARE_PLAN,
    SNOMED_CRISIS_PLAN,
    Category,
    CompletionReason,
    GoalKind,
    PlanStatus,
    ReviewOutcome,
    parse_code,
)
from services.careplans.domain.content import set_flag
from services.careplans.domain.fhir import (
    Json,
    codes,
    coding,
    extension,
    part,
    ref,
    reference,
    set_extension,
    simple,
    value_of,
)
from services.careplans.domain.lifecycle import Verb, is_open, next_status
from services.careplans.domain.plans import (
    SERVER_MANAGED,
    Agreement,
    CapacityAssessment,
    GoalFacts,
    PlanReview,
    agreement_extension,
    at,
    capacity_extension,
    category_of,
    check_activation,
    check_completion,
    check_fields,
    check_review,
    completion_extension,
    pathway_extension,
    review_extension,
    status_of,
    subject_of,
)
from services.careplans.persistence import tables
from services.careplans.service.context import Context
from services.careplans.service.parts import Parts, read_agreement, read_capacity, read_pathway
from services.careplans.service.responses import emit
from services.kit.clock import instant, parse_instant
from services.kit.errors import Conflict, Forbidden, Issue, PreconditionFailed, Unprocessable
from services.kit.parameters import Params
from services.kit.repository import Stored

KIND = "CarePlan"
# Elements only operations change, by category (FR-37: a PUT never moves a status; the session
# owns a DIALOG+ plan's actions, goals and evidence).
_OPERATION_OWNED = ("status", "subject", "category")
_SESSION_OWNED = ("activity", "goal", "supportingInfo")
_NATIONAL_CATEGORY = {
    Category.CRISIS: SNOMED_CRISIS_PLAN,
    Category.WAITING_SUPPORT: SNOMED_CARE_PLAN,
}


async def load(ctx: Context, plan_id: str, expected: int | None) -> Stored:
    """A plan, checked against `If-Match` when one is given (412 when stale)."""
    stored = await ctx.repo(KIND).read(plan_id)
    if expected is not None and expected != stored.version_id:
        raise PreconditionFailed(
            f'If-Match W/"{expected}" does not match the current version W/"{stored.version_id}"', "If-Match"
        )
    return stored


async def store(ctx: Context, plan: Json, current: Stored | None) -> Stored:
    """Create or update a plan; a clash on its one-at-a-time key is a 409 (FR-36, FR-43)."""
    try:
        async with ctx.session.begin_nested():
            return await ctx.save(KIND, plan, current)
    except IntegrityError:
        message = "Another request changed this person's plans at the same moment; read them and retry"
        raise Conflict(message, "CarePlan", issues=[Issue("conflict", message, ("CarePlan",))]) from None


async def goal_facts(ctx: Context, plan: Json) -> list[GoalFacts]:
    """The plan's Goals, as the activation gate needs them."""
    ids = [(ref(g) or "").removeprefix("Goal/") for g in plan.get("goal") or []]
    found = await ctx.repo("Goal").all_where(tables.goal.c.id.in_(ids)) if ids else []
    facts = []
    for stored in found:
        goal = stored.resource()
        kinds = frozenset(GoalKind(k) for k in codes(goal.get("category"), CS_GOAL_KIND) if k in set(GoalKind))
        active = goal.get("lifecycleStatus") in ("proposed", "planned", "accepted", "active")
        facts.append(GoalFacts(f"Goal/{stored.id}", kinds, active))
    return facts


def record_coproduction(plan: Json, agreement: Agreement | None, capacity: CapacityAssessment | None) -> None:
    """Write the person's agreement (making them a contributor) and any capacity assessment (FR-37)."""
    if agreement is not None:
        set_extension(plan, EXT_AGREEMENT, agreement_extension(agreement))
        contributors = plan.setdefault("contributor", [])
        if agreement.by not in {ref(c) for c in contributors}:
            contributors.append(reference(agreement.by))
    if capacity is not None:
        set_extension(plan, EXT_CAPACITY, capacity_extension(capacity))


# ---------------------------------------------------------------- create and update


def _refuse_server_managed(plan: Json) -> None:
    for url in SERVER_MANAGED:
        if extension(plan, url) is not None:
            raise Unprocessable(f"{at(url)} is written by the service's operations, not sent", at(url))


def _national_codes(plan: Json, category: Category) -> None:
    """Add the SNOMED CT category where a concept exists (FR-48)."""
    snomed = _NATIONAL_CATEGORY.get(category)
    if snomed and snomed not in codes(plan.get("category"), SNOMED):
        plan["category"].append({"coding": [coding(SNOMED, snomed)]})


async def create_plan(ctx: Context, plan: Json) -> Stored:
    """Create a crisis or waiting-support plan as a draft (DIALOG+ plans come from sessions)."""
    category = check_fields(plan)
    if category is Category.DIALOG_PLUS:
        raise Unprocessable(
            "A DIALOG+ personalised plan is created by POST /CarePlan/$dialog-plus-session", "CarePlan.category"
        )
    if plan.get("status") != PlanStatus.DRAFT:
        raise Unprocessable("A new plan is a draft; it becomes active through $activate (FR-37)", "CarePlan.status")
    _refuse_server_managed(plan)
    _national_codes(plan, category)
    plan.setdefault("created", instant(ctx.now))
    if category is Category.CRISIS and extension(plan, EXT_PHYSICAL_HEALTH_CONDITION) is None:
        plan.setdefault("extension", []).append(
            simple(EXT_PHYSICAL_HEALTH_CONDITION, "String", PHYSICAL_HEALTH_CONDITION)
        )
    return await store(ctx, plan, None)


def _check_unchanged(before: Json, after: Json) -> None:
    owned = _OPERATION_OWNED + (_SESSION_OWNED if category_of(before) is Category.DIALOG_PLUS else ())
    for element in owned:
        if before.get(element) != after.get(element):
            raise Unprocessable(f"CarePlan.{element} changes only through the plan's operations", f"CarePlan.{element}")
    for url in SERVER_MANAGED:
        if extension(before, url) != extension(after, url):
            raise Unprocessable(f"{at(url)} is written by the service's operations", at(url))


async def update_plan(ctx: Context, current: Stored, plan: Json) -> Stored:
    """Update a plan's content; an active plan must still pass its gate (a PUT never moves status)."""
    before = current.resource()
    if not is_open(status_of(before)):
        raise Conflict(f"CarePlan/{current.id} is {before['status']} and does not change", "CarePlan.status")
    _check_unchanged(before, plan)
    check_fields(plan)
    if status_of(plan) is PlanStatus.ACTIVE:
        check_activation(plan, await goal_facts(ctx, plan))
    return await store(ctx, plan, current)


# ---------------------------------------------------------------- activate (FR-37, FR-38, FR-43, FR-49)


def _agreed_at(plan: Json, now: datetime) -> datetime:
    """When co-production was complete: the agreement, else the capacity decision, else now."""
    for url, name in ((EXT_AGREEMENT, "when"), (EXT_CAPACITY, "date")):
        text = part(extension(plan, url), name)
        if isinstance(text, str):
            try:
                return parse_instant(text)
            except ValueError:
                continue
    return now


async def _supersede_crisis_plan(ctx: Context, plan: Json) -> None:
    """The new crisis plan replaces the current one, which is revoked (FR-43: one current plan)."""
    t = tables.care_plan
    current = await ctx.repo(KIND).all_where(t.c.current_key == f"{Category.CRISIS}|{subject_of(plan)}")
    for stored in current:
        old = stored.resource()
        old["status"] = next_status(Verb.SUPERSEDE, status_of(old)).value
        await store(ctx, old, stored)
        plan["replaces"] = [reference(f"CarePlan/{stored.id}")]


async def activate(ctx: Context, plan_id: str, params: Params, expected: int) -> Stored:
    """Make a plan active once it is co-produced and complete (FR-37); supersede an older crisis plan."""
    stored = await load(ctx, plan_id, expected)
    plan = stored.resource()
    status = next_status(Verb.ACTIVATE, status_of(plan))
    parts = Parts(params)
    record_coproduction(plan, read_agreement(parts, subject_of(plan)), read_capacity(parts))
    check_activation(plan, await goal_facts(ctx, plan))
    plan["status"] = status.value
    set_flag(plan, EXT_COPRODUCED, True)
    category = category_of(plan)
    if category is Category.CRISIS:
        await _supersede_crisis_plan(ctx, plan)
    updated = await store(ctx, plan, stored)
    if category is Category.DIALOG_PLUS:
        referral = ref(value_of(extension(plan, EXT_REFERRAL)))
        await emit(
            ctx,
            "coproduced-careplan-completed",
            subject_of(plan),
            _agreed_at(plan, ctx.now),
            referral,
            focus=f"CarePlan/{stored.id}",
        )
    return updated


# ---------------------------------------------------------------- review (FR-42) and complete (FR-39)


async def _check_dialog(ctx: Context, reference_: str | None, subject: str, where: str) -> None:
    if reference_ is None:
        return
    found = await ctx.repo("QuestionnaireResponse").find(reference_.removeprefix("QuestionnaireResponse/"))
    if found is None or ref(found.resource().get("subject")) != subject:
        raise Unprocessable(f"{reference_} is not a DIALOG recorded for this person", where)


async def review(ctx: Context, plan_id: str, params: Params, expected: int) -> Stored:
    """Record a review: date, participants (the person among them), outcome, next review (FR-42)."""
    stored = await load(ctx, plan_id, expected)
    plan = stored.resource()
    next_status(Verb.REVIEW, status_of(plan))
    parts = Parts(params)
    when = parse_instant(parts.moment("date") or instant(ctx.now))
    outcome = parse_code(ReviewOutcome, parts.required_code("outcome"), parts.where("outcome"))
    next_review = params.date("nextReview", required=True)
    assert next_review is not None
    dialog = parts.reference("dialog", kinds=("QuestionnaireResponse",))
    planned = PlanReview(
        held=when,
        participants=parts.references("participant"),
        outcome=outcome,
        next_review=next_review,
        note=parts.string("note"),
        dialog=dialog,
    )
    check_review(planned, subject_of(plan))
    await _check_dialog(ctx, dialog, subject_of(plan), parts.where("dialog"))
    plan.setdefault("extension", []).append(review_extension(planned, instant(when)))
    set_extension(plan, EXT_NEXT_REVIEW, simple(EXT_NEXT_REVIEW, "Date", next_review.isoformat()))
    if dialog and dialog not in {ref(s) for s in plan.get("supportingInfo") or []}:
        # FR-42: a DIALOG at review pairs with the baseline for outcome reporting.
        plan.setdefault("supportingInfo", []).append(reference(dialog))
    return await store(ctx, plan, stored)


async def complete(ctx: Context, plan_id: str, params: Params, expected: int) -> Stored:
    """End a plan; goals achieved or discharge needs a pathway back (FR-39)."""
    stored = await load(ctx, plan_id, expected)
    plan = stored.resource()
    status = next_status(Verb.COMPLETE, status_of(plan))
    parts = Parts(params)
    reason = parse_code(CompletionReason, parts.required_code("reason"), parts.where("reason"))
    pathway = read_pathway(parts)
    if pathway is not None:
        set_extension(plan, pathway_extension(pathway)["url"], pathway_extension(pathway))
    check_completion(plan, reason)
    plan["status"] = status.value
    plan.setdefault("extension", []).append(completion_extension(reason, instant(ctx.now)))
    period = plan.setdefault("period", {})
    period.setdefault("end", ctx.now.date().isoformat())
    return await store(ctx, plan, stored)


# ---------------------------------------------------------------- reading (FR-40, FR-45)


async def may_read(ctx: Context, stored: Stored) -> None:
    """403 unless the reader may see this plan (no reader named: a trusted call)."""
    reader = ctx.reader
    if reader is None:
        return
    worker = ctx.worker(reader) if reader.startswith("PractitionerRole/") else None
    access.check_read(stored.resource(), reader, worker)


async def may_search(ctx: Context, query: list[tuple[str, str]]) -> None:
    """Only partnership workers search plans; people and carers read theirs by id."""
    reader = ctx.reader
    if reader is None:
        return
    worker = ctx.worker(reader) if reader.startswith("PractitionerRole/") else None
    if not access.may_search(reader, worker):
        raise Forbidden("Only partnership workers search care plans; read a plan by its id", access.READER_HEADER)
