"""The schema comes only from Alembic, and the migrations match the tables the code declares."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from services.careplans.domain.codes import EXT_EPISODE, EXT_REFERRAL, EXT_TIMEPOINT
from services.careplans.persistence.tables import (
    care_plan_row,
    current_key,
    metadata,
    moment,
    observation_row,
    questionnaire_response_row,
)
from tests.careplans.builders import crisis_plan, dialog


async def test_migrations_create_exactly_the_declared_schema(careplans_url: str) -> None:
    engine = create_async_engine(careplans_url)

    def diff(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))

    async with engine.connect() as connection:
        differences = await connection.run_sync(diff)
        tables = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
    await engine.dispose()
    assert differences == []
    assert {
        "questionnaire",
        "questionnaire_response",
        "observation",
        "care_plan",
        "goal",
        "outbox",
        "inbox",
        "patient_facts",
        "resource_history",
        "alembic_version",
    } <= tables


def test_response_columns_keep_the_referral_not_a_care_plan() -> None:
    row = questionnaire_response_row(
        {**dialog(), "basedOn": [{"reference": "CarePlan/c-1"}, {"reference": "ServiceRequest/r-9"}]}
    )
    assert row["based_on"] == "ServiceRequest/r-9"
    assert row["authored"].isoformat() == "2026-01-05T09:00:00+00:00"


def test_partial_dates_index_at_their_start_and_nonsense_is_none() -> None:
    assert moment("2026-03").isoformat() == "2026-03-01T00:00:00+00:00"  # type: ignore[union-attr]
    assert moment("soon") is None
    assert moment(None) is None


def test_observation_columns() -> None:
    row = observation_row(
        {
            "extension": [{"url": EXT_TIMEPOINT, "valueCode": "baseline"}],
            "subject": {"reference": "Patient/p"},
            "derivedFrom": [{"reference": "QuestionnaireResponse/q"}],
            "effectiveDateTime": "2026-01-05",
        }
    )
    assert (row["code"], row["timepoint"], row["derived_from"]) == ("other", "baseline", "QuestionnaireResponse/q")


def test_only_one_living_dialog_plan_per_episode_and_one_current_crisis_plan_per_person_hold_a_key() -> None:
    plan = {
        **crisis_plan(),
        "extension": [
            {"url": EXT_EPISODE, "valueReference": {"reference": "EpisodeOfCare/e"}},
            {"url": EXT_REFERRAL, "valueReference": {"reference": "ServiceRequest/r"}},
        ],
    }
    assert current_key(plan) is None
    assert current_key({**plan, "status": "active"}) == "crisis|Patient/p-1"
    assert current_key({**plan, "status": "revoked"}) is None
    dialog_plan = {
        **plan,
        "category": [
            {
                "coding": [
                    {"system": plan["category"][0]["coding"][0]["system"], "code": "dialog-plus-personalised-plan"}
                ]
            }
        ],
    }
    assert current_key(dialog_plan) == "dialog-plus-personalised-plan|Patient/p-1|EpisodeOfCare/e"
    assert current_key({**dialog_plan, "status": "completed"}) is None
    row = care_plan_row(dialog_plan)
    assert (row["episode"], row["referral"], row["category"]) == (
        "EpisodeOfCare/e",
        "ServiceRequest/r",
        "dialog-plus-personalised-plan",
    )
