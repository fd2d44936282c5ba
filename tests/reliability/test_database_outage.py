"""Item 5: the database stops: 503 OperationOutcome with Retry-After, no hang, no 500; back without a restart.

PostgreSQL only (SQLite is a file, it cannot stop). The machine's server is shared, so each process
reaches its database through a TCP proxy (`tcp_proxy.TcpProxy`) that the test cuts, as a stopping
server would: open connections are closed and new ones refused. The same app object answers
before, during and after the outage.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.engine import make_url

from gateway.main import create_app as gateway_app
from gateway.settings import Settings as GatewaySettings
from services.careplans.main import create_app as careplans_app
from services.careplans.main import publish_definitions
from services.careplans.settings import Settings as CareplansSettings
from services.kit.clock import FixedClock
from services.kit.db import Database
from services.kit.testing import assert_outcome, empty_tables
from services.referrals.main import create_app as referrals_app
from services.referrals.settings import Settings as ReferralsSettings
from services.transitions.main import create_app as transitions_app
from services.transitions.settings import Settings as TransitionsSettings
from tests.e2e.conftest import nhs_number, patient
from tests.gateway.conftest import CAREPLANS, GATEWAY, REFERRALS, TRANSITIONS, Network, _forget_gateway_records
from tests.referrals.builders import episode
from tests.reliability.conftest import FHIR, METADATA
from tests.reliability.tcp_proxy import TcpProxy

NO_HANG_SECONDS = 10.0
RETRY_AFTER = 7

Request = Callable[[httpx.AsyncClient], Awaitable[httpx.Response]]


def _get(path: str) -> Request:
    async def send(client: httpx.AsyncClient) -> httpx.Response:
        return await client.get(path)

    return send


def _post(path: str, body: Callable[[], dict[str, Any]]) -> Request:
    async def send(client: httpx.AsyncClient) -> httpx.Response:
        return await client.post(path, json=body(), headers=FHIR)

    return send


# What each process is asked while its database is away: a health check, a read or search, a write.
REQUESTS: dict[str, list[tuple[Request, int]]] = {
    "referrals": [
        (_get("/health"), 200),
        (_get("/fhir/ServiceRequest"), 200),
        (_post("/fhir/EpisodeOfCare", episode), 201),
    ],
    "careplans": [(_get("/health"), 200), (_get("/fhir/CarePlan"), 200), (_get("/fhir/Questionnaire"), 200)],
    "transitions": [(_get("/health"), 200), (_get("/fhir/Task"), 200)],
    "gateway": [
        (_get("/health"), 200),
        (_get("/fhir/HealthcareService/barnet-psychosis"), 200),
        (_post("/fhir/Patient", lambda: patient(nhs_number(950_000_000))), 201),
    ],
}


@pytest.fixture
def postgres(engine: str) -> None:
    """These tests stop a database server: PostgreSQL only."""
    if engine != "postgres":
        pytest.skip("a SQLite database is a file; it cannot stop")


@pytest.fixture
async def proxy(postgres: None, database_urls: dict[str, str]) -> AsyncIterator[TcpProxy]:
    """A proxy in front of the PostgreSQL server the test databases live on."""
    url = make_url(database_urls["referrals"])
    running = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    await running.start()
    yield running
    await running.close()


def _through(url: str, proxy: TcpProxy) -> str:
    return make_url(url).set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)


async def _build(name: str, database_urls: dict[str, str], proxy: TcpProxy) -> FastAPI:
    url = _through(database_urls[name], proxy)
    common: dict[str, Any] = {"database_url": url, "run_background_tasks": False, "retry_after_seconds": RETRY_AFTER}
    clock = FixedClock()
    if name == "referrals":
        return referrals_app(ReferralsSettings(**common), clock)
    if name == "careplans":
        app = careplans_app(CareplansSettings(**common), clock)
        await publish_definitions(app)
        return app
    if name == "transitions":
        return transitions_app(TransitionsSettings(gateway_url=GATEWAY, **common), clock, Network({}))
    settings = GatewaySettings(
        referrals_url=REFERRALS,
        careplans_url=CAREPLANS,
        transitions_url=TRANSITIONS,
        upstream_timeout_seconds=5,
        **common,
    )
    return gateway_app(settings, clock, transport=Network({}))


async def _forget(name: str, url: str) -> None:
    """Delete what the test wrote, so the other reliability tests on this database start clean."""
    database = Database(url)
    try:
        if name == "gateway":
            await _forget_gateway_records(database)
        else:
            await empty_tables(database, METADATA[name])
    finally:
        await database.dispose()


async def _answer(client: httpx.AsyncClient, request: Request) -> httpx.Response:
    """The response, which must come within NO_HANG_SECONDS."""
    return await asyncio.wait_for(request(client), NO_HANG_SECONDS)


@pytest.mark.parametrize("name", list(REQUESTS))
async def test_a_stopped_database_is_503_with_retry_after_and_recovers_without_restart(
    name: str, proxy: TcpProxy, database_urls: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    app = await _build(name, database_urls, proxy)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://service.test") as client:
            for request, status in REQUESTS[name]:  # the pool holds live connections before the outage
                assert (await _answer(client, request)).status_code == status

            await proxy.cut()
            with caplog.at_level(logging.CRITICAL):
                for _ in range(2):  # the pooled connections die, then new ones are refused
                    for request, _status in REQUESTS[name]:
                        response = await _answer(client, request)
                        assert_outcome(response, 503, "transient")
                        assert response.headers["retry-after"] == str(RETRY_AFTER)

            await proxy.restore()
            for request, status in REQUESTS[name]:
                response = await _answer(client, request)
                assert response.status_code == status, response.text
    finally:
        await app.state.database.dispose()
        await _forget(name, database_urls[name])


async def test_a_service_whose_database_stopped_is_503_with_retry_after_through_the_gateway(
    proxy: TcpProxy, database_urls: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    referrals = await _build("referrals", database_urls, proxy)
    gateway = gateway_app(
        GatewaySettings(
            database_url=database_urls["gateway"],
            referrals_url=REFERRALS,
            careplans_url=CAREPLANS,
            transitions_url=TRANSITIONS,
            run_background_tasks=False,
        ),
        FixedClock(),
        transport=Network({"referrals.internal": referrals}),
    )
    transport = httpx.ASGITransport(app=gateway, raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url=GATEWAY) as client:
            assert (await _answer(client, _get("/fhir/ServiceRequest"))).status_code == 200
            await proxy.cut()
            with caplog.at_level(logging.CRITICAL):
                response = await _answer(client, _post("/fhir/EpisodeOfCare", episode))
            assert_outcome(response, 503, "transient")
            assert response.headers["retry-after"] == str(RETRY_AFTER)
            await proxy.restore()
            assert (await _answer(client, _post("/fhir/EpisodeOfCare", episode))).status_code == 201
    finally:
        await referrals.state.database.dispose()
        await _forget("referrals", database_urls["referrals"])
        await gateway.state.services.close()
        await gateway.state.database.dispose()
