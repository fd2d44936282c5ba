"""The gateway's unit of work: its session, the time, and its repositories."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from gateway import tables
from services.kit.app import SessionDep
from services.kit.auth import Principal
from services.kit.repository import ResourceRepository


@dataclass
class Context:
    """One request's unit of work at the gateway."""

    session: AsyncSession
    now: datetime
    principal: Principal = field(default_factory=lambda: Principal("gateway"))
    purpose_header: str | None = None
    services: Any = None
    authorization: str = ""
    base: str = ""
    _repos: dict[str, ResourceRepository] = field(default_factory=dict)

    def repo(self, resource_type: str) -> ResourceRepository:
        """The repository of a gateway-owned resource type."""
        if resource_type not in self._repos:
            self._repos[resource_type] = ResourceRepository(self.session, tables.KINDS[resource_type], tables.history)
        return self._repos[resource_type]


async def get_context(request: Request, session: SessionDep) -> Context:
    """The request's unit of work."""
    principal = getattr(request.state, "principal", None) or Principal("gateway")
    return Context(
        session,
        request.app.state.clock.now(),
        principal,
        request.headers.get("x-purpose-of-use"),
        request.app.state.services,
        request.headers.get("authorization", ""),
        str(request.base_url).rstrip("/") + "/fhir",
    )


ContextDep = Annotated[Context, Depends(get_context)]
