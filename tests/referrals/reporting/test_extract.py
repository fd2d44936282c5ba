"""The MHSDS-like CSV extract (FR-95): one row per referral received in the period, with contacts,
care-plan and outcome milestones and protected characteristics."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

import httpx
from fastapi import FastAPI

from services.kit.testing import assert_outcome
from services.referrals.reporting.extract import COLUMNS
from tests.referrals.builders import ACCEPT_WITH_SUPPORT, operate, referral_with_episode
from tests.referrals.reporting.rows import at, escalation, insert, referral_rows, seen, waited

BARNET = "barnet-psychosis"
URL = "/fhir/ServiceRequest/$mhsds-extract"


async def _extract(client: httpx.AsyncClient, start: str, end: str) -> list[dict[str, str]]:
    response = await client.get(URL, params={"periodStart": start, "periodEnd": end})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == f'attachment; filename="mhsds-extract-{start}-{end}.csv"'
    reader = csv.reader(io.StringIO(response.text))
    assert next(reader) == list(COLUMNS)
    return [dict(zip(COLUMNS, row, strict=True)) for row in reader]


async def _extract_fixture(app: FastAPI) -> tuple[dict[str, Any], dict[str, Any]]:
    """Referrals received around November 2025; returns the stopped referral's rows (ServiceRequest, Task)."""
    stopped = waited(BARNET, "m1", at("2025-11-25T10:00:00"), 20)  # received 2025-11-05T07:00
    waiting = referral_rows(team="camden-psychosis", patient="m2", clock_start=at("2025-11-01T00:00:00"), source="gp")
    declined = referral_rows(
        team=BARNET,
        patient="m3",
        clock_start=at("2025-11-30T23:59:59"),
        status="rejected",
        business_status="declined",
        reason="not-commissioned",
    )
    october = referral_rows(team=BARNET, patient="m4", clock_start=at("2025-10-31T23:59:59"))
    december = referral_rows(team=BARNET, patient="m5", clock_start=at("2025-12-01T00:00:00"))
    milestones = [
        seen(stopped[1], at("2025-11-10T10:00:00")),
        seen(stopped[1], at("2025-11-20T10:00:00")),
        seen(stopped[1], at("2025-11-12T10:00:00"), "baseline-outcome-recorded"),
        seen(stopped[1], at("2025-11-25T10:00:00"), "coproduced-careplan-completed"),
        escalation(waiting[1], at("2025-11-20T10:00:00")),  # an escalation Task is not a referral
    ]
    await insert(
        app,
        [stopped, waiting, declined, october, december],
        patients={"m1": date(1990, 11, 6)},
        demographics={"m1": {"ethnic_category": "M", "sex": "female", "deprivation_decile": 2}},
        extra=milestones,
    )
    return stopped


async def test_the_extract_has_one_row_per_referral_received_in_the_period(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    stopped = await _extract_fixture(app)
    rows = await _extract(client, "2025-11-01", "2025-11-30")
    assert len(rows) == 3  # the referrals received in November
    assert [r["patient_id"] for r in rows] == ["m2", "m1", "m3"]  # by receipt
    m2, m1, m3 = rows
    assert m1 == {
        "referral_id": stopped[0]["id"],
        "referral_task_id": stopped[1]["id"],
        "patient_id": "m1",
        "referral_received": "2025-11-05T07:00:00.000Z",
        "source_of_referral": "internal-team",
        "referring_team": "barnet-core-north",
        "receiving_team": BARNET,
        "borough": "barnet",
        "priority": "",
        "referral_state": "started",
        "decline_reason": "",
        "waiting_support": "interim-support",
        "clock_stop": "2025-11-25T10:00:00.000Z",
        "days_to_clock_stop": "20",
        "first_contact": "2025-11-10T10:00:00.000Z",
        "second_contact": "2025-11-20T10:00:00.000Z",
        "contacts_seen": "2",
        "baseline_outcome_recorded": "2025-11-12T10:00:00.000Z",
        "care_plan_agreed": "2025-11-25T10:00:00.000Z",
        "age_at_referral": "34",  # 35 on 6 November 2025, the day after receipt
        "ethnic_category": "M",
        "sex": "female",
        "deprivation_decile": "2",
    }
    assert (m2["source_of_referral"], m2["borough"], m2["contacts_seen"], m2["first_contact"]) == (
        "gp",
        "camden",
        "0",
        "",
    )
    assert (m2["age_at_referral"], m2["ethnic_category"], m2["sex"]) == ("", "", "")  # nothing known: empty cells
    assert (m3["referral_state"], m3["decline_reason"]) == ("declined", "not-commissioned")
    assert len(await _extract(client, "2025-10-01", "2025-12-31")) == 5


async def test_a_referral_made_through_the_api_is_in_the_extract(client: httpx.AsyncClient) -> None:
    _, task = await referral_with_episode(client)
    assert (await operate(client, task, "accept", ACCEPT_WITH_SUPPORT)).status_code == 200
    rows = await _extract(client, "2026-01-05", "2026-01-05")  # the test clock's day
    assert [(r["referral_task_id"], r["referral_state"]) for r in rows] == [(task["id"], "accepted-waiting")]
    assert await _extract(client, "2026-01-06", "2026-01-31") == []


async def test_extract_errors_are_operation_outcomes(client: httpx.AsyncClient) -> None:
    assert_outcome(await client.get(URL, params={"periodStart": "2025-11-01"}), 400, expression="periodEnd")
    assert_outcome(
        await client.get(URL, params={"periodStart": "2025-11-01", "periodEnd": "2025-11-30", "reportType": "summary"}),
        400,
        expression="reportType",
    )
    assert_outcome(
        await client.get(URL, params={"periodStart": "2025-12-01", "periodEnd": "2025-11-30"}),
        400,
        expression="periodEnd",
    )
