"""One CapabilityStatement for the whole FHIR base, merged from the services and the gateway."""

from __future__ import annotations

import asyncio
from typing import Any

from gateway.conformance_routes import VALIDATE_DEFINITION, capability_resources, point_to_profiles
from gateway.proxy import Services, Upstream
from gateway.search_specs import SPECS
from services.kit.errors import FhirError

_OWN_WRITES = {"Patient": ["create", "update"], "Subscription": ["create", "update"]}


_OWN_OPERATIONS = {
    "Patient": [{"name": "everything", "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything"}]
}


def gateway_resources() -> list[dict[str, Any]]:
    """The types the gateway itself serves."""
    resources = []
    for spec in SPECS:
        interactions = ["read", "vread", "history-instance", "search-type", *_OWN_WRITES.get(spec.resource_type, [])]
        resources.append(
            {
                "type": spec.resource_type,
                "interaction": [{"code": i} for i in interactions],
                "versioning": "versioned",
                "readHistory": True,
                "searchParam": [{"name": p.name, "type": p.type} for p in spec.params.values()],
                "operation": [
                    {"name": "validate", "definition": VALIDATE_DEFINITION},
                    *_OWN_OPERATIONS.get(spec.resource_type, []),
                ],
            }
        )
    return resources


def merge(resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Merge resource entries of the same type (Task and CarePlan come from several services)."""
    merged: dict[str, dict[str, Any]] = {}
    for resource in resources:
        kind = resource["type"]
        if kind not in merged:
            merged[kind] = {**resource}
            continue
        into = merged[kind]
        for key, field in (("interaction", "code"), ("searchParam", "name"), ("operation", "name")):
            seen = {item[field] for item in into.get(key, [])}
            into[key] = [*into.get(key, []), *(i for i in resource.get(key, []) if i[field] not in seen)]
        for key in ("searchInclude", "searchRevInclude"):
            into[key] = sorted(set(into.get(key, [])) | set(resource.get(key, [])))
    return sorted(merged.values(), key=lambda r: r["type"])


def validated_everywhere(resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The gateway answers `$validate` on every type; a type whose service has none uses the gateway's own."""
    for resource in resources:
        if not any(op["name"] == "validate" for op in resource.get("operation", [])):
            resource["operation"] = [
                *resource.get("operation", []),
                {"name": "validate", "definition": VALIDATE_DEFINITION},
            ]
    return resources


async def capability_statement(services: Services, gateway_base: str) -> dict[str, Any]:
    """The merged CapabilityStatement; a service that cannot be reached is left out and named."""
    names = list(services.urls)
    answers = await asyncio.gather(
        *(services.send(n, "GET", "/metadata", gateway_base=gateway_base) for n in names), return_exceptions=True
    )
    resources = gateway_resources() + capability_resources()
    missing = []
    for name, answer in zip(names, answers, strict=True):
        if isinstance(answer, Upstream) and answer.status == 200:
            resources += answer.json()["rest"][0]["resource"]
        elif isinstance(answer, FhirError | Upstream):
            missing.append(name)
        else:
            missing.append(name)
    description = "Continuum: one FHIR R4 base for the partnership's referral, care-plan and transition services"
    if missing:
        description += f" (not reachable now: {', '.join(missing)})"
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-11-23",
        "kind": "instance",
        "software": {"name": "Continuum gateway", "version": "0.1.0"},
        "implementation": {"description": description, "url": gateway_base},
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "json"],
        "rest": [
            {
                "mode": "server",
                "security": {
                    "service": [
                        {
                            "coding": [
                                {
                                    "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                                    "code": "SMART-on-FHIR",
                                }
                            ]
                        }
                    ],
                    "description": "OAuth2 client credentials at /auth/token; RS256 JWTs with SMART v2 scopes",
                },
                "resource": point_to_profiles(validated_everywhere(merge(resources))),
                "operation": [
                    {
                        "name": "process-message",
                        "definition": "http://hl7.org/fhir/OperationDefinition/MessageHeader-process-message",
                    }
                ],
                "interaction": [
                    {"code": "transaction", "documentation": "All entries in one service; all or nothing"},
                    {"code": "batch", "documentation": "May span services; each entry answered"},
                ],
            }
        ],
    }
