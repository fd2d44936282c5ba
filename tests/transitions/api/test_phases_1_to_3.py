"""Phases 1 to 3: the discussion (FR-53), the support decision (FR-54), the meeting and the plan (FR-55,
FR-56, FR-61), in order (FR-59)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import httpx

from services.kit.clock import FixedClock
from services.kit.testing import assert_outcome
from tests.transitions.builders import (
    AGREE,
    CORE_TEAM,
    DISCUSSION,
    MEETING,
    PATIENT,
    SHARE,
    SUPPORT_YES,
    TRANSITIONS_TEAM,
    TRANSITIONS_WORKER,
    WORKER,
    case_at,
    destination,
    open_case,
    operate,
    outputs,
    params,
    phase_of,
    read,
    step,
)
from tests.transitions.fakes import FakeGateway

SHARED = "CarePlan.extension('transition-plan-shared-with-young-person')"


def where(name: str) -> str:
    return f"Parameters.parameter.where(name='{name}')"


async def unchanged(client: httpx.AsyncClient, case: dict[str, Any]) -> None:
    """Bad input changed nothing: the case is still at the version the test holds."""
    assert await read(client, f"Task/{case['id']}") == case


# ---------------------------------------------------------------- FR-53


async def test_a_discussion_on_the_deadline_is_late_and_the_day_before_on_time(
    client: httpx.AsyncClient, gateway: FakeGateway, clock: FixedClock
) -> None:
    """FR-53: DOB 2008-03-15; a discussion dated 2025-09-15 is late, one dated 2025-09-14 on time."""
    clock.moment = datetime(2025, 9, 20, 9, 0, tzinfo=UTC)
    gateway.young_person("yp-1", "2008-03-15")
    gateway.young_person("yp-2", "2008-03-15")
    late = await step(client, await open_case(client), "record-discussion", params(date="2025-09-15"))
    assert outputs(late, "late-initiation") == [True]
    assert outputs(late, "phase1-deadline") == ["2025-09-15"]
    assert outputs(late, "age-at-discussion") == ["17y 6m"]
    on_time = await step(
        client, await open_case(client, patient="Patient/yp-2"), "record-discussion", params(date="2025-09-14")
    )
    assert outputs(on_time, "late-initiation") == [False]
    assert phase_of(on_time) == "support-decision"


async def test_a_discussion_without_a_date_is_today(
    client: httpx.AsyncClient, gateway: FakeGateway, clock: FixedClock
) -> None:
    gateway.young_person()
    case = await step(client, await open_case(client), "record-discussion", params())
    assert outputs(case, "discussion-date") == ["2026-01-05"]


async def test_a_discussion_cannot_be_in_the_future(client: httpx.AsyncClient, gateway: FakeGateway) -> None:
    gateway.young_person()
    case = await open_case(client)
    response = await operate(client, case, "record-discussion", params(date="2026-01-06"))
    assert_outcome(response, 422, "business-rule", where("date"))
    await unchanged(client, case)


async def test_phase_1_completes_its_task_and_starts_phase_2(client: httpx.AsyncClient, gateway: FakeGateway) -> None:
    gateway.young_person()
    case = await step(client, await open_case(client), "record-discussion", DISCUSSION)
    phases = (await client.get("/fhir/Task", params={"part-of": f"Task/{case['id']}", "_sort": "authored-on"})).json()
    tasks = {e["resource"]["businessStatus"]["coding"][0]["code"]: e["resource"] for e in phases["entry"]}
    assert tasks["pre-transition-discussion"]["status"] == "completed"
    assert outputs(tasks["pre-transition-discussion"], "participant") == [{"reference": PATIENT}, {"reference": WORKER}]
    assert outputs(tasks["pre-transition-discussion"], "age-band-at-completion") == ["0-17"]
    assert tasks["support-decision"]["status"] == "in-progress"


# ---------------------------------------------------------------- FR-54, FR-59


async def test_support_needed_contacts_the_transitions_team_exactly_once(
    client: httpx.AsyncClient, gateway: FakeGateway
) -> None:
    """FR-54: support needed = yes creates exactly one referral to the borough's Transitions team."""
    case = await case_at(client, "decide-support", patient=gateway.young_person())
    case = await step(client, case, "decide-support", SUPPORT_YES)
    assert phase_of(case) == "transition-planning"
    (referral,) = gateway.referrals.values()
    assert referral["performer"] == [{"reference": TRANSITIONS_TEAM, "display": "Barnet Transitions Team"}]
    assert referral["requester"]["reference"] == WORKER
    assert referral["subject"] == {"reference": PATIENT}
    assert referral["intent"] == "order"
    assert referral["category"][0]["coding"][0] == {
        "system": "https://continuum.example.org/fhir/CodeSystem/referral-source",
        "code": "internal-team",
    }
    assert referral["reasonCode"][0]["text"]
    assert not any(r["reference"].endswith(("-gp", "-gp-gp")) for r in (referral["requester"], *referral["performer"]))
    assert outputs(case, "transitions-referral") == [{"reference": f"ServiceRequest/{referral['id']}"}]
    assert case["owner"]["reference"] == TRANSITIONS_TEAM


async def test_concurrent_support_decisions_make_one_referral(client: httpx.AsyncClient, gateway: FakeGateway) -> None:
    case = await case_at(client, "decide-support", patient=gateway.young_person())
    responses = await asyncio.gather(*(operate(client, case, "decide-support", SUPPORT_YES) for _ in range(5)))
    assert sorted(r.status_code for r in responses) == [200, 412, 412, 412, 412]
    assert len(gateway.referrals) == 1
    assert len(gateway.calls("POST", "/fhir/ServiceRequest")) >= 1


async def test_phase_2_without_phase_1_is_a_conflict(client: httpx.AsyncClient, gateway: FakeGateway) -> None:
    """FR-54 / FR-59: phase 2 without a phase-1 record returns 409."""
    gateway.young_person()
    case = await open_case(client)
    response = await operate(client, case, "decide-support", SUPPORT_YES)
    assert_outcome(response, 409, "conflict", "Task.businessStatus")
    assert gateway.referrals == {}
    await unchanged(client, case)


async def test_recording_phase_4_while_in_phase_2_is_a_conflict(
    client: httpx.AsyncClient, gateway: FakeGateway
) -> None:
    """FR-59's acceptance test."""
    case = await case_at(client, "decide-support", patient=gateway.young_person())
    for name, body in (
        ("action-plan", params(cypSummary="x")),
        ("set-action-date", params(date="2027-01-01", agreedBy=PATIENT, rationale="r")),
    ):
        assert_outcome(await operate(client, case, name, body), 409, "conflict", "Task.businessStatus")
    await unchanged(client, case)


async def test_support_is_agreed_with_the_young_person(client: httpx.AsyncClient, gateway: FakeGateway) -> None:
    case = await case_at(client, "decide-support", patient=gateway.young_person())
    response = await operate(client, case, "decide-support", params(supportNeeded=True, agreedBy=WORKER))
    assert_outcome(response, 422, "business-rule", where("agreedBy"))
    response = await operate(client, case, "decide-support", params(agreedBy=[PATIENT, WORKER]))
    assert_outcome(response, 422, "required", where("supportNeeded"))
    assert gateway.referrals == {}
    await unchanged(client, case)


async def test_no_support_needed_closes_the_case_and_it_can_be_reopened(
    client: httpx.AsyncClient, gateway: FakeGateway
) -> None:
    """FR-54: `no` closes the case as not needed, with the reason; it can be reopened."""
    case = await case_at(client, "decide-support", patient=gateway.young_person())
    response = await operate(client, case, "decide-support", params(supportNeeded=False, agreedBy=[PATIENT, WORKER]))
    assert_outcome(response, 422, "required", where("reason"))
    closed = await step(
        client,
        case,
        "decide-support",
        params(supportNeeded=False, agreedBy=[PATIENT, WORKER], reason="Doing well; discharge to GP care planned"),
    )
    assert (phase_of(closed), closed["status"]) == ("not-needed", "completed")
    assert closed["statusReason"]["coding"][0]["code"] == "no-transition-support-needed"
    assert gateway.referrals == {}
    response = await operate(client, closed, "record-meeting", MEETING)
    assert_outcome(response, 409, "conflict", "Task.businessStatus")
    assert_outcome(await operate(client, closed, "reopen", params()), 422, "required", where("reason"))
    reopened = await step(client, closed, "reopen", params(reason="Mood has worsened since the decision"))
    assert (phase_of(reopened), reopened["status"]) == ("support-decision", "in-progress")
    assert "statusReason" not in reopened
    reopened = await step(client, reopened, "decide-support", SUPPORT_YES)
    assert phase_of(reopened) == "transition-planning"
    assert len(gateway.referrals) == 1


async def test_a_case_is_not_reopened_while_another_is_open(client: httpx.AsyncClient, gateway: FakeGateway) -> None:
    case = await case_at(client, "decide-support", patient=gateway.young_person())
    closed = await step(
        client, case, "decide-support", params(supportNeeded=False, agreedBy=[PATIENT, WORKER], reason="Not now")
    )
    await open_case(client)
    response = await operate(client, closed, "reopen", params(reason="Changed mind"))
    assert_outcome(response, 409, "duplicate", where("patient"))
    await unchanged(client, closed)


# ---------------------------------------------------------------- FR-55


async def test_a_meeting_without_the_referring_worker_invited_is_refused(
    client: httpx.AsyncClient, gateway: FakeGateway
) -> None:
    """FR-55: a meeting without the referring worker invited returns 422 (attending does not count)."""
    case = await case_at(client, "record-meeting", patient=gateway.young_person())
    body = params(
        date="2026-01-05T08:00:00Z",
        invitee=[TRANSITIONS_WORKER, PATIENT],
        attendee=[WORKER, PATIENT],
        destination=[destination("adult-core-cmht", CORE_TEAM)],
    )
    response = await operate(client, case, "record-meeting", body)
    assert_outcome(response, 422, "business-rule", where("invitee"))
    await unchanged(client, case)
    assert (await client.get("/fhir/CarePlan")).json()["total"] == 0


async def test_the_meeting_records_invitees_and_attendees_apart(
    client: httpx.AsyncClient, gateway: FakeGateway
) -> None:
    case = await case_at(client, "record-meeting", patient=gateway.young_person())
    body = params(
        date="2026-01-05T08:00:00Z",
        invitee=[WORKER, TRANSITIONS_WORKER, PATIENT, {"display": "Barnet Virtual School (education)"}],
        attendee=[TRANSITIONS_WORKER, PATIENT, {"display": "Barnet Virtual School (education)"}],
        destination=[destination("adult-core-cmht", CORE_TEAM)],
    )
    case = await step(client, case, "record-meeting", body)
    phase3 = (
        await client.get(
            "/fhir/Task", params={"part-of": f"Task/{case['id']}", "business-status": "transition-planning"}
        )
    ).json()["entry"][0]["resource"]
    (meeting,) = [e for e in phase3["extension"] if e["url"].endswith("/transition-meeting")]
    parts = [(p["url"], p.get("valueReference") or p.get("valueDateTime")) for p in meeting["extension"]]
    invited = [v for k, v in parts if k == "invitee"]
    attended = [v for k, v in parts if k == "attendee"]
    assert {"reference": WORKER} in invited
    assert {"reference": WORKER} not in attended
    assert {"display": "Barnet Virtual School (education)"} in attended
    plan = await read(client, case["focus"]["reference"])
    assert plan["status"] == "draft"
    assert plan["category"][0]["coding"][0]["code"] == "transition-plan"
    assert {"reference": PATIENT} in plan["contributor"]


async def test_the_first_meeting_develops_a_plan_with_a_destination(
    client: httpx.AsyncClient, gateway: FakeGateway
) -> None:
    case = await case_at(client, "record-meeting", patient=gateway.young_person())
    body = params(date="2026-01-05T08:00:00Z", invitee=[WORKER, PATIENT])
    assert_outcome(await operate(client, case, "record-meeting", body), 422, "required", where("destination"))
    await unchanged(client, case)


# ---------------------------------------------------------------- FR-61


async def test_the_transitions_clinical_service_needs_its_reason(
    client: httpx.AsyncClient, gateway: FakeGateway
) -> None:
    """FR-61: a plan with destination 'Transitions clinical service' and no reason returns 422."""
    case = await case_at(client, "record-meeting", patient=gateway.young_person())
    body = params(
        date="2026-01-05T08:00:00Z",
        invitee=[WORKER, PATIENT],
        destination=[destination("transitions-clinical-service", TRANSITIONS_TEAM)],
    )
    response = await operate(client, case, "record-meeting", body)
    assert_outcome(
        response, 422, "required", "Parameters.parameter.where(name='destination').part.where(name='reason')"
    )
    await unchanged(client, case)
    body["parameter"][-1]["part"].append({"name": "reason", "valueCode": "lost-confidence-with-traditional-support"})
    case = await step(client, case, "record-meeting", body)
    plan = await read(client, case["focus"]["reference"])
    detail = plan["activity"][0]["detail"]
    assert detail["reasonCode"][0]["coding"][0]["code"] == "lost-confidence-with-traditional-support"


async def test_destinations_must_be_services_of_their_kind(client: httpx.AsyncClient, gateway: FakeGateway) -> None:
    case = await case_at(client, "record-meeting", patient=gateway.young_person())
    part = "Parameters.parameter.where(name='destination').part.where(name='{}')"
    for bad, status, code, element in (
        (destination("adult-core-cmht", "HealthcareService/barnet-gp"), 422, "business-rule", "service"),
        (destination("intensive-team", CORE_TEAM), 422, "business-rule", "service"),
        (destination("adult-core-cmht", "HealthcareService/nowhere"), 422, "business-rule", "service"),
        (destination("back-to-the-gp", CORE_TEAM), 422, "code-invalid", "kind"),
        (destination("adult-core-cmht"), 422, "required", "service"),
    ):
        body = params(date="2026-01-05T08:00:00Z", invitee=[WORKER, PATIENT], destination=[bad])
        assert_outcome(await operate(client, case, "record-meeting", body), status, code, part.format(element))
    await unchanged(client, case)


# ---------------------------------------------------------------- FR-56


async def test_agreement_before_sharing_is_refused(client: httpx.AsyncClient, gateway: FakeGateway) -> None:
    """FR-56: agreement before sharing returns 422."""
    case = await case_at(client, "share-plan", patient=gateway.young_person())
    assert_outcome(await operate(client, case, "record-agreement", AGREE), 422, "business-rule", SHARED)
    await unchanged(client, case)


async def test_sharing_needs_a_plan(client: httpx.AsyncClient, gateway: FakeGateway) -> None:
    case = await case_at(client, "record-meeting", patient=gateway.young_person())
    assert_outcome(await operate(client, case, "share-plan", SHARE), 409, "conflict", "Task.focus")


async def test_no_parent_or_clinician_decides_for_the_young_person(
    client: httpx.AsyncClient, gateway: FakeGateway
) -> None:
    """FR-56, P-8: the decision is recorded as the young person's own; there is no override."""
    case = await case_at(client, "record-agreement", patient=gateway.young_person())
    for who in ("RelatedPerson/mum", WORKER, TRANSITIONS_WORKER):
        response = await operate(client, case, "record-agreement", params(decision="agreed", decidedBy=who))
        assert_outcome(response, 422, "business-rule", where("decidedBy"))
    await unchanged(client, case)
    plan = await read(client, case["focus"]["reference"])
    assert plan["status"] == "draft"


async def test_a_disagreement_keeps_the_plan_draft_and_revisable(
    client: httpx.AsyncClient, gateway: FakeGateway
) -> None:
    """FR-56: a disagreement leaves the status draft; the meeting revises it and it is shared again."""
    case = await case_at(client, "record-agreement", patient=gateway.young_person())
    case = await step(client, case, "record-agreement", params(decision="disagreed", decidedBy=PATIENT))
    assert phase_of(case) == "transition-planning"
    plan = await read(client, case["focus"]["reference"])
    assert plan["status"] == "draft"
    # Activation without agreement is refused: the plan cannot be actioned or given an action date.
    for name, body in (
        ("action-plan", params(cypSummary="Summary")),
        ("set-action-date", params(date="2027-01-01", agreedBy=PATIENT, rationale="r")),
    ):
        assert_outcome(await operate(client, case, name, body), 409, "conflict", "Task.businessStatus")
    revised = params(
        date="2026-01-05T08:45:00Z",
        invitee=[WORKER, PATIENT],
        attendee=[PATIENT],
        destination=[destination("young-adult-service", "HealthcareService/barnet-core-south")],
    )
    case = await step(client, case, "record-meeting", revised)
    plan = await read(client, case["focus"]["reference"])
    assert plan["activity"][0]["detail"]["performer"][0]["reference"] == "HealthcareService/barnet-core-south"
    assert not [e for e in plan["extension"] if "shared" in e["url"] or "agreement" in e["url"]]
    assert_outcome(await operate(client, case, "record-agreement", AGREE), 422, "business-rule", SHARED)
    case = await step(client, case, "share-plan", SHARE)
    case = await step(client, case, "record-agreement", AGREE)
    assert phase_of(case) == "plan-actioning"
    assert (await read(client, case["focus"]["reference"]))["status"] == "active"


async def test_agreement_formalises_the_plan_and_sets_the_18th_birthday(
    client: httpx.AsyncClient, gateway: FakeGateway
) -> None:
    case = await case_at(client, "record-agreement", patient=gateway.young_person(birth_date="2008-10-01"))
    case = await step(client, case, "record-agreement", AGREE)
    plan = await read(client, case["focus"]["reference"])
    assert plan["status"] == "active"
    assert plan["period"] == {"start": "2026-10-01"}
    (agreement,) = [e for e in plan["extension"] if e["url"].endswith("young-person-agreement")]
    assert {"url": "decidedBy", "valueReference": {"reference": PATIENT}} in agreement["extension"]
    assert phase_of(case) == "plan-actioning"
    assert outputs(case, "plan-formalised")


async def test_a_plan_cannot_be_changed_directly(client: httpx.AsyncClient, gateway: FakeGateway) -> None:
    case = await case_at(client, "record-agreement", patient=gateway.young_person())
    plan = await read(client, case["focus"]["reference"])
    plan["status"] = "active"
    response = await client.put(f"/fhir/CarePlan/{plan['id']}", json=plan)
    assert_outcome(response, 405, "not-supported")
    assert (await read(client, f"CarePlan/{plan['id']}"))["status"] == "draft"
