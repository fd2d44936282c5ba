"""Browser fixtures: the e2e processes (gateway, referrals ...) plus the clinicians' client, and Chromium.

The stack comes from `tests.e2e.conftest` (real processes on free ports, migrated SQLite, generated
keys). The client is started the same way, pointed at that gateway and that keys folder. Pages are
driven by Debian's `chromium` in headless mode from the command line (`--dump-dom`,
`--screenshot`); Playwright is not a dependency of this project. Tests skip, saying why, only
when no Chromium binary can be found.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import (
    FHIR,
    ClosedPort,
    Service,
    Stack,
    _every_process_running,
    build_stack,
    created,
    free_port,
    nhs_number,
    patient,
)

__all__ = ["_every_process_running"]

SCREENSHOTS = Path(__file__).parent / "screenshots"
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMIUM_TIMEOUT_SECONDS = 60
START_TIMEOUT_SECONDS = 120.0


def find_chromium() -> str | None:
    """Chromium's path: CHROMIUM_BINARY, then the usual names on PATH, then /usr/bin/chromium."""
    configured = os.environ.get("CHROMIUM_BINARY")
    if configured and Path(configured).exists():
        return configured
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


@dataclass
class Browser:
    """Headless Chromium run once per page, each time with a fresh profile."""

    binary: str

    def run(self, url: str, *extra: str) -> str:
        """Load `url` (following redirects and form submissions for up to 5 s of virtual time)."""
        with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
            command = [
                self.binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--no-first-run", "--hide-scrollbars", f"--user-data-dir={profile}",
                "--virtual-time-budget=5000", "--window-size=1280,1800", *extra, url,
            ]  # fmt: skip
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=CHROMIUM_TIMEOUT_SECONDS, check=False
            )
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout

    def dom(self, url: str) -> str:
        """The DOM after the page (and whatever it submitted) has loaded."""
        return self.run(url, "--dump-dom")

    def screenshot(self, url: str, name: str) -> Path:
        """A PNG of the page under tests/browser/screenshots/."""
        SCREENSHOTS.mkdir(exist_ok=True)
        path = SCREENSHOTS / name
        path.unlink(missing_ok=True)
        self.run(url, f"--screenshot={path}")
        assert path.exists(), f"no screenshot at {path}"
        assert path.stat().st_size > 0, f"empty screenshot at {path}"
        return path


@pytest.fixture(scope="session")
def browser() -> Browser:
    """Chromium, or a skip that says why."""
    binary = find_chromium()
    if binary is None:
        pytest.skip("Chromium not found (install Debian's `chromium` package or set CHROMIUM_BINARY)")
    return Browser(binary)


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The e2e processes (tests.e2e.conftest.build_stack), given longer to start: four processes
    plus Chromium share the machine here, and a loaded CI runner can take more than the e2e suite's 30 s."""
    down = ClosedPort()
    started = build_stack(Path(tmp_path_factory.mktemp("browser-stack")), down)
    try:
        for service in started.services.values():
            service.start()
        for service in started.services.values():
            service.wait_until_healthy(START_TIMEOUT_SECONDS)
        yield started
    finally:
        started.stop()
        down.close()


@pytest.fixture(scope="session")
def client_app(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """The clinicians' client as a real process, joined to the stack's gateway and keys."""
    workdir = Path(tmp_path_factory.mktemp("client"))
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("CLIENT_")}
    env = {
        **inherited,
        "CLIENT_GATEWAY_URL": stack.gateway.url,
        "CLIENT_CLIENTS_FILE": str(stack.clients_file),
    }
    service = Service("client", "client.main:create_app", free_port(), env, workdir / "none.db", workdir / "client.log")
    service.start()
    try:
        service.wait_until_healthy(START_TIMEOUT_SECONDS)
        yield service
    finally:
        service.stop()


@dataclass(frozen=True)
class Referral:
    """A referral sent by the Barnet core team (north) to the psychosis team, and its Task."""

    referral_id: str
    task_id: str
    patient_id: str


def send_referral(stack: Stack, reason: str = "Persistent psychotic symptoms despite core team support") -> Referral:
    """Register a person, put them on the core team's caseload and refer them (as an EPR does)."""
    with stack.client(stack.token("epr-beh")) as epr:
        person: dict[str, Any] = created(epr.post("/fhir/Patient", json=patient(nhs_number()), headers=FHIR))
        episode = {
            "resourceType": "EpisodeOfCare",
            "status": "active",
            "patient": {"reference": f"Patient/{person['id']}"},
            "extension": [
                {
                    "url": "https://continuum.example.org/fhir/StructureDefinition/episode-healthcare-service",
                    "valueReference": {"reference": "HealthcareService/barnet-core-north"},
                }
            ],
        }
        created(epr.post("/fhir/EpisodeOfCare", json=episode, headers=FHIR))
        body = {
            "resourceType": "ServiceRequest",
            "status": "active",
            "intent": "order",
            "priority": "urgent",
            "subject": {"reference": f"Patient/{person['id']}"},
            "requester": {"reference": "PractitionerRole/barnet-core-north-worker"},
            "performer": [{"reference": "HealthcareService/barnet-psychosis"}],
            "reasonCode": [{"text": reason}],
            "category": [
                {
                    "coding": [
                        {
                            "system": "https://continuum.example.org/fhir/CodeSystem/referral-source",
                            "code": "internal-team",
                        }
                    ]
                }
            ],
        }
        referral = created(epr.post("/fhir/ServiceRequest", json=body, headers=FHIR))
        tasks = epr.get("/fhir/Task", params={"focus": f"ServiceRequest/{referral['id']}", "code": "referral"}).json()
    return Referral(referral["id"], tasks["entry"][0]["resource"]["id"], person["id"])


@contextlib.contextmanager
def signed_in(client_app: Service, role: str) -> Iterator[httpx.Client]:
    """An HTTP client holding a clinician's session cookie, as the browser would after signing in."""
    with httpx.Client(base_url=client_app.url, timeout=30.0) as http:
        answer = http.post("/sign-in", data={"role": role, "next": "/inbox"})
        assert answer.status_code == 303, answer.text
        yield http


def sign_in_then(workdir: Path, client_app: Service, role: str, next_path: str) -> str:
    """A local page that signs in through the client's own form and then shows `next_path` (file:// URL)."""
    page = workdir / f"sign-in-{role}-{abs(hash(next_path))}.html"
    page.write_text(
        "<!DOCTYPE html><html lang='en'><body>"
        f"<form method='post' action='{client_app.url}/sign-in'>"
        f"<input name='role' value='{role}'><input name='next' value='{next_path}'></form>"
        "<script>document.forms[0].submit()</script></body></html>"
    )
    return page.as_uri()


def rendered(workdir: Path, client_app: Service, html: str, name: str) -> str:
    """A page the client answered to a form POST, saved so Chromium can render it with its stylesheet."""
    page = workdir / name
    page.write_text(html.replace("<head>", f'<head><base href="{client_app.url}/">', 1))
    return page.as_uri()
