"""Bad input gets a 4xx OperationOutcome naming the element, and changes nothing; never a 500."""

from __future__ import annotations

import json

import httpx
import pytest

from services.kit.testing import assert_outcome
from services.transitions.domain.phases import OPERATIONS
from tests.transitions.builders import FHIR, PATIENT, WORKER, case_at, open_case, operate, params, read
from tests.transitions.fakes import FakeGateway


async def test_malformed_and_empty_bodies_are_400(client: httpx.AsyncClient, gateway: FakeGateway) -> None:
    case = await open_case(client, patient=gateway.young_person())
    headers = {**FHIR, "If-Match": 'W/"1"'}
    for content in (b"{not json", b"", b"[1, 2]", b'"a string"'):
        response = await client.post(f"/fhir/Task/{case['id']}/$record-discussion", content=content, headers=headers)
        assert_outcome(response, 400, "invalid")
        response = await client.post("/fhir/Task/$open-transition", content=content, headers=FHIR)
        assert_outcome(response, 400, "invalid")
    assert await read(client, f"Task/{case['id']}") == case


async def test_a_wrong_content_type_is_415(client: httpx.AsyncClient) -> None:
    body = json.dumps(params(patient=PATIENT, referringWorker=WORKER))
    response = await client.post("/fhir/Task/$open-transition", content=body, headers={"Content-Type": "text/plain"})
    assert_outcome(response, 415, "not-supported")


async def test_an_operation_takes_parameters(client: httpx.AsyncClient, gateway: FakeGateway) -> None:
    case = await open_case(client, patient=gateway.young_person())
    assert_outcome(await operate(client, case, "record-discussion", case), 400, None, "resourceType")
    body = {"resourceType": "Parameters", "parameter": [{"name": "date", "valueBanana": "x"}]}
    assert_outcome(await operate(client, case, "record-discussion", body), 400, "structure")


@pytest.mark.parametrize("name", [s.value for s in OPERATIONS])
async def test_every_step_needs_if_match_and_refuses_stale_versions(
    client: httpx.AsyncClient, gateway: FakeGateway, name: str
) -> None:
    case = await open_case(client, patient=gateway.young_person())
    response = await client.post(f"/fhir/Task/{case['id']}/${name}", json=params(), headers=FHIR)
    assert_outcome(response, 412, "conflict", "If-Match")
    assert_outcome(await operate(client, case, name, params(), version="7"), 412, "conflict", "If-Match")
    response = await client.post(
        f"/fhir/Task/{case['id']}/${name}", json=params(), headers={**FHIR, "If-Match": "yesterday"}
    )
    assert_outcome(response, 400, "invalid", "If-Match")
    assert await read(client, f"Task/{case['id']}") == case


async def test_steps_on_unknown_or_non_case_tasks(client: httpx.AsyncClient, gateway: FakeGateway) -> None:
    case = await case_at(client, "decide-support", patient=gateway.young_person())
    missing = {**case, "id": "no-such-case"}
    assert_outcome(await operate(client, missing, "decide-support", params()), 404, "not-found")
    phase = (await client.get("/fhir/Task", params={"code": "transition-phase"})).json()["entry"][0]["resource"]
    response = await operate(client, phase, "decide-support", params())
    assert_outcome(response, 422, None, "Task.code")
    response = await client.get(f"/fhir/Task/{phase['id']}/$transition-status")
    assert_outcome(response, 422, None, "Task.code")
    assert_outcome(await client.get("/fhir/Task/1';DROP TABLE task;--"), 400, "invalid", "id")


async def test_values_of_the_wrong_type_or_code_name_the_parameter(
    client: httpx.AsyncClient, gateway: FakeGateway
) -> None:
    case = await case_at(client, "decide-support", patient=gateway.young_person())
    where = "Parameters.parameter.where(name='{}')"
    for body, status, name in (
        (
            {"resourceType": "Parameters", "parameter": [{"name": "supportNeeded", "valueString": "yes"}]},
            400,
            "supportNeeded",
        ),
        (params(supportNeeded=True, agreedBy="Patient/yp-1 and mum"), 400, "agreedBy"),
        (params(supportNeeded=True, agreedBy=[PATIENT, "PractitionerRole/nobody"]), 422, "agreedBy"),
        (params(supportNeeded=[True, False], agreedBy=[PATIENT, WORKER]), 400, "supportNeeded"),
        (params(supportNeeded=True, agreedBy=[PATIENT, WORKER], actor="PractitionerRole/nobody"), 422, "actor"),
    ):
        assert_outcome(await operate(client, case, "decide-support", body), status, None, where.format(name))
    assert gateway.referrals == {}
    assert await read(client, f"Task/{case['id']}") == case
    opening = params(patient="Practitioner/x", referringWorker=WORKER)
    response = await client.post("/fhir/Task/$open-transition", json=opening, headers=FHIR)
    assert_outcome(response, 422, None, where.format("patient"))
    opening = params(patient=PATIENT, referringWorker=WORKER, highRiskReason="loud")
    response = await client.post("/fhir/Task/$open-transition", json=opening, headers=FHIR)
    assert_outcome(response, 422, "code-invalid", where.format("highRiskReason"))
    response = await client.post("/fhir/Task/$open-transition", json=params(patient=PATIENT), headers=FHIR)
    assert_outcome(response, 422, "required", where.format("referringWorker"))


async def test_a_date_that_is_not_a_date_is_400(client: httpx.AsyncClient, gateway: FakeGateway) -> None:
    case = await open_case(client, patient=gateway.young_person())
    body = {"resourceType": "Parameters", "parameter": [{"name": "date", "valueDate": "2026-02-30"}]}
    response = await operate(client, case, "record-discussion", body)
    assert response.status_code == 400
    assert await read(client, f"Task/{case['id']}") == case


async def test_an_oversized_body_is_413(client: httpx.AsyncClient, gateway: FakeGateway) -> None:
    case = await open_case(client, patient=gateway.young_person())
    response = await operate(client, case, "record-discussion", params(note="x" * 300_000))
    assert_outcome(response, 413, "too-costly")


async def test_unknown_routes_are_operation_outcomes(client: httpx.AsyncClient) -> None:
    assert_outcome(await client.get("/fhir/Nothing"), 404, "not-found")
    assert_outcome(await client.get("/fhir/Task/does-not-exist"), 404, "not-found")
    assert_outcome(await client.post("/fhir/Task/x/$teleport", json=params(), headers=FHIR), 404, "not-found")


ODD_VALUES: list[dict[str, object]] = [
    {"valueString": ""},
    {"valueCode": "no-such-code"},
    {"valueCoding": {"system": "urn:x"}},
    {"valueCodeableConcept": {"text": "nothing coded"}},
    {"valueReference": {"display": "someone"}},
    {"valueReference": {"reference": "HealthcareService/barnet-gp"}},
    {"valueInteger": -1},
    {"valueDate": "1900-01-01"},
    {"valueDateTime": "2099-12-31T23:59:59Z"},
    {"part": [{"name": "kind", "valueString": "adult-core-cmht"}]},
    {"part": [{"name": "kind", "valueCode": "adult-core-cmht"}, {"name": "service", "valueCode": "x"}]},
]
NAMES = [
    "date", "supportNeeded", "agreedBy", "reason", "invitee", "attendee", "destination", "decision", "decidedBy",
    "cypSummary", "respondent", "source", "experience", "declined", "outcome", "reviewer", "actions", "cypEnd",
    "adultStart", "rationale", "choice", "highRisk", "highRiskReason", "actor",
]  # fmt: skip


@pytest.mark.parametrize("name", [s.value for s in OPERATIONS])
async def test_odd_but_well_formed_parameters_never_cause_a_server_error(
    client: httpx.AsyncClient, gateway: FakeGateway, name: str
) -> None:
    """Every step at its own phase, given each parameter with each odd value: a 2xx or a 4xx, never a 5xx."""
    until = {
        "record-discussion": "record-discussion",
        "decide-support": "decide-support",
        "reopen": "decide-support",
        "flag-high-risk": "record-meeting",
        "record-meeting": "record-meeting",
        "share-plan": "share-plan",
        "record-agreement": "record-agreement",
        "set-action-date": "action-plan",
        "action-plan": "action-plan",
    }.get(name, "record-feedback")
    case = await case_at(client, until, patient=gateway.young_person())
    for parameter in NAMES:
        for odd in ODD_VALUES:
            body = {"resourceType": "Parameters", "parameter": [{"name": parameter, **odd}]}
            response = await operate(client, case, name, body)
            assert response.status_code < 500, (parameter, odd, response.text)
            if response.status_code == 200:
                case = response.json()
            else:
                assert_outcome(response, response.status_code)
