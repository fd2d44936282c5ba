"""Resource storage: one table per resource type holding the stored JSON plus search columns.

A write validates nothing (the service already did); it stamps `meta.versionId` and
`meta.lastUpdated`, serialises once, and keeps every version in the service's history table.
Reads return the stored bytes, so serving a resource never re-parses it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import (
    Column,
    ColumnElement,
    Integer,
    MetaData,
    Select,
    String,
    Table,
    Text,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.schema import SchemaItem

from services.kit.clock import instant
from services.kit.db import UtcDateTime
from services.kit.errors import NotFound, PreconditionFailed

RowMapper = Callable[[dict[str, Any]], dict[str, Any]]


def resource_table(metadata: MetaData, name: str, *search_columns: SchemaItem) -> Table:
    """A table for one resource type: id, version, last update, stored JSON and search columns."""
    return Table(
        name,
        metadata,
        Column("id", String(64), primary_key=True),
        Column("version_id", Integer, nullable=False),
        Column("last_updated", UtcDateTime(), nullable=False, index=True),
        Column("resource", Text, nullable=False),
        *search_columns,
    )


def history_table(metadata: MetaData) -> Table:
    """Every version of every resource a service stores (for vread and _history)."""
    return Table(
        "resource_history",
        metadata,
        Column("resource_type", String(64), primary_key=True),
        Column("id", String(64), primary_key=True),
        Column("version_id", Integer, primary_key=True),
        Column("last_updated", UtcDateTime(), nullable=False),
        Column("resource", Text, nullable=False),
    )


@dataclass(frozen=True)
class Stored:
    """A stored version of a resource: its bytes, plus what the headers need."""

    id: str
    version_id: int
    last_updated: datetime
    body: bytes

    def resource(self) -> dict[str, Any]:
        """The resource as a dict (parsed on demand, for services that need its content)."""
        value: dict[str, Any] = orjson.loads(self.body)
        return value


@dataclass(frozen=True)
class ResourceKind:
    """How one resource type is stored: its table and the function deriving search columns."""

    resource_type: str
    table: Table
    to_row: RowMapper


def _stamp(resource: dict[str, Any], id_: str, version: int, now: datetime) -> bytes:
    resource["id"] = id_
    meta = dict(resource.get("meta") or {})
    meta["versionId"] = str(version)
    meta["lastUpdated"] = instant(now)
    resource["meta"] = meta
    return orjson.dumps(resource)


def _stored(row: Any) -> Stored:
    body = row.resource
    return Stored(row.id, row.version_id, row.last_updated, body.encode() if isinstance(body, str) else body)


class ResourceRepository:
    """Create, read, version and search the resources of one type. Flushes, never commits."""

    def __init__(self, session: AsyncSession, kind: ResourceKind, history: Table) -> None:
        self.session = session
        self.kind = kind
        self.table = kind.table
        self.history = history

    async def create(
        self,
        resource: dict[str, Any],
        id_: str,
        now: datetime,
        extra: dict[str, Any] | None = None,
        *,
        remember: bool = True,
    ) -> Stored:
        """Store the first version of a resource under `id_`.

        `extra` sets columns the service derives itself (not from the resource's content).
        """
        body = _stamp(resource, id_, 1, now)
        row = {"id": id_, "version_id": 1, "last_updated": now, "resource": body.decode()}
        columns = self.kind.to_row(resource) | (extra or {})
        await self.session.execute(insert(self.table).values(**row, **columns))
        if remember:
            await self._remember(id_, 1, now, body)
        return Stored(id_, 1, now, body)

    async def update(
        self,
        resource: dict[str, Any],
        current: Stored,
        now: datetime,
        extra: dict[str, Any] | None = None,
    ) -> Stored:
        """Store a new version, only if `current` is still the latest (else 412).

        The version check is part of the UPDATE itself, so of two writers that read the same
        version exactly one wins, on SQLite and PostgreSQL alike.
        """
        version = current.version_id + 1
        body = _stamp(resource, current.id, version, now)
        statement = (
            update(self.table)
            .where(self.table.c.id == current.id, self.table.c.version_id == current.version_id)
            .values(
                version_id=version,
                last_updated=now,
                resource=body.decode(),
                **(self.kind.to_row(resource) | (extra or {})),
            )
        )
        result = await self.session.execute(statement)
        if getattr(result, "rowcount", 0) != 1:
            raise PreconditionFailed(
                f"{self.kind.resource_type}/{current.id} was changed by another request "
                f"(version {current.version_id} is no longer current)",
                "If-Match",
            )
        await self._remember(current.id, version, now, body)
        return Stored(current.id, version, now, body)

    async def _remember(self, id_: str, version: int, now: datetime, body: bytes) -> None:
        await self.session.execute(
            insert(self.history).values(
                resource_type=self.kind.resource_type,
                id=id_,
                version_id=version,
                last_updated=now,
                resource=body.decode(),
            )
        )

    async def find(self, id_: str) -> Stored | None:
        """The current version, or None."""
        row = (await self.session.execute(self._columns().where(self.table.c.id == id_))).first()
        return _stored(row) if row else None

    async def read(self, id_: str) -> Stored:
        """The current version, or 404."""
        found = await self.find(id_)
        if found is None:
            raise NotFound(f"{self.kind.resource_type}/{id_} is not known", "id")
        return found

    async def vread(self, id_: str, version: int) -> Stored:
        """One version, or 404."""
        h = self.history
        row = (
            await self.session.execute(
                select(h.c.id, h.c.version_id, h.c.last_updated, h.c.resource).where(
                    h.c.resource_type == self.kind.resource_type,
                    h.c.id == id_,
                    h.c.version_id == version,
                )
            )
        ).first()
        if row is None:
            raise NotFound(f"{self.kind.resource_type}/{id_}/_history/{version} is not known")
        return _stored(row)

    async def versions(self, id_: str) -> list[Stored]:
        """Every version, newest first (404 if the resource is unknown)."""
        h = self.history
        rows = (
            await self.session.execute(
                select(h.c.id, h.c.version_id, h.c.last_updated, h.c.resource)
                .where(h.c.resource_type == self.kind.resource_type, h.c.id == id_)
                .order_by(h.c.version_id.desc())
            )
        ).all()
        if not rows:
            raise NotFound(f"{self.kind.resource_type}/{id_} is not known", "id")
        return [_stored(r) for r in rows]

    def _columns(self) -> Select[Any]:
        t = self.table
        return select(t.c.id, t.c.version_id, t.c.last_updated, t.c.resource)

    async def search(
        self,
        where: Sequence[ColumnElement[bool]],
        order_by: Sequence[Any],
        limit: int,
        offset: int,
        *,
        count: bool = True,
    ) -> tuple[list[Stored], int | None]:
        """One page of matches, and the total number of matches when `count`."""
        statement = self._columns().where(*where).order_by(*order_by, self.table.c.id)
        rows = (await self.session.execute(statement.limit(limit).offset(offset))).all()
        total = None
        if count:
            total = int(
                (await self.session.execute(select(func.count()).select_from(self.table).where(*where))).scalar_one()
            )
        return [_stored(r) for r in rows], total

    async def all_where(
        self, *where: ColumnElement[bool], order_by: Any = None, limit: int | None = None
    ) -> list[Stored]:
        """Every match (or the first `limit` of them), for a service's own look-ups."""
        statement = self._columns().where(*where)
        if order_by is not None:
            statement = statement.order_by(order_by)
        if limit is not None:
            statement = statement.limit(limit)
        rows = (await self.session.execute(statement)).all()
        return [_stored(r) for r in rows]
