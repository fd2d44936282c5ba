"""`services.kit.outbox`: events commit with the change, are delivered in order, retried, deduplicated."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import select

from services.kit.clock import FixedClock, instant
from services.kit.db import Database
from services.kit.outbox import Dispatcher, Outbox, first_delivery
from tests.kit.conftest import inbox, outbox

TARGET = "http://gateway.test/events"


class Receiver:
    """An HTTP endpoint for events that records what it accepted and can be told to fail."""

    def __init__(self) -> None:
        self.accepted: list[dict[str, Any]] = []
        self.calls = 0
        self.failure: Callable[[], httpx.Response] | None = None

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        assert str(request.url) == TARGET
        assert request.headers["content-type"] == "application/json"
        if self.failure is not None:
            return self.failure()
        self.accepted.append(orjson.loads(request.content))
        return httpx.Response(202)

    def types(self) -> list[str]:
        """The types of the accepted events, in arrival order."""
        return [e["type"] for e in self.accepted]


@pytest.fixture
def clock() -> FixedClock:
    """Monday 5 January 2026, 09:00 UTC, until moved."""
    return FixedClock()


@pytest.fixture
def receiver() -> Receiver:
    """The receiving end, accepting everything until told otherwise."""
    return Receiver()


@pytest.fixture
async def dispatcher(database: Database, clock: FixedClock, receiver: Receiver) -> AsyncIterator[Dispatcher]:
    """A dispatcher delivering to `receiver` through a mock transport."""
    async with httpx.AsyncClient(transport=httpx.MockTransport(receiver)) as client:
        yield Dispatcher(database, outbox, TARGET, clock, client=client, max_backoff_seconds=60)


async def emit(database: Database, now: datetime, *event_types: str, **data: Any) -> list[str]:
    """Emit events in one committed transaction; their ids."""
    async with database.session(writing=True) as session:
        box = Outbox(session, outbox, "continuum/test")
        ids = [await box.emit(t, now, **data) for t in event_types]
        await session.commit()
    return ids


async def rows(database: Database) -> dict[str, Any]:
    """The outbox rows by event type."""
    async with database.session(writing=False) as session:
        result = await session.execute(select(outbox))
        return {r.event_type: r for r in result}


async def test_events_of_a_rolled_back_transaction_are_not_in_the_outbox(database: Database, clock: FixedClock) -> None:
    async with database.session(writing=True) as session:
        await Outbox(session, outbox, "continuum/test").emit("referral.created", clock.now(), id_="r1")
        assert len(await Outbox(session, outbox, "x").pending()) == 1  # visible inside its transaction
        await session.rollback()
    async with database.session(writing=False) as session:
        assert await Outbox(session, outbox, "continuum/test").pending() == []
    assert await rows(database) == {}


async def test_committed_events_are_pending_oldest_first(database: Database, clock: FixedClock) -> None:
    ids = await emit(database, clock.now(), "referral.created", "referral.accepted", referral="ServiceRequest/r1")
    clock.advance(seconds=1)
    later = await emit(database, clock.now(), "referral.closed")
    async with database.session(writing=False) as session:
        pending = await Outbox(session, outbox, "continuum/test").pending()
    assert [e["id"] for e in pending] == [*ids, *later]
    first = pending[0]
    assert first == {
        "id": ids[0],
        "type": "referral.created",
        "source": "continuum/test",
        "time": "2026-01-05T09:00:00.000Z",
        "referral": "ServiceRequest/r1",
    }
    row = (await rows(database))["referral.created"]
    assert (row.attempts, row.delivered_at) == (0, None)
    assert row.created_at == row.next_attempt_at == datetime.fromisoformat("2026-01-05T09:00:00+00:00")


async def test_dispatch_delivers_in_order_and_marks_delivered(
    database: Database, clock: FixedClock, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    ids = await emit(database, clock.now(), "a", "b", "c")
    clock.advance(seconds=5)
    assert await dispatcher.dispatch_once() == 3
    assert receiver.types() == ["a", "b", "c"]
    assert [e["id"] for e in receiver.accepted] == ids
    for row in (await rows(database)).values():
        assert row.delivered_at == clock.now()
        assert row.attempts == 1
    async with database.session(writing=False) as session:
        assert await Outbox(session, outbox, "continuum/test").pending() == []
    assert await dispatcher.dispatch_once() == 0
    assert receiver.calls == 3  # nothing is delivered twice


async def test_dispatch_takes_at_most_a_batch(
    database: Database, clock: FixedClock, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    dispatcher.batch_size = 2
    await emit(database, clock.now(), "a", "b", "c")
    assert await dispatcher.dispatch_once() == 2
    assert await dispatcher.dispatch_once() == 1
    assert receiver.types() == ["a", "b", "c"]


async def test_a_backlog_larger_than_a_batch_drains_without_waiting_out_the_interval(
    database: Database, clock: FixedClock, receiver: Receiver
) -> None:
    """A full batch means more may be waiting: the next round starts at once, not an interval later."""
    await emit(database, clock.now(), "a", "b", "c", "d", "e")
    all_delivered = asyncio.Event()

    def counting(request: httpx.Request) -> httpx.Response:
        response = receiver(request)
        if len(receiver.accepted) == 5:
            all_delivered.set()
        return response

    async with httpx.AsyncClient(transport=httpx.MockTransport(counting)) as client:
        dispatcher = Dispatcher(database, outbox, TARGET, clock, client=client, batch_size=2)
        running = asyncio.create_task(dispatcher.run(interval=3600))
        try:
            async with asyncio.timeout(10):
                await all_delivered.wait()
        finally:
            running.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await running
    assert receiver.types() == ["a", "b", "c", "d", "e"]


async def test_events_not_yet_due_wait(
    database: Database, clock: FixedClock, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    await emit(database, clock.now() + timedelta(minutes=1), "future")
    assert await dispatcher.dispatch_once() == 0
    assert receiver.calls == 0
    clock.advance(minutes=1)
    assert await dispatcher.dispatch_once() == 1


@pytest.mark.parametrize(
    "failure",
    [
        lambda: httpx.Response(503),
        lambda: httpx.Response(500),
        lambda: httpx.Response(302, headers={"Location": "http://elsewhere.test/"}),
    ],
    ids=["503", "500", "redirect"],
)
async def test_a_failed_delivery_stays_pending_and_is_retried_after_the_backoff(
    database: Database,
    clock: FixedClock,
    receiver: Receiver,
    dispatcher: Dispatcher,
    failure: Callable[[], httpx.Response],
) -> None:
    await emit(database, clock.now(), "a")
    receiver.failure = failure

    assert await dispatcher.dispatch_once() == 0
    row = (await rows(database))["a"]
    assert row.delivered_at is None
    assert row.attempts == 1
    assert row.next_attempt_at == clock.now() + timedelta(seconds=1)
    assert row.next_attempt_at > clock.now()

    receiver.failure = None
    assert await dispatcher.dispatch_once() == 0  # not due yet, even though the receiver is back
    assert receiver.calls == 1

    clock.advance(seconds=1)
    assert await dispatcher.dispatch_once() == 1
    row = (await rows(database))["a"]
    assert row.delivered_at == clock.now()
    assert row.attempts == 2
    assert receiver.types() == ["a"]


async def test_a_connection_error_is_a_failed_delivery(
    database: Database, clock: FixedClock, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    def refuse() -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    await emit(database, clock.now(), "a")
    receiver.failure = refuse
    assert await dispatcher.dispatch_once() == 0
    row = (await rows(database))["a"]
    assert (row.attempts, row.delivered_at) == (1, None)


async def test_backoff_doubles_up_to_the_maximum(
    database: Database, clock: FixedClock, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    dispatcher.max_backoff = 5
    await emit(database, clock.now(), "a")
    receiver.failure = lambda: httpx.Response(503)
    waits = []
    for _ in range(5):
        assert await dispatcher.dispatch_once() == 0
        row = (await rows(database))["a"]
        waits.append((row.next_attempt_at - clock.now()).total_seconds())
        clock.moment = row.next_attempt_at
    assert waits == [1, 2, 4, 5, 5]
    assert (await rows(database))["a"].attempts == 5


async def test_a_failure_holds_back_the_events_behind_it_in_the_batch(
    database: Database, clock: FixedClock, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    await emit(database, clock.now(), "a", "b")
    receiver.failure = lambda: httpx.Response(503)
    assert await dispatcher.dispatch_once() == 0
    assert receiver.calls == 1  # "b" was not tried after "a" failed
    assert (await rows(database))["b"].attempts == 0


async def test_events_behind_a_failed_one_wait_for_it_across_dispatches(
    database: Database, clock: FixedClock, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    await emit(database, clock.now(), "a", "b")
    receiver.failure = lambda: httpx.Response(503)
    await dispatcher.dispatch_once()
    receiver.failure = None
    clock.advance(milliseconds=500)  # the receiver is back, but "a" is not due again yet
    await dispatcher.dispatch_once()
    clock.advance(seconds=1)
    await dispatcher.dispatch_once()
    assert receiver.types() == ["a", "b"]


async def test_order_survives_the_wall_clock_stepping_back(
    database: Database,
    clock: FixedClock,
    receiver: Receiver,
    dispatcher: Dispatcher,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import services.kit.outbox as module

    readings = iter([datetime(2026, 1, 5, 9, 0, 1), datetime(2026, 1, 5, 9, 0, 0)])  # NTP steps back 1 s

    class SteppingClock(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> SteppingClock:
            return next(readings)  # type: ignore[return-value]

    monkeypatch.setattr(module, "datetime", SteppingClock)
    await emit(database, clock.now(), "first", "second")
    monkeypatch.undo()
    assert await dispatcher.dispatch_once() == 2
    assert receiver.types() == ["first", "second"]


async def test_first_delivery_is_true_once_per_event_id(database: Database, clock: FixedClock) -> None:
    async with database.session(writing=True) as session:
        assert await first_delivery(session, inbox, "evt-1", "referral.created", clock.now()) is True
        assert await first_delivery(session, inbox, "evt-1", "referral.created", clock.now()) is False
        assert await first_delivery(session, inbox, "evt-2", "referral.created", clock.now()) is True
        await session.commit()
    async with database.session(writing=True) as session:
        assert await first_delivery(session, inbox, "evt-1", "referral.created", clock.now()) is False
        await session.commit()
    async with database.session(writing=False) as session:
        seen = (await session.execute(select(inbox.c.event_id).order_by(inbox.c.event_id))).scalars().all()
    assert seen == ["evt-1", "evt-2"]


async def test_a_rolled_back_delivery_can_be_applied_again(database: Database, clock: FixedClock) -> None:
    async with database.session(writing=True) as session:
        assert await first_delivery(session, inbox, "evt-1", "referral.created", clock.now()) is True
        await session.rollback()  # the change the event caused failed, so it was never applied
    async with database.session(writing=True) as session:
        assert await first_delivery(session, inbox, "evt-1", "referral.created", clock.now()) is True
        await session.commit()


async def test_two_concurrent_deliveries_of_one_event_apply_it_once(database: Database, clock: FixedClock) -> None:
    async def receive(pause_before: float, pause_after: float) -> bool:
        await asyncio.sleep(pause_before)
        async with database.session(writing=True) as session:
            first = await first_delivery(session, inbox, "evt-1", "referral.created", clock.now())
            await asyncio.sleep(pause_after)  # the first receiver holds its transaction open
            await session.execute(select(inbox.c.event_id))  # the session is still usable either way
            await session.commit()
        return first

    results = await asyncio.gather(receive(0.0, 0.3), receive(0.1, 0.0))
    assert sorted(results) == [False, True]


def test_instant_is_how_event_times_are_written() -> None:
    assert instant(FixedClock().now()) == "2026-01-05T09:00:00.000Z"
