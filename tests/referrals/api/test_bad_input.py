"""Bad input gets a 4xx OperationOutcome naming the element, and changes nothing."""

from __future__ import annotations

import asyncio
import json

import httpx

from services.kit.testing import assert_outcome
from tests.referrals.builders import (
    ACCEPT_WITH_SUPPORT,
    FHIR,
    contact,
    operate,
    referral,
    referral_with_episode,
)


async def nothing_stored(client: httpx.AsyncClient) -> None:
    assert (await client.get("/fhir/ServiceRequest")).json()["total"] == 0
    assert (await client.get("/fhir/Task")).json()["total"] == 0


async def test_malformed_and_empty_json_are_400(client: httpx.AsyncClient) -> None:
    for content in (b"{not json", b"", b"[1, 2]", b'"a string"'):
        response = await client.post("/fhir/ServiceRequest", content=content, headers=FHIR)
        assert_outcome(response, 400, "invalid")
    await nothing_stored(client)


async def test_a_wrong_content_type_is_415(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/fhir/ServiceRequest", content=json.dumps(referral()), headers={"Content-Type": "text/plain"}
    )
    assert_outcome(response, 415, "not-supported")


async def test_a_wrong_resource_type_is_400_naming_resource_type(client: httpx.AsyncClient) -> None:
    body = {**referral(), "resourceType": "Patient"}
    assert_outcome(await client.post("/fhir/ServiceRequest", json=body, headers=FHIR), 400, None, "resourceType")
    body = {**referral(), "resourceType": "Nonsense"}
    assert_outcome(await client.post("/fhir/ServiceRequest", json=body, headers=FHIR), 400, None, "resourceType")
    await nothing_stored(client)


async def test_an_unknown_element_is_400_naming_it(client: httpx.AsyncClient) -> None:
    body = {**referral(), "favouriteColour": "blue"}
    response = await client.post("/fhir/ServiceRequest", json=body, headers=FHIR)
    assert_outcome(response, 400, "structure", "ServiceRequest.favouriteColour")
    await nothing_stored(client)


async def test_an_unknown_service_or_worker_is_422(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/fhir/ServiceRequest", json=referral(performer="HealthcareService/nowhere"), headers=FHIR
    )
    assert_outcome(response, 422, None, "ServiceRequest.performer[0]")
    response = await client.post(
        "/fhir/ServiceRequest", json=referral(requester="PractitionerRole/nobody"), headers=FHIR
    )
    assert_outcome(response, 422, None, "ServiceRequest.requester")


async def test_an_oversized_body_is_413_and_stores_nothing(client: httpx.AsyncClient) -> None:
    body = referral(note=[{"text": "x" * 300_000}])
    response = await client.post("/fhir/ServiceRequest", json=body, headers=FHIR)
    assert_outcome(response, 413, "too-costly")
    await nothing_stored(client)


async def test_deeply_nested_json_is_400(client: httpx.AsyncClient) -> None:
    content = b'{"resourceType":"ServiceRequest","x":' + b"[" * 5000 + b"]" * 5000 + b"}"
    assert_outcome(await client.post("/fhir/ServiceRequest", content=content, headers=FHIR), 400)


async def test_an_id_in_the_body_that_disagrees_with_the_url_is_400(client: httpx.AsyncClient) -> None:
    created, _ = await referral_with_episode(client)
    planned = (
        await client.post(
            "/fhir/Encounter",
            json=contact(created["id"], "2026-01-20T10:00:00Z", status="planned"),
            headers=FHIR,
        )
    ).json()
    planned["id"] = "some-other-id"
    response = await client.put("/fhir/Encounter/another", json=planned, headers=FHIR)
    assert_outcome(response, 400, None, "Encounter.id")


async def test_operations_need_if_match_and_refuse_stale_versions(client: httpx.AsyncClient) -> None:
    _, task = await referral_with_episode(client)
    response = await client.post(f"/fhir/Task/{task['id']}/$accept", json=ACCEPT_WITH_SUPPORT, headers=FHIR)
    assert_outcome(response, 412, None, "If-Match")
    response = await operate(client, task, "accept", ACCEPT_WITH_SUPPORT, version="7")
    assert_outcome(response, 412, "conflict", "If-Match")
    assert (await client.get(f"/fhir/Task/{task['id']}")).json()["status"] == "requested"


async def test_an_operation_body_must_be_parameters(client: httpx.AsyncClient) -> None:
    _, task = await referral_with_episode(client)
    response = await operate(client, task, "accept", referral())
    assert_outcome(response, 400, None, "resourceType")


async def test_unknown_routes_and_ids_are_operation_outcomes(client: httpx.AsyncClient) -> None:
    assert_outcome(await client.get("/fhir/Nothing"), 404, "not-found")
    assert_outcome(await client.get("/fhir/ServiceRequest/does-not-exist"), 404, "not-found")
    assert_outcome(await client.delete("/fhir/Task"), 405, "not-supported")


async def test_two_concurrent_accepts_with_the_same_if_match_one_wins(client: httpx.AsyncClient) -> None:
    """Optimistic concurrency: exactly one succeeds, the other gets 412."""
    _, task = await referral_with_episode(client)
    responses = await asyncio.gather(*(operate(client, task, "accept", ACCEPT_WITH_SUPPORT) for _ in range(2)))
    assert sorted(r.status_code for r in responses) == [200, 412]
    episodes = (await client.get("/fhir/EpisodeOfCare", params={"status": "waitlist"})).json()
    assert episodes["total"] == 1
    letters = (await client.get("/fhir/Communication")).json()
    assert letters["total"] == 1
