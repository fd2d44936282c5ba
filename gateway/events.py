"""Events: services deliver their outbox events here; the gateway fans them out to Subscriptions.

A Subscription names its topic (`criteria` = `.../SubscriptionTopic/<event type>`), an optional
filter (`field=value`, matched against the event), and a rest-hook endpoint. Each matching
delivery is a row written in the same transaction that records the event, so an event is never
lost; the delivery loop retries with backoff until the receiver takes it (at least once), and
receivers deduplicate on the event id.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
import orjson
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway import tables
from reference.partnership import directory
from services.kit.clock import Clock
from services.kit.db import Database, is_sqlite
from services.kit.errors import BadRequest
from services.kit.repository import ResourceRepository

log = logging.getLogger("continuum.gateway.events")
TOPIC = "https://continuum.example.org/fhir/SubscriptionTopic"
EXT_FILTER = "https://continuum.example.org/fhir/StructureDefinition/subscription-filter"

# The subscriptions the services themselves hold: what each consumes from the others.
INTERNAL: dict[str, tuple[str, ...]] = {
    "transitions": ("referral-accepted", "referral-declined", "referral-redirected"),
    "referrals": (
        "baseline-outcome-recorded",
        "coproduced-careplan-completed",
        "intervention-started",
        "patient-upserted",
        "carer-sharing-changed",
    ),
    "careplans": ("patient-upserted",),
}


def subscription(id_: str, topic: str, endpoint: str, filter_: str | None = None) -> dict[str, Any]:
    """A rest-hook Subscription to one topic."""
    resource: dict[str, Any] = {
        "resourceType": "Subscription",
        "id": id_,
        "status": "active",
        "reason": f"Deliver {topic} events",
        "criteria": f"{TOPIC}/{topic}",
        "channel": {"type": "rest-hook", "endpoint": endpoint, "payload": "application/json"},
    }
    if filter_:
        resource["extension"] = [{"url": EXT_FILTER, "valueString": filter_}]
    return resource


def enrich(event: dict[str, Any]) -> dict[str, Any]:
    """Add what filters may ask for that the event names only indirectly (the requester's team)."""
    requester = event.get("requester")
    if isinstance(requester, str) and requester.startswith("PractitionerRole/"):
        role = directory().roles.get(requester.removeprefix("PractitionerRole/"))
        if role is not None:
            return {**event, "requesterTeam": f"HealthcareService/{role.team}"}
    return event


def matches(resource: dict[str, Any], event: dict[str, Any]) -> bool:
    """Whether a Subscription's filter (`field=value[&field=value]`) holds for an event."""
    for ext in resource.get("extension") or []:
        if ext.get("url") != EXT_FILTER:
            continue
        for clause in str(ext.get("valueString", "")).split("&"):
            field, _, value = clause.partition("=")
            if str(event.get(field)) != value:
                return False
    return True


async def accept_event(session: AsyncSession, event: dict[str, Any], now: datetime) -> int:
    """Record an event once and queue a delivery for each matching Subscription. Returns how many."""
    event_id, event_type = event.get("id"), event.get("type")
    if not isinstance(event_id, str) or not isinstance(event_type, str):
        raise BadRequest("An event has a string id and type", "id")
    try:
        async with session.begin_nested():
            await session.execute(
                insert(tables.event_log).values(event_id=event_id, event_type=event_type, received_at=now)
            )
    except IntegrityError:
        return 0  # seen before: its deliveries were queued then
    event = enrich(event)
    payload = orjson.dumps(event).decode()
    s = tables.subscription
    rows = (
        await session.execute(
            select(s.c.id, s.c.endpoint, s.c.resource).where(s.c.topic == event_type, s.c.status == "active")
        )
    ).all()
    queued = 0
    for row in rows:
        if not matches(orjson.loads(row.resource), event):
            continue
        await session.execute(
            insert(tables.delivery).values(
                event_id=event_id,
                subscription=row.id,
                endpoint=row.endpoint,
                payload=payload,
                attempts=0,
                next_attempt_at=now,
            )
        )
        queued += 1
    return queued


async def ensure_internal_subscriptions(database: Database, service_urls: dict[str, str], now: datetime) -> None:
    """Create (or repoint) the services' own Subscriptions."""
    async with database.session(writing=True) as session:
        repo = ResourceRepository(session, tables.KINDS["Subscription"], tables.history)
        for service, topics in INTERNAL.items():
            if service not in service_urls:
                continue
            endpoint = f"{service_urls[service].rstrip('/')}/internal/events"
            for topic in topics:
                wanted = subscription(f"internal-{service}-{topic}", topic, endpoint)
                current = await repo.find(wanted["id"])
                if current is None:
                    await repo.create(wanted, wanted["id"], now)
                elif current.resource()["channel"]["endpoint"] != endpoint:
                    await repo.update(wanted, current, now)
        await session.commit()


class Deliverer:
    """Delivers queued events to their subscribers, with retries and exponential backoff."""

    def __init__(
        self,
        database: Database,
        clock: Clock,
        client: httpx.AsyncClient | None = None,
        max_backoff_seconds: float = 300.0,
        authorization: Callable[[], dict[str, str]] | None = None,
        trusted: Callable[[str], bool] = lambda _: False,
        lease_seconds: float = 30.0,
        batch_size: int = 100,
    ) -> None:
        self.database = database
        self.clock = clock
        self.client = client or httpx.AsyncClient(timeout=10.0)
        self.max_backoff = max_backoff_seconds
        self.authorization = authorization
        self.trusted = trusted
        self.lease_seconds = lease_seconds
        self.batch_size = batch_size

    async def deliver_once(self, limit: int = 100) -> int:
        """Deliver what is due; returns how many were taken by their receivers.

        Rows are claimed with a short lease in one transaction and settled in another, so no
        database lock is held while a receiver is called (a slow receiver slows nobody else).
        """
        d = tables.delivery
        now = self.clock.now()
        async with self.database.session(writing=True) as session:
            statement = (
                select(d.c.id, d.c.endpoint, d.c.payload, d.c.attempts)
                .where(d.c.delivered_at.is_(None), d.c.next_attempt_at <= now)
                .order_by(d.c.id)
                .limit(limit)
            )
            if not is_sqlite(self.database.url):
                statement = statement.with_for_update(skip_locked=True)
            rows = list((await session.execute(statement)).all())
            if rows:
                lease = now + timedelta(seconds=self.lease_seconds)
                await session.execute(update(d).where(d.c.id.in_([r.id for r in rows])).values(next_attempt_at=lease))
            await session.commit()
        results = [(row, await self._post(row.endpoint, row.payload)) for row in rows]
        delivered = 0
        async with self.database.session(writing=True) as session:
            for row, status in results:
                if status is not None and status < 300:
                    values: dict[str, Any] = {
                        "delivered_at": now,
                        "attempts": row.attempts + 1,
                        "last_status": str(status),
                    }
                    delivered += 1
                else:
                    backoff = min(self.max_backoff, 2 ** min(row.attempts, 16))
                    values = {
                        "attempts": row.attempts + 1,
                        "next_attempt_at": now + timedelta(seconds=backoff),
                        "last_status": str(status),
                    }
                await session.execute(update(d).where(d.c.id == row.id).values(**values))
            await session.commit()
        return delivered

    async def _post(self, endpoint: str, payload: str) -> int | None:
        try:
            headers = {"Content-Type": "application/json"}
            if self.authorization and self.trusted(endpoint):
                headers |= self.authorization()
            response = await self.client.post(endpoint, content=payload, headers=headers)
        except httpx.HTTPError as exc:
            log.info("delivery to %s failed: %s", endpoint, exc)
            return None
        return response.status_code

    async def run(self, interval: float) -> None:
        """Deliver forever, every `interval` seconds, at once again after a full batch (cancel to stop)."""
        while True:
            taken = 0
            try:
                taken = await self.deliver_once(self.batch_size)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("event delivery failed")
            await asyncio.sleep(0 if taken >= self.batch_size else interval)
