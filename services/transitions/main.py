"""The transitions service application: `create_app(settings)`."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
from fastapi import FastAPI

from reference.partnership import directory
from services.kit.app import fhir_app
from services.kit.auth import service_token_source
from services.kit.clock import Clock, SystemClock
from services.kit.db import Database
from services.kit.outbox import dispatcher_for
from services.transitions.api import measures, metadata, routes
from services.transitions.clients.gateway import GatewayClient
from services.transitions.persistence import tables
from services.transitions.settings import Settings


def create_app(
    settings: Settings | None = None,
    clock: Clock | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    """Build the transitions service. `transport` lets tests stand in for the gateway."""
    settings = settings or Settings()
    client = httpx.AsyncClient(timeout=settings.upstream_timeout_seconds, transport=transport)
    tokens = service_token_source(settings, client)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        tasks: list[asyncio.Task[None]] = []
        dispatcher = dispatcher_for(settings, app.state.database, tables.outbox, app.state.clock, tokens)
        if dispatcher is not None:
            tasks.append(asyncio.create_task(dispatcher.run(settings.dispatch_interval_seconds)))
        yield
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await client.aclose()
        await app.state.database.dispose()

    app = fhir_app(
        "Continuum transitions",
        settings,
        lifespan,
        description=(
            "The five-phase transition of young people from children's to adult mental health services (FHIR R4)."
        ),
    )
    app.state.settings = settings
    app.state.clock = clock or SystemClock()
    app.state.directory = directory()
    app.state.database = Database(settings.database_url)
    app.state.gateway = GatewayClient(settings.gateway_url, client, tokens)
    app.include_router(metadata.router)
    app.include_router(routes.operations)
    app.include_router(routes.router)
    app.include_router(routes.internal)
    app.include_router(measures.router)
    return app
