"""Transition Measures against fixture data with hand-computed expected values (FR-90).

Every expected number below was worked out by hand from the fixture rows, not by the code under test.
"""

from __future__ import annotations

import itertools
import json
from datetime import UTC, date, datetime
from typing import Any

import httpx
from fastapi import FastAPI

from services.kit.db import Database
from services.kit.resources import validate
from services.kit.testing import assert_outcome
from services.transitions.persistence import tables
from tests.referrals.reporting.rows import population, score, strata
from tests.transitions.builders import case_at
from tests.transitions.fakes import FakeGateway

NOW = datetime(2026, 1, 5, 9, tzinfo=UTC)
NOVEMBER = ("2025-11-01", "2025-11-30")
BARNET_CYP = "HealthcareService/barnet-cypmhs"
CAMDEN_CYP = "HealthcareService/camden-cypmhs"
_ids = itertools.count(1)


def at(text: str | None) -> datetime | None:
    """An aware UTC instant from `2025-11-01T00:00:00` (None stays None)."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC) if text else None


def day(text: str | None) -> date | None:
    """A date from `2025-11-01` (None stays None)."""
    return date.fromisoformat(text) if text else None


def _stored(table_id: str, resource_type: str) -> dict[str, Any]:
    return {
        "id": table_id,
        "version_id": 1,
        "last_updated": NOW,
        "resource": json.dumps({"resourceType": resource_type, "id": table_id}),
    }


def case_row(
    id_: str,
    deadline: str,
    discussed: str | None = None,
    *,
    borough: str = "barnet",
    owner: str = BARNET_CYP,
    high_risk: bool = False,
    status: str = "in-progress",
    formalised: str | None = None,
    planned: str | None = None,
    actioned: str | None = None,
    late: bool | None = None,
) -> dict[str, Any]:
    """A transition case Task row."""
    return {
        **_stored(id_, "Task"),
        "code": "transition-case",
        "status": status,
        "subject": f"Patient/{id_}",
        "owner": owner,
        "borough": borough,
        "high_risk": high_risk,
        "phase1_deadline": day(deadline),
        "discussion_date": day(discussed),
        "formalised_at": at(formalised),
        "planned_action_date": day(planned),
        "actioned_at": at(actioned),
        "actioned_late": late,
    }


def plan_row(case: str, agreement: str | None, recorded: str | None) -> dict[str, Any]:
    """A transition plan row with the young person's latest decision."""
    n = next(_ids)
    return {
        **_stored(f"tp-{n}", "CarePlan"),
        "subject": f"Patient/{case}",
        "status": "active" if agreement == "agreed" else "draft",
        "category": "transition-plan",
        "case_task": f"Task/{case}",
        "agreement": agreement,
        "agreement_recorded": at(recorded),
    }


def feedback_row(case: str, respondent: str, experience: str | None, authored: str) -> dict[str, Any]:
    """A transition feedback QuestionnaireResponse row."""
    n = next(_ids)
    return {
        **_stored(f"fb-{n}", "QuestionnaireResponse"),
        "subject": f"Patient/{case}",
        "status": "completed" if experience else "stopped",
        "respondent": respondent,
        "case_task": f"Task/{case}",
        "authored": at(authored),
        "experience": experience,
    }


async def _november(app: FastAPI) -> None:
    cases = [
        case_row("c1", "2025-11-01", "2025-10-31", formalised="2025-09-01T10:00:00", planned="2025-11-03",
                 actioned="2025-11-03T10:00:00", late=False),
        case_row("c2", "2025-11-15", "2025-11-15", formalised="2025-10-01T10:00:00", planned="2025-11-15",
                 actioned="2025-11-30T23:59:59", late=True),  # discussed on the deadline: late
        case_row("c3", "2025-11-30", high_risk=True, formalised="2025-09-01T10:00:00", planned="2025-11-29"),
        case_row("c4", "2025-11-20", "2025-06-01", formalised="2025-08-01T10:00:00", planned="2025-11-20",
                 actioned="2025-12-01T00:00:00", late=True),  # actioned after the period: overdue at its end
        case_row("c5", "2025-11-10", "2025-11-01", formalised="2025-10-01T10:00:00", planned="2025-11-01",
                 actioned="2025-11-01T00:00:00", late=False),
        case_row("c6", "2025-12-01", "2025-11-01", borough="camden", owner=CAMDEN_CYP,
                 formalised="2025-08-01T10:00:00", planned="2025-11-30"),  # due on the last day: not overdue
        case_row("c7", "2025-10-31", "2025-10-01"),
        case_row("c8", "2025-11-05", "2025-11-04", borough="camden", owner=CAMDEN_CYP, high_risk=True,
                 status="cancelled", formalised="2025-10-01T10:00:00", planned="2025-11-01"),
    ]  # fmt: skip
    plans = [
        plan_row("c1", "agreed", "2025-11-02T10:00:00"),
        plan_row("c2", "disagreed", "2025-11-10T10:00:00"),
        plan_row("c3", "agreed", "2025-10-30T10:00:00"),
        plan_row("c5", "agreed", "2025-11-30T23:59:59"),
        plan_row("c6", None, None),
    ]
    feedback = [
        feedback_row("c1", "young-person", "positive", "2025-11-05T10:00:00"),
        feedback_row("c1", "family-carer", "mixed", "2025-11-06T10:00:00"),
        feedback_row("c2", "young-person", "positive", "2025-11-07T10:00:00"),
        feedback_row("c2", "young-person", None, "2025-11-08T10:00:00"),  # declined to give feedback
        feedback_row("c5", "referring-worker", "negative", "2025-11-20T10:00:00"),
        feedback_row("c5", "young-person", "positive", "2025-12-01T00:00:00"),
    ]
    database: Database = app.state.database
    async with database.session(writing=True) as session:
        for table, rows in ((tables.task, cases), (tables.care_plan, plans), (tables.questionnaire_response, feedback)):
            for row in rows:
                await session.execute(table.insert().values(**row))
        await session.commit()


async def report(client: httpx.AsyncClient, measure: str, start: str, end: str) -> dict[str, Any]:
    """Evaluate a measure (asserting 200) and return the MeasureReport."""
    response = await client.get(
        f"/fhir/Measure/{measure}/$evaluate-measure", params={"periodStart": start, "periodEnd": end}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_the_transition_measures_are_valid_r4_measures(client: httpx.AsyncClient) -> None:
    bundle = (await client.get("/fhir/Measure")).json()
    assert bundle["total"] == 5
    for entry in bundle["entry"]:
        assert validate(entry["resource"], "Measure")
    phase1 = (await client.get("/fhir/Measure/transition-phase1-before-17-5")).json()
    crossing = next(s for s in phase1["group"][0]["stratifier"] if s["code"]["text"] == "borough-high-risk")
    assert [c["code"]["text"] for c in crossing["component"]] == ["borough", "high-risk"]
    assert_outcome(await client.get("/fhir/Measure/dialog-plus-use"), 404)
    assert_outcome(
        await client.get(
            "/fhir/Measure/transition-overdue/$evaluate-measure",
            params={"periodStart": "2025-11-01", "periodEnd": "2025-11-31"},
        ),
        400,
        expression="periodEnd",
    )


async def test_phase_one_before_seventeen_and_a_half(app: FastAPI, client: httpx.AsyncClient) -> None:
    await _november(app)
    body = await report(client, "transition-phase1-before-17-5", *NOVEMBER)
    assert validate(body, "MeasureReport")
    group = body["group"][0]
    # Deadlines in November: c1 c2 c3 c4 c5 c8; discussed before the deadline: c1 c4 c5 c8.
    assert (population(group, "denominator"), population(group, "numerator"), score(group)) == (6, 4, 0.6667)
    barnet = strata(body, "borough")["barnet"]
    assert (population(barnet, "denominator"), population(barnet, "numerator"), score(barnet)) == (5, 3, 0.6)
    assert population(strata(body, "borough")["camden"], "denominator") is None  # c8 alone
    assert set(strata(body, "high-risk")) == {"yes", "no"}
    assert set(strata(body, "borough-high-risk")) == {"barnet|no", "barnet|yes", "camden|yes"}
    assert population(strata(body, "borough-high-risk")["barnet|no"], "denominator") is None  # 4: suppressed


async def test_plans_agreed_actioned_on_time_and_overdue(app: FastAPI, client: httpx.AsyncClient) -> None:
    await _november(app)
    agreed = (await report(client, "transition-plans-agreed", *NOVEMBER))["group"][0]
    # Decisions in November: c1 agreed, c2 disagreed, c5 agreed (the period's last second).
    assert (population(agreed, "denominator"), population(agreed, "numerator"), score(agreed)) == (3, 2, 0.6667)
    on_time = (await report(client, "transition-actioned-on-time", *NOVEMBER))["group"][0]
    # Actioned in November: c1 and c5 on time, c2 late; c4 was actioned on 1 December.
    assert (population(on_time, "denominator"), population(on_time, "numerator"), score(on_time)) == (3, 2, 0.6667)
    overdue = await report(client, "transition-overdue", *NOVEMBER)
    assert population(overdue["group"][0], "initial-population") == 2  # c3 and c4
    assert "measureScore" not in overdue["group"][0]
    december = await report(client, "transition-overdue", "2025-12-01", "2025-12-31")
    assert population(december["group"][0], "initial-population") == 2  # c3, and c6 (due 30 November)


async def test_feedback_rating_the_experience_positively(app: FastAPI, client: httpx.AsyncClient) -> None:
    await _november(app)
    body = await report(client, "transition-feedback-positive", *NOVEMBER)
    group = body["group"][0]
    assert (population(group, "denominator"), population(group, "numerator"), score(group)) == (4, 2, 0.5)
    assert set(strata(body, "respondent")) == {"young-person", "family-carer", "referring-worker"}


async def test_a_case_walked_through_the_api_is_counted(
    app: FastAPI, client: httpx.AsyncClient, gateway: FakeGateway
) -> None:
    app.state.settings = app.state.settings.model_copy(update={"report_small_cell_threshold": 0})
    # Every step on 5 January 2026; born 2008-06-12: 17½ on 2025-12-12, 18 on 2026-06-12.
    await case_at(client, "end", patient=gateway.young_person(birth_date="2008-06-12"))
    january = ("2026-01-01", "2026-01-05")
    for measure in ("transition-plans-agreed", "transition-actioned-on-time", "transition-feedback-positive"):
        group = (await report(client, measure, *january))["group"][0]
        assert (population(group, "denominator"), score(group)) == (1, 1.0), measure
    phase1 = await report(client, "transition-phase1-before-17-5", "2025-12-01", "2025-12-31")
    assert (population(phase1["group"][0], "denominator"), score(phase1["group"][0])) == (1, 0.0)  # discussed late
    assert score(strata(phase1, "borough")["barnet"]) == 0.0
    overdue = await report(client, "transition-overdue", *january)
    assert population(overdue["group"][0], "initial-population") == 0
