"""One young person from the worklist to an evaluated case with the real gateway and referrals service
in-process: the transitions service reads caseloads and patients and sends its referrals through the
gateway, the referrals service takes them, and its referral-declined event comes back through a
gateway Subscription (FR-52 to FR-64 across the services)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import delete

from gateway.events import Deliverer
from gateway.main import create_app as gateway_app
from gateway.settings import Settings as GatewaySettings
from gateway.tables import metadata as gateway_metadata
from services.kit.clock import FixedClock
from services.kit.outbox import Outbox
from services.kit.testing import empty_tables, migrated_database
from services.referrals.main import create_app as referrals_app
from services.referrals.persistence import tables as referrals_tables
from services.referrals.settings import Settings as ReferralsSettings
from services.transitions.main import create_app as transitions_app
from services.transitions.persistence.tables import metadata as transitions_metadata
from services.transitions.settings import Settings as TransitionsSettings
from tests.transitions.builders import (
    ACTION,
    CORE_TEAM,
    DISCUSSION,
    FEEDBACK,
    FHIR,
    REVIEW,
    SHARE,
    TRANSITIONS_WORKER,
    WORKER,
    destination,
    outputs,
    params,
    phase_of,
)
from tests.transitions.fakes import Network

GATEWAY = "http://gateway.test"
TOPIC = "https://continuum.example.org/fhir/SubscriptionTopic"


@pytest.fixture(scope="session")
async def gateway_db(engine: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    async with migrated_database("gateway", engine, Path(tmp_path_factory.mktemp(f"tr-gw-{engine}"))) as url:
        yield url


@pytest.fixture(scope="session")
async def referrals_db(engine: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    async with migrated_database("referrals", engine, Path(tmp_path_factory.mktemp(f"tr-ref-{engine}"))) as url:
        yield url


@dataclass
class Partnership:
    """The three processes on one in-process network."""

    network: Network
    gateway: Any
    referrals: Any
    transitions: Any
    clock: FixedClock

    def client(self, app: Any, base: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, raise_app_exceptions=False), base_url=base)


@pytest.fixture
async def partnership(gateway_db: str, referrals_db: str, transitions_url: str) -> AsyncIterator[Partnership]:
    clock = FixedClock()
    network = Network()
    referrals = referrals_app(ReferralsSettings(database_url=referrals_db, run_background_tasks=False), clock)
    transitions = transitions_app(
        TransitionsSettings(database_url=transitions_url, gateway_url=GATEWAY, run_background_tasks=False),
        clock,
        network,
    )
    gateway = gateway_app(
        GatewaySettings(
            database_url=gateway_db,
            referrals_url="http://referrals.internal",
            careplans_url="http://careplans.internal",
            transitions_url="http://transitions.internal",
            run_background_tasks=False,
        ),
        clock,
        transport=network,
    )
    network.attach("gateway.test", gateway)
    network.attach("referrals.internal", referrals)
    network.attach("transitions.internal", transitions)
    yield Partnership(network, gateway, referrals, transitions, clock)
    await empty_tables(referrals.state.database, referrals_tables.metadata)
    await empty_tables(transitions.state.database, transitions_metadata)
    async with gateway.state.database.session(writing=True) as session:
        for name in ("patient", "patient_identifier", "audit_event", "subscription", "event_log", "delivery"):
            await session.execute(delete(gateway_metadata.tables[name]))
        history = gateway_metadata.tables["resource_history"]
        await session.execute(delete(history).where(history.c.resource_type.in_(["Patient", "Subscription"])))
        await session.commit()
    for app in (referrals, transitions, gateway):
        await app.state.database.dispose()
    await gateway.state.services.close()


async def ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_one_young_person_from_worklist_to_evaluated_case(partnership: Partnership) -> None:
    p = partnership
    async with p.client(p.gateway, GATEWAY) as gw, p.client(p.transitions, "http://transitions.internal") as tr:
        patient = await ok(
            await gw.post(
                "/fhir/Patient",
                json={"resourceType": "Patient", "birthDate": "2008-10-01", "name": [{"family": "Osei"}]},
                headers=FHIR,
            ),
            201,
        )
        subject = f"Patient/{patient['id']}"
        episode = {
            "resourceType": "EpisodeOfCare",
            "status": "active",
            "patient": {"reference": subject},
            "extension": [
                {
                    "url": "https://continuum.example.org/fhir/StructureDefinition/episode-healthcare-service",
                    "valueReference": {"reference": "HealthcareService/barnet-cypmhs"},
                }
            ],
        }
        await ok(await gw.post("/fhir/EpisodeOfCare", json=episode, headers=FHIR), 201)

        # The worklist reads the CYPMHS caseload and the birth date through the gateway (FR-53).
        worklist = await ok(await tr.get("/fhir/Task/$transition-worklist"))
        assert worklist["parameter"][0] == {"name": "total", "valueInteger": 1}
        row = {x["name"]: x for x in worklist["parameter"][1]["part"]}
        assert row["phase1Deadline"]["valueDate"] == "2026-04-01"

        case = await ok(
            await tr.post(
                "/fhir/Task/$open-transition", json=params(patient=subject, referringWorker=WORKER), headers=FHIR
            ),
            201,
        )

        async def step(name: str, body: dict[str, Any]) -> dict[str, Any]:
            """A step through the gateway, which finds the case at the transitions service."""
            nonlocal case
            etag = f'W/"{case["meta"]["versionId"]}"'
            response = await gw.post(f"/fhir/Task/{case['id']}/${name}", json=body, headers={**FHIR, "If-Match": etag})
            case = await ok(response)
            return case

        meeting = params(
            date="2026-01-05T08:00:00Z",
            invitee=[WORKER, TRANSITIONS_WORKER, subject],
            attendee=[TRANSITIONS_WORKER, subject],
            destination=[destination("adult-core-cmht", CORE_TEAM)],
        )
        await step("record-discussion", DISCUSSION)
        await step("decide-support", params(supportNeeded=True, agreedBy=[subject, WORKER]))
        transitions_referral = await ok(
            await gw.get("/fhir/ServiceRequest", params={"performer": "HealthcareService/barnet-transitions"})
        )
        assert transitions_referral["total"] == 1
        stored = transitions_referral["entry"][0]["resource"]
        assert stored["requester"]["reference"] == WORKER
        assert stored["subject"]["reference"] == subject
        await step("record-meeting", meeting)
        await step("share-plan", SHARE)
        await step("record-agreement", params(decision="agreed", decidedBy=subject))
        await step("action-plan", ACTION)
        assert phase_of(case) == "evaluation"

        # The adult referral is in the referrals service, carrying the plan (FR-64).
        adult = await ok(
            await gw.get(
                "/fhir/ServiceRequest",
                params={"performer": "HealthcareService/barnet-core-north", "_revinclude": "Task:focus"},
            )
        )
        referral = next(e["resource"] for e in adult["entry"] if e["resource"]["resourceType"] == "ServiceRequest")
        task = next(e["resource"] for e in adult["entry"] if e["resource"]["resourceType"] == "Task")
        assert {"reference": case["focus"]["reference"]} == {"reference": referral["basedOn"][0]["reference"]}
        assert referral["contained"][0]["id"] == "cyp-summary"
        assert outputs(case, "adult-referral") == [{"reference": f"ServiceRequest/{referral['id']}"}]

        # The adult team declines; the event reaches transitions through a gateway Subscription (FR-62).
        subscription = {
            "resourceType": "Subscription",
            "status": "requested",
            "reason": "Transitions hears about its referrals",
            "criteria": f"{TOPIC}/referral-declined",
            "channel": {"type": "rest-hook", "endpoint": "http://transitions.internal/internal/events"},
        }
        await ok(await gw.post("/fhir/Subscription", json=subscription, headers=FHIR), 201)
        decline = {
            "resourceType": "Parameters",
            "parameter": [
                {"name": "reason", "valueCode": "needs-better-met-elsewhere"},
                {"name": "rationale", "valueString": "Needs are better met by Early Intervention after assessment"},
                {"name": "assessment", "valueReference": {"reference": "QuestionnaireResponse/assessment-1"}},
                {"name": "nextStep", "valueCode": "escalate"},
            ],
        }
        await ok(
            await gw.post(f"/fhir/Task/{task['id']}/$decline", json=decline, headers={**FHIR, "If-Match": 'W/"1"'})
        )
        async with p.referrals.state.database.session() as session:
            events = await Outbox(session, referrals_tables.outbox, "referrals").pending()
        for event in events:
            await ok(await gw.post("/internal/events", json=event))
        deliverer = Deliverer(p.gateway.state.database, p.clock, client=httpx.AsyncClient(transport=p.network))
        assert await deliverer.deliver_once() == 1

        escalations = await ok(await tr.get("/fhir/Task", params={"code": "transition-escalation"}))
        assert escalations["total"] == 1
        assert escalations["entry"][0]["resource"]["owner"]["reference"] == "HealthcareService/barnet-transitions"
        case = await ok(await gw.get(f"/fhir/Task/{case['id']}"))
        await step("record-feedback", FEEDBACK)  # from the young person: the case's own patient
        await step("review", REVIEW)
        response = await gw.post(
            f"/fhir/Task/{case['id']}/$close",
            json=params(),
            headers={**FHIR, "If-Match": f'W/"{case["meta"]["versionId"]}"'},
        )
        assert response.status_code == 409, response.text
        await step("record-alternative", params(choice="Will see the EIP team after all", decidedBy=subject))
        await step("close", params())
        assert (phase_of(case), case["status"]) == ("closed", "completed")
