"""The care-plans service application: `create_app(settings)`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI

from reference.partnership import directory
from services.careplans.api import measures, metadata, routes
from services.careplans.persistence import tables
from services.careplans.service.context import Context
from services.careplans.service.definitions import publish_questionnaire
from services.careplans.settings import Settings
from services.kit.app import fhir_app
from services.kit.auth import service_token_source
from services.kit.clock import Clock, SystemClock
from services.kit.db import Database
from services.kit.outbox import dispatcher_for

log = logging.getLogger("continuum.careplans")


async def publish_definitions(app: FastAPI) -> None:
    """Store the DIALOG Questionnaire (FR-32) in its own transaction; safe to run on every start."""
    state = app.state
    database: Database = state.database
    async with database.session(writing=True) as session:
        await publish_questionnaire(Context(session, state.clock.now(), state.settings, state.directory))
        await session.commit()


def create_app(settings: Settings | None = None, clock: Clock | None = None) -> FastAPI:
    """Build the care-plans service."""
    settings = settings or Settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await publish_definitions(app)
        tasks: list[asyncio.Task[None]] = []
        # FR-50: baseline, co-produced plan and intervention events reach the referral clock.
        dispatcher = dispatcher_for(
            settings, app.state.database, tables.outbox, app.state.clock, service_token_source(settings)
        )
        if dispatcher is not None:
            tasks.append(asyncio.create_task(dispatcher.run(settings.dispatch_interval_seconds)))
        yield
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await app.state.database.dispose()

    app = fhir_app(
        "Continuum care plans",
        settings,
        lifespan,
        description=(
            "DIALOG, DIALOG+ sessions and co-produced care plans; crisis and waiting-support plans (FHIR R4)."
        ),
    )
    app.state.settings = settings
    app.state.clock = clock or SystemClock()
    app.state.directory = directory()
    app.state.database = Database(settings.database_url)
    app.include_router(metadata.router)
    app.include_router(routes.operations)
    app.include_router(routes.router)
    app.include_router(measures.router)
    app.include_router(routes.internal)
    return app
