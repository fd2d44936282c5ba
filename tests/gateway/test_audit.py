"""The audit trail (FR-71), request and correlation ids, and idempotent creates by X-Request-ID."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.identity import LOCAL_MRN
from services.kit.clock import FixedClock, instant
from services.kit.testing import assert_outcome
from tests.gateway.conftest import GATEWAY_BASE, GatewayFactory, Network, client_for, client_secret
from tests.referrals.builders import FHIR, episode, open_episode, referral

pytestmark = pytest.mark.usefixtures("engine")

CLINICIAN = "PractitionerRole/barnet-core-north-worker"


async def audit_events(
    client: httpx.AsyncClient, headers: dict[str, str] | None = None, **query: str
) -> list[dict[str, Any]]:
    response = await client.get("/fhir/AuditEvent", params={"_count": "100", **query}, headers=headers or {})
    assert response.status_code == 200, response.text
    bundle = response.json()
    assert bundle["total"] == len(bundle["entry"])
    return [e["resource"] for e in bundle["entry"]]


async def register(client: httpx.AsyncClient, headers: dict[str, str] | None = None, mrn: str = "BEH-1") -> str:
    body = {
        "resourceType": "Patient",
        "identifier": [{"system": LOCAL_MRN["beh"], "value": mrn}],
        "name": [{"family": "Okafor"}],
    }
    response = await client.post("/fhir/Patient", json=body, headers={**FHIR, **(headers or {})})
    assert response.status_code == 201, response.text
    patient_id: str = response.json()["id"]
    return patient_id


def patient_entities(event: dict[str, Any]) -> list[str]:
    return [e["what"]["reference"] for e in event["entity"] if "reference" in e["what"]]


async def referral_count(client: httpx.AsyncClient, subject: str = "Patient/p-1") -> int:
    total: int = (await client.get("/fhir/ServiceRequest", params={"subject": subject})).json()["total"]
    return total


# ------------------------------------------------------------------ AuditEvents


async def test_one_read_produces_one_audit_event_with_the_patient(client: httpx.AsyncClient, clock: FixedClock) -> None:
    patient_id = await register(client)
    read = await client.get(f"/fhir/Patient/{patient_id}")
    assert read.status_code == 200
    events = await audit_events(client, patient=f"Patient/{patient_id}", action="R")
    assert len(events) == 1
    event = events[0]
    assert event["action"] == "R"
    assert event["outcome"] == "0"
    assert event["recorded"] == instant(clock.now())
    assert event["type"]["code"] == "rest"
    assert patient_entities(event) == [f"Patient/{patient_id}"]
    assert event["agent"][0]["requestor"] is True
    assert event["agent"][0]["who"]["display"] == "anonymous-development"
    assert [e["id"] for e in await audit_events(client, patient=patient_id, action="R")] == [event["id"]]
    everything = await audit_events(client)
    assert sorted(e["action"] for e in everything) == ["C", "R"]  # the registration and the read


async def test_a_search_naming_the_patient_is_audited_against_them(client: httpx.AsyncClient) -> None:
    assert (await client.get("/fhir/ServiceRequest", params={"subject": "Patient/p-7"})).status_code == 200
    (event,) = await audit_events(client, patient="Patient/p-7")
    assert event["action"] == "R"
    assert event["outcome"] == "0"


async def test_a_failed_request_is_audited_with_outcome_4(client: httpx.AsyncClient) -> None:
    assert_outcome(await client.get("/fhir/Patient/nobody"), 404, "not-found")
    (event,) = await audit_events(client, patient="Patient/nobody")
    assert event["action"] == "R"
    assert event["outcome"] == "4"
    assert "404" in event["outcomeDesc"]
    assert [e["id"] for e in await audit_events(client, outcome="4")] == [event["id"]]


async def test_a_request_the_service_could_not_answer_is_audited_with_outcome_8(
    client: httpx.AsyncClient, network: Network
) -> None:
    network.down.add("referrals.internal")
    assert_outcome(await client.get("/fhir/ServiceRequest", params={"subject": "Patient/p-8"}), 502, "transient")
    (event,) = await audit_events(client, patient="Patient/p-8")
    assert event["outcome"] == "8"


async def test_a_request_that_fails_inside_the_gateway_is_still_audited_and_carries_its_ids(
    client: httpx.AsyncClient, network: Network
) -> None:
    garbage = httpx.MockTransport(lambda request: httpx.Response(200, content=b"<html>proxy error</html>"))
    network.attach("transitions.internal", garbage)
    response = await client.get("/fhir/Task", params={"patient": "Patient/p-5"}, headers={"X-Request-ID": "boom-1"})
    assert response.status_code >= 500
    assert response.headers.get("x-request-id") == "boom-1"
    (event,) = await audit_events(client, patient="Patient/p-5")
    assert event["outcome"] == "8"


async def test_a_search_with_a_long_patient_reference_is_still_audited(
    client: httpx.AsyncClient, engine: str, request: pytest.FixtureRequest
) -> None:
    subject = "Patient/" + "x" * 100
    assert (await client.get("/fhir/ServiceRequest", params={"subject": subject})).status_code == 200
    events = await audit_events(client, action="R")
    assert len(events) == 1
    # Not a FHIR id (over 64 characters), so it names no patient; the request itself is recorded.
    assert patient_entities(events[0]) == []
    assert any("x" * 100 in str(e["what"].get("display", "")) for e in events[0]["entity"])


@pytest.fixture
async def secured(make_gateway: GatewayFactory, dev_keys: Path) -> Any:
    """A gateway that issues and checks tokens."""
    return await make_gateway(
        auth_private_key_file=str(dev_keys / "jwt-private.pem"),
        clients_file=str(dev_keys / "dev-clients.json"),
        auth_public_key_file=str(dev_keys / "jwt-public.pem"),
    )


async def bearer(client: httpx.AsyncClient, keys: Path, client_id: str, fhir_user: str | None = None) -> dict[str, str]:
    form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret(keys, client_id)}
    if fhir_user:
        form["fhir_user"] = fhir_user
    response = await client.post("/auth/token", data=form)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def test_audit_events_are_searchable_by_agent(secured: Any, dev_keys: Path) -> None:
    async with client_for(secured) as client:
        beh = await bearer(client, dev_keys, "epr-beh")
        ci = await bearer(client, dev_keys, "epr-ci")
        clinician = await bearer(client, dev_keys, "clinician-app", CLINICIAN)
        patient_id = await register(client, beh)
        assert (await client.get(f"/fhir/Patient/{patient_id}", headers=clinician)).status_code == 200
        assert (await client.get(f"/fhir/Patient/{patient_id}", headers=ci)).status_code == 200

        (by_clinician,) = await audit_events(client, beh, agent=CLINICIAN)
        assert by_clinician["action"] == "R"
        assert by_clinician["agent"][0]["who"] == {"reference": CLINICIAN}
        assert by_clinician["agent"][0]["altId"] == "clinician-app"
        assert patient_entities(by_clinician) == [f"Patient/{patient_id}"]

        (by_ci,) = await audit_events(client, beh, agent="epr-ci")
        assert by_ci["agent"][0]["who"] == {"display": "epr-ci"}
        purpose = by_ci["agent"][0]["purposeOfUse"][0]["coding"][0]["code"]
        assert purpose == "TREAT"

        (by_beh,) = await audit_events(client, beh, agent="epr-beh")
        assert by_beh["action"] == "C"
        readers = await audit_events(client, beh, patient=f"Patient/{patient_id}", action="R")
        assert sorted(e["id"] for e in readers) == sorted([by_clinician["id"], by_ci["id"]])


async def test_a_request_without_a_token_is_refused_and_audited(secured: Any, dev_keys: Path) -> None:
    async with client_for(secured) as client:
        beh = await bearer(client, dev_keys, "epr-beh")
        patient_id = await register(client, beh)
        assert_outcome(await client.get(f"/fhir/Patient/{patient_id}"), 401, "login")
        (event,) = await audit_events(client, beh, patient=f"Patient/{patient_id}", action="R")
        assert event["outcome"] == "4"
        assert "401" in event["outcomeDesc"]


# ------------------------------------------------------------------ request and correlation ids


async def test_request_and_correlation_ids_are_mirrored(client: httpx.AsyncClient) -> None:
    ids = {"X-Request-ID": "req-123", "X-Correlation-ID": "corr-456"}
    for method, path in (
        ("GET", "/fhir/HealthcareService/camden-crisis-cafe"),
        ("GET", "/fhir/ServiceRequest"),
        ("GET", "/fhir/Spaceship"),
        ("GET", "/fhir/metadata"),
    ):
        response = await client.request(method, path, headers=ids)
        assert response.headers["x-request-id"] == "req-123", path
        assert response.headers["x-correlation-id"] == "corr-456", path
    only_request = await client.get("/fhir/HealthcareService/camden-crisis-cafe", headers={"X-Request-ID": "r-9"})
    assert only_request.headers["x-request-id"] == "r-9"
    assert only_request.headers["x-correlation-id"] == "r-9"
    (event,) = await audit_events(client, outcome="4")  # the unknown type
    assert "req-123" in event["outcomeDesc"]


async def test_request_ids_are_generated_when_absent(client: httpx.AsyncClient) -> None:
    first = await client.get("/fhir/HealthcareService/camden-crisis-cafe")
    second = await client.get("/fhir/HealthcareService/camden-crisis-cafe")
    generated = first.headers["x-request-id"]
    assert str(uuid.UUID(generated)) == generated
    assert first.headers["x-correlation-id"] == generated
    assert second.headers["x-request-id"] != generated
    correlated = await client.get("/fhir/Location", headers={"X-Correlation-ID": "journey-1"})
    assert correlated.headers["x-correlation-id"] == "journey-1"
    assert uuid.UUID(correlated.headers["x-request-id"])


# ------------------------------------------------------------------ idempotent creates


async def test_a_repeated_request_id_on_a_create_returns_the_first_result(client: httpx.AsyncClient) -> None:
    await open_episode(client)
    headers = {**FHIR, "X-Request-ID": "create-once-1"}
    first = await client.post("/fhir/ServiceRequest", json=referral(), headers=headers)
    again = await client.post("/fhir/ServiceRequest", json=referral(), headers=headers)
    assert first.status_code == again.status_code == 201, (first.text, again.text)
    assert again.json() == first.json()
    for header in ("location", "etag", "content-type", "last-modified"):
        assert again.headers.get(header) == first.headers.get(header), header
    assert again.headers["location"].startswith(f"{GATEWAY_BASE}/ServiceRequest/")
    assert again.headers["x-request-id"] == "create-once-1"
    assert await referral_count(client) == 1
    assert (await client.get("/fhir/Task", params={"code": "referral"})).json()["total"] == 1


async def test_concurrent_creates_with_one_request_id_write_once(client: httpx.AsyncClient) -> None:
    await open_episode(client)
    headers = {**FHIR, "X-Request-ID": "create-once-2"}
    first, second = await asyncio.gather(
        client.post("/fhir/ServiceRequest", json=referral(), headers=headers),
        client.post("/fhir/ServiceRequest", json=referral(), headers=headers),
    )
    assert first.status_code == second.status_code == 201, (first.text, second.text)
    assert first.json()["id"] == second.json()["id"]
    assert first.headers["location"] == second.headers["location"]
    assert await referral_count(client) == 1


async def test_different_request_ids_create_different_resources(client: httpx.AsyncClient) -> None:
    await open_episode(client)
    ids = set()
    for request_id in ("a-1", "a-2"):
        response = await client.post(
            "/fhir/ServiceRequest", json=referral(), headers={**FHIR, "X-Request-ID": request_id}
        )
        assert response.status_code == 201
        ids.add(response.json()["id"])
    assert len(ids) == 2
    assert await referral_count(client) == 2


async def test_a_request_id_reused_for_another_create_is_409(client: httpx.AsyncClient) -> None:
    await open_episode(client)
    headers = {**FHIR, "X-Request-ID": "reused-1"}
    assert (await client.post("/fhir/ServiceRequest", json=referral(), headers=headers)).status_code == 201
    response = await client.post(
        "/fhir/EpisodeOfCare", json=episode(team="HealthcareService/barnet-eip"), headers=headers
    )
    assert_outcome(response, 409, "conflict", "X-Request-ID")


async def test_a_create_that_failed_upstream_can_be_retried_with_the_same_request_id(
    client: httpx.AsyncClient, network: Network
) -> None:
    await open_episode(client)
    headers = {**FHIR, "X-Request-ID": "retry-after-502"}
    network.down.add("referrals.internal")
    assert_outcome(await client.post("/fhir/ServiceRequest", json=referral(), headers=headers), 502, "transient")
    network.down.discard("referrals.internal")
    retried = await client.post("/fhir/ServiceRequest", json=referral(), headers=headers)
    assert retried.status_code == 201, retried.text
    assert await referral_count(client) == 1


async def test_a_long_request_id_on_a_create_is_not_a_server_error(
    client: httpx.AsyncClient, engine: str, request: pytest.FixtureRequest
) -> None:
    await open_episode(client)
    response = await client.post("/fhir/ServiceRequest", json=referral(), headers={**FHIR, "X-Request-ID": "r" * 200})
    if response.status_code == 400:
        assert_outcome(response, 400, None, "X-Request-ID")
    else:
        assert response.status_code == 201, response.text


async def test_a_repeated_request_id_on_a_patient_registration_returns_the_first_patient(
    client: httpx.AsyncClient,
) -> None:
    body = {"resourceType": "Patient", "name": [{"family": "Mensah"}], "birthDate": "1988-02-02"}
    headers = {**FHIR, "X-Request-ID": "register-once"}
    first = await client.post("/fhir/Patient", json=body, headers=headers)
    again = await client.post("/fhir/Patient", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert (await client.get("/fhir/Patient")).json()["total"] == 1


async def test_a_request_id_is_not_shared_between_clients(secured: Any, dev_keys: Path) -> None:
    async with client_for(secured) as client:
        beh = await bearer(client, dev_keys, "epr-beh")
        ci = await bearer(client, dev_keys, "epr-ci")
        for patient in ("Patient/p-1", "Patient/p-2"):
            opened = await client.post("/fhir/EpisodeOfCare", json=episode(patient=patient), headers={**FHIR, **beh})
            assert opened.status_code == 201, opened.text
        mine = await client.post("/fhir/ServiceRequest", json=referral(), headers={**FHIR, **beh, "X-Request-ID": "1"})
        assert mine.status_code == 201
        theirs = await client.post(
            "/fhir/ServiceRequest",
            json=referral(subject="Patient/p-2"),
            headers={**FHIR, **ci, "X-Request-ID": "1"},
        )
        assert theirs.status_code in (201, 409), theirs.text
        if theirs.status_code == 201:
            assert theirs.json()["subject"] == {"reference": "Patient/p-2"}
