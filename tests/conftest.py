"""Fixtures every test package shares: the database engines persistence tests run on."""

from __future__ import annotations

import pytest

from services.kit.testing import ENGINES, POSTGRES_ENV, postgres_url

SKIP_REASON = f"PostgreSQL tests need {POSTGRES_ENV} (CI sets it)"


@pytest.fixture(scope="session", params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    """Each persistence and API test runs on SQLite and on PostgreSQL (when one is configured)."""
    name: str = request.param
    if name == "postgres" and postgres_url() is None:
        pytest.skip(SKIP_REASON)
    return name


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say once, not once per test, that the PostgreSQL half of the suite did not run."""
    skipped = [r for r in terminalreporter.stats.get("skipped", []) if SKIP_REASON in str(r.longrepr)]
    if skipped:
        terminalreporter.write_line(f"{len(skipped)} PostgreSQL tests skipped: {SKIP_REASON}", yellow=True)
