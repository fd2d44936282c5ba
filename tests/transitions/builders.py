"""Payloads the transitions tests send, built the way an integrator would, and walks through phases."""

from __future__ import annotations

import re
from typing import Any

import httpx

from services.transitions.domain.phases import Phase

FHIR = {"Content-Type": "application/fhir+json"}
PATIENT = "Patient/yp-1"
WORKER = "PractitionerRole/barnet-cypmhs-worker"
TRANSITIONS_WORKER = "PractitionerRole/barnet-transitions-worker"
TRANSITIONS_TEAM = "HealthcareService/barnet-transitions"
CORE_TEAM = "HealthcareService/barnet-core-north"

_CODES = {
    "decision",
    "respondent",
    "experience",
    "outcome",
    "highRiskReason",
    "kind",
}
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T")


def value(name: str, item: Any) -> dict[str, Any]:
    """One parameter, its value type chosen from the Python value and the name."""
    if isinstance(item, dict) and "part" in item:
        return {"name": name, "part": item["part"]}
    if isinstance(item, dict):
        return {"name": name, "valueReference": item}
    if isinstance(item, bool):
        return {"name": name, "valueBoolean": item}
    if isinstance(item, int):
        return {"name": name, "valueInteger": item}
    text = str(item)
    if name in _CODES:
        return {"name": name, "valueCode": text}
    if _DATETIME.match(text):
        return {"name": name, "valueDateTime": text}
    if _DATE.match(text):
        return {"name": name, "valueDate": text}
    if re.match(r"^[A-Z][A-Za-z]+/[A-Za-z0-9\-.]+$", text):
        return {"name": name, "valueReference": {"reference": text}}
    return {"name": name, "valueString": text}


def params(**values: Any) -> dict[str, Any]:
    """A Parameters body; a list value repeats the parameter, None leaves it out."""
    parameter: list[dict[str, Any]] = []
    for name, item in values.items():
        for one in item if isinstance(item, list) else [item]:
            if one is not None:
                parameter.append(value(name, one))
    return {"resourceType": "Parameters", "parameter": parameter}


def destination(kind: str, service: str | None = None, reason: str | None = None) -> dict[str, Any]:
    """A `destination` parameter's parts (FR-61)."""
    part: list[dict[str, Any]] = [{"name": "kind", "valueCode": kind}]
    if service:
        part.append({"name": "service", "valueReference": {"reference": service}})
    if reason:
        part.append({"name": "reason", "valueCode": reason})
    return {"part": part}


DISCUSSION = params(date="2026-01-05", participant=[PATIENT, WORKER])
SUPPORT_YES = params(supportNeeded=True, agreedBy=[PATIENT, WORKER])
MEETING = params(
    date="2026-01-05T08:00:00Z",
    invitee=[WORKER, TRANSITIONS_WORKER, PATIENT],
    attendee=[TRANSITIONS_WORKER, PATIENT],
    destination=[destination("adult-core-cmht", CORE_TEAM)],
    summary="Move to the core team North with a joint handover appointment",
)
SHARE = params(date="2026-01-05T08:30:00Z")
AGREE = params(decision="agreed", decidedBy=PATIENT)
ACTION = params(cypSummary="Under CYPMHS since 2022 for low mood and anxiety; CBT completed; stable on sertraline.")
FEEDBACK = params(respondent="young-person", experience="positive", comment="I met my new worker before I moved")
REVIEW = params(outcome="effective", reviewer=TRANSITIONS_WORKER)
CLOSE = params(note="Settled with the core team")

WALK: list[tuple[Phase, str, dict[str, Any]]] = [
    (Phase.DISCUSSION, "record-discussion", DISCUSSION),
    (Phase.SUPPORT, "decide-support", SUPPORT_YES),
    (Phase.PLANNING, "record-meeting", MEETING),
    (Phase.PLANNING, "share-plan", SHARE),
    (Phase.PLANNING, "record-agreement", AGREE),
    (Phase.ACTION, "action-plan", ACTION),
    (Phase.EVALUATION, "record-feedback", FEEDBACK),
    (Phase.EVALUATION, "review", REVIEW),
    (Phase.EVALUATION, "close", CLOSE),
]


def phase_of(task: dict[str, Any]) -> str:
    """A case's businessStatus code."""
    code: str = task["businessStatus"]["coding"][0]["code"]
    return code


def outputs(task: dict[str, Any], kind: str) -> list[Any]:
    """The values of a Task's outputs of one kind."""
    found = []
    for output in task.get("output") or []:
        if output["type"]["coding"][0]["code"] == kind:
            found.append(next(v for k, v in output.items() if k.startswith("value")))
    return found


async def open_case(
    client: httpx.AsyncClient, patient: str = PATIENT, worker: str = WORKER, **extra: Any
) -> dict[str, Any]:
    """Open a case (asserting 201) and return the case Task."""
    response = await client.post(
        "/fhir/Task/$open-transition", json=params(patient=patient, referringWorker=worker, **extra), headers=FHIR
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def operate(
    client: httpx.AsyncClient, case: dict[str, Any], step: str, body: dict[str, Any], version: str | None = None
) -> httpx.Response:
    """POST a step to a case with If-Match of its current version."""
    etag = f'W/"{version or case["meta"]["versionId"]}"'
    return await client.post(f"/fhir/Task/{case['id']}/${step}", json=body, headers={**FHIR, "If-Match": etag})


async def step(client: httpx.AsyncClient, case: dict[str, Any], name: str, body: dict[str, Any]) -> dict[str, Any]:
    """A step that must succeed; returns the case's new version."""
    response = await operate(client, case, name, body)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def walk(client: httpx.AsyncClient, case: dict[str, Any], until: str) -> dict[str, Any]:
    """Take a case through the standard steps up to (not including) the step named `until`."""
    for _, name, body in WALK:
        if name == until:
            return case
        case = await step(client, case, name, body)
    assert until == "end", f"{until} is not a step of the walk"
    return case


async def case_at(client: httpx.AsyncClient, until: str, **extra: Any) -> dict[str, Any]:
    """A new case walked up to the step named `until`."""
    return await walk(client, await open_case(client, **extra), until)


async def read(client: httpx.AsyncClient, reference: str) -> dict[str, Any]:
    """GET a resource by `Type/id` (asserting 200)."""
    response = await client.get(f"/fhir/{reference}")
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]
