"""docs/transitions.md is what the service answers: the guide is regenerated and compared, character by character."""

from __future__ import annotations

import difflib

import httpx

from services.kit.clock import FixedClock
from tests.transitions.fakes import FakeGateway
from tests.transitions.journey import DOC, produce


async def test_the_guide_shows_what_the_service_answers(
    client: httpx.AsyncClient, gateway: FakeGateway, clock: FixedClock
) -> None:
    """Run the guide's journey (SQLite, and PostgreSQL when configured) and compare it with the file."""
    produced = await produce(client, gateway, clock)
    written = DOC.read_text(encoding="utf-8")
    if produced != written:
        diff = difflib.unified_diff(
            written.splitlines(), produced.splitlines(), "docs/transitions.md", "the service", lineterm="", n=2
        )
        shown = "\n".join(list(diff)[:80])
        raise AssertionError(f"docs/transitions.md is stale: run `python -m tests.transitions.journey`\n{shown}")


def test_the_guide_covers_every_step_and_every_requirement() -> None:
    from services.transitions.domain.phases import OPERATIONS

    text = DOC.read_text(encoding="utf-8")
    for step in OPERATIONS:
        assert f"${step.value}" in text, step
    for number in range(52, 66):
        assert f"FR-{number}" in text, number
