"""FHIR search over indexed columns: parameters, paging, sorting and searchset Bundles.

Each service declares the parameters it supports per type (no generic engine); an unknown
parameter is a 400 naming it, because silently ignoring a filter returns the wrong patients.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import orjson
from sqlalchemy import ColumnElement, and_, not_, or_

from services.kit.errors import BadRequest
from services.kit.repository import Stored

Clause = ColumnElement[bool]
_PREFIXES = ("eq", "ne", "lt", "le", "gt", "ge", "sa", "eb")
_DATE = re.compile(r"^(\d{4})(-\d{2})?(-\d{2})?(T[\d:.]+(Z|[+-]\d{2}:\d{2})?)?$")


@dataclass(frozen=True)
class Param:
    """A search parameter: its FHIR type and how a value becomes a SQL condition."""

    name: str
    type: str
    build: Callable[[str, str | None], Clause]
    modifiers: frozenset[str] = frozenset()


def token(name: str, code: Any, system: Any = None) -> Param:
    """A token parameter over a code column (and optionally a system column); `:not` supported."""

    def build(value: str, modifier: str | None) -> Clause:
        if "|" in value:
            sys_part, code_part = value.split("|", 1)
            clause: Clause = code == code_part if code_part else code.is_not(None)
            if system is not None:
                # `|code` means "no system"; `system|code` that system (FHIR token search).
                clause = and_(clause, system == sys_part if sys_part else system.is_(None))
        else:
            clause = code == value
        if modifier == "not":
            # :not also matches resources with no value at all (NOT NULL would drop them).
            return or_(not_(clause), code.is_(None))
        return clause

    return Param(name, "token", build, frozenset({"not"}))


def reference(name: str, column: Any, default_type: str) -> Param:
    """A reference parameter over a column holding `Type/id`."""

    def build(value: str, _: str | None) -> Clause:
        ref = value if "/" in value else f"{default_type}/{value}"
        return column == ref  # type: ignore[no-any-return]

    return Param(name, "reference", build)


def string(name: str, column: Any) -> Param:
    """A string parameter: case-insensitive starts-with, or `:exact`."""

    def build(value: str, modifier: str | None) -> Clause:
        if modifier == "exact":
            return column == value  # type: ignore[no-any-return]
        escaped = value.replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_")
        return column.ilike(escaped + "%", escape="\\")  # type: ignore[no-any-return]

    return Param(name, "string", build, frozenset({"exact"}))


def date_range(value: str) -> tuple[datetime, datetime]:
    """The instants [start, end) a FHIR date or dateTime value covers, at its precision."""
    match = _DATE.match(value)
    if not match:
        raise ValueError(value)
    year, month, day, time, _ = match.groups()
    if time:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        clock = time[1:].rstrip("Z").split("+")[0].split("-")[0]
        if "." in clock:
            digits = len(clock.split(".")[1])
            return moment, moment + timedelta(microseconds=10 ** max(0, 6 - digits))
        # The value covers its whole last unit: 09:00:00 is the whole second, 09:00 the minute.
        return moment, moment + (timedelta(seconds=1) if clock.count(":") == 2 else timedelta(minutes=1))
    y = int(year)
    if month is None:
        return datetime(y, 1, 1, tzinfo=UTC), datetime(y + 1, 1, 1, tzinfo=UTC)
    m = int(month[1:])
    if day is None:
        end = datetime(y + (m == 12), m % 12 + 1, 1, tzinfo=UTC)
        return datetime(y, m, 1, tzinfo=UTC), end
    start = datetime(y, m, int(day[1:]), tzinfo=UTC)
    return start, start + timedelta(days=1)


def date(name: str, column: Any) -> Param:
    """A date parameter with FHIR prefixes (eq, ne, lt, le, gt, ge, sa, eb)."""

    def build(value: str, _: str | None) -> Clause:
        prefix = value[:2] if value[:2] in _PREFIXES else "eq"
        start, end = date_range(value[2:] if value[:2] in _PREFIXES else value)
        conditions: dict[str, Clause] = {
            "eq": and_(column >= start, column < end),
            "ne": or_(column < start, column >= end),
            "lt": column < start,
            "eb": column < start,
            "le": column < end,
            "gt": column >= end,
            "sa": column >= end,
            "ge": column >= start,
        }
        return conditions[prefix]

    return Param(name, "date", build)


@dataclass(frozen=True)
class SearchSpec:
    """What a resource type supports: parameters, sort keys, and include/revinclude names."""

    resource_type: str
    params: Mapping[str, Param]
    sorts: Mapping[str, Any]
    includes: frozenset[str] = frozenset()
    revincludes: frozenset[str] = frozenset()


@dataclass
class SearchRequest:
    """A parsed search: SQL conditions, ordering, paging and the includes asked for."""

    where: list[Clause] = field(default_factory=list)
    order_by: list[Any] = field(default_factory=list)
    count: int = 20
    offset: int = 0
    includes: list[str] = field(default_factory=list)
    revincludes: list[str] = field(default_factory=list)
    want_total: bool = True
    summary_count: bool = False
    echo: list[tuple[str, str]] = field(default_factory=list)


_RESULT_PARAMS = {
    "_count",
    "_offset",
    "_sort",
    "_include",
    "_revinclude",
    "_total",
    "_summary",
    "_format",
}


def parse_search(
    spec: SearchSpec,
    query: Sequence[tuple[str, str]],
    *,
    default_count: int,
    max_count: int,
) -> SearchRequest:
    """Turn query parameters into a SearchRequest, refusing anything unsupported (400)."""
    request = SearchRequest(count=default_count)
    for raw_name, value in query:
        name, _, modifier = raw_name.partition(":")
        if name in _RESULT_PARAMS:
            _result_param(spec, request, name, raw_name, value, max_count)
            continue
        param = spec.params.get(name)
        if param is None:
            raise BadRequest(
                f"Search parameter {name!r} is not supported on {spec.resource_type}; supported: "
                + ", ".join(sorted(spec.params)),
                raw_name,
            )
        if modifier and modifier not in param.modifiers:
            raise BadRequest(f"Modifier :{modifier} is not supported on {name}", raw_name)
        if "\x00" in value:  # no engine compares text with a NUL in it (PostgreSQL refuses the query)
            raise BadRequest(f"Search parameter {name!r} contains a NUL character", raw_name)
        alternatives = [v for v in value.split(",") if v != ""]
        if not alternatives:
            raise BadRequest(f"Search parameter {name!r} has an empty value", raw_name)
        try:
            clauses = [param.build(v, modifier or None) for v in alternatives]
        except ValueError:
            raise BadRequest(f"{value!r} is not a valid {param.type} for {name}", raw_name) from None
        request.where.append(clauses[0] if len(clauses) == 1 else or_(*clauses))
        request.echo.append((raw_name, value))
    if not request.order_by:
        request.order_by = [spec.sorts["_lastUpdated"].desc()] if "_lastUpdated" in spec.sorts else []
    return request


def _result_param(spec: SearchSpec, request: SearchRequest, name: str, raw: str, value: str, max_count: int) -> None:
    if name in ("_count", "_offset"):
        if not (value.isascii() and value.isdigit()):
            raise BadRequest(f"{name} must be a whole number, not {value!r}", raw)
        number = int(value)
        if name == "_count":
            request.count = min(number, max_count)
        else:
            request.offset = number
        return
    request.echo.append((raw, value))
    if name == "_sort":
        for key in value.split(","):
            descending = key.startswith("-")
            column = spec.sorts.get(key.lstrip("-"))
            if column is None:
                raise BadRequest(
                    f"Cannot sort {spec.resource_type} by {key!r}; sort keys: " + ", ".join(sorted(spec.sorts)),
                    "_sort",
                )
            request.order_by.append(column.desc() if descending else column.asc())
    elif name == "_include":
        if value not in spec.includes:
            raise BadRequest(f"_include={value} is not supported on {spec.resource_type}", "_include")
        request.includes.append(value)
    elif name == "_revinclude":
        if value not in spec.revincludes:
            raise BadRequest(f"_revinclude={value} is not supported on {spec.resource_type}", "_revinclude")
        request.revincludes.append(value)
    elif name == "_total":
        if value not in ("none", "accurate", "estimate"):
            raise BadRequest("_total must be none, estimate or accurate", "_total")
        request.want_total = value != "none"
    elif name == "_summary":
        if value != "count":
            raise BadRequest("Only _summary=count is supported", "_summary")
        request.summary_count = True
    elif name == "_format" and value not in ("json", "application/fhir+json", "application/json"):
        raise BadRequest("Only JSON is supported (_format=json)", "_format")


def searchset(
    base: str,
    resource_type: str,
    search: SearchRequest,
    matches: list[tuple[str, Stored]],
    total: int | None,
    included: list[tuple[str, Stored]] = (),  # type: ignore[assignment]
) -> bytes:
    """A searchset Bundle with self/next/previous links; stored resources are embedded as-is."""

    def link(relation: str, offset: int) -> dict[str, str]:
        params = [*search.echo, ("_count", str(search.count)), ("_offset", str(offset))]
        return {"relation": relation, "url": f"{base}/{resource_type}?{urlencode(params)}"}

    links = [link("self", search.offset)]
    more = search.count > 0 and len(matches) == search.count and (total is None or search.offset + search.count < total)
    if more:
        links.append(link("next", search.offset + search.count))
    if search.offset > 0:
        links.append(link("previous", max(0, search.offset - search.count)))
    entries: list[dict[str, Any]] = [
        {
            "fullUrl": f"{base}/{kind}/{s.id}",
            "resource": orjson.Fragment(s.body),
            "search": {"mode": "match"},
        }
        for kind, s in matches
    ]
    entries += [
        {
            "fullUrl": f"{base}/{kind}/{s.id}",
            "resource": orjson.Fragment(s.body),
            "search": {"mode": "include"},
        }
        for kind, s in included
    ]
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset"}
    if total is not None:
        bundle["total"] = total
    bundle["link"] = links
    if not search.summary_count:
        bundle["entry"] = entries
    return orjson.dumps(bundle)


def history_bundle(base: str, resource_type: str, versions: list[Stored]) -> bytes:
    """A history Bundle of a resource's versions, newest first."""
    entries = [
        {
            "fullUrl": f"{base}/{resource_type}/{s.id}",
            "resource": orjson.Fragment(s.body),
            "request": {
                "method": "POST" if s.version_id == 1 else "PUT",
                "url": resource_type if s.version_id == 1 else f"{resource_type}/{s.id}",
            },
            "response": {
                "status": "201" if s.version_id == 1 else "200",
                "etag": f'W/"{s.version_id}"',
            },
        }
        for s in versions
    ]
    return orjson.dumps({"resourceType": "Bundle", "type": "history", "total": len(entries), "entry": entries})
