"""What every use case works with: the request's session, the time, settings, directory and gateway."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from reference.partnership import Directory, Role, ServiceType, Team
from services.kit.auth import Principal
from services.kit.errors import Unprocessable
from services.kit.fhir import reference
from services.kit.outbox import Outbox
from services.kit.repository import ResourceRepository
from services.transitions.clients.gateway import GatewayClient
from services.transitions.domain.dates import Thresholds
from services.transitions.persistence import tables
from services.transitions.settings import Settings

SYSTEM = Principal("transitions", frozenset({"system/*.cruds"}))


@dataclass
class Context:
    """One request's unit of work."""

    session: AsyncSession
    now: datetime
    settings: Settings
    directory: Directory
    gateway: GatewayClient
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
        return Outbox(self.session, tables.outbox, "transitions")

    @property
    def today(self) -> date:
        """Today's date where the service runs (deadlines are calendar dates in England)."""
        return self.now.astimezone(ZoneInfo(self.settings.timezone)).date()

    @property
    def thresholds(self) -> Thresholds:
        """The configured age thresholds."""
        return self.settings.thresholds

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

    def transitions_team(self, borough: str | None) -> Team:
        """The borough's Transitions team (Q-TR-26: one per borough)."""
        team = self.directory.teams.get(f"{borough}-transitions")
        if team is None or team.type is not ServiceType.TRANSITIONS:
            raise Unprocessable(f"There is no Transitions team for borough {borough!r}", "Task.input")
        return team


def new_id() -> str:
    """A new resource id."""
    return str(uuid.uuid4())


def team_reference(team: Team) -> dict[str, Any]:
    """A Reference to a team's HealthcareService."""
    return reference("HealthcareService", team.id, team.name)


def role_reference(role: Role) -> dict[str, Any]:
    """A Reference to a worker's PractitionerRole."""
    return reference("PractitionerRole", role.id, role.practitioner_name)
