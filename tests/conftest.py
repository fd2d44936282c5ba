"""Fixtures every test package shares: the database engines persistence tests run on, and the check of
every FHIR JSON answer against the official R4 schema."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from services.kit.testing import ENGINES, POSTGRES_ENV, postgres_url
from tests.conformance import schema

SKIP_REASON = f"PostgreSQL tests need {POSTGRES_ENV} (CI sets it)"


@pytest.fixture(scope="session", params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    """Each persistence and API test runs on SQLite and on PostgreSQL (when one is configured)."""
    name: str = request.param
    if name == "postgres" and postgres_url() is None:
        pytest.skip(SKIP_REASON)
    return name


# The suites whose answers (from the apps in-process, and from the real processes in the end-to-end
# tests) are checked against the official FHIR R4 JSON schema: no resource Continuum emits may fail
# it (tests/conformance/schema.py). Not tests/kit: its toy apps answer made-up bodies on purpose.
SCHEMA_CHECKED = frozenset({"referrals", "careplans", "transitions", "gateway", "conformance", "e2e"})
TESTS = Path(__file__).resolve().parent


@pytest.fixture(autouse=True)
def emitted_resources_pass_the_r4_schema(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[schema.EmittedResources | None]:
    """Every FHIR JSON body Continuum answers a test with passes the official R4 schema (checked at the end)."""
    path = Path(str(request.node.path)).resolve()
    suite = path.relative_to(TESTS).parts[0] if path.is_relative_to(TESTS) else ""
    if suite not in SCHEMA_CHECKED or not schema.available():
        yield None
        return
    emitted = schema.EmittedResources()
    emitted.watch(monkeypatch)
    yield emitted
    if emitted.problems:
        pytest.fail(
            "Continuum answered with FHIR JSON the official R4 schema refuses:\n" + "\n".join(emitted.problems[:20]),
            pytrace=False,
        )


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say once, not once per test, that the PostgreSQL half of the suite did not run."""
    skipped = [r for r in terminalreporter.stats.get("skipped", []) if SKIP_REASON in str(r.longrepr)]
    if skipped:
        terminalreporter.write_line(f"{len(skipped)} PostgreSQL tests skipped: {SKIP_REASON}", yellow=True)
