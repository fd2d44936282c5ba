"""`services.kit.parameters`: reading an operation's Parameters, naming the parameter in every error."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest

from services.kit.errors import BadRequest, FhirError, RequiredMissing
from services.kit.parameters import Params, parameters, where
from services.kit.resources import validate


def params(*parameter: dict[str, Any]) -> Params:
    """Params over a Parameters resource with these entries."""
    return Params({"resourceType": "Parameters", "parameter": list(parameter)})


def refused(call: Callable[[], object]) -> FhirError:
    """The FhirError a call raises."""
    with pytest.raises(FhirError) as caught:
        call()
    return caught.value


def test_where_is_the_fhirpath_of_a_parameter() -> None:
    assert where("reason") == "Parameters.parameter.where(name='reason')"


def test_string_and_markdown() -> None:
    p = params({"name": "note", "valueString": "hello"}, {"name": "md", "valueMarkdown": "**hi**"})
    assert p.string("note") == "hello"
    assert p.string("md") == "**hi**"
    assert p.string("absent") is None


@pytest.mark.parametrize(
    "entry",
    [
        {"name": "c", "valueCode": "urgent"},
        {"name": "c", "valueCoding": {"system": "http://example.org/cs", "code": "urgent"}},
        {"name": "c", "valueCodeableConcept": {"coding": [{"code": "urgent"}, {"code": "other"}]}},
    ],
    ids=["valueCode", "valueCoding", "valueCodeableConcept"],
)
def test_code_from_each_value_type(entry: dict[str, Any]) -> None:
    assert params(entry).code("c") == "urgent"


def test_code_of_a_concept_without_codings_is_none() -> None:
    assert params({"name": "c", "valueCodeableConcept": {"text": "urgent"}}).code("c") is None


@pytest.mark.parametrize(
    "entry",
    [
        {"name": "c", "valueCoding": {"system": "http://example.org/cs"}},
        {"name": "c", "valueCodeableConcept": {"text": "urgent"}},
    ],
    ids=["valueCoding", "valueCodeableConcept"],
)
def test_a_required_code_without_a_code_is_refused(entry: dict[str, Any]) -> None:
    error = refused(lambda: params(entry).code("c", required=True))
    assert error.status in (400, 422)
    assert error.expression == (where("c"),)


def test_reference() -> None:
    p = params({"name": "patient", "valueReference": {"reference": "Patient/p1", "display": "Ada"}})
    assert p.reference("patient") == "Patient/p1"
    assert p.reference("absent") is None


def test_a_reference_without_a_reference_is_400() -> None:
    error = refused(lambda: params({"name": "patient", "valueReference": {"display": "Ada"}}).reference("patient"))
    assert isinstance(error, BadRequest)
    assert error.expression == (where("patient"),)


def test_boolean_and_integer() -> None:
    p = params({"name": "flag", "valueBoolean": False}, {"name": "n", "valueInteger": 0})
    assert p.boolean("flag") is False
    assert p.integer("n") == 0
    assert p.boolean("absent") is None
    assert p.integer("absent") is None


def test_datetime_is_aware_utc() -> None:
    p = params(
        {"name": "at", "valueDateTime": "2026-01-05T10:00:00+01:00"},
        {"name": "instant", "valueInstant": "2026-01-05T09:00:00.000Z"},
        {"name": "day", "valueDateTime": "2026-01-05"},
    )
    assert p.datetime("at") == datetime(2026, 1, 5, 9, tzinfo=UTC)
    assert p.datetime("at").tzinfo == UTC  # type: ignore[union-attr]
    assert p.datetime("instant") == datetime(2026, 1, 5, 9, tzinfo=UTC)
    assert p.datetime("day") == datetime(2026, 1, 5, tzinfo=UTC)
    assert p.datetime("absent") is None


def test_date() -> None:
    assert params({"name": "d", "valueDate": "2026-02-28"}).date("d") == date(2026, 2, 28)
    assert params().date("d") is None


@pytest.mark.parametrize(
    ("entry", "read"),
    [
        ({"name": "x", "valueDateTime": "next tuesday"}, lambda p: p.datetime("x")),
        ({"name": "x", "valueDate": "2026-02-30"}, lambda p: p.date("x")),
    ],
    ids=["dateTime", "date"],
)
def test_an_unreadable_date_is_400_naming_the_parameter(
    entry: dict[str, Any], read: Callable[[Params], object]
) -> None:
    error = refused(lambda: read(params(entry)))
    assert isinstance(error, BadRequest)
    assert error.status == 400
    assert error.expression == (where("x"),)


def test_parts() -> None:
    p = params(
        {
            "name": "override",
            "part": [{"name": "rule", "valueCode": "r1"}, {"name": "why", "valueString": "a"}],
        },
        {"name": "override", "part": [{"name": "rule", "valueCode": "r2"}]},
        {"name": "empty"},
    )
    parts = list(p.parts("override"))
    assert [q.code("rule") for q in parts] == ["r1", "r2"]
    assert [q.string("why") for q in parts] == ["a", None]
    assert [q.names() for q in p.parts("empty")] == [set()]
    assert list(p.parts("absent")) == []


def test_names_contains_and_all() -> None:
    p = params({"name": "a", "valueString": "1"}, {"name": "a", "valueString": "2"}, {"name": "b"})
    assert p.names() == {"a", "b"}
    assert "a" in p
    assert "c" not in p
    assert [e["valueString"] for e in p.all("a")] == ["1", "2"]
    assert p.all("c") == []


def test_no_parameters_at_all() -> None:
    p = Params({"resourceType": "Parameters"})
    assert p.names() == set()
    assert p.string("x") is None


@pytest.mark.parametrize(
    "read",
    [
        lambda p: p.string("x", required=True),
        lambda p: p.code("x", required=True),
        lambda p: p.reference("x", required=True),
        lambda p: p.boolean("x", required=True),
        lambda p: p.integer("x", required=True),
        lambda p: p.datetime("x", required=True),
        lambda p: p.date("x", required=True),
    ],
    ids=["string", "code", "reference", "boolean", "integer", "datetime", "date"],
)
def test_a_missing_required_parameter_is_422_naming_it(read: Callable[[Params], object]) -> None:
    error = refused(lambda: read(params({"name": "other", "valueString": "y"})))
    assert isinstance(error, RequiredMissing)
    assert error.status == 422
    assert error.issues[0].code == "required"
    assert error.expression == ("Parameters.parameter.where(name='x')",)
    assert error.outcome()["issue"] == [
        {
            "severity": "error",
            "code": "required",
            "diagnostics": "Parameter 'x' is required",
            "expression": ["Parameters.parameter.where(name='x')"],
        }
    ]


@pytest.mark.parametrize(
    ("entries", "read"),
    [
        ([{"valueString": "a"}, {"valueString": "b"}], lambda p: p.string("x")),
        ([{"valueCode": "a"}, {"valueCode": "b"}], lambda p: p.code("x")),
        ([{"valueCoding": {"code": "a"}}, {"valueCoding": {"code": "b"}}], lambda p: p.code("x")),
        ([{"valueBoolean": True}, {"valueBoolean": False}], lambda p: p.boolean("x")),
        ([{"valueInteger": 1}, {"valueInteger": 1}], lambda p: p.integer("x")),
        ([{"valueReference": {"reference": "Patient/a"}}, {"valueReference": {"reference": "Patient/b"}}],
         lambda p: p.reference("x")),
    ],
    ids=["string", "code", "coding", "boolean", "integer", "reference"],
)  # fmt: skip
def test_a_duplicated_parameter_is_400_naming_it(
    entries: list[dict[str, Any]], read: Callable[[Params], object]
) -> None:
    error = refused(lambda: read(params(*({"name": "x"} | e for e in entries))))
    assert isinstance(error, BadRequest)
    assert error.status == 400
    assert error.issues[0].code == "invalid"
    assert error.expression == (where("x"),)
    assert "once" in error.diagnostics


@pytest.mark.parametrize(
    ("entry", "read", "expected"),
    [
        ({"valueInteger": 3}, lambda p: p.string("x"), "valueString"),
        ({"valueString": "urgent"}, lambda p: p.code("x"), "valueCode"),
        ({"valueString": "Patient/p1"}, lambda p: p.reference("x"), "valueReference"),
        ({"valueString": "true"}, lambda p: p.boolean("x"), "valueBoolean"),
        ({"valueDecimal": 3.0}, lambda p: p.integer("x"), "valueInteger"),
        ({"valueDate": "2026-01-05"}, lambda p: p.datetime("x"), "valueDateTime"),
        ({"valueDateTime": "2026-01-05"}, lambda p: p.date("x"), "valueDate"),
        ({"part": [{"name": "y", "valueString": "z"}]}, lambda p: p.string("x"), "valueString"),
    ],
    ids=["string", "code", "reference", "boolean", "integer", "datetime", "date", "part"],
)
def test_a_value_of_the_wrong_type_is_400_naming_the_parameter(
    entry: dict[str, Any], read: Callable[[Params], object], expected: str
) -> None:
    error = refused(lambda: read(params({"name": "x"} | entry)))
    assert isinstance(error, BadRequest)
    assert error.status == 400
    assert error.expression == (where("x"),)
    assert expected in error.diagnostics


@pytest.mark.parametrize(
    ("entry", "read", "expected"),
    [
        ({"valueBoolean": "false"}, lambda p: p.boolean("x"), False),
        ({"valueInteger": "7"}, lambda p: p.integer("x"), 7),
    ],
    ids=["boolean", "integer"],
)
def test_a_validated_body_gives_values_of_the_right_type(
    entry: dict[str, Any], read: Callable[[Params], object], expected: object
) -> None:
    # The accessors do not check JSON types themselves: they rely on the canonical JSON validate returns.
    body = {"resourceType": "Parameters", "parameter": [{"name": "x"} | entry]}
    value = read(Params(validate(body, "Parameters")))
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(
    "body",
    [{"resourceType": "Patient"}, {"resourceType": "parameters"}, {}, {"parameter": []}],
    ids=["Patient", "lower-case", "empty", "no-resourceType"],
)
def test_a_body_that_is_not_parameters_is_400(body: dict[str, Any]) -> None:
    error = refused(lambda: Params(body))
    assert isinstance(error, BadRequest)
    assert error.status == 400
    assert error.expression == ("resourceType",)


def test_parameters_builds_a_resource_skipping_none() -> None:
    body = parameters(
        ("reason", "String", "no capacity"),
        ("skipped", "Integer", None),
        ("flag", "Boolean", False),
        ("override", "part", [{"name": "rule", "valueCode": "r1"}]),
    )
    assert body == {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "reason", "valueString": "no capacity"},
            {"name": "flag", "valueBoolean": False},
            {"name": "override", "part": [{"name": "rule", "valueCode": "r1"}]},
        ],
    }
    validate(body, "Parameters")
    p = Params(body)
    assert p.string("reason") == "no capacity"
    assert p.boolean("flag") is False
    assert "skipped" not in p
