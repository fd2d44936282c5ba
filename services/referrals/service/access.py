"""Object-level authorisation for clinicians (FR-79): a clinician acts for their own team.

System clients (partner EPRs, other services) are limited by their scopes alone. A token with
a `fhirUser` (a clinician's PractitionerRole) may act on a referral Task only for the team that
owns it (or, to cancel, the team that sent it), may refer only as themselves, and may see a
person's records only when their team has a relationship with that person: an episode of care,
or a referral to or from the team.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select

from reference.partnership import Team
from services.kit.errors import Forbidden
from services.kit.fhir import ref
from services.kit.repository import Stored
from services.referrals.domain.lifecycle import Verb
from services.referrals.persistence import tables
from services.referrals.service.context import Context


def acting_team(ctx: Context) -> Team | None:
    """The team of the clinician behind the request (None for system clients)."""
    user = ctx.principal.fhir_user
    if not user:
        return None
    role = ctx.directory.roles.get(user.removeprefix("PractitionerRole/"))
    if role is None:
        raise Forbidden(f"{user} is not a PractitionerRole in the directory", "Authorization")
    return ctx.directory.teams[role.team]


def _team_of_role(ctx: Context, reference: str | None) -> str | None:
    role = ctx.directory.roles.get((reference or "").removeprefix("PractitionerRole/"))
    return role.team if role else None


def check_decision(ctx: Context, task: dict[str, Any], verb: Verb) -> None:
    """A clinician decides only on their own team's referrals; the sending team may cancel."""
    team = acting_team(ctx)
    if team is None:
        return
    owner = (ref(task.get("owner")) or "").removeprefix("HealthcareService/")
    sender = _team_of_role(ctx, ref(task.get("requester")))
    allowed = {sender} if verb is Verb.CANCEL else {owner}
    if team.id not in allowed:
        raise Forbidden(f"{team.name} cannot {verb.value} a referral owned by another team", "Task.owner")


def check_requester(ctx: Context, referral: dict[str, Any]) -> None:
    """A clinician refers as themselves: the responsible worker is the requester (FR-3)."""
    user = ctx.principal.fhir_user
    if user and ref(referral.get("requester")) != user:
        raise Forbidden("A clinician can only raise a referral as its requester", "ServiceRequest.requester")


async def related(ctx: Context, patient: str | None) -> bool:
    """Whether the acting clinician's team has a relationship with the person."""
    team = acting_team(ctx)
    if team is None:
        return True
    if not patient:
        return False
    service = f"HealthcareService/{team.id}"
    e, sr = tables.episode_of_care, tables.service_request
    episode = (
        await ctx.session.execute(select(e.c.id).where(e.c.patient == patient, e.c.team == service).limit(1))
    ).first()
    if episode:
        return True
    referral = (
        await ctx.session.execute(
            select(sr.c.id)
            .where(sr.c.subject == patient, or_(sr.c.performer == service, sr.c.requester_team == service))
            .limit(1)
        )
    ).first()
    return referral is not None


def _patient_of(resource: dict[str, Any]) -> str | None:
    for key in ("subject", "for", "patient"):
        found = ref(resource.get(key))
        if found and found.startswith("Patient/"):
            return found
    return None


async def may_read(ctx: Context, stored: Stored) -> None:
    """403 when a clinician's team has no relationship with the person the resource is about."""
    if ctx.principal.fhir_user and not await related(ctx, _patient_of(stored.resource())):
        raise Forbidden("Your team has no relationship with this person", "Authorization")


async def may_search(ctx: Context, query: list[tuple[str, str]]) -> None:
    """A clinician's search names a person their team knows, or their own team."""
    team = acting_team(ctx)
    if team is None:
        return
    values = dict(query)
    for name in ("subject", "patient"):
        if name in values:
            patient = values[name] if "/" in values[name] else f"Patient/{values[name]}"
            if await related(ctx, patient):
                return
            raise Forbidden("Your team has no relationship with this person", name)
    own = {f"HealthcareService/{team.id}", team.id}
    if any(values.get(name) in own for name in ("owner", "performer", "team")):
        return
    raise Forbidden(
        "A clinician's search names a person (subject/patient) or their own team (owner/performer/team)",
        "Authorization",
    )
