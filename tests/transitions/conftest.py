"""Fixtures of the transitions tests: a migrated database per engine, the app with a fake gateway,
a client and a clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.kit.clock import FixedClock
from services.kit.db import Database
from services.kit.testing import empty_tables, migrated_database
from services.transitions.main import create_app
from services.transitions.persistence.tables import metadata
from services.transitions.settings import Settings
from tests.transitions.fakes import GATEWAY, FakeGateway


@pytest.fixture(scope="session")
async def transitions_url(engine: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """A transitions database migrated with Alembic, once per engine."""
    async with migrated_database("transitions", engine, Path(tmp_path_factory.mktemp(engine))) as url:
        yield url


@pytest.fixture
def clock() -> FixedClock:
    """A clock the test moves (Monday 5 January 2026, 09:00 UTC)."""
    return FixedClock()


@pytest.fixture
def gateway() -> FakeGateway:
    """The gateway: patients, CYPMHS caseloads and the referrals sent."""
    return FakeGateway()


@pytest.fixture
def settings(transitions_url: str) -> Settings:
    """Settings pointing at the test database and the fake gateway, with background tasks off."""
    return Settings(
        database_url=transitions_url, gateway_url=GATEWAY, run_background_tasks=False, max_body_bytes=200_000
    )


@pytest.fixture
async def app(settings: Settings, clock: FixedClock, gateway: FakeGateway) -> AsyncIterator[Any]:
    """The transitions app; its tables are emptied after each test."""
    application = create_app(settings, clock, gateway.transport)
    yield application
    database: Database = application.state.database
    await empty_tables(database, metadata)
    await database.dispose()


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to the app in-process."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://transitions.test") as c:
        yield c
