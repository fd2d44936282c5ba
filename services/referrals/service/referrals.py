"""Creating referrals and deciding on them: the referral Task's named operations."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from reference.partnership import CRISIS_CONTACTS, Role, ServiceType, Team
from services.kit.clock import instant, parse_instant
from services.kit.errors import (
    BadRequest,
    Conflict,
    Issue,
    PreconditionFailed,
    RequiredMissing,
    Unprocessable,
)
from services.kit.fhir import coding_code, concept, extension, ref, reference, set_extension
from services.kit.parameters import Params, parameters
from services.kit.repository import Stored
from services.referrals.domain import rules
from services.referrals.domain.codes import (
    CS_CLOSURE,
    CS_COMMUNICATION,
    CS_COMPLEXITY,
    CS_DECLINE,
    CS_ELIGIBILITY,
    CS_LESS_RESTRICTIVE,
    CS_NEXT_STEP,
    CS_SCREENING,
    CS_SOURCE,
    CS_STATE,
    CS_SUPPORT,
    CS_TASK,
    EXT_CHANNEL,
    EXT_COMMUNICATION_NEEDS,
    EXT_DIRECTION,
    EXT_LESS_RESTRICTIVE,
    EXT_PANEL_SLOT,
    EXT_RECEIVED_AT,
    EXT_SPELL,
    EXT_WAITING_WELL_VERSION,
    PROHIBITED_DECLINE_REASONS,
    REFERRAL_ID,
    TASK_STATUS,
    Channel,
    ClosureReason,
    Complexity,
    DeclineReason,
    Eligibility,
    LessRestrictiveOption,
    NextStep,
    Priority,
    ReferralSource,
    Screening,
    State,
    SupportStatus,
    TaskCode,
    parse_code,
)
from services.referrals.domain.lifecycle import Verb, check_move
from services.referrals.domain.rules import param
from services.referrals.domain.waiting import expected_wait_days
from services.referrals.persistence import tables
from services.referrals.service import access
from services.referrals.service.context import Context, new_id, stamp_actor, team_reference
from services.referrals.service.episodes import new_episode, settle_referral_episodes
from services.referrals.service.patients import permitted_carers

EXT_EXPECTED_WAIT = "https://continuum.example.org/fhir/StructureDefinition/expected-wait-days"
CS_OUTPUT = "https://continuum.example.org/fhir/CodeSystem/referral-task-output"
_INTENTS = frozenset({"proposal", "plan", "directive", "order", "original-order"})
OPEN_TASK_STATUSES = ("requested", "received", "accepted", "in-progress")


# ---------------------------------------------------------------- creating


@dataclass(frozen=True)
class Spell:
    """Where a referral sits in its redirect chain: the clock start it inherits."""

    received_at: datetime
    spell: str


@dataclass(frozen=True)
class Parsed:
    """A new referral's elements the rules need."""

    subject: str
    requester: str
    requester_type: str
    performer: Team
    source: ReferralSource
    less_restrictive: tuple[LessRestrictiveOption, ...]
    planned_days: float | None


def _parse(ctx: Context, resource: dict[str, Any]) -> Parsed:
    subject = ref(resource.get("subject"))
    if not subject or not subject.startswith("Patient/"):
        raise Unprocessable("A referral's subject is a Patient", "ServiceRequest.subject")
    requester = ref(resource.get("requester"))
    if not requester:
        raise RequiredMissing("A referral names who requested it", "ServiceRequest.requester")
    performers = resource.get("performer") or []
    if not performers:
        raise RequiredMissing("A referral names the receiving service", "ServiceRequest.performer")
    performer = ctx.team(ref(performers[0]), "ServiceRequest.performer[0]")
    if not (resource.get("reasonCode") or resource.get("reasonReference")):
        raise RequiredMissing("A referral gives its reason (code or text)", "ServiceRequest.reasonCode")
    source_code = coding_code(resource.get("category"), CS_SOURCE)
    if source_code is None:
        raise RequiredMissing(
            f"A referral carries its source as a category coding from {CS_SOURCE}",
            "ServiceRequest.category",
        )
    source = parse_code(ReferralSource, source_code, "ServiceRequest.category")
    if resource.get("intent") not in _INTENTS:
        raise Unprocessable("A referral's intent is order, plan or proposal", "ServiceRequest.intent")
    if resource.get("status", "active") not in ("active", "draft"):
        raise Unprocessable("A new referral is active", "ServiceRequest.status")
    if "priority" in resource:
        parse_code(Priority, resource["priority"], "ServiceRequest.priority")
    channel = extension(resource, EXT_CHANNEL)
    if channel is not None:
        parse_code(Channel, channel.get("valueCode"), "ServiceRequest.extension('referral-channel')")
    options = tuple(
        parse_code(
            LessRestrictiveOption,
            coding_code(e.get("valueCodeableConcept"), CS_LESS_RESTRICTIVE),
            "ServiceRequest.extension('less-restrictive-option')",
        )
        for e in resource.get("extension") or []
        if e.get("url") == EXT_LESS_RESTRICTIVE
    )
    planned = None
    period = resource.get("occurrencePeriod") or {}
    if period.get("start") and period.get("end"):
        span = parse_instant(period["end"]) - parse_instant(period["start"])
        planned = span.total_seconds() / 86400
    return Parsed(subject, requester, requester.split("/")[0], performer, source, options, planned)


async def _holds_episode(ctx: Context, subject: str, team: Team) -> bool:
    t = tables.episode_of_care
    row = (
        await ctx.session.execute(
            select(t.c.id).where(
                t.c.patient == subject,
                t.c.team == f"HealthcareService/{team.id}",
                t.c.status.in_(("active", "waitlist")),
            )
        )
    ).first()
    return row is not None


async def find_by_identifier(ctx: Context, criteria: str) -> Stored | None:
    """The referral matching an `If-None-Exist: identifier=system|value` (400 for other criteria)."""
    name, _, value = criteria.partition("=")
    if name != "identifier" or "|" not in value:
        raise BadRequest("If-None-Exist supports identifier=system|value", "If-None-Exist")
    rows = await ctx.repo("ServiceRequest").all_where(tables.service_request.c.identifier == value)
    return rows[0] if rows else None


async def create_referral(
    ctx: Context, resource: dict[str, Any], if_none_exist: str | None = None
) -> tuple[Stored, bool]:
    """Create a referral and its tracking Task (FR-1). Returns the ServiceRequest and whether it is new."""
    access.check_requester(ctx, resource)
    if if_none_exist:
        existing = await find_by_identifier(ctx, if_none_exist)
        if existing is not None:
            return existing, False
    parsed = _parse(ctx, resource)
    role: Role | None = None
    team: Team | None = None
    if parsed.requester_type == "PractitionerRole":
        role = ctx.role(parsed.requester, "ServiceRequest.requester")
        team = ctx.directory.teams[role.team]
    internal = team is not None and ctx.directory.internal(team)
    holds = team is not None and await _holds_episode(ctx, parsed.subject, team)
    draft = rules.Draft(
        source=parsed.source,
        requester_type=parsed.requester_type,
        requester_role=role,
        requester_team=team,
        requester_internal=internal,
        requester_holds_episode=holds,
        performer=parsed.performer,
        less_restrictive=parsed.less_restrictive,
        planned_days=parsed.planned_days,
    )
    routing = rules.check_new_referral(draft, crisis_house_over_limit=ctx.settings.crisis_house_over_limit)
    if routing.over_duration:
        tags = resource.setdefault("meta", {}).setdefault("tag", [])
        tags.append({"system": f"{CS_STATE}-flag", "code": "crisis-house-over-14-days"})
    if not resource.get("identifier"):
        resource["identifier"] = [{"system": REFERRAL_ID, "value": new_id()}]
    try:
        stored = await _store(ctx, resource, parsed.performer, routing.direction, None, team)
    except IntegrityError:
        if if_none_exist:
            existing = await find_by_identifier(ctx, if_none_exist)
            if existing is not None:
                return existing, False
        raise Conflict(
            "A referral with this identifier already exists",
            "ServiceRequest.identifier",
            issues=[
                Issue(
                    "duplicate",
                    "A referral with this identifier already exists",
                    ("ServiceRequest.identifier",),
                )
            ],
        ) from None
    if routing.route_to_spa:
        # FR-17: a self-referral to a service that takes none goes to the borough's SPA, not back.
        facts = await ctx.facts(parsed.subject)
        spa = ctx.directory.spa_for(parsed.performer.borough or facts.borough)  # type: ignore[arg-type]
        task = await referral_task_of(ctx, stored.id)
        await redirect(ctx, task, stored, spa, None, "self-referral routed to the single point of access")
        stored = await ctx.repo("ServiceRequest").read(stored.id)
    return stored, True


async def _store(
    ctx: Context,
    resource: dict[str, Any],
    performer: Team,
    direction: str,
    spell: Spell | None,
    requester_team: Team | None,
) -> Stored:
    """Store a referral and create its Task (inside a savepoint, so a duplicate rolls back alone)."""
    sr_id = new_id()
    received_at = spell.received_at if spell else ctx.now
    resource["status"] = "active"
    resource.setdefault("authoredOn", instant(ctx.now))
    set_extension(resource, EXT_RECEIVED_AT, valueDateTime=instant(received_at))
    set_extension(resource, EXT_SPELL, valueString=spell.spell if spell else sr_id)
    set_extension(resource, EXT_DIRECTION, valueCode=direction)
    facts = await ctx.facts(ref(resource.get("subject")))
    needs = [
        {"url": key, **value}
        for key, value in (
            ("language", {"valueCode": facts.language} if facts.language else None),
            (
                "interpreterRequired",
                {"valueBoolean": facts.interpreter} if facts.interpreter is not None else None,
            ),
            (
                "needs",
                {"valueString": facts.communication_needs} if facts.communication_needs else None,
            ),
        )
        if value
    ]
    if needs:
        set_extension(resource, EXT_COMMUNICATION_NEEDS, extension=needs)
    extra = {"requester_team": f"HealthcareService/{requester_team.id}" if requester_team else None}
    async with ctx.session.begin_nested():
        stored = await ctx.repo("ServiceRequest").create(resource, sr_id, ctx.now, extra)
    task = {
        "resourceType": "Task",
        "status": TASK_STATUS[State.RECEIVED],
        "intent": "order",
        "code": concept(CS_TASK, TaskCode.REFERRAL, "Referral"),
        "businessStatus": concept(CS_STATE, State.RECEIVED),
        "focus": reference("ServiceRequest", sr_id),
        "basedOn": [reference("ServiceRequest", sr_id)],
        "for": resource["subject"],
        "requester": resource["requester"],
        "owner": team_reference(performer),
        "authoredOn": instant(ctx.now),
    }
    stamp_actor(task, resource["requester"].get("reference"), ctx.now)
    task_id = new_id()
    await ctx.repo("Task").create(task, task_id, ctx.now, {"clock_start": received_at})
    await ctx.outbox.emit(
        "referral-received",
        ctx.now,
        focus=f"ServiceRequest/{sr_id}",
        task=f"Task/{task_id}",
        subject=resource["subject"].get("reference"),
        performer=f"HealthcareService/{performer.id}",
        requester=resource["requester"].get("reference"),
        direction=direction,
    )
    return stored


def _requester_team(ctx: Context, referral: dict[str, Any]) -> Team | None:
    role = ctx.directory.roles.get((ref(referral.get("requester")) or "").removeprefix("PractitionerRole/"))
    return ctx.directory.teams[role.team] if role else None


async def referral_task_of(ctx: Context, sr_id: str) -> Stored:
    """The referral Task tracking a ServiceRequest."""
    t = tables.task
    found = await ctx.repo("Task").all_where(t.c.focus == f"ServiceRequest/{sr_id}", t.c.code == TaskCode.REFERRAL)
    if not found:
        raise Conflict(f"ServiceRequest/{sr_id} has no referral Task")
    return found[0]


async def redirect(
    ctx: Context, task: Stored, sr: Stored, destination: Team, actor: str | None, note: str | None
) -> Stored:
    """Move a referral to the right service, keeping its clock (FR-11). Returns the new referral."""
    original = sr.resource()
    current = ctx.team(ref((original.get("performer") or [None])[0]), "ServiceRequest.performer[0]")
    rules.check_destination(destination, current, param("destination"))
    new = {k: copy.deepcopy(v) for k, v in original.items() if k not in ("id", "meta", "identifier", "extension")}
    new["extension"] = [
        e for e in original.get("extension") or [] if e.get("url") in (EXT_CHANNEL, EXT_LESS_RESTRICTIVE)
    ]
    new["performer"] = [team_reference(destination)]
    new["replaces"] = [reference("ServiceRequest", sr.id)]
    new["identifier"] = [{"system": REFERRAL_ID, "value": new_id()}]
    spell_ext = extension(original, EXT_SPELL) or {}
    received = extension(original, EXT_RECEIVED_AT) or {}
    spell = Spell(parse_instant(received["valueDateTime"]), spell_ext.get("valueString") or sr.id)
    # The person who referred is still the referrer: the onward referral keeps their team, so the
    # keep-supporting rule (FR-9) and the step-up/down classification (FR-22) follow the sender.
    sender = _requester_team(ctx, original)
    direction = rules.direction(sender, sender is not None and ctx.directory.internal(sender), destination)
    created = await _store(ctx, new, destination, direction, spell, sender)
    resource = task.resource()
    _move(resource, State.REDIRECTED, actor, ctx)
    _output(resource, "redirected-to", valueReference=reference("ServiceRequest", created.id))
    if note:
        resource["note"] = [*resource.get("note", []), {"text": note, "time": instant(ctx.now)}]
    await ctx.repo("Task").update(resource, task, ctx.now)
    original["status"] = "completed"
    await ctx.repo("ServiceRequest").update(original, sr, ctx.now)
    await close_escalations(ctx, task.id)
    await ctx.outbox.emit(
        "referral-redirected",
        ctx.now,
        focus=f"ServiceRequest/{sr.id}",
        redirectedTo=f"ServiceRequest/{created.id}",
        subject=original["subject"].get("reference"),
        requester=original["requester"].get("reference"),
        performer=f"HealthcareService/{destination.id}",
    )
    return created


# ---------------------------------------------------------------- deciding


def _move(task: dict[str, Any], state: State, actor: str | None, ctx: Context) -> None:
    task["status"] = TASK_STATUS[state]
    task["businessStatus"] = concept(CS_STATE, state)
    stamp_actor(task, actor, ctx.now)


def _output(task: dict[str, Any], kind: str, **value: Any) -> None:
    task.setdefault("output", []).append({"type": concept(CS_OUTPUT, kind), **value})


def _output_code(task: dict[str, Any], kind: str) -> str | None:
    for output in task.get("output") or []:
        if coding_code(output.get("type"), CS_OUTPUT) == kind:
            concept_ = output.get("valueCodeableConcept") or {}
            codes = [c.get("code") for c in concept_.get("coding") or []] or [output.get("valueCode")]
            return str(codes[0]) if codes[0] is not None else None
    return None


def state_of(task: dict[str, Any]) -> State:
    """The referral state a Task carries."""
    return parse_code(State, coding_code(task.get("businessStatus"), CS_STATE), "Task.businessStatus")


async def load_referral_task(ctx: Context, task_id: str, expected_version: int | None) -> tuple[Stored, dict[str, Any]]:
    """A referral Task, checked against `If-Match` (412 when stale)."""
    task = await ctx.repo("Task").read(task_id)
    if expected_version is not None and expected_version != task.version_id:
        raise PreconditionFailed(
            f'If-Match W/"{expected_version}" does not match the current version W/"{task.version_id}"',
            "If-Match",
        )
    resource = task.resource()
    if coding_code(resource.get("code"), CS_TASK) != TaskCode.REFERRAL:
        raise Unprocessable(f"Task/{task_id} is not a referral Task", "Task.code")
    return task, resource


async def decide(ctx: Context, task_id: str, verb: Verb, params: Params, expected_version: int) -> tuple[Stored, int]:
    """Apply a named operation to a referral Task. Returns the resulting Task and HTTP status."""
    task, resource = await load_referral_task(ctx, task_id, expected_version)
    access.check_decision(ctx, resource, verb)
    state = state_of(resource)
    check_move(verb, state)
    sr = await ctx.repo("ServiceRequest").read(ref(resource.get("focus")).removeprefix("ServiceRequest/"))  # type: ignore[union-attr]
    team = ctx.team(ref(resource.get("owner")), "Task.owner")
    actor = params.reference("actor")
    if verb is Verb.TRIAGE:
        return await _triage(ctx, task, resource, team, params, actor), 200
    if verb is Verb.ACCEPT:
        if _output_code(resource, "eligibility") == "not-eligible":
            raise Conflict(
                "Triage found the person not eligible for this service: decline with a next step or redirect",
                "Task.output",
            )
        return await _accept(ctx, task, resource, sr, team, params, actor), 200
    if verb is Verb.DECLINE:
        return await _decline(ctx, task, resource, sr, team, params, actor), 200
    if verb is Verb.REDIRECT:
        destination = ctx.team(params.reference("destination", required=True), param("destination"))
        await redirect(ctx, task, sr, destination, actor, params.string("note"))
        return await ctx.repo("Task").read(task.id), 200
    if verb is Verb.CANCEL:
        return await _finish(ctx, task, resource, sr, State.CANCELLED, "revoked", actor, params.string("note")), 200
    if verb is Verb.COMPLETE:
        reason = parse_code(ClosureReason, params.code("reason", required=True), param("reason"))
        facts = await ctx.facts(ref(resource.get("for")))
        rules.check_closure(
            rules.Closure(
                reason,
                facts.smi,
                params.string("followUpAttempt"),
                params.reference("clinicianDecision"),
            )
        )
        recommendations = params.reference("recommendations")
        rules.check_panel_outcome(team, recommendations)
        if recommendations:
            _output(resource, "recommendations", valueReference={"reference": recommendations})
        resource["statusReason"] = concept(CS_CLOSURE, reason)
        return await _finish(ctx, task, resource, sr, State.CLOSED, "completed", actor, None), 200
    escalation = await escalate(ctx, task, resource, team, f"manual:{task.version_id}", params.string("note"))
    return escalation, 201


async def _triage(
    ctx: Context,
    task: Stored,
    resource: dict[str, Any],
    team: Team,
    params: Params,
    actor: str | None,
) -> Stored:
    eligibility = parse_code(Eligibility, params.code("eligibility", required=True), param("eligibility"))
    _output(resource, "eligibility", valueCodeableConcept=concept(CS_ELIGIBILITY, eligibility))
    if eligibility is Eligibility.NOT_ELIGIBLE:
        reason = parse_code(DeclineReason, params.code("reason", required=True), param("reason"))
        if reason in PROHIBITED_DECLINE_REASONS:
            raise Unprocessable(
                f"{reason.value!r} cannot make someone ineligible: {PROHIBITED_DECLINE_REASONS[reason]}",
                param("reason"),
            )
        _output(resource, "eligibility-reason", valueCodeableConcept=concept(CS_DECLINE, reason))
    complexity = params.code("complexity")
    if complexity is not None:
        level = parse_code(Complexity, complexity, param("complexity"))
        _output(resource, "complexity", valueCodeableConcept=concept(CS_COMPLEXITY, level))
    screening = params.code("screening")
    if screening is not None:
        outcome = parse_code(Screening, screening, param("screening"))
        if outcome is Screening.SIGNPOSTED:
            destination = ctx.team(params.reference("destination", required=True), param("destination"))
            rules.check_destination(destination, team, param("destination"))
            _output(resource, "destination", valueReference=team_reference(destination))
        _output(resource, "screening", valueCodeableConcept=concept(CS_SCREENING, outcome))
    _move(resource, State.TRIAGE, actor, ctx)
    return await ctx.repo("Task").update(resource, task, ctx.now)


async def _accept(
    ctx: Context,
    task: Stored,
    resource: dict[str, Any],
    sr: Stored,
    team: Team,
    params: Params,
    actor: str | None,
) -> Stored:
    support = rules.WaitingSupport(
        support=params.reference("waitingSupport"),
        support_offered=params.string("supportOffered"),
        no_support_assessor=params.reference("noSupportAssessor"),
        no_support_rationale=params.string("noSupportRationale"),
        no_support_assessed_at=params.datetime("noSupportAssessedAt"),
    )
    supported = rules.check_waiting_support(support)
    status = SupportStatus.SUPPORTED if supported else SupportStatus.ASSESSED_NOT_NEEDED
    _output(resource, "waiting-support", valueCodeableConcept=concept(CS_SUPPORT, status))
    if supported:
        _output(resource, "waiting-support-by", valueReference={"reference": support.support})
        _output(resource, "waiting-support-offered", valueString=support.support_offered)
    else:
        _output(
            resource,
            "no-support-assessor",
            valueReference={"reference": support.no_support_assessor},
        )
        _output(resource, "no-support-rationale", valueString=support.no_support_rationale)
        assessed_at = support.no_support_assessed_at
        assert assessed_at is not None  # check_waiting_support required it
        _output(resource, "no-support-assessed-at", valueDateTime=instant(assessed_at))
    if team.type is ServiceType.PANEL:
        slot = await _allocate_panel_slot(ctx, team, task.id)
        set_extension(resource, EXT_PANEL_SLOT, valueDate=slot.isoformat())
        resource["restriction"] = {"period": {"start": slot.isoformat()}}
    _move(resource, State.ACCEPTED_WAITING, actor, ctx)
    updated = await ctx.repo("Task").update(resource, task, ctx.now, {"support_status": status.value})
    await close_escalations(ctx, task.id)
    referral = sr.resource()
    await _waiting_episode(ctx, referral, sr.id, team)
    await _tell_the_wait(ctx, referral, sr.id, team, support)
    await ctx.outbox.emit(
        "referral-accepted",
        ctx.now,
        focus=f"ServiceRequest/{sr.id}",
        task=f"Task/{task.id}",
        subject=referral["subject"].get("reference"),
        requester=referral["requester"].get("reference"),
        performer=f"HealthcareService/{team.id}",
        supportStatus=status.value,
    )
    return updated


async def _allocate_panel_slot(ctx: Context, team: Team, task_id: str) -> Any:
    """The next free monthly panel meeting (FR-23); the table's key settles concurrent accepts."""
    t = tables.panel_slot
    for _ in range(12):
        rows = (
            await ctx.session.execute(
                select(t.c.meeting, func.count()).where(t.c.service == team.id).group_by(t.c.meeting)
            )
        ).all()
        taken = {row[0]: int(row[1]) for row in rows}
        slot = rules.next_panel_slot(ctx.now.date(), taken, team.panel_capacity)
        try:
            async with ctx.session.begin_nested():
                await ctx.session.execute(
                    t.insert().values(service=team.id, meeting=slot, position=taken.get(slot, 0), task=task_id)
                )
            return slot
        except IntegrityError:
            continue
    raise Conflict("No panel slot could be allocated; try again")


async def _waiting_episode(ctx: Context, referral: dict[str, Any], sr_id: str, team: Team) -> None:
    """The receiving team's caseload episode, waiting (FR-8: alongside any other episodes)."""
    await new_episode(ctx, referral["subject"], team, "waitlist", referral_id=sr_id)


async def _expected_wait(ctx: Context, team: Team) -> int | None:
    t = tables.task
    since = ctx.now - timedelta(days=ctx.settings.expected_wait_lookback_days)
    rows = (
        await ctx.session.execute(
            select(t.c.clock_start, t.c.clock_stop)
            .where(t.c.owner == f"HealthcareService/{team.id}", t.c.clock_stop >= since)
            .order_by(t.c.clock_stop.desc())
            .limit(200)
        )
    ).all()
    waits = [(stop - start).days for start, stop in rows if start and stop]
    return expected_wait_days(waits, team.expected_wait_days, ctx.settings.expected_wait_minimum_sample)


async def waiting_well(ctx: Context, service: str | None) -> dict[str, Any]:
    """A service's current waiting-well information, from the one standard template (FR-16)."""
    if not service:
        raise RequiredMissing("Name the service: ?service=HealthcareService/<id>", "service")
    reference_ = service if service.startswith("HealthcareService/") else f"HealthcareService/{service}"
    team = ctx.team(reference_, "service")
    waiting_well_info = team.waiting_well
    assert waiting_well_info is not None, f"{team.id} has no waiting-well information"
    return parameters(
        ("service", "Reference", team_reference(team)),
        ("version", "String", waiting_well_info.version),
        ("text", "String", waiting_well_info.text),
        ("expectedWaitDays", "Integer", await _expected_wait(ctx, team)),
        *[("crisisContact", "String", contact) for contact in CRISIS_CONTACTS],
    )


async def _tell_the_wait(
    ctx: Context, referral: dict[str, Any], sr_id: str, team: Team, support: rules.WaitingSupport
) -> None:
    """One Communication telling the person their expected wait and how to wait well (FR-15, FR-16)."""
    expected = await _expected_wait(ctx, team)
    facts = await ctx.facts(ref(referral.get("subject")))
    waiting_well = team.waiting_well
    assert waiting_well is not None, f"{team.id} has no waiting-well information"
    lines = [
        f"You are on the waiting list of {team.name}.",
        f"Your expected wait is about {expected} days."
        if expected
        else "We will tell you your expected wait as soon as we can estimate it.",
        waiting_well.text,
    ]
    if support.support:
        lines.append(
            f"While you wait you are supported by {_describe(ctx, support.support)}: {support.support_offered}"
        )
    else:
        lines.append(
            "Your clinician has assessed that you do not need extra support while you wait; "
            "contact us at any time if that changes."
        )
    lines.append("If you are in crisis: " + "; ".join(CRISIS_CONTACTS))
    communication: dict[str, Any] = {
        "resourceType": "Communication",
        "status": "completed",
        "category": [concept(CS_COMMUNICATION, "waiting-time", "Expected waiting time and waiting well")],
        "subject": referral["subject"],
        "basedOn": [reference("ServiceRequest", sr_id)],
        "recipient": [referral["subject"]],
        "sender": team_reference(team),
        "sent": instant(ctx.now),
        "medium": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationMode",
                        "code": "WRITTEN",
                        "display": "written",
                    }
                ]
            }
        ],
        "payload": [{"contentString": line} for line in lines],
        "extension": [{"url": EXT_WAITING_WELL_VERSION, "valueString": waiting_well.version}],
    }
    if expected is not None:
        communication["extension"].append({"url": EXT_EXPECTED_WAIT, "valueInteger": expected})
    if facts.language or facts.communication_needs:
        # The letter is in English; the person's language and accessible-format needs travel
        # with it so the sending team arranges translation or another format (FR-15, FR-25).
        communication["note"] = [
            {
                "text": "Communication needs: "
                + "; ".join(
                    n
                    for n in (f"language {facts.language}" if facts.language else None, facts.communication_needs)
                    if n
                )
            }
        ]
    await ctx.repo("Communication").create(communication, new_id(), ctx.now)
    # A copy to each carer the person lets be told about their care (FR-15).
    for carer in await permitted_carers(ctx, ref(referral.get("subject")) or ""):
        copy = {
            **communication,
            "recipient": [{"reference": carer}],
            "payload": [
                {"contentString": "A copy for the person's carer, sent with their agreement."},
                *communication["payload"],
            ],
        }
        await ctx.repo("Communication").create(copy, new_id(), ctx.now)


def _describe(ctx: Context, reference_: str) -> str:
    """A reference in words a person reads (a named worker and their team, or the plan)."""
    kind, _, id_ = reference_.partition("/")
    if kind == "PractitionerRole" and id_ in ctx.directory.roles:
        role = ctx.directory.roles[id_]
        return f"{role.practitioner_name} ({ctx.directory.teams[role.team].name})"
    if kind == "CarePlan":
        return "your waiting-support plan"
    if kind == "EpisodeOfCare":
        return "the team that referred you"
    return reference_


async def _decline(
    ctx: Context,
    task: Stored,
    resource: dict[str, Any],
    sr: Stored,
    team: Team,
    params: Params,
    actor: str | None,
) -> Stored:
    reason = parse_code(DeclineReason, params.code("reason", required=True), param("reason"))
    next_step = params.code("nextStep")
    destination_ref = params.reference("destination")
    facts = await ctx.facts(ref(resource.get("for")))
    decline = rules.Decline(
        reason=reason,
        rationale=params.string("rationale"),
        assessment=params.reference("assessment"),
        next_step=parse_code(NextStep, next_step, param("nextStep")) if next_step else None,
        destination=ctx.team(destination_ref, param("destination")) if destination_ref else None,
        advice=params.string("advice"),
        commissioning_rule=params.string("commissioningRule"),
        injury_date=params.date("injuryDate"),
        mental_illness_onset=facts.mental_illness_onset,
    )
    outcome = rules.check_decline(decline, team)
    resource["statusReason"] = concept(CS_DECLINE, reason)
    _output(resource, "assessment", valueReference={"reference": decline.assessment})
    _output(resource, "rationale", valueString=decline.rationale)
    _output(resource, "next-step", valueCodeableConcept=concept(CS_NEXT_STEP, outcome.next_step))
    if decline.advice:
        _output(resource, "advice", valueString=decline.advice)
    if decline.destination and outcome.next_step is not NextStep.REDIRECT:
        _output(resource, "destination", valueReference=team_reference(decline.destination))
    referral = sr.resource()
    declined_event = {
        "focus": f"ServiceRequest/{sr.id}",
        "task": f"Task/{task.id}",
        "subject": referral["subject"].get("reference"),
        "requester": referral["requester"].get("reference"),
        "reason": reason.value,
        "nextStep": outcome.next_step.value,
    }
    if outcome.next_step is NextStep.REDIRECT:
        assert decline.destination is not None
        task_now = await ctx.repo("Task").update(resource, task, ctx.now)
        await ctx.outbox.emit("referral-declined", ctx.now, **declined_event)
        await redirect(ctx, task_now, sr, decline.destination, actor, f"declined ({reason.value}); redirected")
        return await ctx.repo("Task").read(task.id)
    _move(resource, outcome.state, actor, ctx)
    updated = await ctx.repo("Task").update(resource, task, ctx.now)
    referral["status"] = "revoked" if outcome.state is State.DECLINED else "completed"
    await ctx.repo("ServiceRequest").update(referral, sr, ctx.now)
    await close_escalations(ctx, task.id)
    if outcome.next_step is NextStep.ESCALATE:
        await escalate(ctx, updated, resource, team, "decline", decline.rationale)
    await ctx.outbox.emit("referral-declined", ctx.now, **declined_event)
    return updated


async def _finish(
    ctx: Context,
    task: Stored,
    resource: dict[str, Any],
    sr: Stored,
    state: State,
    sr_status: str,
    actor: str | None,
    note: str | None,
) -> Stored:
    if note:
        resource["note"] = [*resource.get("note", []), {"text": note, "time": instant(ctx.now)}]
    _move(resource, state, actor, ctx)
    updated = await ctx.repo("Task").update(resource, task, ctx.now)
    referral = sr.resource()
    referral["status"] = sr_status
    await ctx.repo("ServiceRequest").update(referral, sr, ctx.now)
    await close_escalations(ctx, task.id)
    # The episode the acceptance opened ends with the referral (cancelled while waiting, or finished).
    await settle_referral_episodes(ctx, sr.id, "cancelled" if state is State.CANCELLED else "finished")
    await ctx.outbox.emit(
        f"referral-{state.value}",
        ctx.now,
        focus=f"ServiceRequest/{sr.id}",
        task=f"Task/{task.id}",
        subject=referral["subject"].get("reference"),
        requester=referral["requester"].get("reference"),
        outputs=[o for o in resource.get("output", []) if o["type"]["coding"][0]["code"] == "recommendations"],
    )
    return updated


# ---------------------------------------------------------------- escalation (FR-5)


async def escalate(
    ctx: Context, task: Stored, resource: dict[str, Any], team: Team, level: str, reason: str | None
) -> Stored:
    """Create the escalation Task for a referral, once per level (a unique key makes it exactly once)."""
    lead = ctx.directory.escalation_lead(team)
    escalation: dict[str, Any] = {
        "resourceType": "Task",
        "status": "requested",
        "intent": "order",
        "priority": "urgent",
        "code": concept(CS_TASK, TaskCode.ESCALATION, "Unresolved acceptance decision"),
        "description": reason or f"Escalation ({level}) of a referral to {team.name}",
        "focus": reference("Task", task.id),
        "partOf": [reference("Task", task.id)],
        "for": resource.get("for"),
        "owner": reference("PractitionerRole", lead.id, lead.practitioner_name),
        "authoredOn": instant(ctx.now),
        "lastModified": instant(ctx.now),
        "input": [{"type": concept(CS_OUTPUT, "escalation-level"), "valueString": level}],
    }
    key = f"{task.id}:{level}"
    try:
        async with ctx.session.begin_nested():
            created = await ctx.repo("Task").create(escalation, new_id(), ctx.now, {"escalation_key": key})
    except IntegrityError:
        raise Conflict(
            f"Task/{task.id} is already escalated ({level})",
            "Task",
            issues=[Issue("duplicate", f"Task/{task.id} is already escalated ({level})", ("Task",))],
        ) from None
    sr_ref = ref(resource.get("focus"))
    await ctx.outbox.emit(
        "referral-escalated",
        ctx.now,
        task=f"Task/{task.id}",
        escalation=f"Task/{created.id}",
        focus=sr_ref,
        level=level,
        receivingTeam=f"HealthcareService/{team.id}",
        requester=ref(resource.get("requester")),
    )
    return created


async def close_escalations(ctx: Context, referral_task_id: str) -> None:
    """A decision completes every open escalation of the referral (FR-5)."""
    t = tables.task
    open_ones = await ctx.repo("Task").all_where(
        t.c.code == TaskCode.ESCALATION,
        t.c.focus == f"Task/{referral_task_id}",
        t.c.status.in_(OPEN_TASK_STATUSES),
    )
    for escalation in open_ones:
        resource = escalation.resource()
        resource["status"] = "completed"
        resource["lastModified"] = instant(ctx.now)
        await ctx.repo("Task").update(resource, escalation, ctx.now)
