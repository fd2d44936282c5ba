"""Dialect-aware SQL pieces: whole days between instants, a JSON code, and percentiles.

PostgreSQL computes percentiles with `percentile_cont`; SQLite has no ordered-set aggregates, so
the fallback fetches the group key and the one numeric column of the already filtered rows, in
order, and interpolates exactly as `percentile_cont` does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Integer, cast, func, literal_column, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Subquery

Key = tuple[Any, ...]


def dialect_of(session: AsyncSession) -> str:
    """`postgresql` or `sqlite` (the engines Continuum runs on)."""
    return session.get_bind().dialect.name


def whole_days(start: ColumnElement[Any], stop: ColumnElement[Any], dialect: str) -> ColumnElement[int]:
    """Whole days (floor) from `start` to `stop`, computed in the database."""
    if dialect == "postgresql":
        return cast(func.floor(func.extract("epoch", stop - start) / 86400), Integer)
    seconds = cast(func.strftime("%s", stop), Integer) - cast(func.strftime("%s", start), Integer)
    return cast(seconds / literal_column("86400"), Integer)


def json_code(document: ColumnElement[Any], element: str, dialect: str) -> ColumnElement[str]:
    """The first coding's code of a CodeableConcept element of a stored resource (text column)."""
    if dialect == "postgresql":
        return func.jsonb_extract_path_text(cast(document, JSONB), element, "coding", "0", "code")
    return func.json_extract(document, f"$.{element}.coding[0].code")


def percentile_cont(values: Sequence[float], fraction: float) -> float | None:
    """The `percentile_cont` of sorted values: linear interpolation between the closest ranks."""
    if not values:
        return None
    position = fraction * (len(values) - 1)
    lower = int(position)
    upper = min(lower + 1, len(values) - 1)
    return float(values[lower] + (values[upper] - values[lower]) * (position - lower))


async def percentiles(
    session: AsyncSession,
    rows: Subquery,
    keys: Sequence[str],
    value: str,
    fractions: Sequence[float],
) -> dict[Key, list[float | None]]:
    """Percentiles of `rows.c[value]` per group of `keys`, on whichever engine the session uses."""
    key_columns = [rows.c[k] for k in keys]
    observed = rows.c[value]
    if dialect_of(session) == "postgresql":
        aggregates = [func.percentile_cont(f).within_group(observed.asc()) for f in fractions]
        query = select(*key_columns, *aggregates).where(observed.is_not(None)).group_by(*key_columns)
        result: dict[Key, list[float | None]] = {}
        for row in (await session.execute(query)).all():
            result[tuple(row[: len(keys)])] = [None if v is None else float(v) for v in row[len(keys) :]]
        return result
    query = select(*key_columns, observed).where(observed.is_not(None)).order_by(*key_columns, observed)
    groups: dict[Key, list[float]] = {}
    for row in (await session.execute(query)).all():
        groups.setdefault(tuple(row[: len(keys)]), []).append(float(row[len(keys)]))
    return {key: [percentile_cont(values, f) for f in fractions] for key, values in groups.items()}
