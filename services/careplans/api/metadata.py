"""The CapabilityStatement: what this service actually supports, built from its search specs."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from services.careplans.api.search_specs import SPECS
from services.kit.capability import capability_statement as build
from services.kit.http import fhir_response

router = APIRouter(prefix="/fhir")

_OPERATIONS: dict[str, list[str]] = {
    "Questionnaire": ["validate"],
    "QuestionnaireResponse": ["validate"],
    "Observation": ["dialog-trend", "validate"],
    "CarePlan": ["dialog-plus-session", "activate", "review", "complete", "validate"],
    "Goal": ["validate"],
}


def capability_statement() -> dict[str, Any]:
    """The service's CapabilityStatement."""
    return build(
        "Continuum care plans",
        "Continuum care-plans service",
        SPECS,
        creates=frozenset({"QuestionnaireResponse", "CarePlan"}),
        updates=frozenset({"CarePlan"}),
        operations=_OPERATIONS,
        measures=True,
    )


@router.get("/metadata", tags=["metadata"], summary="CapabilityStatement")
async def metadata() -> Response:
    """What this service supports."""
    return fhir_response(capability_statement())
