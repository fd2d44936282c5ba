"""What every use case works with: the request's session, the time, settings and directory."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from reference.partnership import Directory
from services.careplans.domain.access import Worker
from services.careplans.domain.codes import Scale
from services.careplans.persistence import tables
from services.careplans.settings import Settings
from services.kit.auth import Principal
from services.kit.outbox import Outbox
from services.kit.repository import ResourceRepository, Stored
from services.kit.resources import validate

SYSTEM = Principal("careplans", frozenset({"system/*.cruds"}))


@dataclass
class Context:
    """One request's unit of work."""

    session: AsyncSession
    now: datetime
    settings: Settings
    directory: Directory
    principal: Principal = SYSTEM
    reader_header: str | None = None
    _repos: dict[str, ResourceRepository] = field(default_factory=dict)

    def repo(self, resource_type: str) -> ResourceRepository:
        """The repository of one of the service's resource types."""
        if resource_type not in self._repos:
            self._repos[resource_type] = ResourceRepository(self.session, tables.KINDS[resource_type], tables.history)
        return self._repos[resource_type]

    async def save(
        self,
        kind: str,
        resource: dict[str, Any],
        current: Stored | None = None,
        *,
        id_: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> Stored:
        """Store a new resource (or a new version of `current`) as canonical R4 JSON."""
        canonical = validate(resource, kind)
        if current is None:
            return await self.repo(kind).create(canonical, id_ or new_id(), self.now, extra)
        return await self.repo(kind).update(canonical, current, self.now, extra)

    @property
    def outbox(self) -> Outbox:
        """The outbox, in this unit of work's transaction."""
        return Outbox(self.session, tables.outbox, "careplans")

    @property
    def minimums(self) -> dict[Scale, int]:
        """The fewest answered items each DIALOG score needs (clinical-domain §1.5)."""
        return {
            Scale.SQOL: self.settings.sqol_minimum_items,
            Scale.TREATMENT: self.settings.treatment_minimum_items,
        }

    @property
    def reader(self) -> str | None:
        """Who is reading (FR-40, FR-45): the token's `fhirUser`, else the `X-Continuum-Reader` header.

        The header can only narrow what a request may see (a call without it is a trusted one),
        so honouring it never widens access.
        """
        return self.principal.fhir_user or self.reader_header

    def worker(self, reference: str) -> Worker:
        """What the directory says about a PractitionerRole (FR-45)."""
        role = self.directory.roles.get(reference.removeprefix("PractitionerRole/"))
        if role is None:
            return Worker(reference, known=False)
        team = self.directory.teams[role.team]
        return Worker(
            reference,
            known=True,
            internal=self.directory.internal(team),
            service_type=team.type,
            organization=team.organization,
        )


def new_id() -> str:
    """A new resource id."""
    return str(uuid.uuid4())
