"""Contacts, care-plan events and the waiting clock (FR-12 to FR-14, FR-21, FR-28, FR-50)."""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from reference.partnership import Team
from services.kit.clock import instant, parse_instant
from services.kit.errors import BadRequest, Unprocessable
from services.kit.fhir import extension, ref, set_extension
from services.kit.outbox import first_delivery
from services.kit.parameters import parameters
from services.kit.repository import Stored
from services.referrals.domain import waiting
from services.referrals.domain.codes import (
    CS_CONTACT,
    CS_MODE,
    EXT_CHANGED_BY,
    EXT_SPELL,
    SEEN_MODES,
    ContactMode,
    ContactPurpose,
    State,
    TaskCode,
    parse_code,
)
from services.referrals.domain.lifecycle import Verb, allowed
from services.referrals.domain.waiting import Milestone
from services.referrals.persistence import tables
from services.referrals.service import access
from services.referrals.service.context import Context, new_id
from services.referrals.service.episodes import activate_waiting_episode
from services.referrals.service.referrals import _move, state_of

log = logging.getLogger("continuum.referrals.clock")

_PURPOSE_MILESTONE = {
    ContactPurpose.ASSESSMENT: Milestone.ASSESSED,
    ContactPurpose.CLINICAL_INTERVENTION: Milestone.CLINICAL_INTERVENTION,
    ContactPurpose.SOCIAL_INTERVENTION: Milestone.SOCIAL_INTERVENTION,
}
_EVENT_MILESTONE = {
    "baseline-outcome-recorded": Milestone.BASELINE_OUTCOME,
    "coproduced-careplan-completed": Milestone.CAREPLAN_COMPLETED,
    "intervention-started": Milestone.INTERVENTION,
}
_ENCOUNTER_STATUSES = frozenset({"planned", "arrived", "triaged", "in-progress", "onleave", "finished", "cancelled"})


def _codes(concepts: list[dict[str, Any]] | None, system: str) -> list[str]:
    return [c["code"] for concept in concepts or [] for c in concept.get("coding") or [] if c.get("system") == system]


def milestones(encounter: dict[str, Any]) -> list[Milestone]:
    """What a finished contact contributes to the clock (a seen mode counts as being seen)."""
    if encounter.get("status") != "finished":
        return []
    modes = [parse_code(ContactMode, c, "Encounter.type") for c in _codes(encounter.get("type"), CS_MODE)]
    purposes = [parse_code(ContactPurpose, c, "Encounter.type") for c in _codes(encounter.get("type"), CS_CONTACT)]
    found = [Milestone.SEEN] if any(m in SEEN_MODES for m in modes) else []
    found += [_PURPOSE_MILESTONE[p] for p in purposes if p in _PURPOSE_MILESTONE]
    return found


async def _referral(ctx: Context, encounter: dict[str, Any]) -> Stored:
    based_on = ref((encounter.get("basedOn") or [None])[0])
    if not based_on or not based_on.startswith("ServiceRequest/"):
        raise Unprocessable(
            "A contact is recorded against its referral (basedOn a ServiceRequest)",
            "Encounter.basedOn",
        )
    referral = await ctx.repo("ServiceRequest").find(based_on.removeprefix("ServiceRequest/"))
    if referral is None:
        raise Unprocessable(f"{based_on} is not a known referral", "Encounter.basedOn")
    if ref(referral.resource().get("subject")) != ref(encounter.get("subject")):
        raise Unprocessable("A contact's subject is the referral's subject", "Encounter.subject")
    return referral


def _check(encounter: dict[str, Any]) -> None:
    if encounter.get("status") not in _ENCOUNTER_STATUSES:
        raise Unprocessable("A contact's status is planned, in-progress, finished or cancelled", "Encounter.status")
    for code in _codes(encounter.get("type"), CS_MODE):
        parse_code(ContactMode, code, "Encounter.type")
    for code in _codes(encounter.get("type"), CS_CONTACT):
        parse_code(ContactPurpose, code, "Encounter.type")
    if encounter.get("status") == "finished":
        if not _codes(encounter.get("type"), CS_MODE):
            raise Unprocessable(
                f"A finished contact says how the person was seen (a type coding from {CS_MODE})",
                "Encounter.type",
            )
        if not (encounter.get("period") or {}).get("start"):
            raise Unprocessable("A finished contact has period.start", "Encounter.period.start")


def spell_of(referral: dict[str, Any]) -> str:
    """The spell (redirect chain) a referral belongs to."""
    spell: str = (extension(referral, EXT_SPELL) or {}).get("valueString") or referral["id"]
    return spell


async def record_contact(ctx: Context, encounter: dict[str, Any]) -> Stored:
    """Record a contact against a referral; a finished one may stop the clock."""
    _check(encounter)
    referral = await _referral(ctx, encounter)
    await access.may_read(ctx, referral)
    stored = await ctx.repo("Encounter").create(encounter, new_id(), ctx.now)
    await _contact_milestones(ctx, stored.id, encounter, referral.resource())
    return stored


async def update_contact(ctx: Context, current: Stored, encounter: dict[str, Any]) -> Stored:
    """Update a contact; a cancelled or moved appointment notifies the person (FR-28)."""
    _check(encounter)
    await access.may_read(ctx, current)
    before = current.resource()
    if before.get("status") == "finished" and encounter.get("status") != "finished":
        raise Unprocessable("A finished contact stays finished", "Encounter.status")
    referral = await _referral(ctx, encounter)
    if ref((before.get("basedOn") or [None])[0]) != ref((encounter.get("basedOn") or [None])[0]):
        raise Unprocessable("A contact stays with its referral", "Encounter.basedOn")
    updated = await ctx.repo("Encounter").update(encounter, current, ctx.now)
    if before.get("status") == "planned":
        change = None
        if encounter.get("status") == "cancelled":
            change = "appointment-cancelled"
        elif encounter.get("status") == "planned" and before.get("period") != encounter.get("period"):
            change = "appointment-changed"
        if change:
            await ctx.outbox.emit(
                change,
                ctx.now,
                encounter=f"Encounter/{current.id}",
                subject=ref(encounter.get("subject")),
                recipient=[ref(encounter.get("subject"))],
                period=encounter.get("period"),
                basedOn=ref((encounter.get("basedOn") or [None])[0]),
            )
    await _contact_milestones(ctx, current.id, encounter, referral.resource())
    return updated


async def _contact_milestones(
    ctx: Context, encounter_id: str, encounter: dict[str, Any], referral: dict[str, Any]
) -> None:
    found = milestones(encounter)
    if not found:
        return
    at = parse_instant(encounter["period"]["start"])
    spell = spell_of(referral)
    for milestone in found:
        await _add_event(
            ctx,
            f"Encounter/{encounter_id}:{milestone.value}",
            spell,
            milestone,
            at,
            f"Encounter/{encounter_id}",
        )
    await evaluate_clock(ctx, spell)


async def _add_event(ctx: Context, event_id: str, spell: str, milestone: Milestone, at: Any, source: str) -> None:
    t = tables.clock_event
    exists = (await ctx.session.execute(select(t.c.id).where(t.c.id == event_id))).first()
    if exists:
        return
    try:
        async with ctx.session.begin_nested():
            await ctx.session.execute(
                t.insert().values(id=event_id, spell=spell, milestone=milestone.value, at=at, source=source)
            )
    except IntegrityError:
        return


async def spell_events(ctx: Context, spell: str) -> list[waiting.Event]:
    """Every milestone recorded for a spell."""
    t = tables.clock_event
    rows = (await ctx.session.execute(select(t.c.milestone, t.c.at).where(t.c.spell == spell))).all()
    return [waiting.Event(Milestone(m), at) for m, at in rows]


async def _current_referral_task(ctx: Context, spell: str) -> Stored | None:
    sr, task = tables.service_request, tables.task
    rows = await ctx.repo("Task").all_where(
        task.c.code == TaskCode.REFERRAL,
        task.c.focus.in_(select("ServiceRequest/" + sr.c.id).where(sr.c.spell == spell)),
        task.c.status.in_(("requested", "received", "accepted")),
    )
    return rows[0] if rows else None


async def evaluate_clock(ctx: Context, spell: str) -> None:
    """If the clock has stopped, the referral currently open in the spell moves to `started`."""
    stop = waiting.clock_stop(await spell_events(ctx, spell))
    if stop is None:
        return
    task = await _current_referral_task(ctx, spell)
    if task is None:
        return
    resource = task.resource()
    if not allowed(Verb.START, state_of(resource)):
        return
    _move(resource, State.STARTED, None, ctx)
    set_extension(resource, EXT_CHANGED_BY, valueReference={"display": "Continuum (the waiting clock stopped)"})
    await ctx.repo("Task").update(resource, task, ctx.now, {"clock_stop": stop})
    focus = ref(resource.get("focus")) or ""
    await activate_waiting_episode(ctx, focus.removeprefix("ServiceRequest/"))
    await ctx.outbox.emit(
        "referral-started",
        ctx.now,
        task=f"Task/{task.id}",
        focus=focus,
        subject=ref(resource.get("for")),
        clockStop=instant(stop),
    )


async def apply_event(ctx: Context, event: dict[str, Any]) -> bool:
    """Apply an event from another service (delivered by the gateway). False if already applied."""
    event_id, event_type = event.get("id"), event.get("type")
    if not isinstance(event_id, str) or not isinstance(event_type, str):
        raise BadRequest("An event has a string id and type", "id")
    if event_type == "patient-upserted":
        from services.referrals.service.patients import upsert_patient

        if not await first_delivery(ctx.session, tables.inbox, event_id, event_type, ctx.now):
            return False
        await upsert_patient(ctx, event)
        return True
    if event_type == "carer-sharing-changed":
        from services.referrals.service.patients import record_carer_sharing

        if not await first_delivery(ctx.session, tables.inbox, event_id, event_type, ctx.now):
            return False
        await record_carer_sharing(ctx, event)
        return True
    milestone = _EVENT_MILESTONE.get(event_type)
    if milestone is None:
        raise BadRequest(f"Event type {event_type!r} is not one the referrals service consumes", "type")
    subject = event.get("subject")
    occurred = event.get("occurred") or event.get("time")
    if not isinstance(subject, str) or not subject.startswith("Patient/") or not isinstance(occurred, str):
        raise BadRequest("A care-plan event names its subject (Patient/...) and when it occurred", "subject")
    try:
        at = parse_instant(occurred)
    except ValueError:
        raise BadRequest("occurred is not a dateTime", "occurred") from None
    if not await first_delivery(ctx.session, tables.inbox, event_id, event_type, ctx.now):
        return False
    spells = await _spells_for(ctx, subject, event.get("basedOn"))
    for spell in spells:
        await _add_event(ctx, f"{event_id}:{spell}", spell, milestone, at, event_id)
        await evaluate_clock(ctx, spell)
    return True


async def _spells_for(ctx: Context, subject: str, based_on: object) -> list[str]:
    """The spells an event applies to: its referral's, or every open spell of the person."""
    if isinstance(based_on, str) and based_on.startswith("ServiceRequest/"):
        referral = await ctx.repo("ServiceRequest").find(based_on.removeprefix("ServiceRequest/"))
        # An event about an unknown referral, or about someone else than the referral's subject,
        # moves no clock: one person's care never stops another person's wait. It is acknowledged
        # (not refused) so that the sender does not redeliver it forever.
        if referral is None or ref(referral.resource().get("subject")) != subject:
            log.warning("event for %s about %s ignored: not that person's referral", based_on, subject)
            return []
        return [spell_of(referral.resource())]
    sr, task = tables.service_request, tables.task
    rows = (
        await ctx.session.execute(
            select(sr.c.spell)
            .join(task, task.c.focus == ("ServiceRequest/" + sr.c.id))
            .where(
                sr.c.subject == subject,
                task.c.code == TaskCode.REFERRAL,
                task.c.status.in_(("requested", "received", "accepted")),
            )
            .distinct()
        )
    ).scalars()
    return list(rows)


async def waiting_time(ctx: Context, referral: Stored) -> dict[str, Any]:
    """The `$waiting-time` of a referral: its clock, breach and contact proxies (FR-12 to FR-14, FR-21)."""
    resource = referral.resource()
    spell = spell_of(resource)
    sr = tables.service_request
    start = (await ctx.session.execute(select(func.min(sr.c.received_at)).where(sr.c.spell == spell))).scalar_one()
    events = await spell_events(ctx, spell)
    contacts = [e.at for e in events if e.milestone is Milestone.SEEN]
    team: Team = ctx.team(ref((resource.get("performer") or [None])[0]), "ServiceRequest.performer[0]")
    result = waiting.wait(start, events, contacts, ctx.now, team.wait_target_days or 28)
    conditions = waiting.condition_times(events)
    entries: list[tuple[str, str, Any]] = [
        ("referral", "Reference", {"reference": f"ServiceRequest/{referral.id}"}),
        ("clockStart", "DateTime", instant(result.clock_start)),
        ("clockStop", "DateTime", instant(result.clock_stop) if result.clock_stop else None),
        ("daysWaiting", "Integer", result.days_waiting),
        ("targetDays", "Integer", result.target_days),
        ("breach", "Boolean", result.breach),
        (
            "firstContact",
            "DateTime",
            instant(result.first_contact) if result.first_contact else None,
        ),
        (
            "secondContact",
            "DateTime",
            instant(result.second_contact) if result.second_contact else None,
        ),
        ("daysToFirstContact", "Integer", result.days_to_first_contact),
        ("daysToSecondContact", "Integer", result.days_to_second_contact),
    ]
    for name, met in conditions.items():
        entries.append(
            (
                "condition",
                "part",
                [
                    {"name": "name", "valueCode": name},
                    {"name": "met", "valueBoolean": met is not None},
                    *([{"name": "at", "valueDateTime": instant(met)}] if met else []),
                ],
            )
        )
    priority = resource.get("priority")
    hours = team.response_target_hours.get(priority) if priority else None
    if hours is not None:
        met_target = waiting.response_target_met(result.clock_start, result.first_contact, ctx.now, hours)
        entries.append(("responseTargetHours", "Decimal", hours))
        entries.append(("responseTargetMet", "Boolean", met_target))
    return parameters(*entries)


def age_band_of(birth: date | None, on: date) -> str | None:
    """The person's age band at a date, when their birth date is known."""
    return waiting.age_band(birth, on) if birth else None
