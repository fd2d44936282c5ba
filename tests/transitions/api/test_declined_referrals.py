"""Referral events from the gateway: a declined adult referral escalates, never closes (FR-62)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from services.kit.testing import assert_outcome
from tests.transitions.builders import (
    FEEDBACK,
    PATIENT,
    REVIEW,
    TRANSITIONS_TEAM,
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

DECLINED = "Task.output.where(type.coding.code='adult-referral-declined')"


def event(kind: str, focus: str, **extra: Any) -> dict[str, Any]:
    """A referral event as the gateway delivers it (the referrals service's outbox payload)."""
    return {
        "id": str(uuid.uuid4()),
        "type": kind,
        "source": "referrals",
        "time": "2026-01-05T09:00:00.000Z",
        "focus": focus,
        "subject": PATIENT,
        **extra,
    }


async def deliver(client: httpx.AsyncClient, body: dict[str, Any]) -> str:
    response = await client.post("/internal/events", json=body)
    assert response.status_code == 200, response.text
    diagnostics: str = response.json()["issue"][0]["diagnostics"]
    return diagnostics


def adult_referral(case: dict[str, Any]) -> str:
    (referral,) = outputs(case, "adult-referral")
    found: str = referral["reference"]
    return found


async def escalations(client: httpx.AsyncClient, case: dict[str, Any]) -> list[dict[str, Any]]:
    found = await client.get("/fhir/Task", params={"code": "transition-escalation", "part-of": f"Task/{case['id']}"})
    return [e["resource"] for e in found.json()["entry"]]


async def test_a_declined_adult_referral_creates_an_escalation_and_blocks_closing(
    client: httpx.AsyncClient, gateway: FakeGateway
) -> None:
    """FR-62: declining the adult referral creates an escalation task, and case closure returns 409."""
    case = await case_at(client, "close", patient=gateway.young_person())
    declined = adult_referral(case)
    assert await deliver(client, event("referral-declined", declined, reason="needs-better-met-elsewhere")) == "applied"
    (escalation,) = await escalations(client, case)
    assert escalation["owner"]["reference"] == TRANSITIONS_TEAM
    assert (escalation["status"], escalation["priority"]) == ("requested", "urgent")
    assert escalation["focus"] == {"reference": declined}
    case = await read(client, f"Task/{case['id']}")
    assert outputs(case, "adult-referral-declined") == [{"reference": declined}]
    assert_outcome(await operate(client, case, "close", params()), 409, "conflict", DECLINED)
    plan = await read(client, case["focus"]["reference"])
    assert plan["activity"][0]["detail"]["status"] == "stopped"


async def test_a_redelivered_event_changes_nothing(client: httpx.AsyncClient, gateway: FakeGateway) -> None:
    case = await case_at(client, "close", patient=gateway.young_person())
    declined = event("referral-declined", adult_referral(case))
    assert await deliver(client, declined) == "applied"
    version = (await read(client, f"Task/{case['id']}"))["meta"]["versionId"]
    assert await deliver(client, declined) == "already applied"
    assert await deliver(client, {**declined, "id": str(uuid.uuid4())}) == "applied"  # same decline, new event id
    assert len(await escalations(client, case)) == 1
    assert (await read(client, f"Task/{case['id']}"))["meta"]["versionId"] == version


async def test_the_young_persons_own_choice_resolves_the_escalation(
    client: httpx.AsyncClient, gateway: FakeGateway
) -> None:
    case = await case_at(client, "close", patient=gateway.young_person())
    await deliver(client, event("referral-declined", adult_referral(case)))
    case = await read(client, f"Task/{case['id']}")
    body = params(choice="Prefers the VCSE service only", decidedBy="RelatedPerson/mum")
    assert_outcome(
        await operate(client, case, "record-alternative", body),
        422,
        "business-rule",
        "Parameters.parameter.where(name='decidedBy')",
    )
    case = await step(
        client, case, "record-alternative", params(choice="Prefers the VCSE service only", decidedBy=PATIENT)
    )
    assert outputs(case, "young-person-choice") == ["Prefers the VCSE service only"]
    (escalation,) = await escalations(client, case)
    assert escalation["status"] == "completed"
    case = await step(client, case, "close", params())
    assert phase_of(case) == "closed"


async def test_an_alternative_destination_sends_a_new_referral(client: httpx.AsyncClient, gateway: FakeGateway) -> None:
    case = await case_at(client, "close", patient=gateway.young_person())
    await deliver(client, event("referral-declined", adult_referral(case)))
    case = await read(client, f"Task/{case['id']}")
    alternative = params(
        destination=[destination("transitions-clinical-service", TRANSITIONS_TEAM, "does-not-meet-adult-eligibility")]
    )
    case = await step(client, case, "record-alternative", alternative)
    (new_referral,) = outputs(case, "alternative-referral")
    sent = gateway.referrals[new_referral["reference"].removeprefix("ServiceRequest/")]
    assert sent["performer"][0]["reference"] == TRANSITIONS_TEAM
    assert "does not meet adult eligibility" in sent["reasonCode"][0]["text"]
    assert sent["supportingInfo"][0]["reference"] == case["focus"]["reference"]
    plan = await read(client, case["focus"]["reference"])
    assert [a["detail"]["status"] for a in plan["activity"]] == ["stopped", "scheduled"]
    assert (await step(client, case, "close", params()))["status"] == "completed"


async def test_an_alternative_needs_a_decline_and_a_destination_or_choice(
    client: httpx.AsyncClient, gateway: FakeGateway
) -> None:
    case = await case_at(client, "close", patient=gateway.young_person())
    response = await operate(client, case, "record-alternative", params(choice="x", decidedBy=PATIENT))
    assert_outcome(response, 409, "conflict", "Task.businessStatus")
    await deliver(client, event("referral-declined", adult_referral(case)))
    case = await read(client, f"Task/{case['id']}")
    response = await operate(client, case, "record-alternative", params())
    assert_outcome(response, 422, "required", "Parameters.parameter.where(name='destination')")


async def test_a_decline_after_closing_brings_the_case_back(client: httpx.AsyncClient, gateway: FakeGateway) -> None:
    """FR-62: escalation, not closure: the closed case returns to phase 5 until the decline is resolved."""
    case = await case_at(client, "end", patient=gateway.young_person())
    assert phase_of(case) == "closed"
    await deliver(client, event("referral-declined", adult_referral(case)))
    case = await read(client, f"Task/{case['id']}")
    assert (phase_of(case), case["status"]) == ("evaluation", "in-progress")
    assert len(await escalations(client, case)) == 1
    assert (await read(client, case["focus"]["reference"]))["status"] == "active"
    phase5 = (
        await client.get("/fhir/Task", params={"part-of": f"Task/{case['id']}", "business-status": "evaluation"})
    ).json()["entry"][0]["resource"]
    assert phase5["status"] == "in-progress"
    case = await step(
        client, case, "record-alternative", params(choice="Chooses college counselling for now", decidedBy=PATIENT)
    )
    case = await step(client, case, "close", params())
    assert (phase_of(case), case["status"]) == ("closed", "completed")


async def test_an_accepted_referral_moves_its_plan_activity(client: httpx.AsyncClient, gateway: FakeGateway) -> None:
    case = await case_at(client, "close", patient=gateway.young_person())
    version = case["meta"]["versionId"]
    assert await deliver(client, event("referral-accepted", adult_referral(case))) == "applied"
    plan = await read(client, case["focus"]["reference"])
    assert plan["activity"][0]["detail"]["status"] == "in-progress"
    assert (await read(client, f"Task/{case['id']}"))["meta"]["versionId"] == version  # the case is untouched


async def test_a_redirected_referral_is_followed(client: httpx.AsyncClient, gateway: FakeGateway) -> None:
    case = await case_at(client, "close", patient=gateway.young_person())
    first = adult_referral(case)
    redirected = event("referral-redirected", first, redirectedTo="ServiceRequest/after-redirect")
    assert await deliver(client, redirected) == "applied"
    plan = await read(client, case["focus"]["reference"])
    assert plan["activity"][0]["outcomeReference"] == [
        {"reference": first},
        {"reference": "ServiceRequest/after-redirect"},
    ]
    await deliver(client, event("referral-declined", "ServiceRequest/after-redirect"))
    assert len(await escalations(client, case)) == 1


async def test_events_about_other_referrals_are_acknowledged_and_ignored(
    client: httpx.AsyncClient, gateway: FakeGateway
) -> None:
    assert await deliver(client, event("referral-declined", "ServiceRequest/not-ours")) == (
        "not a referral this service sent"
    )
    assert (await client.get("/fhir/Task")).json()["total"] == 0


async def test_a_declined_transitions_team_referral_is_left_to_the_referrals_service(
    client: httpx.AsyncClient, gateway: FakeGateway
) -> None:
    case = await case_at(client, "record-meeting", patient=gateway.young_person())
    (referral,) = outputs(case, "transitions-referral")
    assert await deliver(client, event("referral-declined", referral["reference"])) == "applied"
    assert await escalations(client, case) == []


async def test_bad_events_are_refused_by_name(client: httpx.AsyncClient) -> None:
    for body, element in (
        ({"type": "referral-declined", "focus": "ServiceRequest/x"}, "id"),
        ({"id": "e1", "type": "patient-upserted"}, "type"),
        ({"id": "e1", "type": "referral-declined", "focus": "Task/x"}, "focus"),
    ):
        assert_outcome(await client.post("/internal/events", json=body), 400, "invalid", element)
    assert_outcome(await client.post("/internal/events", content=b"{nope"), 400, "invalid")


async def test_feedback_and_review_still_count_after_an_escalation(
    client: httpx.AsyncClient, gateway: FakeGateway
) -> None:
    case = await case_at(client, "record-feedback", patient=gateway.young_person())
    await deliver(client, event("referral-declined", adult_referral(case)))
    case = await read(client, f"Task/{case['id']}")
    case = await step(client, case, "record-feedback", FEEDBACK)
    case = await step(client, case, "review", REVIEW)
    assert_outcome(await operate(client, case, "close", params()), 409, "conflict", DECLINED)
