"""Item 3: a transaction Bundle with one invalid entry writes nothing and emits no event.

Sent to the referrals service directly and through the gateway, on both engines, with the bad
entry first, in the middle and last, and bad in each way an entry can be: structurally invalid
(400), against a business rule (422), and clashing with an earlier entry of the same Bundle at the
database (409, a duplicate identifier). Afterwards no table of the service has a row and its
outbox is empty. A transaction that spans two services is refused at the gateway before either
service is called.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from services.kit.testing import assert_outcome
from services.referrals.persistence.tables import outbox
from tests.referrals.builders import episode, referral
from tests.reliability.conftest import FHIR, METADATA, Deployment, DeploymentFactory

SYSTEM = "https://continuum.example.org/fhir/sid/epr-referral"
DUPLICATE: dict[str, Any] = {"identifier": [{"system": SYSTEM, "value": "same-referral"}]}

# How an entry is bad, where it sits, and the status the whole Bundle gets.
STRUCTURE = {**referral(), "favouriteColour": "blue"}
BUSINESS_RULE = referral(requester="PractitionerRole/barnet-gp-gp")  # an internal referral from a GP (FR-3)
BAD_ENTRIES: list[tuple[str, dict[str, Any], int, int]] = [
    ("structure-first", STRUCTURE, 0, 400),
    ("structure-middle", STRUCTURE, 1, 400),
    ("business-rule-first", BUSINESS_RULE, 0, 422),
    ("business-rule-last", BUSINESS_RULE, 3, 422),
    ("duplicate-identifier-last", referral(**DUPLICATE), 3, 409),  # clashes with entry 1 only at the database
]


def entry(resource: dict[str, Any]) -> dict[str, Any]:
    """A create entry."""
    return {"resource": resource, "request": {"method": "POST", "url": resource["resourceType"]}}


async def _rows(app: FastAPI, name: str) -> int:
    total = 0
    async with app.state.database.session(writing=False) as session:
        for table in METADATA[name].sorted_tables:
            total += int((await session.execute(select(func.count()).select_from(table))).scalar_one())
    return total


async def _events(app: FastAPI) -> int:
    async with app.state.database.session(writing=False) as session:
        return int((await session.execute(select(func.count()).select_from(outbox))).scalar_one())


@pytest.fixture
async def deployment(make_deployment: DeploymentFactory) -> Deployment:
    """The four processes in-process."""
    return await make_deployment()


@pytest.mark.parametrize("through", ["referrals", "gateway"])
@pytest.mark.parametrize(("how", "bad", "position", "status"), BAD_ENTRIES, ids=[b[0] for b in BAD_ENTRIES])
async def test_a_transaction_with_one_bad_entry_writes_nothing_and_emits_no_event(
    deployment: Deployment, through: str, how: str, bad: dict[str, Any], position: int, status: int
) -> None:
    good = [entry(episode()), entry(referral(**DUPLICATE)), entry(referral())]
    entries = [*good[:position], entry(bad), *good[position:]]
    referrals = deployment.apps["referrals"]
    before = await _rows(referrals, "referrals")

    response = await deployment.client(through).post(
        "/fhir", json={"resourceType": "Bundle", "type": "transaction", "entry": entries}, headers=FHIR
    )

    assert_outcome(response, status, None, f"Bundle.entry[{position}]")
    assert await _rows(referrals, "referrals") == before
    assert await _events(referrals) == 0


async def test_the_same_bundle_without_the_bad_entry_is_written_whole(deployment: Deployment) -> None:
    """The control: the good entries alone are accepted, so the refusals above are the bad entry's doing."""
    referrals = deployment.apps["referrals"]
    entries = [entry(episode()), entry(referral(**DUPLICATE)), entry(referral())]
    response = await deployment.client().post(
        "/fhir", json={"resourceType": "Bundle", "type": "transaction", "entry": entries}, headers=FHIR
    )
    assert response.status_code == 200, response.text
    assert [e["response"]["status"] for e in response.json()["entry"]] == ["201 Created"] * 3
    assert await _rows(referrals, "referrals") > 0
    assert await _events(referrals) > 0


async def test_a_transaction_across_two_services_is_refused_before_either_is_called(deployment: Deployment) -> None:
    plan = {"resourceType": "Goal", "lifecycleStatus": "active", "description": {"text": "x"}, "subject": {}}
    entries = [entry(episode()), entry(plan)]
    before = {name: await _rows(deployment.apps[name], name) for name in ("referrals", "careplans")}
    response = await deployment.client().post(
        "/fhir", json={"resourceType": "Bundle", "type": "transaction", "entry": entries}, headers=FHIR
    )
    assert_outcome(response, 422, None, "Bundle.entry")
    assert {name: await _rows(deployment.apps[name], name) for name in ("referrals", "careplans")} == before
