"""Phases 4 and 5: actioning at 18 or an agreed time (FR-57, FR-61, FR-64), feedback and review (FR-58),
continuity (FR-63) and age bands (FR-65)."""

from __future__ import annotations

import asyncio
import base64
from datetime import UTC, datetime
from typing import Any

import httpx

from services.kit.clock import FixedClock
from services.kit.testing import assert_outcome
from tests.transitions.builders import (
    ACTION,
    FEEDBACK,
    PATIENT,
    REVIEW,
    TRANSITIONS_WORKER,
    WORKER,
    case_at,
    destination,
    operate,
    outputs,
    params,
    phase_of,
    read,
    step,
)
from tests.transitions.fakes import FakeGateway

YOUNG_PERSON_FEEDBACK = "Task.output.where(type.coding.code='young-person-feedback')"


def where(name: str) -> str:
    return f"Parameters.parameter.where(name='{name}')"


def status_values(body: dict[str, Any]) -> dict[str, Any]:
    return {p["name"]: next((v for k, v in p.items() if k.startswith("value")), None) for p in body["parameter"]}


async def status(client: httpx.AsyncClient, case: dict[str, Any]) -> dict[str, Any]:
    response = await client.get(f"/fhir/Task/{case['id']}/$transition-status")
    assert response.status_code == 200, response.text
    return status_values(response.json())


async def unchanged(client: httpx.AsyncClient, case: dict[str, Any]) -> None:
    assert await read(client, f"Task/{case['id']}") == case


# ---------------------------------------------------------------- FR-57


async def test_the_action_date_defaults_to_the_18th_birthday(client: httpx.AsyncClient, gateway: FakeGateway) -> None:
    """FR-57: the default equals the 18th birthday."""
    case = await case_at(client, "action-plan", patient=gateway.young_person(birth_date="2008-10-01"))
    found = await status(client, case)
    assert found["plannedActionDate"] == found["eighteenthBirthday"] == "2026-10-01"
    phase4 = (
        await client.get("/fhir/Task", params={"part-of": f"Task/{case['id']}", "business-status": "plan-actioning"})
    ).json()["entry"][0]["resource"]
    assert phase4["restriction"]["period"]["end"] == "2026-10-01"


async def test_a_29_february_birth_is_actioned_on_28_february(client: httpx.AsyncClient, gateway: FakeGateway) -> None:
    case = await case_at(client, "action-plan", patient=gateway.young_person(birth_date="2008-02-29"))
    assert (await status(client, case))["plannedActionDate"] == "2026-02-28"


async def test_an_alternative_time_needs_who_agreed_and_why(client: httpx.AsyncClient, gateway: FakeGateway) -> None:
    """FR-57: an override without agreed-by returns 422; the young person agrees to it (P-7)."""
    case = await case_at(client, "action-plan", patient=gateway.young_person())
    for body, code, element in (
        (params(date="2027-01-15", rationale="A-levels finish in summer"), "required", "agreedBy"),
        (params(date="2027-01-15", agreedBy=WORKER, rationale="A-levels"), "business-rule", "agreedBy"),
        (params(date="2027-01-15", agreedBy=[PATIENT, WORKER]), "required", "rationale"),
        (params(agreedBy=[PATIENT, WORKER], rationale="A-levels"), "required", "date"),
    ):
        assert_outcome(await operate(client, case, "set-action-date", body), 422, code, where(element))
    await unchanged(client, case)
    case = await step(
        client,
        case,
        "set-action-date",
        params(date="2027-01-15", agreedBy=[PATIENT, WORKER], rationale="After A-levels, at a time of stability"),
    )
    assert (await status(client, case))["plannedActionDate"] == "2027-01-15"  # after 18: allowed (Q-TR-12)
    plan = await read(client, case["focus"]["reference"])
    assert plan["period"]["start"] == "2027-01-15"


async def test_an_unactioned_plan_is_overdue_the_day_after_its_date(
    client: httpx.AsyncClient, gateway: FakeGateway, clock: FixedClock
) -> None:
    """FR-57: the day after the planned date with no action gives overdue=true."""
    case = await case_at(client, "action-plan", patient=gateway.young_person(birth_date="2008-10-01"))
    clock.moment = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)
    assert (await status(client, case))["overdue"] is False
    assert (await client.get("/fhir/Task/$transition-overdue")).json()["parameter"][0]["valueInteger"] == 0
    clock.moment = datetime(2026, 10, 2, 9, 0, tzinfo=UTC)
    assert (await status(client, case))["overdue"] is True
    overdue = (await client.get("/fhir/Task/$transition-overdue")).json()
    assert overdue["parameter"][0]["valueInteger"] == 1
    row = {p["name"]: p for p in overdue["parameter"][1]["part"]}
    assert row["daysOverdue"]["valueInteger"] == 1
    case = await step(client, case, "action-plan", ACTION)
    assert outputs(case, "actioned-after-planned-date") == [True]
    assert (await status(client, case))["overdue"] is False


async def test_today_is_the_date_in_london(client: httpx.AsyncClient, gateway: FakeGateway, clock: FixedClock) -> None:
    """At 23:30 UTC on 1 October in summer time it is already 2 October in England."""
    case = await case_at(client, "action-plan", patient=gateway.young_person(birth_date="2008-10-01"))
    clock.moment = datetime(2026, 10, 1, 23, 30, tzinfo=UTC)
    assert (await status(client, case))["overdue"] is True


# ---------------------------------------------------------------- FR-64, FR-61


async def test_actioning_sends_the_referrals_with_the_plan_and_the_cyp_summary(
    client: httpx.AsyncClient, gateway: FakeGateway
) -> None:
    """FR-64: the adult-service referral references the transition plan and carries the CYP history."""
    case = await case_at(client, "action-plan", patient=gateway.young_person())
    case = await step(client, case, "action-plan", ACTION)
    assert phase_of(case) == "evaluation"
    plan_ref = case["focus"]["reference"]
    adult = [r for r in gateway.referrals.values() if r["identifier"][0]["value"].endswith(":adult-0")]
    (referral,) = adult
    assert referral["performer"][0]["reference"] == "HealthcareService/barnet-core-north"
    assert referral["requester"]["reference"] == WORKER
    assert referral["code"]["coding"][0]["code"] == "308292007"
    assert {"reference": plan_ref, "display": "Transition plan, formalised with the young person"} in referral[
        "supportingInfo"
    ]
    assert referral["basedOn"][0]["reference"] == plan_ref
    (summary,) = referral["contained"]
    assert {"reference": "#cyp-summary", "display": "Summary of CYPMHS care"} in referral["supportingInfo"]
    text = ACTION["parameter"][0]["valueString"]
    assert summary["description"] == text
    assert base64.b64decode(summary["content"][0]["attachment"]["data"]).decode() == text
    assert outputs(case, "adult-referral") == [{"reference": f"ServiceRequest/{referral['id']}"}]
    plan = await read(client, plan_ref)
    assert plan["activity"][0]["detail"]["status"] == "scheduled"
    assert plan["activity"][0]["outcomeReference"] == [{"reference": f"ServiceRequest/{referral['id']}"}]


async def test_actioning_needs_the_cyp_summary(client: httpx.AsyncClient, gateway: FakeGateway) -> None:
    case = await case_at(client, "action-plan", patient=gateway.young_person())
    assert_outcome(await operate(client, case, "action-plan", params()), 422, "required", where("cypSummary"))
    await unchanged(client, case)
    assert len(gateway.referrals) == 1  # only phase 2's


async def test_remaining_in_a_cyp_0_25_service_sends_no_referral(
    client: httpx.AsyncClient, gateway: FakeGateway
) -> None:
    case = await case_at(client, "record-meeting", patient=gateway.young_person())
    body = params(
        date="2026-01-05T08:00:00Z",
        invitee=[WORKER, PATIENT],
        destination=[destination("remain-in-cyp-0-25"), destination("intensive-team", "HealthcareService/barnet-eip")],
    )
    case = await step(client, case, "record-meeting", body)
    case = await step(client, case, "share-plan", params())
    case = await step(client, case, "record-agreement", params(decision="agreed", decidedBy=PATIENT))
    case = await step(client, case, "action-plan", ACTION)
    performers = [r["performer"][0]["reference"] for r in gateway.referrals.values()]
    assert performers == ["HealthcareService/barnet-transitions", "HealthcareService/barnet-eip"]
    plan = await read(client, case["focus"]["reference"])
    assert [a["detail"]["status"] for a in plan["activity"]] == ["in-progress", "scheduled"]
    assert plan["activity"][0]["detail"]["performer"][0]["reference"] == "HealthcareService/barnet-cypmhs"


async def test_a_referral_the_referrals_service_refuses_changes_nothing(
    client: httpx.AsyncClient, gateway: FakeGateway
) -> None:
    case = await case_at(client, "action-plan", patient=gateway.young_person())
    gateway.refuse_referrals = (422, "The requester's team holds no active episode of care for this person")
    response = await operate(client, case, "action-plan", ACTION)
    body = assert_outcome(response, 422, None, "CarePlan.activity[0].detail.performer")
    assert "holds no active episode" in body["issue"][0]["diagnostics"]
    await unchanged(client, case)
    gateway.refuse_referrals = None
    case = await step(client, case, "action-plan", ACTION)
    assert phase_of(case) == "evaluation"


async def test_concurrent_actioning_sends_each_referral_once(client: httpx.AsyncClient, gateway: FakeGateway) -> None:
    """Two people action the plan at once: one wins, the other gets 412, and one referral is sent.

    Referrals carry an identifier and go with If-None-Exist, so a request that sent its referral
    and then lost the race (or failed to commit) leaves no second referral behind.
    """
    case = await case_at(client, "action-plan", patient=gateway.young_person())
    responses = await asyncio.gather(*(operate(client, case, "action-plan", ACTION) for _ in range(3)))
    assert sorted(r.status_code for r in responses) == [200, 412, 412]
    adult = [r for r in gateway.referrals.values() if ":adult-" in r["identifier"][0]["value"]]
    assert len(adult) == 1


# ---------------------------------------------------------------- FR-58


async def test_closing_without_the_young_persons_feedback_is_refused(
    client: httpx.AsyncClient, gateway: FakeGateway
) -> None:
    """FR-58: closing without any feedback or a recorded 'declined to give feedback' returns 422."""
    case = await case_at(client, "record-feedback", patient=gateway.young_person())
    assert_outcome(await operate(client, case, "close", params()), 422, "required", YOUNG_PERSON_FEEDBACK)
    family = params(respondent="family-carer", source="RelatedPerson/mum", experience="mixed")
    case = await step(client, case, "record-feedback", family)
    assert_outcome(await operate(client, case, "close", params()), 422, "required", YOUNG_PERSON_FEEDBACK)
    assert_outcome(await operate(client, case, "review", REVIEW), 422, "required", YOUNG_PERSON_FEEDBACK)
    await unchanged(client, case)


async def test_a_young_person_declining_to_give_feedback_is_enough(
    client: httpx.AsyncClient, gateway: FakeGateway
) -> None:
    case = await case_at(client, "record-feedback", patient=gateway.young_person())
    case = await step(client, case, "record-feedback", params(respondent="young-person", declined=True))
    (response_ref,) = outputs(case, "young-person-feedback")
    response = await read(client, response_ref["reference"])
    assert response["status"] == "stopped"
    assert response["item"][1] == {
        "linkId": "declined",
        "text": "Feedback was offered and declined",
        "answer": [{"valueBoolean": True}],
    }
    assert_outcome(await operate(client, case, "close", params()), 409, "conflict")  # the review is still due
    case = await step(client, case, "review", REVIEW)
    case = await step(client, case, "close", params())
    assert (phase_of(case), case["status"]) == ("closed", "completed")
    assert (await read(client, case["focus"]["reference"]))["status"] == "completed"


async def test_feedback_is_a_questionnaire_response_from_each_respondent(
    client: httpx.AsyncClient, gateway: FakeGateway
) -> None:
    case = await case_at(client, "record-feedback", patient=gateway.young_person())
    for body in (
        FEEDBACK,
        params(respondent="family-carer", source="RelatedPerson/mum", experience="positive"),
        params(respondent="referring-worker", source=WORKER, experience="mixed", comment="Handover was rushed"),
        params(respondent="adult-team", source="PractitionerRole/barnet-core-north-worker", experience="positive"),
    ):
        case = await step(client, case, "record-feedback", body)
    found = (await client.get("/fhir/QuestionnaireResponse", params={"subject": PATIENT})).json()
    assert found["total"] == 4
    young = (
        await client.get("/fhir/QuestionnaireResponse", params={"respondent": "young-person", "status": "completed"})
    ).json()["entry"][0]["resource"]
    assert young["questionnaire"] == "https://continuum.example.org/fhir/Questionnaire/transition-feedback"
    assert young["source"] == {"reference": PATIENT}
    assert young["basedOn"] == [{"reference": case["focus"]["reference"]}]
    assert young["item"][1]["answer"][0]["valueCoding"]["code"] == "positive"


async def test_feedback_comes_from_who_it_says(client: httpx.AsyncClient, gateway: FakeGateway) -> None:
    case = await case_at(client, "record-feedback", patient=gateway.young_person())
    for body, code, element in (
        (params(respondent="family-carer", source=PATIENT, experience="positive"), "business-rule", "source"),
        (
            params(respondent="young-person", source="RelatedPerson/mum", experience="positive"),
            "business-rule",
            "source",
        ),
        (params(respondent="family-carer", experience="positive"), "required", "source"),
        (params(respondent="young-person"), "required", "experience"),
        (params(respondent="teacher", experience="positive"), "code-invalid", "respondent"),
        (params(respondent="young-person", experience="brilliant"), "code-invalid", "experience"),
    ):
        assert_outcome(await operate(client, case, "record-feedback", body), 422, code, where(element))
    await unchanged(client, case)
    assert (await client.get("/fhir/QuestionnaireResponse")).json()["total"] == 0


async def test_a_review_that_was_not_effective_records_actions(client: httpx.AsyncClient, gateway: FakeGateway) -> None:
    case = await case_at(client, "review", patient=gateway.young_person())
    body = params(outcome="not-effective", reviewer=TRANSITIONS_WORKER)
    assert_outcome(await operate(client, case, "review", body), 422, "required", where("actions"))
    body = params(outcome="not-effective", reviewer=TRANSITIONS_WORKER, actions="Joint visit with the core team")
    case = await step(client, case, "review", body)
    assert outputs(case, "effectiveness")[0]["coding"][0]["code"] == "not-effective"


# ---------------------------------------------------------------- FR-63


async def test_a_gap_before_adult_care_needs_a_rationale_and_is_reported(
    client: httpx.AsyncClient, gateway: FakeGateway
) -> None:
    """FR-63: closing the CYP episode 10 days before the adult start without a rationale returns 422."""
    case = await case_at(client, "record-feedback", patient=gateway.young_person())
    body = params(cypEnd="2026-10-01", adultStart="2026-10-11")
    assert_outcome(await operate(client, case, "record-handover", body), 422, "required", where("rationale"))
    await unchanged(client, case)
    body = params(cypEnd="2026-10-01", adultStart="2026-10-11", rationale="First adult appointment after leave")
    case = await step(client, case, "record-handover", body)
    assert outputs(case, "continuity-gap-days") == [10]
    assert "10 days" in outputs(case, "continuity-warning")[0]
    assert (await status(client, case))["continuityGapDays"] == 10


async def test_overlapping_care_needs_no_rationale(client: httpx.AsyncClient, gateway: FakeGateway) -> None:
    case = await case_at(client, "record-feedback", patient=gateway.young_person())
    case = await step(client, case, "record-handover", params(cypEnd="2026-10-15", adultStart="2026-10-01"))
    assert outputs(case, "continuity-gap-days") == [0]
    assert outputs(case, "continuity-warning") == []


# ---------------------------------------------------------------- FR-65


async def test_the_age_band_is_computed_at_the_event_date(
    client: httpx.AsyncClient, gateway: FakeGateway, clock: FixedClock
) -> None:
    """FR-65: on the day before the 18th birthday the person is CYP; on the birthday they are not."""
    case = await case_at(client, "action-plan", patient=gateway.young_person(birth_date="2008-10-01"))
    clock.moment = datetime(2026, 9, 30, 12, 0, tzinfo=UTC)
    before = await status(client, case)
    assert (before["ageBand"], before["cyp"], before["ageToday"]) == ("0-17", True, "17y 11m")
    clock.moment = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)
    on = await status(client, case)
    assert (on["ageBand"], on["cyp"], on["ageToday"]) == ("18-25", False, "18y 0m")
    case = await step(client, case, "action-plan", ACTION)
    phase4 = (
        await client.get("/fhir/Task", params={"part-of": f"Task/{case['id']}", "business-status": "plan-actioning"})
    ).json()["entry"][0]["resource"]
    assert outputs(phase4, "age-band-at-completion") == ["18-25"]


async def test_phase_events_carry_the_age_band_at_the_event(
    app: Any, client: httpx.AsyncClient, gateway: FakeGateway, clock: FixedClock
) -> None:
    from services.kit.outbox import Outbox
    from services.transitions.persistence import tables

    case = await case_at(client, "action-plan", patient=gateway.young_person(birth_date="2008-10-01"))
    clock.moment = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)
    await step(client, case, "action-plan", ACTION)
    async with app.state.database.session() as session:
        events = await Outbox(session, tables.outbox, "transitions").pending()
    moves = [e for e in events if e["type"] == "transition-phase-changed"]
    assert [(e["fromPhase"], e["toPhase"]) for e in moves] == [
        (None, "pre-transition-discussion"),
        ("pre-transition-discussion", "support-decision"),
        ("support-decision", "transition-planning"),
        ("transition-planning", "plan-actioning"),
        ("plan-actioning", "evaluation"),
    ]
    assert [e["ageBand"] for e in moves] == ["0-17"] * 4 + ["18-25"]
    assert {e["borough"] for e in moves} == {"barnet"}
