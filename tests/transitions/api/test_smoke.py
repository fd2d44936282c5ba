"""The first path through: open a case from the worklist and take it through all five phases."""

from __future__ import annotations

import httpx

from tests.transitions.builders import open_case, phase_of, walk
from tests.transitions.fakes import FakeGateway


async def test_a_case_goes_from_worklist_to_closed(client: httpx.AsyncClient, gateway: FakeGateway) -> None:
    gateway.young_person()
    worklist = (await client.get("/fhir/Task/$transition-worklist")).json()
    assert worklist["parameter"][0] == {"name": "total", "valueInteger": 1}
    case = await open_case(client)
    assert phase_of(case) == "pre-transition-discussion"
    closed = await walk(client, case, "end")
    assert phase_of(closed) == "closed"
    assert closed["status"] == "completed"
    assert len(gateway.referrals) == 2
