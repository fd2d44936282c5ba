"""Item 2: twenty concurrent conditional creates with the same identifier make exactly one resource.

A referral sent with `If-None-Exist: identifier=system|value`, twenty times at once (an EPR
retrying, or two integration engines sending the same referral), directly to the referrals service
and through the gateway: one 201, nineteen 200 naming the same ServiceRequest, and one Task and one
event behind it. The gateway's patient register is keyed on the NHS number the same way: twenty
registrations of one person at once make one Patient, the others are refused as duplicates.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from gateway import tables as gateway_tables
from services.kit.testing import assert_outcome
from services.referrals.persistence import tables as referral_tables
from tests.e2e.conftest import nhs_number, patient
from tests.referrals.builders import episode, referral
from tests.reliability.conftest import FHIR, DeploymentFactory

CONCURRENT = 20
SYSTEM = "https://continuum.example.org/fhir/sid/epr-referral"


async def _count(app: FastAPI, statement: Any) -> int:
    async with app.state.database.session(writing=False) as session:
        return int((await session.execute(statement)).scalar_one())


@pytest.mark.parametrize("through", ["referrals", "gateway"])
async def test_twenty_concurrent_conditional_creates_make_one_referral(
    make_deployment: DeploymentFactory, through: str
) -> None:
    deployment = await make_deployment()
    client = deployment.client(through)
    assert (await client.post("/fhir/EpisodeOfCare", json=episode(), headers=FHIR)).status_code == 201
    value = str(uuid.uuid4())
    body = referral(identifier=[{"system": SYSTEM, "value": value}])
    headers = {**FHIR, "If-None-Exist": f"identifier={SYSTEM}|{value}"}

    responses = await asyncio.gather(
        *(client.post("/fhir/ServiceRequest", json=body, headers=headers) for _ in range(CONCURRENT))
    )
    assert Counter(r.status_code for r in responses) == {201: 1, 200: CONCURRENT - 1}, [r.text for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    referral_id = responses[0].json()["id"]

    app = deployment.apps["referrals"]
    sr, task, outbox = referral_tables.service_request, referral_tables.task, referral_tables.outbox
    assert await _count(app, select(func.count()).select_from(sr).where(sr.c.identifier == f"{SYSTEM}|{value}")) == 1
    assert await _count(app, select(func.count()).select_from(sr)) == 1
    assert await _count(app, select(func.count()).select_from(task).where(task.c.focus.contains(referral_id))) == 1
    received = select(func.count()).select_from(outbox).where(outbox.c.event_type == "referral-received")
    assert await _count(app, received) == 1


async def test_twenty_concurrent_registrations_of_one_nhs_number_make_one_patient(
    make_deployment: DeploymentFactory,
) -> None:
    deployment = await make_deployment()
    client = deployment.client()
    person = patient(nhs_number(960_000_000))

    async def register() -> httpx.Response:
        return await client.post("/fhir/Patient", json=person, headers=FHIR)

    responses = await asyncio.gather(*(register() for _ in range(CONCURRENT)))
    assert Counter(r.status_code for r in responses) == {201: 1, 409: CONCURRENT - 1}, [r.text for r in responses]
    for refused in (r for r in responses if r.status_code == 409):
        assert_outcome(refused, 409)
    app = deployment.gateway
    assert await _count(app, select(func.count()).select_from(gateway_tables.patient)) == 1
    events = gateway_tables.event_log
    upserted = select(func.count()).select_from(events).where(events.c.event_type == "patient-upserted")
    assert await _count(app, upserted) == 1
