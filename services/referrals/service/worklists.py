"""The escalation sweep (FR-5), carers' concerns (FR-27) and the patient tracking list (FR-26)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from reference.partnership import Borough, ServiceType
from services.kit.clock import instant, parse_instant
from services.kit.errors import BadRequest, Conflict, Forbidden, PreconditionFailed, Unprocessable
from services.kit.fhir import coding_code, concept, ref, reference
from services.kit.parameters import Params, parameters
from services.kit.repository import Stored
from services.referrals.domain import rules
from services.referrals.domain.codes import CS_TASK, TaskCode, parse_code
from services.referrals.domain.rules import param
from services.referrals.domain.waiting import age_band
from services.referrals.persistence import tables
from services.referrals.service import access
from services.referrals.service.context import Context, new_id, team_reference
from services.referrals.service.episodes import responsible_team
from services.referrals.service.referrals import OPEN_TASK_STATUSES, escalate

UNDECIDED_TASK_STATUSES = ("requested", "received")


SWEEP_PAGE = 500
"""Undecided referrals read per round of the sweep, so its memory stays flat however long the queue."""


async def sweep_escalations(ctx: Context) -> int:
    """Create the escalation Tasks that are due (each level exactly once). Returns how many.

    Only referrals received before the escalation horizon can be due, and they are read a page at
    a time in id order.
    """
    t = tables.task
    horizon = rules.escalation_horizon(ctx.now, ctx.directory.teams.values())
    existing = set(
        (await ctx.session.execute(select(t.c.escalation_key).where(t.c.escalation_key.is_not(None)))).scalars()
    )
    created = 0
    after = ""
    while True:
        page = await ctx.repo("Task").all_where(
            t.c.code == TaskCode.REFERRAL,
            t.c.status.in_(UNDECIDED_TASK_STATUSES),
            t.c.authored_on <= horizon,
            t.c.id > after,
            order_by=t.c.id,
            limit=SWEEP_PAGE,
        )
        for task in page:
            created += await _escalate_what_is_due(ctx, task, existing)
        if len(page) < SWEEP_PAGE:
            return created
        after = page[-1].id


async def _escalate_what_is_due(ctx: Context, task: Stored, existing: set[str]) -> int:
    resource = task.resource()
    team = ctx.team(ref(resource.get("owner")), "Task.owner")
    received = task_row_clock_start(resource)
    created = 0
    for level in rules.escalation_levels_due(received, ctx.now, team, ctx.settings.bank_holidays):
        if f"{task.id}:{level}" in existing:
            continue
        try:
            await escalate(ctx, task, resource, team, str(level), None)
            created += 1
        except Conflict:
            continue  # another sweep got there first
    return created


def task_row_clock_start(resource: dict[str, Any]) -> Any:
    """When the referral Task's service received it."""
    return parse_instant(resource["authoredOn"])


async def raise_concern(ctx: Context, params: Params) -> Stored:
    """A carer's concern becomes a Task for the responsible team, or the borough's SPA (FR-27)."""
    patient = params.reference("patient", required=True)
    assert patient is not None
    if not patient.startswith("Patient/"):
        raise Unprocessable("The concern is about a Patient", param("patient"))
    reporter = params.reference("reporter", required=True)
    description = params.string("description", required=True)
    team = await responsible_team(ctx, patient)
    if team is None:
        facts = await ctx.facts(patient)
        team = ctx.directory.spa_for(Borough(facts.borough) if facts.borough else None)
    concern = {
        "resourceType": "Task",
        "status": "requested",
        "intent": "order",
        "priority": "urgent",
        "code": concept(CS_TASK, TaskCode.CONCERN, "Carer-reported concern"),
        "description": description,
        "for": {"reference": patient},
        "requester": {"reference": reporter},
        "owner": team_reference(team),
        "authoredOn": instant(ctx.now),
        "lastModified": instant(ctx.now),
    }
    stored = await ctx.repo("Task").create(concern, new_id(), ctx.now)
    await ctx.outbox.emit(
        "concern-raised",
        ctx.now,
        task=f"Task/{stored.id}",
        subject=patient,
        owner=f"HealthcareService/{team.id}",
    )
    return stored


async def acknowledge(ctx: Context, task_id: str, params: Params, expected_version: int) -> Stored:
    """The team acknowledges a concern; the time it took is the Task's lastModified less authoredOn."""
    task = await ctx.repo("Task").read(task_id)
    if task.version_id != expected_version:
        raise PreconditionFailed(
            f'If-Match W/"{expected_version}" does not match the current version W/"{task.version_id}"',
            "If-Match",
        )
    resource = task.resource()
    if coding_code(resource.get("code"), CS_TASK) != TaskCode.CONCERN:
        raise Unprocessable(f"Task/{task_id} is not a concern", "Task.code")
    if resource.get("status") != "requested":
        raise Conflict(f"Task/{task_id} is already {resource.get('status')}", "Task.status")
    resource["status"] = "received"
    resource["lastModified"] = instant(ctx.now)
    resource["executionPeriod"] = {"start": instant(ctx.now)}
    actor = params.reference("actor")
    if actor:
        resource["note"] = [
            {
                "authorReference": {"reference": actor},
                "time": instant(ctx.now),
                "text": "acknowledged",
            }
        ]
    return await ctx.repo("Task").update(resource, task, ctx.now)


async def tracking_list(ctx: Context, query: dict[str, str], count: int, offset: int) -> dict[str, Any]:
    """The patient tracking list: everyone waiting whose clock has not stopped (FR-26)."""
    allowed = {"service", "borough", "age-band", "pathway", "_count", "_offset"}
    for name in query:
        if name not in allowed:
            raise BadRequest(f"$ptl does not take {name!r}; it takes {', '.join(sorted(allowed))}", name)
    t = tables.task
    where = [t.c.code == TaskCode.REFERRAL, t.c.status.in_(("requested", "received", "accepted"))]
    teams = list(ctx.directory.teams.values())
    acting = access.acting_team(ctx)
    if acting is not None and query.get("service", "").removeprefix("HealthcareService/") != acting.id:
        raise Forbidden("A clinician's tracking list is their own team's: add service=<your team>", "service")
    if "service" in query:
        where.append(t.c.owner == f"HealthcareService/{query['service'].removeprefix('HealthcareService/')}")
    if "borough" in query:
        borough = parse_code(Borough, query["borough"], "borough")
        where.append(t.c.owner.in_([f"HealthcareService/{x.id}" for x in teams if x.borough is borough]))
    if "pathway" in query:
        pathway = parse_code(ServiceType, query["pathway"], "pathway")
        where.append(t.c.owner.in_([f"HealthcareService/{x.id}" for x in teams if x.type is pathway]))
    rows = await ctx.repo("Task").all_where(*where, order_by=t.c.clock_start.asc())
    escalated = set(
        (
            await ctx.session.execute(
                select(t.c.focus).where(t.c.code == TaskCode.ESCALATION, t.c.status.in_(OPEN_TASK_STATUSES))
            )
        ).scalars()
    )
    c = tables.communication
    last_told = dict(
        (
            await ctx.session.execute(
                select(c.c.based_on, func.max(c.c.sent)).where(c.c.category == "waiting-time").group_by(c.c.based_on)
            )
        ).all()
    )
    support = dict((await ctx.session.execute(select(t.c.id, t.c.support_status).where(*where))).all())
    starts = dict((await ctx.session.execute(select(t.c.id, t.c.clock_start).where(*where))).all())
    entries = []
    for task in rows:
        resource = task.resource()
        facts = await ctx.facts(ref(resource.get("for")))
        band = age_band(facts.birth_date, ctx.now.date()) if facts.birth_date else None
        if "age-band" in query and band != query["age-band"]:
            continue
        team = ctx.team(ref(resource.get("owner")), "Task.owner")
        start = starts[task.id]
        days = (ctx.now - start).days
        focus = ref(resource.get("focus"))
        told = last_told.get(focus)
        entries.append(
            [
                {"name": "task", "valueReference": reference("Task", task.id)},
                {"name": "referral", "valueReference": {"reference": focus}},
                {"name": "patient", "valueReference": resource.get("for")},
                {"name": "service", "valueReference": team_reference(team)},
                *([{"name": "borough", "valueCode": team.borough.value}] if team.borough else []),
                *([{"name": "ageBand", "valueString": band}] if band else []),
                {"name": "daysWaiting", "valueInteger": days},
                {"name": "breach", "valueBoolean": days > (team.wait_target_days or 28)},
                {"name": "interimSupport", "valueCode": support.get(task.id) or "none"},
                {"name": "escalated", "valueBoolean": f"Task/{task.id}" in escalated},
                *([{"name": "lastWaitingCommunication", "valueDateTime": instant(told)}] if told else []),
                {"name": "highRisk", "valueBoolean": facts.high_risk},
            ]
        )
    page = entries[offset : offset + count]
    return parameters(("total", "Integer", len(entries)), *[("row", "part", row) for row in page])
