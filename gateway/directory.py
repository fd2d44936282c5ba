"""The partnership's directory as FHIR resources, built from `reference.partnership` (FR-76, FR-77).

Migrations seed these rows; the gateway then serves them like any other resource.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson

from gateway.tables import CS_SERVICE_TYPE, EXT_BOROUGH, EXT_LEVEL, EXT_SELF_REFERRAL, KINDS
from reference.partnership import Borough, Directory, Team, directory
from services.kit.clock import instant

ODS = "https://fhir.nhs.uk/Id/ods-organization-code"
EXT_WAITING_WELL = "https://continuum.example.org/fhir/StructureDefinition/waiting-well"
CS_ROLE = "https://continuum.example.org/fhir/CodeSystem/practitioner-role"


def organization(org_id: str, data: Directory) -> dict[str, Any]:
    """An Organization."""
    org = data.organizations[org_id]
    resource: dict[str, Any] = {"resourceType": "Organization", "id": org.id, "active": True, "name": org.name}
    if org.ods_code:
        resource["identifier"] = [{"system": ODS, "value": org.ods_code}]
    if org.part_of:
        resource["partOf"] = {"reference": f"Organization/{org.part_of}"}
    return resource


def borough_location(borough: Borough) -> dict[str, Any]:
    """A borough as a Location (the coverage area of borough teams)."""
    return {
        "resourceType": "Location",
        "id": f"borough-{borough.value}",
        "status": "active",
        "name": f"London Borough of {borough.value.title()}",
        "mode": "kind",
        "physicalType": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/location-physical-type",
                    "code": "area",
                    "display": "Area",
                }
            ]
        },
    }


def healthcare_service(team: Team) -> dict[str, Any]:
    """A team or service, with its clinical-model level and self-referral flag."""
    resource: dict[str, Any] = {
        "resourceType": "HealthcareService",
        "id": team.id,
        "active": True,
        "name": team.name,
        "providedBy": {"reference": f"Organization/{team.organization}"},
        "type": [{"coding": [{"system": CS_SERVICE_TYPE, "code": team.type.value}]}],
        "extension": [
            {"url": EXT_LEVEL, "valueInteger": team.level},
            {"url": EXT_SELF_REFERRAL, "valueBoolean": team.accepts_self_referral},
        ],
    }
    if team.borough:
        resource["extension"].append({"url": EXT_BOROUGH, "valueCode": team.borough.value})
        resource["coverageArea"] = [{"reference": f"Location/borough-{team.borough.value}"}]
    if team.waiting_well:
        resource["extension"].append(
            {"url": EXT_WAITING_WELL, "valueString": f"Communication/$waiting-well?service={team.id}"}
        )
    return resource


def resources(data: Directory | None = None) -> list[dict[str, Any]]:
    """Every directory resource: organisations, boroughs, services, practitioners and their roles."""
    data = data or directory()
    found: list[dict[str, Any]] = [organization(o, data) for o in data.organizations]
    found += [borough_location(b) for b in Borough]
    found += [healthcare_service(t) for t in data.teams.values()]
    for role in data.roles.values():
        given, family = role.practitioner_name.rsplit(" ", 1)
        practitioner_id = f"pr-{role.id}"
        found.append(
            {
                "resourceType": "Practitioner",
                "id": practitioner_id,
                "active": True,
                "name": [{"given": given.split(" "), "family": family}],
            }
        )
        found.append(
            {
                "resourceType": "PractitionerRole",
                "id": role.id,
                "active": True,
                "practitioner": {"reference": f"Practitioner/{practitioner_id}", "display": role.practitioner_name},
                "organization": {"reference": f"Organization/{role.organization}"},
                "healthcareService": [{"reference": f"HealthcareService/{role.team}"}],
                "code": [{"coding": [{"system": CS_ROLE, "code": c}]} for c in role.codes],
            }
        )
    return found


def seed_rows(now: datetime) -> dict[str, list[dict[str, Any]]]:
    """Rows for each table (and the history table), version 1, for a migration to insert."""
    rows: dict[str, list[dict[str, Any]]] = {"resource_history": []}
    for resource in resources():
        kind = KINDS[resource["resourceType"]]
        resource["meta"] = {"versionId": "1", "lastUpdated": instant(now)}
        body = orjson.dumps(resource).decode()
        base = {"id": resource["id"], "version_id": 1, "last_updated": now, "resource": body}
        rows.setdefault(kind.table.name, []).append(base | kind.to_row(resource))
        rows["resource_history"].append(base | {"resource_type": resource["resourceType"]})
    return rows
