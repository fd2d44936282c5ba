"""Events from the referrals service, delivered by the gateway's Subscriptions.

`referral-accepted`, `referral-declined` and `referral-redirected` about a referral this service
sent update the plan; a declined adult-service referral escalates to the borough's Transitions
team (FR-62: escalation, not closure). Every event is applied once: a redelivered id changes nothing.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from services.kit.clock import instant
from services.kit.errors import BadRequest
from services.kit.fhir import concept
from services.kit.outbox import first_delivery
from services.transitions.domain.codes import CS_INPUT, CS_TASK, TaskCode
from services.transitions.domain.phases import Phase, Step, allowed, next_phase
from services.transitions.persistence import tables
from services.transitions.service.case import Case, add_output, load_case, save_case, start_phase
from services.transitions.service.context import Context, new_id, team_reference
from services.transitions.service.planning import load_plan

CONSUMED = ("referral-accepted", "referral-declined", "referral-redirected")
# Declines of these escalate (FR-62); the phase-2 referral to the Transitions team is the
# referrals service's own business (its decline rules and escalation already apply).
ESCALATING_PURPOSES = ("adult",)


async def apply_event(ctx: Context, event: dict[str, Any]) -> str:
    """Apply an event; says whether it was applied, already applied, or not about this service's referrals."""
    event_id, event_type = event.get("id"), event.get("type")
    if not isinstance(event_id, str) or not isinstance(event_type, str):
        raise BadRequest("An event has a string id and type", "id")
    if event_type not in CONSUMED:
        raise BadRequest(f"Event type {event_type!r} is not one the transitions service consumes", "type")
    focus = event.get("focus")
    if not isinstance(focus, str) or not focus.startswith("ServiceRequest/"):
        raise BadRequest("A referral event names its referral in focus (ServiceRequest/...)", "focus")
    t = tables.sent_referral
    row = (await ctx.session.execute(select(t).where(t.c.service_request == focus))).first()
    if row is None:
        return "not a referral this service sent"
    if not await first_delivery(ctx.session, tables.inbox, event_id, event_type, ctx.now):
        return "already applied"
    case = await load_case(ctx, row.case_task.removeprefix("Task/"), None)
    if event_type == "referral-accepted":
        await _set_state(ctx, focus, "accepted")
        await _activity_status(ctx, case, row.activity, "in-progress")
    elif event_type == "referral-redirected":
        await _redirected(ctx, case, row, event)
    else:
        await _set_state(ctx, focus, "declined")
        await _activity_status(ctx, case, row.activity, "stopped")
        if row.purpose in ESCALATING_PURPOSES:
            await escalate(ctx, case, focus, event)
    return "applied"


async def _set_state(ctx: Context, service_request: str, state: str) -> None:
    t = tables.sent_referral
    await ctx.session.execute(
        update(t).where(t.c.service_request == service_request).values(state=state, updated_at=ctx.now)
    )


async def _activity_status(ctx: Context, case: Case, index: int | None, status: str) -> None:
    current = await load_plan(ctx, case)
    if index is None or current is None:
        return
    stored, plan = current
    activities = plan.get("activity") or []
    if index < len(activities):
        activities[index]["detail"]["status"] = status
        await ctx.repo("CarePlan").update(plan, stored, ctx.now)


async def _redirected(ctx: Context, case: Case, row: Any, event: dict[str, Any]) -> None:
    """The receiving service redirected the referral: follow it to the new one."""
    target = event.get("redirectedTo")
    if not isinstance(target, str) or not target.startswith("ServiceRequest/"):
        raise BadRequest("A referral-redirected event names the new referral in redirectedTo", "redirectedTo")
    await _set_state(ctx, row.service_request, "redirected")
    t = tables.sent_referral
    try:
        async with ctx.session.begin_nested():
            await ctx.session.execute(
                insert(t).values(
                    service_request=target,
                    case_task=row.case_task,
                    purpose=row.purpose,
                    activity=row.activity,
                    performer=str(event.get("performer") or row.performer),
                    state="sent",
                    sent_at=ctx.now,
                    updated_at=ctx.now,
                )
            )
    except IntegrityError:
        pass  # already following it
    current = await load_plan(ctx, case)
    if row.activity is None or current is None:
        return
    stored, plan = current
    activities = plan.get("activity") or []
    if row.activity < len(activities):
        activities[row.activity].setdefault("outcomeReference", []).append({"reference": target})
        await ctx.repo("CarePlan").update(plan, stored, ctx.now)


async def _reopen_for_escalation(ctx: Context, case: Case) -> None:
    """A closed case brought back by a decline: phase 5 and the plan are open again until it is resolved."""
    await start_phase(ctx, case, Phase.EVALUATION, case.resource["owner"])
    current = await load_plan(ctx, case)
    if current is not None and current[1].get("status") == "completed":
        stored, plan = current
        plan["status"] = "active"
        await ctx.repo("CarePlan").update(plan, stored, ctx.now)


async def escalate(ctx: Context, case: Case, declined: str, event: dict[str, Any]) -> None:
    """A declined adult referral: an escalation Task for the Transitions team, the case flagged (FR-62)."""
    team = ctx.transitions_team(case.borough)
    reason = event.get("reason")
    escalation: dict[str, Any] = {
        "resourceType": "Task",
        "status": "requested",
        "intent": "order",
        "priority": "urgent",
        "code": concept(CS_TASK, TaskCode.ESCALATION, "Declined transition referral"),
        "description": (
            f"An adult service declined the transition referral {declined}"
            + (f" ({reason})" if isinstance(reason, str) else "")
            + ": agree an alternative destination, or record the young person's own choice (FR-62)"
        ),
        "partOf": [{"reference": case.reference}],
        "focus": {"reference": declined},
        "for": {"reference": case.patient},
        "owner": team_reference(team),
        "authoredOn": instant(ctx.now),
        "lastModified": instant(ctx.now),
        "input": [{"type": concept(CS_INPUT, "declined-referral"), "valueReference": {"reference": declined}}],
    }
    if isinstance(reason, str):
        escalation["input"].append({"type": concept(CS_INPUT, "decline-reason"), "valueString": reason})
    try:
        async with ctx.session.begin_nested():
            created = await ctx.repo("Task").create(escalation, new_id(), ctx.now, {"escalation_key": declined})
    except IntegrityError:
        return  # this decline is already escalated
    flagged = [
        ("adult-referral-declined", {"valueReference": {"reference": declined}}),
        ("escalation", {"valueReference": {"reference": f"Task/{created.id}"}}),
    ]
    for kind, value in flagged:
        add_output(case.resource, kind, **value)
    phase = case.phase
    if allowed(Step.ESCALATE, phase):
        target = next_phase(Step.ESCALATE, phase)
        extra = {"open_case_key": case.patient} if phase is Phase.CLOSED else {}
        try:
            async with ctx.session.begin_nested():
                if phase is Phase.CLOSED:
                    await _reopen_for_escalation(ctx, case)
                await save_case(ctx, case, target, **extra)
        except IntegrityError:
            # The person already has another open case: the decline is recorded on this one as it is.
            again = await load_case(ctx, case.id, None)
            for kind, value in flagged:
                add_output(again.resource, kind, **value)
            await save_case(ctx, again)
    else:
        await save_case(ctx, case)
    await ctx.outbox.emit(
        "transition-escalated",
        ctx.now,
        focus=case.reference,
        escalation=f"Task/{created.id}",
        declinedReferral=declined,
        subject=case.patient,
        owner=f"HealthcareService/{team.id}",
        borough=case.borough,
    )
