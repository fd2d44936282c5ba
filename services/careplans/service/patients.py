"""What the service keeps about people: demographics from the gateway's Patient events (FR-84)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete

from services.careplans.persistence import tables
from services.careplans.service.context import Context
from services.kit.errors import BadRequest
from services.kit.outbox import first_delivery
from services.kit.patient_facts import demographics, patient_of

CONSUMED = ("patient-upserted",)


async def apply_event(ctx: Context, event: dict[str, Any]) -> bool:
    """Apply an event delivered by the gateway; False when its id was applied before."""
    event_id, event_type = event.get("id"), event.get("type")
    if not isinstance(event_id, str) or not isinstance(event_type, str):
        raise BadRequest("An event has a string id and type", "id")
    if event_type not in CONSUMED:
        raise BadRequest(f"Event type {event_type!r} is not one the care-plans service consumes", "type")
    row = demographics(patient_of(event))
    if not await first_delivery(ctx.session, tables.inbox, event_id, event_type, ctx.now):
        return False
    t = tables.patient_facts
    await ctx.session.execute(delete(t).where(t.c.id == row["id"]))
    await ctx.session.execute(t.insert().values(**row, updated_at=ctx.now))
    return True
