"""Events through the gateway: Patient events reach the referrals and care-plans services; referral events reach the
sending team's EPR Subscription (FR-73), at least once, deduplicated, and held while a receiver is down."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import select

from gateway import tables as gateway_tables
from gateway.events import EXT_FILTER, TOPIC, Deliverer, ensure_internal_subscriptions
from gateway.identity import NHS_NUMBER
from services.kit.clock import FixedClock
from services.kit.outbox import Dispatcher
from services.kit.testing import assert_outcome
from services.referrals.domain.codes import EXT_COMMUNICATION_NEEDS
from services.referrals.persistence import tables as referrals_tables
from tests.gateway.conftest import CAREPLANS, GATEWAY, GATEWAY_BASE, REFERRALS, Network
from tests.referrals.builders import (
    ACCEPT_WITH_SUPPORT,
    FHIR,
    create_referral,
    open_episode,
    operate,
    referral,
    referral_with_episode,
)
from tests.referrals.events import patient as patient_resource

pytestmark = pytest.mark.usefixtures("engine")

BARNET_EPR = "http://epr-beh.test/fhir-hooks/referrals"
CAMDEN_EPR = "http://epr-ci.test/fhir-hooks/referrals"


class Receiver:
    """An external EPR's rest-hook endpoint: records what it is sent."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.events.append(orjson.loads(request.content))
        return httpx.Response(200)

    def of_type(self, event_type: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("type") == event_type]


def attach_receiver(network: Network, endpoint: str) -> Receiver:
    receiver = Receiver()
    network.attach(httpx.URL(endpoint).host, httpx.MockTransport(receiver))
    return receiver


def subscription(endpoint: str, topic: str = "referral-accepted", filter_: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resourceType": "Subscription",
        "status": "requested",
        "reason": "Tell our EPR about our referrals",
        "criteria": f"{TOPIC}/{topic}",
        "channel": {"type": "rest-hook", "endpoint": endpoint, "payload": "application/json"},
    }
    if filter_:
        body["extension"] = [{"url": EXT_FILTER, "valueString": filter_}]
    return body


async def subscribe(client: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/fhir/Subscription", json=body, headers=FHIR)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    assert response.headers["location"] == f"{GATEWAY_BASE}/Subscription/{created['id']}/_history/1"
    assert created["status"] == "active"
    return created


async def deliver(gateway: Any, network: Network, clock: FixedClock) -> int:
    """One round of the gateway's delivery loop."""
    async with httpx.AsyncClient(transport=network) as c:
        return await Deliverer(gateway.state.database, clock, client=c).deliver_once()


async def dispatch_referrals_outbox(referrals: Any, gateway: Any, clock: FixedClock) -> int:
    """One round of the referrals service's outbox dispatcher, delivering to the gateway."""
    async with httpx.AsyncClient(transport=Network({"gateway.test": gateway})) as c:
        dispatcher = Dispatcher(
            referrals.state.database, referrals_tables.outbox, f"{GATEWAY}/internal/events", clock, client=c
        )
        return await dispatcher.dispatch_once()


async def deliveries(gateway: Any) -> list[Any]:
    d = gateway_tables.delivery
    async with gateway.state.database.session(writing=False) as session:
        return list((await session.execute(select(d).order_by(d.c.id))).all())


def accepted_event(requester: str = "PractitionerRole/barnet-core-north-worker") -> dict[str, Any]:
    """A referral-accepted event as the referrals outbox writes it."""
    return {
        "id": str(uuid.uuid4()),
        "type": "referral-accepted",
        "source": "referrals",
        "time": "2026-01-05T09:00:00.000Z",
        "focus": "ServiceRequest/sr-1",
        "task": "Task/t-1",
        "subject": "Patient/p-1",
        "requester": requester,
        "performer": "HealthcareService/barnet-psychosis",
        "supportStatus": "support-offered",
    }


async def post_event(client: httpx.AsyncClient, event: dict[str, Any]) -> str:
    response = await client.post("/internal/events", json=event)
    assert response.status_code == 200, response.text
    diagnostics: str = response.json()["issue"][0]["diagnostics"]
    return diagnostics


# ------------------------------------------------------------------ Patient events to the referrals service


def registered(needs: str, **kw: Any) -> dict[str, Any]:
    """A Patient to register, with the facts the referrals service keeps."""
    body = patient_resource("ignored", needs=needs, **kw)
    body.pop("id")
    body["identifier"] = [{"system": NHS_NUMBER, "value": "9000000009"}]
    return body


async def test_registering_a_patient_queues_a_patient_upserted_delivery_to_referrals(
    client: httpx.AsyncClient, gateway: Any
) -> None:
    response = await client.post("/fhir/Patient", json=registered("Large print letters"), headers=FHIR)
    assert response.status_code == 201, response.text
    patient = response.json()
    rows = await deliveries(gateway)
    assert len(rows) == 1
    row = rows[0]
    assert row.subscription == "internal-referrals-patient-upserted"
    assert row.endpoint == "http://referrals.internal/internal/events"
    assert row.delivered_at is None
    event = orjson.loads(row.payload)
    assert event["type"] == "patient-upserted"
    assert event["subject"] == f"Patient/{patient['id']}"
    assert event["resource"] == patient


async def test_registering_a_patient_queues_a_patient_upserted_delivery_to_careplans(
    client: httpx.AsyncClient, gateway: Any, clock: FixedClock
) -> None:
    """FR-84: the care-plans measures' demographic strata come from the same Patient events."""
    urls = {"referrals": REFERRALS, "careplans": CAREPLANS}
    await ensure_internal_subscriptions(gateway.state.database, urls, clock.now())
    response = await client.post("/fhir/Patient", json=registered("Large print letters"), headers=FHIR)
    assert response.status_code == 201, response.text
    patient = response.json()
    rows = {row.subscription: row for row in await deliveries(gateway)}
    assert set(rows) == {"internal-referrals-patient-upserted", "internal-careplans-patient-upserted"}
    row = rows["internal-careplans-patient-upserted"]
    assert row.endpoint == "http://careplans.internal/internal/events"
    assert row.delivered_at is None
    event = orjson.loads(row.payload)
    assert (event["type"], event["subject"], event["resource"]) == (
        "patient-upserted",
        f"Patient/{patient['id']}",
        patient,
    )
    assert event["id"] == orjson.loads(rows["internal-referrals-patient-upserted"].payload)["id"]


async def test_a_delivered_patient_event_lets_referrals_record_the_communication_needs(
    client: httpx.AsyncClient, gateway: Any, network: Network, clock: FixedClock
) -> None:
    body = registered("Large print letters", interpreter=True, language="pl")
    patient = (await client.post("/fhir/Patient", json=body, headers=FHIR)).json()
    subject = f"Patient/{patient['id']}"
    assert await deliver(gateway, network, clock) == 1
    assert await deliver(gateway, network, clock) == 0
    await open_episode(client, patient=subject)
    created = await create_referral(client, referral(subject=subject))
    needs = next(e for e in created["extension"] if e["url"] == EXT_COMMUNICATION_NEEDS)
    assert {"url": "needs", "valueString": "Large print letters"} in needs["extension"]
    assert {"url": "interpreterRequired", "valueBoolean": True} in needs["extension"]
    assert {"url": "language", "valueCode": "pl"} in needs["extension"]

    updated = {**patient, **registered("Easy read", interpreter=False, language="pl"), "id": patient["id"]}
    response = await client.put(f"/fhir/Patient/{patient['id']}", json=updated, headers=FHIR)
    assert response.status_code == 200, response.text
    clock.advance(seconds=1)
    assert await deliver(gateway, network, clock) == 1
    later = await create_referral(client, referral(subject=subject, performer="HealthcareService/barnet-eip"))
    needs = next(e for e in later["extension"] if e["url"] == EXT_COMMUNICATION_NEEDS)
    assert {"url": "needs", "valueString": "Easy read"} in needs["extension"]


def carer_consent(status: str = "active") -> dict[str, Any]:
    """The person's decision to let their mother be told about their care."""
    return {
        "resourceType": "Consent",
        "status": status,
        "scope": {
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}]
        },
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
        "patient": {"reference": "Patient/p-1"},
        "provision": {
            "type": "permit",
            "actor": [{"role": {"coding": [{"code": "IRCP"}]}, "reference": {"reference": "RelatedPerson/mum"}}],
        },
    }


async def carer_letters(client: httpx.AsyncClient, referral_id: str) -> list[dict[str, Any]]:
    found = (await client.get("/fhir/Communication", params={"based-on": f"ServiceRequest/{referral_id}"})).json()
    return [
        e["resource"]
        for e in found.get("entry", [])
        if e["resource"]["recipient"] == [{"reference": "RelatedPerson/mum"}]
    ]


async def test_a_carers_consent_reaches_referrals_and_the_carer_gets_the_waiting_letter_until_revoked(
    client: httpx.AsyncClient, gateway: Any, network: Network, clock: FixedClock
) -> None:
    """FR-15 across the gateway: each Consent change is sent as the decision now stands for each carer it names."""
    given = await client.post("/fhir/Consent", json=carer_consent(), headers=FHIR)
    assert given.status_code == 201, given.text
    [row] = [r for r in await deliveries(gateway) if r.subscription == "internal-referrals-carer-sharing-changed"]
    event = orjson.loads(row.payload)
    assert (event["subject"], event["carer"], event["permitted"]) == ("Patient/p-1", "RelatedPerson/mum", True)
    assert await deliver(gateway, network, clock) == 1
    first, task = await referral_with_episode(client)
    assert (await operate(client, task, "accept", ACCEPT_WITH_SUPPORT)).status_code == 200
    assert len(await carer_letters(client, first["id"])) == 1

    clock.advance(minutes=5)
    revoked = {**given.json(), "status": "inactive"}
    assert (await client.put(f"/fhir/Consent/{revoked['id']}", json=revoked, headers=FHIR)).status_code == 200
    assert await deliver(gateway, network, clock) == 1
    second = await create_referral(client, referral(performer="HealthcareService/barnet-eip"))
    [later_task] = (
        await client.get("/fhir/Task", params={"focus": f"ServiceRequest/{second['id']}", "code": "referral"})
    ).json()["entry"]
    accepted = await operate(client, later_task["resource"], "accept", ACCEPT_WITH_SUPPORT)
    assert accepted.status_code == 200, accepted.text
    assert await carer_letters(client, second["id"]) == []


async def test_a_patient_event_waits_while_referrals_is_down(
    client: httpx.AsyncClient, gateway: Any, network: Network, clock: FixedClock
) -> None:
    patient = (await client.post("/fhir/Patient", json=registered("Braille"), headers=FHIR)).json()
    network.down.add("referrals.internal")
    assert await deliver(gateway, network, clock) == 0
    network.down.discard("referrals.internal")
    clock.advance(seconds=2)
    assert await deliver(gateway, network, clock) == 1
    subject = f"Patient/{patient['id']}"
    await open_episode(client, patient=subject)
    created = await create_referral(client, referral(subject=subject))
    needs = next(e for e in created["extension"] if e["url"] == EXT_COMMUNICATION_NEEDS)
    assert {"url": "needs", "valueString": "Braille"} in needs["extension"]


# ------------------------------------------------------------------ referral events to EPR subscriptions (FR-73)


async def test_subscriptions_need_a_rest_hook_endpoint_and_a_topic(client: httpx.AsyncClient) -> None:
    websocket = subscription(BARNET_EPR)
    websocket["channel"] = {"type": "websocket"}
    assert_outcome(
        await client.post("/fhir/Subscription", json=websocket, headers=FHIR), 400, "invalid", "Subscription.channel"
    )
    no_topic = {**subscription(BARNET_EPR), "criteria": "ServiceRequest?status=active"}
    assert_outcome(
        await client.post("/fhir/Subscription", json=no_topic, headers=FHIR), 400, "invalid", "Subscription.criteria"
    )


async def test_the_sending_teams_epr_is_told_once_when_its_referral_is_accepted(
    client: httpx.AsyncClient, gateway: Any, referrals: Any, network: Network, clock: FixedClock
) -> None:
    barnet = attach_receiver(network, BARNET_EPR)
    camden = attach_receiver(network, CAMDEN_EPR)
    await subscribe(client, subscription(BARNET_EPR, filter_="requesterTeam=HealthcareService/barnet-core-north"))
    await subscribe(client, subscription(CAMDEN_EPR, filter_="requesterTeam=HealthcareService/camden-core-north"))
    created, task = await referral_with_episode(client)
    assert (await operate(client, task, "accept", ACCEPT_WITH_SUPPORT)).status_code == 200

    assert await dispatch_referrals_outbox(referrals, gateway, clock) >= 2
    assert await deliver(gateway, network, clock) == 1
    assert await deliver(gateway, network, clock) == 0

    assert camden.events == []
    assert len(barnet.events) == 1
    event = barnet.events[0]
    assert event["type"] == "referral-accepted"
    assert event["focus"] == f"ServiceRequest/{created['id']}"
    assert event["task"] == f"Task/{task['id']}"
    assert event["requesterTeam"] == "HealthcareService/barnet-core-north"


async def test_a_redispatched_outbox_event_reaches_the_epr_once(
    client: httpx.AsyncClient, gateway: Any, referrals: Any, network: Network, clock: FixedClock
) -> None:
    barnet = attach_receiver(network, BARNET_EPR)
    await subscribe(client, subscription(BARNET_EPR, filter_="requesterTeam=HealthcareService/barnet-core-north"))
    _, task = await referral_with_episode(client)
    await operate(client, task, "accept", ACCEPT_WITH_SUPPORT)
    async with referrals.state.database.session(writing=False) as session:
        pending = [
            orjson.loads(p) for p in (await session.execute(select(referrals_tables.outbox.c.payload))).scalars()
        ]
    accepted = next(e for e in pending if e["type"] == "referral-accepted")
    assert await dispatch_referrals_outbox(referrals, gateway, clock) == len(pending)
    assert await post_event(client, accepted) == "queued 0"  # the dispatcher's retry after a lost answer
    assert await deliver(gateway, network, clock) == 1
    assert len(barnet.of_type("referral-accepted")) == 1


async def test_a_receiver_that_is_down_gets_its_event_exactly_once_after_it_is_back(
    client: httpx.AsyncClient, gateway: Any, network: Network, clock: FixedClock
) -> None:
    barnet = attach_receiver(network, BARNET_EPR)
    await subscribe(client, subscription(BARNET_EPR))
    event = accepted_event()
    assert await post_event(client, event) == "queued 1"
    host = httpx.URL(BARNET_EPR).host
    network.down.add(host)
    assert await deliver(gateway, network, clock) == 0  # attempt 1 fails: next in 1 s
    clock.advance(seconds=1)
    assert await deliver(gateway, network, clock) == 0  # attempt 2 fails: next in 2 s
    (row,) = await deliveries(gateway)
    assert row.attempts == 2
    assert row.delivered_at is None
    assert (row.next_attempt_at - clock.now()).total_seconds() == 2
    network.down.discard(host)
    clock.advance(seconds=1)
    assert await deliver(gateway, network, clock) == 0  # back, but the backoff has not run out
    assert barnet.events == []
    clock.advance(seconds=1)
    assert await deliver(gateway, network, clock) == 1
    clock.advance(minutes=10)
    assert await deliver(gateway, network, clock) == 0
    assert [e["id"] for e in barnet.events] == [event["id"]]


async def test_a_backlog_larger_than_a_batch_is_delivered_without_waiting_out_the_interval(
    client: httpx.AsyncClient, gateway: Any, network: Network, clock: FixedClock
) -> None:
    """A full batch means more may be waiting: the next round starts at once, not an interval later."""
    barnet = attach_receiver(network, BARNET_EPR)
    await subscribe(client, subscription(BARNET_EPR))
    events = [accepted_event() for _ in range(5)]
    for event in events:
        assert await post_event(client, event) == "queued 1"
    all_delivered = asyncio.Event()

    async def counting(request: httpx.Request) -> httpx.Response:
        response = await network.handle_async_request(request)
        if len(barnet.events) == len(events):
            all_delivered.set()
        return response

    async with httpx.AsyncClient(transport=httpx.MockTransport(counting)) as c:
        running = asyncio.create_task(Deliverer(gateway.state.database, clock, client=c, batch_size=2).run(3600))
        try:
            async with asyncio.timeout(10):
                await all_delivered.wait()
        finally:
            running.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await running
    assert sorted(e["id"] for e in barnet.events) == sorted(e["id"] for e in events)


async def test_a_receiver_that_refuses_is_retried_like_one_that_is_down(
    client: httpx.AsyncClient, gateway: Any, network: Network, clock: FixedClock
) -> None:
    answers = iter([503, 500, 200])
    received: list[dict[str, Any]] = []

    def flaky(request: httpx.Request) -> httpx.Response:
        received.append(orjson.loads(request.content))
        return httpx.Response(next(answers))

    network.attach(httpx.URL(BARNET_EPR).host, httpx.MockTransport(flaky))
    await subscribe(client, subscription(BARNET_EPR))
    await post_event(client, accepted_event())
    assert await deliver(gateway, network, clock) == 0
    clock.advance(seconds=1)
    assert await deliver(gateway, network, clock) == 0
    clock.advance(seconds=2)
    assert await deliver(gateway, network, clock) == 1
    clock.advance(minutes=10)
    assert await deliver(gateway, network, clock) == 0
    assert len(received) == 3
    assert len({e["id"] for e in received}) == 1


async def test_the_same_event_posted_twice_is_queued_and_delivered_once(
    client: httpx.AsyncClient, gateway: Any, network: Network, clock: FixedClock
) -> None:
    barnet = attach_receiver(network, BARNET_EPR)
    await subscribe(client, subscription(BARNET_EPR))
    event = accepted_event()
    assert await post_event(client, event) == "queued 1"
    assert await post_event(client, event) == "queued 0"
    assert len(await deliveries(gateway)) == 1
    assert await deliver(gateway, network, clock) == 1
    assert [e["id"] for e in barnet.events] == [event["id"]]


async def test_an_epr_can_switch_its_subscription_off(
    client: httpx.AsyncClient, gateway: Any, network: Network, clock: FixedClock
) -> None:
    barnet = attach_receiver(network, BARNET_EPR)
    created = await subscribe(client, subscription(BARNET_EPR))
    response = await client.put(
        f"/fhir/Subscription/{created['id']}", json={**created, "status": "off"}, headers={**FHIR, "If-Match": 'W/"1"'}
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "off"
    assert await post_event(client, accepted_event()) == "queued 0"
    assert await deliver(gateway, network, clock) == 0
    assert barnet.events == []


async def test_a_slow_receiver_does_not_hold_up_other_requests(
    client: httpx.AsyncClient,
    gateway: Any,
    network: Network,
    clock: FixedClock,
    engine: str,
    request: pytest.FixtureRequest,
) -> None:

    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.5)
        return httpx.Response(200)

    network.attach(httpx.URL(BARNET_EPR).host, httpx.MockTransport(slow))
    await subscribe(client, subscription(BARNET_EPR))
    await post_event(client, accepted_event())

    async def read_meanwhile() -> float:
        await asyncio.sleep(0.05)
        started = time.monotonic()
        response = await client.get("/fhir/HealthcareService/camden-crisis-cafe")
        assert response.status_code == 200
        return time.monotonic() - started

    async with httpx.AsyncClient(transport=network) as c:
        delivered, took = await asyncio.gather(
            Deliverer(gateway.state.database, clock, client=c).deliver_once(), read_meanwhile()
        )
    assert delivered == 1
    assert took < 0.25, f"a directory read waited {took:.2f}s for event delivery"


async def test_an_event_for_a_topic_nobody_subscribed_to_is_recorded_but_not_queued(
    client: httpx.AsyncClient, gateway: Any, network: Network, clock: FixedClock
) -> None:
    barnet = attach_receiver(network, BARNET_EPR)
    await subscribe(client, subscription(BARNET_EPR, topic="referral-declined"))
    assert await post_event(client, accepted_event()) == "queued 0"
    assert await deliver(gateway, network, clock) == 0
    assert barnet.events == []
