"""An integrator's path through the real gateway: token, Patient, caseload, referral, a clinician's accept.

Also who may not: no token is 401, a clinician of another team is 403 and changes nothing.
"""

from __future__ import annotations

from typing import Any

import httpx

from services.kit.testing import assert_outcome
from tests.e2e.conftest import FHIR, Stack, created, patient
from tests.referrals.builders import ACCEPT_WITH_SUPPORT, episode, referral

PSYCHOSIS_WORKER = "PractitionerRole/barnet-psychosis-worker"
CAMDEN_WORKER = "PractitionerRole/camden-eip-worker"


def referral_task(client: httpx.Client, referral_id: str) -> dict[str, Any]:
    """The Task tracking a referral (found by its focus)."""
    found = client.get("/fhir/Task", params={"focus": f"ServiceRequest/{referral_id}", "code": "referral"})
    assert found.status_code == 200, found.text
    entries = found.json()["entry"]
    assert len(entries) == 1, entries
    task: dict[str, Any] = entries[0]["resource"]
    return task


def if_match(task: dict[str, Any]) -> dict[str, str]:
    """Headers for a Task operation at the Task's current version."""
    return {**FHIR, "If-Match": f'W/"{task["meta"]["versionId"]}"'}


def test_an_epr_refers_and_the_receiving_teams_clinician_accepts(stack: Stack) -> None:
    with stack.client(stack.token("epr-beh")) as epr:
        person = created(epr.post("/fhir/Patient", json=patient("9000000009"), headers=FHIR))
        subject = f"Patient/{person['id']}"
        created(epr.post("/fhir/EpisodeOfCare", json=episode(patient=subject), headers=FHIR))
        sent = created(epr.post("/fhir/ServiceRequest", json=referral(subject=subject), headers=FHIR))
        task = referral_task(epr, sent["id"])
    assert task["status"] == "requested"
    assert task["owner"]["reference"] == "HealthcareService/barnet-psychosis"
    accept = f"/fhir/Task/{task['id']}/$accept"

    with stack.client() as anonymous:
        refused = anonymous.post(accept, json=ACCEPT_WITH_SUPPORT, headers=if_match(task))
        assert_outcome(refused, 401, "login", "Authorization")
        assert refused.headers["www-authenticate"].startswith("Bearer")

    with stack.client(stack.token("clinician-app", fhir_user=CAMDEN_WORKER)) as camden:
        assert_outcome(camden.post(accept, json=ACCEPT_WITH_SUPPORT, headers=if_match(task)), 403, "forbidden")

    with stack.client(stack.token("clinician-app", fhir_user=PSYCHOSIS_WORKER)) as clinician:
        unchanged = clinician.get(f"/fhir/Task/{task['id']}").json()
        assert unchanged["meta"]["versionId"] == task["meta"]["versionId"], "the refused calls changed the Task"
        response = clinician.post(accept, json=ACCEPT_WITH_SUPPORT, headers=if_match(task))
        assert response.status_code == 200, response.text
        accepted = response.json()
        assert accepted["status"] == "accepted"
        assert accepted["businessStatus"]["coding"][0]["code"] == "accepted-waiting"
        assert response.headers["etag"] == f'W/"{accepted["meta"]["versionId"]}"'
        assert accepted["meta"]["versionId"] != task["meta"]["versionId"]
        stale = clinician.post(accept, json=ACCEPT_WITH_SUPPORT, headers=if_match(task))
        assert_outcome(stale, 412, "conflict", "If-Match")
