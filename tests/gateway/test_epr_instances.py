"""The two simulated EPR instances and the master patient index (FR-67, FR-68).

Each EPR registers people with its own local numbers; the index links both numbers and the NHS
number to one Patient, so a lookup by any of them finds the same person.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.auth import load_clients
from gateway.identity import LOCAL_MRN, NHS_NUMBER
from gateway.main import create_app as gateway_app
from gateway.settings import Settings as GatewaySettings
from gateway.tables import EXT_BOROUGH
from services.kit.clock import FixedClock
from services.kit.testing import assert_outcome, empty_tables
from services.referrals.main import create_app as referrals_app
from services.referrals.persistence.tables import metadata as referrals_metadata
from services.referrals.settings import Settings as ReferralsSettings
from tests.gateway.conftest import CAREPLANS, REFERRALS, TRANSITIONS, Network, _forget_gateway_records
from tests.referrals.builders import FHIR

pytestmark = pytest.mark.usefixtures("engine")

NHS = "9000000009"
OTHER_NHS = "9476719931"


def patient(
    instance: str = "beh", number: str = "BEH0001", nhs: str | None = NHS, borough: str = "barnet", **extra: Any
) -> dict[str, Any]:
    identifiers = [{"system": LOCAL_MRN[instance], "value": number}]
    if nhs:
        identifiers.append({"system": NHS_NUMBER, "value": nhs})
    return {
        "resourceType": "Patient",
        "identifier": identifiers,
        "name": [{"family": "Okoye", "given": ["Ada"]}],
        "gender": "female",
        "birthDate": "1988-02-14",
        "extension": [{"url": EXT_BOROUGH, "valueCode": borough}],
        **extra,
    }


async def register(client: httpx.AsyncClient, instance: str, body: dict[str, Any], **headers: str) -> httpx.Response:
    return await client.post(f"/epr/{instance}/Patient", json=body, headers={**FHIR, **headers})


async def by_identifier(client: httpx.AsyncClient, system: str, value: str) -> list[str]:
    response = await client.get("/fhir/Patient", params={"identifier": f"{system}|{value}"})
    assert response.status_code == 200, response.text
    return [e["resource"]["id"] for e in response.json().get("entry", [])]


async def test_a_beh_number_and_a_ci_number_find_the_same_person(client: httpx.AsyncClient) -> None:
    """FR-68: a search by a BEH MRN and by a C&I MRN returns the same person."""
    first = await register(client, "beh", patient())
    assert first.status_code == 201, first.text
    assert first.headers["x-mpi-outcome"] == "created"
    assert first.headers["location"].startswith(f"http://gateway.test/fhir/Patient/{first.json()['id']}")
    linked = await register(client, "ci", patient("ci", "CI0042", borough="barnet"))
    assert linked.status_code == 200, linked.text
    assert linked.headers["x-mpi-outcome"] == "linked"
    person = first.json()["id"]
    assert linked.json()["id"] == person
    assert await by_identifier(client, LOCAL_MRN["beh"], "BEH0001") == [person]
    assert await by_identifier(client, LOCAL_MRN["ci"], "CI0042") == [person]
    assert await by_identifier(client, NHS_NUMBER, NHS) == [person]
    for instance, number in (("beh", "BEH0001"), ("ci", "CI0042")):
        read = await client.get(f"/epr/{instance}/Patient/{number}")
        assert read.status_code == 200, read.text
        assert read.json()["id"] == person
    systems = {i["system"] for i in linked.json()["identifier"]}
    assert systems == {LOCAL_MRN["beh"], LOCAL_MRN["ci"], NHS_NUMBER}


async def test_registering_the_same_number_again_changes_nothing(client: httpx.AsyncClient) -> None:
    first = await register(client, "beh", patient())
    again = await register(client, "beh", patient())
    assert again.status_code == 200
    assert again.headers["x-mpi-outcome"] == "existing"
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["meta"]["versionId"] == first.json()["meta"]["versionId"]


async def test_a_patient_without_an_nhs_number_is_registered_and_found_by_the_local_number(
    client: httpx.AsyncClient,
) -> None:
    created = await register(client, "ci", patient("ci", "CI0007", nhs=None, borough="islington"))
    assert created.status_code == 201, created.text
    assert await by_identifier(client, LOCAL_MRN["ci"], "CI0007") == [created.json()["id"]]


async def test_the_index_keeps_its_demographics_and_reports_the_differences(client: httpx.AsyncClient) -> None:
    """FR-68: conflicting demographics are reported, not silently overwritten."""
    first = await register(client, "beh", patient())
    different = patient(
        "ci", "CI0042", birthDate="1988-02-15", borough="camden", telecom=[{"system": "phone", "value": "0207"}]
    )
    response = await register(client, "ci", different, Prefer="return=OperationOutcome")
    assert response.status_code == 200, response.text
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["severity"] == "information"
    warnings = {i["expression"][0]: i for i in outcome["issue"] if i["severity"] == "warning"}
    assert set(warnings) == {"Patient.birthDate", "Patient.extension"}
    stored = (await client.get(f"/fhir/Patient/{first.json()['id']}")).json()
    assert stored["birthDate"] == "1988-02-14"
    assert stored["telecom"] == [{"system": "phone", "value": "0207"}]  # what the index lacked is filled in


async def test_a_local_number_needs_its_own_instance_system(client: httpx.AsyncClient) -> None:
    response = await register(client, "ci", patient("beh", "BEH0001"))
    assert_outcome(response, 422, "required", "Patient.identifier")
    assert "ci-rio-mrn" in response.json()["issue"][0]["diagnostics"]


async def test_an_invalid_nhs_number_is_422_naming_the_identifier(client: httpx.AsyncClient) -> None:
    response = await register(client, "beh", patient(nhs="9000000001"))
    assert_outcome(response, 422, "value", "Patient.identifier[1].value")
    assert (await client.get("/fhir/Patient")).json()["total"] == 0


async def test_numbers_that_belong_to_different_people_are_a_conflict(client: httpx.AsyncClient) -> None:
    await register(client, "beh", patient())
    await register(client, "beh", patient(number="BEH0002", nhs=OTHER_NHS))
    crossed = await register(client, "beh", patient(number="BEH0001", nhs=OTHER_NHS))
    assert_outcome(crossed, 409, "conflict", "Patient.identifier")
    # a second BEH number for someone BEH already knows is a duplicate registration
    duplicate = await register(client, "beh", patient(number="BEH0003", nhs=NHS))
    assert_outcome(duplicate, 409, "conflict", "Patient.identifier")
    # a known local number arriving with a different NHS number
    other = await register(client, "beh", patient(number="BEH0002", nhs="9434765919"))
    assert_outcome(other, 409, "conflict", "Patient.identifier")


async def test_unknown_instances_and_numbers_are_404(client: httpx.AsyncClient) -> None:
    assert_outcome(await register(client, "rio", patient()), 404, "not-found", "instance")
    assert_outcome(await client.get("/epr/beh/Patient/BEH9999"), 404, "not-found", "number")
    assert_outcome(await client.post("/epr/beh/Patient", content=b"[]", headers=FHIR), 400, "invalid")
    not_a_patient = await client.post("/epr/beh/Patient", json={"resourceType": "Observation"}, headers=FHIR)
    assert_outcome(not_a_patient, 400, "structure", "resourceType")


async def test_registrations_and_reads_are_audited(client: httpx.AsyncClient) -> None:
    """FR-71: every read and write produces an AuditEvent, refused ones too."""
    created = (await register(client, "beh", patient())).json()
    await client.get("/epr/beh/Patient/BEH0001")
    await client.get("/epr/beh/Patient/BEH0404")
    events = (await client.get("/fhir/AuditEvent", params={"patient": f"Patient/{created['id']}"})).json()
    actions = sorted(e["resource"]["action"] for e in events["entry"])
    assert actions == ["C", "R"]
    everything = (await client.get("/fhir/AuditEvent", params={"outcome": "4"})).json()
    assert any("/epr/beh/Patient/BEH0404" in str(e["resource"]["entity"]) for e in everything["entry"])


# ---------------------------------------------------------------- with tokens


@pytest.fixture
async def secured(
    dev_keys: Path, referrals_db: str, gateway_url: str, clock: FixedClock
) -> AsyncIterator[httpx.AsyncClient]:
    """A gateway and referrals service that verify tokens, and a client for the gateway."""
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


async def bearer(client: httpx.AsyncClient, keys: Path, client_id: str) -> dict[str, str]:
    secret = load_clients(keys / "dev-clients.json")[client_id].secret
    form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    response = await client.post("/auth/token", data=form)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def test_each_epr_client_acts_only_for_its_own_instance(secured: httpx.AsyncClient, dev_keys: Path) -> None:
    assert_outcome(await register(secured, "beh", patient()), 401, "login")
    beh = await bearer(secured, dev_keys, "epr-beh")
    assert (await register(secured, "beh", patient(), **beh)).status_code == 201
    refused = await register(secured, "ci", patient("ci", "CI0001"), **beh)
    assert_outcome(refused, 403, "forbidden", "instance")
    assert_outcome(await secured.get("/epr/ci/Patient/CI0001", headers=beh), 403, "forbidden", "instance")
    ci = await bearer(secured, dev_keys, "epr-ci")
    assert (await register(secured, "ci", patient("ci", "CI0001"), **ci)).status_code == 200


async def test_a_client_without_patient_scopes_cannot_register(secured: httpx.AsyncClient, dev_keys: Path) -> None:
    engineer = await bearer(secured, dev_keys, "interface-engineer")
    assert_outcome(await register(secured, "beh", patient(), **engineer), 403, "forbidden", "Authorization")
    assert_outcome(await secured.get("/epr/beh/inbox", headers=engineer), 403, "forbidden")
    events = await secured.post("/epr/events", json={"id": "e-1", "type": "referral-received"}, headers=engineer)
    assert_outcome(events, 403, "forbidden", "Authorization")


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found: list[tuple[Any, ...]] = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


async def test_no_damaged_registration_or_event_makes_the_gateway_fail(client: httpx.AsyncClient) -> None:
    """Client input is answered with a resource or an OperationOutcome, never a 500."""
    original = patient()
    for path in _paths(original):
        for replacement in (None, 42, {"unexpected": True}, ["x"]):
            body = copy.deepcopy(original)
            target: Any = body
            for step in path[:-1]:
                target = target[step]
            if replacement is None:
                del target[path[-1]]
            else:
                target[path[-1]] = replacement
            response = await register(client, "beh", body)
            assert response.status_code < 500, (path, replacement, response.text)
            assert response.headers["content-type"].startswith("application/fhir+json")
    events: list[Any] = [{"id": 1, "type": []}, {"id": "e", "type": "t", "subject": 5, "requester": {"a": 1}}, [], "x"]
    for event in events:
        for url in ("/epr/events", "/epr/beh/inbox"):
            response = await client.post(url, json=event)
            assert response.status_code < 500, (url, event, response.text)
