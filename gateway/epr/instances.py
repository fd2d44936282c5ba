"""The two simulated EPR instances registering their patients in the master patient index (FR-68).

Each instance numbers its patients itself (`BEH…`, `CI…`). `POST /epr/{instance}/Patient` takes
a Patient carrying the instance's local number and, optionally, an NHS number:

* a local number already known is the same person again (200, nothing duplicated);
* an NHS number already known links the local number to that Patient (200);
* otherwise a new Patient is created (201).

Demographics the index does not have yet are filled in; ones that differ are reported as
warnings (`Prefer: return=OperationOutcome`) and never overwritten: the index is the master.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from gateway.context import Context
from gateway.epr.common import (
    Instance,
    borough_of,
    instance_of,
    record_audit,
    require,
    require_instance,
    resource_of,
    unit_of_work,
)
from gateway.identity import NHS_NUMBER
from gateway.patients import check_identifiers, create_patient, resolve, update_patient
from gateway.tables import EXT_BOROUGH
from services.kit.api import base_url, fhir_body_schema, stored_response
from services.kit.errors import Conflict, FhirError, Issue, NotFound, RequiredMissing, Unprocessable, operation_outcome
from services.kit.http import fhir_response
from services.kit.repository import Stored

router = APIRouter(prefix="/epr", tags=["EPR simulation"])

# Elements copied into the index when it has none yet (the index is the master otherwise).
_FILLED = ("name", "gender", "birthDate", "address", "telecom", "generalPractitioner", "communication")
_COMPARED = ("gender", "birthDate")


@dataclass
class Registration:
    """What registering a patient from an EPR did."""

    stored: Stored
    outcome: str  # created | linked | existing
    warnings: list[Issue] = field(default_factory=list)


def _family(patient: dict[str, Any]) -> str | None:
    names = patient.get("name") or [{}]
    family = names[0].get("family")
    return family.strip().lower() if isinstance(family, str) else None


def merge(existing: dict[str, Any], incoming: dict[str, Any]) -> tuple[dict[str, Any], list[Issue], bool]:
    """The index's Patient with the EPR's identifiers added and missing demographics filled in.

    Returns the merged Patient, warnings for demographics that differ, and whether it changed.
    """
    merged = copy.deepcopy(existing)
    merged.pop("meta", None)
    changed = False
    known = {(i.get("system"), i.get("value")) for i in merged.get("identifier") or []}
    for identifier in incoming.get("identifier") or []:
        if (
            identifier.get("system")
            and identifier.get("value")
            and (identifier["system"], identifier["value"]) not in known
        ):
            merged.setdefault("identifier", []).append(identifier)
            changed = True
    warnings: list[Issue] = []
    for element in _FILLED:
        if element in incoming and element not in merged:
            merged[element] = copy.deepcopy(incoming[element])
            changed = True
    for element in _COMPARED:
        if element in incoming and incoming[element] != merged.get(element):
            warnings.append(
                Issue(
                    "conflict",
                    f"{element} differs: the index has {merged.get(element)!r}, the EPR sent {incoming[element]!r}",
                    (f"Patient.{element}",),
                    "warning",
                )
            )
    if _family(incoming) and _family(merged) and _family(incoming) != _family(merged):
        warnings.append(
            Issue(
                "conflict",
                "The family name differs from the index's; the index keeps its own",
                ("Patient.name",),
                "warning",
            )
        )
    ours, theirs = borough_of(merged), borough_of(incoming)
    if theirs and not ours:
        merged["extension"] = [*(merged.get("extension") or []), {"url": EXT_BOROUGH, "valueCode": theirs}]
        changed = True
    elif theirs and ours != theirs:
        warnings.append(
            Issue(
                "conflict",
                f"The borough differs: the index has {ours!r}, the EPR sent {theirs!r}",
                ("Patient.extension",),
                "warning",
            )
        )
    return merged, warnings, changed


def _one(identifiers: list[tuple[str, str]], system: str) -> str | None:
    values = [v for s, v in identifiers if s == system]
    if len(values) > 1:
        raise Unprocessable(f"A patient carries at most one {system} identifier", "Patient.identifier")
    return values[0] if values else None


async def register(ctx: Context, instance: Instance, patient: dict[str, Any]) -> Registration:
    """Register or link a patient sent by one EPR instance (FR-68)."""
    identifiers = check_identifiers(patient)
    mrn = _one(identifiers, instance.mrn_system)
    if mrn is None:
        raise RequiredMissing(
            f"A patient registered from the {instance.name} carries its local number ({instance.mrn_system})",
            "Patient.identifier",
        )
    nhs = _one(identifiers, NHS_NUMBER)
    by_mrn = await resolve(ctx, instance.mrn_system, mrn)
    by_nhs = await resolve(ctx, NHS_NUMBER, nhs) if nhs else None
    if by_mrn and by_nhs and by_mrn != by_nhs:
        raise _conflict(f"{instance.id} number {mrn} is Patient/{by_mrn} but NHS number {nhs} is Patient/{by_nhs}")
    target = by_mrn or by_nhs
    if target is None:
        return Registration(await create_patient(ctx, patient), "created")
    current = await ctx.repo("Patient").read(target)
    existing = current.resource()
    present = [(i.get("system"), i.get("value")) for i in existing.get("identifier") or []]
    if nhs and by_nhs is None and any(s == NHS_NUMBER and v != nhs for s, v in present):
        raise _conflict(f"{instance.id} number {mrn} is Patient/{target}, who has another NHS number")
    if by_mrn is None and any(s == instance.mrn_system and v != mrn for s, v in present):
        raise _conflict(
            f"NHS number {nhs} is Patient/{target}, who already has {instance.id} number "
            f"{next(v for s, v in present if s == instance.mrn_system)}: a duplicate registration in one EPR"
        )
    merged, warnings, changed = merge(existing, patient)
    stored = await update_patient(ctx, current, merged) if changed else current
    return Registration(stored, "existing" if by_mrn else "linked", warnings)


def _conflict(text: str) -> Conflict:
    return Conflict(text, "Patient.identifier", issues=[Issue("conflict", text, ("Patient.identifier",))])


def _summary(registration: Registration, instance: Instance) -> dict[str, Any]:
    text = {
        "created": f"Registered as new Patient/{registration.stored.id} from the {instance.name}",
        "linked": f"Linked the {instance.name} number to Patient/{registration.stored.id}",
        "existing": f"The {instance.name} number already identifies Patient/{registration.stored.id}",
    }[registration.outcome]
    return operation_outcome([Issue("informational", text, (), "information"), *registration.warnings])


def _prefers_outcome(request: Request) -> bool:
    return "return=operationoutcome" in request.headers.get("prefer", "").replace(" ", "").lower()


@router.post(
    "/{instance}/Patient",
    summary="Register or link a patient from one EPR instance",
    openapi_extra=fhir_body_schema("A Patient carrying the instance's local number (and optionally an NHS number)"),
)
async def register_patient(instance: str, request: Request) -> Response:
    """201 with a new Patient, or 200 with the Patient the local or NHS number already identifies.

    `Prefer: return=OperationOutcome` answers with what was done and any demographic conflicts.
    """
    status, patient_id = 500, None
    try:
        epr = instance_of(instance)
        require(request, "Patient", "c", "u")
        require_instance(request, epr)
        patient = await resource_of(request, "Patient")
        async with unit_of_work(request, writing=True) as ctx:
            registration = await register(ctx, epr, patient)
        stored = registration.stored
        status, patient_id = (201 if registration.outcome == "created" else 200), stored.id
    except FhirError as error:
        status = error.status
        raise
    finally:
        await record_audit(request, status, patient_id)
    location = f"{base_url(request)}/Patient/{stored.id}/_history/{stored.version_id}"
    headers = {"X-MPI-Outcome": registration.outcome}
    if _prefers_outcome(request):
        return fhir_response(_summary(registration, epr), status, location=location, headers=headers)
    response = stored_response(stored, status, location)
    response.headers.update(headers)
    return response


@router.get("/{instance}/Patient/{number}", summary="The Patient one EPR instance's local number identifies")
async def read_by_local_number(instance: str, number: str, request: Request) -> Response:
    """The master patient index's Patient for a local number (404 when the number is unknown)."""
    status, patient_id = 500, None
    try:
        epr = instance_of(instance)
        require(request, "Patient", "r")
        require_instance(request, epr)
        async with unit_of_work(request, writing=False) as ctx:
            found = await resolve(ctx, epr.mrn_system, number)
            if found is None:
                raise NotFound(f"{epr.name} number {number!r} identifies nobody", "number")
            stored = await ctx.repo("Patient").read(found)
        status, patient_id = 200, found
    except FhirError as error:
        status = error.status
        raise
    finally:
        await record_audit(request, status, patient_id)
    return stored_response(stored)
