"""Fixtures of the care-plans tests: a migrated database per engine, the app, a client, a clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from services.careplans.main import create_app, publish_definitions
from services.careplans.persistence.tables import metadata
from services.careplans.settings import Settings
from services.kit.clock import FixedClock
from services.kit.db import Database
from services.kit.testing import empty_tables, migrated_database


@pytest.fixture(scope="session")
async def careplans_url(engine: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """A care-plans database migrated with Alembic, once per engine."""
    async with migrated_database("careplans", engine, Path(tmp_path_factory.mktemp(engine))) as url:
        yield url


@pytest.fixture
def clock() -> FixedClock:
    """A clock the test moves (Monday 5 January 2026, 09:00 UTC)."""
    return FixedClock()


@pytest.fixture
def settings(careplans_url: str) -> Settings:
    """Settings pointing at the test database, with background tasks off."""
    return Settings(database_url=careplans_url, run_background_tasks=False, max_body_bytes=200_000)


@pytest.fixture
async def app(settings: Settings, clock: FixedClock) -> AsyncIterator[FastAPI]:
    """The care-plans app with the DIALOG Questionnaire published (as its startup does); emptied after each test."""
    application = create_app(settings, clock)
    await publish_definitions(application)
    yield application
    database: Database = application.state.database
    await empty_tables(database, metadata)
    await database.dispose()


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to the app in-process."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://careplans.test") as c:
        yield c
