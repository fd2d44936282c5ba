"""Item 1: twenty concurrent `$accept` on one referral Task with the same If-Match: exactly one 200, the rest 412.

Run on SQLite and PostgreSQL, against one app and against two replicas of the referrals service
sharing one database (each with its own engine and connection pool, as two processes would have).
The version check inside the UPDATE is what makes exactly one of them win: the version read at
the start of each request is the same for all twenty.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from services.kit.testing import assert_outcome
from services.referrals.main import create_app as referrals_app
from services.referrals.persistence.tables import outbox
from tests.referrals.builders import ACCEPT_WITH_SUPPORT, operate, referral_with_episode
from tests.reliability.conftest import DeploymentFactory

CONCURRENT = 20


async def test_twenty_concurrent_accepts_one_wins(make_deployment: DeploymentFactory) -> None:
    deployment = await make_deployment()
    client = deployment.client("referrals")
    _, task = await referral_with_episode(client)
    await _exactly_one_accept(task, [client], deployment.apps["referrals"])


async def test_twenty_concurrent_accepts_across_two_replicas_one_wins(make_deployment: DeploymentFactory) -> None:
    deployment = await make_deployment()
    first = deployment.apps["referrals"]
    second = referrals_app(first.state.settings, deployment.clock)  # the same database, its own pool
    try:
        replicas = [
            deployment.client("referrals"),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=second, raise_app_exceptions=False), base_url="http://replica.test"
            ),
        ]
        _, task = await referral_with_episode(replicas[0])
        await _exactly_one_accept(task, replicas, second)
        await replicas[1].aclose()
    finally:
        await second.state.database.dispose()


async def _exactly_one_accept(task: dict[str, Any], replicas: list[httpx.AsyncClient], app: FastAPI) -> None:
    responses = await asyncio.gather(
        *(operate(replicas[i % len(replicas)], task, "accept", ACCEPT_WITH_SUPPORT) for i in range(CONCURRENT))
    )
    codes = Counter(r.status_code for r in responses)
    assert codes == {200: 1, 412: CONCURRENT - 1}, [r.text for r in responses if r.status_code not in (200, 412)]
    for refused in (r for r in responses if r.status_code == 412):
        assert_outcome(refused, 412, "conflict", "If-Match")
    reader = replicas[-1]
    current = (await reader.get(f"/fhir/Task/{task['id']}")).json()
    assert current["status"] == "accepted"
    assert current["meta"]["versionId"] == str(int(task["meta"]["versionId"]) + 1)
    # The winner's side effects happened once: one waiting episode, one letter, one accepted event.
    assert (await reader.get("/fhir/EpisodeOfCare", params={"status": "waitlist"})).json()["total"] == 1
    assert (await reader.get("/fhir/Communication")).json()["total"] == 1
    async with app.state.database.session(writing=False) as session:
        types = (await session.execute(select(outbox.c.event_type))).scalars().all()
    assert sum(1 for t in types if "accept" in t) == 1, types
