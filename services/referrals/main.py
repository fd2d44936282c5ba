"""The referrals service application: `create_app(settings)`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI

from reference.partnership import check_directory, directory
from services.kit.app import fhir_app
from services.kit.auth import service_token_source
from services.kit.clock import Clock, SystemClock
from services.kit.db import Database
from services.kit.outbox import dispatcher_for
from services.referrals.api import measures, metadata, routes
from services.referrals.persistence import tables
from services.referrals.service.context import Context
from services.referrals.service.worklists import sweep_escalations
from services.referrals.settings import Settings

log = logging.getLogger("continuum.referrals")


async def run_sweep(app: FastAPI) -> int:
    """One escalation sweep in its own transaction (FR-5)."""
    state = app.state
    database: Database = state.database
    async with database.session(writing=True) as session:
        ctx = Context(session, state.clock.now(), state.settings, state.directory)
        created = await sweep_escalations(ctx)
        await session.commit()
    return created


async def _sweep_forever(app: FastAPI, interval: float) -> None:
    while True:
        try:
            await run_sweep(app)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("escalation sweep failed")
        await asyncio.sleep(interval)


def create_app(settings: Settings | None = None, clock: Clock | None = None) -> FastAPI:
    """Build the referrals service."""
    settings = settings or Settings()
    problems = check_directory(directory())
    if problems:
        raise RuntimeError("directory configuration is invalid: " + "; ".join(problems))

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        tasks: list[asyncio.Task[None]] = []
        if settings.run_background_tasks:
            tasks.append(asyncio.create_task(_sweep_forever(app, settings.sweep_interval_seconds)))
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
        "Continuum referrals",
        settings,
        lifespan,
        description="Internal referrals between mental health teams, with waiting-with-support (FHIR R4).",
    )
    app.state.settings = settings
    app.state.clock = clock or SystemClock()
    app.state.directory = directory()
    app.state.database = Database(settings.database_url)
    app.include_router(metadata.router)
    app.include_router(measures.router)
    app.include_router(routes.operations)
    app.include_router(routes.router)
    app.include_router(routes.internal)
    return app
