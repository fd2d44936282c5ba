"""The CapabilityStatement: what this service actually supports, built from its search specs."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from services.kit.http import fhir_response
from services.transitions.api.search_specs import SPECS
from services.transitions.domain.codes import BASE
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
    resources = []
    for spec in SPECS:
        resources.append(
            {
                "type": spec.resource_type,
                "interaction": [{"code": i} for i in ("read", "vread", "history-instance", "search-type")],
                "versioning": "versioned",
                "readHistory": True,
                "updateCreate": False,
                "searchParam": [{"name": p.name, "type": p.type} for p in spec.params.values()],
                "searchInclude": sorted(spec.includes),
                "searchRevInclude": sorted(spec.revincludes),
                "operation": [
                    {"name": op, "definition": f"{BASE}/OperationDefinition/{spec.resource_type}-{op}"}
                    for op in _OPERATIONS[spec.resource_type]
                ],
            }
        )
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-11-23",
        "kind": "instance",
        "software": {"name": "Continuum transitions", "version": "0.1.0"},
        "implementation": {"description": "Continuum transitions service"},
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "json"],
        "rest": [{"mode": "server", "resource": resources}],
    }


@router.get("/metadata", tags=["metadata"], summary="CapabilityStatement")
async def metadata() -> Response:
    """What this service supports."""
    return fhir_response(capability_statement())
