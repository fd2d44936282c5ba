"""Worklists and the case status: who is due a pre-transition discussion (FR-53, FR-60), which plans
are overdue (FR-57), and where one case stands."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from sqlalchemy import select

from reference.partnership import Borough, ServiceType, Team
from services.kit.errors import BadRequest, Unprocessable
from services.kit.fhir import extension, reference
from services.kit.parameters import parameters
from services.transitions.domain import dates, rules
from services.transitions.domain.codes import EXT_PHASE1_DEADLINE, TaskCode, parse_code
from services.transitions.domain.phases import NUMBER, Phase
from services.transitions.domain.rules import CASELOAD_STATUSES
from services.transitions.persistence import tables
from services.transitions.service import access
from services.transitions.service.actioning import planned_action_date
from services.transitions.service.case import Case, open_escalations, outputs, phase_concept
from services.transitions.service.context import Context, team_reference
from services.transitions.service.planning import load_plan


def _paging(query: Mapping[str, str], allowed: set[str], operation: str, ctx: Context) -> tuple[int, int]:
    for name in query:
        if name not in allowed | {"_count", "_offset"}:
            raise BadRequest(
                f"{operation} does not take {name!r}; it takes " + ", ".join(sorted(allowed | {"_count", "_offset"})),
                name,
            )
    settings = ctx.settings
    count = query.get("_count", str(settings.default_page_size))
    offset = query.get("_offset", "0")
    for name, value in (("_count", count), ("_offset", offset)):
        if not (value.isascii() and value.isdigit()):
            raise BadRequest(f"{name} must be a whole number, not {value!r}", name)
    return min(int(count), settings.max_page_size), int(offset)


def _cyp_teams(ctx: Context, query: Mapping[str, str]) -> list[Team]:
    teams = [t for t in ctx.directory.teams.values() if t.type is ServiceType.CYPMHS]
    if "borough" in query:
        borough = parse_code(Borough, query["borough"], "borough")
        teams = [t for t in teams if t.borough is borough]
    if "service" in query:
        wanted = query["service"] if "/" in query["service"] else f"HealthcareService/{query['service']}"
        team = ctx.team(wanted, "service")
        if team.type is not ServiceType.CYPMHS:
            raise Unprocessable(f"{team.name} is not a CYPMHS team", "service")
        teams = [t for t in teams if t.id == team.id]
    return sorted(teams, key=lambda t: t.id)


async def worklist(ctx: Context, query: Mapping[str, str]) -> dict[str, Any]:
    """Young people on a CYPMHS caseload, at or past the lead-in age, with no phase-1 record;
    high-risk first, each with its 17½ deadline (FR-53, FR-60)."""
    count, offset = _paging(query, {"borough", "service"}, "$transition-worklist", ctx)
    access.check_worklist(ctx, query)
    teams = _cyp_teams(ctx, query)
    by_ref = {f"HealthcareService/{t.id}": t for t in teams}
    episodes = await ctx.gateway.caseload(sorted(by_ref), CASELOAD_STATUSES, "service") if teams else []
    people = sorted({e.patient for e in episodes})
    t = tables.task
    rows = (
        await ctx.session.execute(
            select(t.c.id, t.c.subject, t.c.business_status, t.c.high_risk).where(
                t.c.code == TaskCode.CASE, t.c.subject.in_(people)
            )
        )
    ).all()
    discussed = {r.subject for r in rows if r.business_status != Phase.DISCUSSION}
    waiting = {r.subject: r for r in rows if r.business_status == Phase.DISCUSSION}
    records = await ctx.gateway.patients([p for p in people if p not in discussed], "service")
    candidates = []
    seen: set[str] = set()
    for episode in sorted(episodes, key=lambda e: (e.patient, e.id)):
        record = records.get(episode.patient)
        team = by_ref.get(episode.team or "")
        if episode.patient in discussed or episode.patient in seen or record is None or team is None:
            continue
        if record.birth_date is None:
            continue
        seen.add(episode.patient)
        open_case = waiting.get(episode.patient)
        candidates.append(
            rules.Candidate(
                patient=episode.patient,
                birth=record.birth_date,
                high_risk=record.high_risk or bool(open_case and open_case.high_risk),
                team=team,
                episode=f"EpisodeOfCare/{episode.id}",
                case=f"Task/{open_case.id}" if open_case else None,
            )
        )
    entries = rules.worklist(candidates, ctx.today, ctx.thresholds)
    rows_out = [_row(e) for e in entries[offset : offset + count]]
    return parameters(("total", "Integer", len(entries)), *[("row", "part", row) for row in rows_out])


def _row(entry: rules.WorklistEntry) -> list[dict[str, Any]]:
    c = entry.candidate
    row: list[dict[str, Any]] = [
        {"name": "patient", "valueReference": {"reference": c.patient}},
        {"name": "birthDate", "valueDate": c.birth.isoformat()},
        {"name": "age", "valueString": dates.describe_age(entry.age_months)},
        {"name": "phase1Deadline", "valueDate": entry.deadline.isoformat()},
        {"name": "daysToDeadline", "valueInteger": entry.days_to_deadline},
        {"name": "pastDeadline", "valueBoolean": entry.past_deadline},
        {"name": "highRisk", "valueBoolean": c.high_risk},
        {"name": "service", "valueReference": team_reference(c.team)},
        {"name": "episode", "valueReference": {"reference": c.episode}},
    ]
    if c.case:
        row.append({"name": "case", "valueReference": {"reference": c.case}})
    return row


async def overdue(ctx: Context, query: Mapping[str, str]) -> dict[str, Any]:
    """Cases whose plan is past its planned action date and not actioned (FR-57), high-risk first."""
    count, offset = _paging(query, {"borough"}, "$transition-overdue", ctx)
    t = tables.task
    where = [
        t.c.code == TaskCode.CASE,
        t.c.business_status == Phase.ACTION,
        t.c.planned_action_date < ctx.today,
    ]
    if "borough" in query:
        where.append(t.c.borough == parse_code(Borough, query["borough"], "borough").value)
    found = await ctx.repo("Task").all_where(*where)
    cases = sorted(
        (Case(s, s.resource()) for s in found),
        key=lambda c: (not c.high_risk, planned_action_date(c, ctx), c.id),
    )
    rows = []
    for case in cases[offset : offset + count]:
        planned = planned_action_date(case, ctx)
        rows.append(
            [
                {"name": "case", "valueReference": reference("Task", case.id)},
                {"name": "patient", "valueReference": {"reference": case.patient}},
                {"name": "plannedActionDate", "valueDate": planned.isoformat()},
                {"name": "daysOverdue", "valueInteger": (ctx.today - planned).days},
                {"name": "highRisk", "valueBoolean": case.high_risk},
                {"name": "borough", "valueCode": case.borough},
            ]
        )
    return parameters(("total", "Integer", len(cases)), *[("row", "part", row) for row in rows])


def _last(case: Case, kind: str, key: str) -> Any:
    found = outputs(case.resource, kind)
    return found[-1].get(key) if found else None


async def status(ctx: Context, case: Case) -> dict[str, Any]:
    """Where a case stands today: phase, deadlines, late and overdue flags, age band (FR-53, FR-57, FR-65)."""
    today = ctx.today
    phase = case.phase
    actioned = phase in (Phase.EVALUATION, Phase.CLOSED)
    planned = planned_action_date(case, ctx) if phase is Phase.ACTION or actioned else None
    deadline_ext = extension(case.resource, EXT_PHASE1_DEADLINE)
    deadline = (
        date.fromisoformat(deadline_ext["valueDate"])
        if deadline_ext
        else dates.phase1_deadline(case.birth, ctx.thresholds)
    )
    discussed = _last(case, "discussion-date", "valueDate")
    late = _last(case, "late-initiation", "valueBoolean")
    actioned_at = _last(case, "actioned", "valueDateTime")
    plan = await load_plan(ctx, case)
    escalations = await open_escalations(ctx, case)
    gap = _last(case, "continuity-gap-days", "valueInteger")
    entries: list[tuple[str, str, Any]] = [
        ("case", "Reference", reference("Task", case.id)),
        ("patient", "Reference", {"reference": case.patient}),
        ("phase", "Coding", phase_concept(phase)["coding"][0]),
        ("phaseNumber", "Integer", NUMBER.get(phase)),
        ("ageToday", "String", dates.describe_age(dates.age_in_months(case.birth, today))),
        ("ageBand", "String", case.age_band(today, ctx)),
        ("cyp", "Boolean", dates.is_cyp(case.birth, today, ctx.thresholds)),
        ("highRisk", "Boolean", case.high_risk),
        ("phase1Deadline", "Date", deadline.isoformat()),
        ("discussionDate", "Date", discussed),
        ("lateInitiation", "Boolean", late),
        ("eighteenthBirthday", "Date", dates.adulthood(case.birth, ctx.thresholds).isoformat()),
        ("plannedActionDate", "Date", planned.isoformat() if planned else None),
        ("actioned", "DateTime", actioned_at),
        ("overdue", "Boolean", dates.overdue(planned, actioned, today) if planned else False),
        ("plan", "Reference", reference("CarePlan", plan[0].id) if plan else None),
        ("planStatus", "Code", plan[1].get("status") if plan else None),
        ("openEscalations", "Integer", len(escalations)),
        ("continuityGapDays", "Integer", gap),
    ]
    return parameters(*entries)
