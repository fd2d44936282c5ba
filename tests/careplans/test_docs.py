"""docs/careplans.md shows what the service really answers: regenerating it changes nothing."""

from __future__ import annotations

import difflib

from tests.careplans.walkthrough import DOC, write_guide


async def test_the_integrators_guide_matches_the_service() -> None:
    written = DOC.read_text()
    fresh = await write_guide()
    if written != fresh:
        diff = "".join(difflib.unified_diff(written.splitlines(True), fresh.splitlines(True), "guide", "service", n=1))
        raise AssertionError(f"docs/careplans.md is stale: run `python -m tests.careplans.walkthrough`\n{diff[:4000]}")
