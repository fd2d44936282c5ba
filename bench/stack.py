"""A running system for the create and read benchmarks: gateway + referrals (SQLite files) and the baseline app."""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.payloads import FHIR, episode, nhs_number, patient
from bench.processes import HOST, ClosedPort, Proc, Processes, Stack, build_stack, free_port, uvicorn


@dataclass
class Running:
    """The processes, an EPR's token, and a registered patient on the core team's caseload."""

    stack: Stack
    baseline: Proc
    baseline_url: str
    token: str
    patient: str
    workdir: Path

    @property
    def auth(self) -> dict[str, str]:
        """Headers of an authorised FHIR request."""
        return {"Authorization": f"Bearer {self.token}", **FHIR}

    def count(self, service: str, sql: str) -> int:
        """A number from a process's SQLite database (read-only; WAL readers never block it)."""
        path = self.workdir / f"{service}.db"
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)) as db:
            value: Any = db.execute(sql).fetchone()[0]
        return int(value)

    def ids(self, sql: str) -> list[str]:
        """Ids from the referrals database."""
        path = self.workdir / "referrals.db"
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)) as db:
            return [str(row[0]) for row in db.execute(sql).fetchall()]

    def processes(self) -> dict[str, Proc]:
        """The server processes by name."""
        return {"gateway": self.stack.gateway, "referrals": self.stack.referrals, "baseline": self.baseline}


@contextlib.contextmanager
def running(processes: Processes, databases: dict[str, str] | None = None) -> Iterator[Running]:
    """Start gateway, referrals and baseline on free loopback ports; stop them and remove their files after.

    The gateway and the referrals service use SQLite files unless `databases` names (migrated) others.
    """
    workdir = Path(tempfile.mkdtemp(prefix="continuum-bench-"))
    down = ClosedPort()
    try:
        stack = build_stack(workdir, down, databases)
        port = free_port()
        baseline_url = f"http://{HOST}:{port}"
        env = {**os.environ, "BENCH_BASELINE_DATABASE_URL": f"sqlite+aiosqlite:///{workdir / 'baseline.db'}"}
        baseline = Proc(
            "baseline",
            uvicorn("bench.baseline:create_app", port),
            env,
            workdir / "baseline.log",
            f"{baseline_url}/health",
        )
        processes.start(stack.gateway, stack.referrals, baseline)
        token = stack.token("epr-beh")
        headers = {"Authorization": f"Bearer {token}", **FHIR}
        with httpx.Client(base_url=stack.gateway_url, headers=headers, timeout=30.0) as client:
            registered = client.post("/fhir/Patient", json=patient(nhs_number(943_476_590)))
            if registered.status_code != 201:
                raise RuntimeError(f"could not register the patient: {registered.status_code} {registered.text}")
            subject = f"Patient/{registered.json()['id']}"
            caseload = client.post("/fhir/EpisodeOfCare", json=episode(subject))
            if caseload.status_code != 201:
                raise RuntimeError(f"could not open the episode: {caseload.status_code} {caseload.text}")
        yield Running(stack, baseline, baseline_url, token, subject, workdir)
    finally:
        processes.stop_all()
        down.close()
        if os.environ.get("BENCH_KEEP_FILES") == "1":
            print(f"(kept the processes' databases and logs in {workdir})")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
