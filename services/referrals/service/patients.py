"""What the service keeps about people: facts from the gateway's Patient events."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import delete

from services.kit.errors import BadRequest
from services.referrals.persistence import tables
from services.referrals.service.context import Context

SD = "https://continuum.example.org/fhir/StructureDefinition"
EXT_BOROUGH = f"{SD}/borough"
EXT_FLAG = f"{SD}/patient-flag"
EXT_MENTAL_ILLNESS_ONSET = f"{SD}/mental-illness-onset"
EXT_INTERPRETER = "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-InterpreterRequired"
EXT_COMMUNICATION_NEEDS = f"{SD}/communication-needs"


def _ext(resource: dict[str, Any], url: str) -> list[dict[str, Any]]:
    return [e for e in resource.get("extension") or [] if e.get("url") == url]


def facts_from(patient: dict[str, Any]) -> dict[str, Any]:
    """The columns of `patient_facts` read from a Patient resource."""
    if patient.get("resourceType") != "Patient" or not patient.get("id"):
        raise BadRequest("A patient-upserted event carries a Patient resource with an id", "resource")
    flags = {
        c.get("code")
        for e in _ext(patient, EXT_FLAG)
        for c in (e.get("valueCodeableConcept") or {}).get("coding") or []
    }
    borough = next((e.get("valueCode") for e in _ext(patient, EXT_BOROUGH)), None)
    onset = next((e.get("valueDate") for e in _ext(patient, EXT_MENTAL_ILLNESS_ONSET)), None)
    language = None
    for communication in patient.get("communication") or []:
        if communication.get("preferred") or language is None:
            codings = (communication.get("language") or {}).get("coding") or [{}]
            language = codings[0].get("code")
    interpreter = next((e.get("valueBoolean") for e in _ext(patient, EXT_INTERPRETER)), None)
    needs = next((e.get("valueString") for e in _ext(patient, EXT_COMMUNICATION_NEEDS)), None)
    birth = patient.get("birthDate")
    return {
        "id": patient["id"],
        "birth_date": date.fromisoformat(birth) if birth else None,
        "borough": borough,
        "smi": "smi" in flags,
        "high_risk": "high-risk" in flags,
        "mental_illness_onset": date.fromisoformat(onset) if onset else None,
        "language": language,
        "interpreter": interpreter,
        "communication_needs": needs,
    }


async def upsert_patient(ctx: Context, patient: Any) -> None:
    """Replace what is known about a patient."""
    if not isinstance(patient, dict):
        raise BadRequest("A patient-upserted event carries the Patient as `resource`", "resource")
    try:
        row = facts_from(patient)
    except ValueError:
        raise BadRequest("The Patient's dates are not valid", "resource") from None
    t = tables.patient_facts
    await ctx.session.execute(delete(t).where(t.c.id == row["id"]))
    await ctx.session.execute(t.insert().values(**row, updated_at=ctx.now))
