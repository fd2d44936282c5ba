"""FHIR interactions on every type: search, paging, history, vread, $validate, metadata; bad input."""

from __future__ import annotations

import json

import httpx
import pytest

from services.kit.testing import assert_outcome
from tests.careplans.builders import (
    FHIR,
    PATIENT,
    REFERRAL,
    create_plan,
    crisis_plan,
    dialog,
    first_session,
    record,
    review,
    run_session,
    session,
    waiting_support_plan,
)

KINDS = ("Questionnaire", "QuestionnaireResponse", "Observation", "CarePlan", "Goal")


async def total(client: httpx.AsyncClient, kind: str, **params: str) -> int:
    response = await client.get(f"/fhir/{kind}", params=params)
    assert response.status_code == 200, response.text
    found: int = response.json()["total"]
    return found


async def test_search_parameters_of_each_type(client: httpx.AsyncClient) -> None:
    await first_session(client)
    await record(client, dialog(subject="Patient/p-2", based_on=None, authored="2026-02-01T09:00:00Z"))
    await create_plan(client, crisis_plan())
    assert await total(client, "QuestionnaireResponse", subject=PATIENT) == 1
    assert await total(client, "QuestionnaireResponse", patient="p-2", authored="ge2026-02-01") == 1
    assert await total(client, "QuestionnaireResponse", **{"based-on": REFERRAL}) == 1
    assert await total(client, "Observation", code="sqol") == 2
    assert await total(client, "Observation", code="sqol", date="2026-01-05") == 1
    assert await total(client, "CarePlan", category="crisis") == 1
    assert await total(client, "CarePlan", category="dialog-plus-personalised-plan", status="draft") == 1
    assert await total(client, "CarePlan", referral=REFERRAL) == 1
    assert await total(client, "CarePlan", subject="Patient/p-2") == 0
    assert await total(client, "Goal", **{"lifecycle-status": "active", "patient": PATIENT}) == 1


async def test_paging_walks_every_match_once(client: httpx.AsyncClient) -> None:
    for _ in range(5):
        await record(client)
    seen: list[str] = []
    url: str | None = "/fhir/QuestionnaireResponse?_count=2&_sort=authored"
    while url:
        page = (await client.get(url)).json()
        assert page["total"] == 5
        seen += [e["resource"]["id"] for e in page["entry"]]
        url = next((link["url"] for link in page["link"] if link["relation"] == "next"), None)
    assert len(seen) == len(set(seen)) == 5


@pytest.mark.parametrize("kind", KINDS)
async def test_an_unknown_search_parameter_is_refused_by_name(client: httpx.AsyncClient, kind: str) -> None:
    assert_outcome(await client.get(f"/fhir/{kind}", params={"colour": "blue"}), 400, "invalid", "colour")


async def test_a_malformed_date_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.get("/fhir/QuestionnaireResponse", params={"authored": "yesterday"})
    assert_outcome(response, 400, "invalid", "authored")


async def test_history_and_vread_keep_every_version(client: httpx.AsyncClient) -> None:
    plan = await first_session(client)
    action_id = plan["activity"][0]["id"]
    await run_session(client, session(dialog(), review(action_id)), version="1", status=200)
    first = await client.get(f"/fhir/CarePlan/{plan['id']}/_history/1")
    assert first.status_code == 200
    assert first.headers["etag"] == 'W/"1"'
    assert first.json()["activity"][0]["detail"]["status"] == "not-started"
    current = await client.get(f"/fhir/CarePlan/{plan['id']}")
    assert current.headers["etag"] == 'W/"2"'
    assert current.json()["activity"][0]["detail"]["status"] == "completed"
    assert_outcome(await client.get(f"/fhir/CarePlan/{plan['id']}/_history/9"), 404, "not-found")
    assert_outcome(await client.get(f"/fhir/CarePlan/{plan['id']}/_history/x"), 404, "not-found")


@pytest.mark.parametrize("kind", KINDS)
async def test_unknown_ids_are_404(client: httpx.AsyncClient, kind: str) -> None:
    assert_outcome(await client.get(f"/fhir/{kind}/does-not-exist"), 404, "not-found")
    assert_outcome(await client.get(f"/fhir/{kind}/does-not-exist/_history"), 404, "not-found")


async def test_validate_a_care_plan_stores_nothing(client: httpx.AsyncClient) -> None:
    good = (await client.post("/fhir/CarePlan/$validate", json=waiting_support_plan(), headers=FHIR)).json()
    assert [i["severity"] for i in good["issue"]] == ["information"]
    bad = (await client.post("/fhir/CarePlan/$validate", json=crisis_plan(intent="order"), headers=FHIR)).json()
    assert bad["issue"][0]["expression"] == ["CarePlan.intent"]
    wrapped = {"resourceType": "Parameters", "parameter": [{"name": "resource", "resource": crisis_plan()}]}
    assert (await client.post("/fhir/CarePlan/$validate", json=wrapped, headers=FHIR)).json()["issue"][0][
        "severity"
    ] == "information"
    assert await total(client, "CarePlan") == 0


async def test_the_capability_statement_lists_what_is_supported(client: httpx.AsyncClient) -> None:
    statement = (await client.get("/fhir/metadata")).json()
    assert statement["fhirVersion"] == "4.0.1"
    resources = {r["type"]: r for r in statement["rest"][0]["resource"]}
    assert set(resources) == {*KINDS, "Measure"}
    assert [o["name"] for o in resources["Measure"]["operation"]] == ["evaluate-measure"]
    assert {o["name"] for o in resources["CarePlan"]["operation"]} >= {
        "dialog-plus-session",
        "activate",
        "review",
        "complete",
    }
    assert {"name": "derived-from", "type": "reference"} in resources["Observation"]["searchParam"]
    assert "create" in {i["code"] for i in resources["QuestionnaireResponse"]["interaction"]}
    assert "update" in {i["code"] for i in resources["CarePlan"]["interaction"]}


# ---------------------------------------------------------------- bad input: 4xx, named, nothing stored


async def test_malformed_bodies_are_400_and_store_nothing(client: httpx.AsyncClient) -> None:
    for content in (b"{not json", b"", b"[1]"):
        assert_outcome(await client.post("/fhir/QuestionnaireResponse", content=content, headers=FHIR), 400, "invalid")
        assert_outcome(await client.post("/fhir/CarePlan/$dialog-plus-session", content=content, headers=FHIR), 400)
    assert await total(client, "QuestionnaireResponse") == 0


async def test_a_wrong_content_type_is_415(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/fhir/QuestionnaireResponse", content=json.dumps(dialog()), headers={"Content-Type": "text/plain"}
    )
    assert_outcome(response, 415, "not-supported")


async def test_a_wrong_resource_type_or_unknown_element_is_400_naming_it(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/fhir/QuestionnaireResponse", json={**dialog(), "resourceType": "Observation"}, headers=FHIR
    )
    assert_outcome(response, 400, None, "resourceType")
    response = await client.post("/fhir/CarePlan", json={**crisis_plan(), "favouriteColour": "blue"}, headers=FHIR)
    assert_outcome(response, 400, "structure", "CarePlan.favouriteColour")
    body = session(dialog())
    body["parameter"][2]["resource"]["favouriteColour"] = "blue"
    assert_outcome(await run_session(client, body), 400, "structure", "favouriteColour")


async def test_an_oversized_body_is_413(client: httpx.AsyncClient) -> None:
    body = crisis_plan(description="x" * 300_000)
    assert_outcome(await client.post("/fhir/CarePlan", json=body, headers=FHIR), 413, "too-costly")


async def test_an_id_in_the_body_that_disagrees_with_the_url_is_400(client: httpx.AsyncClient) -> None:
    plan = await create_plan(client, crisis_plan())
    response = await client.put("/fhir/CarePlan/another-id", json=plan, headers=FHIR)
    assert_outcome(response, 400, None, "CarePlan.id")
    response = await client.put(f"/fhir/CarePlan/{plan['id']}", json=plan, headers={**FHIR, "If-Match": "yesterday"})
    assert_outcome(response, 400, None, "If-Match")


async def test_plans_are_not_deleted_and_unknown_routes_are_404(client: httpx.AsyncClient) -> None:
    plan = await create_plan(client, crisis_plan())
    assert_outcome(await client.delete(f"/fhir/CarePlan/{plan['id']}"), 405, "not-supported")
    assert_outcome(await client.get("/fhir/Nothing"), 404, "not-found")
    assert_outcome(await client.post("/fhir/Goal", json={"resourceType": "Goal"}, headers=FHIR), 405, "not-supported")


async def test_injection_strings_are_just_values(client: httpx.AsyncClient) -> None:
    await first_session(client)
    response = await client.get("/fhir/CarePlan", params={"subject": "Patient/1' OR '1'='1"})
    assert response.json()["total"] == 0
    assert_outcome(await client.get("/fhir/CarePlan/1';DROP TABLE care_plan;--"), 400, None, "id")
    assert await total(client, "CarePlan") == 1
