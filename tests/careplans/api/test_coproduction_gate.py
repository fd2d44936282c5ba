"""A plan becomes active only when co-produced (FR-37) and complete (FR-38, FR-49); a PUT never moves status."""

from __future__ import annotations

from typing import Any

import httpx

from services.careplans.domain.codes import EXT_AGREEMENT, EXT_COPRODUCED, EXT_SECTION
from services.kit.testing import assert_outcome
from tests.careplans.builders import (
    FHIR,
    PATIENT,
    active_plan,
    agreement,
    capacity,
    domain,
    first_session,
    full_content,
    operate,
    part,
    reference,
    sections,
    value,
)

EXT = "CarePlan.extension"


async def current(client: httpx.AsyncClient, plan: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = (await client.get(f"/fhir/CarePlan/{plan['id']}")).json()
    return body


async def still_draft(client: httpx.AsyncClient, plan: dict[str, Any]) -> None:
    now = await current(client, plan)
    assert (now["status"], now["meta"]["versionId"]) == ("draft", plan["meta"]["versionId"])


async def test_activation_without_agreement_or_capacity_assessment_is_refused(client: httpx.AsyncClient) -> None:
    plan = await first_session(client, domain(), *full_content())
    response = await operate(client, plan, "activate")
    body = assert_outcome(response, 422, "required", f"{EXT}('coproduction-agreement')")
    assert len(body["issue"]) == 1
    await still_draft(client, plan)


async def test_the_persons_agreement_makes_the_plan_active_and_coproduced(client: httpx.AsyncClient) -> None:
    plan = await first_session(client, domain(), *full_content())
    response = await operate(client, plan, "activate", agreement("2026-01-05T09:50:00Z", "written"))
    assert response.status_code == 200, response.text
    assert response.headers["etag"] == 'W/"2"'
    active = response.json()
    assert active["status"] == "active"
    assert {"reference": PATIENT} in active["contributor"]
    agreed = next(e for e in active["extension"] if e["url"] == EXT_AGREEMENT)
    assert [(e["url"], next(iter(v for k, v in e.items() if k != "url"))) for e in agreed["extension"]] == [
        ("when", "2026-01-05T09:50:00Z"),
        ("method", "written"),
        ("by", {"reference": PATIENT}),
    ]
    assert {"url": EXT_COPRODUCED, "valueBoolean": True} in active["extension"]


async def test_an_agreement_is_the_persons_own(client: httpx.AsyncClient) -> None:
    plan = await first_session(client, domain(), *full_content())
    someone_else = part(
        "agreement", value("when", "DateTime", "2026-01-05T10:00:00Z"), value("method", "Code", "verbal")
    )
    someone_else["part"].append(reference("by", "RelatedPerson/carer-1"))
    response = await operate(client, plan, "activate", someone_else)
    assert_outcome(response, 422, None, "part.where(name='by')")
    response = await operate(client, plan, "activate", part("agreement", value("method", "Code", "verbal")))
    assert_outcome(response, 422, "required", "part.where(name='when')")
    response = await operate(client, plan, "activate", agreement(method="telepathy"))
    assert_outcome(response, 422, "code-invalid", "part.where(name='method')")
    await still_draft(client, plan)


async def test_a_capacity_assessment_with_best_interests_and_people_consulted_can_activate(
    client: httpx.AsyncClient,
) -> None:
    plan = await first_session(client, domain(), *full_content())
    response = await operate(client, plan, "activate", capacity())
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "active"


async def test_a_capacity_route_without_the_assessment_is_refused(client: httpx.AsyncClient) -> None:
    plan = await first_session(client, domain(), *full_content())
    response = await operate(client, plan, "activate", capacity(assessment=None))
    assert_outcome(
        response,
        422,
        "required",
        "Parameters.parameter.where(name='capacityAssessment')[0].part.where(name='assessment')",
    )
    response = await operate(client, plan, "activate", capacity(consulted=None))
    assert_outcome(response, 422, "required", "part.where(name='consulted')")
    await still_draft(client, plan)


async def test_activation_without_a_recovery_goal_is_refused(client: httpx.AsyncClient) -> None:
    plan = await first_session(client, domain(goal_kind="social"), agreement(), *full_content())
    assert_outcome(await operate(client, plan, "activate"), 422, "required", "CarePlan.goal")
    await still_draft(client, plan)


async def test_activation_names_each_missing_section_and_the_service_period(client: httpx.AsyncClient) -> None:
    plan = await first_session(client, domain(), agreement(), *sections("cultural-needs", "drug-and-alcohol"))
    body = assert_outcome(await operate(client, plan, "activate"), 422, "required")
    expressions = [i["expression"][0] for i in body["issue"]]
    assert expressions == [
        f"{EXT}('careplan-section').where(extension('code').value = 'cultural-needs')",
        f"{EXT}('careplan-section').where(extension('code').value = 'drug-and-alcohol')",
        "CarePlan.period.end",
    ]


async def test_complex_needs_need_a_case_manager_to_activate(client: httpx.AsyncClient) -> None:
    """FR-49."""
    plan = await first_session(client, domain(), agreement(), *full_content(), value("complexNeeds", "Boolean", True))
    assert_outcome(await operate(client, plan, "activate"), 422, "required", "CarePlan.careTeam")
    plan = await current(client, plan)
    plan["contained"] = [
        {
            "resourceType": "CareTeam",
            "id": "care-team",
            "participant": [
                {
                    "role": [
                        {
                            "coding": [
                                {
                                    "system": "https://continuum.example.org/fhir/CodeSystem/care-team-role",
                                    "code": "case-manager",
                                }
                            ]
                        }
                    ],
                    "member": {"reference": "PractitionerRole/barnet-core-north-lead"},
                }
            ],
        }
    ]
    plan["careTeam"] = [{"reference": "#care-team"}]
    updated = await client.put(f"/fhir/CarePlan/{plan['id']}", json=plan, headers=FHIR)
    assert updated.status_code == 200, updated.text
    assert (await operate(client, updated.json(), "activate")).status_code == 200


async def test_activate_needs_if_match_and_a_draft(client: httpx.AsyncClient) -> None:
    plan = await active_plan(client)
    response = await client.post(
        f"/fhir/CarePlan/{plan['id']}/$activate", json={"resourceType": "Parameters"}, headers=FHIR
    )
    assert_outcome(response, 412, None, "If-Match")
    assert_outcome(await operate(client, plan, "activate"), 409, "conflict", "CarePlan.status")
    stale = {**plan, "meta": {"versionId": "1"}}
    assert_outcome(await operate(client, stale, "activate"), 412, "conflict", "If-Match")


# ---------------------------------------------------------------- PUT never moves status


async def test_a_put_cannot_activate_a_plan_or_fake_its_agreement(client: httpx.AsyncClient) -> None:
    plan = await first_session(client, domain(), *full_content())
    response = await client.put(f"/fhir/CarePlan/{plan['id']}", json={**plan, "status": "active"}, headers=FHIR)
    assert_outcome(response, 422, None, "CarePlan.status")
    faked = {
        **plan,
        "extension": [
            *plan["extension"],
            {"url": EXT_AGREEMENT, "extension": [{"url": "when", "valueDateTime": "2026-01-05T10:00:00Z"}]},
        ],
    }
    response = await client.put(f"/fhir/CarePlan/{plan['id']}", json=faked, headers=FHIR)
    assert_outcome(response, 422, None, f"{EXT}('coproduction-agreement')")
    response = await client.put(f"/fhir/CarePlan/{plan['id']}", json={**plan, "activity": []}, headers=FHIR)
    assert_outcome(response, 422, None, "CarePlan.activity")
    await still_draft(client, plan)


async def test_a_put_cannot_leave_an_active_plan_without_its_content(client: httpx.AsyncClient) -> None:
    plan = await active_plan(client)
    plan["extension"] = [
        e for e in plan["extension"] if not (e["url"] == EXT_SECTION and e["extension"][0]["valueCode"] == "strengths")
    ]
    response = await client.put(f"/fhir/CarePlan/{plan['id']}", json=plan, headers=FHIR)
    assert_outcome(response, 422, "required", "value = 'strengths'")


async def test_a_put_updates_content_with_if_match(client: httpx.AsyncClient) -> None:
    plan = await active_plan(client)
    plan["title"] = "My plan for getting back to work"
    stale = await client.put(f"/fhir/CarePlan/{plan['id']}", json=plan, headers={**FHIR, "If-Match": 'W/"1"'})
    assert_outcome(stale, 412, None, "If-Match")
    version = plan["meta"]["versionId"]
    response = await client.put(
        f"/fhir/CarePlan/{plan['id']}", json=plan, headers={**FHIR, "If-Match": f'W/"{version}"'}
    )
    assert response.status_code == 200, response.text
    assert response.json()["title"] == "My plan for getting back to work"
    assert response.json()["status"] == "active"
