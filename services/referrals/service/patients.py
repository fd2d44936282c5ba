"""What the service keeps about people: facts from the gateway's Patient events."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import delete, select

from services.kit.clock import parse_instant
from services.kit.errors import BadRequest
from services.referrals.persistence import tables
from services.referrals.service.context import Context

SD = "https://continuum.example.org/fhir/StructureDefinition"
EXT_BOROUGH = f"{SD}/borough"
EXT_FLAG = f"{SD}/patient-flag"
EXT_MENTAL_ILLNESS_ONSET = f"{SD}/mental-illness-onset"
EXT_INTERPRETER = "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-InterpreterRequired"
EXT_COMMUNICATION_NEEDS = f"{SD}/communication-needs"
EXT_DEPRIVATION = f"{SD}/deprivation-decile"
EXT_ETHNIC = "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-EthnicCategory"


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
    ethnic = next(
        (
            c.get("code")
            for e in _ext(patient, EXT_ETHNIC)
            for c in (e.get("valueCodeableConcept") or {}).get("coding") or []
            if isinstance(c.get("code"), str)
        ),
        None,
    )
    decile = next((e.get("valueInteger") for e in _ext(patient, EXT_DEPRIVATION)), None)
    gender = patient.get("gender")
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
        "ethnic_category": ethnic[:8] if ethnic else None,
        "sex": gender[:16] if isinstance(gender, str) else None,
        "deprivation_decile": decile if isinstance(decile, int) and 1 <= decile <= 10 else None,
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


async def record_carer_sharing(ctx: Context, event: dict[str, Any]) -> None:
    """Keep the latest decision on whether a carer may be told about the person's care (FR-15).

    Decisions can arrive out of order (delivery is at least once, each retried on its own), so an
    older decision never overwrites a newer one.
    """
    patient, carer, permitted = event.get("subject"), event.get("carer"), event.get("permitted")
    if not isinstance(patient, str) or not patient.startswith("Patient/"):
        raise BadRequest("A carer-sharing-changed event names its subject (Patient/...)", "subject")
    if not isinstance(carer, str) or not carer.startswith("RelatedPerson/"):
        raise BadRequest("A carer-sharing-changed event names the carer (RelatedPerson/...)", "carer")
    if not isinstance(permitted, bool):
        raise BadRequest("A carer-sharing-changed event says whether sharing is permitted", "permitted")
    try:
        decided = parse_instant(str(event.get("time")))
    except ValueError:
        raise BadRequest("A carer-sharing-changed event says when the decision was made (time)", "time") from None
    t = tables.carer_sharing
    key = (t.c.patient == patient) & (t.c.carer == carer)
    current = (await ctx.session.execute(select(t.c.decided_at).where(key))).scalar_one_or_none()
    if current is not None and current > decided:
        return
    await ctx.session.execute(delete(t).where(key))
    await ctx.session.execute(t.insert().values(patient=patient, carer=carer, permitted=permitted, decided_at=decided))


async def permitted_carers(ctx: Context, patient: str) -> list[str]:
    """The carers the person currently lets be told about their care."""
    t = tables.carer_sharing
    found = await ctx.session.execute(
        select(t.c.carer).where(t.c.patient == patient, t.c.permitted.is_(True)).order_by(t.c.carer)
    )
    return list(found.scalars())
