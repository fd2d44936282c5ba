"""A first path through the gateway."""

from __future__ import annotations

import httpx

from tests.referrals.builders import FHIR, episode, referral


async def test_a_referral_goes_through_the_gateway(client: httpx.AsyncClient) -> None:
    assert (await client.post("/fhir/EpisodeOfCare", json=episode(), headers=FHIR)).status_code == 201
    created = await client.post("/fhir/ServiceRequest", json=referral(), headers=FHIR)
    assert created.status_code == 201, created.text
    assert created.headers["location"].startswith("http://gateway.test/fhir/ServiceRequest/")
    read = await client.get(f"/fhir/ServiceRequest/{created.json()['id']}")
    assert read.status_code == 200
    statement = (await client.get("/fhir/metadata")).json()
    types = {r["type"] for r in statement["rest"][0]["resource"]}
    assert {"Patient", "ServiceRequest", "HealthcareService"} <= types
    found = await client.get("/fhir/HealthcareService", params={"borough": "camden", "service-type": "crisis-cafe"})
    assert found.status_code == 200, found.text
    services = found.json()
    assert services["total"] == 1
