"""Real processes for the benchmarks: uvicorn on free loopback ports, joined up as `make run` joins them.

The gateway and the referrals service get exactly the environment `services.launcher` gives
them, with the launcher's ports, `var/` keys and databases swapped for the benchmark's own (a
temporary folder). Services the benchmarks do not start (careplans, transitions) are pointed at
a loopback port held closed. Every process is stopped by `Processes.stop_all` (SIGTERM, then
SIGKILL), and dies with the benchmark even if the benchmark itself is killed (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO
from unittest import mock

import httpx

from bench.load import cpu_seconds
from gateway.auth import generate_development_keys, load_clients
from gateway.settings import Settings as GatewaySettings
from services import launcher
from services.kit.migrate import upgrade

HOST = "127.0.0.1"
ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 10.0
_PR_SET_PDEATHSIG = 1


def free_port() -> int:
    """A free loopback port, picked by the kernel."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
    return port


class ClosedPort:
    """A loopback port held bound but never listening: connections to it are refused at once."""

    def __init__(self) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.bind((HOST, 0))
        self.port: int = self.socket.getsockname()[1]

    @property
    def url(self) -> str:
        """An http URL on the port."""
        return f"http://{HOST}:{self.port}"

    def close(self) -> None:
        """Release the port."""
        self.socket.close()


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def read_status_kib(pid: int, key: str) -> int | None:
    """A `/proc/<pid>/status` memory figure in KiB (VmHWM: peak RSS; VmRSS: current), or None."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1])
    return None


@dataclass
class Proc:
    """One process: `python -m uvicorn <factory> --factory` (or any command) with its own log."""

    name: str
    command: list[str]
    env: dict[str, str]
    log: Path
    health_url: str | None = None
    _process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _log_file: IO[bytes] | None = field(default=None, repr=False)

    @property
    def pid(self) -> int:
        """The process id."""
        assert self._process is not None, f"{self.name} was never started"
        return self._process.pid

    @property
    def running(self) -> bool:
        """Whether the process is alive."""
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Start the process (then `wait_until_healthy`)."""
        self._log_file = self.log.open("ab")
        self._process = subprocess.Popen(
            self.command,
            env=self.env,
            cwd=ROOT,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
        )

    def wait_until_healthy(self, timeout: float = START_TIMEOUT_SECONDS) -> None:
        """Wait until `health_url` answers 200."""
        assert self.health_url is not None
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=2.0) as client:
            while True:
                if not self.running:
                    raise RuntimeError(f"{self.name} exited:\n{self.log_tail()}")
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(self.health_url).status_code == 200:
                        return
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{self.name} was not healthy within {timeout} s:\n{self.log_tail()}")
                time.sleep(0.1)

    def wait_until_idle(self, timeout: float, busy_fraction: float = 0.05, window: float = 1.0) -> float:
        """Wait until the process uses under `busy_fraction` of a core over `window` s; returns the wait."""
        started = time.monotonic()
        before = cpu_seconds(self.pid)
        while time.monotonic() - started < timeout:
            time.sleep(window)
            now = cpu_seconds(self.pid)
            if now - before < busy_fraction * window:
                break
            before = now
        return time.monotonic() - started

    def peak_rss_mib(self) -> float | None:
        """Peak resident set size so far (VmHWM), in MiB."""
        if not self.running:
            return None
        kib = read_status_kib(self.pid, "VmHWM")
        return None if kib is None else round(kib / 1024, 1)

    def stop(self) -> None:
        """SIGTERM (uvicorn runs its shutdown), then SIGKILL if it lingers."""
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=STOP_TIMEOUT_SECONDS)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def log_tail(self, lines: int = 30) -> str:
        """The end of the process's output."""
        if not self.log.exists():
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def uvicorn(factory: str, port: int) -> list[str]:
    """The command `make run` uses for a process (one uvicorn worker, log level warning)."""
    return [
        sys.executable, "-m", "uvicorn", factory, "--factory",
        "--host", HOST, "--port", str(port), "--log-level", "warning",
    ]  # fmt: skip


@dataclass
class Stack:
    """The gateway and the referrals service as real processes, with their keys and databases."""

    gateway: Proc
    referrals: Proc
    keys: Path
    databases: dict[str, str]
    gateway_url: str
    referrals_url: str

    def secret(self, client_id: str) -> str:
        """A development client's secret."""
        return load_clients(self.keys / "dev-clients.json")[client_id].secret

    def token(self, client_id: str = "epr-beh", **form: str) -> str:
        """An access token from the gateway's token endpoint (client credentials)."""
        body = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": self.secret(client_id)}
        response = httpx.post(f"{self.gateway_url}/auth/token", data={**body, **form}, timeout=10.0)
        response.raise_for_status()
        token: str = response.json()["access_token"]
        return token


def _inherited_environment(prefixes: set[str]) -> dict[str, str]:
    """The bench's environment less any setting of the processes (a developer's own must not leak in)."""
    return {k: v for k, v in os.environ.items() if k.split("_", 1)[0] not in prefixes}


def build_stack(workdir: Path, down: ClosedPort, databases: dict[str, str] | None = None) -> Stack:
    """The launcher's gateway and referrals processes, migrated and configured (not started).

    Databases are SQLite files in `workdir` (migrated here) unless `databases` names another,
    already migrated, database for a process ("gateway", "referrals").
    """
    keys = workdir / "keys"
    generate_development_keys(keys)
    with mock.patch.object(launcher, "KEYS", keys):
        planned = {p.name: p for p in launcher.processes(HOST)}
    ports = {name: free_port() for name in ("gateway", "referrals")}
    moved = {f"http://{HOST}:{p.port}": f"http://{HOST}:{ports[n]}" for n, p in planned.items() if n in ports}
    service_urls = [name for name in GatewaySettings.model_fields if name.endswith("_url") and name != "database_url"]
    prefixes = {name.upper() for name in planned} | {name.removesuffix("_url").upper() for name in service_urls}
    inherited = _inherited_environment(prefixes)
    started: dict[str, Proc] = {}
    urls: dict[str, str] = {}
    databases_used: dict[str, str] = {}
    for name in ("gateway", "referrals"):
        process = planned[name]
        prefix = name.upper()
        env = {key: _moved(value, moved) for key, value in process.env.items()}
        database = (databases or {}).get(name) or f"sqlite+aiosqlite:///{workdir / f'{name}.db'}"
        if name not in (databases or {}):
            upgrade(name, database)
        env[f"{prefix}_DATABASE_URL"] = database
        if name == "gateway":
            for setting in service_urls:
                # The services this benchmark does not start answer nothing (connection refused).
                url = env.get(f"GATEWAY_{setting.upper()}", "")
                if not any(url.startswith(new) for new in moved.values()):
                    env[f"GATEWAY_{setting.upper()}"] = down.url
        leaked = [v for v in env.values() if str(launcher.VAR) in v or any(old in v for old in moved)]
        assert not leaked, f"{name} would reach the developer's own processes or var/: {leaked}"
        url = f"http://{HOST}:{ports[name]}"
        urls[name] = url
        started[name] = Proc(
            name,
            uvicorn(process.factory, ports[name]),
            {**inherited, **env},
            workdir / f"{name}.log",
            f"{url}/health",
        )
        databases_used[name] = database
    return Stack(started["gateway"], started["referrals"], keys, databases_used, urls["gateway"], urls["referrals"])


def _moved(value: str, moved: dict[str, str]) -> str:
    for old, new in moved.items():
        value = value.replace(old, new)
    return value


class Processes:
    """Every process a benchmark started, so that all of them are always stopped."""

    def __init__(self) -> None:
        self.started: list[Proc] = []

    def start(self, *processes: Proc) -> None:
        """Start the processes, then wait until each is healthy."""
        for process in processes:
            self.started.append(process)
            process.start()
        for process in processes:
            if process.health_url:
                process.wait_until_healthy()

    def stop_all(self) -> None:
        """Stop every process started, newest first."""
        for process in reversed(self.started):
            process.stop()
        self.started.clear()
