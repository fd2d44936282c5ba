"""Routing through the gateway: interactions reach the owning service and come back unchanged but for base URLs.

Also: shared types (Task) routed by their discriminating parameter or fanned out and merged with
correct paging, down and slow services (502/504, never a hang), the merged CapabilityStatement,
and what the gateway refuses (unknown types, Bundles).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import orjson
import pytest

from gateway.main import parse_search_for_paging
from gateway.proxy import Services, merged_search
from services.kit.clock import FixedClock, instant
from services.kit.errors import FhirError
from services.kit.testing import assert_outcome
from tests.gateway.conftest import GATEWAY_BASE, REFERRALS, GatewayFactory, Network, client_for
from tests.referrals.builders import (
    ACCEPT_WITH_SUPPORT,
    FHIR,
    create_referral,
    episode,
    open_episode,
    operate,
    params,
    referral,
    referral_with_episode,
    task_for,
)

pytestmark = pytest.mark.usefixtures("engine")

SERVICE_BASE = f"{REFERRALS}/fhir"
FHIR_JSON = "application/fhir+json"


def is_fhir_json(response: httpx.Response) -> bool:
    return response.headers["content-type"].startswith(FHIR_JSON)


def rebased(body: bytes) -> bytes:
    """A service's body as the gateway should pass it on: only the base URL differs."""
    return body.replace(SERVICE_BASE.encode(), GATEWAY_BASE.encode())


def link(bundle: dict[str, Any], relation: str) -> str | None:
    return next((x["url"] for x in bundle.get("link", []) if x["relation"] == relation), None)


def query_of(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query))


# ------------------------------------------------------------------ single-owner interactions


async def test_a_create_through_the_gateway_is_stored_by_referrals_with_the_location_rebased(
    client: httpx.AsyncClient, referrals_client: httpx.AsyncClient
) -> None:
    await open_episode(client)
    response = await client.post("/fhir/ServiceRequest", json=referral(), headers=FHIR)
    assert response.status_code == 201, response.text
    assert is_fhir_json(response)
    created = response.json()
    assert response.headers["location"] == f"{GATEWAY_BASE}/ServiceRequest/{created['id']}/_history/1"
    assert response.headers["etag"] == 'W/"1"'
    direct = await referrals_client.get(f"/fhir/ServiceRequest/{created['id']}")
    assert direct.status_code == 200
    assert direct.json() == created


async def test_read_vread_and_history_come_back_unchanged_but_for_the_base(
    client: httpx.AsyncClient, referrals_client: httpx.AsyncClient
) -> None:
    created, task = await referral_with_episode(client)
    assert (await operate(client, task, "accept", ACCEPT_WITH_SUPPORT)).status_code == 200
    for path in (
        f"/fhir/ServiceRequest/{created['id']}",
        f"/fhir/ServiceRequest/{created['id']}/_history/1",
        f"/fhir/ServiceRequest/{created['id']}/_history",
        f"/fhir/Task/{task['id']}",
        f"/fhir/Task/{task['id']}/_history/1",
        f"/fhir/Task/{task['id']}/_history",
    ):
        through, direct = await client.get(path), await referrals_client.get(path)
        assert through.status_code == direct.status_code == 200, (path, through.text)
        assert is_fhir_json(through)
        assert through.content == rebased(direct.content), path
        assert through.headers.get("etag") == direct.headers.get("etag"), path
        assert through.headers.get("last-modified") == direct.headers.get("last-modified"), path
    read = await client.get(f"/fhir/Task/{task['id']}")
    assert read.headers["etag"] == f'W/"{read.json()["meta"]["versionId"]}"'
    history = (await client.get(f"/fhir/Task/{task['id']}/_history")).json()
    assert history["type"] == "history"
    assert all(e["fullUrl"] == f"{GATEWAY_BASE}/Task/{task['id']}" for e in history["entry"])


async def test_a_search_comes_back_with_full_urls_and_links_at_the_gateway(
    client: httpx.AsyncClient, referrals_client: httpx.AsyncClient
) -> None:
    await open_episode(client)
    created = [await create_referral(client) for _ in range(3)]
    query = {"subject": "Patient/p-1", "_count": "2"}
    through = await client.get("/fhir/ServiceRequest", params=query)
    direct = await referrals_client.get("/fhir/ServiceRequest", params=query)
    assert through.status_code == 200
    assert is_fhir_json(through)
    assert through.content == rebased(direct.content)
    page = through.json()
    assert page["total"] == 3
    assert {e["fullUrl"] for e in page["entry"]} <= {f"{GATEWAY_BASE}/ServiceRequest/{c['id']}" for c in created}
    next_url = link(page, "next")
    assert next_url is not None
    assert next_url.startswith(f"{GATEWAY_BASE}/ServiceRequest?")
    assert b"referrals.internal" not in through.content
    second = await client.get(next_url)
    assert second.status_code == 200
    ids = [e["resource"]["id"] for e in [*page["entry"], *second.json()["entry"]]]
    assert sorted(ids) == sorted(c["id"] for c in created)


async def test_a_task_operation_with_if_match_reaches_referrals_and_returns_the_new_etag(
    client: httpx.AsyncClient, referrals_client: httpx.AsyncClient
) -> None:
    _, task = await referral_with_episode(client)
    response = await operate(client, task, "accept", ACCEPT_WITH_SUPPORT)
    assert response.status_code == 200, response.text
    assert is_fhir_json(response)
    accepted = response.json()
    assert accepted["businessStatus"]["coding"][0]["code"] == "accepted-waiting"
    assert response.headers["etag"] == f'W/"{accepted["meta"]["versionId"]}"'
    direct = await referrals_client.get(f"/fhir/Task/{task['id']}")
    assert direct.headers["etag"] == response.headers["etag"]
    assert direct.json() == accepted


async def test_a_stale_if_match_on_a_task_operation_is_passed_through(
    client: httpx.AsyncClient, referrals_client: httpx.AsyncClient
) -> None:
    _, task = await referral_with_episode(client)
    through = await operate(client, task, "accept", ACCEPT_WITH_SUPPORT, version="7")
    direct = await operate(referrals_client, task, "accept", ACCEPT_WITH_SUPPORT, version="7")
    assert through.status_code == direct.status_code
    assert through.status_code in (409, 412), through.text
    assert is_fhir_json(through)
    assert through.json() == direct.json()


async def test_a_refused_decline_passes_through_as_the_services_422(
    client: httpx.AsyncClient, referrals_client: httpx.AsyncClient
) -> None:
    _, task = await referral_with_episode(client)
    decline = params(
        reason="gp-referral-requested",
        rationale="Back to the GP",
        assessment="QuestionnaireResponse/assessment-1",
        nextStep="redirect",
        destination="HealthcareService/barnet-mood-anxiety",
        actor="PractitionerRole/barnet-psychosis-worker",
    )
    through = await operate(client, task, "decline", decline)
    body = assert_outcome(through, 422, "business-rule", "reason")
    direct = await operate(referrals_client, task, "decline", decline)
    assert direct.status_code == 422
    assert body == direct.json()
    still = await task_for(client, task["focus"]["reference"].split("/")[1])
    assert still["meta"]["versionId"] == task["meta"]["versionId"]


# ------------------------------------------------------------------ Task: routed by code, or fanned out


async def test_task_search_by_referral_code_goes_to_referrals_only_while_transitions_is_down(
    client: httpx.AsyncClient, network: Network
) -> None:
    network.down.add("transitions.internal")
    created, task = await referral_with_episode(client)
    response = await client.get("/fhir/Task", params={"code": "referral"})
    assert response.status_code == 200, response.text
    assert is_fhir_json(response)
    bundle = response.json()
    assert bundle["total"] == 1
    assert bundle["entry"][0]["fullUrl"] == f"{GATEWAY_BASE}/Task/{task['id']}"
    assert bundle["entry"][0]["resource"]["focus"]["reference"] == f"ServiceRequest/{created['id']}"
    system_qualified = await client.get(
        "/fhir/Task", params={"code": "https://continuum.example.org/fhir/CodeSystem/task-code|referral"}
    )
    assert system_qualified.status_code == 200, system_qualified.text
    read = await client.get(f"/fhir/Task/{task['id']}")
    assert read.status_code == 200, read.text


async def test_task_search_without_a_code_fans_out_and_answers_502_when_transitions_is_down(
    client: httpx.AsyncClient, network: Network
) -> None:
    network.down.add("transitions.internal")
    await referral_with_episode(client)
    started = time.monotonic()
    response = await client.get("/fhir/Task")
    assert time.monotonic() - started < 2.0
    assert_outcome(response, 502, "transient", "transitions")


async def test_a_down_service_gives_502_and_the_gateway_recovers_when_it_is_back(
    client: httpx.AsyncClient, network: Network
) -> None:
    created, _ = await referral_with_episode(client)
    network.down.add("referrals.internal")
    assert_outcome(await client.get(f"/fhir/ServiceRequest/{created['id']}"), 502, "transient", "referrals")
    assert_outcome(await client.post("/fhir/ServiceRequest", json=referral(), headers=FHIR), 502, "transient")
    assert_outcome(await client.get("/fhir/ServiceRequest"), 502, "transient", "referrals")
    assert (await client.get("/fhir/HealthcareService/camden-crisis-cafe")).status_code == 200
    network.down.discard("referrals.internal")
    back = await client.get(f"/fhir/ServiceRequest/{created['id']}")
    assert back.status_code == 200, back.text
    assert back.json()["id"] == created["id"]


# ------------------------------------------------------------------ slow services: 504 within the timeout


class SlowServer:
    """A real TCP service that accepts requests and never answers in time."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.writers: list[asyncio.StreamWriter] = []
        self.server: asyncio.Server | None = None

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.append(writer)
        await reader.read(65536)
        await self.release.wait()
        writer.close()

    async def stop(self) -> None:
        self.release.set()
        await asyncio.sleep(0)
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()
        for writer in self.writers:
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()


class WithLoopback(httpx.AsyncBaseTransport):
    """The in-process network, plus real HTTP to 127.0.0.1 (where timeouts are enforced by the transport)."""

    def __init__(self, network: Network) -> None:
        self.network = network
        self.real = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.host == "127.0.0.1":
            return await self.real.handle_async_request(request)
        return await self.network.handle_async_request(request)

    async def aclose(self) -> None:
        await self.real.aclose()


@pytest.fixture
async def slow_url() -> AsyncIterator[str]:
    server = SlowServer()
    url = await server.start()
    yield url
    await server.stop()


TIMEOUT = 0.2


async def test_a_slow_shared_type_owner_gives_504_within_the_timeout_and_the_gateway_stays_up(
    make_gateway: GatewayFactory, network: Network, slow_url: str
) -> None:
    app = await make_gateway(WithLoopback(network), transitions_url=slow_url, upstream_timeout_seconds=TIMEOUT)
    async with client_for(app) as client:
        await referral_with_episode(client)
        for query in ({"code": "transition-case"}, {}):
            started = time.monotonic()
            response = await client.get("/fhir/Task", params=query)
            elapsed = time.monotonic() - started
            assert_outcome(response, 504, "timeout", "transitions")
            assert elapsed < TIMEOUT + 1.0, elapsed
        fine = await client.get("/fhir/Task", params={"code": "referral"})
        assert fine.status_code == 200, fine.text
        assert fine.json()["total"] == 1
        started = time.monotonic()
        statement = await client.get("/fhir/metadata")
        assert time.monotonic() - started < TIMEOUT + 1.0
        assert statement.status_code == 200
        assert "transitions" in statement.json()["implementation"]["description"]


async def test_a_slow_single_owner_gives_504_within_the_timeout(
    make_gateway: GatewayFactory, network: Network, slow_url: str
) -> None:
    app = await make_gateway(WithLoopback(network), referrals_url=slow_url, upstream_timeout_seconds=TIMEOUT)
    async with client_for(app) as client:
        started = time.monotonic()
        response = await client.post("/fhir/ServiceRequest", json=referral(), headers=FHIR)
        assert time.monotonic() - started < TIMEOUT + 1.0
        assert_outcome(response, 504, "timeout", "referrals")
        assert (await client.get("/fhir/HealthcareService/camden-crisis-cafe")).status_code == 200


# ------------------------------------------------------------------ the CapabilityStatement


def resources_of(statement: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["type"]: r for r in statement["rest"][0]["resource"]}


async def test_the_capability_statement_merges_the_services_and_names_the_unreachable_ones(
    client: httpx.AsyncClient, network: Network
) -> None:
    response = await client.get("/fhir/metadata")
    assert response.status_code == 200
    assert is_fhir_json(response)
    statement = response.json()
    assert statement["resourceType"] == "CapabilityStatement"
    assert statement["fhirVersion"] == "4.0.1"
    resources = resources_of(statement)
    assert {"Patient", "HealthcareService", "ServiceRequest", "Task"} <= set(resources)
    operations = {o["name"] for o in resources["Task"]["operation"]}
    assert {"accept", "decline", "redirect", "triage", "escalate"} <= operations
    patient_params = {p["name"] for p in resources["Patient"]["searchParam"]}
    assert "identifier" in patient_params
    unreachable = statement["implementation"]["description"].partition("not reachable now:")[2]
    assert "transitions" in unreachable
    assert "careplans" in unreachable
    assert "referrals" not in unreachable
    assert statement["implementation"]["url"] == GATEWAY_BASE

    network.down.add("referrals.internal")
    without = await client.get("/fhir/metadata")
    assert without.status_code == 200
    assert "referrals" in without.json()["implementation"]["description"].partition("not reachable now:")[2]
    assert "ServiceRequest" not in resources_of(without.json())
    assert "Patient" in resources_of(without.json())


# ------------------------------------------------------------------ what the gateway refuses


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/fhir/Spaceship"), ("GET", "/fhir/Spaceship/1"), ("POST", "/fhir/Spaceship")],
)
async def test_an_unknown_resource_type_is_404(client: httpx.AsyncClient, method: str, path: str) -> None:
    content = orjson.dumps({"resourceType": "Spaceship"}) if method == "POST" else None
    response = await client.request(method, path, content=content, headers=FHIR)
    assert_outcome(response, 404, "not-found", "type")


async def test_writing_to_the_read_only_directory_is_405_not_an_unknown_type(client: httpx.AsyncClient) -> None:
    organization = {"resourceType": "Organization", "name": "A new trust"}
    response = await client.post("/fhir/Organization", json=organization, headers=FHIR)
    assert_outcome(response, 405, "not-supported")


def bundle_of(kind: str, *entries: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    """A transaction or batch Bundle of creates."""
    return {
        "resourceType": "Bundle",
        "type": kind,
        "entry": [
            {"fullUrl": f"urn:uuid:{uuid.uuid4()}", "resource": resource, "request": {"method": "POST", "url": url}}
            for url, resource in entries
        ],
    }


GOAL = {
    "resourceType": "Goal",
    "lifecycleStatus": "proposed",
    "description": {"text": "Sleep through the night"},
    "subject": {"reference": "Patient/p-1"},
}


async def episodes_of(client: httpx.AsyncClient, patient: str) -> int:
    total: int = (await client.get("/fhir/EpisodeOfCare", params={"patient": patient})).json()["total"]
    return total


async def test_a_transaction_spanning_two_services_is_refused_saying_it_is_not_supported(
    client: httpx.AsyncClient,
) -> None:
    bundle = bundle_of("transaction", ("EpisodeOfCare", episode()), ("Goal", GOAL))
    response = await client.post("/fhir", json=bundle, headers=FHIR)
    body = assert_outcome(response, 422, "business-rule", "Bundle.entry")
    assert "one service" in body["issue"][0]["diagnostics"]
    assert await episodes_of(client, "Patient/p-1") == 0


async def test_a_bundle_that_is_neither_a_transaction_nor_a_batch_is_400(client: httpx.AsyncClient) -> None:
    bundle = bundle_of("collection", ("EpisodeOfCare", episode()))
    assert_outcome(await client.post("/fhir", json=bundle, headers=FHIR), 400, "invalid", "Bundle.type")


async def test_a_transaction_within_referrals_is_all_or_nothing_through_the_gateway(
    client: httpx.AsyncClient,
) -> None:
    good = bundle_of("transaction", ("EpisodeOfCare", episode()), ("ServiceRequest", referral()))
    response = await client.post("/fhir", json=good, headers=FHIR)
    assert response.status_code == 200, response.text
    assert is_fhir_json(response)
    answer = response.json()
    assert answer["type"] == "transaction-response"
    assert [e["fullUrl"].rsplit("/", 1)[0] for e in answer["entry"]] == [
        f"{GATEWAY_BASE}/EpisodeOfCare",
        f"{GATEWAY_BASE}/ServiceRequest",
    ]
    assert await episodes_of(client, "Patient/p-1") == 1

    orphan = referral(subject="Patient/p-4")  # nobody's caseload: refused (FR-3)
    bad = bundle_of("transaction", ("EpisodeOfCare", episode(patient="Patient/p-3")), ("ServiceRequest", orphan))
    refused = await client.post("/fhir", json=bad, headers=FHIR)
    assert_outcome(refused, 422, None, "Bundle.entry[1]")
    assert await episodes_of(client, "Patient/p-3") == 0


async def test_a_batch_reports_each_entry_when_one_service_is_down(client: httpx.AsyncClient, network: Network) -> None:
    committed: list[dict[str, Any]] = []

    def careplans(request: httpx.Request) -> httpx.Response:
        batch = orjson.loads(request.content)
        committed.extend(batch["entry"])
        answer = {
            "resourceType": "Bundle",
            "type": "batch-response",
            "entry": [
                {"response": {"status": "201 Created", "location": "Goal/g-1/_history/1"}} for _ in batch["entry"]
            ],
        }
        return httpx.Response(200, content=orjson.dumps(answer), headers={"content-type": FHIR_JSON})

    network.attach("careplans.internal", httpx.MockTransport(careplans))
    network.down.add("referrals.internal")
    response = await client.post(
        "/fhir", json=bundle_of("batch", ("Goal", GOAL), ("EpisodeOfCare", episode())), headers=FHIR
    )
    assert len(committed) == 1  # the careplans entry was written
    assert response.status_code == 200, response.text
    entries = response.json()["entry"]
    assert entries[0]["response"]["status"].startswith("201")
    assert entries[1]["response"]["status"].startswith("502")


# ------------------------------------------------------------------ the fan-out merge and its paging

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def task(id_: str, minutes: float) -> dict[str, Any]:
    """A Task as a service stores it, last updated `minutes` after T0."""
    return {
        "resourceType": "Task",
        "id": id_,
        "meta": {"versionId": "1", "lastUpdated": instant(T0 + timedelta(minutes=minutes))},
        "status": "requested",
        "intent": "order",
    }


class FakeService:
    """A service's Task search as services.kit does it: newest first, then id; _count capped at 500."""

    def __init__(self, base: str, tasks: list[dict[str, Any]], max_count: int = 500) -> None:
        self.base = base
        self.tasks = tasks
        self.max_count = max_count
        self.asked: list[dict[str, str]] = []

    def search(self, request: httpx.Request) -> httpx.Response:
        query = dict(request.url.params.multi_items())
        self.asked.append(query)
        if "bogus" in query:
            outcome = {
                "resourceType": "OperationOutcome",
                "issue": [{"severity": "error", "code": "invalid", "diagnostics": "bogus", "expression": ["bogus"]}],
            }
            return httpx.Response(400, content=orjson.dumps(outcome), headers={"content-type": FHIR_JSON})
        count = min(int(query.get("_count", "20")), self.max_count)
        offset = int(query.get("_offset", "0"))
        assert query.get("_sort") in ("-_lastUpdated", "_lastUpdated")
        by_id = sorted(self.tasks, key=lambda t: t["id"])
        newest_first = query["_sort"] == "-_lastUpdated"
        ordered = sorted(by_id, key=lambda t: t["meta"]["lastUpdated"], reverse=newest_first)  # stable: id ascending
        page = ordered[offset : offset + count]
        bundle = {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": len(self.tasks),
            "link": [{"relation": "self", "url": f"{self.base}/Task?_count={count}&_offset={offset}"}],
            "entry": [
                {"fullUrl": f"{self.base}/Task/{t['id']}", "resource": t, "search": {"mode": "match"}} for t in page
            ],
        }
        return httpx.Response(200, content=orjson.dumps(bundle), headers={"content-type": FHIR_JSON})


def fake_services(*stores: tuple[str, list[dict[str, Any]]]) -> tuple[Services, dict[str, FakeService]]:
    fakes = {name: FakeService(f"http://{name}.internal/fhir", tasks) for name, tasks in stores}

    def route(request: httpx.Request) -> httpx.Response:
        return fakes[request.url.host.split(".")[0]].search(request)

    urls = {name: f"http://{name}.internal" for name in fakes}
    return Services(urls, 1.0, httpx.MockTransport(route)), fakes


async def walk(services: Services, count: int, extra: list[tuple[str, str]] | None = None) -> list[dict[str, Any]]:
    """Every page of a merged Task search, following next links from offset 0."""
    pages: list[dict[str, Any]] = []
    query = [*(extra or []), ("_count", str(count)), ("_offset", "0")]
    while True:
        search = parse_search_for_paging(query, 20, 500)
        page = await merged_search(services, tuple(services.urls), "Task", search, query, GATEWAY_BASE)
        pages.append(page)
        next_url = link(page, "next")
        if next_url is None or len(pages) > 50:
            return pages
        assert next_url.startswith(f"{GATEWAY_BASE}/Task?")
        query = parse_qsl(urlsplit(next_url).query)


def check_walk(
    pages: list[dict[str, Any]], expected: list[dict[str, Any]], count: int, newest_first: bool = True
) -> None:
    """Every entry exactly once, in order (newest first unless told), with the right total and links on each page."""
    ids = [e["resource"]["id"] for p in pages for e in p["entry"]]
    assert sorted(ids) == sorted(t["id"] for t in expected), ids
    assert len(ids) == len(set(ids)), ids
    stamps = [e["resource"]["meta"]["lastUpdated"] for p in pages for e in p["entry"]]
    assert stamps == sorted(stamps, reverse=newest_first)
    assert len(pages) == -(-len(expected) // count)
    for number, page in enumerate(pages):
        assert page["resourceType"] == "Bundle"
        assert page["type"] == "searchset"
        assert page["total"] == len(expected)
        offset = number * count
        assert query_of(link(page, "self") or "")["_offset"] == str(offset)
        previous = link(page, "previous")
        if number == 0:
            assert previous is None
        else:
            assert previous is not None
            assert query_of(previous)["_offset"] == str(offset - count)
            assert query_of(previous)["_count"] == str(count)
        assert (link(page, "next") is None) == (number == len(pages) - 1)


async def test_merged_paging_returns_every_entry_once_newest_first_with_total_and_links() -> None:
    a = [task(f"a{i}", minutes) for i, minutes in enumerate((0, 2, 4, 6, 8))]
    b = [task(f"b{i}", minutes) for i, minutes in enumerate((1, 3, 5, 7))]
    services, fakes = fake_services(("referrals", a), ("transitions", b))
    try:
        pages = await walk(services, 2, [("status", "requested")])
    finally:
        await services.close()
    check_walk(pages, a + b, 2)
    first = [e["resource"]["id"] for e in pages[0]["entry"]]
    assert first == ["a4", "b3"]
    assert [e["fullUrl"] for e in pages[0]["entry"]] == [f"{GATEWAY_BASE}/Task/a4", f"{GATEWAY_BASE}/Task/b3"]
    for page in pages:
        assert query_of(link(page, "self") or "")["status"] == "requested"
    assert all(asked["status"] == "requested" for fake in fakes.values() for asked in fake.asked)


async def test_merged_paging_keeps_an_oldest_first_order_on_every_page() -> None:
    a = [task(f"a{i}", minutes) for i, minutes in enumerate((0, 2, 4, 6, 8))]
    b = [task(f"b{i}", minutes) for i, minutes in enumerate((1, 3, 5, 7))]
    services, fakes = fake_services(("referrals", a), ("transitions", b))
    try:
        pages = await walk(services, 2, [("_sort", "_lastUpdated")])
    finally:
        await services.close()
    check_walk(pages, a + b, 2, newest_first=False)
    assert [e["resource"]["id"] for e in pages[0]["entry"]] == ["a0", "b0"]
    assert all(query_of(link(page, "self") or "")["_sort"] == "_lastUpdated" for page in pages)
    assert all(asked["_sort"] == "_lastUpdated" for fake in fakes.values() for asked in fake.asked)


async def test_a_fanned_out_search_sorted_by_one_services_key_is_a_400_not_a_silently_other_order(
    client: httpx.AsyncClient, network: Network
) -> None:
    """`_sort=wait` is the referrals service's own key: across services it cannot be kept, so it is refused."""
    await referral_with_episode(client)
    query = {"owner": "HealthcareService/barnet-psychosis", "status": "requested", "_sort": "wait"}
    assert_outcome(await client.get("/fhir/Task", params=query), 400, "invalid", "_sort")
    narrowed = await client.get("/fhir/Task", params={**query, "code": "referral"})
    assert narrowed.status_code == 200, narrowed.text
    assert narrowed.json()["total"] == 1


async def test_merged_paging_when_one_owner_has_nothing() -> None:
    a = [task(f"a{i}", i) for i in range(3)]
    services, _ = fake_services(("referrals", a), ("transitions", []))
    try:
        check_walk(await walk(services, 2), a, 2)
    finally:
        await services.close()


async def test_merged_paging_returns_every_entry_once_when_entries_share_a_last_updated() -> None:
    a = [task(f"a{i}", 1) for i in range(3)]
    b = [task(f"b{i}", 0) for i in range(2)]
    services, _ = fake_services(("referrals", a), ("transitions", b))
    try:
        check_walk(await walk(services, 2), a + b, 2)
    finally:
        await services.close()


async def test_a_merged_page_past_the_services_page_size_limit_is_not_empty() -> None:
    a = [task(f"a{i:04d}", i) for i in range(510)]
    services, _ = fake_services(("referrals", a), ("transitions", []))
    try:
        query = [("_count", "20"), ("_offset", "500")]
        search = parse_search_for_paging(query, 20, 500)
        page = await merged_search(services, ("referrals", "transitions"), "Task", search, query, GATEWAY_BASE)
    finally:
        await services.close()
    assert page["total"] == 510
    assert [e["resource"]["id"] for e in page["entry"]] == [f"a{i:04d}" for i in range(9, -1, -1)]


async def test_a_fanned_out_search_with_a_bad_parameter_is_the_services_400_not_a_502(
    client: httpx.AsyncClient, network: Network
) -> None:
    fake = FakeService("http://transitions.internal/fhir", [])
    network.attach("transitions.internal", httpx.MockTransport(fake.search))
    response = await client.get("/fhir/Task", params={"bogus": "1"})
    assert_outcome(response, 400, "invalid", "bogus")


async def test_a_malformed_answer_from_one_owner_is_a_502(client: httpx.AsyncClient, network: Network) -> None:
    garbage = httpx.MockTransport(lambda request: httpx.Response(200, content=b"<html>proxy error</html>"))
    network.attach("transitions.internal", garbage)
    assert_outcome(await client.get("/fhir/Task"), 502, "transient")


async def test_an_unreachable_owner_fails_the_merged_search_with_502() -> None:
    a = [task("a0", 0)]

    def route(request: httpx.Request) -> httpx.Response:
        if request.url.host == "transitions.internal":
            raise httpx.ConnectError("down", request=request)
        return FakeService("http://referrals.internal/fhir", a).search(request)

    services = Services(
        {"referrals": REFERRALS, "transitions": "http://transitions.internal"}, 1.0, httpx.MockTransport(route)
    )
    try:
        query = [("_count", "2")]
        with pytest.raises(FhirError) as raised:
            await merged_search(
                services,
                ("referrals", "transitions"),
                "Task",
                parse_search_for_paging(query, 20, 500),
                query,
                GATEWAY_BASE,
            )
    finally:
        await services.close()
    assert raised.value.status == 502


# ------------------------------------------------------------------ the merge end to end


async def _referral_tasks(
    client: httpx.AsyncClient, clock: FixedClock, how_many: int, step_minutes: float
) -> list[dict[str, Any]]:
    await open_episode(client)
    tasks = []
    for _ in range(how_many):
        clock.advance(minutes=step_minutes)
        created = await create_referral(client)
        tasks.append(await task_for(client, created["id"]))
    return tasks


async def _walk_gateway(client: httpx.AsyncClient, count: int) -> list[dict[str, Any]]:
    pages: list[dict[str, Any]] = []
    url: str | None = f"/fhir/Task?_count={count}"
    while url is not None and len(pages) < 50:
        response = await client.get(url)
        assert response.status_code == 200, response.text
        assert is_fhir_json(response)
        pages.append(response.json())
        url = link(pages[-1], "next")
    return pages


async def test_task_search_without_a_code_merges_referrals_and_transitions_page_by_page(
    client: httpx.AsyncClient, network: Network, clock: FixedClock
) -> None:
    ours = await _referral_tasks(client, clock, 3, step_minutes=2)
    start = clock.now()
    theirs = [
        {**task("tr-1", 0), "meta": {"versionId": "1", "lastUpdated": instant(start - timedelta(minutes=3))}},
        {**task("tr-2", 0), "meta": {"versionId": "1", "lastUpdated": instant(start - timedelta(minutes=1))}},
    ]
    network.attach(
        "transitions.internal", httpx.MockTransport(FakeService("http://transitions.internal/fhir", theirs).search)
    )
    pages = await _walk_gateway(client, 2)
    check_walk(pages, ours + theirs, 2)
    assert [e["resource"]["id"] for e in pages[0]["entry"]] == [ours[2]["id"], "tr-2"]
    assert all(e["fullUrl"].startswith(f"{GATEWAY_BASE}/Task/") for p in pages for e in p["entry"])


async def test_task_search_without_a_code_pages_tasks_written_at_the_same_instant_once_each(
    client: httpx.AsyncClient, network: Network, clock: FixedClock
) -> None:
    ours = await _referral_tasks(client, clock, 3, step_minutes=0)
    network.attach(
        "transitions.internal", httpx.MockTransport(FakeService("http://transitions.internal/fhir", []).search)
    )
    check_walk(await _walk_gateway(client, 2), ours, 2)
