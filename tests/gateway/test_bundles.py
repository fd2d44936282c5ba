"""Bundles through the gateway: a transaction stays in one service; a batch may span them."""

from __future__ import annotations

from typing import Any

import httpx

from services.kit.testing import assert_outcome
from tests.referrals.builders import FHIR, episode, referral


def entry(resource: dict[str, Any]) -> dict[str, Any]:
    return {"resource": resource, "request": {"method": "POST", "url": resource["resourceType"]}}


async def test_a_transaction_within_one_service_is_forwarded_whole(client: httpx.AsyncClient) -> None:
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [entry(episode()), entry(referral())]}
    response = await client.post("/fhir", json=bundle, headers=FHIR)
    assert response.status_code == 200, response.text
    assert response.json()["type"] == "transaction-response"
    assert response.json()["entry"][1]["fullUrl"].startswith("http://gateway.test/fhir/ServiceRequest/")


async def test_a_transaction_spanning_services_is_refused_and_says_why(client: httpx.AsyncClient) -> None:
    plan = {"resourceType": "CarePlan", "status": "draft", "intent": "plan", "subject": {"reference": "Patient/p-1"}}
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [entry(referral()), entry(plan)]}
    body = assert_outcome(await client.post("/fhir", json=bundle, headers=FHIR), 422, None, "Bundle.entry")
    assert "spans careplans, referrals" in body["issue"][0]["diagnostics"]


async def test_a_failed_transaction_changes_nothing(client: httpx.AsyncClient) -> None:
    bad = referral(requester="PractitionerRole/barnet-gp-gp")
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [entry(episode()), entry(bad)]}
    assert_outcome(await client.post("/fhir", json=bundle, headers=FHIR), 422, None, "Bundle.entry[1]")
    assert (await client.get("/fhir/EpisodeOfCare")).json()["total"] == 0


async def test_a_batch_answers_every_entry_in_order(client: httpx.AsyncClient) -> None:
    bundle = {"resourceType": "Bundle", "type": "batch", "entry": [entry(episode()), entry(referral())]}
    response = await client.post("/fhir", json=bundle, headers=FHIR)
    assert response.status_code == 200, response.text
    assert [e["response"]["status"] for e in response.json()["entry"]] == ["201 Created", "201 Created"]
