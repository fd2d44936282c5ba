"""`services.kit.db`: how writers in one process take their turn, on each engine."""

from __future__ import annotations

import asyncio

from services.kit.db import Database, is_sqlite
from tests.kit.test_repository import T0, create, patient, repo


async def test_a_second_writer_in_the_process_waits_for_the_first_on_sqlite_only(database: Database) -> None:
    """On SQLite a writer's session opens only when the writer before it has closed; on PostgreSQL at once.

    Waiting on the in-process lock is what lets the next writer start the moment the first commits,
    rather than sleeping in SQLite's busy handler.
    """
    entered = asyncio.Event()

    async def second_writer() -> None:
        async with database.session(writing=True) as session:
            entered.set()
            await repo(session).create(patient("Second"), "p2", T0)
            await session.commit()

    async with database.session(writing=True) as first:
        await repo(first).create(patient("First"), "p1", T0)
        waiting = asyncio.create_task(second_writer())
        for _ in range(20):
            await asyncio.sleep(0)
        assert entered.is_set() is not is_sqlite(database.url)
        await first.commit()
    await waiting
    assert entered.is_set()


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
