"""The schema comes only from Alembic, and the migrations match the tables the code declares."""

from __future__ import annotations

from datetime import date
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from services.transitions.domain.codes import EXT_CASE, EXT_HIGH_RISK, EXT_PHASE1_DEADLINE, EXT_RESPONDENT
from services.transitions.persistence.tables import care_plan_row, metadata, questionnaire_response_row, task_row


async def test_migrations_create_exactly_the_declared_schema(transitions_url: str) -> None:
    engine = create_async_engine(transitions_url)

    def diff(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))

    async with engine.connect() as connection:
        differences = await connection.run_sync(diff)
        tables = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
    await engine.dispose()
    assert differences == []
    assert {
        "task",
        "care_plan",
        "questionnaire_response",
        "sent_referral",
        "outbox",
        "inbox",
        "resource_history",
        "alembic_version",
    } <= tables


def test_search_columns_are_derived_from_the_resource() -> None:
    row = task_row(
        {
            "resourceType": "Task",
            "status": "in-progress",
            "code": {
                "coding": [
                    {"system": "https://continuum.example.org/fhir/CodeSystem/task-code", "code": "transition-case"}
                ]
            },
            "businessStatus": {
                "coding": [
                    {"system": "https://continuum.example.org/fhir/CodeSystem/transition-phase", "code": "evaluation"}
                ]
            },
            "for": {"reference": "Patient/yp-1"},
            "partOf": [{"reference": "Task/c-1"}],
            "authoredOn": "2026-01-05T09:00:00.000Z",
            "extension": [
                {"url": EXT_PHASE1_DEADLINE, "valueDate": "2026-04-01"},
                {"url": EXT_HIGH_RISK, "extension": [{"url": "flag", "valueBoolean": True}]},
            ],
        }
    )
    assert (row["code"], row["business_status"], row["subject"], row["part_of"]) == (
        "transition-case",
        "evaluation",
        "Patient/yp-1",
        "Task/c-1",
    )
    assert (row["high_risk"], row["phase1_deadline"], row["planned_action_date"]) == (True, date(2026, 4, 1), None)
    assert row["authored_on"].isoformat() == "2026-01-05T09:00:00+00:00"
    assert task_row({"status": "requested"})["code"] == "other"
    plan = care_plan_row(
        {
            "status": "draft",
            "subject": {"reference": "Patient/yp-1"},
            "category": [
                {
                    "coding": [
                        {
                            "system": "https://continuum.example.org/fhir/CodeSystem/careplan-category",
                            "code": "transition-plan",
                        }
                    ]
                }
            ],
            "extension": [{"url": EXT_CASE, "valueReference": {"reference": "Task/c-1"}}],
        }
    )
    assert (plan["category"], plan["case_task"]) == ("transition-plan", "Task/c-1")
    response = questionnaire_response_row(
        {"status": "completed", "extension": [{"url": EXT_RESPONDENT, "valueCode": "young-person"}]}
    )
    assert response["respondent"] == "young-person"
