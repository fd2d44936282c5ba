"""Small, pure helpers for reading and writing FHIR JSON (references, codings, extensions)."""

from __future__ import annotations

from typing import Any

Json = dict[str, Any]


def ref(value: Json | None) -> str | None:
    """A Reference's `reference`."""
    found = value.get("reference") if isinstance(value, dict) else None
    return found if isinstance(found, str) else None


def reference(target: str, display: str | None = None) -> Json:
    """A Reference to `Type/id`."""
    value: Json = {"reference": target}
    if display:
        value["display"] = display
    return value


def coding(system: str, code: str, display: str | None = None) -> Json:
    """A Coding."""
    value: Json = {"system": system, "code": code}
    if display:
        value["display"] = display
    return value


def concept(system: str, code: str, display: str | None = None) -> Json:
    """A CodeableConcept with one coding."""
    return {"coding": [coding(system, code, display)]}


def codes(concepts: list[Json] | Json | None, system: str) -> list[str]:
    """Every code from `system` in a CodeableConcept (or a list of them)."""
    if concepts is None:
        return []
    found = []
    for item in concepts if isinstance(concepts, list) else [concepts]:
        for c in item.get("coding") or []:
            if c.get("system") == system and isinstance(c.get("code"), str):
                found.append(c["code"])
    return found


def coding_code(concepts: list[Json] | Json | None, system: str) -> str | None:
    """The first code from `system` in a CodeableConcept (or a list of them)."""
    found = codes(concepts, system)
    return found[0] if found else None


def extensions(element: Json, url: str) -> list[Json]:
    """Every extension of an element with this url."""
    return [e for e in element.get("extension") or [] if e.get("url") == url]


def extension(element: Json, url: str) -> Json | None:
    """The first extension with this url."""
    found = extensions(element, url)
    return found[0] if found else None


def value_of(ext: Json | None) -> Any:
    """The value[x] of an extension (None when it has none)."""
    if not ext:
        return None
    for key, value in ext.items():
        if key.startswith("value"):
            return value
    return None


def part(ext: Json | None, name: str) -> Any:
    """The value of a complex extension's first sub-extension called `name`."""
    return value_of(extension(ext, name)) if ext else None


def parts(ext: Json | None, name: str) -> list[Any]:
    """The values of every sub-extension called `name`."""
    return [value_of(e) for e in extensions(ext, name)] if ext else []


def set_extension(element: Json, url: str, ext: Json | None) -> None:
    """Replace every extension with this url by `ext` (or remove them when None)."""
    others = [e for e in element.get("extension") or [] if e.get("url") != url]
    element["extension"] = [*others, ext] if ext is not None else others
    if not element["extension"]:
        del element["extension"]


def add_extension(element: Json, ext: Json) -> None:
    """Append an extension."""
    element.setdefault("extension", []).append(ext)


def simple(url: str, kind: str, value: Any) -> Json:
    """An extension with one value (`kind` is the FHIR type: String, Code, Reference ...)."""
    return {"url": url, f"value{kind}": value}


def complex_extension(url: str, *entries: tuple[str, str, Any]) -> Json:
    """A complex extension from (name, type, value) triples, skipping None values."""
    return {"url": url, "extension": [simple(n, k, v) for n, k, v in entries if v is not None]}
