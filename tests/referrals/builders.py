"""Payloads the referrals tests send, built the way an integrator would."""

from __future__ import annotations

from typing import Any

import httpx

from services.referrals.domain.codes import (
    CS_CONTACT,
    CS_LESS_RESTRICTIVE,
    CS_MODE,
    CS_SOURCE,
    EXT_LESS_RESTRICTIVE,
)

FHIR = {"Content-Type": "application/fhir+json"}
PATIENT = "Patient/p-1"
CORE_WORKER = "PractitionerRole/barnet-core-north-worker"
CORE_TEAM = "HealthcareService/barnet-core-north"


def referral(
    performer: str = "HealthcareService/barnet-psychosis",
    requester: str = CORE_WORKER,
    source: str = "internal-team",
    subject: str = PATIENT,
    **extra: Any,
) -> dict[str, Any]:
    """A minimal referral ServiceRequest (FR-1)."""
    body: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "status": "active",
        "intent": "order",
        "subject": {"reference": subject},
        "requester": {"reference": requester},
        "performer": [{"reference": performer}],
        "reasonCode": [{"text": "Persistent psychotic symptoms despite core team support"}],
        "category": [{"coding": [{"system": CS_SOURCE, "code": source}]}],
    }
    body.update(extra)
    return body


def less_restrictive(*codes: str) -> list[dict[str, Any]]:
    """Less-restrictive-option extensions (FR-30)."""
    return [
        {
            "url": EXT_LESS_RESTRICTIVE,
            "valueCodeableConcept": {"coding": [{"system": CS_LESS_RESTRICTIVE, "code": c}]},
        }
        for c in codes
    ]


def params(**values: Any) -> dict[str, Any]:
    """A Parameters body; the value type is chosen from the Python value and the name."""
    parameter = []
    for name, value in values.items():
        if value is None:
            continue
        if isinstance(value, bool):
            parameter.append({"name": name, "valueBoolean": value})
        elif isinstance(value, int):
            parameter.append({"name": name, "valueInteger": value})
        elif isinstance(value, str) and "/" in value and not value.startswith("http") and " " not in value:
            parameter.append({"name": name, "valueReference": {"reference": value}})
        elif isinstance(value, str) and len(value) >= 19 and value[4] == "-" and "T" in value:
            parameter.append({"name": name, "valueDateTime": value})
        elif isinstance(value, str) and len(value) == 10 and value[4] == "-" and value[7] == "-":
            parameter.append({"name": name, "valueDate": value})
        elif name in {"reason", "nextStep", "eligibility", "complexity", "screening"}:
            parameter.append({"name": name, "valueCode": value})
        else:
            parameter.append({"name": name, "valueString": value})
    return {"resourceType": "Parameters", "parameter": parameter}


def episode(team: str = CORE_TEAM, patient: str = PATIENT, status: str = "active") -> dict[str, Any]:
    """A caseload EpisodeOfCare at a team."""
    from services.referrals.domain.codes import EXT_HEALTHCARE_SERVICE

    return {
        "resourceType": "EpisodeOfCare",
        "status": status,
        "patient": {"reference": patient},
        "extension": [{"url": EXT_HEALTHCARE_SERVICE, "valueReference": {"reference": team}}],
    }


def contact(
    referral_id: str,
    start: str,
    *purposes: str,
    mode: str = "face-to-face",
    status: str = "finished",
    subject: str = PATIENT,
) -> dict[str, Any]:
    """A contact Encounter against a referral."""
    types = [{"coding": [{"system": CS_MODE, "code": mode}]}]
    types += [{"coding": [{"system": CS_CONTACT, "code": p}]} for p in purposes]
    return {
        "resourceType": "Encounter",
        "status": status,
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
        "type": types,
        "subject": {"reference": subject},
        "basedOn": [{"reference": f"ServiceRequest/{referral_id}"}],
        "period": {"start": start},
    }


async def create_referral(client: httpx.AsyncClient, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """POST a referral and return it (asserting 201)."""
    response = await client.post("/fhir/ServiceRequest", json=body or referral(), headers=FHIR)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def open_episode(client: httpx.AsyncClient, team: str = CORE_TEAM, patient: str = PATIENT) -> dict[str, Any]:
    """Put the patient on a team's caseload."""
    response = await client.post("/fhir/EpisodeOfCare", json=episode(team, patient), headers=FHIR)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def task_for(client: httpx.AsyncClient, referral_id: str) -> dict[str, Any]:
    """The referral Task tracking a referral."""
    response = await client.get("/fhir/Task", params={"focus": f"ServiceRequest/{referral_id}", "code": "referral"})
    assert response.status_code == 200, response.text
    entries = response.json()["entry"]
    assert len(entries) == 1
    return entries[0]["resource"]  # type: ignore[no-any-return]


async def operate(
    client: httpx.AsyncClient,
    task: dict[str, Any],
    operation: str,
    body: dict[str, Any],
    version: str | None = None,
) -> httpx.Response:
    """POST a named operation to a Task with If-Match of its current version."""
    etag = f'W/"{version or task["meta"]["versionId"]}"'
    return await client.post(f"/fhir/Task/{task['id']}/${operation}", json=body, headers={**FHIR, "If-Match": etag})


async def referral_with_episode(client: httpx.AsyncClient, **kw: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """A core-team referral (the core team holding an episode) and its Task."""
    await open_episode(client)
    created = await create_referral(client, referral(**kw))
    return created, await task_for(client, created["id"])


ACCEPT_WITH_SUPPORT = params(
    waitingSupport="PractitionerRole/barnet-core-north-worker",
    supportOffered="Weekly check-in calls from the core team and peer support group",
    actor="PractitionerRole/barnet-psychosis-worker",
)
