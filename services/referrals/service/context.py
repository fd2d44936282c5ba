"""What every use case works with: the request's session, the time, settings and directory."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from reference.partnership import Directory, Role, Team
from services.kit.auth import Principal
from services.kit.clock import instant
from services.kit.errors import Unprocessable
from services.kit.fhir import reference, set_extension
from services.kit.outbox import Outbox
from services.kit.repository import ResourceRepository
from services.referrals.domain.codes import EXT_CHANGED_BY
from services.referrals.persistence import tables
from services.referrals.settings import Settings

SYSTEM = Principal("referrals", frozenset({"system/*.cruds"}))


@dataclass(frozen=True)
class PatientFacts:
    """What the referrals service keeps about a person from the gateway's Patient events."""

    id: str
    birth_date: date | None = None
    borough: str | None = None
    smi: bool = False
    high_risk: bool = False
    mental_illness_onset: date | None = None
    language: str | None = None
    interpreter: bool | None = None
    communication_needs: str | None = None


@dataclass
class Context:
    """One request's (or one sweep's) unit of work."""

    session: AsyncSession
    now: datetime
    settings: Settings
    directory: Directory
    principal: Principal = SYSTEM
    _repos: dict[str, ResourceRepository] = field(default_factory=dict)

    def repo(self, resource_type: str) -> ResourceRepository:
        """The repository of one of the service's resource types."""
        if resource_type not in self._repos:
            self._repos[resource_type] = ResourceRepository(self.session, tables.KINDS[resource_type], tables.history)
        return self._repos[resource_type]

    @property
    def outbox(self) -> Outbox:
        """The outbox, in this unit of work's transaction."""
        return Outbox(self.session, tables.outbox, "referrals")

    def team(self, reference: str | None, where: str) -> Team:
        """The HealthcareService a reference names, or 422 naming the element."""
        if not reference or not reference.startswith("HealthcareService/"):
            raise Unprocessable(f"{where} must reference a HealthcareService", where)
        team = self.directory.teams.get(reference.removeprefix("HealthcareService/"))
        if team is None:
            raise Unprocessable(f"{reference} is not a service in the directory", where)
        return team

    def role(self, reference: str | None, where: str) -> Role:
        """The PractitionerRole a reference names, or 422 naming the element."""
        if not reference or not reference.startswith("PractitionerRole/"):
            raise Unprocessable(f"{where} must reference a PractitionerRole", where)
        role = self.directory.roles.get(reference.removeprefix("PractitionerRole/"))
        if role is None:
            raise Unprocessable(f"{reference} is not a PractitionerRole in the directory", where)
        return role

    async def facts(self, patient_reference: str | None) -> PatientFacts:
        """The facts known about a patient (defaults when none have arrived yet)."""
        patient_id = (patient_reference or "").removeprefix("Patient/")
        t = tables.patient_facts
        row = (await self.session.execute(select(t).where(t.c.id == patient_id))).first()
        if row is None:
            return PatientFacts(id=patient_id)
        return PatientFacts(
            id=row.id,
            birth_date=row.birth_date,
            borough=row.borough,
            smi=row.smi,
            high_risk=row.high_risk,
            mental_illness_onset=row.mental_illness_onset,
            language=row.language,
            interpreter=row.interpreter,
            communication_needs=row.communication_needs,
        )


def new_id() -> str:
    """A new resource id."""
    return str(uuid.uuid4())


def team_reference(team: Team) -> dict[str, Any]:
    """A Reference to a team's HealthcareService."""
    return reference("HealthcareService", team.id, team.name)


def stamp_actor(resource: dict[str, Any], actor: str | None, now: datetime) -> None:
    """Record who made a change and when (FR-4: every state change has actor and time)."""
    resource["lastModified"] = instant(now)
    if actor:
        set_extension(resource, EXT_CHANGED_BY, valueReference={"reference": actor})
