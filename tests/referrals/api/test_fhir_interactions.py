"""FHIR interactions: search, paging, includes, conditional create, history, vread, $validate, metadata."""

from __future__ import annotations

import asyncio

import httpx

from services.kit.testing import assert_outcome
from tests.referrals.builders import (
    ACCEPT_WITH_SUPPORT,
    FHIR,
    create_referral,
    open_episode,
    operate,
    referral,
    referral_with_episode,
)

IDENTIFIER = {"system": "https://trust.example.org/referrals", "value": "R-1001"}


async def test_search_by_subject_performer_status_and_category(client: httpx.AsyncClient) -> None:
    await open_episode(client)
    await create_referral(client, referral())
    await create_referral(client, referral(performer="HealthcareService/barnet-eip"))
    by_performer = (await client.get("/fhir/ServiceRequest", params={"performer": "barnet-eip"})).json()
    assert by_performer["total"] == 1
    all_active = (
        await client.get(
            "/fhir/ServiceRequest",
            params={"subject": "Patient/p-1", "status": "active", "category": "internal-team"},
        )
    ).json()
    assert all_active["total"] == 2
    none = (await client.get("/fhir/ServiceRequest", params={"subject": "Patient/nobody"})).json()
    assert none["total"] == 0
    assert none["entry"] == []


async def test_paging_links_walk_every_match_once(client: httpx.AsyncClient) -> None:
    await open_episode(client)
    for _ in range(5):
        await create_referral(client, referral())
    seen: list[str] = []
    url: str | None = "/fhir/ServiceRequest?_count=2&_sort=authored"
    while url:
        page = (await client.get(url)).json()
        assert page["total"] == 5
        seen += [e["resource"]["id"] for e in page["entry"]]
        url = next((link["url"] for link in page["link"] if link["relation"] == "next"), None)
    assert len(seen) == len(set(seen)) == 5


async def test_the_team_worklist_includes_the_referrals(client: httpx.AsyncClient) -> None:
    """Open referral Tasks for one team, longest wait first, with their ServiceRequests."""
    created, _ = await referral_with_episode(client)
    response = await client.get(
        "/fhir/Task",
        params={
            "owner": "HealthcareService/barnet-psychosis",
            "status": "requested",
            "_sort": "wait",
            "_include": "Task:focus",
        },
    )
    body = response.json()
    modes = sorted((e["search"]["mode"], e["resource"]["resourceType"]) for e in body["entry"])
    assert modes == [("include", "ServiceRequest"), ("match", "Task")]
    assert body["entry"][1]["resource"]["id"] == created["id"]


async def test_referrals_revinclude_their_tasks(client: httpx.AsyncClient) -> None:
    await referral_with_episode(client)
    body = (await client.get("/fhir/ServiceRequest", params={"_revinclude": "Task:focus"})).json()
    assert sorted(e["resource"]["resourceType"] for e in body["entry"]) == ["ServiceRequest", "Task"]


async def test_an_unknown_search_parameter_is_refused_by_name(client: httpx.AsyncClient) -> None:
    response = await client.get("/fhir/ServiceRequest", params={"colour": "blue"})
    assert_outcome(response, 400, "invalid", "colour")
    response = await client.get("/fhir/Task", params={"_include": "Task:owner"})
    assert_outcome(response, 400, "invalid", "_include")
    response = await client.get("/fhir/Task", params={"authored-on": "yesterday"})
    assert_outcome(response, 400, "invalid", "authored-on")


async def test_injection_strings_are_just_values(client: httpx.AsyncClient) -> None:
    await referral_with_episode(client)
    response = await client.get("/fhir/ServiceRequest", params={"subject": "Patient/1' OR '1'='1"})
    assert response.json()["total"] == 0
    response = await client.get("/fhir/ServiceRequest/1';DROP TABLE task;--")
    assert_outcome(response, 400, "invalid", "id")  # not a FHIR id
    assert (await client.get("/fhir/Task")).json()["total"] == 1


async def test_conditional_create_returns_the_existing_referral(client: httpx.AsyncClient) -> None:
    """FR-81: repeating a create with the same identifier creates nothing new."""
    await open_episode(client)
    body = referral(identifier=[IDENTIFIER])
    header = {**FHIR, "If-None-Exist": f"identifier={IDENTIFIER['system']}|{IDENTIFIER['value']}"}
    first = await client.post("/fhir/ServiceRequest", json=body, headers=header)
    second = await client.post("/fhir/ServiceRequest", json=body, headers=header)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]
    assert (await client.get("/fhir/Task")).json()["total"] == 1


async def test_concurrent_conditional_creates_make_one_referral(client: httpx.AsyncClient) -> None:
    await open_episode(client)
    body = referral(identifier=[IDENTIFIER])
    header = {**FHIR, "If-None-Exist": f"identifier={IDENTIFIER['system']}|{IDENTIFIER['value']}"}
    responses = await asyncio.gather(
        *(client.post("/fhir/ServiceRequest", json=body, headers=header) for _ in range(10))
    )
    assert sorted({r.status_code for r in responses}) <= [200, 201]
    assert [r.status_code for r in responses].count(201) == 1
    assert len({r.json()["id"] for r in responses}) == 1
    assert (await client.get("/fhir/ServiceRequest")).json()["total"] == 1


async def test_a_duplicate_identifier_without_if_none_exist_is_a_conflict(client: httpx.AsyncClient) -> None:
    await open_episode(client)
    body = referral(identifier=[IDENTIFIER])
    assert (await client.post("/fhir/ServiceRequest", json=body, headers=FHIR)).status_code == 201
    response = await client.post("/fhir/ServiceRequest", json=body, headers=FHIR)
    assert_outcome(response, 409, "duplicate", "ServiceRequest.identifier")


async def test_history_and_vread_keep_every_version(client: httpx.AsyncClient) -> None:
    _, task = await referral_with_episode(client)
    await operate(client, task, "accept", ACCEPT_WITH_SUPPORT)
    first = await client.get(f"/fhir/Task/{task['id']}/_history/1")
    assert first.status_code == 200
    assert first.headers["etag"] == 'W/"1"'
    assert first.json()["status"] == "requested"
    current = await client.get(f"/fhir/Task/{task['id']}")
    assert current.headers["etag"] == 'W/"2"'
    assert current.json()["meta"]["versionId"] == "2"
    history = (await client.get(f"/fhir/Task/{task['id']}/_history")).json()
    assert [e["resource"]["meta"]["versionId"] for e in history["entry"]] == ["2", "1"]
    assert_outcome(await client.get(f"/fhir/Task/{task['id']}/_history/9"), 404, "not-found")


async def test_validate_checks_the_rules_and_stores_nothing(client: httpx.AsyncClient) -> None:
    """FR-80."""
    await open_episode(client)
    good = await client.post("/fhir/ServiceRequest/$validate", json=referral(), headers=FHIR)
    assert good.status_code == 200
    assert [i["severity"] for i in good.json()["issue"]] == ["information"]
    bad = referral(requester="PractitionerRole/barnet-gp-gp")
    outcome = (await client.post("/fhir/ServiceRequest/$validate", json=bad, headers=FHIR)).json()
    assert outcome["issue"][0]["severity"] == "error"
    assert "ServiceRequest.requester" in outcome["issue"][0]["expression"]
    assert (await client.get("/fhir/ServiceRequest")).json()["total"] == 0
    assert (await client.get("/fhir/Task")).json()["total"] == 0


async def test_the_capability_statement_lists_what_is_supported(client: httpx.AsyncClient) -> None:
    statement = (await client.get("/fhir/metadata")).json()
    assert statement["resourceType"] == "CapabilityStatement"
    assert statement["fhirVersion"] == "4.0.1"
    resources = {r["type"]: r for r in statement["rest"][0]["resource"]}
    assert set(resources) == {"ServiceRequest", "Task", "Encounter", "EpisodeOfCare", "Communication", "Measure"}
    assert [o["name"] for o in resources["Measure"]["operation"]] == ["evaluate-measure"]
    assert "mhsds-extract" in {o["name"] for o in resources["ServiceRequest"]["operation"]}
    task_ops = {o["name"] for o in resources["Task"]["operation"]}
    assert {"accept", "decline", "redirect", "escalate", "cancel", "complete"} <= task_ops
    assert {"name": "owner", "type": "reference"} in resources["Task"]["searchParam"]
    assert resources["ServiceRequest"]["conditionalCreate"] is True
