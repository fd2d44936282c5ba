"""Small, pure helpers for reading and writing FHIR JSON, and parsing codes into enums.

Pure: no I/O, no frameworks, so every layer (domain included) may use them.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, TypeVar

from services.kit.errors import UnknownCode

Json = dict[str, Any]
E = TypeVar("E", bound=StrEnum)


def parse_code(enum: type[E], value: object, where: str) -> E:
    """Parse a code into its enum, or raise a 422 naming the element and the valid codes."""
    try:
        return enum(str(value))
    except ValueError:
        valid = ", ".join(e.value for e in enum)
        raise UnknownCode(f"{value!r} is not a known code at {where}; expected one of: {valid}", where) from None


def ref(value: Json | None) -> str | None:
    """A Reference's `reference`."""
    return value.get("reference") if value else None


def extension(resource: Json, url: str) -> Json | None:
    """The first extension with this url."""
    for ext in resource.get("extension") or []:
        if ext.get("url") == url:
            return ext  # type: ignore[no-any-return]
    return None


def coding_code(concepts: list[Json] | Json | None, system: str) -> str | None:
    """The code from `system` in a CodeableConcept (or a list of them)."""
    if concepts is None:
        return None
    for concept in concepts if isinstance(concepts, list) else [concepts]:
        for coding in concept.get("coding") or []:
            if coding.get("system") == system:
                return coding.get("code")  # type: ignore[no-any-return]
    return None


def coding(system: str, code: str, display: str | None = None) -> Json:
    """A Coding."""
    value: Json = {"system": system, "code": code}
    if display:
        value["display"] = display
    return value


def concept(system: str, code: str, display: str | None = None) -> Json:
    """A CodeableConcept with one coding."""
    return {"coding": [coding(system, code, display)]}


def reference(kind: str, id_: str, display: str | None = None) -> Json:
    """A Reference to `kind/id_`."""
    value: Json = {"reference": f"{kind}/{id_}"}
    if display:
        value["display"] = display
    return value


def set_extension(resource: Json, url: str, **value: Any) -> None:
    """Set (replace) the extension with this url."""
    others = [e for e in resource.get("extension") or [] if e.get("url") != url]
    resource["extension"] = [*others, {"url": url, **value}]
