"""The care-plans service's unit of work as a route dependency."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.careplans.service.context import SYSTEM, Context
from services.kit.app import SessionDep


async def get_context(request: Request, session: SessionDep) -> Context:
    """The request's unit of work."""
    state = request.app.state
    return Context(
        session=session,
        now=state.clock.now(),
        settings=state.settings,
        directory=state.directory,
        principal=getattr(request.state, "principal", None) or SYSTEM,
        reader_header=request.headers.get("x-continuum-reader"),
    )


ContextDep = Annotated[Context, Depends(get_context)]
