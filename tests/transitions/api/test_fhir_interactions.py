"""FHIR interactions: read, vread, history, search with includes, $validate, metadata, what is refused."""

from __future__ import annotations

import httpx

from services.kit.testing import assert_outcome
from tests.transitions.builders import FHIR, PATIENT, WORKER, case_at, open_case, params, read, step
from tests.transitions.fakes import FakeGateway


async def test_history_and_vread_keep_every_version_of_a_case(client: httpx.AsyncClient, gateway: FakeGateway) -> None:
    case = await case_at(client, "record-meeting", patient=gateway.young_person())
    first = await client.get(f"/fhir/Task/{case['id']}/_history/1")
    assert first.status_code == 200
    assert first.headers["etag"] == 'W/"1"'
    assert first.json()["businessStatus"]["coding"][0]["code"] == "pre-transition-discussion"
    current = await client.get(f"/fhir/Task/{case['id']}")
    assert current.headers["etag"] == 'W/"3"'
    assert current.headers["last-modified"]
    history = (await client.get(f"/fhir/Task/{case['id']}/_history")).json()
    assert [e["resource"]["meta"]["versionId"] for e in history["entry"]] == ["3", "2", "1"]
    assert_outcome(await client.get(f"/fhir/Task/{case['id']}/_history/9"), 404, "not-found")
    assert_outcome(await client.get(f"/fhir/Task/{case['id']}/_history/x"), 404, "not-found", "vid")


async def test_searches_by_code_phase_subject_and_risk(client: httpx.AsyncClient, gateway: FakeGateway) -> None:
    await case_at(client, "record-meeting", patient=gateway.young_person("yp-1"))
    await open_case(client, patient=gateway.young_person("yp-2", high_risk=True))
    cases = (await client.get("/fhir/Task", params={"code": "transition-case"})).json()
    assert cases["total"] == 2
    planning = (
        await client.get("/fhir/Task", params={"code": "transition-case", "business-status": "transition-planning"})
    ).json()
    assert [e["resource"]["for"]["reference"] for e in planning["entry"]] == [PATIENT]
    phases = (await client.get("/fhir/Task", params={"code": "transition-phase", "subject": "yp-1"})).json()
    assert phases["total"] == 3
    risky = (await client.get("/fhir/Task", params={"high-risk": "true", "code": "transition-case"})).json()
    assert [e["resource"]["for"]["reference"] for e in risky["entry"]] == ["Patient/yp-2"]
    assert (await client.get("/fhir/Task", params={"borough": "barnet", "code": "transition-case"})).json()[
        "total"
    ] == 2
    plans = (await client.get("/fhir/CarePlan", params={"category": "transition-plan", "status": "draft"})).json()
    assert plans["total"] == 0


async def test_a_case_includes_its_phases_and_plan(client: httpx.AsyncClient, gateway: FakeGateway) -> None:
    case = await case_at(client, "share-plan", patient=gateway.young_person())
    found = (
        await client.get(
            "/fhir/Task",
            params={"_id": case["id"], "_revinclude": "Task:part-of", "_include": "Task:focus"},
        )
    ).json()
    kinds = sorted((e["search"]["mode"], e["resource"]["resourceType"]) for e in found["entry"])
    assert kinds == [("include", "CarePlan")] + [("include", "Task")] * 3 + [("match", "Task")]
    phases = (await client.get("/fhir/Task", params={"code": "transition-phase", "_include": "Task:part-of"})).json()
    assert {e["resource"]["id"] for e in phases["entry"] if e["search"]["mode"] == "include"} == {case["id"]}


async def test_plans_are_searchable(client: httpx.AsyncClient, gateway: FakeGateway) -> None:
    case = await case_at(client, "share-plan", patient=gateway.young_person())
    found = (await client.get("/fhir/CarePlan", params={"category": "transition-plan", "subject": PATIENT})).json()
    assert [e["resource"]["id"] for e in found["entry"]] == [case["focus"]["reference"].removeprefix("CarePlan/")]
    plan = await read(client, case["focus"]["reference"])
    history = (await client.get(f"/fhir/CarePlan/{plan['id']}/_history")).json()
    assert history["total"] == 1


async def test_unknown_search_parameters_are_refused_by_name(client: httpx.AsyncClient) -> None:
    assert_outcome(await client.get("/fhir/Task", params={"colour": "blue"}), 400, "invalid", "colour")
    assert_outcome(await client.get("/fhir/Task", params={"high-risk": "maybe"}), 400, "invalid", "high-risk")
    assert_outcome(await client.get("/fhir/Task", params={"_include": "Task:owner"}), 400, "invalid", "_include")
    assert_outcome(await client.get("/fhir/CarePlan", params={"_sort": "colour"}), 400, "invalid", "_sort")
    assert_outcome(
        await client.get("/fhir/QuestionnaireResponse", params={"authored": "yesterday"}), 400, "invalid", "authored"
    )


async def test_validate_checks_codes_and_stores_nothing(client: httpx.AsyncClient, gateway: FakeGateway) -> None:
    case = await case_at(client, "share-plan", patient=gateway.young_person())
    good = await client.post("/fhir/Task/$validate", json=case, headers=FHIR)
    assert [i["severity"] for i in good.json()["issue"]] == ["information"]
    bad = {
        **case,
        "businessStatus": {"coding": [{"system": case["businessStatus"]["coding"][0]["system"], "code": "x"}]},
    }
    outcome = (await client.post("/fhir/Task/$validate", json=bad, headers=FHIR)).json()
    assert outcome["issue"][0]["expression"] == ["Task.businessStatus"]
    plan = await read(client, case["focus"]["reference"])
    assert (await client.post("/fhir/CarePlan/$validate", json=plan, headers=FHIR)).json()["issue"][0][
        "severity"
    ] == "information"
    plan["activity"][0]["detail"]["performer"] = [{"reference": "HealthcareService/barnet-gp"}]
    outcome = (await client.post("/fhir/CarePlan/$validate", json=plan, headers=FHIR)).json()
    assert outcome["issue"][0]["expression"] == ["CarePlan.activity[0].detail"]
    response = {"resourceType": "QuestionnaireResponse", "status": "completed", "questionnaire": "http://x"}
    outcome = (await client.post("/fhir/QuestionnaireResponse/$validate", json=response, headers=FHIR)).json()
    assert outcome["issue"][0]["expression"] == ["QuestionnaireResponse.questionnaire"]
    assert (await client.get("/fhir/QuestionnaireResponse")).json()["total"] == 0
    assert (await read(client, f"Task/{case['id']}"))["meta"]["versionId"] == case["meta"]["versionId"]


async def test_resources_change_only_through_the_case_operations(
    client: httpx.AsyncClient, gateway: FakeGateway
) -> None:
    case = await open_case(client, patient=gateway.young_person())
    assert_outcome(await client.put(f"/fhir/Task/{case['id']}", json=case, headers=FHIR), 405, "not-supported")
    assert_outcome(await client.post("/fhir/Task", json=case, headers=FHIR), 405, "not-supported")
    assert_outcome(await client.delete(f"/fhir/Task/{case['id']}"), 405, "not-supported")
    assert_outcome(await client.post("/fhir/CarePlan", json={}, headers=FHIR), 405, "not-supported")
    assert_outcome(await client.post("/fhir/QuestionnaireResponse", json={}, headers=FHIR), 405, "not-supported")
    assert (await read(client, f"Task/{case['id']}")) == case


async def test_the_capability_statement_lists_what_is_supported(client: httpx.AsyncClient) -> None:
    response = await client.get("/fhir/metadata")
    assert response.headers["content-type"].startswith("application/fhir+json")
    statement = response.json()
    assert (statement["resourceType"], statement["fhirVersion"]) == ("CapabilityStatement", "4.0.1")
    resources = {r["type"]: r for r in statement["rest"][0]["resource"]}
    assert set(resources) == {"Task", "CarePlan", "QuestionnaireResponse", "Measure"}
    assert [o["name"] for o in resources["Measure"]["operation"]] == ["evaluate-measure"]
    operations = {o["name"] for o in resources["Task"]["operation"]}
    assert {
        "open-transition",
        "transition-worklist",
        "record-discussion",
        "decide-support",
        "record-meeting",
        "share-plan",
        "record-agreement",
        "set-action-date",
        "action-plan",
        "record-feedback",
        "review",
        "close",
        "validate",
    } <= operations
    assert {"name": "part-of", "type": "reference"} in resources["Task"]["searchParam"]
    assert "Task:part-of" in resources["Task"]["searchRevInclude"]


async def test_the_high_risk_flag_can_be_set_and_cleared_at_any_open_phase(
    client: httpx.AsyncClient, gateway: FakeGateway
) -> None:
    """FR-60: high_risk carries reasons and can be set at any phase."""
    case = await case_at(client, "record-meeting", patient=gateway.young_person())
    response = await client.post(
        f"/fhir/Task/{case['id']}/$flag-high-risk",
        json=params(highRiskReason="other"),
        headers={**FHIR, "If-Match": f'W/"{case["meta"]["versionId"]}"'},
    )
    assert_outcome(response, 422, "required", "Parameters.parameter.where(name='highRiskNote')")
    case = await step(
        client, case, "flag-high-risk", params(highRiskReason=["complex-needs", "multi-agency-involvement"])
    )
    (flag,) = [e for e in case["extension"] if e["url"].endswith("transition-high-risk")]
    reasons = [p["valueCodeableConcept"]["coding"][0]["code"] for p in flag["extension"] if p["url"] == "reason"]
    assert reasons == ["complex-needs", "multi-agency-involvement"]
    assert (await client.get("/fhir/Task", params={"high-risk": "true"})).json()["total"] == 1
    case = await step(client, case, "flag-high-risk", params(highRisk=False))
    assert (await client.get("/fhir/Task", params={"high-risk": "true"})).json()["total"] == 0
    assert case["businessStatus"]["coding"][0]["code"] == "transition-planning"


async def test_the_actor_of_a_step_is_recorded(client: httpx.AsyncClient, gateway: FakeGateway) -> None:
    case = await open_case(client, patient=gateway.young_person())
    case = await step(client, case, "record-discussion", params(actor=WORKER))
    assert {
        "url": "https://continuum.example.org/fhir/StructureDefinition/changed-by",
        "valueReference": {"reference": WORKER},
    } in case["extension"]
