"""`services.kit.db`: sessions that write and read side by side, on each engine."""

from __future__ import annotations

import asyncio

from services.kit.db import Database
from tests.kit.test_repository import T0, create, patient, repo


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
