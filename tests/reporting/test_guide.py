"""docs/reporting.md shows what the services really answer: regenerating it changes nothing."""

from __future__ import annotations

import difflib

from tests.reporting.guide import DOC, write_guide


async def test_the_reporting_guide_matches_the_services() -> None:
    written = DOC.read_text()
    fresh = await write_guide()
    if written != fresh:
        diff = "".join(difflib.unified_diff(written.splitlines(True), fresh.splitlines(True), "guide", "services", n=1))
        raise AssertionError(f"docs/reporting.md is stale: run `python -m tests.reporting.guide`\n{diff[:4000]}")
