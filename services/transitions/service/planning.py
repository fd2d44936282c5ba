"""Phase 3: the multi-agency meeting develops the plan, shared with the young person and formalised
only with their agreement (FR-55, FR-56, FR-61)."""

from __future__ import annotations

from typing import Any

from services.kit.clock import instant, parse_instant
from services.kit.errors import BadRequest, RequiredMissing, Unprocessable
from services.kit.fhir import coding_code, concept, extension, ref, reference, set_extension
from services.kit.parameters import Params
from services.kit.parameters import where as param
from services.kit.repository import Stored
from services.transitions.domain import dates, rules
from services.transitions.domain.codes import (
    CS_AGREEMENT,
    CS_CAREPLAN_CATEGORY,
    CS_CLINICAL_REASON,
    CS_DESTINATION,
    EXT_AGREEMENT,
    EXT_CASE,
    EXT_MEETING,
    EXT_PLANNED_ACTION,
    EXT_SHARED,
    Agreement,
    ClinicalServiceReason,
    DestinationKind,
    parse_code,
)
from services.transitions.domain.phases import Phase
from services.transitions.domain.rules import Destination, part
from services.transitions.service.case import Case, add_output, phase_task, save_case, start_phase, update_phase
from services.transitions.service.context import Context, new_id, role_reference, team_reference
from services.transitions.service.inputs import participants

DESTINATION_DISPLAY = {
    DestinationKind.ADULT_CORE_CMHT: "Adult core community mental health team",
    DestinationKind.INTENSIVE: "Intensive team",
    DestinationKind.YOUNG_ADULT: "Young-adult service",
    DestinationKind.TRANSITIONS_CLINICAL: "Transitions team clinical service",
    DestinationKind.REMAIN_CYP: "Remains in a CYP 0-25 service",
}


def _one(p: Params, name: str, key: str, where: str) -> Any:
    found = p.all(name)
    if len(found) > 1:
        raise BadRequest(f"A destination has one {name}", where)
    if not found:
        return None
    value = found[0].get(key)
    if key == "valueCode" and value is None and "valueCoding" in found[0]:
        value = found[0]["valueCoding"].get("code")
    if value is None:
        raise BadRequest(f"The destination's {name} must be a {key}", where)
    return value


def parse_destination(ctx: Context, case: Case, p: Params, name: str = "destination") -> Destination:
    """One destination part (`kind`, `service`, `reason`), checked against FR-61."""
    kind_code = _one(p, "kind", "valueCode", part(name, "kind"))
    if kind_code is None:
        raise RequiredMissing("A destination says what kind it is", part(name, "kind"))
    kind = parse_code(DestinationKind, kind_code, part(name, "kind"))
    service = _one(p, "service", "valueReference", part(name, "service"))
    if service is None and kind is not DestinationKind.REMAIN_CYP:
        raise RequiredMissing("A destination names the service (a HealthcareService)", part(name, "service"))
    team_ref = (service or {}).get("reference") if service else case.sending_service
    team = ctx.team(team_ref, part(name, "service"))
    reason_code = _one(p, "reason", "valueCode", part(name, "reason"))
    reason = parse_code(ClinicalServiceReason, reason_code, part(name, "reason")) if reason_code else None
    return rules.check_destination(Destination(kind, team, reason), name)


def activity(destination: Destination) -> dict[str, Any]:
    """The plan activity for a destination."""
    detail: dict[str, Any] = {
        "code": concept(CS_DESTINATION, destination.kind, DESTINATION_DISPLAY[destination.kind]),
        "status": "not-started",
        "performer": [team_reference(destination.team)],
        "description": f"{DESTINATION_DISPLAY[destination.kind]}: {destination.team.name}",
    }
    if destination.needs_referral:
        detail = {"kind": "ServiceRequest", **detail}
    if destination.reason is not None:
        detail["reasonCode"] = [concept(CS_CLINICAL_REASON, destination.reason)]
    return {"detail": detail}


async def load_plan(ctx: Context, case: Case) -> tuple[Stored, dict[str, Any]] | None:
    """The case's transition plan, if the meeting has developed one."""
    if case.plan_id is None:
        return None
    stored = await ctx.repo("CarePlan").read(case.plan_id)
    return stored, stored.resource()


async def record_meeting(ctx: Context, case: Case, params: Params) -> Case:
    """A multi-agency meeting: invitees and attendees apart, the referring worker invited (FR-55);
    it develops (or revises) the draft plan and its destinations (FR-61)."""
    held = params.datetime("date", required=True)
    assert held is not None
    invitees = participants(params, "invitee")
    attendees = participants(params, "attendee")
    meeting = rules.Meeting(
        held,
        tuple(p.get("reference") or p["display"] for p in invitees),
        tuple(p.get("reference") or p["display"] for p in attendees),
    )
    rules.check_meeting(meeting, case.referring_worker, ctx.now)
    destinations = [parse_destination(ctx, case, p) for p in params.parts("destination")]
    summary = params.string("summary")
    author = ctx.role(params.reference("author"), param("author")) if "author" in params else None
    note = params.string("note")
    current = await load_plan(ctx, case)
    if current is None and not destinations:
        raise RequiredMissing(
            "The meeting develops the transition plan: name at least one destination (FR-61)", param("destination")
        )
    if current is None:
        plan: dict[str, Any] = {
            "resourceType": "CarePlan",
            "status": "draft",
            "intent": "plan",
            "category": [concept(CS_CAREPLAN_CATEGORY, "transition-plan", "Transition plan")],
            "title": "Transition plan",
            "subject": {"reference": case.patient},
            "created": instant(ctx.now),
            "author": role_reference(author) if author else {"reference": case.referring_worker},
            "supportingInfo": [{"reference": case.reference, "display": "Transition case"}],
            "extension": [{"url": EXT_CASE, "valueReference": {"reference": case.reference}}],
        }
    else:
        plan = current[1]
        if author:
            plan["author"] = role_reference(author)
    if summary:
        plan["description"] = summary
    if destinations:
        plan["activity"] = [activity(d) for d in destinations]
        # A revised plan is a new proposal: it is shared again and the young person decides again (FR-56).
        plan["extension"] = [e for e in plan.get("extension") or [] if e.get("url") not in (EXT_SHARED, EXT_AGREEMENT)]
    contributors = [{"reference": case.patient}]
    contributors += [{"reference": r} for r in meeting.attendees if "/" in r and {"reference": r} not in contributors]
    plan["contributor"] = contributors  # co-produced: the young person is a contributor (Q-TR-08)
    if current is None:
        plan_id = new_id()
        await ctx.repo("CarePlan").create(plan, plan_id, ctx.now)
        case.resource["focus"] = reference("CarePlan", plan_id, "Transition plan")
    else:
        await ctx.repo("CarePlan").update(plan, current[0], ctx.now)
    await _add_meeting(ctx, case, held, invitees, attendees, note)
    add_output(case.resource, "meeting-held", valueDateTime=instant(held))
    return await save_case(ctx, case)


async def _add_meeting(
    ctx: Context,
    case: Case,
    held: Any,
    invitees: list[dict[str, Any]],
    attendees: list[dict[str, Any]],
    note: str | None,
) -> None:
    stored = await phase_task(ctx, case, Phase.PLANNING)
    assert stored is not None
    task = stored.resource()
    parts: list[dict[str, Any]] = [{"url": "date", "valueDateTime": instant(held)}]
    parts += [{"url": "invitee", "valueReference": p} for p in invitees]
    parts += [{"url": "attendee", "valueReference": p} for p in attendees]
    if note:
        parts.append({"url": "note", "valueString": note})
    task.setdefault("extension", []).append({"url": EXT_MEETING, "extension": parts})
    add_output(task, "meeting-held", valueDateTime=instant(held))
    task["lastModified"] = instant(ctx.now)
    await ctx.repo("Task").update(task, stored, ctx.now)


async def share_plan(ctx: Context, case: Case, params: Params) -> Case:
    """The draft plan is shared with the young person (FR-56: before they can agree to it)."""
    shared = params.datetime("date") or ctx.now
    if shared > ctx.now:
        raise Unprocessable("A plan is recorded as shared once it has been; the date is in the future", param("date"))
    current = await load_plan(ctx, case)
    rules.check_share(current is not None)
    assert current is not None
    stored, plan = current
    set_extension(plan, EXT_SHARED, valueDateTime=instant(shared))
    await ctx.repo("CarePlan").update(plan, stored, ctx.now)
    await update_phase(ctx, case, Phase.PLANNING, ("plan-shared", {"valueDateTime": instant(shared)}))
    add_output(case.resource, "plan-shared", valueDateTime=instant(shared))
    return await save_case(ctx, case)


async def record_agreement(ctx: Context, case: Case, params: Params) -> Case:
    """The young person's own decision; only agreement formalises the plan (FR-56, P-8)."""
    decision = parse_code(Agreement, params.code("decision", required=True), param("decision"))
    decided_by = params.reference("decidedBy", required=True)
    note = params.string("note")
    current = await load_plan(ctx, case)
    rules.check_share(current is not None)
    assert current is not None
    stored, plan = current
    shared = extension(plan, EXT_SHARED)
    rules.check_agreement(parse_instant(shared["valueDateTime"]) if shared else None, decided_by, case.patient)
    parts: list[dict[str, Any]] = [
        {"url": "decision", "valueCode": decision.value},
        {"url": "decidedBy", "valueReference": {"reference": decided_by}},
        {"url": "recorded", "valueDateTime": instant(ctx.now)},
    ]
    if note:
        parts.append({"url": "note", "valueString": note})
    set_extension(plan, EXT_AGREEMENT, extension=parts)
    items: list[tuple[str, dict[str, Any]]] = [
        ("young-person-agreement", {"valueCodeableConcept": concept(CS_AGREEMENT, decision)})
    ]
    if decision is Agreement.DISAGREED:
        # The plan stays a draft that the meeting can revise and share again (FR-56).
        await ctx.repo("CarePlan").update(plan, stored, ctx.now)
        await update_phase(ctx, case, Phase.PLANNING, *items)
        for kind, value in items:
            add_output(case.resource, kind, **value)
        return await save_case(ctx, case)
    planned = dates.adulthood(case.birth, ctx.thresholds)
    plan["status"] = "active"
    plan["period"] = {"start": planned.isoformat()}
    await ctx.repo("CarePlan").update(plan, stored, ctx.now)
    items.append(("plan-formalised", {"valueDateTime": instant(ctx.now)}))
    await update_phase(ctx, case, Phase.PLANNING, *items, complete=True)
    for kind, value in items:
        add_output(case.resource, kind, **value)
    # FR-57: the plan is actioned at 18 unless an alternative time is agreed.
    set_extension(case.resource, EXT_PLANNED_ACTION, valueDate=planned.isoformat())
    await start_phase(ctx, case, Phase.ACTION, case.resource["owner"], planned)
    return await save_case(ctx, case, Phase.ACTION)


def agreement_of(plan: dict[str, Any]) -> Agreement | None:
    """The young person's latest recorded decision on the plan."""
    found = extension(plan, EXT_AGREEMENT)
    for item in (found or {}).get("extension") or []:
        if item.get("url") == "decision":
            return Agreement(item["valueCode"])
    return None


def destinations_of(ctx: Context, plan: dict[str, Any]) -> list[tuple[int, Destination]]:
    """The plan's destinations, with their activity positions."""
    found = []
    for index, item in enumerate(plan.get("activity") or []):
        detail = item.get("detail") or {}
        kind = DestinationKind(str(coding_code(detail.get("code"), CS_DESTINATION)))
        team = ctx.team(ref((detail.get("performer") or [None])[0]), f"CarePlan.activity[{index}].detail.performer")
        reason_code = coding_code(detail.get("reasonCode"), CS_CLINICAL_REASON)
        found.append((index, Destination(kind, team, ClinicalServiceReason(reason_code) if reason_code else None)))
    return found
