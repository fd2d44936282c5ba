"""Conformance fixtures: the referrals, care-plans, transitions and gateway apps in-process, each on
its own migrated database (per engine), joined as the gateway tests join them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from gateway.main import create_app as gateway_app
from gateway.settings import Settings as GatewaySettings
from services.careplans.main import create_app as careplans_app
from services.careplans.main import publish_definitions
from services.careplans.persistence.tables import metadata as careplans_metadata
from services.careplans.settings import Settings as CareplansSettings
from services.kit.clock import FixedClock
from services.kit.testing import empty_tables, migrated_database
from services.referrals.main import create_app as referrals_app
from services.referrals.persistence.tables import metadata as referrals_metadata
from services.referrals.settings import Settings as ReferralsSettings
from services.transitions.main import create_app as transitions_app
from services.transitions.persistence.tables import metadata as transitions_metadata
from services.transitions.settings import Settings as TransitionsSettings
from tests.gateway.conftest import Network, _forget_gateway_records
from tests.transitions.fakes import GATEWAY as FAKE_GATEWAY
from tests.transitions.fakes import FakeGateway


@pytest.fixture(scope="session")
async def conformance_referrals_db(engine: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """A referrals database, once per engine."""
    async with migrated_database("referrals", engine, Path(tmp_path_factory.mktemp(f"cf-ref-{engine}"))) as url:
        yield url


@pytest.fixture(scope="session")
async def conformance_careplans_db(engine: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """A care-plans database, once per engine."""
    async with migrated_database("careplans", engine, Path(tmp_path_factory.mktemp(f"cf-cp-{engine}"))) as url:
        yield url


@pytest.fixture(scope="session")
async def conformance_transitions_db(engine: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """A transitions database, once per engine."""
    async with migrated_database("transitions", engine, Path(tmp_path_factory.mktemp(f"cf-tr-{engine}"))) as url:
        yield url


@pytest.fixture(scope="session")
async def conformance_gateway_db(engine: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """A gateway database (with the seeded directory), once per engine."""
    async with migrated_database("gateway", engine, Path(tmp_path_factory.mktemp(f"cf-gw-{engine}"))) as url:
        yield url


@pytest.fixture
def clock() -> FixedClock:
    """Monday 5 January 2026, 09:00 UTC (the examples' dates are relative to it)."""
    return FixedClock()


@pytest.fixture
async def referrals(conformance_referrals_db: str, clock: FixedClock) -> AsyncIterator[FastAPI]:
    """The referrals service; its tables are emptied after each test."""
    app = referrals_app(ReferralsSettings(database_url=conformance_referrals_db, run_background_tasks=False), clock)
    yield app
    await empty_tables(app.state.database, referrals_metadata)
    await app.state.database.dispose()


@pytest.fixture
async def careplans(conformance_careplans_db: str, clock: FixedClock) -> AsyncIterator[FastAPI]:
    """The care-plans service with the DIALOG Questionnaire published; emptied after each test."""
    app = careplans_app(CareplansSettings(database_url=conformance_careplans_db, run_background_tasks=False), clock)
    await publish_definitions(app)
    yield app
    await empty_tables(app.state.database, careplans_metadata)
    await app.state.database.dispose()


@pytest.fixture
def transitions_gateway() -> FakeGateway:
    """The gateway as the transitions service sees it: the examples' young person is on a CYPMHS caseload."""
    gateway = FakeGateway()
    gateway.young_person("example-patient")
    return gateway


@pytest.fixture
async def transitions(
    conformance_transitions_db: str, clock: FixedClock, transitions_gateway: FakeGateway
) -> AsyncIterator[FastAPI]:
    """The transitions service, with the gateway it calls faked; emptied after each test."""
    settings = TransitionsSettings(
        database_url=conformance_transitions_db, gateway_url=FAKE_GATEWAY, run_background_tasks=False
    )
    app = transitions_app(settings, clock, transitions_gateway.transport)
    yield app
    await empty_tables(app.state.database, transitions_metadata)
    await app.state.database.dispose()


def _gateway_settings(database_url: str) -> GatewaySettings:
    return GatewaySettings(
        database_url=database_url,
        referrals_url="http://referrals.internal",
        careplans_url="http://careplans.internal",
        transitions_url="http://transitions.internal",
        run_background_tasks=False,
        upstream_timeout_seconds=2.0,
    )


@pytest.fixture
def network(referrals: FastAPI, careplans: FastAPI, transitions: FastAPI) -> Network:
    """The three services, as the gateway reaches them."""
    return Network(
        {"referrals.internal": referrals, "careplans.internal": careplans, "transitions.internal": transitions}
    )


@pytest.fixture
async def full_gateway(conformance_gateway_db: str, network: Network, clock: FixedClock) -> AsyncIterator[Any]:
    """The gateway with all three services behind it."""
    app = gateway_app(_gateway_settings(conformance_gateway_db), clock, transport=network)
    yield app
    await _forget_gateway_records(app.state.database)
    await app.state.services.close()
    await app.state.database.dispose()


@pytest.fixture
async def gateway(conformance_gateway_db: str, referrals: FastAPI, clock: FixedClock) -> AsyncIterator[Any]:
    """The gateway, with the referrals service behind it (BaRS messages create referrals there)."""
    settings = GatewaySettings(
        database_url=conformance_gateway_db,
        referrals_url="http://referrals.internal",
        careplans_url="http://careplans.internal",
        transitions_url="http://transitions.internal",
        run_background_tasks=False,
        upstream_timeout_seconds=2.0,
    )
    app = gateway_app(settings, clock, transport=Network({"referrals.internal": referrals}))
    yield app
    await _forget_gateway_records(app.state.database)
    await app.state.services.close()
    await app.state.database.dispose()


async def _client(app: Any, base_url: str) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url=base_url) as c:
        yield c


@pytest.fixture
async def referrals_client(referrals: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the referrals service."""
    async for c in _client(referrals, "http://referrals.test"):
        yield c


@pytest.fixture
async def careplans_client(careplans: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the care-plans service."""
    async for c in _client(careplans, "http://careplans.test"):
        yield c


@pytest.fixture
async def full_gateway_client(full_gateway: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the gateway with all three services behind it."""
    async for c in _client(full_gateway, "http://gateway.test"):
        yield c


@pytest.fixture
async def transitions_client(transitions: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the transitions service."""
    async for c in _client(transitions, "http://transitions.test"):
        yield c


@pytest.fixture
async def gateway_client(gateway: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the gateway."""
    async for c in _client(gateway, "http://gateway.test"):
        yield c
