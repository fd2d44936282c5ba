"""The schema comes only from Alembic, and the migrations match the tables the code declares."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from services.referrals.persistence.tables import metadata, service_request_row, task_row


async def test_migrations_create_exactly_the_declared_schema(referrals_url: str) -> None:
    engine = create_async_engine(referrals_url)

    def diff(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))

    async with engine.connect() as connection:
        differences = await connection.run_sync(diff)
        tables = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
    await engine.dispose()
    assert differences == []
    assert {"service_request", "task", "outbox", "inbox", "resource_history", "alembic_version"} <= tables


def test_search_columns_are_derived_from_the_resource() -> None:
    row = service_request_row(
        {
            "id": "sr-1",
            "resourceType": "ServiceRequest",
            "status": "active",
            "subject": {"reference": "Patient/p-1"},
            "requester": {"reference": "PractitionerRole/r-1"},
            "performer": [{"reference": "HealthcareService/h-1"}],
            "identifier": [{"system": "urn:x", "value": "42"}],
            "authoredOn": "2026-01-05T09:00:00Z",
            "extension": [
                {
                    "url": "https://continuum.example.org/fhir/StructureDefinition/referral-received-at",
                    "valueDateTime": "2026-01-05T09:00:00.000Z",
                }
            ],
        }
    )
    assert row["identifier"] == "urn:x|42"
    assert row["spell"] == "sr-1"
    assert row["performer"] == "HealthcareService/h-1"
    assert row["received_at"].isoformat() == "2026-01-05T09:00:00+00:00"
    task = task_row({"status": "requested", "focus": {"reference": "ServiceRequest/sr-1"}})
    assert (task["code"], task["focus"], task["owner"]) == ("other", "ServiceRequest/sr-1", None)
