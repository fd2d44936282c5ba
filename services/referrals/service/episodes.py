"""Caseloads: EpisodeOfCare per team, several at once (FR-8), closed only by `$close` (FR-9, FR-29)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from reference.partnership import Team
from services.kit.clock import instant
from services.kit.errors import Conflict, Forbidden, PreconditionFailed, RequiredMissing, Unprocessable
from services.kit.fhir import concept, extension, ref, reference, set_extension
from services.kit.parameters import Params
from services.kit.repository import Stored
from services.referrals.domain import rules
from services.referrals.domain.codes import (
    CS_CLOSURE,
    EXT_HEALTHCARE_SERVICE,
    EXT_OVERRIDE,
    ClosureReason,
    State,
    TaskCode,
    parse_code,
)
from services.referrals.domain.rules import param
from services.referrals.persistence import tables
from services.referrals.service import access
from services.referrals.service.context import Context, new_id, team_reference

_STATUSES = ("planned", "waitlist", "active", "onhold")
EXT_CLOSE_REASON = "https://continuum.example.org/fhir/StructureDefinition/episode-close-reason"


async def new_episode(
    ctx: Context, patient: dict[str, Any], team: Team, status: str, referral_id: str | None = None
) -> Stored:
    """Open an episode of care at a team."""
    episode: dict[str, Any] = {
        "resourceType": "EpisodeOfCare",
        "status": status,
        "patient": patient,
        "managingOrganization": reference("Organization", team.organization),
        "period": {"start": instant(ctx.now)},
        "extension": [{"url": EXT_HEALTHCARE_SERVICE, "valueReference": team_reference(team)}],
    }
    if referral_id:
        episode["referralRequest"] = [reference("ServiceRequest", referral_id)]
    return await ctx.repo("EpisodeOfCare").create(episode, new_id(), ctx.now)


async def create_episode(ctx: Context, resource: dict[str, Any]) -> Stored:
    """Create an episode from a client's resource (a team's existing caseload)."""
    patient = ref(resource.get("patient"))
    if not patient or not patient.startswith("Patient/"):
        raise Unprocessable("An episode's patient is a Patient", "EpisodeOfCare.patient")
    team_ext = extension(resource, EXT_HEALTHCARE_SERVICE)
    if team_ext is None:
        raise RequiredMissing(
            f"An episode names its team in the extension {EXT_HEALTHCARE_SERVICE}",
            "EpisodeOfCare.extension('episode-healthcare-service')",
        )
    team = ctx.team(ref(team_ext.get("valueReference")), "EpisodeOfCare.extension('episode-healthcare-service')")
    if resource.get("status") not in _STATUSES:
        raise Unprocessable(
            "A new episode is planned, waitlist, active or onhold; it is finished only by $close",
            "EpisodeOfCare.status",
        )
    acting = access.acting_team(ctx)
    # A clinician cannot give their team a relationship with a stranger (and so access to their records).
    if acting is not None and (acting.id != team.id or not await access.related(ctx, patient)):
        raise Forbidden(
            "A clinician opens an episode only at their own team, for a person their team already knows",
            "EpisodeOfCare",
        )
    resource.setdefault("managingOrganization", reference("Organization", team.organization))
    resource.setdefault("period", {"start": instant(ctx.now)})
    return await ctx.repo("EpisodeOfCare").create(resource, new_id(), ctx.now)


async def _pending_outgoing(ctx: Context, patient: str, team: Team) -> list[rules.PendingReferral]:
    sr, task = tables.service_request, tables.task
    rows = (
        await ctx.session.execute(
            select(sr.c.performer, task.c.business_status)
            .join(task, task.c.focus == ("ServiceRequest/" + sr.c.id))
            .where(
                sr.c.subject == patient,
                sr.c.requester_team == f"HealthcareService/{team.id}",
                task.c.code == TaskCode.REFERRAL,
            )
        )
    ).all()
    pending = []
    for performer, business_status in rows:
        receiver = ctx.directory.teams.get((performer or "").removeprefix("HealthcareService/"))
        if receiver is not None and business_status:
            pending.append(rules.PendingReferral(receiver, State(business_status)))
    return pending


async def close_episode(ctx: Context, episode_id: str, params: Params, expected_version: int) -> Stored:
    """Finish an episode, keeping FR-9 (core support while an intensive referral is pending) and FR-29."""
    stored = await ctx.repo("EpisodeOfCare").read(episode_id)
    if stored.version_id != expected_version:
        raise PreconditionFailed(
            f'If-Match W/"{expected_version}" does not match the current version W/"{stored.version_id}"',
            "If-Match",
        )
    episode = stored.resource()
    if episode.get("status") in ("finished", "cancelled", "entered-in-error"):
        raise Conflict(f"EpisodeOfCare/{episode_id} is already {episode['status']}", "EpisodeOfCare.status")
    team = ctx.team(
        ref((extension(episode, EXT_HEALTHCARE_SERVICE) or {}).get("valueReference")),
        "EpisodeOfCare.extension('episode-healthcare-service')",
    )
    acting = access.acting_team(ctx)
    if acting is not None and acting.id != team.id:
        raise Forbidden(f"{acting.name} cannot close another team's episode", "EpisodeOfCare")
    reason = parse_code(ClosureReason, params.code("reason", required=True), param("reason"))
    patient = ref(episode.get("patient")) or ""
    facts = await ctx.facts(patient)
    rules.check_closure(
        rules.Closure(
            reason,
            facts.smi,
            params.string("followUpAttempt"),
            params.reference("clinicianDecision"),
        )
    )
    override = None
    if "overrideRationale" in params or "overrideClinician" in params:
        override = rules.Override(params.string("overrideRationale"), params.reference("overrideClinician"))
    overridden = rules.check_episode_close(team, await _pending_outgoing(ctx, patient, team), override)
    episode["status"] = "finished"
    episode.setdefault("period", {})["end"] = instant(ctx.now)
    set_extension(episode, EXT_CLOSE_REASON, valueCodeableConcept=concept(CS_CLOSURE, reason))
    if overridden:
        assert override is not None
        set_extension(
            episode,
            EXT_OVERRIDE,
            extension=[
                {"url": "rationale", "valueString": override.rationale},
                {"url": "clinician", "valueReference": {"reference": override.clinician}},
                {"url": "recorded", "valueDateTime": instant(ctx.now)},
            ],
        )
    updated = await ctx.repo("EpisodeOfCare").update(episode, stored, ctx.now)
    await ctx.outbox.emit(
        "episode-finished",
        ctx.now,
        episode=f"EpisodeOfCare/{episode_id}",
        patient=patient,
        team=f"HealthcareService/{team.id}",
        reason=reason.value,
        overridden=overridden,
    )
    return updated


async def activate_waiting_episode(ctx: Context, referral_id: str) -> None:
    """When care starts, the waiting episode the referral opened becomes active."""
    t = tables.episode_of_care
    for stored in await ctx.repo("EpisodeOfCare").all_where(
        t.c.referral == f"ServiceRequest/{referral_id}", t.c.status == "waitlist"
    ):
        episode = stored.resource()
        episode["status"] = "active"
        await ctx.repo("EpisodeOfCare").update(episode, stored, ctx.now)


async def settle_referral_episodes(ctx: Context, referral_id: str, status: str) -> None:
    """End the episodes a referral opened when the referral itself ends (cancelled or finished)."""
    t = tables.episode_of_care
    for stored in await ctx.repo("EpisodeOfCare").all_where(
        t.c.referral == f"ServiceRequest/{referral_id}", t.c.status.in_(("waitlist", "active", "planned"))
    ):
        episode = stored.resource()
        if status == "finished" or episode["status"] != "active":
            episode["status"] = status
            episode.setdefault("period", {})["end"] = instant(ctx.now)
            await ctx.repo("EpisodeOfCare").update(episode, stored, ctx.now)


async def responsible_team(ctx: Context, patient: str) -> Team | None:
    """The team holding the person's most recent active episode, if any (FR-27)."""
    t = tables.episode_of_care
    row = (
        await ctx.session.execute(
            select(t.c.team)
            .where(t.c.patient == patient, t.c.status == "active")
            .order_by(t.c.period_start.desc())
            .limit(1)
        )
    ).first()
    if row is None:
        return None
    return ctx.directory.teams.get(row.team.removeprefix("HealthcareService/"))
