"""Carers and sharing (FR-40), advocacy (FR-41), reviews and paired measures (FR-42), the pathway back
(FR-39) and funding flags (FR-51)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

from reference.partnership import directory
from services.careplans.domain.codes import EXT_ADVOCACY, EXT_FUNDING, EXT_NEXT_REVIEW, EXT_PHB, EXT_REVIEW
from services.careplans.service.context import Context
from services.careplans.settings import Settings
from services.kit.auth import Principal
from services.kit.testing import assert_outcome
from tests.careplans.builders import (
    CARER,
    CLINICIAN,
    FHIR,
    PATIENT,
    active_plan,
    agreement,
    dialog,
    domain,
    first_session,
    full_content,
    operate,
    part,
    record,
    reference,
    value,
)

READER = "X-Continuum-Reader"


def carer(member: str = CARER, consent: str | None = None) -> dict[str, Any]:
    parts = [value("role", "Code", "carer"), reference("member", member)]
    if consent:
        parts.append(reference("sharingConsent", consent))
    return part("careTeamMember", *parts)


async def put(client: httpx.AsyncClient, plan: dict[str, Any]) -> dict[str, Any]:
    response = await client.put(f"/fhir/CarePlan/{plan['id']}", json=plan, headers=FHIR)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


# ---------------------------------------------------------------- FR-40


async def test_a_carer_without_sharing_consent_gets_403_and_with_it_200(client: httpx.AsyncClient) -> None:
    plan = await first_session(client, domain(), carer(CARER), carer("RelatedPerson/sister", "Consent/share-1"))
    team = plan["contained"][0]["participant"]
    assert [p["member"]["reference"] for p in team] == [CARER, "RelatedPerson/sister"]
    url = f"/fhir/CarePlan/{plan['id']}"
    assert_outcome(await client.get(url, headers={READER: CARER}), 403, "forbidden", READER)
    assert (await client.get(url, headers={READER: "RelatedPerson/sister"})).status_code == 200
    assert_outcome(await client.get(url, headers={READER: "RelatedPerson/stranger"}), 403, "forbidden")


async def test_the_person_reads_their_plan_and_nobody_elses(client: httpx.AsyncClient) -> None:
    plan = await first_session(client)
    url = f"/fhir/CarePlan/{plan['id']}"
    assert (await client.get(url, headers={READER: PATIENT})).status_code == 200
    assert_outcome(await client.get(url, headers={READER: "Patient/p-2"}), 403, "forbidden")


async def test_carers_and_people_read_plans_by_id_not_by_search(client: httpx.AsyncClient) -> None:
    await first_session(client)
    for reader in (CARER, PATIENT, "PractitionerRole/barnet-gp-gp"):
        response = await client.get("/fhir/CarePlan", params={"subject": PATIENT}, headers={READER: reader})
        assert_outcome(response, 403, "forbidden", READER)
    response = await client.get("/fhir/CarePlan", params={"subject": PATIENT}, headers={READER: CLINICIAN})
    assert response.json()["total"] == 1


async def test_a_sharing_consent_is_a_consent(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/fhir/CarePlan/$dialog-plus-session",
        json={
            "resourceType": "Parameters",
            "parameter": [
                reference("episode", "EpisodeOfCare/e-1"),
                reference("clinician", CLINICIAN),
                {"name": "response", "resource": dialog()},
                carer(CARER, "Observation/o-1"),
            ],
        },
        headers=FHIR,
    )
    assert_outcome(response, 422, None, "part.where(name='sharingConsent')")


# ---------------------------------------------------------------- FR-41 and FR-51 round-trip


async def test_advocacy_need_and_advocate_round_trip(client: httpx.AsyncClient) -> None:
    plan = await first_session(client)
    advocacy = {
        "url": EXT_ADVOCACY,
        "extension": [
            {"url": "substantialDifficulty", "valueBoolean": True},
            {"url": "noAppropriatePerson", "valueBoolean": True},
            {"url": "advocate", "valueReference": {"reference": "Organization/ncl-advocacy"}},
        ],
    }
    plan["extension"].append(advocacy)
    await put(client, plan)
    read = (await client.get(f"/fhir/CarePlan/{plan['id']}")).json()
    assert advocacy in read["extension"]


async def test_an_advocate_is_needed_before_activation_when_the_person_needs_one(client: httpx.AsyncClient) -> None:
    plan = await first_session(client, domain(), agreement(), *full_content())
    plan["extension"].append(
        {
            "url": EXT_ADVOCACY,
            "extension": [
                {"url": "substantialDifficulty", "valueBoolean": True},
                {"url": "noAppropriatePerson", "valueBoolean": True},
            ],
        }
    )
    plan = await put(client, plan)
    assert_outcome(
        await operate(client, plan, "activate"), 422, "required", "CarePlan.extension('advocacy').extension('advocate')"
    )


async def test_s117_chc_and_personal_health_budget_round_trip(client: httpx.AsyncClient) -> None:
    plan = await first_session(client)
    flags = [
        {"url": EXT_FUNDING, "valueCode": "s117-aftercare"},
        {"url": EXT_FUNDING, "valueCode": "chc"},
        {
            "url": EXT_PHB,
            "extension": [
                {"url": "type", "valueCode": "direct-payment"},
                {"url": "amount", "valueMoney": {"value": 2400.5, "currency": "GBP"}},
            ],
        },
    ]
    plan["extension"] += flags
    await put(client, plan)
    read = (await client.get(f"/fhir/CarePlan/{plan['id']}")).json()
    assert all(flag in read["extension"] for flag in flags)


async def test_a_budget_in_another_currency_or_an_unknown_flag_is_refused(client: httpx.AsyncClient) -> None:
    plan = await first_session(client)
    euros = {
        "url": EXT_PHB,
        "extension": [
            {"url": "type", "valueCode": "notional"},
            {"url": "amount", "valueMoney": {"value": 100, "currency": "EUR"}},
        ],
    }
    response = await client.put(
        f"/fhir/CarePlan/{plan['id']}", json={**plan, "extension": [*plan["extension"], euros]}, headers=FHIR
    )
    assert_outcome(response, 422, "value", "CarePlan.extension('personal-health-budget').extension('amount')")
    lottery = {"url": EXT_FUNDING, "valueCode": "lottery"}
    response = await client.put(
        f"/fhir/CarePlan/{plan['id']}", json={**plan, "extension": [*plan["extension"], lottery]}, headers=FHIR
    )
    assert_outcome(response, 422, "code-invalid", "CarePlan.extension('care-funding')")
    assert (await client.get(f"/fhir/CarePlan/{plan['id']}")).json()["meta"]["versionId"] == "1"


# ---------------------------------------------------------------- FR-42


def review_parameters(
    *participants: str, next_review: str = "2026-07-01", dialog_ref: str | None = None
) -> list[dict[str, Any]]:
    entries = [
        value("date", "DateTime", "2026-04-01T10:00:00Z"),
        *(reference("participant", p) for p in participants),
        value("outcome", "Code", "continue"),
        value("note", "String", "Going well; keep the weekly walking group"),
        value("nextReview", "Date", next_review),
    ]
    if dialog_ref:
        entries.append(reference("dialog", dialog_ref))
    return entries


async def test_a_review_without_the_person_is_refused(client: httpx.AsyncClient) -> None:
    plan = await active_plan(client)
    response = await operate(client, plan, "review", *review_parameters(CLINICIAN))
    assert_outcome(response, 422, "required", "Parameters.parameter.where(name='participant')")
    response = await operate(client, plan, "review", *review_parameters(PATIENT, next_review="2026-03-01"))
    assert_outcome(response, 422, None, "Parameters.parameter.where(name='nextReview')")


async def test_a_review_records_who_took_part_and_sets_the_next_review(client: httpx.AsyncClient) -> None:
    plan = await active_plan(client)
    response = await operate(client, plan, "review", *review_parameters(PATIENT, CLINICIAN, CARER))
    assert response.status_code == 200, response.text
    reviewed = response.json()
    recorded = next(e for e in reviewed["extension"] if e["url"] == EXT_REVIEW)
    assert [e["valueReference"]["reference"] for e in recorded["extension"] if e["url"] == "participant"] == [
        PATIENT,
        CLINICIAN,
        CARER,
    ]
    assert {"url": EXT_NEXT_REVIEW, "valueDate": "2026-07-01"} in reviewed["extension"]


async def test_a_draft_is_not_reviewed(client: httpx.AsyncClient) -> None:
    plan = await first_session(client)
    assert_outcome(
        await operate(client, plan, "review", *review_parameters(PATIENT)), 409, "conflict", "CarePlan.status"
    )


async def test_a_dialog_at_review_makes_a_paired_measure(client: httpx.AsyncClient) -> None:
    plan = await active_plan(client)
    trend = (await client.get("/fhir/Observation/$dialog-trend", params={"subject": PATIENT})).json()
    assert paired(trend) == {"ServiceRequest/r-1": (1, False)}
    follow_up = await record(client, dialog((5,) * 11, authored="2026-04-01T10:00:00Z"))
    reference_ = f"QuestionnaireResponse/{follow_up['id']}"
    reviewed = (await operate(client, plan, "review", *review_parameters(PATIENT, dialog_ref=reference_))).json()
    assert {"reference": reference_} in reviewed["supportingInfo"]
    trend = (await client.get("/fhir/Observation/$dialog-trend", params={"subject": PATIENT})).json()
    assert paired(trend) == {"ServiceRequest/r-1": (2, True)}


async def test_a_dialog_at_review_is_the_persons(client: httpx.AsyncClient) -> None:
    plan = await active_plan(client)
    other = await record(client, dialog(subject="Patient/p-2"))
    response = await operate(
        client, plan, "review", *review_parameters(PATIENT, dialog_ref=f"QuestionnaireResponse/{other['id']}")
    )
    assert_outcome(response, 422, None, "Parameters.parameter.where(name='dialog')")


def paired(trend: dict[str, Any]) -> dict[str, tuple[int, bool]]:
    found = {}
    for p in trend["parameter"]:
        if p["name"] == "referral":
            parts = {x["name"]: x for x in p["part"]}
            found[parts["referral"]["valueReference"]["reference"]] = (
                parts["measures"]["valueInteger"],
                parts["paired"]["valueBoolean"],
            )
    return found


# ---------------------------------------------------------------- FR-39


def pathway(*skip: str) -> dict[str, Any]:
    parts = [
        value("reaccess", "String", "Ask your GP, or call the SPA, to come back to the team"),
        value("contact", "String", "Barnet SPA: 020 0000 0000"),
        value("selfReferral", "String", "Self-refer through the Barnet SPA web form"),
        value("communityResource", "String", "Mind in Barnet drop-in, Tuesdays"),
        value("communityResource", "String", "Barnet recovery college"),
    ]
    return part("pathwayBack", *(p for p in parts if p["name"] not in skip))


async def test_completion_without_a_pathway_back_is_refused(client: httpx.AsyncClient) -> None:
    plan = await active_plan(client)
    response = await operate(client, plan, "complete", value("reason", "Code", "goals-achieved"))
    assert_outcome(response, 422, "required", "Parameters.parameter.where(name='pathwayBack')")
    response = await operate(client, plan, "complete", value("reason", "Code", "discharged"), pathway("contact"))
    assert_outcome(response, 422, "required", "part.where(name='contact')")
    assert (await client.get(f"/fhir/CarePlan/{plan['id']}")).json()["status"] == "active"


async def test_completion_with_a_pathway_back_completes_the_plan(client: httpx.AsyncClient) -> None:
    plan = await active_plan(client)
    response = await operate(client, plan, "complete", value("reason", "Code", "goals-achieved"), pathway())
    assert response.status_code == 200, response.text
    completed = response.json()
    assert completed["status"] == "completed"
    assert completed["period"]["end"] == "2026-01-05"
    back = next(e for e in completed["extension"] if e["url"].endswith("/pathway-back"))
    assert [e["url"] for e in back["extension"]].count("communityResource") == 2
    assert_outcome(await operate(client, completed, "complete", value("reason", "Code", "other")), 409, "conflict")


async def test_other_endings_need_no_pathway_back(client: httpx.AsyncClient) -> None:
    plan = await active_plan(client)
    response = await operate(client, plan, "complete", value("reason", "Code", "transferred"))
    assert response.status_code == 200, response.text
    assert_outcome(
        await operate(client, await active_plan(client), "complete", value("reason", "Code", "bored")),
        422,
        "code-invalid",
    )


async def test_after_completion_a_session_starts_a_new_plan_for_the_episode(client: httpx.AsyncClient) -> None:
    plan = await active_plan(client)
    await operate(client, plan, "complete", value("reason", "Code", "transferred"))
    fresh = await first_session(client)
    assert fresh["id"] != plan["id"]


async def test_a_carer_assessment_is_recorded_with_its_date_and_outcome(client: httpx.AsyncClient) -> None:
    """FR-40: carer assessments (date, outcome) are recordable."""
    assessed = carer(CARER, "Consent/share-1")
    assessed["part"] += [
        value("carerAssessmentDate", "Date", "2025-12-01"),
        value("carerAssessmentOutcome", "String", "Eligible for respite support twice a month"),
    ]
    plan = await first_session(client, domain(), assessed)
    extension = plan["contained"][0]["participant"][0]["extension"][1]
    assert extension == {
        "url": "https://continuum.example.org/fhir/StructureDefinition/carer-assessment",
        "extension": [
            {"url": "date", "valueDate": "2025-12-01"},
            {"url": "outcome", "valueString": "Eligible for respite support twice a month"},
        ],
    }
    half = carer("RelatedPerson/sister")
    half["part"].append(value("carerAssessmentDate", "Date", "2025-12-01"))
    response = await client.post(
        "/fhir/CarePlan/$dialog-plus-session",
        json={
            "resourceType": "Parameters",
            "parameter": [
                reference("episode", "EpisodeOfCare/e-9"),
                reference("clinician", CLINICIAN),
                {"name": "response", "resource": dialog()},
                half,
            ],
        },
        headers=FHIR,
    )
    assert_outcome(response, 422, "required", "part.where(name='carerAssessmentOutcome')")


def test_the_tokens_fhir_user_names_the_reader_before_the_header() -> None:
    """When the gateway's token names the user, the header cannot stand in for someone else."""
    settings = Settings(database_url="sqlite+aiosqlite:///:memory:", run_background_tasks=False)
    user = Principal("client-app", frozenset({"user/CarePlan.rs"}), fhir_user="RelatedPerson/sister")
    ctx = Context(None, datetime.now(UTC), settings, directory(), user, "PractitionerRole/x")  # type: ignore[arg-type]
    assert ctx.reader == "RelatedPerson/sister"
    system = Context(None, datetime.now(UTC), settings, directory(), reader_header=CARER)  # type: ignore[arg-type]
    assert system.reader == CARER
