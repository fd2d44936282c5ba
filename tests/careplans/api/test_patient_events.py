"""The gateway's Patient events reach the care-plans service: applied once, bad ones refused (FR-84)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.careplans.persistence import tables
from services.kit.testing import assert_outcome
from tests.careplans.events import patient, patient_upserted


async def facts(app: FastAPI) -> list[dict[str, Any]]:
    """Every row of `patient_facts`, by id."""
    async with app.state.database.session(writing=False) as session:
        rows = await session.execute(tables.patient_facts.select().order_by(tables.patient_facts.c.id))
        return [dict(r) for r in rows.mappings()]


def kept(row: dict[str, Any]) -> tuple[Any, ...]:
    return (row["id"], row["birth_date"], row["ethnic_category"], row["sex"], row["deprivation_decile"])


async def test_a_patient_event_is_applied_once_and_a_later_one_replaces_the_facts(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    first = patient_upserted(patient("p-1", ethnic="Z", gender="female", decile=3, birth_date="1990-04-01"), "e-1")
    response = await client.post("/internal/events", json=first)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/fhir+json")
    assert response.json()["issue"][0] == {"severity": "information", "code": "informational", "diagnostics": "applied"}
    assert [kept(r) for r in await facts(app)] == [("p-1", dt.date(1990, 4, 1), "Z", "female", 3)]

    # The same event delivered again (at least once) changes nothing, even if its body differs.
    again = {**first, "resource": patient("p-1", ethnic="A")}
    response = await client.post("/internal/events", json=again)
    assert response.status_code == 200
    assert response.json()["issue"][0]["diagnostics"] == "already applied"
    assert [kept(r) for r in await facts(app)] == [("p-1", dt.date(1990, 4, 1), "Z", "female", 3)]

    # A new event about the person replaces what was known: a fact no longer recorded becomes NULL.
    later = patient_upserted(patient("p-1", ethnic="A", gender="female", decile=11), "e-2")
    assert (await client.post("/internal/events", json=later)).json()["issue"][0]["diagnostics"] == "applied"
    assert [kept(r) for r in await facts(app)] == [("p-1", None, "A", "female", None)]  # decile 11 is not a decile


@pytest.mark.parametrize(
    ("event", "expression"),
    [
        ({"type": "patient-upserted", "resource": patient("p-1")}, "id"),
        ({"id": 7, "type": "patient-upserted", "resource": patient("p-1")}, "id"),
        ({"id": "e-1", "type": "referral-accepted", "focus": "ServiceRequest/r-1"}, "type"),
        ({"id": "e-1", "type": "patient-upserted"}, "resource"),
        ({"id": "e-1", "type": "patient-upserted", "resource": "Patient/p-1"}, "resource"),
        ({"id": "e-1", "type": "patient-upserted", "resource": {"resourceType": "Patient"}}, "resource"),
        ({"id": "e-1", "type": "patient-upserted", "resource": {"resourceType": "Group", "id": "g"}}, "resource"),
        (
            {"id": "e-1", "type": "patient-upserted", "resource": {**patient("p-1"), "birthDate": "1990-13-01"}},
            "resource",
        ),
        ({"id": "e-1", "type": "patient-upserted", "resource": {**patient("p-1"), "birthDate": 1990}}, "resource"),
    ],
)
async def test_a_malformed_event_is_refused_and_not_recorded_as_applied(
    app: FastAPI, client: httpx.AsyncClient, event: dict[str, Any], expression: str
) -> None:
    assert_outcome(await client.post("/internal/events", json=event), 400, "invalid", expression)
    assert await facts(app) == []
    # The refused id was not remembered: the corrected event is applied.
    fixed = patient_upserted(patient("p-1", gender="male"), "e-1")
    assert (await client.post("/internal/events", json=fixed)).json()["issue"][0]["diagnostics"] == "applied"


async def test_a_body_that_is_not_a_json_object_is_an_operation_outcome(client: httpx.AsyncClient) -> None:
    assert_outcome(await client.post("/internal/events", content=b"[]"), 400, "invalid")
    assert_outcome(await client.post("/internal/events", content=b"{"), 400, "invalid")
