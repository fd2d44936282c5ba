"""Transaction and batch Bundles: all or nothing, and references between entries."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import func, select

from services.kit.testing import assert_outcome
from services.referrals.persistence.tables import outbox
from tests.referrals.builders import FHIR, episode, referral


def entry(resource: dict[str, Any], full_url: str | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {"resource": resource, "request": {"method": "POST", "url": resource["resourceType"]}}
    if full_url:
        found["fullUrl"] = full_url
    return found


async def events(app: Any) -> int:
    async with app.state.database.session(writing=False) as session:
        return int((await session.execute(select(func.count()).select_from(outbox))).scalar_one())


async def test_a_transaction_creates_every_entry(client: httpx.AsyncClient) -> None:
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [entry(episode()), entry(referral())]}
    response = await client.post("/fhir", json=bundle, headers=FHIR)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["type"] == "transaction-response"
    assert [e["response"]["status"] for e in body["entry"]] == ["201 Created", "201 Created"]
    assert (await client.get("/fhir/ServiceRequest")).json()["total"] == 1


async def test_a_transaction_with_one_invalid_entry_writes_nothing_and_emits_no_event(
    client: httpx.AsyncClient, app: Any
) -> None:
    bad = referral(requester="PractitionerRole/barnet-gp-gp")  # an internal referral from a GP (FR-3)
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [entry(episode()), entry(bad)]}
    response = await client.post("/fhir", json=bundle, headers=FHIR)
    assert_outcome(response, 422, None, "Bundle.entry[1]")
    assert (await client.get("/fhir/EpisodeOfCare")).json()["total"] == 0
    assert (await client.get("/fhir/ServiceRequest")).json()["total"] == 0
    assert await events(app) == 0


async def test_later_entries_may_refer_to_earlier_ones_by_urn_uuid(client: httpx.AsyncClient) -> None:
    from tests.referrals.builders import contact

    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            entry(episode()),
            entry(referral(), "urn:uuid:11111111-1111-4111-8111-111111111111"),
            entry(contact("x", "2026-01-06T10:00:00Z", "contact")),
        ],
    }
    bundle["entry"][2]["resource"]["basedOn"] = [{"reference": "urn:uuid:11111111-1111-4111-8111-111111111111"}]
    response = await client.post("/fhir", json=bundle, headers=FHIR)
    assert response.status_code == 200, response.text
    created_referral = response.json()["entry"][1]["response"]["location"].split("/")[1]
    contact_json = response.json()["entry"][2]["resource"]
    assert contact_json["basedOn"] == [{"reference": f"ServiceRequest/{created_referral}"}]


async def test_a_batch_reports_each_entry(client: httpx.AsyncClient) -> None:
    bad = referral(performer="HealthcareService/nowhere")
    bundle = {"resourceType": "Bundle", "type": "batch", "entry": [entry(episode()), entry(bad)]}
    response = await client.post("/fhir", json=bundle, headers=FHIR)
    assert response.status_code == 200
    statuses = [e["response"]["status"] for e in response.json()["entry"]]
    assert statuses == ["201 Created", "422"]
    assert (await client.get("/fhir/EpisodeOfCare")).json()["total"] == 1


async def test_an_unsupported_entry_is_named(client: httpx.AsyncClient) -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [{"resource": episode(), "request": {"method": "DELETE", "url": "EpisodeOfCare/1"}}],
    }
    assert_outcome(await client.post("/fhir", json=bundle, headers=FHIR), 405, "not-supported", "Bundle.entry[0]")
    collection = {"resourceType": "Bundle", "type": "collection"}
    assert_outcome(await client.post("/fhir", json=collection, headers=FHIR), 400, None, "Bundle.type")
