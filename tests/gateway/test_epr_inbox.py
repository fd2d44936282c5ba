"""What reaches each simulated EPR: Subscriptions deliver events, routed by trust (FR-67, FR-73).

The referrals service's outbox goes to the gateway, the gateway's deliverer posts each event to
the EPR interface, and the interface stores it in the inbox of the sending team's trust, the
receiving team's trust and the person's responsible trust.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.epr.inbox import TOPICS, ensure_epr_subscriptions
from gateway.events import Deliverer
from gateway.identity import LOCAL_MRN
from gateway.main import create_app as gateway_app
from gateway.main import own_token
from gateway.settings import Settings as GatewaySettings
from gateway.tables import EXT_BOROUGH
from services.kit.clock import FixedClock
from services.kit.outbox import Dispatcher
from services.kit.testing import assert_outcome
from services.referrals.persistence.tables import outbox
from tests.gateway.conftest import (
    CAREPLANS,
    GATEWAY,
    REFERRALS,
    TRANSITIONS,
    GatewayFactory,
    Network,
    _forget_gateway_records,
    client_for,
)
from tests.referrals.builders import ACCEPT_WITH_SUPPORT, FHIR, episode, operate, referral, task_for

pytestmark = pytest.mark.usefixtures("engine")


@pytest.fixture
async def world(make_gateway: GatewayFactory, network: Network, clock: FixedClock) -> Any:
    """The gateway on the network (so its deliverer reaches its own EPR interface), subscribed."""
    gateway = await make_gateway()
    network.attach("gateway.test", gateway)
    assert await ensure_epr_subscriptions(gateway.state.database, GATEWAY, clock.now()) == len(TOPICS)
    return gateway


@pytest.fixture
async def gw(world: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(world) as client:
        yield client


@pytest.fixture
async def flush(world: Any, referrals: Any, network: Network, clock: FixedClock) -> AsyncIterator[Any]:
    """Move events along: the referrals outbox to the gateway, the gateway's deliveries to receivers."""
    http = httpx.AsyncClient(transport=network)
    dispatcher = Dispatcher(referrals.state.database, outbox, f"{GATEWAY}/internal/events", clock, client=http)
    deliverer = Deliverer(world.state.database, clock, client=http)

    async def run() -> None:
        await dispatcher.dispatch_once()
        await deliverer.deliver_once()

    yield run
    await http.aclose()


async def register(client: httpx.AsyncClient, borough: str, instance: str, number: str) -> str:
    body = {
        "resourceType": "Patient",
        "identifier": [{"system": LOCAL_MRN[instance], "value": number}],
        "birthDate": "1990-04-01",
        "extension": [{"url": EXT_BOROUGH, "valueCode": borough}],
    }
    response = await client.post(f"/epr/{instance}/Patient", json=body, headers=FHIR)
    assert response.status_code == 201, response.text
    return f"Patient/{response.json()['id']}"


async def inbox(client: httpx.AsyncClient, instance: str, **query: str) -> list[dict[str, Any]]:
    response = await client.get(f"/epr/{instance}/inbox", params=query)
    assert response.status_code == 200, response.text
    assert response.json()["total"] == len(response.json()["events"])
    events: list[dict[str, Any]] = response.json()["events"]
    return events


async def test_accepting_a_referral_notifies_the_sending_teams_epr_once(
    gw: httpx.AsyncClient, flush: Any, clock: FixedClock
) -> None:
    """FR-73: accepting a referral delivers one notification to the sending team's EPR."""
    patient = await register(gw, "barnet", "beh", "BEH0001")
    assert (await gw.post("/fhir/EpisodeOfCare", json=episode(patient=patient), headers=FHIR)).status_code == 201
    created = await gw.post("/fhir/ServiceRequest", json=referral(subject=patient), headers=FHIR)
    assert created.status_code == 201, created.text
    task = await task_for(gw, created.json()["id"])
    assert (await operate(gw, task, "accept", ACCEPT_WITH_SUPPORT)).status_code == 200
    await flush()
    await flush()  # a second round delivers nothing twice
    accepted = await inbox(gw, "beh", type="referral-accepted")
    assert len(accepted) == 1
    assert accepted[0]["event"]["focus"] == f"ServiceRequest/{created.json()['id']}"
    assert accepted[0]["event"]["requesterTeam"] == "HealthcareService/barnet-core-north"
    assert "the sending team" in accepted[0]["routedBecause"]
    assert [e["type"] for e in await inbox(gw, "beh", subject=patient)] == ["referral-received", "referral-accepted"]
    assert await inbox(gw, "ci") == []  # a Barnet resident referred between Barnet teams: not C&I's


async def test_a_referral_across_trusts_reaches_both_eprs(gw: httpx.AsyncClient, flush: Any) -> None:
    """A Camden resident on a Barnet caseload referred to Camden: both trusts' EPRs hear of it."""
    patient = await register(gw, "camden", "ci", "CI0001")
    assert (await gw.post("/fhir/EpisodeOfCare", json=episode(patient=patient), headers=FHIR)).status_code == 201
    body = referral(performer="HealthcareService/camden-eip", subject=patient)
    assert (await gw.post("/fhir/ServiceRequest", json=body, headers=FHIR)).status_code == 201
    await flush()
    [to_beh] = await inbox(gw, "beh", type="referral-received")
    [to_ci] = await inbox(gw, "ci", type="referral-received")
    assert to_beh["routedBecause"] == ["the sending team"]
    assert set(to_ci["routedBecause"]) == {"the receiving team", "the person's responsible trust"}


async def test_a_plan_for_a_camden_resident_lands_in_the_ci_epr(
    gw: httpx.AsyncClient, flush: Any, clock: FixedClock
) -> None:
    """FR-67: writes are routed by the person's responsible trust (here a care-plan event)."""
    patient = await register(gw, "camden", "beh", "BEH0777")  # registered by BEH, resident in Camden
    event = {
        "id": str(uuid.uuid4()),
        "type": "coproduced-careplan-completed",
        "source": "careplans",
        "subject": patient,
        "occurred": "2026-01-05T09:00:00.000Z",
        "focus": "CarePlan/plan-1",
    }
    assert (await gw.post("/internal/events", json=event)).status_code == 200
    await flush()
    [landed] = await inbox(gw, "ci", type="coproduced-careplan-completed")
    assert landed["event"]["focus"] == "CarePlan/plan-1"
    assert landed["routedBecause"] == ["the person's responsible trust"]
    assert await inbox(gw, "beh") == []


async def test_an_event_that_concerns_neither_trust_is_acknowledged_and_not_stored(gw: httpx.AsyncClient) -> None:
    event = {"id": "e-external", "type": "referral-received", "requester": "Organization/las", "subject": "Patient/x"}
    response = await gw.post("/epr/events", json=event)
    assert response.status_code == 200
    assert "neither" in response.json()["issue"][0]["diagnostics"]
    assert await inbox(gw, "beh") == await inbox(gw, "ci") == []


async def test_an_instance_inbox_stores_each_event_once(gw: httpx.AsyncClient) -> None:
    event = {"id": "e-1", "type": "referral-accepted", "subject": "Patient/p-1"}
    for _ in range(2):
        assert (await gw.post("/epr/ci/inbox", json=event)).status_code == 200
    assert (await gw.post("/epr/ci/inbox", json={**event, "id": "e-2", "type": "referral-declined"})).status_code == 200
    assert [e["id"] for e in await inbox(gw, "ci")] == ["e-1", "e-2"]
    assert [e["id"] for e in await inbox(gw, "ci", type="referral-declined")] == ["e-2"]
    assert [e["id"] for e in await inbox(gw, "ci", subject="p-1")] == ["e-1", "e-2"]
    assert await inbox(gw, "ci", subject="Patient/p-2") == []


async def test_bad_inbox_requests_are_operation_outcomes(gw: httpx.AsyncClient) -> None:
    assert_outcome(await gw.post("/epr/ci/inbox", json={"type": "referral-accepted"}), 400, "invalid", "id")
    assert_outcome(await gw.post("/epr/events", content=b"not json"), 400, "invalid")
    assert_outcome(await gw.post("/epr/nowhere/inbox", json={"id": "e", "type": "t"}), 404, "not-found", "instance")
    assert_outcome(await gw.get("/epr/beh/inbox", params={"since": "today"}), 400, "invalid", "since")


async def test_subscribing_the_epr_interface_again_creates_nothing(world: Any, clock: FixedClock) -> None:
    assert await ensure_epr_subscriptions(world.state.database, GATEWAY, clock.now()) == 0
    # a new address repoints the same Subscriptions
    assert await ensure_epr_subscriptions(world.state.database, "http://gateway.other", clock.now()) == 0
    async with client_for(world) as client:
        found = (await client.get("/fhir/Subscription", params={"url": "http://gateway.other/epr/events"})).json()
    assert found["total"] == len(TOPICS)


async def test_with_tokens_the_deliverer_reaches_the_epr_interface_with_its_own_token(
    dev_keys: Path, gateway_url: str, clock: FixedClock
) -> None:
    """The gateway's deliverer must send its own token to its own EPR interface (the `trusted`
    endpoints of gateway.main's Deliverer include `<gateway>/epr/`); without it the interface
    refuses the delivery (401) and the event waits for a retry."""
    gateway = gateway_app(
        GatewaySettings(
            database_url=gateway_url,
            referrals_url=REFERRALS,
            careplans_url=CAREPLANS,
            transitions_url=TRANSITIONS,
            run_background_tasks=False,
            auth_public_key_file=str(dev_keys / "jwt-public.pem"),
            auth_private_key_file=str(dev_keys / "jwt-private.pem"),
            clients_file=str(dev_keys / "dev-clients.json"),
        ),
        clock,
    )
    network = Network({"gateway.test": gateway})
    http = httpx.AsyncClient(transport=network)
    try:
        await ensure_epr_subscriptions(gateway.state.database, GATEWAY, clock.now())
        token = own_token(gateway)
        event = {"id": "e-secured", "type": "referral-received", "requester": "PractitionerRole/camden-eip-worker"}
        assert (await http.post(f"{GATEWAY}/internal/events", json=event, headers=token())).status_code == 200
        untrusted = Deliverer(gateway.state.database, clock, client=http, authorization=token)
        assert await untrusted.deliver_once() == 0
        clock.advance(seconds=5)
        trusted = Deliverer(
            gateway.state.database,
            clock,
            client=http,
            authorization=token,
            trusted=lambda endpoint: endpoint.startswith(f"{GATEWAY}/epr/"),
        )
        assert await trusted.deliver_once() == 1
        listed = await http.get(f"{GATEWAY}/epr/ci/inbox", headers=token())
        assert [e["id"] for e in listed.json()["events"]] == ["e-secured"]
    finally:
        await http.aclose()
        await _forget_gateway_records(gateway.state.database)
        await gateway.state.services.close()
        await gateway.state.database.dispose()
