"""Crisis plans (FR-43, FR-45) and waiting-support plans (the plan referrals' `$accept` points to)."""

from __future__ import annotations

from typing import Any

import httpx

from services.careplans.domain.codes import (
    EXT_ADVANCE_DECISION,
    EXT_COPY_HELD,
    EXT_PHYSICAL_HEALTH_CONDITION,
    EXT_SHARING_AGREEMENT,
    EXT_WARNING_SIGN,
    PHYSICAL_HEALTH_CONDITION,
)
from services.kit.testing import assert_outcome
from tests.careplans.builders import (
    FHIR,
    PATIENT,
    agreement,
    create_plan,
    crisis_plan,
    operate,
    waiting_support_plan,
)

READER = "X-Continuum-Reader"


async def activated(client: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    plan = await create_plan(client, body)
    response = await operate(client, plan, "activate", agreement())
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def read(client: httpx.AsyncClient, plan: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = (await client.get(f"/fhir/CarePlan/{plan['id']}")).json()
    return body


# ---------------------------------------------------------------- FR-43


async def test_a_crisis_plan_is_created_as_a_draft_with_its_national_code_and_the_physical_health_condition(
    client: httpx.AsyncClient,
) -> None:
    plan = await create_plan(client, crisis_plan())
    assert plan["status"] == "draft"
    assert {"coding": [{"system": "http://snomed.info/sct", "code": "736253002"}]} in plan["category"]
    assert {"url": EXT_PHYSICAL_HEALTH_CONDITION, "valueString": PHYSICAL_HEALTH_CONDITION} in plan["extension"]
    assert plan["created"] == "2026-01-05T09:00:00Z"


async def test_a_new_plan_is_a_draft(client: httpx.AsyncClient) -> None:
    response = await client.post("/fhir/CarePlan", json=crisis_plan(status="active"), headers=FHIR)
    assert_outcome(response, 422, None, "CarePlan.status")
    assert (await client.get("/fhir/CarePlan")).json()["total"] == 0


async def test_activation_names_the_missing_crisis_content(client: httpx.AsyncClient) -> None:
    body = crisis_plan()
    body["extension"] = [e for e in body["extension"] if e["url"] not in (EXT_WARNING_SIGN, EXT_COPY_HELD)]
    plan = await create_plan(client, body)
    outcome = assert_outcome(await operate(client, plan, "activate", agreement()), 422, "required")
    assert [i["expression"][0] for i in outcome["issue"]] == [
        "CarePlan.extension('crisis-early-warning-sign')",
        "CarePlan.extension('copy-held')",
    ]


async def test_a_second_crisis_plan_supersedes_the_first(client: httpx.AsyncClient) -> None:
    first = await activated(client, crisis_plan())
    second = await activated(client, crisis_plan())
    assert second["replaces"] == [{"reference": f"CarePlan/{first['id']}"}]
    assert (await read(client, first))["status"] == "revoked"
    current = (
        await client.get("/fhir/CarePlan", params={"subject": PATIENT, "category": "crisis", "status": "active"})
    ).json()
    assert [e["resource"]["id"] for e in current["entry"]] == [second["id"]]


async def test_crisis_plans_of_different_people_do_not_supersede_each_other(client: httpx.AsyncClient) -> None:
    first = await activated(client, crisis_plan())
    await activated(client, crisis_plan(subject="Patient/p-2"))
    assert (await read(client, first))["status"] == "active"


async def test_a_superseded_plan_does_not_change(client: httpx.AsyncClient) -> None:
    first = await activated(client, crisis_plan())
    await activated(client, crisis_plan())
    revoked = await read(client, first)
    response = await client.put(f"/fhir/CarePlan/{first['id']}", json={**revoked, "title": "x"}, headers=FHIR)
    assert_outcome(response, 409, "conflict", "CarePlan.status")


async def test_crisis_content_is_checked_on_create(client: httpx.AsyncClient) -> None:
    body = crisis_plan()
    body["extension"].append({"url": EXT_ADVANCE_DECISION, "valueReference": {"reference": "Observation/o-1"}})
    response = await client.post("/fhir/CarePlan", json=body, headers=FHIR)
    assert_outcome(response, 422, None, "CarePlan.extension('advance-decision')")
    body = crisis_plan()
    body["extension"].append({"url": EXT_ADVANCE_DECISION, "valueReference": {"reference": "Consent/advance-1"}})
    await create_plan(client, body)


# ---------------------------------------------------------------- FR-45


async def test_a_crisis_line_worker_reads_the_crisis_plan(client: httpx.AsyncClient) -> None:
    plan = await activated(client, crisis_plan())
    response = await client.get(
        f"/fhir/CarePlan/{plan['id']}", headers={READER: "PractitionerRole/ncl-crisis-line-worker"}
    )
    assert response.status_code == 200


async def test_a_non_crisis_external_worker_needs_a_sharing_agreement(client: httpx.AsyncClient) -> None:
    plan = await activated(client, crisis_plan())
    housing = {READER: "PractitionerRole/barnet-housing-advice-worker"}
    assert_outcome(await client.get(f"/fhir/CarePlan/{plan['id']}", headers=housing), 403, "forbidden", READER)
    assert_outcome(await client.get(f"/fhir/CarePlan/{plan['id']}/_history/1", headers=housing), 403, "forbidden")
    assert_outcome(await client.get(f"/fhir/CarePlan/{plan['id']}/_history", headers=housing), 403, "forbidden")
    plan["extension"].append(
        {"url": EXT_SHARING_AGREEMENT, "valueReference": {"reference": "Organization/barnet-council"}}
    )
    updated = await client.put(f"/fhir/CarePlan/{plan['id']}", json=plan, headers=FHIR)
    assert updated.status_code == 200, updated.text
    assert (await client.get(f"/fhir/CarePlan/{plan['id']}", headers=housing)).status_code == 200


async def test_an_unknown_worker_reads_nothing(client: httpx.AsyncClient) -> None:
    plan = await activated(client, crisis_plan())
    response = await client.get(f"/fhir/CarePlan/{plan['id']}", headers={READER: "PractitionerRole/nobody"})
    assert_outcome(response, 403, "forbidden", READER)


# ---------------------------------------------------------------- waiting-support plans


async def test_a_waiting_support_plan_names_the_worker_the_offer_and_the_frequency(client: httpx.AsyncClient) -> None:
    plan = await activated(client, waiting_support_plan())
    assert plan["status"] == "active"
    assert plan["author"]["reference"] == "PractitionerRole/barnet-core-north-worker"
    found = (await client.get("/fhir/CarePlan", params={"category": "waiting-support", "status": "active"})).json()
    assert found["total"] == 1


async def test_a_waiting_support_plan_without_a_contact_frequency_is_refused(client: httpx.AsyncClient) -> None:
    body = waiting_support_plan()
    del body["activity"][0]["detail"]["scheduledTiming"]
    del body["author"]
    plan = await create_plan(client, body)
    outcome = assert_outcome(await operate(client, plan, "activate", agreement()), 422, "required")
    assert [i["expression"][0] for i in outcome["issue"]] == [
        "CarePlan.author",
        "CarePlan.activity.detail.scheduledTiming",
    ]
