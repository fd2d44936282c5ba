"""`services.kit.db`: how writers in one process take their turn, on each engine."""

from __future__ import annotations

import asyncio

from services.kit.db import Database, is_sqlite
from tests.kit.test_repository import T0, create, patient, repo


async def test_a_second_writer_in_the_process_waits_for_the_first_on_sqlite_only(database: Database) -> None:
    """On SQLite a writer's session opens only when the writer before it has closed; on PostgreSQL at once.

    Two independent tasks, as two requests are. Waiting on the in-process lock is what lets the next
    writer start the moment the first commits, rather than sleeping in SQLite's busy handler.
    """
    first_has_its_turn, release, second_entered = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def first_writer() -> None:
        async with database.session(writing=True) as session:
            await repo(session).create(patient("First"), "p1", T0)
            first_has_its_turn.set()
            await release.wait()
            await session.commit()

    async def second_writer() -> None:
        async with database.session(writing=True) as session:
            second_entered.set()
            await repo(session).create(patient("Second"), "p2", T0)
            await session.commit()

    first = asyncio.create_task(first_writer())
    await first_has_its_turn.wait()
    second = asyncio.create_task(second_writer())
    for _ in range(20):
        await asyncio.sleep(0)
    assert second_entered.is_set() is not is_sqlite(database.url)
    release.set()
    async with asyncio.timeout(10):
        await asyncio.gather(first, second)
    assert second_entered.is_set()


async def test_a_writer_nested_in_one_that_has_not_written_yet_goes_on(database: Database) -> None:
    """A request's own session is open while it records its idempotency key in another: no deadlock."""
    async with asyncio.timeout(10), database.session(writing=True) as outer:
        async with database.session(writing=True) as inner:
            await repo(inner).create(patient("Inner"), "p1", T0)
            await inner.commit()
        await repo(outer).create(patient("Outer"), "p2", T0)
        await outer.commit()
    assert (await read_both(database)) == ["p1", "p2"]


async def read_both(database: Database) -> list[str]:
    async with database.session(writing=False) as session:
        return sorted([(await repo(session).read(i)).id for i in ("p1", "p2")])


async def test_readers_never_wait_for_a_writer(database: Database) -> None:
    await create(database, "p1")
    async with database.session(writing=True) as writer:
        await repo(writer).create(patient("Writing"), "p2", T0)
        async with database.session(writing=False) as reader:
            assert (await repo(reader).read("p1")).id == "p1"
        await writer.commit()


async def test_a_writer_that_fails_lets_the_next_one_in(database: Database) -> None:
    try:
        async with database.session(writing=True) as failing:
            await repo(failing).create(patient(), "p1", T0)
            raise RuntimeError("the request failed")
    except RuntimeError:
        pass
    async with asyncio.timeout(5):
        await create(database, "p3")
