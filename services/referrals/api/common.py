"""The referrals service's unit of work as a route dependency."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.kit.app import SessionDep
from services.referrals.service.context import SYSTEM, Context


async def get_context(request: Request, session: SessionDep) -> Context:
    """The request's unit of work."""
    state = request.app.state
    principal = getattr(request.state, "principal", None) or SYSTEM
    return Context(
        session=session,
        now=state.clock.now(),
        settings=state.settings,
        directory=state.directory,
        principal=principal,
    )


ContextDep = Annotated[Context, Depends(get_context)]
