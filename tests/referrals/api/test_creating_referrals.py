"""Creating referrals: minimal payload, who may refer, self-referral, and the creation rules."""

from __future__ import annotations

from typing import Any

import httpx

from services.kit.testing import assert_outcome
from services.referrals.domain.codes import EXT_COMMUNICATION_NEEDS, EXT_DIRECTION, EXT_RECEIVED_AT
from tests.referrals.builders import (
    FHIR,
    create_referral,
    less_restrictive,
    open_episode,
    referral,
    referral_with_episode,
    task_for,
)
from tests.referrals.events import upsert_patient


def ext(resource: dict[str, Any], url: str) -> dict[str, Any]:
    return next(e for e in resource["extension"] if e["url"] == url)


async def test_a_minimal_referral_is_active_with_received_at_and_a_requested_task(
    client: httpx.AsyncClient,
) -> None:
    created, task = await referral_with_episode(client)
    assert created["status"] == "active"
    assert ext(created, EXT_RECEIVED_AT)["valueDateTime"] == "2026-01-05T09:00:00.000Z"
    assert task["status"] == "requested"
    assert task["businessStatus"]["coding"][0]["code"] == "received"
    assert task["owner"]["reference"] == "HealthcareService/barnet-psychosis"


async def test_create_answers_201_with_location_etag_and_fhir_json(client: httpx.AsyncClient) -> None:
    await open_episode(client)
    response = await client.post("/fhir/ServiceRequest", json=referral(), headers=FHIR)
    assert response.status_code == 201
    assert response.headers["content-type"].startswith("application/fhir+json")
    assert response.headers["etag"] == 'W/"1"'
    assert response.headers["location"].endswith(f"/fhir/ServiceRequest/{response.json()['id']}/_history/1")
    assert "last-modified" in response.headers


async def test_a_referral_without_performer_is_refused_and_nothing_is_stored(
    client: httpx.AsyncClient,
) -> None:
    await open_episode(client)
    body = referral()
    del body["performer"]
    response = await client.post("/fhir/ServiceRequest", json=body, headers=FHIR)
    assert_outcome(response, 422, "required", "ServiceRequest.performer")
    listed = await client.get("/fhir/ServiceRequest")
    assert listed.json()["total"] == 0


async def test_a_referral_without_subject_is_refused_naming_subject(client: httpx.AsyncClient) -> None:
    body = referral()
    del body["subject"]
    response = await client.post("/fhir/ServiceRequest", json=body, headers=FHIR)
    assert_outcome(response, 422, "required", "ServiceRequest.subject")


async def test_a_referral_without_reason_or_source_is_refused(client: httpx.AsyncClient) -> None:
    await open_episode(client)
    no_reason = referral()
    del no_reason["reasonCode"]
    assert_outcome(
        await client.post("/fhir/ServiceRequest", json=no_reason, headers=FHIR), 422, "required", "reasonCode"
    )
    no_source = referral()
    del no_source["category"]
    assert_outcome(await client.post("/fhir/ServiceRequest", json=no_source, headers=FHIR), 422, "required", "category")


async def test_an_unknown_source_code_is_refused_naming_category(client: httpx.AsyncClient) -> None:
    response = await client.post("/fhir/ServiceRequest", json=referral(source="carrier-pigeon"), headers=FHIR)
    assert_outcome(response, 422, "code-invalid", "ServiceRequest.category")


async def test_an_internal_referral_from_an_external_gp_is_refused(client: httpx.AsyncClient) -> None:
    """FR-3: only the responsible worker in a partnership team raises an internal referral."""
    body = referral(requester="PractitionerRole/barnet-gp-gp")
    assert_outcome(
        await client.post("/fhir/ServiceRequest", json=body, headers=FHIR),
        422,
        None,
        "ServiceRequest.requester",
    )


async def test_an_internal_referral_needs_the_requesters_team_to_hold_an_episode(
    client: httpx.AsyncClient,
) -> None:
    """FR-3: the responsible worker is the one whose team holds the person's episode."""
    response = await client.post("/fhir/ServiceRequest", json=referral(), headers=FHIR)
    assert_outcome(response, 422, None, "ServiceRequest.requester")
    await open_episode(client)
    assert (await client.post("/fhir/ServiceRequest", json=referral(), headers=FHIR)).status_code == 201


async def test_a_gp_referral_is_accepted_as_an_external_referral(client: httpx.AsyncClient) -> None:
    body = referral(
        performer="HealthcareService/barnet-core-north",
        requester="PractitionerRole/barnet-gp-gp",
        source="gp",
    )
    created = await create_referral(client, body)
    assert ext(created, EXT_DIRECTION)["valueCode"] == "external"


async def test_a_self_referral_to_a_crisis_cafe_is_created(client: httpx.AsyncClient) -> None:
    """FR-17: services that take self-referrals take them with no professional requester."""
    body = referral(performer="HealthcareService/camden-crisis-cafe", requester="Patient/p-1", source="self")
    created = await create_referral(client, body)
    task = await task_for(client, created["id"])
    assert task["businessStatus"]["coding"][0]["code"] == "received"


async def test_a_self_referral_to_a_team_without_self_referral_goes_to_the_spa(
    client: httpx.AsyncClient,
) -> None:
    """FR-17: routed to the borough's single point of access (a redirect), never refused."""
    body = referral(performer="HealthcareService/camden-core-north", requester="Patient/p-1", source="self")
    created = await create_referral(client, body)
    task = await task_for(client, created["id"])
    assert task["businessStatus"]["coding"][0]["code"] == "redirected"
    onward = await client.get("/fhir/ServiceRequest", params={"performer": "HealthcareService/camden-spa"})
    assert onward.json()["total"] == 1
    spa_referral = onward.json()["entry"][0]["resource"]
    assert spa_referral["replaces"][0]["reference"] == f"ServiceRequest/{created['id']}"


async def test_no_gp_and_no_fixed_abode_do_not_stop_a_referral(client: httpx.AsyncClient) -> None:
    """FR-18: a referral never needs a registered GP or a fixed address."""
    await upsert_patient(client, "p-nfa", extension=[], address=None)
    body = referral(
        performer="HealthcareService/islington-spa",
        requester="Patient/p-nfa",
        source="self",
        subject="Patient/p-nfa",
    )
    await create_referral(client, body)


async def test_a_referral_to_inpatient_care_records_less_restrictive_options(
    client: httpx.AsyncClient,
) -> None:
    """FR-30."""
    await open_episode(client)
    body = referral(performer="HealthcareService/beh-adult-acute")
    assert_outcome(
        await client.post("/fhir/ServiceRequest", json=body, headers=FHIR),
        422,
        "required",
        "less-restrictive",
    )
    body["extension"] = less_restrictive("crhtt-home-treatment", "crisis-house")
    assert (await client.post("/fhir/ServiceRequest", json=body, headers=FHIR)).status_code == 201


async def test_a_crisis_house_stay_over_14_days_is_refused(client: httpx.AsyncClient) -> None:
    """FR-31."""
    await open_episode(client)
    body = referral(
        performer="HealthcareService/ncl-crisis-house",
        occurrencePeriod={"start": "2026-01-06", "end": "2026-01-21"},
    )
    assert_outcome(await client.post("/fhir/ServiceRequest", json=body, headers=FHIR), 422, None, "occurrencePeriod")
    body["occurrencePeriod"] = {"start": "2026-01-06", "end": "2026-01-20"}
    assert (await client.post("/fhir/ServiceRequest", json=body, headers=FHIR)).status_code == 201


async def test_step_up_and_step_down_are_classified(client: httpx.AsyncClient) -> None:
    """FR-22: core (level 3) to intensive (level 5) is step-up; intensive to core is step-down."""
    up, _ = await referral_with_episode(client)
    assert ext(up, EXT_DIRECTION)["valueCode"] == "step-up"
    await open_episode(client, team="HealthcareService/barnet-psychosis")
    down = await create_referral(
        client,
        referral(
            performer="HealthcareService/barnet-core-south",
            requester="PractitionerRole/barnet-psychosis-worker",
        ),
    )
    assert ext(down, EXT_DIRECTION)["valueCode"] == "step-down"


async def test_an_external_physical_health_service_can_refer_to_substance_misuse(
    client: httpx.AsyncClient,
) -> None:
    """FR-24: diabetes services and mental health services refer to each other through one API."""
    body = referral(
        performer="HealthcareService/enfield-substance-misuse",
        requester="PractitionerRole/ncl-diabetes-worker",
        source="other-health-professional",
    )
    await create_referral(client, body)


async def test_communication_needs_travel_with_the_referral(client: httpx.AsyncClient) -> None:
    """FR-25: language, interpreter and accessible-information needs are on the referral."""
    await upsert_patient(client, "p-1", language="bfi", interpreter=True, needs="BSL interpreter; large print")
    created, _ = await referral_with_episode(client)
    read = (await client.get(f"/fhir/ServiceRequest/{created['id']}")).json()
    needs = {e["url"]: e for e in ext(read, EXT_COMMUNICATION_NEEDS)["extension"]}
    assert needs["language"]["valueCode"] == "bfi"
    assert needs["interpreterRequired"]["valueBoolean"] is True
    assert needs["needs"]["valueString"] == "BSL interpreter; large print"


async def test_a_referral_carries_existing_information_by_reference(client: httpx.AsyncClient) -> None:
    """FR-19: supportingInfo references what exists; no team-specific mandatory fields."""
    body = referral(supportingInfo=[{"reference": "QuestionnaireResponse/dialog-1"}, {"reference": "CarePlan/plan-1"}])
    await open_episode(client)
    created = await create_referral(client, body)
    assert [s["reference"] for s in created["supportingInfo"]] == [
        "QuestionnaireResponse/dialog-1",
        "CarePlan/plan-1",
    ]


def test_no_service_adds_mandatory_referral_fields_of_its_own() -> None:
    """FR-19: the configuration check refuses a team-specific mandatory field."""
    import dataclasses

    from reference.partnership import Directory, check_directory, directory

    real = directory()
    assert check_directory(real) == []
    team = dataclasses.replace(real.teams["barnet-eip"], required_referral_fields=("hobbies",))
    changed = Directory(real.organizations, {**real.teams, team.id: team}, real.roles)
    assert check_directory(changed) == ["barnet-eip: adds mandatory referral fields ['hobbies']"]
    no_info = dataclasses.replace(real.teams["barnet-eip"], waiting_well=None)
    changed = Directory(real.organizations, {**real.teams, no_info.id: no_info}, real.roles)
    assert check_directory(changed) == ["barnet-eip: no waiting-well information"]
