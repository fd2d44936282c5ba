"""`services.kit.repository`: versioned resource storage, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import StatementError

from services.kit.clock import instant
from services.kit.db import Database
from services.kit.errors import FhirError, NotFound, PreconditionFailed
from services.kit.repository import ResourceRepository, Stored
from services.kit.search import SearchSpec, date, parse_search, string
from tests.kit.conftest import PATIENT, history, patients

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
T1 = T0 + timedelta(hours=1, milliseconds=250)
T2 = T0 + timedelta(days=1)


def patient(family: str = "Okafor", **more: Any) -> dict[str, Any]:
    """A Patient resource."""
    return {"resourceType": "Patient", "name": [{"family": family}], **more}


def repo(session: Any) -> ResourceRepository:
    """The Patient repository on a session."""
    return ResourceRepository(session, PATIENT, history)


async def create(database: Database, id_: str = "p1", resource: dict[str, Any] | None = None) -> Stored:
    """Store and commit the first version of a Patient."""
    async with database.session(writing=True) as session:
        stored = await repo(session).create(resource or patient(), id_, T0)
        await session.commit()
    return stored


async def update(database: Database, resource: dict[str, Any], current: Stored, now: datetime) -> Stored:
    """Store and commit a new version."""
    async with database.session(writing=True) as session:
        stored = await repo(session).update(resource, current, now)
        await session.commit()
    return stored


async def read(database: Database, id_: str) -> Stored:
    """The current version."""
    async with database.session(writing=False) as session:
        return await repo(session).read(id_)


async def test_create_stamps_id_version_and_last_updated(database: Database) -> None:
    stored = await create(database, "p1", patient(meta={"tag": [{"code": "test"}]}))
    assert (stored.id, stored.version_id, stored.last_updated) == ("p1", 1, T0)
    body = stored.resource()
    assert body["id"] == "p1"
    assert body["meta"]["versionId"] == "1"
    assert body["meta"]["lastUpdated"] == instant(T0) == "2026-01-05T09:00:00.000Z"
    assert body["meta"]["tag"] == [{"code": "test"}]  # the client's meta is kept

    found = await read(database, "p1")
    assert found.body == stored.body  # served as the bytes that were stored
    assert found.version_id == 1
    assert found.last_updated == T0
    assert found.last_updated.tzinfo == UTC


async def test_create_replaces_a_client_supplied_id_and_version(database: Database) -> None:
    stored = await create(database, "p1", patient(id="theirs", meta={"versionId": "9"}))
    assert stored.resource()["id"] == "p1"
    assert stored.resource()["meta"]["versionId"] == "1"


async def test_create_fills_the_search_columns(database: Database) -> None:
    await create(database, "p1", patient("Okafor", active=True))
    async with database.session(writing=False) as session:
        row = (await session.execute(select(patients.c.family, patients.c.active))).one()
    assert (row.family, row.active) == ("Okafor", True)


async def test_update_increments_the_version_and_keeps_history(database: Database) -> None:
    v1 = await create(database)
    v2 = await update(database, patient("Adeyemi", active=False), v1, T1)
    assert (v2.version_id, v2.last_updated) == (2, T1)
    assert v2.resource()["meta"]["versionId"] == "2"
    assert v2.resource()["meta"]["lastUpdated"] == "2026-01-05T10:00:00.250Z"

    current = await read(database, "p1")
    assert current.body == v2.body
    assert current.last_updated == T1

    async with database.session(writing=False) as session:
        old = await repo(session).vread("p1", 1)
        new = await repo(session).vread("p1", 2)
        row = (await session.execute(select(patients.c.family, patients.c.active))).one()
    assert old.body == v1.body
    assert old.resource()["name"][0]["family"] == "Okafor"
    assert old.last_updated == T0
    assert new.body == v2.body
    assert (row.family, row.active) == ("Adeyemi", False)  # search columns follow the update


async def test_versions_are_newest_first(database: Database) -> None:
    v1 = await create(database)
    v2 = await update(database, patient("B"), v1, T1)
    v3 = await update(database, patient("C"), v2, T2)
    async with database.session(writing=False) as session:
        versions = await repo(session).versions("p1")
    assert [v.version_id for v in versions] == [3, 2, 1]
    assert [v.body for v in versions] == [v3.body, v2.body, v1.body]
    assert [v.last_updated for v in versions] == [T2, T1, T0]


async def test_update_from_a_stale_version_is_412(database: Database) -> None:
    v1 = await create(database)
    await update(database, patient("B"), v1, T1)
    with pytest.raises(PreconditionFailed) as caught:
        await update(database, patient("C"), v1, T2)
    assert caught.value.status == 412
    assert caught.value.expression == ("If-Match",)
    assert (await read(database, "p1")).resource()["name"][0]["family"] == "B"
    async with database.session(writing=False) as session:
        assert [v.version_id for v in await repo(session).versions("p1")] == [2, 1]


async def test_update_of_an_unknown_resource_is_412(database: Database) -> None:
    ghost = Stored("ghost", 1, T0, b"{}")
    with pytest.raises(PreconditionFailed):
        await update(database, patient(), ghost, T1)


async def test_of_two_concurrent_updates_from_the_same_version_exactly_one_wins(database: Database) -> None:
    v1 = await create(database)

    async def writer(family: str, pause: float) -> Stored | FhirError:
        async with database.session(writing=True) as session:
            try:
                stored = await repo(session).update(patient(family), v1, T1)
                await asyncio.sleep(pause)  # hold the transaction open while the other writer tries
                await session.commit()
            except FhirError as error:
                await session.rollback()
                return error
            return stored

    results = await asyncio.gather(writer("First", 0.2), writer("Second", 0.0))
    winners = [r for r in results if isinstance(r, Stored)]
    losers = [r for r in results if isinstance(r, FhirError)]
    assert len(winners) == 1, results
    assert len(losers) == 1, results
    assert isinstance(losers[0], PreconditionFailed)
    assert losers[0].status == 412

    current = await read(database, "p1")
    assert current.version_id == 2
    assert current.body == winners[0].body
    async with database.session(writing=False) as session:
        assert [v.version_id for v in await repo(session).versions("p1")] == [2, 1]


async def test_many_concurrent_updates_make_a_gapless_history(database: Database) -> None:
    v1 = await create(database)

    async def writer(n: int) -> int:
        wins = 0
        current = v1
        for _ in range(3):
            async with database.session(writing=True) as session:
                try:
                    current = await repo(session).update(patient(f"W{n}"), current, T1)
                    await session.commit()
                    wins += 1
                except PreconditionFailed:
                    await session.rollback()
                    current = await repo(session).read("p1")
        return wins

    wins = await asyncio.gather(*(writer(n) for n in range(4)))
    current = await read(database, "p1")
    assert current.version_id == 1 + sum(wins)
    async with database.session(writing=False) as session:
        versions = [v.version_id for v in await repo(session).versions("p1")]
    assert versions == list(range(current.version_id, 0, -1))


async def test_a_rolled_back_create_leaves_nothing(database: Database) -> None:
    async with database.session(writing=True) as session:
        await repo(session).create(patient(), "p1", T0)
        await session.rollback()
    async with database.session(writing=False) as session:
        assert await repo(session).find("p1") is None
        assert (await session.execute(select(func.count()).select_from(history))).scalar_one() == 0


async def test_reading_an_unknown_id_is_404(database: Database) -> None:
    await create(database, "p1")
    async with database.session(writing=False) as session:
        r = repo(session)
        assert await r.find("nobody") is None
        with pytest.raises(NotFound) as caught:
            await r.read("nobody")
        assert caught.value.status == 404
        assert caught.value.expression == ("id",)
        assert "Patient/nobody" in caught.value.diagnostics
        with pytest.raises(NotFound):
            await r.versions("nobody")
        with pytest.raises(NotFound):
            await r.vread("nobody", 1)
        with pytest.raises(NotFound):
            await r.vread("p1", 2)


async def test_naive_datetimes_are_refused(database: Database) -> None:
    async with database.session(writing=True) as session:
        with pytest.raises(StatementError, match="naive"):
            await repo(session).create(patient(), "p1", datetime(2026, 1, 5, 9))
        await session.rollback()


async def test_search_pages_and_counts(database: Database) -> None:
    for n, family in enumerate(["Smith", "Smithers", "Jones", "smithson"]):
        async with database.session(writing=True) as session:
            await repo(session).create(patient(family), f"p{n}", T0 + timedelta(minutes=n))
            await session.commit()
    spec = SearchSpec(
        "Patient",
        {
            "family": string("family", patients.c.family),
            "_lastUpdated": date("_lastUpdated", patients.c.last_updated),
        },
        {"_lastUpdated": patients.c.last_updated, "family": patients.c.family},
    )
    query = parse_search(spec, [("family", "smith"), ("_count", "2")], default_count=20, max_count=100)
    async with database.session(writing=False) as session:
        page, total = await repo(session).search(query.where, query.order_by, query.count, query.offset)
        rest, _ = await repo(session).search(query.where, query.order_by, query.count, 2)
        uncounted, none = await repo(session).search(query.where, query.order_by, 10, 0, count=False)
    assert total == 3
    assert [s.id for s in page] == ["p3", "p1"]  # newest first by default
    assert [s.id for s in rest] == ["p0"]
    assert none is None
    assert len(uncounted) == 3


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-01-05T09:01:00.000Z", ["p1"]),
        ("2026-01-05T10:01:00.000+01:00", ["p1"]),
        ("ge2026-01-05T10:01:00.000+01:00", ["p1", "p2"]),
        ("lt2026-01-05T04:01:00.000-05:00", ["p0"]),
        ("2026-01-05", ["p0", "p1", "p2"]),
        ("2026-01-04", []),
    ],
)
async def test_date_search_with_zone_offsets(database: Database, value: str, expected: list[str]) -> None:
    for n in range(3):
        async with database.session(writing=True) as session:
            await repo(session).create(patient(), f"p{n}", T0 + timedelta(minutes=n))
            await session.commit()
    spec = SearchSpec("Patient", {"_lastUpdated": date("_lastUpdated", patients.c.last_updated)}, {"id": patients.c.id})
    query = parse_search(spec, [("_lastUpdated", value), ("_sort", "id")], default_count=20, max_count=100)
    async with database.session(writing=False) as session:
        found, total = await repo(session).search(query.where, query.order_by, query.count, query.offset)
    assert [s.id for s in found] == expected
    assert total == len(expected)


async def test_all_where(database: Database) -> None:
    await create(database, "a", patient("Zed", active=True))
    await create(database, "b", patient("Abe", active=True))
    await create(database, "c", patient("Max", active=False))
    async with database.session(writing=False) as session:
        found = await repo(session).all_where(patients.c.active.is_(True), order_by=patients.c.family)
    assert [s.id for s in found] == ["b", "a"]
    assert orjson.loads(found[0].body)["name"][0]["family"] == "Abe"
