"""X-Request-ID over real HTTP: a repeated create is answered from the first and writes nothing twice.

Both headers are mirrored on every answer; X-Correlation-ID defaults to the request id.
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx

from services.kit.testing import assert_outcome
from tests.e2e.conftest import FHIR, Stack, created, nhs_number, patient
from tests.referrals.builders import episode, referral


def referrals_of(client: httpx.Client, subject: str) -> set[str]:
    """The ids of every referral about a person."""
    found = client.get("/fhir/ServiceRequest", params={"subject": subject})
    assert found.status_code == 200, found.text
    return {e["resource"]["id"] for e in found.json().get("entry", [])}


def test_a_repeated_request_id_on_a_create_makes_one_referral(stack: Stack) -> None:
    with stack.client(stack.token("epr-beh")) as epr:
        person = created(epr.post("/fhir/Patient", json=patient(nhs_number()), headers=FHIR))
        subject = f"Patient/{person['id']}"
        created(epr.post("/fhir/EpisodeOfCare", json=episode(patient=subject), headers=FHIR))
        request_id = f"beh-{uuid.uuid4()}"
        headers = {**FHIR, "X-Request-ID": request_id, "X-Correlation-ID": "beh-batch-42"}
        first = epr.post("/fhir/ServiceRequest", json=referral(subject=subject), headers=headers)
        again = epr.post("/fhir/ServiceRequest", json=referral(subject=subject), headers=headers)
        assert created(first) == created(again)
        assert again.headers["location"] == first.headers["location"]
        assert again.headers["etag"] == first.headers["etag"]
        for response in (first, again):
            assert response.headers["x-request-id"] == request_id
            assert response.headers["x-correlation-id"] == "beh-batch-42"
        assert referrals_of(epr, subject) == {first.json()["id"]}

        reused = epr.post("/fhir/EpisodeOfCare", json=episode(patient=subject), headers=headers)
        assert_outcome(reused, 409, "conflict", "X-Request-ID")

        racing_id = f"beh-{uuid.uuid4()}"
        racing = {**FHIR, "X-Request-ID": racing_id}

        def send(_: int) -> httpx.Response:
            return epr.post("/fhir/ServiceRequest", json=referral(subject=subject), headers=racing)

        with ThreadPoolExecutor(max_workers=2) as pool:
            answers = list(pool.map(send, [1, 2]))
        assert [a.status_code for a in answers] == [201, 201], [a.text for a in answers]
        assert answers[0].json()["id"] == answers[1].json()["id"]
        assert referrals_of(epr, subject) == {first.json()["id"], answers[0].json()["id"]}

        plain = epr.get(f"/fhir/ServiceRequest/{first.json()['id']}")
        assert plain.headers["x-request-id"], "the gateway gives every answer a request id"
        assert plain.headers["x-correlation-id"] == plain.headers["x-request-id"]
