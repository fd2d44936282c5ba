"""Reading the `Parameters` body of a named operation, naming the parameter in every error."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

from services.kit.clock import parse_instant
from services.kit.errors import BadRequest, RequiredMissing


def where(name: str) -> str:
    """The FHIRPath of a parameter."""
    return f"Parameters.parameter.where(name='{name}')"


class Params:
    """The parameters of an operation, by name."""

    def __init__(self, body: dict[str, Any]) -> None:
        if body.get("resourceType") != "Parameters":
            raise BadRequest("An operation takes a Parameters resource", "resourceType")
        self._by_name: dict[str, list[dict[str, Any]]] = {}
        for parameter in body.get("parameter") or []:
            self._by_name.setdefault(parameter.get("name", ""), []).append(parameter)

    def __contains__(self, name: str) -> bool:
        return name in self._by_name

    def names(self) -> set[str]:
        """Every parameter name given."""
        return set(self._by_name)

    def all(self, name: str) -> list[dict[str, Any]]:
        """Every parameter with this name."""
        return self._by_name.get(name, [])

    def _value(self, name: str, kind: str, required: bool) -> Any:
        found = self.all(name)
        if not found:
            if required:
                raise RequiredMissing(f"Parameter {name!r} is required", where(name))
            return None
        if len(found) > 1:
            raise BadRequest(f"Parameter {name!r} may be given once", where(name))
        value = found[0].get(f"value{kind}")
        if value is None:
            raise BadRequest(f"Parameter {name!r} must be a value{kind}", where(name))
        return value

    def string(self, name: str, *, required: bool = False) -> str | None:
        """A valueString (or valueMarkdown)."""
        if any("valueMarkdown" in p for p in self.all(name)):
            return self._value(name, "Markdown", required)  # type: ignore[no-any-return]
        return self._value(name, "String", required)  # type: ignore[no-any-return]

    def code(self, name: str, *, required: bool = False) -> str | None:
        """A valueCode, or the code of a valueCoding / valueCodeableConcept."""
        found = self.all(name)
        if len(found) == 1 and ("valueCoding" in found[0] or "valueCodeableConcept" in found[0]):
            p = found[0]
            codings = [p["valueCoding"]] if "valueCoding" in p else p["valueCodeableConcept"].get("coding") or []
            code = next((c.get("code") for c in codings if c.get("code")), None)
            if code is None and required:
                raise RequiredMissing(f"Parameter {name!r} carries no code", where(name))
            return code if isinstance(code, str) else None
        return self._value(name, "Code", required)  # type: ignore[no-any-return]

    def reference(self, name: str, *, required: bool = False) -> str | None:
        """The `reference` of a valueReference."""
        value = self._value(name, "Reference", required)
        if value is None:
            return None
        ref = value.get("reference")
        if not ref:
            raise BadRequest(f"Parameter {name!r} must carry a reference", where(name))
        return ref  # type: ignore[no-any-return]

    def boolean(self, name: str, *, required: bool = False) -> bool | None:
        """A valueBoolean."""
        return self._value(name, "Boolean", required)  # type: ignore[no-any-return]

    def integer(self, name: str, *, required: bool = False) -> int | None:
        """A valueInteger."""
        return self._value(name, "Integer", required)  # type: ignore[no-any-return]

    def datetime(self, name: str, *, required: bool = False) -> datetime | None:
        """A valueDateTime (or valueInstant) as an aware datetime."""
        found = self.all(name)
        kind = "Instant" if found and "valueInstant" in found[0] else "DateTime"
        value = self._value(name, kind, required)
        if value is None:
            return None
        try:
            return parse_instant(value)
        except ValueError:
            raise BadRequest(f"Parameter {name!r} is not a valid dateTime", where(name)) from None

    def date(self, name: str, *, required: bool = False) -> date | None:
        """A valueDate."""
        value = self._value(name, "Date", required)
        if value is None:
            return None
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise BadRequest(f"Parameter {name!r} is not a valid date", where(name)) from None

    def parts(self, name: str) -> Iterator[Params]:
        """The nested parts of each parameter with this name."""
        for p in self.all(name):
            yield Params({"resourceType": "Parameters", "parameter": p.get("part") or []})


def parameters(*entries: tuple[str, str, Any]) -> dict[str, Any]:
    """Build a Parameters resource from (name, value type, value) triples, skipping None values."""
    return {
        "resourceType": "Parameters",
        "parameter": [
            ({"name": n, "part": v} if t == "part" else {"name": n, f"value{t}": v})
            for n, t, v in entries
            if v is not None
        ],
    }
