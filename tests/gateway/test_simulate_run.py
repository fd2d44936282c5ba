"""`gateway.simulate` played through the in-process gateway and referrals service.

A small population goes through the public API; what it created is then read back through the
same API: the people (by either EPR's local number), their caseloads, the referrals and their
decisions, the contacts, and the referrals that arrived as BaRS messages.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.epr.inbox import TOPICS
from gateway.identity import LOCAL_MRN, NHS_NUMBER
from gateway.main import create_app as gateway_app
from gateway.settings import Settings as GatewaySettings
from gateway.simulate import Report, authorization, credentials, population, simulate
from services.kit.clock import FixedClock
from services.kit.testing import empty_tables
from services.referrals.main import create_app as referrals_app
from services.referrals.persistence.tables import metadata as referrals_metadata
from services.referrals.settings import Settings as ReferralsSettings
from tests.gateway.conftest import CAREPLANS, REFERRALS, TRANSITIONS, Network, _forget_gateway_records

pytestmark = pytest.mark.usefixtures("engine")

AS_OF = date(2026, 1, 5)
SEED = 52  # a seed whose 12 people take every path (checked below)
PEOPLE = 12


async def everything(client: httpx.AsyncClient, kind: str, **params: str) -> list[dict[str, Any]]:
    response = await client.get(f"/fhir/{kind}", params={**params, "_count": "500"})
    assert response.status_code == 200, response.text
    return [e["resource"] for e in response.json().get("entry", []) if e["search"]["mode"] == "match"]


async def run(client: httpx.AsyncClient, clock: FixedClock, **kw: Any) -> Report:
    return await simulate(client, people=PEOPLE, seed=SEED, as_of=AS_OF, now=clock.now(), max_seconds=120, **kw)


def source(referral: dict[str, Any]) -> str:
    return str(
        next(
            c["code"] for cat in referral["category"] for c in cat["coding"] if c["system"].endswith("/referral-source")
        )
    )


async def test_a_simulated_population_goes_through_the_public_api(client: httpx.AsyncClient, clock: FixedClock) -> None:
    people = population(SEED, PEOPLE, AS_OF)
    assert any(len(p.numbers) == 2 for p in people)
    assert any(p.core_team is None for p in people)
    assert {p.decision for p in people if p.intensive} == {"accept", "decline", "wait"}
    assert any(p.contact for p in people)
    assert len({p.external for p in people if p.external}) >= 3
    report = await run(client, clock)
    assert report.errors == []
    counts = report.counts

    # every person is one Patient, found by each EPR's local number and by the NHS number
    for person in people:
        patient_id = report.patients[person.index]
        for instance, number in person.numbers.items():
            found = await everything(client, "Patient", identifier=f"{LOCAL_MRN[instance]}|{number}")
            assert [p["id"] for p in found] == [patient_id]
        [patient] = await everything(client, "Patient", identifier=f"{NHS_NUMBER}|{person.nhs_number}")
        assert patient["id"] == patient_id
        assert patient["birthDate"] == person.birth_date.isoformat()
    assert len(await everything(client, "Patient")) == PEOPLE
    both = [p for p in people if len(p.numbers) == 2]
    assert counts["people known to both EPRs"] == len(both)
    assert counts["patients linked"] == len(both)
    known = [p for p in people if p.core_team]
    assert counts["patients created"] == len(known)

    # each person known to services is on their core team's caseload
    for person in known:
        episodes = await everything(client, "EpisodeOfCare", patient=f"Patient/{report.patients[person.index]}")
        teams = {e["extension"][0]["valueReference"]["reference"] for e in episodes}
        assert f"HealthcareService/{person.core_team}" in teams
    assert counts["caseload episodes opened"] == len(known)

    # internal referrals, their decisions and the contacts
    referrals = await everything(client, "ServiceRequest")
    internal = [r for r in referrals if source(r) == "internal-team" and "replaces" not in r]
    assert len(internal) == counts["internal referrals"] == sum(p.intensive is not None for p in people)
    tasks = await everything(client, "Task", code="referral")
    states = [t["businessStatus"]["coding"][0]["code"] for t in tasks]
    decided = {d: sum(p.decision == d for p in people if p.intensive) for d in ("accept", "decline", "wait")}
    assert states.count("accepted-waiting") == counts["referrals accepted with waiting support"] == decided["accept"]
    assert states.count("redirected") == counts["referrals declined with a redirect"] == decided["decline"]
    contacts = await everything(client, "Encounter")
    assert len(contacts) == counts["contacts recorded"] == sum(p.contact for p in people)

    # referrals that arrived as BaRS messages, with the source of their sender
    external = [p for p in people if p.external]
    arrived = sorted(source(r) for r in referrals if source(r) != "internal-team")
    assert arrived == sorted(str(p.external) for p in external)
    assert sum(v for k, v in counts.items() if k.startswith("BaRS referrals acknowledged")) == len(external)

    # the EPR interface is subscribed to what the EPRs record
    assert counts["subscriptions created"] == len(TOPICS)


async def test_running_the_same_seed_again_adds_nothing(client: httpx.AsyncClient, clock: FixedClock) -> None:
    first = await run(client, clock)
    assert first.errors == []
    before = {
        kind: len(await everything(client, kind))
        for kind in ("Patient", "ServiceRequest", "EpisodeOfCare", "Encounter", "Subscription")
    }
    again = await run(client, clock)
    assert again.errors == []
    after = {kind: len(await everything(client, kind)) for kind in before}
    assert after == before
    assert again.patients == first.patients
    assert again.counts["patients created"] == again.counts["internal referrals"] == 0


@pytest.fixture
async def secured(
    dev_keys: Path, referrals_db: str, gateway_url: str, clock: FixedClock
) -> AsyncIterator[httpx.AsyncClient]:
    """A gateway and referrals service that verify tokens."""
    public = str(dev_keys / "jwt-public.pem")
    service = referrals_app(
        ReferralsSettings(database_url=referrals_db, run_background_tasks=False, auth_public_key_file=public), clock
    )
    gateway = gateway_app(
        GatewaySettings(
            database_url=gateway_url,
            referrals_url=REFERRALS,
            careplans_url=CAREPLANS,
            transitions_url=TRANSITIONS,
            run_background_tasks=False,
            auth_public_key_file=public,
            auth_private_key_file=str(dev_keys / "jwt-private.pem"),
            clients_file=str(dev_keys / "dev-clients.json"),
        ),
        clock,
        transport=Network({"referrals.internal": service}),
    )
    transport = httpx.ASGITransport(app=gateway, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
        yield client
    await empty_tables(service.state.database, referrals_metadata)
    await service.state.database.dispose()
    await gateway.state.services.close()
    await _forget_gateway_records(gateway.state.database)
    await gateway.state.database.dispose()


async def test_the_simulator_uses_its_own_client_credentials(
    secured: httpx.AsyncClient, dev_keys: Path, clock: FixedClock
) -> None:
    headers = await authorization(secured, credentials(dev_keys / "dev-clients.json", "simulator"))
    assert headers["Authorization"].startswith("Bearer ")
    report = await run(secured, clock, headers=headers)
    assert report.errors == []
    assert len(report.patients) == PEOPLE
    # without a token nothing gets in, and the report says so
    refused = await simulate(secured, people=2, seed=SEED, as_of=AS_OF, subscribe=False)
    assert len(refused.errors) == 2
    assert all("401" in e for e in refused.errors)
    assert credentials(dev_keys / "missing.json", "simulator") is None
