"""Gateway fixtures: the gateway and the referrals service in-process, each on its own database."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import delete

from gateway.auth import generate_development_keys
from gateway.events import ensure_internal_subscriptions
from gateway.main import create_app as gateway_app
from gateway.settings import Settings as GatewaySettings
from gateway.tables import metadata as gateway_metadata
from services.kit.clock import FixedClock
from services.kit.db import Database
from services.kit.testing import empty_tables, migrated_database
from services.referrals.main import create_app as referrals_app
from services.referrals.persistence.tables import metadata as referrals_metadata
from services.referrals.settings import Settings as ReferralsSettings

REFERRALS = "http://referrals.internal"
CAREPLANS = "http://careplans.internal"
TRANSITIONS = "http://transitions.internal"
GATEWAY = "http://gateway.test"
GATEWAY_BASE = f"{GATEWAY}/fhir"

# What a gateway test may change about the gateway's settings (keyword arguments of GatewaySettings).
GatewayFactory = Callable[..., Awaitable[Any]]


class Network(httpx.AsyncBaseTransport):
    """Routes requests by host to in-process apps; hosts not present are down (connection refused)."""

    def __init__(self, apps: dict[str, Any]) -> None:
        self.apps: dict[str, httpx.AsyncBaseTransport] = {
            host: httpx.ASGITransport(app=app, raise_app_exceptions=False) for host, app in apps.items()
        }
        self.down: set[str] = set()

    def attach(self, host: str, app_or_transport: Any) -> None:
        """Put another host on the network: an ASGI app, or any httpx transport (a MockTransport)."""
        if isinstance(app_or_transport, httpx.AsyncBaseTransport):
            self.apps[host] = app_or_transport
        else:
            self.apps[host] = httpx.ASGITransport(app=app_or_transport, raise_app_exceptions=False)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        if host in self.down or host not in self.apps:
            raise httpx.ConnectError(f"{host} is down", request=request)
        return await self.apps[host].handle_async_request(request)


@pytest.fixture(scope="session")
async def gateway_url(engine: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    async with migrated_database("gateway", engine, Path(tmp_path_factory.mktemp(f"gw-{engine}"))) as url:
        yield url


@pytest.fixture(scope="session")
async def referrals_db(engine: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    async with migrated_database("referrals", engine, Path(tmp_path_factory.mktemp(f"ref-{engine}"))) as url:
        yield url


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
async def referrals(referrals_db: str, clock: FixedClock) -> AsyncIterator[Any]:
    app = referrals_app(ReferralsSettings(database_url=referrals_db, run_background_tasks=False), clock)
    yield app
    await empty_tables(app.state.database, referrals_metadata)
    await app.state.database.dispose()


@pytest.fixture
def network(referrals: Any) -> Network:
    return Network({"referrals.internal": referrals})


async def _forget_gateway_records(database: Database) -> None:
    """Delete what tests write at the gateway, keeping the seeded directory."""
    written = (
        "patient",
        "patient_identifier",
        "audit_event",
        "subscription",
        "consent",
        "flag",
        "event_log",
        "delivery",
    )
    async with database.session(writing=True) as session:
        for name in (*written, "idempotency"):
            if name in gateway_metadata.tables:
                await session.execute(delete(gateway_metadata.tables[name]))
        history = gateway_metadata.tables["resource_history"]
        await session.execute(
            delete(history).where(history.c.resource_type.in_(["Patient", "AuditEvent", "Subscription", "Consent"]))
        )
        await session.commit()


@pytest.fixture
async def make_gateway(gateway_url: str, clock: FixedClock, network: Network) -> AsyncIterator[GatewayFactory]:
    """Build gateway apps on the test database; `transport` and any GatewaySettings field may be given."""
    apps: list[Any] = []

    async def make(transport: httpx.AsyncBaseTransport | None = None, **overrides: Any) -> Any:
        values: dict[str, Any] = {
            "database_url": gateway_url,
            "referrals_url": REFERRALS,
            "careplans_url": CAREPLANS,
            "transitions_url": TRANSITIONS,
            "run_background_tasks": False,
            "upstream_timeout_seconds": 2.0,
            **overrides,
        }
        settings = GatewaySettings(**values)
        app = gateway_app(settings, clock, transport=transport or network)
        await ensure_internal_subscriptions(app.state.database, {"referrals": settings.referrals_url}, clock.now())
        apps.append(app)
        return app

    yield make
    if apps:
        await _forget_gateway_records(apps[0].state.database)
    for app in apps:
        await app.state.services.close()
        await app.state.database.dispose()


@pytest.fixture
async def gateway(make_gateway: GatewayFactory) -> Any:
    return await make_gateway()


@asynccontextmanager
async def client_for(app: Any, base_url: str = GATEWAY) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to an app in-process."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url=base_url) as c:
        yield c


@pytest.fixture
async def client(gateway: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(gateway) as c:
        yield c


@pytest.fixture
async def referrals_client(referrals: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A client talking to the referrals service directly (what the gateway proxies)."""
    async with client_for(referrals, REFERRALS) as c:
        yield c


@pytest.fixture(scope="session")
def dev_keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A signing key pair and client secrets, generated once (as `make run` does into var/)."""
    folder = Path(tmp_path_factory.mktemp("gateway-keys"))
    generate_development_keys(folder)
    return folder


def client_secret(keys: Path, client_id: str) -> str:
    """A development client's secret."""
    secret: str = json.loads((keys / "dev-clients.json").read_text())[client_id]["secret"]
    return secret


_ = empty_tables
