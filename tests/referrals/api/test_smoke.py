"""The first path through: create a referral, read it, accept it."""

from __future__ import annotations

import httpx

from tests.referrals.builders import ACCEPT_WITH_SUPPORT, operate, referral_with_episode


async def test_a_referral_can_be_created_read_and_accepted(client: httpx.AsyncClient) -> None:
    created, task = await referral_with_episode(client)
    assert created["status"] == "active"
    read = await client.get(f"/fhir/ServiceRequest/{created['id']}")
    assert read.status_code == 200
    assert read.headers["etag"] == 'W/"1"'
    accepted = await operate(client, task, "accept", ACCEPT_WITH_SUPPORT)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["status"] == "accepted"
