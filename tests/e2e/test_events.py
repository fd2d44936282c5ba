"""Events across real processes: referral state changes reach the sending team's EPR (FR-73), and the
gateway's Patient events reach the referrals service.

The path of a referral event: the referrals outbox → its dispatcher → the gateway's
`/internal/events` (with the service's own token) → the matching Subscriptions → the gateway's
delivery loop → the EPR's rest-hook endpoint. Delivery is at least once; receivers deduplicate on
the event id.
"""

from __future__ import annotations

import time
from typing import Any

import httpx

from gateway.events import EXT_FILTER, TOPIC
from services.referrals.domain.codes import EXT_COMMUNICATION_NEEDS
from tests.e2e.conftest import FHIR, Stack, created, eventually, nhs_number, patient
from tests.e2e.receiver import EventReceiver, receiver
from tests.referrals.builders import ACCEPT_WITH_SUPPORT, episode, referral

CORE_TEAM = "HealthcareService/barnet-core-north"
PSYCHOSIS_WORKER = "PractitionerRole/barnet-psychosis-worker"
SETTLE_SECONDS = 0.6
"""How long to keep listening for a duplicate after an event arrived (three delivery rounds)."""


def subscribe(client: httpx.Client, topic: str, endpoint: str, filter_: str | None = None) -> dict[str, Any]:
    """Subscribe an endpoint to a topic, as an EPR does."""
    body: dict[str, Any] = {
        "resourceType": "Subscription",
        "status": "requested",
        "reason": "Tell the core team's EPR what happens to its referrals",
        "criteria": f"{TOPIC}/{topic}",
        "channel": {"type": "rest-hook", "endpoint": endpoint, "payload": "application/json"},
    }
    if filter_:
        body["extension"] = [{"url": EXT_FILTER, "valueString": filter_}]
    subscription = created(client.post("/fhir/Subscription", json=body, headers=FHIR))
    assert subscription["status"] == "active"
    return subscription


def referral_accepted_by_psychosis_team(stack: Stack) -> str:
    """Register a person, refer them from the core team, have the psychosis team accept; the referral id."""
    with stack.client(stack.token("epr-beh")) as epr:
        person = created(epr.post("/fhir/Patient", json=patient(nhs_number()), headers=FHIR))
        subject = f"Patient/{person['id']}"
        created(epr.post("/fhir/EpisodeOfCare", json=episode(patient=subject), headers=FHIR))
        sent = created(epr.post("/fhir/ServiceRequest", json=referral(subject=subject), headers=FHIR))
        found = epr.get("/fhir/Task", params={"focus": f"ServiceRequest/{sent['id']}", "code": "referral"})
        task = found.json()["entry"][0]["resource"]
    with stack.client(stack.token("clinician-app", fhir_user=PSYCHOSIS_WORKER)) as clinician:
        etag = f'W/"{task["meta"]["versionId"]}"'
        accepted = clinician.post(
            f"/fhir/Task/{task['id']}/$accept", json=ACCEPT_WITH_SUPPORT, headers={**FHIR, "If-Match": etag}
        )
    assert accepted.status_code == 200, accepted.text
    referral_id: str = sent["id"]
    return referral_id


def accepted_events(to: EventReceiver, referral_id: str) -> list[dict[str, Any]]:
    """The referral-accepted events the receiver got about one referral (redeliveries included)."""
    return to.events(
        lambda e: e.get("type") == "referral-accepted" and e.get("focus") == f"ServiceRequest/{referral_id}"
    )


def test_the_sending_teams_epr_hears_once_that_its_referral_was_accepted(stack: Stack) -> None:
    """FR-73: a Subscription filtered on the requester's team gets exactly one event for the accept."""
    with receiver() as epr_endpoint, stack.client(stack.token("epr-beh")) as epr:
        subscribe(epr, "referral-accepted", epr_endpoint.url, f"requesterTeam={CORE_TEAM}")
        referral_id = referral_accepted_by_psychosis_team(stack)
        [event] = eventually(lambda: accepted_events(epr_endpoint, referral_id) or None, 10, "the accept event")
        time.sleep(SETTLE_SECONDS)
        assert accepted_events(epr_endpoint, referral_id) == [event], "the accept was delivered more than once"
        assert event["requesterTeam"] == CORE_TEAM
        assert event["requester"] == "PractitionerRole/barnet-core-north-worker"
        assert event["performer"] == "HealthcareService/barnet-psychosis"
        assert event["source"] == "referrals"
        assert event["id"]
        assert all(e["type"] == "referral-accepted" for e in epr_endpoint.events()), "the topic was not respected"


def test_an_epr_that_was_down_gets_the_event_once_it_is_back(stack: Stack) -> None:
    """At least once: the delivery is retried with backoff until the receiver takes it, and not repeated after."""
    with receiver(started=False) as epr_endpoint, stack.client(stack.token("epr-beh")) as epr:
        subscription = subscribe(epr, "referral-accepted", epr_endpoint.url, f"requesterTeam={CORE_TEAM}")
        referral_id = referral_accepted_by_psychosis_team(stack)

        def failed_attempt() -> int | None:
            rows = stack.gateway.query(
                "SELECT attempts FROM delivery WHERE subscription = ? AND delivered_at IS NULL AND attempts > 0",
                subscription["id"],
            )
            return rows[0][0] if rows else None

        eventually(failed_attempt, 10, "the gateway to try the receiver while it is down")
        assert epr_endpoint.deliveries == []
        epr_endpoint.start()
        [event] = eventually(lambda: accepted_events(epr_endpoint, referral_id) or None, 15, "the redelivery")
        time.sleep(SETTLE_SECONDS)
        assert accepted_events(epr_endpoint, referral_id) == [event]
        assert len({e["id"] for e in epr_endpoint.events()}) == len(epr_endpoint.events()), "an event came twice"


def test_an_external_subscriber_is_not_handed_the_gateways_own_token(stack: Stack) -> None:
    with receiver() as epr_endpoint, stack.client(stack.token("epr-beh")) as epr:
        subscribe(epr, "referral-accepted", epr_endpoint.url, f"requesterTeam={CORE_TEAM}")
        referral_id = referral_accepted_by_psychosis_team(stack)
        eventually(lambda: accepted_events(epr_endpoint, referral_id) or None, 10, "the accept event")
        leaked = [d.headers["authorization"] for d in epr_endpoint.deliveries if "authorization" in d.headers]
        assert leaked == [], "an EPR endpoint received a bearer token that works against every service"


def test_a_patients_communication_needs_reach_the_referrals_service(stack: Stack) -> None:
    """The gateway's patient-upserted event is applied by referrals; a new referral carries the needs (FR-25)."""
    needs = {"url": EXT_COMMUNICATION_NEEDS, "valueString": "Large print"}
    with stack.client(stack.token("epr-beh")) as epr:
        person = created(epr.post("/fhir/Patient", json=patient(nhs_number(), extension=[needs]), headers=FHIR))

        def applied() -> str | None:
            rows = stack.referrals.query("SELECT communication_needs FROM patient_facts WHERE id = ?", person["id"])
            return rows[0][0] if rows and rows[0][0] else None

        assert eventually(applied, 5, "the Patient event at the referrals service") == "Large print"
        subject = f"Patient/{person['id']}"
        created(epr.post("/fhir/EpisodeOfCare", json=episode(patient=subject), headers=FHIR))
        sent = created(epr.post("/fhir/ServiceRequest", json=referral(subject=subject), headers=FHIR))
    [carried] = [e for e in sent.get("extension", []) if e["url"] == EXT_COMMUNICATION_NEEDS]
    assert {"url": "needs", "valueString": "Large print"} in carried["extension"]
