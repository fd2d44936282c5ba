"""Object-level authorisation for clinicians (FR-79): a clinician works on the cases of their own team.

System clients (partner EPRs, other services) are limited by their scopes alone. A token naming a
clinician (a PractitionerRole in `fhirUser`) may act on, read and search a transition case only
when their team is the case's sending CYPMHS team or the borough's Transitions team.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import ColumnElement, or_, select

from reference.partnership import ServiceType, Team
from services.kit.errors import Forbidden
from services.kit.fhir import extension, ref
from services.kit.repository import Stored
from services.transitions.domain.codes import EXT_CASE, TaskCode
from services.transitions.persistence import tables
from services.transitions.service.case import Case, load_case
from services.transitions.service.context import Context


def acting_team(ctx: Context) -> Team | None:
    """The team of the clinician behind the request (None for system clients)."""
    user = ctx.principal.fhir_user
    if not user:
        return None
    role = ctx.directory.roles.get(user.removeprefix("PractitionerRole/"))
    if role is None:
        raise Forbidden(f"{user} is not a PractitionerRole in the directory", "Authorization")
    return ctx.directory.teams[role.team]


def _teams_of(case: Case) -> set[str]:
    return {case.sending_service.removeprefix("HealthcareService/"), f"{case.borough}-transitions"}


async def check_case(ctx: Context, case: Case) -> None:
    """403 unless a clinician's team is the case's sending CYPMHS team or the borough's Transitions team."""
    team = acting_team(ctx)
    if team is not None and team.id not in _teams_of(case):
        raise Forbidden(f"{team.name} does not work on this transition case", "Task.owner")


def check_opening(ctx: Context, sending: Team) -> None:
    """A clinician opens cases for their own CYPMHS team's young people (or their borough's Transitions team)."""
    team = acting_team(ctx)
    if team is not None and team.id not in (sending.id, f"{sending.borough}-transitions"):
        raise Forbidden(f"{team.name} cannot open a transition case for {sending.name}'s caseload", "Authorization")


def _case_of(stored: Stored) -> str | None:
    resource = stored.resource()
    if resource.get("resourceType") == "Task":
        part_of = ref((resource.get("partOf") or [None])[0])
        return part_of or f"Task/{stored.id}"
    return ref((extension(resource, EXT_CASE) or {}).get("valueReference"))


async def may_read(ctx: Context, stored: Stored) -> None:
    """403 when a clinician's team does not work on the case the resource belongs to."""
    if acting_team(ctx) is None:
        return
    case_ref = _case_of(stored)
    if not case_ref:
        raise Forbidden("This resource belongs to no transition case your team works on", "Authorization")
    await check_case(ctx, await load_case(ctx, case_ref.removeprefix("Task/"), None))


async def may_search(ctx: Context, query: list[tuple[str, str]]) -> None:
    """A clinician's search names their own team (owner) or a person whose case their team works on."""
    team = acting_team(ctx)
    if team is None:
        return
    values = dict(query)
    own = {f"HealthcareService/{team.id}", team.id}
    if values.get("owner") in own:
        return
    for name in ("subject", "patient"):
        if name in values:
            patient = values[name] if "/" in values[name] else f"Patient/{values[name]}"
            t = tables.task
            teams = [f"HealthcareService/{team.id}"]
            works_on: list[ColumnElement[bool]] = [
                t.c.owner.in_(teams),
                t.c.requester.like(f"PractitionerRole/{team.id}-%"),
            ]
            if team.type is ServiceType.TRANSITIONS:  # the borough's Transitions team works on all its cases
                works_on.append(t.c.borough == str(team.borough))
            found = (
                await ctx.session.execute(
                    select(t.c.id).where(t.c.code == TaskCode.CASE, t.c.subject == patient, or_(*works_on))
                )
            ).first()
            if found is not None:
                return
            raise Forbidden("Your team works on no transition case of this person", name)
    raise Forbidden("A clinician's search names their own team (owner) or a person (subject/patient)", "Authorization")


def check_worklist(ctx: Context, query: Mapping[str, Any]) -> None:
    """A clinician's worklist is their own CYPMHS team's, or their own borough's (Transitions team)."""
    team = acting_team(ctx)
    if team is None:
        return
    service = str(query.get("service", "")).removeprefix("HealthcareService/")
    if team.type is ServiceType.CYPMHS and service == team.id:
        return
    if team.type is ServiceType.TRANSITIONS and query.get("borough") == str(team.borough):
        return
    raise Forbidden(
        "A clinician's worklist is their own team's: service=<your CYPMHS team>, or borough=<your borough> "
        "for a Transitions team",
        "Authorization",
    )
