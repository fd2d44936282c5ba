"""Care-plan events feed the referral clock (FR-50), through the outbox, in the shape referrals consume."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.careplans.persistence import tables
from services.kit.clock import FixedClock
from services.kit.outbox import Dispatcher, Outbox
from services.kit.testing import empty_tables, migrated_database
from services.referrals.main import create_app as referrals_app
from services.referrals.persistence.tables import metadata as referrals_metadata
from services.referrals.settings import Settings as ReferralsSettings
from tests.careplans.builders import (
    FHIR,
    PATIENT,
    REFERRAL,
    action,
    agreement,
    create_plan,
    crisis_plan,
    dialog,
    domain,
    first_session,
    full_content,
    operate,
    record,
    review,
    run_session,
    session,
    waiting_support_plan,
)
from tests.referrals import builders as referral_builders


async def events(app: FastAPI) -> list[dict[str, Any]]:
    """The events waiting in the care-plans outbox, oldest first."""
    async with app.state.database.session(writing=False) as s:
        return await Outbox(s, tables.outbox, "careplans").pending()


def shape(event: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in event.items() if k not in ("id", "time", "focus")}


async def test_a_baseline_dialog_is_announced_once(app: FastAPI, client: httpx.AsyncClient) -> None:
    await record(client)
    await record(client)
    found = await events(app)
    assert [shape(e) for e in found] == [
        {
            "type": "baseline-outcome-recorded",
            "source": "careplans",
            "subject": PATIENT,
            "occurred": "2026-01-05T09:00:00.000Z",
            "basedOn": REFERRAL,
        }
    ]
    assert found[0]["focus"].startswith("QuestionnaireResponse/")


async def test_a_baseline_without_a_referral_names_only_the_person(app: FastAPI, client: httpx.AsyncClient) -> None:
    await record(client, dialog(based_on=None))
    assert "basedOn" not in (await events(app))[0]


async def test_the_first_session_starts_the_intervention_and_activation_completes_the_plan(
    app: FastAPI, client: httpx.AsyncClient, clock: FixedClock
) -> None:
    plan = await first_session(client, domain(), agreement("2026-01-05T09:40:00Z"), *full_content())
    clock.advance(minutes=10)
    activated = (await operate(client, plan, "activate")).json()
    later = await run_session(
        client,
        session(dialog(), review(activated["activity"][0]["id"]), domain("leisure", action()), agreement()),
        version=activated["meta"]["versionId"],
        status=200,
    )
    assert later.json()["status"] == "active"
    kinds = [(e["type"], e["occurred"], e.get("basedOn")) for e in await events(app)]
    assert kinds == [
        ("baseline-outcome-recorded", "2026-01-05T09:00:00.000Z", REFERRAL),
        ("intervention-started", "2026-01-05T09:00:00.000Z", REFERRAL),
        ("coproduced-careplan-completed", "2026-01-05T09:40:00.000Z", REFERRAL),
    ]


async def test_activating_a_crisis_plan_is_not_a_coproduced_care_plan(app: FastAPI, client: httpx.AsyncClient) -> None:
    plan = await create_plan(client, crisis_plan())
    assert (await operate(client, plan, "activate", agreement())).status_code == 200
    assert await events(app) == []


async def test_refused_requests_announce_nothing(app: FastAPI, client: httpx.AsyncClient) -> None:
    body = dialog()
    body["item"].pop()
    assert (await client.post("/fhir/QuestionnaireResponse", json=body, headers=FHIR)).status_code == 422
    too_many = session(dialog(), *(domain(i) for i in ("leisure", "accommodation", "friendships", "medication")))
    assert (await run_session(client, too_many)).status_code == 422
    assert await events(app) == []


async def test_the_dispatcher_delivers_events_to_the_gateway(
    app: FastAPI, client: httpx.AsyncClient, clock: FixedClock
) -> None:
    await record(client)
    delivered: list[bytes] = []

    def gateway(request: httpx.Request) -> httpx.Response:
        delivered.append(request.content)
        return httpx.Response(200)

    target = httpx.AsyncClient(transport=httpx.MockTransport(gateway))
    dispatcher = Dispatcher(
        app.state.database, tables.outbox, "http://gateway.test/internal/events", clock, client=target
    )
    assert await dispatcher.dispatch_once() == 1
    assert await dispatcher.dispatch_once() == 0
    assert b'"type":"baseline-outcome-recorded"' in delivered[0]
    assert await events(app) == []


# ---------------------------------------------------------------- the referral clock, end to end in-process


@pytest.fixture
async def referrals(engine: str, tmp_path: Path, clock: FixedClock) -> AsyncIterator[httpx.AsyncClient]:
    """A referrals service on its own migrated database, for the contract test."""
    async with migrated_database("referrals", engine, tmp_path) as url:
        application = referrals_app(ReferralsSettings(database_url=url, run_background_tasks=False), clock)
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://referrals.test") as c:
            yield c
        await empty_tables(application.state.database, referrals_metadata)
        await application.state.database.dispose()


async def clock_of(referrals: httpx.AsyncClient, referral_id: str) -> dict[str, Any]:
    response = await referrals.get(f"/fhir/ServiceRequest/{referral_id}/$waiting-time")
    assert response.status_code == 200, response.text
    return {p["name"]: p for p in response.json()["parameter"]}


async def test_careplan_events_stop_the_referral_clock_when_the_last_condition_is_met(
    app: FastAPI, client: httpx.AsyncClient, referrals: httpx.AsyncClient, clock: FixedClock
) -> None:
    """FR-50 with FR-12: seen and assessed, then baseline DIALOG, then the DIALOG+ session; the clock
    stops only at the session, the last of the conditions."""
    created, task = await referral_builders.referral_with_episode(referrals)
    support = await create_plan(client, waiting_support_plan())
    support = (await operate(client, support, "activate", agreement())).json()
    accept = referral_builders.params(
        waitingSupport=f"CarePlan/{support['id']}", supportOffered="Weekly check-in calls while waiting"
    )
    accepted = await referral_builders.operate(referrals, task, "accept", accept)
    assert accepted.status_code == 200, accepted.text
    contact = referral_builders.contact(created["id"], "2026-01-06T10:00:00Z", "contact", "assessment")
    assert (await referrals.post("/fhir/Encounter", json=contact, headers=FHIR)).status_code == 201
    dispatcher = Dispatcher(
        app.state.database,
        tables.outbox,
        "http://referrals.test/internal/events",
        clock,
        client=referrals,
    )
    referral = f"ServiceRequest/{created['id']}"
    await record(client, dialog(based_on=referral, authored="2026-01-07T11:00:00Z"))
    assert await dispatcher.dispatch_once() == 1
    assert "clockStop" not in await clock_of(referrals, created["id"])
    assert await dispatcher.dispatch_once() == 0
    body = session(dialog(based_on=referral, authored="2026-01-08T14:00:00Z"), domain())
    body["parameter"].append({"name": "date", "valueDateTime": "2026-01-08T14:00:00Z"})
    assert (await run_session(client, body)).status_code == 201
    assert await dispatcher.dispatch_once() == 1  # the follow-up DIALOG is not a baseline; the session is
    stopped = await clock_of(referrals, created["id"])
    assert stopped["clockStop"]["valueDateTime"] == "2026-01-08T14:00:00.000Z"
