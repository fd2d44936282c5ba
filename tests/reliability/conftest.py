"""Fixtures of the reliability tests: the whole deployment in-process, on SQLite and PostgreSQL.

`deployment` builds the gateway and the three services as ASGI apps joined by an in-process
network (the gateway reaches the services, and transitions reaches the gateway, by host name),
each on its own migrated database. With `secured=True` every process verifies tokens issued by the
gateway's token endpoint, as in production. Tests that need real processes use `tests/e2e`'s
`stack` fixture, re-exported here (one running stack for the whole reliability folder).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import MetaData

from gateway.auth import generate_development_keys
from gateway.events import ensure_internal_subscriptions
from gateway.main import create_app as gateway_app
from gateway.settings import Settings as GatewaySettings
from gateway.tables import metadata as gateway_metadata
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
from tests.e2e.conftest import _every_process_running, stack
from tests.gateway.conftest import CAREPLANS, GATEWAY, REFERRALS, TRANSITIONS, Network, _forget_gateway_records

__all__ = ["_every_process_running", "stack"]  # the real processes of tests/e2e, for the slow tests here

SERVICES = ("referrals", "careplans", "transitions")
PROCESSES = ("gateway", *SERVICES)
FHIR = {"Content-Type": "application/fhir+json"}
BASES = {"gateway": GATEWAY, "referrals": REFERRALS, "careplans": CAREPLANS, "transitions": TRANSITIONS}
"""Where each process is on the in-process network."""
METADATA: dict[str, MetaData] = {
    "referrals": referrals_metadata,
    "careplans": careplans_metadata,
    "transitions": transitions_metadata,
    "gateway": gateway_metadata,
}


@pytest.fixture(scope="session")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The gateway's signing key pair and the development clients' secrets."""
    folder = Path(tmp_path_factory.mktemp("reliability-keys"))
    generate_development_keys(folder)
    return folder


@pytest.fixture(scope="session")
async def database_urls(engine: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[dict[str, str]]:
    """A migrated database for each process, once per engine."""
    workdir = Path(tmp_path_factory.mktemp(f"reliability-{engine}"))
    urls: dict[str, str] = {}
    contexts = [migrated_database(name, engine, workdir) for name in PROCESSES]
    try:
        for name, context in zip(PROCESSES, contexts, strict=True):
            urls[name] = await context.__aenter__()
        yield urls
    finally:
        for name, context in zip(PROCESSES, contexts, strict=True):
            if name in urls:
                await context.__aexit__(None, None, None)


@dataclass
class Deployment:
    """The four processes in-process: apps by name, the network joining them, and clients."""

    apps: dict[str, FastAPI]
    network: Network
    keys: Path
    clock: FixedClock
    _clients: list[httpx.AsyncClient] = field(default_factory=list)

    @property
    def gateway(self) -> FastAPI:
        """The gateway app."""
        return self.apps["gateway"]

    def client(self, name: str = "gateway", token: str | None = None) -> httpx.AsyncClient:
        """An HTTP client for one process (closed with the deployment)."""
        base = BASES[name]
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        transport = httpx.ASGITransport(app=self.apps[name], raise_app_exceptions=False)
        client = httpx.AsyncClient(transport=transport, base_url=base, headers=headers, timeout=30.0)
        self._clients.append(client)
        return client

    def secret(self, client_id: str) -> str:
        """A development client's secret."""
        secret: str = json.loads((self.keys / "dev-clients.json").read_text())[client_id]["secret"]
        return secret

    async def token(self, client_id: str, **form: str) -> str:
        """An access token from the gateway's token endpoint."""
        body = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": self.secret(client_id)}
        transport = httpx.ASGITransport(app=self.gateway, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url=GATEWAY) as client:
            response = await client.post("/auth/token", data={**body, **form})
        assert response.status_code == 200, response.text
        value: str = response.json()["access_token"]
        return value


DeploymentFactory = Callable[..., Awaitable[Deployment]]


def _calls_gateway(name: str, keys: Path | None) -> dict[str, Any]:
    """A service's own credentials for calling the gateway (when tokens are checked)."""
    if keys is None:
        return {}
    secret = json.loads((keys / "dev-clients.json").read_text())[name]["secret"]
    return {"token_url": f"{GATEWAY}/auth/token", "client_id": name, "client_secret": secret}


@pytest.fixture
async def make_deployment(database_urls: dict[str, str], keys: Path) -> AsyncIterator[DeploymentFactory]:
    """Build the deployment; `secured` turns token checks on, `gateway` overrides GatewaySettings fields."""
    built: list[Deployment] = []

    async def make(secured: bool = False, gateway: dict[str, Any] | None = None) -> Deployment:
        clock = FixedClock()
        auth: dict[str, Any] = {"auth_public_key_file": str(keys / "jwt-public.pem")} if secured else {}
        common: dict[str, Any] = {"run_background_tasks": False, **auth}
        network = Network({})
        apps: dict[str, FastAPI] = {
            "referrals": referrals_app(ReferralsSettings(database_url=database_urls["referrals"], **common), clock),
            "careplans": careplans_app(CareplansSettings(database_url=database_urls["careplans"], **common), clock),
            "transitions": transitions_app(
                TransitionsSettings(
                    database_url=database_urls["transitions"],
                    gateway_url=GATEWAY,
                    **common,
                    **_calls_gateway("transitions", keys if secured else None),
                ),
                clock,
                network,
            ),
        }
        issuer: dict[str, Any] = (
            {
                "auth_private_key_file": str(keys / "jwt-private.pem"),
                "clients_file": str(keys / "dev-clients.json"),
            }
            if secured
            else {}
        )
        apps["gateway"] = gateway_app(
            GatewaySettings(
                database_url=database_urls["gateway"],
                referrals_url=REFERRALS,
                careplans_url=CAREPLANS,
                transitions_url=TRANSITIONS,
                upstream_timeout_seconds=5.0,
                **common,
                **issuer,
                **(gateway or {}),
            ),
            clock,
            transport=network,
        )
        for name, app in apps.items():
            network.attach(httpx.URL(BASES[name]).host, app)
        await publish_definitions(apps["careplans"])
        await ensure_internal_subscriptions(
            apps["gateway"].state.database,
            {"referrals": REFERRALS, "careplans": CAREPLANS, "transitions": TRANSITIONS},
            clock.now(),
        )
        deployment = Deployment(apps, network, keys, clock)
        built.append(deployment)
        return deployment

    yield make
    for deployment in built:
        for client in deployment._clients:
            await client.aclose()
        for name, app in deployment.apps.items():
            if name == "gateway":
                await _forget_gateway_records(app.state.database)
                await app.state.services.close()
            else:
                await empty_tables(app.state.database, METADATA[name])
            await app.state.database.dispose()
