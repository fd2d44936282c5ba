"""Fixtures of the referrals tests: a migrated database per engine, the app, a client, a clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from services.kit.clock import FixedClock
from services.kit.db import Database
from services.kit.testing import empty_tables, migrated_database
from services.referrals.main import create_app
from services.referrals.persistence.tables import metadata
from services.referrals.settings import Settings


@pytest.fixture(scope="session")
async def referrals_url(engine: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """A referrals database migrated with Alembic, once per engine."""
    async with migrated_database("referrals", engine, Path(tmp_path_factory.mktemp(engine))) as url:
        yield url


@pytest.fixture
def clock() -> FixedClock:
    """A clock the test moves (Monday 5 January 2026, 09:00 UTC)."""
    return FixedClock()


@pytest.fixture
def settings(referrals_url: str) -> Settings:
    """Settings pointing at the test database, with background tasks off."""
    return Settings(database_url=referrals_url, run_background_tasks=False, max_body_bytes=200_000)


@pytest.fixture
async def app(settings: Settings, clock: FixedClock) -> AsyncIterator[object]:
    """The referrals app; its tables are emptied after each test."""
    application = create_app(settings, clock)
    yield application
    database: Database = application.state.database
    await empty_tables(database, metadata)
    await database.dispose()


@pytest.fixture
async def client(app: object) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to the app in-process."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://referrals.test") as c:
        yield c
