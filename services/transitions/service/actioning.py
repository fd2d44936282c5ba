"""Phase 4: the plan is actioned at 18 or an agreed alternative time, sending the adult-service
referrals with the plan and the CYP history (FR-57, FR-61, FR-64); and the alternative after a
declined referral (FR-62)."""

from __future__ import annotations

import base64
from datetime import date
from typing import Any

from services.kit.clock import instant
from services.kit.errors import Unprocessable
from services.kit.fhir import extension, set_extension
from services.kit.parameters import Params
from services.kit.parameters import where as param
from services.transitions.domain import dates, rules
from services.transitions.domain.codes import (
    EXT_ALTERNATIVE_TIME,
    EXT_PLANNED_ACTION,
    TRANSFER_OF_CARE,
)
from services.transitions.domain.phases import Phase
from services.transitions.domain.rules import Destination
from services.transitions.service.case import (
    Case,
    add_output,
    open_escalations,
    outputs,
    phase_task,
    save_case,
    start_phase,
    update_phase,
)
from services.transitions.service.context import Context
from services.transitions.service.inputs import references
from services.transitions.service.outgoing import send_referral
from services.transitions.service.planning import (
    DESTINATION_DISPLAY,
    activity,
    destinations_of,
    load_plan,
    parse_destination,
)

SUMMARY_ID = "cyp-summary"


def planned_action_date(case: Case, ctx: Context) -> date:
    """The planned action date: the agreed alternative, else the 18th birthday (FR-57)."""
    found = extension(case.resource, EXT_PLANNED_ACTION)
    if found:
        return date.fromisoformat(found["valueDate"])
    return dates.adulthood(case.birth, ctx.thresholds)


async def set_action_date(ctx: Context, case: Case, params: Params) -> Case:
    """An agreed alternative time: the date, who agreed (the young person included) and why (FR-57, P-7)."""
    on = params.date("date", required=True)
    assert on is not None
    agreed_by = tuple(references(params, "agreedBy"))
    rationale = params.string("rationale")
    rules.check_alternative_time(rules.AlternativeTime(on, agreed_by, rationale), case.patient)
    for who in agreed_by:
        if who.startswith("PractitionerRole/"):
            ctx.role(who, param("agreedBy"))
    parts: list[dict[str, Any]] = [{"url": "date", "valueDate": on.isoformat()}]
    parts += [{"url": "agreedBy", "valueReference": {"reference": who}} for who in agreed_by]
    parts += [
        {"url": "rationale", "valueString": str(rationale)},
        {"url": "recorded", "valueDateTime": instant(ctx.now)},
    ]
    set_extension(case.resource, EXT_ALTERNATIVE_TIME, extension=parts)
    set_extension(case.resource, EXT_PLANNED_ACTION, valueDate=on.isoformat())
    stored = await phase_task(ctx, case, Phase.ACTION)
    assert stored is not None
    task = stored.resource()
    task["restriction"] = {"period": {"end": on.isoformat()}}
    add_output(task, "agreed-alternative-time", valueDate=on.isoformat())
    task["lastModified"] = instant(ctx.now)
    await ctx.repo("Task").update(task, stored, ctx.now)
    current = await load_plan(ctx, case)
    if current is not None:
        plan_stored, plan = current
        plan["period"] = {"start": on.isoformat()}
        await ctx.repo("CarePlan").update(plan, plan_stored, ctx.now)
    add_output(case.resource, "agreed-alternative-time", valueDate=on.isoformat())
    return await save_case(ctx, case)


def _summary_document(case: Case, summary: str) -> dict[str, Any]:
    """The CYP history that travels with each referral, so the young person need not retell it (FR-64)."""
    return {
        "resourceType": "DocumentReference",
        "id": SUMMARY_ID,
        "status": "current",
        "type": {"text": "Summary of CYPMHS care"},
        "subject": {"reference": case.patient},
        "description": summary,
        "content": [
            {
                "attachment": {
                    "contentType": "text/plain; charset=utf-8",
                    "title": "Summary of CYPMHS care",
                    "data": base64.b64encode(summary.encode()).decode(),
                }
            }
        ],
    }


async def _refer(
    ctx: Context, case: Case, destination: Destination, key: str, summary: str, plan_id: str, where: str, index: int
) -> str:
    requester = ctx.role(case.referring_worker, "Task.requester")
    reason = f"Transition to {DESTINATION_DISPLAY[destination.kind].lower()} as set out in the young person's "
    reason += "formalised transition plan (phase 4)"
    if destination.reason is not None:
        reason += f"; reason: {destination.reason.value.replace('-', ' ')}"
    return await send_referral(
        ctx,
        case,
        key=key,
        purpose="adult",
        performer=destination.team,
        requester=requester,
        code=(TRANSFER_OF_CARE, "Transfer of care"),
        reason=reason,
        where=where,
        contained=[_summary_document(case, summary)],
        based_on=[{"reference": f"CarePlan/{plan_id}", "display": "Transition plan"}],
        supporting=[
            {"reference": f"CarePlan/{plan_id}", "display": "Transition plan, formalised with the young person"},
            {"reference": f"#{SUMMARY_ID}", "display": "Summary of CYPMHS care"},
            {"reference": case.episode, "display": "CYPMHS episode of care"},
        ],
        activity=index,
    )


async def action_plan(ctx: Context, case: Case, params: Params) -> Case:
    """Action the formalised plan: send its adult-service referrals with the plan and CYP summary (FR-57, FR-64)."""
    summary = params.string("cypSummary")
    current = await load_plan(ctx, case)
    rules.check_actioning(current[1].get("status") if current else None, summary)
    assert current is not None
    assert summary is not None
    plan_stored, plan = current
    planned = planned_action_date(case, ctx)
    sent: list[str] = []
    for index, destination in destinations_of(ctx, plan):
        detail = plan["activity"][index]["detail"]
        if not destination.needs_referral:
            detail["status"] = "in-progress"
            continue
        where = f"CarePlan.activity[{index}].detail.performer"
        referral = await _refer(ctx, case, destination, f"adult-{index}", summary, plan_stored.id, where, index)
        sent.append(referral)
        detail["status"] = "scheduled"
        plan["activity"][index]["outcomeReference"] = [{"reference": f"ServiceRequest/{referral}"}]
    await ctx.repo("CarePlan").update(plan, plan_stored, ctx.now)
    late = ctx.today > planned
    items: list[tuple[str, dict[str, Any]]] = [
        ("actioned", {"valueDateTime": instant(ctx.now)}),
        ("actioned-after-planned-date", {"valueBoolean": late}),
        ("cyp-summary", {"valueString": summary}),
        *(("adult-referral", {"valueReference": {"reference": f"ServiceRequest/{r}"}}) for r in sent),
    ]
    await update_phase(ctx, case, Phase.ACTION, *items, complete=True)
    for kind, value in items:
        add_output(case.resource, kind, **value)
    await start_phase(ctx, case, Phase.EVALUATION, case.resource["owner"])
    return await save_case(ctx, case, Phase.EVALUATION)


async def record_alternative(ctx: Context, case: Case, params: Params) -> Case:
    """After a declined adult referral: another destination, or the young person's own choice (FR-62)."""
    escalations = await open_escalations(ctx, case)
    parts = list(params.parts("destination"))
    if len(parts) > 1:
        raise Unprocessable("Give one alternative destination at a time", param("destination"))
    destination = parse_destination(ctx, case, parts[0]) if parts else None
    choice = params.string("choice")
    decided_by = params.reference("decidedBy")
    rules.check_alternative(len(escalations), destination, choice, decided_by, case.patient)
    resolution: dict[str, Any]
    if destination is not None:
        current = await load_plan(ctx, case)
        assert current is not None
        plan_stored, plan = current
        summaries = outputs(case.resource, "cyp-summary")
        summary = summaries[-1]["valueString"] if summaries else "See the transition plan."
        index = len(plan.get("activity") or [])
        plan.setdefault("activity", []).append(activity(destination))
        detail = plan["activity"][index]["detail"]
        if destination.needs_referral:
            referral = await _refer(
                ctx, case, destination, f"alternative-{index}", summary, plan_stored.id, param("destination"), index
            )
            detail["status"] = "scheduled"
            plan["activity"][index]["outcomeReference"] = [{"reference": f"ServiceRequest/{referral}"}]
            resolution = {"valueReference": {"reference": f"ServiceRequest/{referral}"}}
            add_output(case.resource, "alternative-referral", **resolution)
        else:
            detail["status"] = "in-progress"
            resolution = {"valueString": detail["description"]}
            add_output(case.resource, "alternative-destination", **resolution)
        await ctx.repo("CarePlan").update(plan, plan_stored, ctx.now)
    else:
        resolution = {"valueString": str(choice)}
        add_output(case.resource, "young-person-choice", **resolution)
    for escalation in escalations:
        task = escalation.resource()
        task["status"] = "completed"
        task["lastModified"] = instant(ctx.now)
        add_output(task, "resolution", **resolution)
        await ctx.repo("Task").update(task, escalation, ctx.now)
    return await save_case(ctx, case)
