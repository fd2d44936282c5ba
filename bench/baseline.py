"""The baseline: a minimal FastAPI app, started as its own uvicorn process like every Continuum process.

`POST /fhir/ServiceRequest` reads the body, validates it with fhir.resources (through
`services.kit.resources.validate`, the project's one import site of the models: the same model
validation), gives it an id and inserts it into SQLite (SQLAlchemy + aiosqlite, WAL, one
transaction per request), then answers 201 with the stored JSON. `GET /health` answers a constant
body without touching anything: the floor of what one HTTP round trip costs through uvicorn and
FastAPI on this machine. No tokens, no audit, no outbox, no rules: that is the point.

Run: `BENCH_BASELINE_DATABASE_URL=sqlite+aiosqlite:///... uvicorn bench.baseline:create_app --factory`.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response
from sqlalchemy import Column, MetaData, String, Table, Text, event, insert
from sqlalchemy.ext.asyncio import create_async_engine

from services.kit.resources import validate

FHIR_JSON = "application/fhir+json"
metadata = MetaData()
referral = Table(
    "referral",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("resource", Text, nullable=False),
)
_HEALTH = b'{"resourceType":"OperationOutcome","issue":[{"severity":"information","code":"informational"}]}'


def create_app() -> FastAPI:
    """The baseline app; its SQLite database comes from BENCH_BASELINE_DATABASE_URL."""
    url = os.environ.get("BENCH_BASELINE_DATABASE_URL", "sqlite+aiosqlite:///bench-baseline.db")
    engine = create_async_engine(url)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _: Any) -> None:
        # The same durability settings as Continuum's SQLite databases (services/kit/db.py).
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with engine.begin() as connection:
            await connection.run_sync(metadata.create_all)
        yield
        await engine.dispose()

    app = FastAPI(title="bench baseline", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)

    @app.post("/fhir/ServiceRequest")
    async def create(request: Request) -> Response:
        resource = validate(orjson.loads(await request.body()), "ServiceRequest")
        resource["id"] = str(uuid.uuid4())
        body = orjson.dumps(resource)
        async with engine.begin() as connection:
            await connection.execute(insert(referral).values(id=resource["id"], resource=body.decode()))
        return Response(body, status_code=201, media_type=FHIR_JSON)

    @app.get("/health")
    async def health() -> Response:
        return Response(_HEALTH, media_type=FHIR_JSON)

    return app
