"""The CapabilityStatement: what this service actually supports, built from its search specs."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from services.kit.capability import capability_statement as build
from services.kit.http import fhir_response
from services.transitions.api.search_specs import SPECS
from services.transitions.domain.phases import OPERATIONS

router = APIRouter(prefix="/fhir")

# Type-level operations, then instance-level ones.
_OPERATIONS: dict[str, list[str]] = {
    "Task": [
        "open-transition",
        "transition-worklist",
        "transition-overdue",
        *(s.value for s in OPERATIONS),
        "transition-status",
        "validate",
    ],
    "CarePlan": ["validate"],
    "QuestionnaireResponse": ["validate"],
}


def capability_statement() -> dict[str, Any]:
    """The service's CapabilityStatement."""
    return build(
        "Continuum transitions",
        "Continuum transitions service",
        SPECS,
        operations=_OPERATIONS,
        measures=True,
    )


@router.get("/metadata", tags=["metadata"], summary="CapabilityStatement")
async def metadata() -> Response:
    """What this service supports."""
    return fhir_response(capability_statement())
