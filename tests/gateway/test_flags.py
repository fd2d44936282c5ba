"""Flags published to the wider system (FR-74): written once, visible in the shared record."""

from __future__ import annotations

from typing import Any

import httpx

from services.kit.testing import assert_outcome
from tests.referrals.builders import FHIR

CS_FLAG = "https://continuum.example.org/fhir/CodeSystem/patient-flag"


def flag(patient: str, code: str = "ongoing-unmet-health-need") -> dict[str, Any]:
    return {
        "resourceType": "Flag",
        "status": "active",
        "code": {"coding": [{"system": CS_FLAG, "code": code}], "text": "Ongoing unmet health need"},
        "subject": {"reference": patient},
    }


async def register(client: httpx.AsyncClient) -> str:
    response = await client.post(
        "/fhir/Patient",
        json={"resourceType": "Patient", "name": [{"family": "Okoro"}], "birthDate": "1980-02-02"},
        headers=FHIR,
    )
    assert response.status_code == 201, response.text
    return f"Patient/{response.json()['id']}"


async def test_a_flag_is_published_and_visible_in_the_shared_record(client: httpx.AsyncClient) -> None:
    patient = await register(client)
    created = await client.post("/fhir/Flag", json=flag(patient), headers=FHIR)
    assert created.status_code == 201, created.text
    found = (await client.get("/fhir/Flag", params={"patient": patient})).json()
    assert found["total"] == 1
    record = (await client.get(f"/fhir/{patient}/$everything")).json()
    kinds = [e["resource"]["resourceType"] for e in record["entry"] if e["search"]["mode"] != "outcome"]
    assert "Flag" in kinds


async def test_a_closed_flag_leaves_the_shared_record(client: httpx.AsyncClient) -> None:
    patient = await register(client)
    created = (await client.post("/fhir/Flag", json=flag(patient), headers=FHIR)).json()
    closed = {**created, "status": "inactive"}
    assert (await client.put(f"/fhir/Flag/{created['id']}", json=closed, headers=FHIR)).status_code == 200
    record = (await client.get(f"/fhir/{patient}/$everything")).json()
    assert "Flag" not in [e["resource"]["resourceType"] for e in record["entry"]]


async def test_a_flag_needs_a_person_and_a_known_code(client: httpx.AsyncClient) -> None:
    patient = await register(client)
    assert_outcome(await client.post("/fhir/Flag", json=flag(patient, "grumpy"), headers=FHIR), 422, "code-invalid")
    body = flag(patient)
    body["subject"] = {"reference": "Group/g-1"}
    assert_outcome(await client.post("/fhir/Flag", json=body, headers=FHIR), 422, None, "Flag.subject")
