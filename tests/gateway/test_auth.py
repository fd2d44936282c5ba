"""Tokens, scopes and object-level authorisation, through the gateway and directly at the service."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from gateway.auth import generate_development_keys, load_clients
from gateway.main import create_app as gateway_app
from gateway.settings import Settings as GatewaySettings
from services.kit.auth import AUDIENCE, ISSUER
from services.kit.clock import FixedClock
from services.kit.testing import assert_outcome, empty_tables
from services.referrals.main import create_app as referrals_app
from services.referrals.persistence.tables import metadata as referrals_metadata
from services.referrals.settings import Settings as ReferralsSettings
from tests.gateway.conftest import CAREPLANS, REFERRALS, TRANSITIONS, Network
from tests.referrals.builders import ACCEPT_WITH_SUPPORT, FHIR, episode, referral

PSYCHOSIS_WORKER = "PractitionerRole/barnet-psychosis-worker"
CORE_WORKER = "PractitionerRole/barnet-core-north-worker"
CAMDEN_WORKER = "PractitionerRole/camden-eip-worker"


@pytest.fixture(scope="session")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = Path(tmp_path_factory.mktemp("keys"))
    generate_development_keys(folder)
    return folder


@pytest.fixture
async def secured(
    keys: Path, referrals_db: str, gateway_url: str, clock: FixedClock
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    """A gateway and a referrals service that both verify tokens; clients for each."""
    public = str(keys / "jwt-public.pem")
    service = referrals_app(
        ReferralsSettings(database_url=referrals_db, run_background_tasks=False, auth_public_key_file=public), clock
    )
    network = Network({"referrals.internal": service})
    gateway = gateway_app(
        GatewaySettings(
            database_url=gateway_url,
            referrals_url=REFERRALS,
            careplans_url=CAREPLANS,
            transitions_url=TRANSITIONS,
            run_background_tasks=False,
            auth_public_key_file=public,
            auth_private_key_file=str(keys / "jwt-private.pem"),
            clients_file=str(keys / "dev-clients.json"),
        ),
        clock,
        transport=network,
    )
    through = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=gateway, raise_app_exceptions=False), base_url="http://gateway.test"
    )
    direct = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=service, raise_app_exceptions=False), base_url="http://referrals.test"
    )
    yield through, direct
    await through.aclose()
    await direct.aclose()
    await empty_tables(service.state.database, referrals_metadata)
    await service.state.database.dispose()
    await gateway.state.services.close()
    await gateway.state.database.dispose()


async def token(client: httpx.AsyncClient, keys: Path, client_id: str, **form: str) -> str:
    secret = load_clients(keys / "dev-clients.json")[client_id].secret
    response = await client.post(
        "/auth/token",
        content=httpx.QueryParams(
            {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret, **form}
        ).__str__(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200, response.text
    value: str = response.json()["access_token"]
    return value


def bearer(value: str) -> dict[str, str]:
    return {**FHIR, "Authorization": f"Bearer {value}"}


async def setup_referral(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    assert (await client.post("/fhir/EpisodeOfCare", json=episode(), headers=headers)).status_code == 201
    created = await client.post("/fhir/ServiceRequest", json=referral(), headers=headers)
    assert created.status_code == 201, created.text
    query = {"focus": f"ServiceRequest/{created.json()['id']}", "code": "referral"}
    tasks = await client.get("/fhir/Task", params=query, headers=headers)
    task: dict[str, Any] = tasks.json()["entry"][0]["resource"]
    return task


async def test_no_token_is_401_at_the_gateway_and_at_the_service(secured: Any) -> None:
    through, direct = secured
    response = await through.get("/fhir/ServiceRequest")
    assert_outcome(response, 401, "login", "Authorization")
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert_outcome(await direct.get("/fhir/ServiceRequest"), 401, "login")


async def test_the_metadata_is_public(secured: Any) -> None:
    through, _ = secured
    assert (await through.get("/fhir/metadata")).status_code == 200


async def test_a_wrong_secret_or_scope_gets_no_token(secured: Any, keys: Path) -> None:
    through, _ = secured
    form = "grant_type=client_credentials&client_id=epr-beh&client_secret=wrong"
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    assert_outcome(await through.post("/auth/token", content=form, headers=headers), 401)
    secret = load_clients(keys / "dev-clients.json")["interface-engineer"].secret
    form = f"grant_type=client_credentials&client_id=interface-engineer&client_secret={secret}&scope=system/*.cruds"
    assert_outcome(await through.post("/auth/token", content=form, headers=headers), 400)


async def test_a_forged_or_expired_token_is_401(secured: Any, keys: Path) -> None:
    through, direct = secured
    other = jwt.encode(
        {"iss": ISSUER, "aud": AUDIENCE, "scope": "system/*.cruds", "exp": int(time.time()) + 60},
        "a-shared-secret-that-is-not-the-signing-key",
        algorithm="HS256",
    )
    assert_outcome(await through.get("/fhir/ServiceRequest", headers=bearer(other)), 401)
    private = (keys / "jwt-private.pem").read_text()
    expired = jwt.encode(
        {"iss": ISSUER, "aud": AUDIENCE, "scope": "system/*.cruds", "exp": int(time.time()) - 60},
        private,
        algorithm="RS256",
    )
    assert_outcome(await direct.get("/fhir/ServiceRequest", headers=bearer(expired)), 401)


async def test_an_interface_engineer_can_validate_but_not_read_patients(secured: Any, keys: Path) -> None:
    """FR-79."""
    through, direct = secured
    engineer = bearer(await token(through, keys, "interface-engineer"))
    validated = await through.post("/fhir/ServiceRequest/$validate", json=referral(), headers=engineer)
    assert validated.status_code == 200
    assert_outcome(await through.get("/fhir/Patient", headers=engineer), 403, "forbidden")
    assert_outcome(await through.get("/fhir/ServiceRequest", headers=engineer), 403, "forbidden")
    assert_outcome(await direct.get("/fhir/ServiceRequest", headers=engineer), 403, "forbidden")


async def test_a_clinician_decides_only_their_own_teams_referrals(secured: Any, keys: Path) -> None:
    """BOLA: a Task owned by another team is 403, through the gateway and directly."""
    through, direct = secured
    system = bearer(await token(through, keys, "epr-beh"))
    task = await setup_referral(through, system)
    camden = bearer(await token(through, keys, "clinician-app", fhir_user=CAMDEN_WORKER))
    etag = {"If-Match": f'W/"{task["meta"]["versionId"]}"'}
    for client in (through, direct):
        refused = await client.post(
            f"/fhir/Task/{task['id']}/$accept", json=ACCEPT_WITH_SUPPORT, headers={**camden, **etag}
        )
        assert_outcome(refused, 403, "forbidden", "Task.owner")
    owner = bearer(await token(through, keys, "clinician-app", fhir_user=PSYCHOSIS_WORKER))
    accepted = await through.post(
        f"/fhir/Task/{task['id']}/$accept", json=ACCEPT_WITH_SUPPORT, headers={**owner, **etag}
    )
    assert accepted.status_code == 200, accepted.text


async def test_a_clinician_cannot_read_a_person_their_team_does_not_know(secured: Any, keys: Path) -> None:
    through, direct = secured
    system = bearer(await token(through, keys, "epr-beh"))
    task = await setup_referral(through, system)
    camden = bearer(await token(through, keys, "clinician-app", fhir_user=CAMDEN_WORKER))
    core = bearer(await token(through, keys, "clinician-app", fhir_user=CORE_WORKER))
    for client in (through, direct):
        assert_outcome(await client.get(f"/fhir/Task/{task['id']}", headers=camden), 403, "forbidden")
        assert_outcome(
            await client.get("/fhir/ServiceRequest", params={"subject": "Patient/p-1"}, headers=camden),
            403,
            "forbidden",
        )
        assert_outcome(await client.get("/fhir/ServiceRequest", headers=camden), 403, "forbidden")
        assert (await client.get(f"/fhir/Task/{task['id']}", headers=core)).status_code == 200
        assert (
            await client.get("/fhir/ServiceRequest", params={"subject": "Patient/p-1"}, headers=core)
        ).status_code == 200


async def test_a_clinician_refers_only_as_themselves(secured: Any, keys: Path) -> None:
    through, _ = secured
    system = bearer(await token(through, keys, "epr-beh"))
    assert (await through.post("/fhir/EpisodeOfCare", json=episode(), headers=system)).status_code == 201
    other = bearer(await token(through, keys, "clinician-app", fhir_user="PractitionerRole/barnet-core-north-worker-2"))
    response = await through.post("/fhir/ServiceRequest", json=referral(), headers=other)
    assert_outcome(response, 403, "forbidden", "ServiceRequest.requester")


async def test_internal_event_endpoints_need_a_service_token(secured: Any, keys: Path) -> None:
    _, direct = secured
    epr = bearer(await token(secured[0], keys, "epr-beh"))
    response = await direct.post("/internal/events", json={"id": "e1", "type": "patient-upserted"}, headers=epr)
    assert_outcome(response, 403, "forbidden")
