"""The waiting clock as NHS England defines it, escalation, and the patient tracking list."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from services.kit.clock import FixedClock
from services.kit.testing import assert_outcome
from tests.referrals.builders import (
    ACCEPT_WITH_SUPPORT,
    FHIR,
    contact,
    create_referral,
    open_episode,
    operate,
    referral,
    referral_with_episode,
    task_for,
)
from tests.referrals.events import careplan_event, send, upsert_patient


async def waiting(client: httpx.AsyncClient, referral_id: str) -> dict[str, Any]:
    response = await client.get(f"/fhir/ServiceRequest/{referral_id}/$waiting-time")
    assert response.status_code == 200, response.text
    values: dict[str, Any] = {}
    for p in response.json()["parameter"]:
        if p["name"] == "condition":
            parts = {x["name"]: x for x in p["part"]}
            values.setdefault("conditions", {})[parts["name"]["valueCode"]] = parts["met"]["valueBoolean"]
        else:
            values[p["name"]] = next(v for k, v in p.items() if k.startswith("value"))
    return values


async def record(client: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/fhir/Encounter", json=body, headers=FHIR)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def test_the_clock_stops_only_when_the_last_condition_is_met(client: httpx.AsyncClient) -> None:
    """FR-12: seen, assessed, baseline outcome: no stop; a co-produced plan then stops it at that time."""
    created, task = await referral_with_episode(client)
    await operate(client, task, "accept", ACCEPT_WITH_SUPPORT)
    rid = created["id"]
    await record(client, contact(rid, "2026-01-12T10:00:00Z", "contact", "assessment"))
    await send(
        client,
        careplan_event("baseline-outcome-recorded", "2026-01-13T11:00:00Z", based_on=f"ServiceRequest/{rid}"),
    )
    state = await waiting(client, rid)
    assert "clockStop" not in state
    assert state["conditions"] == {
        "seen": True,
        "assessed": True,
        "baseline-outcome": True,
        "intervention-or-careplan": False,
    }
    await send(
        client,
        careplan_event("coproduced-careplan-completed", "2026-01-20T15:30:00Z", based_on=f"ServiceRequest/{rid}"),
    )
    state = await waiting(client, rid)
    assert state["clockStop"] == "2026-01-20T15:30:00.000Z"
    assert (await task_for(client, rid))["businessStatus"]["coding"][0]["code"] == "started"


async def test_a_letter_is_not_being_seen(client: httpx.AsyncClient) -> None:
    """FR-12(a): seen means face to face, telephone or video."""
    created, _ = await referral_with_episode(client)
    await record(client, contact(created["id"], "2026-01-12T10:00:00Z", "assessment", mode="letter"))
    state = await waiting(client, created["id"])
    assert state["conditions"]["seen"] is False


async def test_a_repeated_event_changes_nothing(client: httpx.AsyncClient) -> None:
    """FR-50: receivers deduplicate by event id."""
    created, _ = await referral_with_episode(client)
    event = careplan_event(
        "baseline-outcome-recorded", "2026-01-13T11:00:00Z", based_on=f"ServiceRequest/{created['id']}"
    )
    first = await send(client, event)
    second = await send(client, event)
    assert first.json()["issue"][0]["diagnostics"] == "applied"
    assert second.json()["issue"][0]["diagnostics"] == "already applied"


async def test_an_event_without_a_referral_applies_to_the_persons_open_referrals(
    client: httpx.AsyncClient,
) -> None:
    created, _ = await referral_with_episode(client)
    await send(client, careplan_event("baseline-outcome-recorded", "2026-01-13T11:00:00Z"))
    assert (await waiting(client, created["id"]))["conditions"]["baseline-outcome"] is True


async def test_a_referral_received_29_days_ago_breaches_four_weeks(
    client: httpx.AsyncClient, clock: FixedClock
) -> None:
    """FR-13."""
    created, _ = await referral_with_episode(client)
    clock.advance(days=28)
    state = await waiting(client, created["id"])
    assert (state["daysWaiting"], state["breach"]) == (28, False)
    clock.advance(days=1)
    state = await waiting(client, created["id"])
    assert (state["daysWaiting"], state["breach"]) == (29, True)


async def test_first_and_second_contact_times_are_reported_in_days(client: httpx.AsyncClient) -> None:
    """FR-14."""
    created, _ = await referral_with_episode(client)
    await record(client, contact(created["id"], "2026-01-09T10:00:00Z", "contact", mode="telephone"))
    await record(client, contact(created["id"], "2026-01-19T10:00:00Z", "contact", mode="video"))
    state = await waiting(client, created["id"])
    assert (state["daysToFirstContact"], state["daysToSecondContact"]) == (4, 14)


async def test_a_very_urgent_crisis_referral_seen_at_five_hours_misses_its_target(
    client: httpx.AsyncClient,
) -> None:
    """FR-21: very urgent CRHTT referrals are seen within 4 hours."""
    await open_episode(client)
    created = await create_referral(client, referral(performer="HealthcareService/barnet-crhtt", priority="asap"))
    await record(client, contact(created["id"], "2026-01-05T14:00:00Z", "assessment"))
    state = await waiting(client, created["id"])
    assert (state["responseTargetHours"], state["responseTargetMet"]) == (4, False)


async def test_escalation_creates_exactly_one_task_and_a_decision_closes_it(
    client: httpx.AsyncClient, app: Any, clock: FixedClock
) -> None:
    """FR-5: past the decision deadline (5 working days) exactly one escalation; a decision completes it."""
    from services.referrals.main import run_sweep

    _, task = await referral_with_episode(client)  # Monday 5 January
    clock.advance(days=6)  # Sunday 11 January: four working days have passed
    assert await run_sweep(app) == 0
    clock.advance(days=1)  # Monday 12 January: five working days
    assert await run_sweep(app) == 1
    assert await run_sweep(app) == 0
    escalations = (await client.get("/fhir/Task", params={"code": "acceptance-decision-escalation"})).json()
    assert escalations["total"] == 1
    escalation = escalations["entry"][0]["resource"]
    assert escalation["status"] == "requested"
    assert escalation["owner"]["reference"] == "PractitionerRole/barnet-psychosis-lead"
    await operate(client, task, "accept", ACCEPT_WITH_SUPPORT)
    closed = (await client.get(f"/fhir/Task/{escalation['id']}")).json()
    assert closed["status"] == "completed"


async def test_the_sweep_reads_the_queue_a_page_at_a_time_and_misses_no_one(
    client: httpx.AsyncClient, app: Any, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Five overdue referrals, pages of two: each gets exactly one escalation; a recent one gets none."""
    from services.referrals.main import run_sweep
    from services.referrals.service import worklists

    monkeypatch.setattr(worklists, "SWEEP_PAGE", 2)
    await open_episode(client)
    for _ in range(5):
        await create_referral(client, referral())
    clock.advance(days=7)  # Monday 12 January: five working days for the first five
    await create_referral(client, referral())  # received today: nothing due
    assert await run_sweep(app) == 5
    assert await run_sweep(app) == 0
    escalations = (await client.get("/fhir/Task", params={"code": "acceptance-decision-escalation"})).json()
    assert escalations["total"] == 5
    assert len({e["resource"]["focus"]["reference"] for e in escalations["entry"]}) == 5


async def test_the_tracking_list_shows_waiting_people_and_drops_stopped_clocks(
    client: httpx.AsyncClient,
) -> None:
    """FR-26."""
    await upsert_patient(client, "p-1", borough="barnet", birth_date="1990-01-01")
    await upsert_patient(client, "p-2", borough="camden", birth_date="2010-01-01")
    first, first_task = await referral_with_episode(client)
    await operate(client, first_task, "accept", ACCEPT_WITH_SUPPORT)
    await open_episode(client, team="HealthcareService/camden-core-north", patient="Patient/p-2")
    await create_referral(
        client,
        referral(
            performer="HealthcareService/camden-eip",
            subject="Patient/p-2",
            requester="PractitionerRole/camden-core-north-worker",
        ),
    )
    rows = await ptl(client)
    assert len(rows) == 2
    barnet = await ptl(client, borough="barnet")
    assert [r["patient"]["valueReference"]["reference"] for r in barnet] == ["Patient/p-1"]
    assert barnet[0]["interimSupport"]["valueCode"] == "interim-support"
    assert "lastWaitingCommunication" in barnet[0]
    assert [r["patient"]["valueReference"]["reference"] for r in await ptl(client, **{"age-band": "0-17"})] == [
        "Patient/p-2"
    ]
    rid = first["id"]
    await record(client, contact(rid, "2026-01-06T10:00:00Z", "contact", "assessment", "clinical-intervention"))
    await send(
        client,
        careplan_event("baseline-outcome-recorded", "2026-01-06T11:00:00Z", based_on=f"ServiceRequest/{rid}"),
    )
    assert [r["patient"]["valueReference"]["reference"] for r in await ptl(client)] == ["Patient/p-2"]


async def ptl(client: httpx.AsyncClient, **query: str) -> list[dict[str, Any]]:
    response = await client.get("/fhir/ServiceRequest/$ptl", params=query)
    assert response.status_code == 200, response.text
    return [{p["name"]: p for p in row["part"]} for row in response.json()["parameter"] if row["name"] == "row"]


async def test_the_tracking_list_refuses_unknown_filters(client: httpx.AsyncClient) -> None:
    response = await client.get("/fhir/ServiceRequest/$ptl", params={"colour": "blue"})
    assert_outcome(response, 400, "invalid", "colour")


async def test_cancelling_a_planned_appointment_notifies_the_person_once(client: httpx.AsyncClient, app: Any) -> None:
    """FR-28."""
    from sqlalchemy import select

    from services.referrals.persistence.tables import outbox

    created, _ = await referral_with_episode(client)
    planned = await record(client, contact(created["id"], "2026-01-20T10:00:00Z", status="planned"))
    planned["status"] = "cancelled"
    response = await client.put(f"/fhir/Encounter/{planned['id']}", json=planned, headers={**FHIR, "If-Match": 'W/"1"'})
    assert response.status_code == 200, response.text
    async with app.state.database.session(writing=False) as session:
        kinds = list((await session.execute(select(outbox.c.event_type))).scalars())
    assert kinds.count("appointment-cancelled") == 1


async def test_the_expected_wait_is_the_services_recent_median(client: httpx.AsyncClient, clock: FixedClock) -> None:
    """FR-15: once the service has enough finished waits, people are told its median."""
    for n, days in enumerate((10, 12, 14, 16, 40)):
        patient = f"Patient/m-{n}"
        await open_episode(client, patient=patient)
        created = await create_referral(client, referral(subject=patient))
        rid = created["id"]
        stop = f"2026-01-{5 + days:02d}T09:00:00Z" if 5 + days <= 31 else f"2026-02-{5 + days - 31:02d}T09:00:00Z"
        await record(client, contact(rid, stop, "contact", "assessment", "clinical-intervention", subject=patient))
        await send(
            client,
            careplan_event("baseline-outcome-recorded", stop, subject=patient, based_on=f"ServiceRequest/{rid}"),
        )
    clock.advance(days=60)
    created, task = await referral_with_episode(client)
    await operate(client, task, "accept", ACCEPT_WITH_SUPPORT)
    letter = (await client.get("/fhir/Communication", params={"based-on": f"ServiceRequest/{created['id']}"})).json()
    text = " ".join(p["contentString"] for p in letter["entry"][0]["resource"]["payload"])
    assert "about 14 days" in text


async def test_contacts_need_their_referral(client: httpx.AsyncClient) -> None:
    body = contact("no-such-referral", "2026-01-12T10:00:00Z", "contact")
    assert_outcome(await client.post("/fhir/Encounter", json=body, headers=FHIR), 422, None, "Encounter.basedOn")


async def test_a_finished_contact_says_how_the_person_was_seen(client: httpx.AsyncClient) -> None:
    created, _ = await referral_with_episode(client)
    body = contact(created["id"], "2026-01-12T10:00:00Z", "assessment")
    body["type"] = body["type"][1:]
    assert_outcome(await client.post("/fhir/Encounter", json=body, headers=FHIR), 422, None, "Encounter.type")


async def test_the_automatic_start_is_recorded_as_made_by_the_clock(client: httpx.AsyncClient) -> None:
    """FR-4: every state change names who (or what) made it."""
    created, task = await referral_with_episode(client)
    await operate(client, task, "accept", ACCEPT_WITH_SUPPORT)
    rid = created["id"]
    await record(client, contact(rid, "2026-01-06T10:00:00Z", "contact", "assessment", "clinical-intervention"))
    await send(
        client, careplan_event("baseline-outcome-recorded", "2026-01-06T11:00:00Z", based_on=f"ServiceRequest/{rid}")
    )
    started = await task_for(client, rid)
    actor = next(e for e in started["extension"] if e["url"].endswith("changed-by"))
    assert actor["valueReference"] == {"display": "Continuum (the waiting clock stopped)"}


async def test_another_persons_outcome_never_moves_a_referrals_clock(client: httpx.AsyncClient) -> None:
    """FR-12: an event naming someone else (or an unknown referral) is acknowledged and ignored."""
    created, _ = await referral_with_episode(client)
    rid = created["id"]
    other = careplan_event(
        "baseline-outcome-recorded",
        "2026-01-06T11:00:00Z",
        subject="Patient/someone-else",
        based_on=f"ServiceRequest/{rid}",
    )
    assert (await send(client, other)).json()["issue"][0]["diagnostics"] == "applied"
    unknown = careplan_event("baseline-outcome-recorded", "2026-01-06T11:00:00Z", based_on="ServiceRequest/nowhere")
    await send(client, unknown)
    assert (await waiting(client, rid))["conditions"]["baseline-outcome"] is False
