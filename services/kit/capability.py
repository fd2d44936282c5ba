"""A service's CapabilityStatement, built from what it actually declares (search specs, operations)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from services.kit.search import SearchSpec

CANONICAL = "https://continuum.example.org/fhir"


def capability_statement(
    name: str,
    description: str,
    specs: Iterable[SearchSpec],
    *,
    creates: frozenset[str] = frozenset(),
    updates: frozenset[str] = frozenset(),
    conditional_creates: frozenset[str] = frozenset(),
    operations: Mapping[str, Iterable[str]] | None = None,
    measures: bool = False,
) -> dict[str, Any]:
    """The CapabilityStatement: every type, interaction, search parameter and operation declared.

    `measures`: the service publishes its KPIs as read-only `Measure`s with `$evaluate-measure`.
    """
    operations = operations or {}
    resources = []
    for spec in specs:
        kind = spec.resource_type
        interactions = ["read", "vread", "history-instance", "search-type"]
        interactions += ["create"] if kind in creates else []
        interactions += ["update"] if kind in updates else []
        resources.append(
            {
                "type": kind,
                "interaction": [{"code": i} for i in interactions],
                "versioning": "versioned",
                "readHistory": True,
                "updateCreate": False,
                "conditionalCreate": kind in conditional_creates,
                "searchParam": [{"name": p.name, "type": p.type} for p in spec.params.values()],
                "searchInclude": sorted(spec.includes),
                "searchRevInclude": sorted(spec.revincludes),
                "operation": [
                    {"name": op, "definition": f"{CANONICAL}/OperationDefinition/{kind}-{op}"}
                    for op in operations.get(kind, ())
                ],
            }
        )
    if measures:
        resources.append(MEASURE)
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-11-23",
        "kind": "instance",
        "software": {"name": name, "version": "0.1.0"},
        "implementation": {"description": description},
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "json"],
        "rest": [{"mode": "server", "resource": resources}],
    }


MEASURE: dict[str, Any] = {
    "type": "Measure",
    "interaction": [{"code": "read"}, {"code": "search-type"}],
    "versioning": "no-version",
    "readHistory": False,
    "updateCreate": False,
    "conditionalCreate": False,
    "searchParam": [{"name": "_id", "type": "token"}],
    "searchInclude": [],
    "searchRevInclude": [],
    "operation": [
        {"name": "evaluate-measure", "definition": f"{CANONICAL}/OperationDefinition/Measure-evaluate-measure"}
    ],
}
"""A service's KPIs: generated, read-only Measures (services/kit/measures_api.py)."""
