"""The shared-record view, `GET /fhir/Patient/{id}/$everything` (FR-67, FR-71 subject access).

One read-only Bundle across both EPRs and every service; a service that cannot be reached is
named in an OperationOutcome entry instead of silently missing.
"""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

from gateway.identity import LOCAL_MRN, NHS_NUMBER
from gateway.tables import EXT_BOROUGH
from services.kit.resources import validate
from services.kit.testing import assert_outcome
from tests.gateway.conftest import GatewayFactory, Network, client_for
from tests.referrals.builders import ACCEPT_WITH_SUPPORT, FHIR, contact, episode, operate, referral, task_for

pytestmark = pytest.mark.usefixtures("engine")


async def person_with_history(client: httpx.AsyncClient) -> str:
    """A Camden resident known to both EPRs, on a caseload, referred on, accepted, seen once."""
    body: dict[str, Any] = {
        "resourceType": "Patient",
        "identifier": [{"system": LOCAL_MRN["ci"], "value": "CI0100"}, {"system": NHS_NUMBER, "value": "9000000009"}],
        "birthDate": "1990-04-01",
        "extension": [{"url": EXT_BOROUGH, "valueCode": "camden"}],
    }
    created = await client.post("/epr/ci/Patient", json=body, headers=FHIR)
    assert created.status_code == 201, created.text
    body["identifier"][0] = {"system": LOCAL_MRN["beh"], "value": "BEH0100"}
    assert (await client.post("/epr/beh/Patient", json=body, headers=FHIR)).status_code == 200
    patient = f"Patient/{created.json()['id']}"
    assert (await client.post("/fhir/EpisodeOfCare", json=episode(patient=patient), headers=FHIR)).status_code == 201
    sr = await client.post("/fhir/ServiceRequest", json=referral(subject=patient), headers=FHIR)
    assert sr.status_code == 201, sr.text
    task = await task_for(client, sr.json()["id"])
    assert (await operate(client, task, "accept", ACCEPT_WITH_SUPPORT)).status_code == 200
    seen = contact(sr.json()["id"], "2026-01-05T10:00:00Z", "assessment", subject=patient)
    assert (await client.post("/fhir/Encounter", json=seen, headers=FHIR)).status_code == 201
    return str(created.json()["id"])


def kinds(bundle: dict[str, Any], mode: str) -> list[str]:
    return sorted(e["resource"]["resourceType"] for e in bundle["entry"] if e["search"]["mode"] == mode)


async def test_everything_about_a_person_across_both_eprs_and_the_services(client: httpx.AsyncClient) -> None:
    person = await person_with_history(client)
    response = await client.get(f"/fhir/Patient/{person}/$everything")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/fhir+json")
    bundle = response.json()
    validate(bundle, "Bundle")
    assert bundle["type"] == "searchset"
    assert kinds(bundle, "match") == ["Patient"]
    patient = bundle["entry"][0]["resource"]
    assert {i["system"] for i in patient["identifier"]} == {LOCAL_MRN["beh"], LOCAL_MRN["ci"], NHS_NUMBER}
    included = kinds(bundle, "include")
    # the core episode and the waiting episode, the referral and its Task, the contact, the waiting letter
    assert included == [
        "Communication",
        "Encounter",
        "EpisodeOfCare",
        "EpisodeOfCare",
        "ServiceRequest",
        "Task",
    ]
    assert bundle["total"] == 1 + len(included)
    for entry in bundle["entry"][1:]:
        if entry["search"]["mode"] == "include":
            resource = entry["resource"]
            assert entry["fullUrl"] == f"http://gateway.test/fhir/{resource['resourceType']}/{resource['id']}"
    # the care-plans and transitions services are not running here: the record says so
    outcomes = [e["resource"] for e in bundle["entry"] if e["search"]["mode"] == "outcome"]
    assert sorted(o["issue"][0]["expression"][0] for o in outcomes) == ["careplans", "transitions"]
    assert all(o["issue"][0]["severity"] == "warning" for o in outcomes)
    assert "unavailable" in outcomes[0]["issue"][0]["diagnostics"]


async def test_the_record_includes_care_plans_when_that_service_answers(
    make_gateway: GatewayFactory, network: Network
) -> None:
    """FR-67: a plan written for a C&I-borough patient shows in the shared record."""
    seen: list[str] = []

    def careplans(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.url.path}?{request.url.query.decode()}")
        kind = request.url.path.rsplit("/", 1)[-1]
        patient = request.url.params["patient"]
        entries = []
        if kind == "CarePlan":
            plan = {
                "resourceType": "CarePlan",
                "id": "plan-1",
                "status": "active",
                "intent": "plan",
                "subject": {"reference": patient},
            }
            entries = [
                {
                    "fullUrl": f"http://careplans.internal/fhir/CarePlan/{plan['id']}",
                    "resource": plan,
                    "search": {"mode": "match"},
                }
            ]
        body = {"resourceType": "Bundle", "type": "searchset", "entry": entries}
        return httpx.Response(200, content=orjson.dumps(body), headers={"Content-Type": "application/fhir+json"})

    network.attach("careplans.internal", httpx.MockTransport(careplans))
    gateway = await make_gateway()
    async with client_for(gateway) as client:
        person = await person_with_history(client)
        bundle = (await client.get(f"/fhir/Patient/{person}/$everything", params={"_type": "CarePlan"})).json()
    assert kinds(bundle, "include") == ["CarePlan"]
    assert kinds(bundle, "match") == []
    assert [e["fullUrl"] for e in bundle["entry"] if e["search"]["mode"] == "include"] == [
        "http://gateway.test/fhir/CarePlan/plan-1"
    ]
    assert any(q.startswith("/fhir/CarePlan?patient=Patient") for q in seen)
    outcomes = [e["resource"]["issue"][0]["expression"][0] for e in bundle["entry"] if e["search"]["mode"] == "outcome"]
    assert outcomes == ["transitions"]


async def test_a_service_that_refuses_the_caller_refuses_the_whole_record(
    network: Network, client: httpx.AsyncClient
) -> None:
    def forbidden(_: httpx.Request) -> httpx.Response:
        body = {
            "resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": "forbidden", "diagnostics": "no"}],
        }
        return httpx.Response(403, content=orjson.dumps(body), headers={"Content-Type": "application/fhir+json"})

    network.attach("careplans.internal", httpx.MockTransport(forbidden))
    person = await person_with_history(client)
    assert_outcome(await client.get(f"/fhir/Patient/{person}/$everything"), 403, "forbidden")


async def test_a_subject_access_read_is_audited_with_the_person(client: httpx.AsyncClient) -> None:
    """FR-71: $everything plus the audit log supports a subject-access request."""
    person = await person_with_history(client)
    assert (await client.get(f"/fhir/Patient/{person}/$everything")).status_code == 200
    audit = (await client.get("/fhir/AuditEvent", params={"patient": f"Patient/{person}", "action": "E"})).json()
    displays = [e["resource"]["entity"][0]["what"]["display"] for e in audit["entry"]]
    assert f"GET /fhir/Patient/{person}/$everything" in displays


async def test_unknown_people_and_parameters_are_refused(client: httpx.AsyncClient) -> None:
    assert_outcome(await client.get("/fhir/Patient/nobody/$everything"), 404, "not-found")
    person = await person_with_history(client)
    assert_outcome(
        await client.get(f"/fhir/Patient/{person}/$everything", params={"start": "2020"}), 400, "invalid", "start"
    )
