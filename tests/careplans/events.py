"""Patient events as the gateway delivers them to the care-plans service."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from services.kit.patient_facts import EXT_DEPRIVATION, EXT_ETHNIC

ETHNIC_SYSTEM = "https://fhir.hl7.org.uk/CodeSystem/UKCore-EthnicCategoryEngland"


def patient(
    id_: str,
    *,
    ethnic: str | None = None,
    gender: str | None = None,
    decile: int | None = None,
    birth_date: str | None = None,
) -> dict[str, Any]:
    """A Patient as the gateway publishes it, with only the facts asked for."""
    extensions: list[dict[str, Any]] = []
    if ethnic:
        extensions.append(
            {"url": EXT_ETHNIC, "valueCodeableConcept": {"coding": [{"system": ETHNIC_SYSTEM, "code": ethnic}]}}
        )
    if decile is not None:
        extensions.append({"url": EXT_DEPRIVATION, "valueInteger": decile})
    resource: dict[str, Any] = {"resourceType": "Patient", "id": id_}
    if extensions:
        resource["extension"] = extensions
    if gender:
        resource["gender"] = gender
    if birth_date:
        resource["birthDate"] = birth_date
    return resource


def patient_upserted(resource: Any, event_id: str | None = None) -> dict[str, Any]:
    """A `patient-upserted` event carrying `resource`."""
    return {
        "id": event_id or str(uuid.uuid4()),
        "type": "patient-upserted",
        "source": "gateway",
        "time": "2026-01-05T09:00:00.000Z",
        "resource": resource,
    }


async def tell(client: httpx.AsyncClient, id_: str, **facts: Any) -> None:
    """Deliver a Patient event about `Patient/{id_}` (asserting it is applied)."""
    response = await client.post("/internal/events", json=patient_upserted(patient(id_, **facts)))
    assert response.status_code == 200, response.text
    assert response.json()["issue"][0]["diagnostics"] == "applied"
