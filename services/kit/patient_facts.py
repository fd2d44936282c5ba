"""The demographic facts a service keeps from the gateway's Patient events, for equity reporting (FR-82).

The referrals and care-plans services both receive `patient-upserted` events and keep, per person,
the columns read here: birth date, NHS ethnic category (the UK Core extension; `Z` when the person
declined to say, NULL when not recorded, so the two stay apart, FR-91), FHIR administrative gender
and the IMD deprivation decile (1 = most deprived).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from services.kit.errors import BadRequest

EXT_DEPRIVATION = "https://continuum.example.org/fhir/StructureDefinition/deprivation-decile"
EXT_ETHNIC = "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-EthnicCategory"


def extensions(resource: dict[str, Any], url: str) -> list[dict[str, Any]]:
    """The resource's extensions with this url."""
    return [e for e in resource.get("extension") or [] if isinstance(e, dict) and e.get("url") == url]


def patient_of(event: dict[str, Any]) -> dict[str, Any]:
    """The Patient a `patient-upserted` event carries as `resource` (400 when it carries none)."""
    patient = event.get("resource")
    if not isinstance(patient, dict):
        raise BadRequest("A patient-upserted event carries the Patient as `resource`", "resource")
    if patient.get("resourceType") != "Patient" or not isinstance(patient.get("id"), str) or not patient["id"]:
        raise BadRequest("A patient-upserted event carries a Patient resource with an id", "resource")
    return patient


def demographics(patient: dict[str, Any]) -> dict[str, Any]:
    """The demographic columns of `patient_facts` read from a Patient (400 when its birth date is not a date)."""
    birth = patient.get("birthDate")
    try:
        birth_date = date.fromisoformat(birth) if birth else None
    except (TypeError, ValueError):
        raise BadRequest("The Patient's dates are not valid", "resource") from None
    ethnic = next(
        (
            c.get("code")
            for e in extensions(patient, EXT_ETHNIC)
            for c in (e.get("valueCodeableConcept") or {}).get("coding") or []
            if isinstance(c.get("code"), str)
        ),
        None,
    )
    decile = next((e.get("valueInteger") for e in extensions(patient, EXT_DEPRIVATION)), None)
    gender = patient.get("gender")
    return {
        "id": patient["id"],
        "birth_date": birth_date,
        "ethnic_category": ethnic[:8] if ethnic else None,
        "sex": gender[:16] if isinstance(gender, str) else None,
        # bool is an int in Python; a JSON true is not a decile.
        "deprivation_decile": decile if type(decile) is int and 1 <= decile <= 10 else None,
    }
