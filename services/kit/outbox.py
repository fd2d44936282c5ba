"""The transactional outbox: events are rows written in the same transaction as the change.

A crash can therefore neither lose an event nor send one for a change that was rolled back. The
dispatcher delivers pending rows at least once; receivers deduplicate on the event id (the
inbox table below is how a Continuum service does that).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
import orjson
from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.auth import TokenSource
from services.kit.clock import Clock, instant
from services.kit.db import Database, UtcDateTime, is_sqlite
from services.kit.settings import ServiceSettings

log = logging.getLogger("continuum.outbox")


def outbox_table(metadata: MetaData) -> Table:
    """Events waiting to be delivered, in the order they were written (`seq`)."""
    return Table(
        "outbox",
        metadata,
        Column("seq", Integer, primary_key=True, autoincrement=True),
        Column("id", String(36), nullable=False, unique=True),
        Column("event_type", String(64), nullable=False),
        Column("payload", Text, nullable=False),
        Column("created_at", UtcDateTime(), nullable=False),
        Column("delivered_at", UtcDateTime(), nullable=True, index=True),
        Column("attempts", Integer, nullable=False, default=0),
        Column("next_attempt_at", UtcDateTime(), nullable=False),
    )


def inbox_table(metadata: MetaData) -> Table:
    """Ids of events already applied, so a redelivered event changes nothing."""
    return Table(
        "inbox",
        metadata,
        Column("event_id", String(64), primary_key=True),
        Column("event_type", String(64), nullable=False),
        Column("received_at", UtcDateTime(), nullable=False),
    )


class Outbox:
    """Writes events into the outbox table inside the caller's transaction."""

    def __init__(self, session: AsyncSession, table: Table, source: str) -> None:
        self.session = session
        self.table = table
        self.source = source

    async def emit(self, event_type: str, now: datetime, **data: Any) -> str:
        """Record an event; it is delivered after the transaction commits."""
        event_id = str(uuid.uuid4())
        event = {
            "id": event_id,
            "type": event_type,
            "source": self.source,
            "time": instant(now),
            **data,
        }
        await self.session.execute(
            insert(self.table).values(
                id=event_id,
                event_type=event_type,
                payload=orjson.dumps(event).decode(),
                created_at=now,
                attempts=0,
                next_attempt_at=now,
            )
        )
        return event_id

    async def pending(self) -> list[dict[str, Any]]:
        """Events not yet delivered, oldest first."""
        rows = (
            await self.session.execute(
                select(self.table.c.payload).where(self.table.c.delivered_at.is_(None)).order_by(self.table.c.seq)
            )
        ).scalars()
        return [orjson.loads(p) for p in rows]


async def first_delivery(session: AsyncSession, inbox: Table, event_id: str, event_type: str, now: datetime) -> bool:
    """Record an incoming event id; False when it was seen before (the caller then does nothing)."""
    exists = (await session.execute(select(inbox.c.event_id).where(inbox.c.event_id == event_id))).first()
    if exists:
        return False
    try:
        async with session.begin_nested():
            await session.execute(insert(inbox).values(event_id=event_id, event_type=event_type, received_at=now))
    except IntegrityError:
        return False
    return True


class Dispatcher:
    """Delivers outbox events to one HTTP endpoint, with retries and exponential backoff.

    Several replicas may run: on PostgreSQL each claims rows with FOR UPDATE SKIP LOCKED.
    """

    def __init__(
        self,
        database: Database,
        table: Table,
        target_url: str,
        clock: Clock,
        *,
        client: httpx.AsyncClient | None = None,
        batch_size: int = 50,
        max_backoff_seconds: float = 300.0,
        lease_seconds: float = 30.0,
        token_source: TokenSource | None = None,
    ) -> None:
        self.database = database
        self.table = table
        self.target_url = target_url
        self.clock = clock
        self.client = client or httpx.AsyncClient(timeout=10.0)
        self.batch_size = batch_size
        self.max_backoff = max_backoff_seconds
        self.lease_seconds = lease_seconds
        self.token_source = token_source

    async def dispatch_once(self) -> int:
        """Deliver what is due, oldest first; returns how many events were delivered.

        Events go in order: delivery stops at the first one that is not yet due or that the
        receiver refuses, so a later event never overtakes an earlier one. Rows are claimed
        with a short lease in one transaction and settled in another, so no database lock is
        held while a receiver is being called; a replica that dies mid-delivery leaves rows
        that fall due again when the lease ends (at-least-once).
        """
        t = self.table
        now = self.clock.now()
        async with self.database.session(writing=True) as session:
            statement = (
                select(t.c.seq, t.c.payload, t.c.attempts, t.c.next_attempt_at)
                .where(t.c.delivered_at.is_(None))
                .order_by(t.c.seq)
                .limit(self.batch_size)
            )
            if not is_sqlite(self.database.url):
                statement = statement.with_for_update(skip_locked=True)
            rows = [r for r in (await session.execute(statement)).all()]
            due = []
            for row in rows:
                if row.next_attempt_at > now:
                    break
                due.append(row)
            if due:
                lease = now + timedelta(seconds=self.lease_seconds)
                await session.execute(update(t).where(t.c.seq.in_([r.seq for r in due])).values(next_attempt_at=lease))
            await session.commit()
        delivered: list[int] = []
        failed = None
        for row in due:
            if not await self._deliver(row.payload):
                failed = row
                break
            delivered.append(row.seq)
        async with self.database.session(writing=True) as session:
            if delivered:
                await session.execute(
                    update(t).where(t.c.seq.in_(delivered)).values(delivered_at=now, attempts=t.c.attempts + 1)
                )
            if failed is not None:
                backoff = min(self.max_backoff, 2 ** min(failed.attempts, 16))
                await session.execute(
                    update(t)
                    .where(t.c.seq == failed.seq)
                    .values(attempts=failed.attempts + 1, next_attempt_at=now + timedelta(seconds=backoff))
                )
            rest = [r.seq for r in due if r.seq not in delivered and (failed is None or r.seq != failed.seq)]
            if rest:  # not tried this round: due again at once, after the failed one
                await session.execute(update(t).where(t.c.seq.in_(rest)).values(next_attempt_at=now))
            await session.commit()
        return len(delivered)

    async def _deliver(self, payload: str) -> bool:
        headers = {"Content-Type": "application/json"}
        try:
            if self.token_source is not None:
                headers |= await self.token_source.headers()
            response = await self.client.post(self.target_url, content=payload, headers=headers)
        except httpx.HTTPError as exc:
            log.info("event delivery to %s failed: %s", self.target_url, exc)
            return False
        return response.status_code < 300

    async def run(self, interval: float) -> None:
        """Dispatch forever, every `interval` seconds, at once again after a full batch (cancel to stop)."""
        while True:
            delivered = 0
            try:
                delivered = await self.dispatch_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox dispatch failed")
            await asyncio.sleep(0 if delivered >= self.batch_size else interval)


def dispatcher_for(
    settings: ServiceSettings,
    database: Database,
    table: Table,
    clock: Clock,
    token_source: TokenSource | None,
) -> Dispatcher | None:
    """The service's outbox dispatcher as its settings configure it (None when it sends no events)."""
    if not (settings.run_background_tasks and settings.event_target_url):
        return None
    return Dispatcher(
        database,
        table,
        settings.event_target_url,
        clock,
        lease_seconds=settings.dispatch_lease_seconds,
        token_source=token_source,
    )
