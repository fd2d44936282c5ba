"""Reading repeated and nested operation parameters (the kit reads single values)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, TypeVar

from services.kit.errors import BadRequest, Unprocessable
from services.kit.parameters import Params, where
from services.transitions.domain.codes import parse_code

E = TypeVar("E", bound=StrEnum)


def _code_of(parameter: dict[str, Any]) -> str | None:
    if "valueCode" in parameter:
        return str(parameter["valueCode"])
    if "valueCoding" in parameter:
        return parameter["valueCoding"].get("code")  # type: ignore[no-any-return]
    if "valueCodeableConcept" in parameter:
        codings = parameter["valueCodeableConcept"].get("coding") or [{}]
        return codings[0].get("code")  # type: ignore[no-any-return]
    return None


def codes(params: Params, name: str, enum: type[E], location: str | None = None) -> list[E]:
    """Every code given for a repeated parameter, parsed into its enum (422 for an unknown code)."""
    found = []
    for parameter in params.all(name):
        code = _code_of(parameter)
        if code is None:
            raise BadRequest(f"Parameter {name!r} must be a valueCode or valueCoding", location or where(name))
        found.append(parse_code(enum, code, location or where(name)))
    return found


def references(params: Params, name: str, location: str | None = None) -> list[str]:
    """Every reference given for a repeated parameter, in order, without repeats."""
    found: list[str] = []
    for parameter in params.all(name):
        value = parameter.get("valueReference")
        if not isinstance(value, dict) or not value.get("reference"):
            raise BadRequest(f"Parameter {name!r} must be a valueReference with a reference", location or where(name))
        if value["reference"] not in found:
            found.append(str(value["reference"]))
    return found


def participants(params: Params, name: str) -> list[dict[str, Any]]:
    """People and agencies (references, or a display for an agency without a record: Q-TR-08)."""
    found: list[dict[str, Any]] = []
    for parameter in params.all(name):
        value = parameter.get("valueReference")
        if not isinstance(value, dict) or not (value.get("reference") or value.get("display")):
            raise BadRequest(f"Parameter {name!r} must be a valueReference with a reference or a display", where(name))
        kept = {k: value[k] for k in ("reference", "display") if value.get(k)}
        if kept not in found:
            found.append(kept)
    return found


def patient_reference(params: Params, name: str) -> str:
    """A required `Patient/{id}` parameter."""
    value = params.reference(name, required=True)
    assert value is not None
    if not value.startswith("Patient/") or len(value) <= len("Patient/"):
        raise Unprocessable(f"Parameter {name!r} references a Patient", where(name))
    return value
