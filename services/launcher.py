"""Start Continuum's processes for local use (`make run`), print their URLs, stop them on Ctrl-C.

On first run it creates the development signing keys and client secrets under `var/keys/`
(never committed), and gives every process the settings that join them up: the gateway knows
where the services are, and each service verifies tokens with the gateway's public key and
sends its events to the gateway with its own client credentials.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from gateway.auth import generate_development_keys

VAR = Path(__file__).resolve().parents[1] / "var"
KEYS = VAR / "keys"


@dataclass(frozen=True)
class Process:
    """A process `make run` starts."""

    name: str
    factory: str
    port: int
    env: dict[str, str] = field(default_factory=dict)


def processes(host: str) -> tuple[Process, ...]:
    """The processes, with the environment that joins them up."""
    clients = json.loads((KEYS / "dev-clients.json").read_text())
    public = str(KEYS / "jwt-public.pem")
    gateway = f"http://{host}:8080"

    def service(name: str) -> dict[str, str]:
        prefix = name.upper()
        return {
            f"{prefix}_AUTH_PUBLIC_KEY_FILE": public,
            f"{prefix}_EVENT_TARGET_URL": f"{gateway}/internal/events",
            f"{prefix}_TOKEN_URL": f"{gateway}/auth/token",
            f"{prefix}_CLIENT_ID": name,
            f"{prefix}_CLIENT_SECRET": clients[name]["secret"],
        }

    return (
        Process(
            "gateway",
            "gateway.main:create_app",
            8080,
            {
                "GATEWAY_AUTH_PUBLIC_KEY_FILE": public,
                "GATEWAY_AUTH_PRIVATE_KEY_FILE": str(KEYS / "jwt-private.pem"),
                "GATEWAY_CLIENTS_FILE": str(KEYS / "dev-clients.json"),
                "GATEWAY_REFERRALS_URL": f"http://{host}:8081",
                "GATEWAY_CAREPLANS_URL": f"http://{host}:8082",
                "GATEWAY_PUBLIC_URL": gateway,
                "GATEWAY_TRANSITIONS_URL": f"http://{host}:8083",
            },
        ),
        Process("referrals", "services.referrals.main:create_app", 8081, service("referrals")),
        Process("careplans", "services.careplans.main:create_app", 8082, service("careplans")),
        Process(
            "transitions",
            "services.transitions.main:create_app",
            8083,
            {**service("transitions"), "TRANSITIONS_GATEWAY_URL": gateway},
        ),
        Process(
            "client",
            "client.main:create_app",
            8090,
            {"CLIENT_GATEWAY_URL": gateway, "CLIENT_CLIENTS_FILE": str(KEYS / "dev-clients.json")},
        ),
    )


def _demo_summary(report_json: str) -> str:
    """One line about the demo data the simulator loaded."""
    try:
        report = json.loads(report_json)
    except json.JSONDecodeError:
        return "demo data loaded"
    counts = ", ".join(f"{n} {what}" for what, n in report.get("counts", {}).items())
    return f"Demo data (seed {report.get('seed')}): {report.get('people')} people; {counts}"


def _wait_for(url: str, seconds: float = 30.0) -> bool:
    """Whether `url` answers 200 within `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return True
        except OSError:
            time.sleep(0.3)
    return False


def main() -> int:
    """Run every process until one exits or the user interrupts."""
    host = os.environ.get("CONTINUUM_HOST", "127.0.0.1")
    generate_development_keys(KEYS)
    children: list[tuple[Process, subprocess.Popen[bytes]]] = []
    for process in processes(host):
        command = [
            sys.executable, "-m", "uvicorn", process.factory, "--factory",
            "--host", host, "--port", str(process.port), "--log-level", "warning",
        ]  # fmt: skip
        children.append((process, subprocess.Popen(command, env={**os.environ, **process.env})))
    ready = all(_wait_for(f"http://{host}:{process.port}/health") for process, _ in children)
    if ready and os.environ.get("CONTINUUM_DEMO_DATA", "1") == "1":
        # Demo data: a seeded population played through the public API (the same seed adds nothing twice).
        demo = subprocess.run(
            [sys.executable, "-m", "gateway.simulate", "--base-url", f"http://{host}:8080",
             "--clients-file", str(KEYS / "dev-clients.json"), "--people", "40", "--seed", "1"],
            capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        print(_demo_summary(demo.stdout) if demo.returncode == 0 else f"demo data not loaded: {demo.stderr[-300:]}")
    print("Continuum is running:")
    for process, _ in children:
        base = f"http://{host}:{process.port}"
        if process.name == "client":
            print(f"  {process.name:<12} {base}/   (the clinicians' web client: sign in as a seeded worker)")
        else:
            print(f"  {process.name:<12} {base}/fhir/metadata   (API docs: {base}/docs)")
    print(
        f"Development clients and secrets: {KEYS / 'dev-clients.json'} (token endpoint: http://{host}:8080/auth/token)"
    )
    print("Press Ctrl-C to stop.", flush=True)
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    code = 0
    while not stopping:
        for process, child in children:
            if child.poll() is not None:
                print(f"{process.name} exited with {child.returncode}", file=sys.stderr)
                stopping, code = True, child.returncode or 1
        time.sleep(0.2)
    for _, child in children:
        if child.poll() is None:
            child.terminate()
    for _, child in children:
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
    return code


if __name__ == "__main__":
    raise SystemExit(main())
