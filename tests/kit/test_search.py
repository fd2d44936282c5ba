"""`services.kit.search`: parsing search parameters, date ranges, SQL semantics and searchset Bundles."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson
import pytest
from sqlalchemy import Column, Engine, MetaData, String, Table, create_engine, insert, select

from services.kit.db import UtcDateTime
from services.kit.errors import BadRequest
from services.kit.repository import Stored
from services.kit.search import (
    SearchRequest,
    SearchSpec,
    date,
    date_range,
    history_bundle,
    parse_search,
    reference,
    searchset,
    string,
    token,
)

metadata = MetaData()
things = Table(
    "thing",
    metadata,
    Column("id", String(16), primary_key=True),
    Column("code", String(32)),
    Column("system", String(64)),
    Column("subject", String(64)),
    Column("name", String(64)),
    Column("at", UtcDateTime()),
)
t = things.c

SPEC = SearchSpec(
    "Thing",
    {
        "code": token("code", t.code, t.system),
        "subject": reference("subject", t.subject, "Patient"),
        "name": string("name", t.name),
        "at": date("at", t.at),
    },
    {"_lastUpdated": t.at, "name": t.name, "code": t.code},
    includes=frozenset({"Thing:subject"}),
    revincludes=frozenset({"Note:about"}),
)


def parse(*query: tuple[str, str], default_count: int = 20, max_count: int = 100) -> SearchRequest:
    """Parse a query against SPEC."""
    return parse_search(SPEC, list(query), default_count=default_count, max_count=max_count)


def refused(*query: tuple[str, str]) -> BadRequest:
    """The 400 a query is refused with."""
    with pytest.raises(BadRequest) as caught:
        parse(*query)
    assert caught.value.status == 400
    assert caught.value.issues[0].code == "invalid"
    return caught.value


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0) -> datetime:
    """An aware UTC datetime."""
    return datetime(year, month, day, hour, minute, second, us, tzinfo=UTC)


ROWS: list[dict[str, Any]] = [
    {"id": "a", "code": "x", "system": "s1", "subject": "Patient/p1", "name": "Smith",
     "at": utc(2025, 12, 31, 23, 59, 59, 999000)},
    {"id": "b", "code": "x", "system": None, "subject": "Patient/p2", "name": "smithers",
     "at": utc(2026, 1, 1)},
    {"id": "c", "code": "y", "system": "s1", "subject": "Group/g1", "name": "a\\b",
     "at": utc(2026, 6, 15, 12)},
    {"id": "d", "code": None, "system": None, "subject": None, "name": "a%b",
     "at": utc(2026, 12, 31, 23, 59, 59, 999000)},
    {"id": "e", "code": "z", "system": "s2", "subject": "Patient/p1", "name": "a_b",
     "at": utc(2027, 1, 1)},
]  # fmt: skip


@pytest.fixture(scope="module")
def db() -> Iterator[Engine]:
    """An in-memory SQLite database holding ROWS (plain, synchronous SQLAlchemy)."""
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(insert(things), ROWS)
    yield engine
    engine.dispose()


def ids(db: Engine, *query: tuple[str, str]) -> list[str]:
    """The ids of the rows a query matches."""
    request = parse(*query)
    with db.connect() as connection:
        return list(connection.execute(select(t.id).where(*request.where).order_by(t.id)).scalars())


# --- refusing what is not supported ---------------------------------------------------------


def test_an_unknown_parameter_is_400_naming_it() -> None:
    error = refused(("colour", "blue"))
    assert error.expression == ("colour",)
    assert "colour" in error.diagnostics
    assert "at, code, name, subject" in error.diagnostics  # what is supported, sorted


def test_an_unknown_parameter_with_a_modifier_is_named_as_sent() -> None:
    assert refused(("colour:exact", "blue")).expression == ("colour:exact",)


@pytest.mark.parametrize("value", ["ten", "-1", "1.5", "", " 5"])
def test_a_bad_count_is_400(value: str) -> None:
    assert refused(("_count", value)).expression == ("_count",)


@pytest.mark.parametrize("value", ["x", "-20"])
def test_a_bad_offset_is_400(value: str) -> None:
    assert refused(("_offset", value)).expression == ("_offset",)


def test_a_count_of_superscript_digits_is_400() -> None:
    refused(("_count", "²"))


def test_count_and_offset_are_read() -> None:
    request = parse(("_count", "5"), ("_offset", "10"))
    assert (request.count, request.offset) == (5, 10)


def test_count_defaults() -> None:
    assert parse(default_count=7).count == 7


def test_count_is_capped_at_the_maximum() -> None:
    assert parse(("_count", "5000"), max_count=100).count == 100
    assert parse(("_count", "100"), max_count=100).count == 100


@pytest.mark.parametrize("value", ["colour", "-colour", "name,colour", ""])
def test_an_unsupported_sort_is_400(value: str) -> None:
    assert refused(("_sort", value)).expression == ("_sort",)


def test_sort_keys_in_order_with_descending() -> None:
    request = parse(("_sort", "name,-code"))
    compiled = [str(c) for c in request.order_by]
    assert compiled == ["thing.name ASC", "thing.code DESC"]


def test_the_default_sort_is_last_updated_newest_first() -> None:
    assert [str(c) for c in parse().order_by] == ["thing.at DESC"]


def test_unsupported_include_and_revinclude_are_400() -> None:
    assert refused(("_include", "Thing:author")).expression == ("_include",)
    assert refused(("_revinclude", "Provenance:target")).expression == ("_revinclude",)


def test_supported_include_and_revinclude_are_kept() -> None:
    request = parse(("_include", "Thing:subject"), ("_revinclude", "Note:about"))
    assert request.includes == ["Thing:subject"]
    assert request.revincludes == ["Note:about"]


def test_total_and_summary() -> None:
    assert parse(("_total", "none")).want_total is False
    assert parse(("_total", "accurate")).want_total is True
    assert parse(("_summary", "count")).summary_count is True
    assert refused(("_total", "some")).expression == ("_total",)
    assert refused(("_summary", "true")).expression == ("_summary",)
    assert refused(("_format", "xml")).expression == ("_format",)
    parse(("_format", "json"))


@pytest.mark.parametrize(
    ("name", "expression"),
    [("code:exact", "code:exact"), ("name:contains", "name:contains"), ("subject:Patient", "subject:Patient"),
     ("at:missing", "at:missing")],
)  # fmt: skip
def test_an_unsupported_modifier_is_400_naming_the_parameter(name: str, expression: str) -> None:
    error = refused((name, "x"))
    assert error.expression == (expression,)
    assert "Modifier" in error.diagnostics


@pytest.mark.parametrize("value", ["", ",", ",,"])
def test_an_empty_value_is_400(value: str) -> None:
    assert refused(("code", value)).expression == ("code",)


@pytest.mark.parametrize("value", ["yesterday", "2026-13", "2026-02-30", "ap2026", "2026-1", "ge"])
def test_an_invalid_date_is_400_naming_the_parameter(value: str) -> None:
    error = refused(("at", value))
    assert error.expression == ("at",)
    assert "date" in error.diagnostics


# --- date ranges ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "start", "end"),
    [
        ("2026", utc(2026, 1, 1), utc(2027, 1, 1)),
        ("2026-02", utc(2026, 2, 1), utc(2026, 3, 1)),
        ("2024-02", utc(2024, 2, 1), utc(2024, 3, 1)),
        ("2026-11", utc(2026, 11, 1), utc(2026, 12, 1)),
        ("2026-12", utc(2026, 12, 1), utc(2027, 1, 1)),
        ("2026-01-05", utc(2026, 1, 5), utc(2026, 1, 6)),
        ("2024-02-28", utc(2024, 2, 28), utc(2024, 2, 29)),
        ("2024-02-29", utc(2024, 2, 29), utc(2024, 3, 1)),
        ("2026-12-31", utc(2026, 12, 31), utc(2027, 1, 1)),
        ("2026-01-05T09:00:00.123Z", utc(2026, 1, 5, 9, 0, 0, 123000), utc(2026, 1, 5, 9, 0, 0, 124000)),
    ],
)
def test_date_range_at_each_precision(value: str, start: datetime, end: datetime) -> None:
    assert date_range(value) == (start, end)


def test_a_date_time_with_an_offset_is_the_same_instant() -> None:
    start, end = date_range("2026-01-05T10:00:00.000+01:00")
    assert start == utc(2026, 1, 5, 9)
    assert start.utcoffset() == timedelta(hours=1)
    assert end - start == timedelta(milliseconds=1)
    west, _ = date_range("2026-01-05T04:00:00.000-05:00")
    assert west == utc(2026, 1, 5, 9)
    assert west.tzinfo == timezone(timedelta(hours=-5))


def test_a_date_time_without_a_zone_is_taken_as_utc() -> None:
    assert date_range("2026-01-05T09:00:00.000")[0] == utc(2026, 1, 5, 9)


def test_a_date_time_to_the_second_covers_the_whole_second() -> None:
    assert date_range("2026-01-05T09:00:00Z") == (utc(2026, 1, 5, 9), utc(2026, 1, 5, 9, 0, 1))


@pytest.mark.parametrize("value", ["26", "2026-1", "2026-01-5", "2026/01/05", "2026-13", "2026-02-30", ""])
def test_date_range_refuses_what_is_not_a_date(value: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - parse_search turns any ValueError into a 400
        date_range(value)


# --- SQL semantics, evaluated on SQLite -----------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026", ["b", "c", "d"]),
        ("eq2026", ["b", "c", "d"]),
        ("ne2026", ["a", "e"]),
        ("ge2026", ["b", "c", "d", "e"]),
        ("gt2026", ["e"]),
        ("sa2026", ["e"]),
        ("lt2026", ["a"]),
        ("eb2026", ["a"]),
        ("le2026", ["a", "b", "c", "d"]),
        ("2026-12", ["d"]),
        ("2025-12-31", ["a"]),
        ("lt2026-01-01", ["a"]),
        ("ge2026-12-31", ["d", "e"]),
        ("2026-06-15T12:00:00.000Z", ["c"]),
        ("2026-06-15T13:00:00.000+01:00", ["c"]),
        ("ge2026-06-15T12:00:00.000Z", ["c", "d", "e"]),
        ("lt2026-06-15T12:00:00.000Z", ["a", "b"]),
        ("2026-01,2027", ["b", "e"]),
    ],
)
def test_date_prefixes_select_the_right_rows(db: Engine, value: str, expected: list[str]) -> None:
    assert ids(db, ("at", value)) == expected


def test_repeated_parameters_are_anded(db: Engine) -> None:
    assert ids(db, ("at", "ge2026-01-01"), ("at", "lt2026-07")) == ["b", "c"]


def test_token_semantics(db: Engine) -> None:
    assert ids(db, ("code", "x")) == ["a", "b"]
    assert ids(db, ("code", "s1|x")) == ["a"]
    assert ids(db, ("code", "s1|")) == ["a", "c"]
    assert ids(db, ("code", "x,y")) == ["a", "b", "c"]
    assert ids(db, ("code", "nothing")) == []


def test_token_with_an_empty_system_matches_codes_without_a_system(db: Engine) -> None:
    assert ids(db, ("code", "|x")) == ["b"]


def test_token_not_includes_resources_without_a_value(db: Engine) -> None:
    assert ids(db, ("code:not", "x")) == ["c", "d", "e"]


def test_token_not_excludes_the_code(db: Engine) -> None:
    assert "a" not in ids(db, ("code:not", "x"))
    assert "b" not in ids(db, ("code:not", "x"))


def test_reference_semantics(db: Engine) -> None:
    assert ids(db, ("subject", "p1")) == ["a", "e"]
    assert ids(db, ("subject", "Patient/p1")) == ["a", "e"]
    assert ids(db, ("subject", "Group/g1")) == ["c"]
    assert ids(db, ("subject", "g1")) == []


def test_string_semantics(db: Engine) -> None:
    assert ids(db, ("name", "smi")) == ["a", "b"]
    assert ids(db, ("name", "SMITH")) == ["a", "b"]
    assert ids(db, ("name:exact", "Smith")) == ["a"]
    assert ids(db, ("name:exact", "smith")) == []
    assert ids(db, ("name", "a%")) == ["d"]  # % and _ are literal, not wildcards
    assert ids(db, ("name", "a_")) == ["e"]


def test_string_with_a_backslash_matches_literally(db: Engine) -> None:
    assert ids(db, ("name", "a\\")) == ["c"]


def test_echo_keeps_what_the_client_sent_except_paging() -> None:
    request = parse(("code:not", "x"), ("_count", "3"), ("_sort", "-name"), ("name", "s"), ("_offset", "6"))
    assert request.echo == [("code:not", "x"), ("_sort", "-name"), ("name", "s")]


# --- searchset Bundles ----------------------------------------------------------------------

BASE = "http://continuum.test/fhir"
BODY = b'{"resourceType":"Patient",  "id" : "p1", "name":[{"family":"\\u00d3 Briain"}]}'


def stored(id_: str, body: bytes = BODY) -> Stored:
    """A stored resource with known bytes."""
    return Stored(id_, 1, utc(2026, 1, 5, 9), body)


def links(bundle: dict[str, Any]) -> dict[str, dict[str, str]]:
    """The bundle's links by relation, each as its query parameters."""
    out = {}
    for link in bundle["link"]:
        url = urlsplit(link["url"])
        assert f"{url.scheme}://{url.netloc}{url.path}" == f"{BASE}/Thing"
        out[link["relation"]] = dict(parse_qsl(url.query))
    return out


def test_searchset_first_page_has_total_self_and_next() -> None:
    request = parse(("name", "s"), ("_count", "2"))
    raw = searchset(BASE, "Thing", request, [("Thing", stored("1")), ("Thing", stored("2"))], 5)
    bundle = orjson.loads(raw)
    assert bundle["resourceType"] == "Bundle"
    assert bundle["type"] == "searchset"
    assert bundle["total"] == 5
    found = links(bundle)
    assert set(found) == {"self", "next"}
    assert found["self"] == {"name": "s", "_count": "2", "_offset": "0"}
    assert found["next"] == {"name": "s", "_count": "2", "_offset": "2"}
    assert [e["fullUrl"] for e in bundle["entry"]] == [f"{BASE}/Thing/1", f"{BASE}/Thing/2"]
    assert all(e["search"] == {"mode": "match"} for e in bundle["entry"])


def test_searchset_middle_page_has_previous_and_next() -> None:
    request = parse(("_count", "2"), ("_offset", "2"))
    bundle = orjson.loads(searchset(BASE, "Thing", request, [("Thing", stored("3")), ("Thing", stored("4"))], 5))
    found = links(bundle)
    assert found["previous"]["_offset"] == "0"
    assert found["next"]["_offset"] == "4"
    assert found["self"]["_offset"] == "2"


def test_searchset_last_page_has_no_next() -> None:
    request = parse(("_count", "2"), ("_offset", "4"))
    bundle = orjson.loads(searchset(BASE, "Thing", request, [("Thing", stored("5"))], 5))
    found = links(bundle)
    assert set(found) == {"self", "previous"}
    assert found["previous"]["_offset"] == "2"


def test_a_full_last_page_has_no_next_when_the_total_is_known() -> None:
    request = parse(("_count", "2"), ("_offset", "2"))
    bundle = orjson.loads(searchset(BASE, "Thing", request, [("Thing", stored("3")), ("Thing", stored("4"))], 4))
    assert "next" not in links(bundle)


def test_previous_never_goes_below_zero() -> None:
    request = parse(("_count", "10"), ("_offset", "3"))
    bundle = orjson.loads(searchset(BASE, "Thing", request, [("Thing", stored("4"))], 4))
    assert links(bundle)["previous"]["_offset"] == "0"


def test_without_a_total_a_full_page_offers_next() -> None:
    request = parse(("_total", "none"), ("_count", "1"))
    bundle = orjson.loads(searchset(BASE, "Thing", request, [("Thing", stored("1"))], None))
    assert "total" not in bundle
    assert links(bundle)["next"] == {"_total": "none", "_count": "1", "_offset": "1"}


def test_count_zero_offers_no_next_link() -> None:
    request = parse(("_count", "0"))
    bundle = orjson.loads(searchset(BASE, "Thing", request, [], 7))
    assert bundle["total"] == 7
    assert "next" not in links(bundle)


def test_searchset_embeds_the_stored_bytes_unchanged() -> None:
    other = b'{"resourceType":"Group","id":"g1","actual":true}'
    raw = searchset(
        BASE,
        "Thing",
        parse(),
        [("Patient", stored("p1")), ("Patient", stored("p2"))],
        2,
        included=[("Group", stored("g1", other))],
    )
    assert raw.count(BODY) == 2
    assert raw.count(other) == 1
    bundle = orjson.loads(raw)
    assert bundle["entry"][0]["resource"]["name"][0]["family"] == "Ó Briain"
    assert [e["search"]["mode"] for e in bundle["entry"]] == ["match", "match", "include"]
    assert bundle["entry"][2]["fullUrl"] == f"{BASE}/Group/g1"


def test_summary_count_omits_entries() -> None:
    request = parse(("_summary", "count"))
    bundle = orjson.loads(searchset(BASE, "Thing", request, [("Thing", stored("1"))], 12))
    assert bundle["total"] == 12
    assert "entry" not in bundle
    assert links(bundle)["self"]["_summary"] == "count"


def test_history_bundle_newest_first_with_etags() -> None:
    v2 = Stored("p1", 2, utc(2026, 1, 6), b'{"resourceType":"Patient","id":"p1","active":true}')
    v1 = Stored("p1", 1, utc(2026, 1, 5), BODY)
    raw = history_bundle(BASE, "Patient", [v2, v1])
    assert BODY in raw
    bundle = orjson.loads(raw)
    assert bundle["type"] == "history"
    assert bundle["total"] == 2
    assert [e["response"]["etag"] for e in bundle["entry"]] == ['W/"2"', 'W/"1"']
    assert [e["request"]["method"] for e in bundle["entry"]] == ["PUT", "POST"]
    assert [e["response"]["status"] for e in bundle["entry"]] == ["200", "201"]
