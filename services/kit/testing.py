"""Shared test fixtures: migrated databases on SQLite and PostgreSQL, and FHIR assertions.

PostgreSQL runs when `CONTINUUM_TEST_POSTGRES_URL` names a server (an async SQLAlchemy URL to
its `postgres` database); each run creates and drops its own databases there.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from sqlalchemy import MetaData, delete
from sqlalchemy.engine import make_url

from services.kit.db import Database
from services.kit.migrate import upgrade

POSTGRES_ENV = "CONTINUUM_TEST_POSTGRES_URL"
ENGINES = ("sqlite", "postgres")


def postgres_url() -> str | None:
    """The PostgreSQL server tests may use, if one is configured."""
    return os.environ.get(POSTGRES_ENV) or None


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@asynccontextmanager
async def migrated_database(service: str, engine: str, workdir: Path) -> AsyncIterator[str]:
    """A new, migrated database for `service` on `engine`; dropped afterwards."""
    if engine == "sqlite":
        url = f"sqlite+aiosqlite:///{workdir / f'{service}-{uuid.uuid4().hex[:8]}.db'}"
        await asyncio.to_thread(upgrade, service, url)
        yield url
        return
    admin = postgres_url()
    assert admin is not None
    name = f"continuum_test_{service}_{uuid.uuid4().hex[:10]}"
    connection = await asyncpg.connect(_asyncpg_dsn(admin))
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    url = make_url(admin).set(database=name).render_as_string(hide_password=False)
    try:
        await asyncio.to_thread(upgrade, service, url)
        yield url
    finally:
        connection = await asyncpg.connect(_asyncpg_dsn(admin))
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await connection.close()


async def empty_tables(database: Database, metadata: MetaData) -> None:
    """Delete every row (children first), leaving the migrated schema in place."""
    async with database.session(writing=True) as session:
        for table in reversed(metadata.sorted_tables):
            await session.execute(delete(table))
        await session.commit()


def outcome(response: httpx.Response) -> dict[str, Any]:
    """Assert the response is a FHIR OperationOutcome and return it."""
    assert response.headers["content-type"].startswith("application/fhir+json"), response.text
    body: dict[str, Any] = response.json()
    assert body["resourceType"] == "OperationOutcome", body
    return body


def assert_outcome(
    response: httpx.Response, status: int, code: str | None = None, expression: str | None = None
) -> dict[str, Any]:
    """Assert an error response: its status, first issue code, and an expression naming the element."""
    assert response.status_code == status, f"{response.status_code}: {response.text}"
    body = outcome(response)
    issue = body["issue"][0]
    if code is not None:
        assert issue["code"] == code, body
    if expression is not None:
        expressions = [e for i in body["issue"] for e in i.get("expression", [])]
        assert any(expression in e for e in expressions), body
    return body
