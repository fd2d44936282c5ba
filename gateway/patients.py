"""Patients: NHS number checks, the master patient index, and Patient events for the services."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError

from gateway import tables
from gateway.context import Context
from gateway.events import accept_event
from gateway.identity import LOCAL_MRN, NHS_NUMBER, valid_nhs_number
from services.kit.clock import instant
from services.kit.errors import Conflict, Issue, Unprocessable
from services.kit.repository import Stored


def check_identifiers(patient: dict[str, Any]) -> list[tuple[str, str]]:
    """The patient's identifiers, with every NHS number checked (Modulus 11)."""
    found = []
    for index, identifier in enumerate(patient.get("identifier") or []):
        system, value = identifier.get("system"), identifier.get("value")
        if not system or not value:
            continue
        if system == NHS_NUMBER and not valid_nhs_number(value):
            where = f"Patient.identifier[{index}].value"
            raise Unprocessable(
                f"{value!r} is not a valid NHS number (10 digits with a Modulus 11 check digit)",
                where,
                issues=[Issue("value", f"{value!r} is not a valid NHS number", (where,))],
            )
        found.append((system, value))
    return found


async def _link(ctx: Context, patient_id: str, identifiers: list[tuple[str, str]]) -> None:
    t = tables.patient_identifier
    for system, value in identifiers:
        owner = (
            await ctx.session.execute(select(t.c.patient).where(t.c.system == system, t.c.value == value))
        ).scalar_one_or_none()
        if owner is not None and owner != patient_id:
            raise Conflict(
                f"{system}|{value} already identifies Patient/{owner}",
                "Patient.identifier",
                issues=[
                    Issue("duplicate", f"{system}|{value} already identifies Patient/{owner}", ("Patient.identifier",))
                ],
            )
        if owner is None:
            try:
                async with ctx.session.begin_nested():
                    await ctx.session.execute(insert(t).values(system=system, value=value, patient=patient_id))
            except IntegrityError:
                raise Conflict(f"{system}|{value} was just linked to another patient", "Patient.identifier") from None


async def resolve(ctx: Context, system: str, value: str) -> str | None:
    """The Patient id an identifier (NHS number or either EPR's local number) belongs to (FR-68)."""
    t = tables.patient_identifier
    found: str | None = (
        await ctx.session.execute(select(t.c.patient).where(t.c.system == system, t.c.value == value))
    ).scalar_one_or_none()
    return found


async def _publish(ctx: Context, stored: Stored) -> None:
    event = {
        "id": str(uuid.uuid4()),
        "type": "patient-upserted",
        "source": "gateway",
        "time": instant(ctx.now),
        "subject": f"Patient/{stored.id}",
        "resource": stored.resource(),
    }
    await accept_event(ctx.session, event, ctx.now)


async def create_patient(ctx: Context, patient: dict[str, Any]) -> Stored:
    """Register a patient: NHS number checked, identifiers indexed, services told."""
    identifiers = check_identifiers(patient)
    nhs = [v for s, v in identifiers if s == NHS_NUMBER]
    if nhs:
        existing = await resolve(ctx, NHS_NUMBER, nhs[0])
        if existing is not None:
            raise Conflict(
                f"NHS number {nhs[0]} is already registered as Patient/{existing}",
                "Patient.identifier",
                issues=[Issue("duplicate", f"Already registered as Patient/{existing}", ("Patient.identifier",))],
            )
    patient_id = str(uuid.uuid4())
    stored = await ctx.repo("Patient").create(patient, patient_id, ctx.now)
    await _link(ctx, patient_id, identifiers)
    await _publish(ctx, stored)
    return stored


async def update_patient(ctx: Context, current: Stored, patient: dict[str, Any]) -> Stored:
    """Update a patient; identifiers are re-indexed and the services told."""
    identifiers = check_identifiers(patient)
    stored = await ctx.repo("Patient").update(patient, current, ctx.now)
    t = tables.patient_identifier
    await ctx.session.execute(delete(t).where(t.c.patient == current.id))
    await _link(ctx, current.id, identifiers)
    await _publish(ctx, stored)
    return stored


async def resolve_any(ctx: Context, system: str, value: str) -> str | None:
    """The Patient an identifier names, in a given system or (without one) in any."""
    if system:
        return await resolve(ctx, system, value)
    t = tables.patient_identifier
    found: str | None = (
        await ctx.session.execute(select(t.c.patient).where(t.c.value == value).limit(1))
    ).scalar_one_or_none()
    return found


def local_identifier(epr: str, value: str) -> dict[str, str]:
    """A local patient number in one of the simulated EPR instances."""
    return {"system": LOCAL_MRN[epr], "value": value}
