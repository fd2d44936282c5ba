"""Item 4: the referrals process is SIGKILLed during a load of creates through the gateway.

Real processes (`tests/e2e`'s stack): eight EPR connections create referrals as fast as the gateway
answers; once some have been created the referrals process is killed with SIGKILL (no shutdown,
no cleanup) while requests are in flight, then restarted on the same database. Afterwards:
- every create that was answered 201 is there, exactly as it was answered;
- nothing is half-written: every stored referral has its tracking Task and its outbox event
  (the create, the Task and the event are one transaction), whichever answer its client got;
- every outbox event is delivered to the gateway after the restart (the lease on events the
  dead process had claimed runs out), and the gateway has recorded each of them.
The kill is done twice: once wherever it lands in the creates in flight, and once with the gateway
frozen for a moment first, so the dead process certainly held claimed, undelivered events.
"""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import orjson
import pytest

from tests.e2e.conftest import FHIR, LEASE_SECONDS, Stack, created, eventually, nhs_number, patient
from tests.referrals.builders import episode, referral

pytestmark = pytest.mark.slow

WORKERS = 8
CREATED_BEFORE_KILL = 40
DELIVERY_SECONDS = float(LEASE_SECONDS) + 15.0
IDENTIFIER = "https://continuum.example.org/fhir/sid/reliability-referral"


@pytest.fixture
def subject(stack: Stack) -> tuple[str, str]:
    """An EPR's token and a registered patient on the core team's caseload."""
    token = stack.token("epr-beh")
    with stack.client(token) as epr:
        person = created(epr.post("/fhir/Patient", json=patient(nhs_number()), headers=FHIR))
        reference = f"Patient/{person['id']}"
        created(epr.post("/fhir/EpisodeOfCare", json=episode(patient=reference), headers=FHIR))
    return token, reference


def test_every_acknowledged_create_survives_a_sigkill_whole_and_its_events_are_delivered(
    stack: Stack, subject: tuple[str, str]
) -> None:
    token, reference = subject
    answers: list[tuple[str, int, dict[str, Any] | None]] = []
    lock = threading.Lock()
    stop = threading.Event()

    def load() -> None:
        with stack.client(token, timeout=15.0) as epr:
            while not stop.is_set():
                value = str(uuid.uuid4())
                body = referral(subject=reference, identifier=[{"system": IDENTIFIER, "value": value}])
                try:
                    response = epr.post("/fhir/ServiceRequest", json=body, headers=FHIR)
                except httpx.HTTPError:
                    continue
                answer = orjson.loads(response.content) if response.status_code == 201 else None
                with lock:
                    answers.append((value, response.status_code, answer))

    def acknowledged() -> list[dict[str, Any]]:
        with lock:
            return [a for _, status, a in answers if status == 201 and a is not None]

    def killed_under_load(freeze_gateway: bool) -> None:
        stop.clear()
        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            goal = len(acknowledged()) + CREATED_BEFORE_KILL
            for _ in range(WORKERS):
                pool.submit(load)
            eventually(lambda: True if len(acknowledged()) >= goal else None, 60, "creates to flow")
            if freeze_gateway:
                # The dispatcher's delivery hangs with its latest events claimed; the kill strands them.
                stack.gateway.pause()
                time.sleep(0.5)
                claimed = "SELECT count(*) FROM outbox WHERE delivered_at IS NULL AND attempts = 0"
                assert stack.referrals.query(claimed)[0][0] > 0
            stack.referrals.kill()
            stack.gateway.resume()
            time.sleep(0.5)  # the load keeps coming while the service is dead: the gateway answers 502
            stop.set()
        stack.referrals.restart()

    killed_under_load(freeze_gateway=False)  # wherever the kill lands in the creates in flight
    killed_under_load(freeze_gateway=True)  # with events certainly claimed and in flight

    statuses = {status for _, status, _ in answers}
    assert statuses <= {201, 502}, statuses
    assert 502 in statuses, "the kill did not land during the load"
    kept = acknowledged()
    assert len(kept) >= CREATED_BEFORE_KILL

    with stack.client(token) as epr:
        for before in kept:
            after = epr.get(f"/fhir/ServiceRequest/{before['id']}")
            assert after.status_code == 200, after.text
            assert after.json() == before

    stored = {row[0] for row in stack.referrals.query("SELECT id FROM service_request")}
    assert {a["id"] for a in kept} <= stored
    tasks = stack.referrals.query("SELECT focus, count(*) FROM task WHERE code = 'referral' GROUP BY focus")
    assert {focus: n for focus, n in tasks if focus.startswith("ServiceRequest/")} == {
        f"ServiceRequest/{id_}": 1 for id_ in stored
    }, "a referral without exactly one tracking Task was stored"
    received = [
        orjson.loads(payload)
        for (payload,) in stack.referrals.query("SELECT payload FROM outbox WHERE event_type = 'referral-received'")
    ]
    assert sorted(e["focus"] for e in received) == sorted(f"ServiceRequest/{id_}" for id_ in stored)

    def delivered() -> bool | None:
        return stack.referrals.query("SELECT count(*) FROM outbox WHERE delivered_at IS NULL")[0][0] == 0 or None

    eventually(delivered, DELIVERY_SECONDS, "every outbox event to be delivered after the restart", interval=0.2)
    sent = {row[0] for row in stack.referrals.query("SELECT id FROM outbox")}
    logged = {row[0] for row in stack.gateway.query("SELECT event_id FROM event_log")}
    assert sent <= logged, f"{len(sent - logged)} events marked delivered never reached the gateway"
