"""Reading the nested parts of operation parameters, naming each part in errors by its full FHIRPath."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from services.careplans.domain.codes import AgreementMethod, parse_code
from services.careplans.domain.plans import Agreement, CapacityAssessment, PathwayBack, check_capacity
from services.kit.errors import BadRequest, FhirError, RequiredMissing, Unprocessable
from services.kit.parameters import Params, where

T = TypeVar("T")


class Parts:
    """The parts of one parameter (or the top-level parameters when `prefix` is empty)."""

    def __init__(self, params: Params, prefix: str = "") -> None:
        self.params = params
        self.prefix = prefix

    def where(self, name: str) -> str:
        """The FHIRPath of a part."""
        return f"{self.prefix}.part.where(name='{name}')" if self.prefix else where(name)

    def _read(self, read: Callable[..., T], name: str, required: bool) -> T:
        try:
            return read(name, required=required)
        except FhirError as error:
            raise type(error)(error.diagnostics, self.where(name)) from None

    def string(self, name: str, *, required: bool = False) -> str | None:
        """A valueString; a required one may not be blank."""
        value = self._read(self.params.string, name, required)
        if required and not (value or "").strip():
            raise RequiredMissing(f"{name!r} is required", self.where(name))
        return value

    def code(self, name: str, *, required: bool = False) -> str | None:
        """A valueCode."""
        return self._read(self.params.code, name, required)

    def reference(self, name: str, *, required: bool = False, kinds: tuple[str, ...] = ()) -> str | None:
        """A valueReference, optionally of one of `kinds`."""
        value = self._read(self.params.reference, name, required)
        if value is not None and kinds and not value.startswith(tuple(f"{k}/" for k in kinds)):
            raise Unprocessable(f"{name!r} references a {' or '.join(kinds)}", self.where(name))
        return value

    def references(self, name: str, kinds: tuple[str, ...] = ()) -> tuple[str, ...]:
        """Every valueReference given under this name."""
        found = []
        for i, parameter in enumerate(self.params.all(name)):
            value = (parameter.get("valueReference") or {}).get("reference")
            if not isinstance(value, str) or (kinds and not value.startswith(tuple(f"{k}/" for k in kinds))):
                raise Unprocessable(
                    f"{name!r} references a {' or '.join(kinds) or 'resource'}", f"{self.where(name)}[{i}]"
                )
            found.append(value)
        return tuple(found)

    def strings(self, name: str) -> tuple[str, ...]:
        """Every valueString given under this name."""
        found = []
        for i, parameter in enumerate(self.params.all(name)):
            value = parameter.get("valueString")
            if not isinstance(value, str) or not value.strip():
                raise BadRequest(f"{name!r} is a valueString", f"{self.where(name)}[{i}]")
            found.append(value)
        return tuple(found)

    def boolean(self, name: str) -> bool | None:
        """A valueBoolean."""
        return self._read(self.params.boolean, name, False)

    def moment(self, name: str, *, required: bool = False) -> str | None:
        """A valueDateTime or valueDate, as given (FHIR text)."""
        found = self.params.all(name)
        if not found:
            if required:
                raise RequiredMissing(f"{name!r} is required", self.where(name))
            return None
        if len(found) > 1:
            raise BadRequest(f"{name!r} may be given once", self.where(name))
        kind = "Date" if "valueDate" in found[0] else "DateTime"
        self._read(self.params.date if kind == "Date" else self.params.datetime, name, required)
        return found[0][f"value{kind}"]  # type: ignore[no-any-return]

    def required_string(self, name: str) -> str:
        """A valueString that must be given and not blank."""
        value = self.string(name, required=True)
        assert value is not None  # string(required=True) raised otherwise
        return value

    def required_code(self, name: str) -> str:
        """A code that must be given."""
        value = self.code(name, required=True)
        if value is None:
            raise RequiredMissing(f"{name!r} is required", self.where(name))
        return value

    def required_reference(self, name: str, kinds: tuple[str, ...] = ()) -> str:
        """A valueReference that must be given."""
        value = self.reference(name, required=True, kinds=kinds)
        assert value is not None  # reference(required=True) raised otherwise
        return value

    def required_moment(self, name: str) -> str:
        """A valueDate or valueDateTime that must be given."""
        value = self.moment(name, required=True)
        assert value is not None  # moment(required=True) raised otherwise
        return value

    def each(self, name: str) -> Iterator[Parts]:
        """The parts of every parameter with this name, each named by its position."""
        for i, nested in enumerate(self.params.parts(name)):
            yield Parts(nested, f"{self.where(name)}[{i}]")

    def has(self, name: str) -> bool:
        """Whether a part with this name was given."""
        return name in self.params

    def all(self, name: str) -> list[dict[str, Any]]:
        """The raw parameters with this name."""
        return self.params.all(name)


def read_agreement(parts: Parts, subject: str) -> Agreement | None:
    """The person's agreement (FR-37a): when and how; it is the person's own."""
    found = list(parts.each("agreement"))
    if not found:
        return None
    agreement = found[0]
    when = agreement.required_moment("when")
    method = parse_code(AgreementMethod, agreement.required_code("method"), agreement.where("method"))
    by = agreement.reference("by") or subject
    if by != subject:
        raise Unprocessable("The agreement is the person's own (by is the plan's subject)", agreement.where("by"))
    return Agreement(when, method, by)


def read_capacity(parts: Parts) -> CapacityAssessment | None:
    """A capacity assessment (FR-37b): it names the assessment, best interests and whom it consulted."""
    found = list(parts.each("capacityAssessment"))
    if not found:
        return None
    capacity = found[0]
    assessment = CapacityAssessment(
        assessment=capacity.reference("assessment"),
        best_interests=capacity.string("bestInterests"),
        consulted=capacity.references("consulted", ("RelatedPerson", "Practitioner", "PractitionerRole")),
        decision=capacity.string("decision"),
        date=capacity.moment("date"),
    )
    check_capacity(assessment, capacity.prefix)
    return assessment


def read_pathway(parts: Parts) -> PathwayBack | None:
    """The pathway back on discharge (FR-39)."""
    found = list(parts.each("pathwayBack"))
    if not found:
        return None
    pathway = found[0]
    return PathwayBack(
        reaccess=pathway.string("reaccess"),
        contact=pathway.string("contact"),
        self_referral=pathway.string("selfReferral"),
        community_resources=pathway.strings("communityResource"),
    )
