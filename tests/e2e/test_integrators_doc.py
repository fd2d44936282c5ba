"""docs/integrators.md, run: its ```sh blocks, in order, in one bash session against the real processes.

The guide is what an integrator pastes into a shell, so it must work as written. Every block runs
under `set -euo pipefail` (the guide's `curl -fsS` turns an HTTP error into a failed command), with
`BASE` set to the test's gateway, the development client secrets from the test's own
dev-clients.json, and `EVENTS_URL` pointing at an EPR endpoint the test runs, so the guide's
Subscription is checked too. Each block's output is kept apart (a marker line between blocks) for
the assertions below and for the failure message.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.e2e.conftest import Stack
from tests.e2e.receiver import receiver

DOC = Path(__file__).resolve().parents[2] / "docs" / "integrators.md"
SH_BLOCK = re.compile(r"^```sh\n(.*?)^```$", re.MULTILINE | re.DOTALL)
MARKER = "::integrators.md block {}::"
RUN_TIMEOUT_SECONDS = 60


def blocks() -> list[str]:
    """The guide's shell blocks, in order."""
    return SH_BLOCK.findall(DOC.read_text())


def script(commands: list[str]) -> str:
    """One bash script running every block, each announced by a marker line."""
    parts = ["set -euo pipefail"]
    for number, block in enumerate(commands, 1):
        parts += [f"echo '{MARKER.format(number)}'", block]
    parts.append(f"echo '{MARKER.format('end')}'")
    return "\n".join(parts) + "\n"


def outputs(printed: str) -> dict[str, str]:
    """What each block printed, by block number (and 'end')."""
    found = re.split(r"^::integrators\.md block (\w+)::$", printed, flags=re.MULTILINE)
    return {found[i]: found[i + 1] for i in range(1, len(found) - 1, 2)}


def the_block(commands: list[str], needle: str) -> str:
    """The number of the one block that contains `needle`."""
    numbers = [str(n) for n, block in enumerate(commands, 1) if needle in block]
    assert len(numbers) == 1, f"expected one block with {needle!r}, found {numbers}"
    return numbers[0]


def test_the_guide_has_the_steps_an_integrator_needs() -> None:
    commands = blocks()
    assert commands, "no ```sh blocks found"
    for needle in ("/auth/token", "/fhir/Patient", "/fhir/EpisodeOfCare", "/fhir/Subscription", "/fhir/Task"):
        assert any(needle in block for block in commands), needle
    assert all("$accept" not in block or "If-Match" in block for block in commands)
    curls = [line for block in commands for line in block.splitlines() if re.search(r"\bcurl\b", line)]
    assert all("-fsS" in line or "-sS -o outcome.json" in line for line in curls), curls


@pytest.mark.skipif(not (shutil.which("curl") and shutil.which("jq")), reason="the guide's commands need curl and jq")
def test_every_command_of_the_guide_works_against_the_real_processes(stack: Stack, tmp_path: Path) -> None:
    commands = blocks()
    with receiver() as epr_endpoint:
        env = {
            **os.environ,
            "BASE": stack.gateway.url,
            "CLIENT_SECRET": stack.secret("epr-beh"),
            "CLINICIAN_SECRET": stack.secret("clinician-app"),
            "EVENTS_URL": epr_endpoint.url,
        }
        run = subprocess.run(
            ["bash", "-c", script(commands)],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=RUN_TIMEOUT_SECONDS,
            check=False,
        )
        printed = run.stdout.decode(errors="replace")
        by_block = outputs(printed)
        if run.returncode != 0 or "end" not in by_block:
            failed = max((k for k in by_block if k.isdigit()), key=int, default="1")
            pytest.fail(
                f"docs/integrators.md block {failed} failed (exit {run.returncode}):\n"
                f"{commands[int(failed) - 1]}\n--- it printed:\n{by_block.get(failed, printed)}"
            )
        retried = by_block[the_block(commands, "jq '{total}'")]
        assert '"total": 1' in retried, retried
        accept = by_block[the_block(commands, "$accept")]
        assert '"status": "accepted"' in accept, accept
        assert '"state": "accepted-waiting"' in accept, accept
        errors = by_block[the_block(commands, "outcome.json")]
        assert "HTTP 422" in errors, errors
        assert "HTTP 401" in errors, errors
        [event] = epr_endpoint.wait_for(lambda e: e.get("type") == "referral-accepted")
        assert event["requesterTeam"] == "HealthcareService/barnet-core-north"
    headers = by_block[the_block(commands, "X-Correlation-ID: beh-admission-0001")]
    assert "x-correlation-id: beh-admission-0001" in headers.lower(), headers
    audit = by_block[the_block(commands, "/fhir/AuditEvent")]
    assert '"who": "epr-beh"' in audit, audit
