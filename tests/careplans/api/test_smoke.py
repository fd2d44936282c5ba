"""The first path through: a DIALOG, a DIALOG+ session, an agreed plan made active."""

from __future__ import annotations

import httpx

from tests.careplans.builders import active_plan, record, scores


async def test_a_dialog_is_scored_and_a_session_makes_an_active_plan(client: httpx.AsyncClient) -> None:
    recorded = await record(client)
    found = await scores(client, recorded["id"])
    assert set(found) == {"sqol", "treatment-satisfaction"}
    plan = await active_plan(client)
    assert plan["status"] == "active"
