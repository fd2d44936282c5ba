"""Fixtures of the kit tests: a private schema (not a service's) on each engine.

The kit's storage and outbox code is exercised against a small schema made here with
`metadata.create_all`, in a fresh SQLite file or a fresh PostgreSQL database per engine.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy import Boolean, Column, String
from sqlalchemy.engine import make_url

from services.kit.db import Database, new_metadata
from services.kit.outbox import inbox_table, outbox_table
from services.kit.repository import ResourceKind, history_table, resource_table
from services.kit.testing import empty_tables, postgres_url

metadata = new_metadata()
patients = resource_table(
    metadata,
    "patient",
    Column("family", String(128), nullable=True),
    Column("active", Boolean, nullable=True),
)
history = history_table(metadata)
outbox = outbox_table(metadata)
inbox = inbox_table(metadata)


def patient_row(resource: dict[str, Any]) -> dict[str, Any]:
    """The search columns of a Patient."""
    names = resource.get("name") or [{}]
    return {"family": names[0].get("family"), "active": resource.get("active")}


PATIENT = ResourceKind("Patient", patients, patient_row)


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@asynccontextmanager
async def private_database(engine: str, workdir: Path) -> AsyncIterator[str]:
    """A new database holding the kit test schema, on `engine`; dropped afterwards."""
    if engine == "sqlite":
        url = f"sqlite+aiosqlite:///{workdir / f'kit-{uuid.uuid4().hex[:8]}.db'}"
        await _create_schema(url)
        yield url
        return
    admin = postgres_url()
    assert admin is not None
    name = f"continuum_test_kit_{uuid.uuid4().hex[:10]}"
    connection = await asyncpg.connect(_dsn(admin))
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    url = make_url(admin).set(database=name).render_as_string(hide_password=False)
    try:
        await _create_schema(url)
        yield url
    finally:
        connection = await asyncpg.connect(_dsn(admin))
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await connection.close()


async def _create_schema(url: str) -> None:
    database = Database(url)
    try:
        async with database.engine.begin() as connection:
            await connection.run_sync(metadata.create_all)
    finally:
        await database.dispose()


@pytest.fixture(scope="session")
async def kit_url(engine: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """The kit test schema, once per engine."""
    async with private_database(engine, Path(tmp_path_factory.mktemp(f"kit-{engine}"))) as url:
        yield url


@pytest.fixture
async def database(kit_url: str) -> AsyncIterator[Database]:
    """A Database on the kit schema; every table is emptied after the test."""
    db = Database(kit_url)
    try:
        yield db
    finally:
        await empty_tables(db, metadata)
        await db.dispose()
