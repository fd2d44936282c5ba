"""Item 7: bad input to every process is a 4xx OperationOutcome, never a 500, and stores nothing.

Malformed and empty JSON, a wrong content type, a 10 MB body, deeply nested JSON, a wrong
`resourceType`, a Bundle with 100,000 entries, and injection strings in ids and search parameters,
sent to each service directly and through the gateway (whose own types are included). Each
process's tables are counted before and after: nothing may have been written (the gateway's audit
trail, which records every request, is left out of the count).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
import orjson
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from services.kit.testing import outcome
from tests.e2e.conftest import patient
from tests.referrals.builders import episode, referral
from tests.reliability.conftest import FHIR, METADATA, Deployment, DeploymentFactory

# A create each process takes: (process, path, a valid body of that type).
CREATES: list[tuple[str, str, dict[str, Any]]] = [
    ("referrals", "/fhir/ServiceRequest", referral()),
    (
        "careplans",
        "/fhir/CarePlan",
        {"resourceType": "CarePlan", "status": "active", "intent": "plan", "subject": {"reference": "Patient/p-1"}},
    ),
    (
        "transitions",
        "/fhir/Task/$open-transition",
        {
            "resourceType": "Parameters",
            "parameter": [{"name": "patient", "valueReference": {"reference": "Patient/p"}}],
        },
    ),
    ("gateway", "/fhir/Patient", patient("9434765919")),
    ("gateway", "/fhir/ServiceRequest", referral()),
]
CREATE_IDS = [f"{process}:{path}" for process, path, _ in CREATES]

# Reads and searches each process serves: (process, resource type, a search parameter it knows).
READS: list[tuple[str, str, str]] = [
    ("referrals", "ServiceRequest", "subject"),
    ("referrals", "Task", "owner"),
    ("careplans", "CarePlan", "subject"),
    ("careplans", "QuestionnaireResponse", "subject"),
    ("transitions", "Task", "patient"),
    ("gateway", "Patient", "identifier"),
    ("gateway", "HealthcareService", "name"),
    ("gateway", "ServiceRequest", "subject"),
    ("gateway", "CarePlan", "subject"),
]

INJECTIONS = [
    "' OR '1'='1",
    "1; DROP TABLE service_request; --",
    '"; SELECT pg_sleep(5); --',
    "../../etc/passwd",
    "%00",
    "\x00",
    "<script>alert(1)</script>",
    "${jndi:ldap://example.org/a}",
    "{{7*7}}",
    "Patient/' UNION SELECT resource FROM patient --",
    "a" * 5000,
    "☃\U0001f600",
]

TEN_MB = 10 * 1024 * 1024
NOT_COUNTED = {"audit_event", "resource_history", "idempotency", "inbox"}


async def _rows(app: FastAPI, name: str) -> dict[str, int]:
    counts = {}
    async with app.state.database.session(writing=False) as session:
        for table in METADATA[name].sorted_tables:
            if table.name not in NOT_COUNTED:
                counts[table.name] = int((await session.execute(select(func.count()).select_from(table))).scalar_one())
    return counts


async def _snapshot(deployment: Deployment) -> dict[str, dict[str, int]]:
    return {name: await _rows(app, name) for name, app in deployment.apps.items()}


def _refused(response: httpx.Response, *statuses: int) -> dict[str, Any]:
    """A 4xx OperationOutcome (one of `statuses` when given)."""
    assert 400 <= response.status_code < 500, f"{response.status_code}: {response.text[:300]}"
    if statuses:
        assert response.status_code in statuses, f"{response.status_code}: {response.text[:300]}"
    return outcome(response)


@pytest.fixture
async def deployment(make_deployment: DeploymentFactory) -> Deployment:
    """The four processes, with tokens off (bad input must be refused for what it is, not for who sent it)."""
    return await make_deployment()


@pytest.mark.parametrize(("process", "path", "body"), CREATES, ids=CREATE_IDS)
async def test_malformed_empty_and_mistyped_bodies_are_4xx_and_store_nothing(
    deployment: Deployment, process: str, path: str, body: dict[str, Any]
) -> None:
    client = deployment.client(process)
    before = await _snapshot(deployment)
    for content in (b"{not json", b"", b"[1, 2]", b'"a string"', b"null", b"\xff\xfe", b'{"resourceType": '):
        _refused(await client.post(path, content=content, headers=FHIR), 400)
    for content_type in ("text/plain", "application/xml", "multipart/form-data", "application/x-www-form-urlencoded"):
        _refused(await client.post(path, content=orjson.dumps(body), headers={"Content-Type": content_type}), 415)
    for wrong in ("Patient" if body["resourceType"] != "Patient" else "Observation", "Nonsense", "", None, 7):
        _refused(await client.post(path, json={**body, "resourceType": wrong}, headers=FHIR), 400, 422)
    nested = b'{"resourceType":"' + body["resourceType"].encode() + b'","x":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    _refused(await client.post(path, content=nested, headers=FHIR), 400, 413)
    for control in ("\x00", "\x01", "\x1b"):  # FHIR strings have no control characters but tab, CR and LF
        text = {"status": "generated", "div": f"<div>a{control}b</div>"}
        _refused(await client.post(path, json={**body, "text": text}, headers=FHIR), 400)
    huge = orjson.dumps({**body, "text": {"status": "generated", "div": "<div>" + "x" * TEN_MB + "</div>"}})
    _refused(await client.post(path, content=huge, headers=FHIR), 413)
    assert await _snapshot(deployment) == before


@pytest.mark.parametrize("process", ["referrals", "gateway"])
async def test_a_bundle_with_100000_entries_is_refused_and_stores_nothing(deployment: Deployment, process: str) -> None:
    client = deployment.client(process)
    before = await _snapshot(deployment)
    minimal = {"resourceType": "Bundle", "type": "transaction", "entry": [{}] * 100_000}
    _refused(await client.post("/fhir", json=minimal, headers=FHIR), 400, 413)
    entry = {"request": {"method": "POST", "url": "ServiceRequest"}, "resource": referral()}
    full = {"resourceType": "Bundle", "type": "batch", "entry": [entry] * 100_000}
    _refused(await client.post("/fhir", json=full, headers=FHIR), 413)
    assert await _snapshot(deployment) == before


@pytest.mark.parametrize(("process", "resource_type", "parameter"), READS)
async def test_injection_strings_in_ids_and_search_parameters_find_nothing_and_change_nothing(
    deployment: Deployment, process: str, resource_type: str, parameter: str
) -> None:
    client = deployment.client(process)
    before = await _snapshot(deployment)
    for text in INJECTIONS:
        _refused(await client.get(f"/fhir/{resource_type}/{_quoted(text)}"), 400, 404, 405)
        _refused(await client.put(f"/fhir/{resource_type}/{_quoted(text)}", json={}, headers=FHIR), 400, 404, 405)
        for name in (parameter, "_id", "_sort", "_count", "_offset"):
            response = await client.get(f"/fhir/{resource_type}", params={name: text})
            if response.status_code == 200:  # a legal value that matches nothing
                body = response.json()
                assert body["resourceType"] == "Bundle", body
                assert body.get("total", 0) == 0, body
                assert not body.get("entry"), body
            else:
                _refused(response)
    assert await _snapshot(deployment) == before


async def test_an_encoded_id_cannot_become_a_query_or_another_path_through_the_gateway(
    deployment: Deployment,
) -> None:
    client = deployment.client()
    assert (await client.post("/fhir/EpisodeOfCare", json=episode(), headers=FHIR)).status_code == 201
    created = await client.post("/fhir/ServiceRequest", json=referral(), headers=FHIR)
    assert created.status_code == 201, created.text
    smuggled = await client.get(f"/fhir/ServiceRequest/x{_quoted('?_id=' + created.json()['id'])}")
    _refused(smuggled, 400, 404)
    _refused(await client.get(f"/fhir/ServiceRequest/{_quoted('../Task')}"), 400)
    _refused(await client.post(f"/fhir/Task/{_quoted('../../internal/events')}", json={}, headers=FHIR), 400)


def _quoted(text: str) -> str:
    return quote(text, safe="")
