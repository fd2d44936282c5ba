"""Deciding on referrals: accept with support, decline that goes somewhere, redirect, close."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx

from services.kit.testing import assert_outcome
from services.referrals.domain.codes import EXT_CHANGED_BY, EXT_RECEIVED_AT, EXT_WAITING_WELL_VERSION
from tests.referrals.builders import (
    ACCEPT_WITH_SUPPORT,
    CORE_WORKER,
    FHIR,
    create_referral,
    open_episode,
    operate,
    params,
    referral,
    referral_with_episode,
    task_for,
)
from tests.referrals.events import send, upsert_patient

RECEIVING = "PractitionerRole/barnet-psychosis-worker"


def business_status(task: dict[str, Any]) -> str:
    code: str = task["businessStatus"]["coding"][0]["code"]
    return code


def decline(**overrides: object) -> dict[str, Any]:
    values: dict[str, object] = {
        "reason": "needs-better-met-elsewhere",
        "rationale": "Assessment shows needs met best by the mood and anxiety team",
        "assessment": "QuestionnaireResponse/assessment-1",
        "nextStep": "redirect",
        "destination": "HealthcareService/barnet-mood-anxiety",
        "actor": RECEIVING,
    }
    values.update(overrides)
    return params(**values)


# ------------------------------------------------------------------ FR-2, FR-6, FR-7: declines


async def test_declining_with_gp_referral_requested_is_refused(client: httpx.AsyncClient) -> None:
    """FR-2: no outcome can send an internal referral back to the GP."""
    _, task = await referral_with_episode(client)
    response = await operate(client, task, "decline", decline(reason="gp-referral-requested"))
    assert_outcome(response, 422, "business-rule", "reason")
    assert business_status(await task_for(client, task["focus"]["reference"].split("/")[1])) == "received"


async def test_redirecting_to_a_gp_is_refused(client: httpx.AsyncClient) -> None:
    """FR-2: reassignment to a GP organisation is refused."""
    _, task = await referral_with_episode(client)
    response = await operate(client, task, "redirect", params(destination="HealthcareService/barnet-gp"))
    assert_outcome(response, 422, None, "destination")
    response = await operate(client, task, "decline", decline(destination="HealthcareService/barnet-gp"))
    assert_outcome(response, 422, None, "destination")


async def test_declining_for_substance_misuse_is_refused(client: httpx.AsyncClient) -> None:
    """FR-6: rigid criteria are not reasons to decline."""
    _, task = await referral_with_episode(client)
    for reason in (
        "substance-misuse",
        "not-abstinent",
        "diagnosis-alone",
        "not-registered-with-gp",
        "no-fixed-abode",
        "age-alone",
        "complete-other-service-first",
        "not-on-cpa",
    ):
        assert_outcome(await operate(client, task, "decline", decline(reason=reason)), 422, None, "reason")


async def test_a_decline_without_an_assessment_is_refused(client: httpx.AsyncClient) -> None:
    """FR-6."""
    _, task = await referral_with_episode(client)
    response = await operate(client, task, "decline", decline(assessment=None))
    assert_outcome(response, 422, "required", "assessment")


async def test_a_decline_without_a_next_step_is_refused(client: httpx.AsyncClient) -> None:
    """FR-6, FR-11: a declined referral goes somewhere, never nowhere."""
    _, task = await referral_with_episode(client)
    response = await operate(client, task, "decline", decline(nextStep=None, destination=None))
    assert_outcome(response, 422, "required", "nextStep")


async def test_a_decline_with_redirect_creates_the_onward_referral(client: httpx.AsyncClient) -> None:
    created, task = await referral_with_episode(client)
    response = await operate(client, task, "decline", decline())
    assert response.status_code == 200, response.text
    assert business_status(response.json()) == "redirected"
    assert response.json()["statusReason"]["coding"][0]["code"] == "needs-better-met-elsewhere"
    onward = (await client.get("/fhir/ServiceRequest", params={"performer": "barnet-mood-anxiety"})).json()
    assert onward["total"] == 1
    assert onward["entry"][0]["resource"]["replaces"][0]["reference"] == f"ServiceRequest/{created['id']}"


async def test_a_decline_with_escalation_creates_an_escalation_task(client: httpx.AsyncClient) -> None:
    _, task = await referral_with_episode(client)
    response = await operate(client, task, "decline", decline(nextStep="escalate", destination=None))
    assert response.status_code == 200, response.text
    assert business_status(response.json()) == "declined"
    escalations = (await client.get("/fhir/Task", params={"code": "acceptance-decision-escalation"})).json()
    assert escalations["total"] == 1
    assert escalations["entry"][0]["resource"]["focus"]["reference"] == f"Task/{task['id']}"


async def test_advice_only_records_the_advice_given(client: httpx.AsyncClient) -> None:
    """FR-7."""
    _, task = await referral_with_episode(client)
    bare = decline(reason="advice-only-not-primarily-mental-illness", nextStep=None, destination=None)
    assert_outcome(await operate(client, task, "decline", bare), 422, "required", "advice")
    with_advice = decline(
        reason="advice-only-not-primarily-mental-illness",
        nextStep=None,
        destination=None,
        advice="Behaviour support plan advice sent to the referrer",
    )
    response = await operate(client, task, "decline", with_advice)
    assert business_status(response.json()) == "advice-only"


async def test_signposting_to_housing_needs_a_destination(client: httpx.AsyncClient) -> None:
    """FR-7."""
    _, task = await referral_with_episode(client)
    bare = decline(reason="signpost-housing-benefits", nextStep=None, destination=None)
    assert_outcome(await operate(client, task, "decline", bare), 422, "required", "destination")
    good = decline(
        reason="signpost-housing-benefits",
        nextStep=None,
        destination="HealthcareService/barnet-housing-advice",
    )
    assert business_status((await operate(client, task, "decline", good)).json()) == "signposted"


async def test_a_brain_injury_decline_for_someone_with_prior_psychosis_is_refused(
    client: httpx.AsyncClient,
) -> None:
    """FR-7: the partnership keeps serving people whose mental illness preceded the injury."""
    await upsert_patient(client, "p-1", mental_illness_onset="2015-06-01")
    _, task = await referral_with_episode(client)
    body = decline(reason="not-commissioned-brain-injury", injuryDate="2024-02-01")
    assert_outcome(await operate(client, task, "decline", body), 422, "business-rule", "reason")


# ------------------------------------------------------------------ FR-10, FR-15, FR-16: accepting


async def test_accepting_without_support_or_an_assessment_is_refused(client: httpx.AsyncClient) -> None:
    """FR-10: nobody waits without support unless a clinician assessed that as appropriate."""
    _, task = await referral_with_episode(client)
    response = await operate(client, task, "accept", params(actor=RECEIVING))
    assert_outcome(response, 422, "required", "waitingSupport")


async def test_accepting_with_a_no_support_assessment_is_allowed(client: httpx.AsyncClient) -> None:
    _, task = await referral_with_episode(client)
    partial = params(noSupportRationale="Stable, well supported by family")
    assert_outcome(await operate(client, task, "accept", partial), 422, "required", "noSupportAssessor")
    full = params(
        noSupportAssessor=RECEIVING,
        noSupportRationale="Stable, well supported by family",
        noSupportAssessedAt="2026-01-05T09:00:00Z",
    )
    response = await operate(client, task, "accept", full)
    assert response.status_code == 200
    outputs = {o["type"]["coding"][0]["code"]: o for o in response.json()["output"]}
    assert outputs["waiting-support"]["valueCodeableConcept"]["coding"][0]["code"] == "assessed-no-support-needed"


async def test_accepting_tells_the_person_their_wait_exactly_once(client: httpx.AsyncClient) -> None:
    """FR-15, FR-16: one Communication with the expected wait, waiting-well version and crisis contacts."""
    created, task = await referral_with_episode(client)
    assert (await operate(client, task, "accept", ACCEPT_WITH_SUPPORT)).status_code == 200
    found = (await client.get("/fhir/Communication", params={"based-on": f"ServiceRequest/{created['id']}"})).json()
    assert found["total"] == 1
    letter = found["entry"][0]["resource"]
    text = " ".join(p["contentString"] for p in letter["payload"])
    assert "expected wait is about 35 days" in text  # the team's configured estimate (no history yet)
    assert "crisis" in text.lower()
    assert "Weekly check-in calls" in text
    versions = [e["valueString"] for e in letter["extension"] if e["url"] == EXT_WAITING_WELL_VERSION]
    assert versions == ["2026-02"]
    assert letter["recipient"] == [{"reference": "Patient/p-1"}]


def carer_sharing(carer: str, permitted: bool, time: str, patient: str = "Patient/p-1") -> dict[str, Any]:
    """A carer-sharing-changed event as the gateway sends it when the person's Consent changes."""
    return {
        "id": str(uuid.uuid4()),
        "type": "carer-sharing-changed",
        "source": "gateway",
        "time": time,
        "subject": patient,
        "carer": carer,
        "permitted": permitted,
    }


async def waiting_letters(client: httpx.AsyncClient, referral_id: str) -> dict[str, dict[str, Any]]:
    found = (await client.get("/fhir/Communication", params={"based-on": f"ServiceRequest/{referral_id}"})).json()
    return {e["resource"]["recipient"][0]["reference"]: e["resource"] for e in found.get("entry", [])}


async def test_a_carer_the_person_permits_gets_a_copy_of_the_waiting_letter(client: httpx.AsyncClient) -> None:
    """FR-15: the Communication goes to the person, and to each carer while sharing with them is permitted."""
    await send(client, carer_sharing("RelatedPerson/mum", True, "2026-01-05T08:00:00Z"))
    await send(client, carer_sharing("RelatedPerson/neighbour", False, "2026-01-05T08:00:00Z"))
    created, task = await referral_with_episode(client)
    assert (await operate(client, task, "accept", ACCEPT_WITH_SUPPORT)).status_code == 200
    letters = await waiting_letters(client, created["id"])
    assert set(letters) == {"Patient/p-1", "RelatedPerson/mum"}
    person, carer = letters["Patient/p-1"], letters["RelatedPerson/mum"]
    assert carer["payload"][1:] == person["payload"]
    assert "copy for the person's carer" in carer["payload"][0]["contentString"]
    assert carer["subject"] == person["subject"] == {"reference": "Patient/p-1"}


async def test_a_revoked_or_older_decision_sends_no_copy(client: httpx.AsyncClient) -> None:
    """A revoke stops the copies; a decision delivered late never overrides a newer one."""
    await send(client, carer_sharing("RelatedPerson/mum", False, "2026-01-05T08:30:00Z"))
    await send(client, carer_sharing("RelatedPerson/mum", True, "2026-01-05T08:00:00Z"))  # older, arrives later
    created, task = await referral_with_episode(client)
    assert (await operate(client, task, "accept", ACCEPT_WITH_SUPPORT)).status_code == 200
    assert set(await waiting_letters(client, created["id"])) == {"Patient/p-1"}


async def test_a_carer_sharing_event_that_names_no_carer_is_refused(client: httpx.AsyncClient) -> None:
    bad = {**carer_sharing("RelatedPerson/mum", True, "2026-01-05T08:00:00Z"), "carer": "Practitioner/x"}
    assert_outcome(await client.post("/internal/events", json=bad), 400, "invalid", "carer")
    no_time = {**carer_sharing("RelatedPerson/mum", True, "2026-01-05T08:00:00Z"), "time": "soon"}
    assert_outcome(await client.post("/internal/events", json=no_time), 400, "invalid", "time")


async def test_accepting_opens_a_waiting_episode_and_keeps_the_core_episode(
    client: httpx.AsyncClient,
) -> None:
    """FR-8: concurrent episodes; accepting never closes another team's episode."""
    _, task = await referral_with_episode(client)
    await operate(client, task, "accept", ACCEPT_WITH_SUPPORT)
    episodes = (await client.get("/fhir/EpisodeOfCare", params={"patient": "Patient/p-1"})).json()
    statuses = sorted(e["resource"]["status"] for e in episodes["entry"])
    assert statuses == ["active", "waitlist"]


async def test_two_accepted_panel_referrals_get_consecutive_monthly_slots(client: httpx.AsyncClient) -> None:
    """FR-23: the panel meets monthly and considers one case per meeting."""
    slots = []
    for patient in ("Patient/p-1", "Patient/p-2"):
        await open_episode(client, patient=patient)
        created = await create_referral(
            client, referral(performer="HealthcareService/ncl-complex-case-panel", subject=patient)
        )
        task = await task_for(client, created["id"])
        accepted = (await operate(client, task, "accept", ACCEPT_WITH_SUPPORT)).json()
        slots.append(accepted["restriction"]["period"]["start"])
    assert slots == ["2026-01-07", "2026-02-04"]  # first Wednesdays after Monday 5 January


# ------------------------------------------------------------------ FR-4: the lifecycle


async def test_an_accepted_referral_cannot_be_triaged_again(client: httpx.AsyncClient) -> None:
    """FR-4: illegal transitions are 409."""
    _, task = await referral_with_episode(client)
    accepted = (await operate(client, task, "accept", ACCEPT_WITH_SUPPORT)).json()
    response = await operate(client, accepted, "triage", params(eligibility="eligible"))
    assert_outcome(response, 409, "conflict", "Task.businessStatus")


async def test_every_state_change_is_in_history_with_actor_and_time(client: httpx.AsyncClient) -> None:
    """FR-4."""
    _, task = await referral_with_episode(client)
    triaged = (
        await operate(client, task, "triage", params(eligibility="eligible", complexity="high", actor=RECEIVING))
    ).json()
    await operate(client, triaged, "accept", ACCEPT_WITH_SUPPORT)
    history = (await client.get(f"/fhir/Task/{task['id']}/_history")).json()
    versions = [e["resource"] for e in history["entry"]]
    assert [business_status(v) for v in versions] == ["accepted-waiting", "triage", "received"]
    for version in versions:
        actor = next(e for e in version["extension"] if e["url"] == EXT_CHANGED_BY)
        assert actor["valueReference"]["reference"]
        assert version["lastModified"]
    assert versions[1]["extension"][0]["valueReference"]["reference"] == RECEIVING


async def test_triage_with_an_unknown_code_is_refused(client: httpx.AsyncClient) -> None:
    """FR-20: one shared code set."""
    _, task = await referral_with_episode(client)
    assert_outcome(await operate(client, task, "triage", params(eligibility="maybe")), 422, "code-invalid")
    assert_outcome(
        await operate(client, task, "triage", params(eligibility="eligible", complexity="huge")),
        422,
        "code-invalid",
    )


# ------------------------------------------------------------------ FR-11: redirect keeps the clock


async def test_a_redirect_keeps_the_original_clock_start(client: httpx.AsyncClient, clock: object) -> None:
    """FR-11."""
    created, task = await referral_with_episode(client)
    clock.advance(days=3)  # type: ignore[attr-defined]
    response = await operate(
        client, task, "redirect", params(destination="HealthcareService/barnet-mood-anxiety", actor=RECEIVING)
    )
    assert business_status(response.json()) == "redirected"
    onward = (await client.get("/fhir/ServiceRequest", params={"performer": "barnet-mood-anxiety"})).json()
    new = onward["entry"][0]["resource"]
    start = next(e for e in new["extension"] if e["url"] == EXT_RECEIVED_AT)["valueDateTime"]
    assert start == "2026-01-05T09:00:00.000Z"
    wait = (await client.get(f"/fhir/ServiceRequest/{new['id']}/$waiting-time")).json()
    values = {p["name"]: p for p in wait["parameter"]}
    assert values["clockStart"]["valueDateTime"] == "2026-01-05T09:00:00.000Z"
    original = (await client.get(f"/fhir/ServiceRequest/{created['id']}")).json()
    assert original["status"] == "completed"


# ------------------------------------------------------------------ FR-9: keep supporting while waiting


async def test_the_core_episode_cannot_close_while_its_intensive_referral_is_pending(
    client: httpx.AsyncClient,
) -> None:
    """FR-9."""
    core = await open_episode(client)
    await create_referral(client, referral())
    close = await client.post(
        f"/fhir/EpisodeOfCare/{core['id']}/$close",
        json=params(reason="treatment-complete"),
        headers={**FHIR, "If-Match": 'W/"1"'},
    )
    assert_outcome(close, 409, "conflict", "EpisodeOfCare.status")
    override = params(
        reason="treatment-complete",
        overrideRationale="Person moving abroad next week",
        overrideClinician="PractitionerRole/barnet-core-north-lead",
    )
    closed = await client.post(
        f"/fhir/EpisodeOfCare/{core['id']}/$close", json=override, headers={**FHIR, "If-Match": 'W/"1"'}
    )
    assert closed.status_code == 200, closed.text
    assert closed.json()["status"] == "finished"
    report = (await client.get("/fhir/EpisodeOfCare", params={"override": "true"})).json()
    assert [e["resource"]["id"] for e in report["entry"]] == [core["id"]]


async def test_a_plain_update_cannot_move_a_referral(client: httpx.AsyncClient) -> None:
    created, task = await referral_with_episode(client)
    response = await client.put(f"/fhir/Task/{task['id']}", json=task, headers=FHIR)
    assert_outcome(response, 405, "not-supported")
    response = await client.put(f"/fhir/ServiceRequest/{created['id']}", json=created, headers=FHIR)
    assert_outcome(response, 405, "not-supported")


# ------------------------------------------------------------------ FR-29: SMI non-engagement safeguard


async def test_closing_for_non_engagement_with_smi_needs_follow_up(client: httpx.AsyncClient) -> None:
    """FR-29."""
    await upsert_patient(client, "p-1", flags=("smi",))
    _, task = await referral_with_episode(client)
    accepted = (await operate(client, task, "accept", ACCEPT_WITH_SUPPORT)).json()
    bare = params(reason="did-not-engage")
    assert_outcome(await operate(client, accepted, "complete", bare), 422, "required", "followUpAttempt")
    full = params(
        reason="did-not-engage",
        followUpAttempt="Home visit 2026-01-04, letter 2026-01-05",
        clinicianDecision="PractitionerRole/barnet-psychosis-lead",
    )
    response = await operate(client, accepted, "complete", full)
    assert response.status_code == 200
    assert business_status(response.json()) == "closed"


async def test_cancelling_a_referral_withdraws_it(client: httpx.AsyncClient) -> None:
    created, task = await referral_with_episode(client)
    response = await operate(client, task, "cancel", params(note="Person moved out of area", actor=CORE_WORKER))
    assert response.json()["status"] == "cancelled"
    assert (await client.get(f"/fhir/ServiceRequest/{created['id']}")).json()["status"] == "revoked"


# ------------------------------------------------------------------ FR-27: carers' concerns


async def test_a_carer_concern_goes_to_the_responsible_team(client: httpx.AsyncClient) -> None:
    """FR-27."""
    await open_episode(client)
    body = params(
        patient="Patient/p-1",
        reporter="RelatedPerson/carer-1",
        description="Not sleeping, stopped eating: early warning signs",
    )
    response = await client.post("/fhir/Task/$raise-concern", json=body, headers=FHIR)
    assert response.status_code == 201, response.text
    concern = response.json()
    assert concern["owner"]["reference"] == "HealthcareService/barnet-core-north"
    acknowledged = await operate(client, concern, "acknowledge", params(actor=CORE_WORKER))
    assert acknowledged.json()["status"] == "received"


async def test_a_carer_concern_with_no_responsible_team_goes_to_the_spa(client: httpx.AsyncClient) -> None:
    await upsert_patient(client, "p-9", borough="enfield")
    body = params(patient="Patient/p-9", reporter="RelatedPerson/carer-2", description="Worried")
    concern = (await client.post("/fhir/Task/$raise-concern", json=body, headers=FHIR)).json()
    assert concern["owner"]["reference"] == "HealthcareService/enfield-spa"


async def test_a_cancellation_note_is_kept_on_the_task(client: httpx.AsyncClient) -> None:
    _, task = await referral_with_episode(client)
    response = await operate(client, task, "cancel", params(note="Person moved out of area", actor=CORE_WORKER))
    assert response.json()["note"][0]["text"] == "Person moved out of area"


async def test_a_panel_returns_its_recommendations_to_the_referring_team(client: httpx.AsyncClient, app: Any) -> None:
    """FR-23: the outcome is a recommendations document returned to the referring team."""
    from sqlalchemy import select

    from services.referrals.persistence.tables import outbox

    await open_episode(client)
    created = await create_referral(client, referral(performer="HealthcareService/ncl-complex-case-panel"))
    task = await task_for(client, created["id"])
    accepted = (await operate(client, task, "accept", ACCEPT_WITH_SUPPORT)).json()
    bare = params(reason="treatment-complete")
    assert_outcome(await operate(client, accepted, "complete", bare), 422, "required", "recommendations")
    done = params(reason="treatment-complete", recommendations="DocumentReference/panel-advice-1")
    assert (await operate(client, accepted, "complete", done)).status_code == 200
    async with app.state.database.session(writing=False) as session:
        rows = (
            await session.execute(select(outbox.c.payload).where(outbox.c.event_type == "referral-closed"))
        ).scalars()
        events = [json.loads(r) for r in rows]
    assert events[0]["requester"] == CORE_WORKER
    assert events[0]["outputs"][0]["valueReference"]["reference"] == "DocumentReference/panel-advice-1"


async def test_a_redirect_tells_the_original_referrer(client: httpx.AsyncClient, app: Any) -> None:
    """FR-11: the original referrer is notified (an event addressed to them)."""
    from sqlalchemy import select

    from services.referrals.persistence.tables import outbox

    _, task = await referral_with_episode(client)
    await operate(client, task, "redirect", params(destination="HealthcareService/barnet-eip"))
    async with app.state.database.session(writing=False) as session:
        rows = (
            await session.execute(select(outbox.c.payload).where(outbox.c.event_type == "referral-redirected"))
        ).scalars()
        events = [json.loads(r) for r in rows]
    assert [e["requester"] for e in events] == [CORE_WORKER]


async def test_each_service_publishes_its_waiting_well_information(client: httpx.AsyncClient) -> None:
    """FR-16: one standard template, versioned; the letter records the version it sent."""
    response = await client.get("/fhir/Communication/$waiting-well", params={"service": "barnet-eip"})
    values = {p["name"]: p for p in response.json()["parameter"]}
    assert values["version"]["valueString"] == "2026-02"
    assert "While you wait" in values["text"]["valueString"]
    assert values["expectedWaitDays"]["valueInteger"] == 12
    assert_outcome(await client.get("/fhir/Communication/$waiting-well"), 422, "required", "service")
    assert_outcome(
        await client.get("/fhir/Communication/$waiting-well", params={"service": "nowhere"}),
        422,
        None,
        "service",
    )


async def test_a_redirect_does_not_let_the_core_team_stop_supporting(client: httpx.AsyncClient) -> None:
    """FR-9 holds through a redirect: the onward referral is still the core team's referral."""
    core = await open_episode(client)
    created = await create_referral(client, referral(performer="HealthcareService/barnet-mood-anxiety"))
    task = await task_for(client, created["id"])
    await operate(client, task, "redirect", params(destination="HealthcareService/barnet-personality"))
    close = await client.post(
        f"/fhir/EpisodeOfCare/{core['id']}/$close",
        json=params(reason="treatment-complete"),
        headers={**FHIR, "If-Match": 'W/"1"'},
    )
    assert_outcome(close, 409, "conflict", "EpisodeOfCare.status")
    onward = (await client.get("/fhir/ServiceRequest", params={"performer": "barnet-personality"})).json()
    direction = next(e for e in onward["entry"][0]["resource"]["extension"] if e["url"].endswith("referral-direction"))
    assert direction["valueCode"] == "step-up"


async def test_cancelling_a_waiting_referral_ends_its_waiting_episode(client: httpx.AsyncClient) -> None:
    created, task = await referral_with_episode(client)
    accepted = (await operate(client, task, "accept", ACCEPT_WITH_SUPPORT)).json()
    await operate(client, accepted, "cancel", params(note="Moved away"))
    episodes = (await client.get("/fhir/EpisodeOfCare", params={"incoming-referral": created["id"]})).json()
    assert [e["resource"]["status"] for e in episodes["entry"]] == ["cancelled"]


async def test_a_referral_found_not_eligible_is_not_accepted(client: httpx.AsyncClient) -> None:
    _, task = await referral_with_episode(client)
    triaged = (
        await operate(
            client, task, "triage", params(eligibility="not-eligible", reason="assessed-needs-not-in-service-scope")
        )
    ).json()
    assert_outcome(await operate(client, triaged, "accept", ACCEPT_WITH_SUPPORT), 409, "conflict", "Task.output")


async def test_the_letter_names_who_supports_the_person(client: httpx.AsyncClient) -> None:
    created, task = await referral_with_episode(client)
    await operate(client, task, "accept", ACCEPT_WITH_SUPPORT)
    letter = (await client.get("/fhir/Communication", params={"based-on": f"ServiceRequest/{created['id']}"})).json()
    text = " ".join(p["contentString"] for p in letter["entry"][0]["resource"]["payload"])
    assert "Patel (Barnet Core Community Mental Health Team North)" in text
    assert "PractitionerRole/" not in text


async def test_a_decline_that_redirects_is_still_reported_as_a_decline(client: httpx.AsyncClient, app: Any) -> None:
    from sqlalchemy import select

    from services.referrals.persistence.tables import outbox

    _, task = await referral_with_episode(client)
    await operate(client, task, "decline", decline())
    async with app.state.database.session(writing=False) as session:
        kinds = list((await session.execute(select(outbox.c.event_type))).scalars())
    assert kinds.count("referral-declined") == 1
    assert kinds.count("referral-redirected") == 1
