"""The CapabilityStatement: what this service actually supports, built from its search specs."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from services.kit.capability import capability_statement as build
from services.kit.http import fhir_response
from services.referrals.api.search_specs import SPECS
from services.referrals.domain.lifecycle import Verb

router = APIRouter(prefix="/fhir")

_OPERATIONS: dict[str, list[str]] = {
    "ServiceRequest": ["ptl", "waiting-time", "mhsds-extract", "validate"],
    "Task": [*(v.value for v in Verb if v is not Verb.START), "raise-concern", "acknowledge", "validate"],
    "Encounter": ["validate"],
    "EpisodeOfCare": ["close", "validate"],
    "Communication": ["waiting-well", "validate"],
}


def capability_statement() -> dict[str, Any]:
    """The service's CapabilityStatement."""
    return build(
        "Continuum referrals",
        "Continuum referrals service",
        SPECS,
        creates=frozenset({"ServiceRequest", "Encounter", "EpisodeOfCare"}),
        updates=frozenset({"Encounter"}),
        conditional_creates=frozenset({"ServiceRequest"}),
        operations=_OPERATIONS,
        measures=True,
    )


@router.get("/metadata", tags=["metadata"], summary="CapabilityStatement")
async def metadata() -> Response:
    """What this service supports."""
    return fhir_response(capability_statement())
