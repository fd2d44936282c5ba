"""What every Continuum FastAPI app shares: error edge, session dependency, health."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.kit import handlers
from services.kit.auth import Principal, Verifier, authorize
from services.kit.db import get_session
from services.kit.errors import Forbidden
from services.kit.http import fhir_response
from services.kit.settings import ServiceSettings

SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]

_PUBLIC = ("/health", "/docs", "/openapi.json", "/fhir/metadata", "/docs/oauth2-redirect", "/auth/token")


async def guard(request: Request) -> Principal:
    """Authenticate every request and check its scopes (FR-79); the principal is on request.state.

    Async (though it awaits nothing) so FastAPI runs it on the event loop, not in its threadpool.
    """
    verifier: Verifier = request.app.state.verifier
    path = request.url.path
    if path in _PUBLIC:
        principal = verifier.authenticate(request) if request.headers.get("authorization") else None
        request.state.principal = principal
        return principal or Principal("public")
    principal = verifier.authenticate(request)
    if path.startswith("/internal/") and verifier.enabled and "events" not in principal.scopes:
        raise Forbidden("Internal endpoints take service tokens with the 'events' scope", "Authorization")
    authorize(principal, request.method, path)
    request.state.principal = principal
    return principal


PrincipalDep = Annotated[Principal, Depends(guard)]


def fhir_app(
    title: str,
    settings: ServiceSettings,
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]],
    description: str = "",
) -> FastAPI:
    """A FastAPI app wired the Continuum way: errors as OperationOutcome, limits, health."""
    app = FastAPI(
        title=title,
        description=description,
        version="0.1.0",
        lifespan=lifespan,
        redoc_url=None,
        dependencies=[Depends(guard)],
    )
    handlers.install(app)
    app.state.verifier = Verifier.from_file(settings.auth_public_key_file)
    app.state.max_body_bytes = settings.max_body_bytes
    app.state.retry_after_seconds = settings.retry_after_seconds

    @app.get("/health", tags=["operations"])
    async def health(session: SessionDep) -> object:
        """Liveness and database reachability."""
        await session.execute(text("SELECT 1"))
        return fhir_response(
            {
                "resourceType": "OperationOutcome",
                "issue": [{"severity": "information", "code": "informational", "diagnostics": "ok"}],
            }
        )

    return app
