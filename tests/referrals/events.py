"""Recorded events as the gateway delivers them to the referrals service."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from services.referrals.service.patients import (
    EXT_BOROUGH,
    EXT_COMMUNICATION_NEEDS,
    EXT_FLAG,
    EXT_INTERPRETER,
    EXT_MENTAL_ILLNESS_ONSET,
)


def patient(
    id_: str,
    *,
    birth_date: str = "1990-04-01",
    borough: str = "barnet",
    flags: tuple[str, ...] = (),
    mental_illness_onset: str | None = None,
    language: str | None = None,
    interpreter: bool | None = None,
    needs: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A Patient as the gateway would publish it."""
    extensions: list[dict[str, Any]] = [{"url": EXT_BOROUGH, "valueCode": borough}]
    extensions += [{"url": EXT_FLAG, "valueCodeableConcept": {"coding": [{"code": f}]}} for f in flags]
    if mental_illness_onset:
        extensions.append({"url": EXT_MENTAL_ILLNESS_ONSET, "valueDate": mental_illness_onset})
    if interpreter is not None:
        extensions.append({"url": EXT_INTERPRETER, "valueBoolean": interpreter})
    if needs:
        extensions.append({"url": EXT_COMMUNICATION_NEEDS, "valueString": needs})
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "id": id_,
        "birthDate": birth_date,
        "extension": extensions,
    }
    if language:
        resource["communication"] = [{"language": {"coding": [{"code": language}]}, "preferred": True}]
    if "extension" in extra and extra["extension"] == []:
        extra.pop("extension")
    resource.update({k: v for k, v in extra.items() if v is not None})
    return resource


async def send(client: httpx.AsyncClient, event: dict[str, Any]) -> httpx.Response:
    """Deliver one event to the internal endpoint."""
    response = await client.post("/internal/events", json=event)
    assert response.status_code == 200, response.text
    return response


async def upsert_patient(client: httpx.AsyncClient, id_: str, **kw: Any) -> None:
    """Tell the service about a patient (as the gateway's Patient events will)."""
    await send(client, {"id": str(uuid.uuid4()), "type": "patient-upserted", "resource": patient(id_, **kw)})


def careplan_event(
    kind: str, occurred: str, subject: str = "Patient/p-1", based_on: str | None = None
) -> dict[str, Any]:
    """A care-plans event (FR-50) as recorded from the careplans outbox."""
    event: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "type": kind,
        "subject": subject,
        "occurred": occurred,
        "source": "careplans",
    }
    if based_on:
        event["basedOn"] = based_on
    return event
