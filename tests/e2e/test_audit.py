"""The audit trail over real HTTP (FR-71): who did what about a person, when, why, and how it ended."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx

from tests.e2e.conftest import FHIR, Stack, created, eventually, nhs_number, patient
from tests.referrals.builders import ACCEPT_WITH_SUPPORT, episode, referral

CAMDEN_WORKER = "PractitionerRole/camden-eip-worker"
PSYCHOSIS_WORKER = "PractitionerRole/barnet-psychosis-worker"


def audit(client: httpx.Client, **query: str) -> list[dict[str, Any]]:
    """The AuditEvents a search finds."""
    found = client.get("/fhir/AuditEvent", params={**query, "_count": "100"})
    assert found.status_code == 200, found.text
    return [e["resource"] for e in found.json().get("entry", [])]


def what(event: dict[str, Any]) -> str:
    """The request an AuditEvent records (`GET /fhir/...`)."""
    display: str = event["entity"][0]["what"]["display"]
    return display


def test_reads_about_a_person_and_refusals_are_in_the_trail(stack: Stack) -> None:
    with stack.client(stack.token("epr-beh")) as epr:
        person = created(epr.post("/fhir/Patient", json=patient(nhs_number()), headers=FHIR))
        request_id = f"beh-{uuid.uuid4()}"
        assert epr.get(f"/fhir/Patient/{person['id']}", headers={"X-Request-ID": request_id}).status_code == 200
        with stack.client(stack.token("clinician-app", fhir_user=CAMDEN_WORKER)) as camden:
            refused = camden.get("/fhir/ServiceRequest", params={"subject": f"Patient/{person['id']}"})
            assert refused.status_code == 403, refused.text

        def complete() -> list[dict[str, Any]] | None:
            trail = audit(epr, patient=f"Patient/{person['id']}")
            return trail if len(trail) >= 2 else None

        # The gateway writes a request's AuditEvent just after sending its answer: allow a moment.
        trail = eventually(complete, 5, "the AuditEvents of both requests")
        [read] = [e for e in trail if what(e) == f"GET /fhir/Patient/{person['id']}"]
        assert read["action"] == "R"
        assert read["outcome"] == "0"
        assert read["agent"][0]["who"] == {"display": "epr-beh"}
        assert read["agent"][0]["purposeOfUse"][0]["coding"][0]["code"] == "TREAT"
        assert request_id in read["outcomeDesc"]
        [denied] = [e for e in trail if e["agent"][0]["who"].get("reference") == CAMDEN_WORKER]
        assert denied["outcome"] == "4"
        assert denied["agent"][0]["altId"] == "clinician-app"
        assert denied in audit(epr, agent=CAMDEN_WORKER)


def test_the_trail_about_a_person_includes_their_referral_and_its_accept(stack: Stack) -> None:
    with stack.client(stack.token("epr-beh")) as epr:
        person = created(epr.post("/fhir/Patient", json=patient(nhs_number()), headers=FHIR))
        subject = f"Patient/{person['id']}"
        created(epr.post("/fhir/EpisodeOfCare", json=episode(patient=subject), headers=FHIR))
        sent = created(epr.post("/fhir/ServiceRequest", json=referral(subject=subject), headers=FHIR))
        found = epr.get("/fhir/Task", params={"focus": f"ServiceRequest/{sent['id']}", "code": "referral"})
        task = found.json()["entry"][0]["resource"]
        with stack.client(stack.token("clinician-app", fhir_user=PSYCHOSIS_WORKER)) as clinician:
            etag = {"If-Match": f'W/"{task["meta"]["versionId"]}"'}
            accept = clinician.post(
                f"/fhir/Task/{task['id']}/$accept", json=ACCEPT_WITH_SUPPORT, headers={**FHIR, **etag}
            )
            assert accept.status_code == 200, accept.text
        time.sleep(0.5)  # the last AuditEvent is written just after its answer
        requests = {what(e) for e in audit(epr, patient=subject)}
        assert "POST /fhir/Patient" in requests
        assert "POST /fhir/ServiceRequest" in requests
        assert f"POST /fhir/Task/{task['id']}/$accept" in requests


def test_a_clinician_cannot_read_or_change_a_person_their_team_does_not_know(stack: Stack) -> None:
    with stack.client(stack.token("epr-beh")) as epr:
        person = created(epr.post("/fhir/Patient", json=patient(nhs_number()), headers=FHIR))
    with stack.client(stack.token("clinician-app", fhir_user=CAMDEN_WORKER)) as camden:
        assert camden.get(f"/fhir/Patient/{person['id']}").status_code == 403
        changed = {**person, "birthDate": "1990-01-01"}
        assert camden.put(f"/fhir/Patient/{person['id']}", json=changed, headers=FHIR).status_code == 403
