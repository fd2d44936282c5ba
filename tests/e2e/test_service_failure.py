"""A service that dies: the gateway answers 502 OperationOutcome at once, stays up, and recovers.

The referrals process is killed with SIGKILL while the gateway is waiting for its answer (the
process is frozen with SIGSTOP first, so the request is certainly in flight: the kernel has
accepted the connection and the request bytes, and nobody answers). Requests sent while it is gone
are refused at once. Restarted on the same port and database, it serves what was stored before
the kill, and a create that failed with 502 can be retried with the same X-Request-ID.
"""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx

from services.kit.testing import assert_outcome
from tests.e2e.conftest import FHIR, LEASE_SECONDS, Stack, created, eventually, nhs_number, patient
from tests.referrals.builders import episode, referral

IN_FLIGHT_SECONDS = 0.5
QUICKLY_SECONDS = 5.0
"""Well inside the gateway's upstream timeout (10 s by default): a 502 from the crash, not a 504."""


def test_a_service_killed_mid_request_gives_502_and_comes_back_with_its_data(stack: Stack) -> None:
    token = stack.token("epr-beh")
    with stack.client(token) as epr:
        person = created(epr.post("/fhir/Patient", json=patient(nhs_number()), headers=FHIR))
        subject = f"Patient/{person['id']}"
        created(epr.post("/fhir/EpisodeOfCare", json=episode(patient=subject), headers=FHIR))
        before = created(epr.post("/fhir/ServiceRequest", json=referral(subject=subject), headers=FHIR))
        gateway_pid = stack.gateway.pid

        stack.referrals.pause()
        with ThreadPoolExecutor(max_workers=1) as pool:
            in_flight = pool.submit(epr.get, f"/fhir/ServiceRequest/{before['id']}")
            time.sleep(IN_FLIGHT_SECONDS)
            assert not in_flight.done(), "the gateway answered without the frozen service"
            killed_at = time.monotonic()
            stack.referrals.kill()
            response = in_flight.result(timeout=QUICKLY_SECONDS)
        assert time.monotonic() - killed_at < QUICKLY_SECONDS
        assert_outcome(response, 502, "transient", "referrals")

        started = time.monotonic()
        assert_outcome(epr.get(f"/fhir/ServiceRequest/{before['id']}"), 502, "transient", "referrals")
        retried_id = str(uuid.uuid4())
        while_down = epr.post(
            "/fhir/ServiceRequest", json=referral(subject=subject), headers={**FHIR, "X-Request-ID": retried_id}
        )
        assert_outcome(while_down, 502, "transient")
        assert time.monotonic() - started < QUICKLY_SECONDS
        assert epr.get("/health").status_code == 200
        assert epr.get("/fhir/metadata").status_code == 200
        assert epr.get("/fhir/HealthcareService/barnet-psychosis").status_code == 200
        assert stack.gateway.running
        assert stack.gateway.pid == gateway_pid, "the gateway restarted"

        stack.referrals.restart()
        back = epr.get(f"/fhir/ServiceRequest/{before['id']}")
        assert back.status_code == 200, back.text
        assert back.json() == before
        tasks = epr.get("/fhir/Task", params={"focus": f"ServiceRequest/{before['id']}", "code": "referral"})
        assert tasks.status_code == 200, tasks.text
        assert tasks.json()["total"] == 1
        retried = epr.post(
            "/fhir/ServiceRequest", json=referral(subject=subject), headers={**FHIR, "X-Request-ID": retried_id}
        )
        after = created(retried)
        assert after["id"] != before["id"], "the retry after the outage was answered from the failed attempt"
        listed = epr.get("/fhir/ServiceRequest", params={"subject": subject})
        assert {e["resource"]["id"] for e in listed.json()["entry"]} == {before["id"], after["id"]}


def test_a_service_killed_while_sending_events_sends_them_after_its_lease(stack: Stack) -> None:
    """At least once across a crash: events the dead process had claimed fall due again when the lease ends.

    The gateway is frozen so the referrals dispatcher's delivery hangs with its events claimed; the
    referrals process is then killed. Restarted, it must deliver them (and everything after them)
    within the lease (2 s here), not leave its ordered stream blocked.
    """
    token = stack.token("epr-beh")
    with stack.client(token) as epr:
        person = created(epr.post("/fhir/Patient", json=patient(nhs_number()), headers=FHIR))
        subject = f"Patient/{person['id']}"
        created(epr.post("/fhir/EpisodeOfCare", json=episode(patient=subject), headers=FHIR))
    stack.gateway.pause()
    with httpx.Client(base_url=stack.referrals.url, headers={"Authorization": f"Bearer {token}"}) as direct:
        created(direct.post("/fhir/ServiceRequest", json=referral(subject=subject), headers=FHIR))
    time.sleep(IN_FLIGHT_SECONDS)  # more than one dispatch round: the events are claimed, their POST hangs
    claimed = stack.referrals.query("SELECT count(*) FROM outbox WHERE delivered_at IS NULL AND attempts = 0")
    assert claimed[0][0] > 0
    stack.referrals.kill()
    stack.gateway.resume()
    stack.referrals.restart()

    def drained() -> bool | None:
        return stack.referrals.query("SELECT count(*) FROM outbox WHERE delivered_at IS NULL")[0][0] == 0 or None

    eventually(drained, float(LEASE_SECONDS) + QUICKLY_SECONDS, "the claimed events to be delivered after the crash")
