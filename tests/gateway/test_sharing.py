"""Data-sharing agreements, purpose of use, minimisation and consent (FR-40, FR-45, FR-69, FR-70, FR-72)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from gateway.auth import generate_development_keys, load_clients
from gateway.main import create_app as gateway_app
from gateway.settings import Settings as GatewaySettings
from services.kit.clock import FixedClock
from services.kit.testing import assert_outcome
from tests.gateway.conftest import CAREPLANS, REFERRALS, TRANSITIONS, Network

PLAN = {
    "resourceType": "CarePlan",
    "id": "crisis-1",
    "meta": {"versionId": "1", "lastUpdated": "2026-01-05T09:00:00.000Z"},
    "status": "active",
    "intent": "plan",
    "category": [{"coding": [{"system": "http://snomed.info/sct", "code": "736253002"}]}],
    "title": "Crisis plan",
    "subject": {"reference": "Patient/p-1"},
    "description": "Call the crisis line; the crisis café is open 6pm to midnight",
    "note": [{"text": "Private clinical note about family history"}],
}


def careplans_stub() -> FastAPI:
    """A stand-in careplans service holding one crisis plan."""
    app = FastAPI()

    @app.get("/fhir/CarePlan/{id}")
    async def read(id: str) -> Any:
        if id != "crisis-1":
            return JSONResponse({"resourceType": "OperationOutcome", "issue": []}, status_code=404)
        return JSONResponse(PLAN, media_type="application/fhir+json")

    @app.get("/fhir/CarePlan")
    async def search() -> Any:
        bundle = {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": 1,
            "entry": [{"resource": PLAN, "search": {"mode": "match"}}],
        }
        return JSONResponse(bundle, media_type="application/fhir+json")

    return app


@pytest.fixture
async def partners(
    gateway_url: str, clock: FixedClock, referrals: Any, tmp_path: Path
) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str]]]:
    generate_development_keys(tmp_path)
    network = Network({"referrals.internal": referrals, "careplans.internal": careplans_stub()})
    app = gateway_app(
        GatewaySettings(
            database_url=gateway_url,
            referrals_url=REFERRALS,
            careplans_url=CAREPLANS,
            transitions_url=TRANSITIONS,
            run_background_tasks=False,
            auth_public_key_file=str(tmp_path / "jwt-public.pem"),
            auth_private_key_file=str(tmp_path / "jwt-private.pem"),
            clients_file=str(tmp_path / "dev-clients.json"),
        ),
        clock,
        transport=network,
    )
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False), base_url="http://gateway.test"
    )
    secrets = {cid: c.secret for cid, c in load_clients(tmp_path / "dev-clients.json").items()}
    yield client, secrets
    await client.aclose()
    from sqlalchemy import delete

    from gateway.tables import metadata

    async with app.state.database.session(writing=True) as session:
        for name in ("consent", "audit_event", "patient", "patient_identifier", "idempotency", "event_log", "delivery"):
            await session.execute(delete(metadata.tables[name]))
        await session.commit()
    await app.state.services.close()
    await app.state.database.dispose()


async def bearer(client: httpx.AsyncClient, secrets: dict[str, str], client_id: str, **form: str) -> dict[str, str]:
    data = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secrets[client_id], **form}
    response = await client.post("/auth/token", data=data)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}", "Content-Type": "application/fhir+json"}


def consent(actor: str, status: str = "active", kind: str = "permit") -> dict[str, Any]:
    return {
        "resourceType": "Consent",
        "status": status,
        "scope": {
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}]
        },
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
        "patient": {"reference": "Patient/p-1"},
        "provision": {
            "type": kind,
            "actor": [{"role": {"coding": [{"code": "IRCP"}]}, "reference": {"reference": actor}}],
        },
    }


async def test_a_partner_without_consent_is_refused_and_with_it_sees_a_minimised_plan(partners: Any) -> None:
    """FR-69, FR-70, FR-72: the VCSE partner reads with consent, and only the agreed elements."""
    client, secrets = partners
    vcse = await bearer(client, secrets, "vcse-mind")
    assert_outcome(await client.get("/fhir/CarePlan/crisis-1", headers=vcse), 403, "forbidden", "Consent")
    epr = await bearer(client, secrets, "epr-beh")
    assert (await client.post("/fhir/Consent", json=consent("Organization/mind-ncl"), headers=epr)).status_code == 201
    seen = await client.get("/fhir/CarePlan/crisis-1", headers=vcse)
    assert seen.status_code == 200, seen.text
    plan = seen.json()
    assert plan["description"].startswith("Call the crisis line")
    assert "note" not in plan
    assert {"code": "REDACTED", "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue"} in plan["meta"][
        "security"
    ]


async def test_a_purpose_outside_the_agreement_is_refused(partners: Any) -> None:
    """FR-70: research under a direct-care agreement is 403."""
    client, secrets = partners
    vcse = await bearer(client, secrets, "vcse-mind")
    response = await client.get("/fhir/CarePlan/crisis-1", headers={**vcse, "X-Purpose-Of-Use": "HRESCH"})
    assert_outcome(response, 403, "forbidden", "X-Purpose-Of-Use")


async def test_an_interaction_outside_the_agreement_is_refused(partners: Any) -> None:
    client, secrets = partners
    vcse = await bearer(client, secrets, "vcse-mind")
    response = await client.get("/fhir/ServiceRequest", params={"subject": "Patient/p-1"}, headers=vcse)
    assert_outcome(response, 403, "forbidden")


async def test_a_partner_search_must_name_the_person(partners: Any) -> None:
    client, secrets = partners
    vcse = await bearer(client, secrets, "vcse-mind")
    assert_outcome(await client.get("/fhir/CarePlan", headers=vcse), 403, "forbidden", "patient")


async def test_revoking_a_carers_consent_refuses_the_next_read(partners: Any) -> None:
    """FR-40, FR-72."""
    client, secrets = partners
    epr = await bearer(client, secrets, "epr-beh")
    created = (await client.post("/fhir/Consent", json=consent("RelatedPerson/carer-1"), headers=epr)).json()
    carer = await bearer(client, secrets, "carer-portal", fhir_user="RelatedPerson/carer-1")
    assert (await client.get("/fhir/CarePlan/crisis-1", headers=carer)).status_code == 200
    revoked = {**created, "status": "inactive"}
    assert (await client.put(f"/fhir/Consent/{created['id']}", json=revoked, headers=epr)).status_code == 200
    assert_outcome(await client.get("/fhir/CarePlan/crisis-1", headers=carer), 403, "forbidden", "Consent")
    other = await bearer(client, secrets, "carer-portal", fhir_user="RelatedPerson/someone-else")
    assert_outcome(await client.get("/fhir/CarePlan/crisis-1", headers=other), 403, "forbidden", "Consent")


async def test_the_crisis_line_reads_the_crisis_plan(partners: Any) -> None:
    """FR-45: crisis services read crisis plans; a partner without an agreement for them cannot."""
    client, secrets = partners
    crisis = await bearer(client, secrets, "crisis-line")
    assert (await client.get("/fhir/CarePlan/crisis-1", headers=crisis)).status_code == 200
    research = await bearer(client, secrets, "research-partner")
    assert_outcome(await client.get("/fhir/CarePlan/crisis-1", headers=research), 403, "forbidden")


async def test_a_consent_must_name_the_person_and_the_reader(partners: Any) -> None:
    client, secrets = partners
    epr = await bearer(client, secrets, "epr-beh")
    body = consent("RelatedPerson/carer-1")
    del body["patient"]
    assert_outcome(await client.post("/fhir/Consent", json=body, headers=epr), 422, None, "Consent.patient")
