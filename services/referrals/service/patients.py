"""What the service keeps about people: facts from the gateway's Patient events."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import delete, select

from services.kit.clock import parse_instant
from services.kit.errors import BadRequest
from services.kit.patient_facts import demographics, extensions, patient_of
from services.referrals.persistence import tables
from services.referrals.service.context import Context

SD = "https://continuum.example.org/fhir/StructureDefinition"
EXT_BOROUGH = f"{SD}/borough"
EXT_FLAG = f"{SD}/patient-flag"
EXT_MENTAL_ILLNESS_ONSET = f"{SD}/mental-illness-onset"
EXT_INTERPRETER = "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-InterpreterRequired"
EXT_COMMUNICATION_NEEDS = f"{SD}/communication-needs"


def facts_from(patient: dict[str, Any]) -> dict[str, Any]:
    """The columns of `patient_facts` read from a Patient resource."""
    row = demographics(patient)
    flags = {
        c.get("code")
        for e in extensions(patient, EXT_FLAG)
        for c in (e.get("valueCodeableConcept") or {}).get("coding") or []
    }
    borough = next((e.get("valueCode") for e in extensions(patient, EXT_BOROUGH)), None)
    onset = next((e.get("valueDate") for e in extensions(patient, EXT_MENTAL_ILLNESS_ONSET)), None)
    language = None
    for communication in patient.get("communication") or []:
        if communication.get("preferred") or language is None:
            codings = (communication.get("language") or {}).get("coding") or [{}]
            language = codings[0].get("code")
    interpreter = next((e.get("valueBoolean") for e in extensions(patient, EXT_INTERPRETER)), None)
    needs = next((e.get("valueString") for e in extensions(patient, EXT_COMMUNICATION_NEEDS)), None)
    return {
        **row,
        "borough": borough,
        "smi": "smi" in flags,
        "high_risk": "high-risk" in flags,
        "mental_illness_onset": date.fromisoformat(onset) if onset else None,
        "language": language,
        "interpreter": interpreter,
        "communication_needs": needs,
    }


async def upsert_patient(ctx: Context, event: dict[str, Any]) -> None:
    """Replace what is known about a patient with the Patient a `patient-upserted` event carries."""
    try:
        row = facts_from(patient_of(event))
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
