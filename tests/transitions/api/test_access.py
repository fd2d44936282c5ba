"""Tokens and object-level access (FR-79): a clinician works on their own team's transition cases."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.auth import TokenIssuer, generate_development_keys, load_clients
from services.kit.clock import FixedClock
from services.kit.db import Database
from services.kit.testing import assert_outcome, empty_tables
from services.transitions.main import create_app
from services.transitions.persistence.tables import metadata
from services.transitions.settings import Settings
from tests.transitions.builders import DISCUSSION, FHIR, PATIENT, WORKER, params
from tests.transitions.fakes import GATEWAY, FakeGateway


@pytest.fixture(scope="session")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = Path(tmp_path_factory.mktemp("transitions-keys"))
    generate_development_keys(folder)
    return folder


@pytest.fixture
async def secured(transitions_url: str, keys: Path, gateway: FakeGateway) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(
        database_url=transitions_url,
        gateway_url=GATEWAY,
        run_background_tasks=False,
        auth_public_key_file=str(keys / "jwt-public.pem"),
    )
    app = create_app(settings, FixedClock(), gateway.transport)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False), base_url="http://transitions.test"
    ) as client:
        yield client
    database: Database = app.state.database
    await empty_tables(database, metadata)
    await database.dispose()


def token(keys: Path, client_id: str, fhir_user: str | None = None) -> dict[str, str]:
    issuer = TokenIssuer((keys / "jwt-private.pem").read_text(), load_clients(keys / "dev-clients.json"))
    client = issuer.clients[client_id]
    grant: dict[str, Any] = issuer.issue(client, client.scopes, fhir_user)
    return {"Authorization": f"Bearer {grant['access_token']}"}


async def test_requests_need_a_valid_token(secured: httpx.AsyncClient, keys: Path) -> None:
    assert_outcome(await secured.get("/fhir/Task"), 401, "login", "Authorization")
    assert (await secured.get("/fhir/metadata")).status_code == 200
    assert (await secured.get("/fhir/Task", headers=token(keys, "epr-beh"))).status_code == 200
    response = await secured.post("/internal/events", json={"id": "x"}, headers=token(keys, "epr-beh"))
    assert_outcome(response, 403, "forbidden", "Authorization")


async def test_a_clinician_acts_only_on_their_own_teams_cases(
    secured: httpx.AsyncClient, keys: Path, gateway: FakeGateway
) -> None:
    gateway.young_person()
    system = token(keys, "epr-beh")
    cypmhs = token(keys, "clinician-app", WORKER)
    transitions = token(keys, "clinician-app", "PractitionerRole/barnet-transitions-worker")
    stranger = token(keys, "clinician-app", "PractitionerRole/enfield-cypmhs-worker")
    body = params(patient=PATIENT, referringWorker=WORKER)
    response = await secured.post("/fhir/Task/$open-transition", json=body, headers={**FHIR, **stranger})
    assert_outcome(response, 403, "forbidden", "Authorization")
    response = await secured.post("/fhir/Task/$open-transition", json=body, headers={**FHIR, **cypmhs})
    assert response.status_code == 201, response.text
    case = response.json()
    headers = {**FHIR, "If-Match": 'W/"1"'}
    response = await secured.post(
        f"/fhir/Task/{case['id']}/$record-discussion", json=DISCUSSION, headers={**headers, **stranger}
    )
    assert_outcome(response, 403, "forbidden", "Task.owner")
    assert_outcome(await secured.get(f"/fhir/Task/{case['id']}", headers=stranger), 403, "forbidden")
    assert (await secured.get(f"/fhir/Task/{case['id']}", headers=transitions)).status_code == 200
    response = await secured.post(
        f"/fhir/Task/{case['id']}/$record-discussion", json=DISCUSSION, headers={**headers, **cypmhs}
    )
    assert response.status_code == 200, response.text
    changed_by = [e for e in response.json()["extension"] if e["url"].endswith("changed-by")]
    assert changed_by == [
        {
            "url": "https://continuum.example.org/fhir/StructureDefinition/changed-by",
            "valueReference": {"reference": WORKER},
        }
    ]
    assert (await secured.get("/fhir/Task", params={"subject": PATIENT}, headers=system)).json()["total"] == 3
    assert (await secured.get("/fhir/Task", params={"subject": PATIENT}, headers=cypmhs)).status_code == 200
    response = await secured.get("/fhir/Task", params={"subject": PATIENT}, headers=stranger)
    assert_outcome(response, 403, "forbidden", "subject")
    assert_outcome(await secured.get("/fhir/Task", headers=cypmhs), 403, "forbidden", "Authorization")


async def test_a_clinicians_worklist_is_their_own_teams(
    secured: httpx.AsyncClient, keys: Path, gateway: FakeGateway
) -> None:
    gateway.young_person()
    cypmhs = token(keys, "clinician-app", WORKER)
    response = await secured.get("/fhir/Task/$transition-worklist", headers=cypmhs)
    assert_outcome(response, 403, "forbidden", "Authorization")
    response = await secured.get("/fhir/Task/$transition-worklist", params={"service": "barnet-cypmhs"}, headers=cypmhs)
    assert response.status_code == 200
    transitions = token(keys, "clinician-app", "PractitionerRole/barnet-transitions-worker")
    response = await secured.get("/fhir/Task/$transition-worklist", params={"borough": "barnet"}, headers=transitions)
    assert response.json()["parameter"][0]["valueInteger"] == 1
