"""The one place Continuum imports fhir.resources (R4B models, which read and write R4 JSON).

fhir.resources checks structure and cardinality but not code values, so services parse codes
into their own enums; this module only answers "is this a well-formed R4 resource?".
"""

from __future__ import annotations

from functools import cache
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from services.kit.errors import FhirError, InvalidStructure, Issue, RequiredMissing

# pydantic error types that mean "an element is missing" (a cardinality problem: 422);
# every other error means the JSON does not have the shape of the resource (400).
_MISSING = frozenset({"missing", "value_error.missing", "model_field_validation.missing"})


@cache
def _model(resource_type: str) -> Any:
    try:
        return get_fhir_model_class(resource_type)
    except (KeyError, ValueError, AttributeError, ImportError):
        return None


def is_resource_type(name: str) -> bool:
    """Whether `name` is an R4 resource type known to the models."""
    return name[:1].isupper() and _model(name) is not None


def fhirpath(resource_type: str, loc: tuple[int | str, ...]) -> str:
    """Turn a pydantic error location into a FHIRPath expression (`ServiceRequest.performer[0]`)."""
    path = resource_type
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part.startswith(("function-after", "function-before", "function-wrap")):
            continue
        else:
            path += f".{part.removesuffix('__ext')}"
    return path


def _issues(resource_type: str, error: ValidationError) -> tuple[list[Issue], bool]:
    issues: list[Issue] = []
    structural = False
    for err in error.errors(include_url=False):
        where = fhirpath(resource_type, tuple(err.get("loc", ())))
        if err["type"] in _MISSING:
            issues.append(Issue("required", f"{where} is required", (where,)))
        else:
            structural = True
            message = "is not a known element" if err["type"] == "extra_forbidden" else err["msg"]
            issues.append(Issue("structure", f"{where}: {message}", (where,)))
    return issues, structural


def validate(resource: dict[str, Any], resource_type: str | None = None) -> dict[str, Any]:
    """Check a resource's structure against the R4 model and return its canonical FHIR JSON.

    Unknown elements or values of the wrong type are 400 (the body cannot be read as that
    resource); missing required elements are 422 (a readable resource that breaks cardinality).
    The models read some JSON leniently (the string "false" as a boolean), so what is stored is
    the model's own rendering, which is always valid R4 JSON.
    """
    actual = resource.get("resourceType")
    if not isinstance(actual, str) or not is_resource_type(actual):
        raise InvalidStructure("resourceType is missing or is not an R4 resource type", "resourceType")
    if resource_type is not None and actual != resource_type:
        raise InvalidStructure(f"resourceType is {actual!r}, this endpoint takes {resource_type!r}", "resourceType")
    try:
        model = _model(actual).model_validate(resource)
    except ValidationError as exc:
        issues, structural = _issues(actual, exc)
        error_type: type[FhirError] = InvalidStructure if structural else RequiredMissing
        raise error_type(issues[0].diagnostics, issues=issues) from None
    except (TypeError, ValueError, AttributeError) as exc:  # raised by a few model validators directly
        raise InvalidStructure(f"{actual}: {exc}", actual) from None
    except RecursionError:
        raise InvalidStructure(f"{actual} is nested too deeply to be a resource", actual) from None
    canonical: dict[str, Any] = model.model_dump(mode="json", by_alias=True, exclude_none=True)
    return canonical
