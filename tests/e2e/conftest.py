"""End-to-end fixtures: the gateway and the referrals service as real processes, joined up as `make run` joins them.

Each process is `python -m uvicorn <factory> --factory` on a free loopback port, with its own
SQLite database in a temporary folder (migrated first with `services.kit.migrate.upgrade`), the
development keys and client secrets generated into that folder, and exactly the environment
`services.launcher` gives it, with the launcher's ports and `var/` paths swapped for the test's
own. Event dispatch and delivery run every 0.2 s instead of every second, and a claimed event falls
due again after 2 s instead of 30 s, so the suite stays fast enough for `make test`. Any service the
launcher does not start is pointed at a port held closed, so the gateway sees it as down and never
reaches a developer's own processes.

SQLite is enough here: these tests are about processes, HTTP, tokens and timing. Every query is
already run on PostgreSQL by the persistence and API suites when `CONTINUUM_TEST_POSTGRES_URL` is
set.

`Service.kill()` sends SIGKILL; `Service.restart()` starts the process again on the same port and
database. A test that leaves a process dead or paused gets it back before the next test.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TypeVar
from unittest import mock

import httpx
import orjson
import pytest

from gateway.auth import generate_development_keys, load_clients
from gateway.identity import NHS_NUMBER
from gateway.settings import Settings as GatewaySettings
from services import launcher
from services.kit.migrate import MIGRATIONS, upgrade

HOST = "127.0.0.1"
ROOT = Path(__file__).resolve().parents[2]
INTERVAL_SECONDS = "0.2"
LEASE_SECONDS = "2"
"""How long a claimed event is held (30 s by default): a process killed mid-delivery stalls its stream that long."""
START_TIMEOUT_SECONDS = 120.0
STOP_TIMEOUT_SECONDS = 10.0
FHIR = {"Content-Type": "application/fhir+json"}
T = TypeVar("T")


def free_port() -> int:
    """A free loopback port: the kernel picks it for a socket bound for the purpose, then closed."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
    return port


class ClosedPort:
    """A loopback port held bound but never listening: a connection to it is refused at once."""

    def __init__(self) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind((HOST, 0))
        self.port: int = self.socket.getsockname()[1]

    @property
    def url(self) -> str:
        """An http URL on the port."""
        return f"http://{HOST}:{self.port}"

    def close(self) -> None:
        """Release the port."""
        self.socket.close()


def eventually(probe: Callable[[], T | None], timeout: float, what: str, interval: float = 0.05) -> T:
    """Poll `probe` until it returns something other than None (or fail after `timeout` seconds)."""
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found is not None:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


@dataclass
class Service:
    """One real process: `python -m uvicorn <factory> --factory` on a fixed port with its own database."""

    name: str
    factory: str
    port: int
    env: dict[str, str]
    database: Path
    log: Path
    paused: bool = False
    _process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _log_file: IO[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        """The process's origin (`http://127.0.0.1:<port>`)."""
        return f"http://{HOST}:{self.port}"

    @property
    def running(self) -> bool:
        """Whether the process is alive (a paused process is alive)."""
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int:
        """The process id."""
        assert self._process is not None
        return self._process.pid

    def start(self) -> None:
        """Start the process (the caller waits for its health with `wait_until_healthy`)."""
        assert not self.running, f"{self.name} is already running"
        self._close_log()
        self._log_file = self.log.open("ab")
        command = [
            sys.executable, "-m", "uvicorn", self.factory, "--factory",
            "--host", HOST, "--port", str(self.port), "--log-level", "warning",
        ]  # fmt: skip
        self._process = subprocess.Popen(
            command, env=self.env, cwd=ROOT, stdout=self._log_file, stderr=subprocess.STDOUT
        )
        self.paused = False

    def wait_until_healthy(self, timeout: float = START_TIMEOUT_SECONDS) -> None:
        """Wait until `GET /health` answers 200 (its lifespan has run and its database answers)."""
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=1.0) as client:
            while True:
                assert self._process is not None
                if self._process.poll() is not None:
                    raise RuntimeError(f"{self.name} exited with {self._process.returncode}:\n{self.log_tail()}")
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(f"{self.url}/health").status_code == 200:
                        return
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{self.name} was not healthy within {timeout} s:\n{self.log_tail()}")
                time.sleep(0.05)

    def pause(self) -> None:
        """Freeze the process (SIGSTOP): the kernel still accepts connections, nobody answers."""
        os.kill(self.pid, signal.SIGSTOP)
        self.paused = True

    def resume(self) -> None:
        """Let a paused process run again (SIGCONT)."""
        if self.running:
            os.kill(self.pid, signal.SIGCONT)
        self.paused = False

    def kill(self) -> None:
        """SIGKILL, as a crash or the OOM killer would: no shutdown, no cleanup."""
        if self._process is not None and self.running:
            self._process.send_signal(signal.SIGKILL)
        self._reap(STOP_TIMEOUT_SECONDS)

    def stop(self) -> None:
        """Stop politely (SIGTERM: uvicorn runs the lifespan shutdown), then SIGKILL if it lingers."""
        if self._process is not None and self.running:
            self.resume()
            self._process.terminate()
            try:
                self._process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                self._process.kill()
        self._reap(STOP_TIMEOUT_SECONDS)

    def restart(self) -> None:
        """Start again on the same port and database, killing the old process first if it lives."""
        self.kill()
        self.start()
        self.wait_until_healthy()

    def log_tail(self, lines: int = 40) -> str:
        """The end of the process's output (uvicorn runs at log level warning)."""
        if not self.log.exists():
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def query(self, sql: str, *params: object) -> list[tuple[Any, ...]]:
        """Read the process's own SQLite database (WAL: readers never block the service)."""
        with contextlib.closing(sqlite3.connect(f"file:{self.database}?mode=ro", uri=True, timeout=5)) as db:
            return db.execute(sql, params).fetchall()

    def _reap(self, timeout: float) -> None:
        if self._process is not None:
            self._process.wait(timeout=timeout)
        self.paused = False
        self._close_log()

    def _close_log(self) -> None:
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None


@dataclass
class Stack:
    """The running processes, the development keys and clients, and helpers to call the gateway."""

    services: dict[str, Service]
    keys: Path

    @property
    def gateway(self) -> Service:
        """The gateway: the one FHIR base integrators call."""
        return self.services["gateway"]

    @property
    def referrals(self) -> Service:
        """The referrals service."""
        return self.services["referrals"]

    @property
    def clients_file(self) -> Path:
        """The generated dev-clients.json."""
        return self.keys / "dev-clients.json"

    def secret(self, client_id: str) -> str:
        """A development client's secret."""
        return load_clients(self.clients_file)[client_id].secret

    def start(self) -> None:
        """Start every process, then wait until each is healthy."""
        for service in self.services.values():
            service.start()
        for service in self.services.values():
            service.wait_until_healthy()

    def stop(self) -> None:
        """Stop every process that runs."""
        for service in self.services.values():
            service.stop()

    def client(self, token: str | None = None, timeout: float = 15.0) -> httpx.Client:
        """An HTTP client for the gateway, sending the bearer token when one is given."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.gateway.url, headers=headers, timeout=timeout)

    def token(self, client_id: str, **form: str) -> str:
        """An access token from the gateway's token endpoint (form-encoded client credentials)."""
        body = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": self.secret(client_id)}
        with self.client() as client:
            response = client.post("/auth/token", data={**body, **form})
        assert response.status_code == 200, response.text
        token: str = response.json()["access_token"]
        return token


def build_stack(workdir: Path, down: ClosedPort) -> Stack:
    """The launcher's processes with the test's ports, databases and keys (migrated, not started)."""
    keys = workdir / "keys"
    generate_development_keys(keys)
    with mock.patch.object(launcher, "KEYS", keys):
        planned = launcher.processes(HOST)
    ports = {process.name: free_port() for process in planned}
    moved = {f"http://{HOST}:{p.port}": f"http://{HOST}:{ports[p.name]}" for p in planned}
    service_urls = [name for name in GatewaySettings.model_fields if name.endswith("_url") and name != "database_url"]
    prefixes = {p.name.upper() for p in planned} | {name.removesuffix("_url").upper() for name in service_urls}
    inherited = {k: v for k, v in os.environ.items() if k.split("_", 1)[0] not in prefixes}
    services: dict[str, Service] = {}
    for process in planned:
        prefix = process.name.upper()
        env = {key: _moved(value, moved) for key, value in process.env.items()}
        database = workdir / f"{process.name}.db"
        url = f"sqlite+aiosqlite:///{database}"
        if (MIGRATIONS / process.name).is_dir():  # the thin client keeps no data
            upgrade(process.name, url)
        env[f"{prefix}_DATABASE_URL"] = url
        env[f"{prefix}_DISPATCH_INTERVAL_SECONDS"] = INTERVAL_SECONDS
        env[f"{prefix}_DISPATCH_LEASE_SECONDS"] = LEASE_SECONDS
        if process.name == "gateway":
            env["GATEWAY_DELIVERY_INTERVAL_SECONDS"] = INTERVAL_SECONDS
            for name in service_urls:
                env.setdefault(f"GATEWAY_{name.upper()}", down.url)
        leaked = [v for v in env.values() if str(launcher.VAR) in v or any(old in v for old in moved)]
        assert not leaked, f"{process.name} would reach the developer's own processes or var/: {leaked}"
        services[process.name] = Service(
            process.name,
            process.factory,
            ports[process.name],
            {**inherited, **env},
            database,
            workdir / f"{process.name}.log",
        )
    return Stack(services, keys)


def _moved(value: str, moved: dict[str, str]) -> str:
    for old, new in moved.items():
        value = value.replace(old, new)
    return value


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Every process the launcher starts, running for real for the whole e2e session."""
    down = ClosedPort()
    started = build_stack(Path(tmp_path_factory.mktemp("e2e")), down)
    try:
        started.start()
        yield started
    finally:
        started.stop()
        down.close()


@pytest.fixture(autouse=True)
def _every_process_running(request: pytest.FixtureRequest) -> Iterator[None]:
    """Each test that uses the processes starts with every one up, whatever the test before did to them."""
    if "stack" not in request.fixturenames:
        yield
        return
    stack: Stack = request.getfixturevalue("stack")
    for service in stack.services.values():
        if service.paused:
            service.resume()
        if not service.running:
            service.restart()
    yield
    for service in stack.services.values():
        if service.paused:
            service.resume()


# ---------------------------------------------------------------- what integrators send


_issued: set[str] = set()


def nhs_number(start: int = 900_000_010) -> str:
    """A valid NHS number (Modulus 11) not handed out before in this session."""
    stem = start
    while True:
        digits = f"{stem:09d}"
        total = sum(int(d) * w for d, w in zip(digits, range(10, 1, -1), strict=True))
        check = (11 - total % 11) % 11
        value = f"{digits}{check}"
        if check != 10 and value not in _issued and value not in RESERVED_NHS_NUMBERS:
            _issued.add(value)
            return value
        stem += 1


RESERVED_NHS_NUMBERS = frozenset({"9000000009", "9434765919"})
"""Used by name: the integrator's-path test and docs/integrators.md."""


def patient(nhs: str, **extra: Any) -> dict[str, Any]:
    """A Patient as an EPR registers it."""
    return {
        "resourceType": "Patient",
        "identifier": [{"system": NHS_NUMBER, "value": nhs}],
        "name": [{"family": "Okafor", "given": ["Ada"]}],
        "birthDate": "1994-03-12",
        **extra,
    }


def created(response: httpx.Response) -> dict[str, Any]:
    """The body of a 201 Created answer."""
    assert response.status_code == 201, response.text
    body: dict[str, Any] = orjson.loads(response.content)
    return body
