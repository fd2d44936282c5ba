"""Opening a case (FR-52), phase 1 (FR-53), phase 2 (FR-54) and the high-risk flag (FR-60)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import IntegrityError

from services.kit.clock import instant
from services.kit.errors import Conflict, Issue, Unprocessable
from services.kit.fhir import concept, extension, set_extension
from services.kit.parameters import Params
from services.kit.parameters import where as param
from services.kit.repository import Stored
from services.transitions.domain import dates, rules
from services.transitions.domain.codes import (
    CS_HIGH_RISK,
    CS_STATUS_REASON,
    EXT_HIGH_RISK,
    EXT_PHASE1_DEADLINE,
    REFERRAL_TO_MH_TEAM,
    HighRiskReason,
)
from services.transitions.domain.phases import Phase
from services.transitions.service import access
from services.transitions.service.case import (
    Case,
    add_output,
    emit_phase_change,
    high_risk_extension,
    load_case,
    new_case_task,
    open_case_of,
    save_case,
    start_phase,
    update_phase,
)
from services.transitions.service.context import Context, new_id, team_reference
from services.transitions.service.inputs import codes, patient_reference, references
from services.transitions.service.outgoing import send_referral


def _duplicate(patient: str, case_id: str | None) -> Conflict:
    text = f"{patient} already has an open transition case" + (f" (Task/{case_id})" if case_id else "")
    return Conflict(text, param("patient"), issues=[Issue("duplicate", text, (param("patient"),))])


async def open_case(ctx: Context, params: Params) -> Stored:
    """Open a transition case for a young person on a CYPMHS caseload (FR-52)."""
    patient = patient_reference(params, "patient")
    worker_ref = params.reference("referringWorker", required=True)
    wanted_episode = params.reference("episode")
    flag = params.boolean("highRisk")
    reasons = codes(params, "highRiskReason", HighRiskReason)
    note = params.string("highRiskNote")
    if flag is not None:
        rules.check_high_risk(flag, reasons, note)
    existing = await open_case_of(ctx, patient)
    if existing is not None:
        # A clinician of a team not on that case is refused it, not told its id.
        await access.check_case(ctx, await load_case(ctx, existing, None))
        raise _duplicate(patient, existing)
    record = await ctx.gateway.patient(patient, param("patient"))
    if record is None:
        raise Unprocessable(f"{patient} is not known at the gateway", param("patient"))
    if record.birth_date is None:
        raise Unprocessable(
            f"{patient} has no birth date; the 17½ deadline and the 18th birthday depend on it", param("patient")
        )
    episodes = [
        rules.Episode(
            e.id,
            e.patient,
            e.status,
            ctx.directory.teams.get((e.team or "").removeprefix("HealthcareService/")),
            e.start,
        )
        for e in await ctx.gateway.episodes_of(patient, param("patient"))
    ]
    episode = rules.choose_cyp_episode(patient, episodes, wanted_episode)
    assert episode.team is not None
    worker = rules.check_referring_worker(
        ctx.directory.roles.get((worker_ref or "").removeprefix("PractitionerRole/"))
        if (worker_ref or "").startswith("PractitionerRole/")
        else None,
        str(worker_ref),
        episode.team,
    )
    access.check_opening(ctx, episode.team)
    resource = new_case_task(ctx, patient, record.birth_date, episode.team, worker, f"EpisodeOfCare/{episode.id}")
    deadline = dates.phase1_deadline(record.birth_date, ctx.thresholds)
    set_extension(resource, EXT_PHASE1_DEADLINE, valueDate=deadline.isoformat())
    if flag is None and record.high_risk:
        # The gateway's patient record already flags the person high risk: the case carries it.
        flag, reasons, note = True, [HighRiskReason.OTHER], "Flagged high risk on the patient record"
    if flag:
        high = [concept(CS_HIGH_RISK, r) for r in reasons]
        resource["extension"].append(high_risk_extension(True, high, note, instant(ctx.now)))
    case_id = new_id()
    extra = {"borough": str(episode.team.borough), "open_case_key": patient}
    try:
        async with ctx.session.begin_nested():
            stored = await ctx.repo("Task").create(resource, case_id, ctx.now, extra)
    except IntegrityError:
        raise _duplicate(patient, await open_case_of(ctx, patient)) from None
    case = Case(stored, stored.resource())
    await start_phase(ctx, case, Phase.DISCUSSION, team_reference(episode.team), deadline)
    await ctx.outbox.emit(
        "transition-case-opened",
        ctx.now,
        focus=case.reference,
        subject=patient,
        sendingService=case.sending_service,
        referringWorker=case.referring_worker,
        borough=case.borough,
        highRisk=case.high_risk,
        phase1Deadline=deadline.isoformat(),
        ageBand=case.age_band(ctx.today, ctx),
    )
    await emit_phase_change(ctx, case, None, Phase.DISCUSSION)
    return stored


async def record_discussion(ctx: Context, case: Case, params: Params) -> Case:
    """Phase 1: the pre-transition discussion, late when on or after the 17½ deadline (FR-53)."""
    on = params.date("date") or ctx.today
    attended = references(params, "participant")
    note = params.string("note")
    discussion = rules.record_discussion(case.birth, on, ctx.today, ctx.thresholds)
    items: list[tuple[str, dict[str, Any]]] = [
        ("discussion-date", {"valueDate": discussion.on.isoformat()}),
        ("phase1-deadline", {"valueDate": discussion.deadline.isoformat()}),
        ("late-initiation", {"valueBoolean": discussion.late}),
        ("age-at-discussion", {"valueString": dates.describe_age(discussion.age_months)}),
        ("age-band-at-discussion", {"valueString": dates.age_band(case.birth, discussion.on, ctx.thresholds)}),
    ]
    details = [*items, *(("participant", {"valueReference": {"reference": p}}) for p in attended)]
    if note:
        details.append(("note", {"valueString": note}))
    await update_phase(ctx, case, Phase.DISCUSSION, *details, complete=True)
    for kind, value in items:
        add_output(case.resource, kind, **value)
    await start_phase(ctx, case, Phase.SUPPORT, case.resource["owner"])
    return await save_case(ctx, case, Phase.SUPPORT)


async def decide_support(ctx: Context, case: Case, params: Params) -> Case:
    """Phase 2: agreed support contacts the borough's Transitions team; `no` closes the case (FR-54)."""
    needed = params.boolean("supportNeeded", required=True)
    assert needed is not None
    agreed_by = references(params, "agreedBy")
    reason = params.string("reason")
    rules.check_support_decision(needed, agreed_by, case.patient, reason)
    for who in agreed_by:
        if who.startswith("PractitionerRole/"):
            ctx.role(who, param("agreedBy"))
    items: list[tuple[str, dict[str, Any]]] = [("support-needed", {"valueBoolean": needed})]
    items += [("support-agreed-by", {"valueReference": {"reference": who}}) for who in agreed_by]
    if not needed:
        items.append(("not-needed-reason", {"valueString": str(reason)}))
        await update_phase(ctx, case, Phase.SUPPORT, *items, complete=True)
        for kind, value in items:
            add_output(case.resource, kind, **value)
        case.resource["statusReason"] = concept(CS_STATUS_REASON, "no-transition-support-needed")
        return await save_case(ctx, case, Phase.NOT_NEEDED, open_case_key=None)
    team = ctx.transitions_team(case.borough)
    worker = ctx.role(case.referring_worker, "Task.requester")
    referral = await send_referral(
        ctx,
        case,
        key="transitions-team",
        purpose="transitions-team",
        performer=team,
        requester=worker,
        code=(REFERRAL_TO_MH_TEAM, "Referral to mental health team"),
        reason=(
            "Support with the move from CYPMHS to adult services was agreed with the young person "
            "(transition phase 2): please arrange the multi-agency transition meeting"
        ),
        where=param("supportNeeded"),
        supporting=[{"reference": case.reference, "display": "Transition case"}],
    )
    items.append(("transitions-referral", {"valueReference": {"reference": f"ServiceRequest/{referral}"}}))
    await update_phase(ctx, case, Phase.SUPPORT, *items, complete=True)
    for kind, value in items:
        add_output(case.resource, kind, **value)
    case.resource["owner"] = team_reference(team)
    await start_phase(ctx, case, Phase.PLANNING, team_reference(team))
    return await save_case(ctx, case, Phase.PLANNING)


async def reopen(ctx: Context, case: Case, params: Params) -> Case:
    """A case closed as not needed is reopened at phase 2 (FR-54)."""
    reason = params.string("reason", required=True)
    other = await open_case_of(ctx, case.patient)
    if other is not None:
        raise _duplicate(case.patient, other)
    case.resource.pop("statusReason", None)
    add_output(case.resource, "reopened", valueString=str(reason))
    await start_phase(ctx, case, Phase.SUPPORT, case.resource["owner"])
    try:
        async with ctx.session.begin_nested():
            return await save_case(ctx, case, Phase.SUPPORT, open_case_key=case.patient)
    except IntegrityError:
        raise _duplicate(case.patient, await open_case_of(ctx, case.patient)) from None


async def flag_high_risk(ctx: Context, case: Case, params: Params) -> Case:
    """Set or clear the high-risk flag with its reasons, at any open phase (FR-60)."""
    flag = params.boolean("highRisk")
    flag = True if flag is None else flag
    reasons = codes(params, "highRiskReason", HighRiskReason)
    note = params.string("highRiskNote")
    rules.check_high_risk(flag, reasons, note)
    was = extension(case.resource, EXT_HIGH_RISK)
    high = [concept(CS_HIGH_RISK, r) for r in reasons]
    case.resource["extension"] = [e for e in case.resource.get("extension") or [] if e is not was]
    case.resource["extension"].append(high_risk_extension(flag, high, note, instant(ctx.now)))
    saved = await save_case(ctx, case)
    await ctx.outbox.emit(
        "transition-high-risk-flagged",
        ctx.now,
        focus=case.reference,
        subject=case.patient,
        highRisk=flag,
        reasons=[r.value for r in reasons],
        borough=case.borough,
    )
    return saved
