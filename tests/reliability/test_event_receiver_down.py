"""Item 6: an event receiver that is down for a while gets every event once it is back, with an idempotent effect.

Both hops of an event are taken down in turn, in-process with a clock the test moves:
- gateway → service: the referrals and care-plans services are unreachable while people are
  registered at the gateway and a care-plan milestone is reported. The gateway keeps retrying
  (with backoff); once the services are back every event arrives and takes effect (the person's
  facts in both, the waiting clock's milestone). Delivered all over again (an acknowledgement lost
  on the way back), nothing changes a second time.
- service → gateway: the gateway is unreachable while referrals are created. The referrals outbox
  keeps the events; once the gateway is back every one is recorded there, once, however many
  times it is sent.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select, update

from gateway import tables as gateway_tables
from gateway.events import Deliverer
from services.careplans.persistence import tables as careplans_tables
from services.kit.outbox import Dispatcher
from services.referrals.persistence import tables as referral_tables
from tests.e2e.conftest import nhs_number, patient
from tests.gateway.conftest import GATEWAY
from tests.referrals.builders import episode, referral
from tests.reliability.conftest import FHIR, Deployment, DeploymentFactory

PEOPLE = 5
REFERRALS = 5
ROUNDS_DOWN = 4
MAX_ROUNDS = 20


async def _count(app: FastAPI, statement: Any) -> int:
    async with app.state.database.session(writing=False) as session:
        return int((await session.execute(statement)).scalar_one())


def _rows(table: Any) -> Any:
    return select(func.count()).select_from(table)


async def _deliver_until_done(deployment: Deployment) -> int:
    """Run the gateway's delivery rounds, the clock moving on past each backoff, until nothing is pending."""
    delivery = gateway_tables.delivery
    delivered = 0
    async with httpx.AsyncClient(transport=deployment.network) as client:
        deliverer = Deliverer(deployment.gateway.state.database, deployment.clock, client=client)
        for _ in range(MAX_ROUNDS):
            delivered += await deliverer.deliver_once()
            if not await _count(deployment.gateway, _rows(delivery).where(delivery.c.delivered_at.is_(None))):
                return delivered
            deployment.clock.advance(minutes=5)
    raise AssertionError("deliveries still pending")


async def test_a_service_that_was_down_gets_every_event_once_back_and_applies_each_once(
    make_deployment: DeploymentFactory,
) -> None:
    deployment = await make_deployment()
    gateway = deployment.client()
    referrals, careplans = deployment.apps["referrals"], deployment.apps["careplans"]
    assert (await gateway.post("/fhir/EpisodeOfCare", json=episode(), headers=FHIR)).status_code == 201
    waiting = await gateway.post("/fhir/ServiceRequest", json=referral(), headers=FHIR)
    assert waiting.status_code == 201, waiting.text

    deployment.network.down |= {"referrals.internal", "careplans.internal"}
    for _ in range(PEOPLE):
        registered = await gateway.post("/fhir/Patient", json=patient(nhs_number(970_000_000)), headers=FHIR)
        assert registered.status_code == 201, registered.text
    milestone = {
        "id": str(uuid.uuid4()),
        "type": "baseline-outcome-recorded",
        "source": "careplans",
        "time": "2026-01-05T09:00:00.000Z",
        "subject": "Patient/p-1",
        "basedOn": f"ServiceRequest/{waiting.json()['id']}",
    }
    assert (await gateway.post("/internal/events", json=milestone)).status_code == 200

    async with httpx.AsyncClient(transport=deployment.network) as client:
        deliverer = Deliverer(deployment.gateway.state.database, deployment.clock, client=client)
        for _ in range(ROUNDS_DOWN):  # down for a while: every attempt fails, nothing is dropped
            assert await deliverer.deliver_once() == 0
            deployment.clock.advance(minutes=1)
    delivery = gateway_tables.delivery
    pending = await _count(deployment.gateway, _rows(delivery).where(delivery.c.delivered_at.is_(None)))
    assert pending == 2 * PEOPLE + 1  # each Patient event to both services, the milestone to referrals

    deployment.network.down -= {"referrals.internal", "careplans.internal"}
    assert await _deliver_until_done(deployment) == 2 * PEOPLE + 1
    inbox, facts, clock_event = referral_tables.inbox, referral_tables.patient_facts, referral_tables.clock_event
    effects = (
        _rows(inbox),
        _rows(facts),
        _rows(clock_event).where(clock_event.c.milestone == "baseline-outcome-recorded"),
    )
    applied = [await _count(referrals, statement) for statement in effects]
    assert applied[0] == PEOPLE + 1
    assert applied[1] >= PEOPLE
    assert applied[2] == 1
    in_careplans = (_rows(careplans_tables.inbox), _rows(careplans_tables.patient_facts))
    assert [await _count(careplans, statement) for statement in in_careplans] == [PEOPLE, PEOPLE]

    # The acknowledgements were lost: the gateway delivers everything again.
    async with deployment.gateway.state.database.session(writing=True) as session:
        await session.execute(update(delivery).values(delivered_at=None, next_attempt_at=deployment.clock.now()))
        await session.commit()
    assert await _deliver_until_done(deployment) == 2 * PEOPLE + 1
    assert [await _count(referrals, statement) for statement in effects] == applied
    assert [await _count(careplans, statement) for statement in in_careplans] == [PEOPLE, PEOPLE]


async def test_the_gateway_down_for_a_while_gets_every_outbox_event_once_back(
    make_deployment: DeploymentFactory,
) -> None:
    deployment = await make_deployment()
    referrals = deployment.apps["referrals"]
    direct = deployment.client("referrals")
    assert (await direct.post("/fhir/EpisodeOfCare", json=episode(), headers=FHIR)).status_code == 201
    for _ in range(REFERRALS):
        assert (await direct.post("/fhir/ServiceRequest", json=referral(), headers=FHIR)).status_code == 201
    outbox = referral_tables.outbox
    sent = await _count(referrals, _rows(outbox))
    assert sent >= REFERRALS

    gateway_host = httpx.URL(GATEWAY).host
    async with httpx.AsyncClient(transport=deployment.network) as client:
        dispatcher = Dispatcher(
            referrals.state.database, outbox, f"{GATEWAY}/internal/events", deployment.clock, client=client
        )
        deployment.network.down.add(gateway_host)
        for _ in range(ROUNDS_DOWN):
            assert await dispatcher.dispatch_once() == 0
            deployment.clock.advance(minutes=5)
        deployment.network.down.discard(gateway_host)
        delivered = 0
        for _ in range(MAX_ROUNDS):
            delivered += await dispatcher.dispatch_once()
            if delivered == sent:
                break
            deployment.clock.advance(minutes=5)
        assert delivered == sent

        events = gateway_tables.event_log
        logged = await _count(deployment.gateway, _rows(events))
        assert logged == sent
        queued = await _count(deployment.gateway, _rows(gateway_tables.delivery))

        # Sent all over again (the dispatcher never heard back): recorded and queued once only.
        async with referrals.state.database.session(writing=True) as session:
            await session.execute(update(outbox).values(delivered_at=None, next_attempt_at=deployment.clock.now()))
            await session.commit()
        assert await dispatcher.dispatch_once() == sent
    assert await _count(deployment.gateway, _rows(events)) == logged
    assert await _count(deployment.gateway, _rows(gateway_tables.delivery)) == queued
