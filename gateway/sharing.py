"""Data-sharing agreements, purpose of use, minimisation, and the person's consent (FR-69, FR-70, FR-72).

Partner systems (outside the partnership's own EPRs) act under an agreement: which resource
types and interactions, for which purposes, and which elements leave the gateway. Requests
carry their purpose of use (the `X-Purpose-Of-Use` header, or the token's claim). Where an
agreement says so, and always for carers, the person's own information-sharing Consent must
permit the reader; revoking it stops the next read.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway import tables
from gateway.events import accept_event
from services.kit.auth import Principal
from services.kit.clock import instant
from services.kit.errors import Forbidden

ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
ALWAYS_KEPT = frozenset({"resourceType", "id", "meta", "status", "subject", "patient"})


@dataclass(frozen=True)
class Agreement:
    """What one partner may do, why, and what it may see."""

    partner: str
    organization: str
    interactions: Mapping[str, frozenset[str]]
    purposes: frozenset[str]
    elements: Mapping[str, frozenset[str]] = field(default_factory=dict)
    needs_consent: bool = True


AGREEMENTS: dict[str, Agreement] = {
    # A voluntary-sector partner: reads crisis and care plans (minimised) and records contacts,
    # for direct care only, with the person's consent (FR-69, Q-IO-18).
    "vcse-mind": Agreement(
        "vcse-mind",
        "mind-ncl",
        {"CarePlan": frozenset("rs"), "Encounter": frozenset("c"), "Patient": frozenset("r"), "Flag": frozenset("rs")},
        frozenset({"TREAT"}),
        {
            "CarePlan": frozenset({"category", "title", "description", "period", "activity", "intent"}),
            "Patient": frozenset({"name", "birthDate"}),
        },
    ),
    # The 24/7 crisis line reads crisis plans and advance decisions (FR-45): no consent step,
    # because a crisis plan exists so that crisis services can act on it.
    "crisis-line": Agreement(
        "crisis-line",
        "beh",
        {"CarePlan": frozenset("rs"), "Patient": frozenset("rs")},
        frozenset({"TREAT", "ETREAT"}),
        needs_consent=False,
    ),
    # A research partner: referral searches for research only, minimised to non-identifying elements.
    "research-partner": Agreement(
        "research-partner",
        "research",
        {"ServiceRequest": frozenset("s")},
        frozenset({"HRESCH"}),
        {"ServiceRequest": frozenset({"category", "priority", "authoredOn", "performer"})},
        needs_consent=False,
    ),
}


def purpose_of(principal: Principal, header: str | None) -> str | None:
    """The request's purpose of use: the header, else the token's claim."""
    return header or principal.purpose


def check_agreement(
    principal: Principal, resource_type: str, interaction: str, purpose: str | None
) -> Agreement | None:
    """403 unless a partner's agreement covers the request; None for the partnership's own clients."""
    agreement = AGREEMENTS.get(principal.client_id)
    if agreement is None:
        return None
    if interaction not in agreement.interactions.get(resource_type, frozenset()):
        raise Forbidden(
            f"The data-sharing agreement of {agreement.partner} does not cover '{interaction}' on {resource_type}",
            resource_type,
        )
    if purpose not in agreement.purposes:
        raise Forbidden(
            f"Purpose of use {purpose or '(none)'} is outside the agreement of {agreement.partner} "
            f"(allowed: {', '.join(sorted(agreement.purposes))})",
            "X-Purpose-Of-Use",
        )
    return agreement


def minimise(resource: dict[str, Any], agreement: Agreement) -> dict[str, Any]:
    """Only the agreed elements leave the gateway (data minimisation)."""
    allowed = agreement.elements.get(resource.get("resourceType", ""))
    if allowed is None:
        return resource
    keep = allowed | ALWAYS_KEPT
    trimmed = {k: v for k, v in resource.items() if k in keep}
    meta = dict(trimmed.get("meta") or {})
    meta["security"] = [
        *meta.get("security", []),
        {"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "code": "REDACTED"},
    ]
    trimmed["meta"] = meta
    return trimmed


def patient_of(resource: dict[str, Any]) -> str | None:
    """The person a resource is about."""
    if resource.get("resourceType") == "Patient":
        return f"Patient/{resource.get('id')}"
    for key in ("subject", "patient", "for"):
        value = resource.get(key)
        if isinstance(value, dict) and str(value.get("reference", "")).startswith("Patient/"):
            return str(value["reference"])
    return None


def reader_actor(principal: Principal, agreement: Agreement | None) -> str | None:
    """Whose consent matters: a carer (RelatedPerson) or a partner organisation that needs it."""
    if principal.fhir_user and principal.fhir_user.startswith("RelatedPerson/"):
        return principal.fhir_user
    if agreement is not None and agreement.needs_consent:
        return f"Organization/{agreement.organization}"
    return None


async def consent_permits(session: AsyncSession, patient: str, actor: str) -> bool:
    """Whether the person's latest active information-sharing Consent permits this reader."""
    c = tables.consent
    rows = (
        await session.execute(
            select(c.c.resource).where(c.c.patient == patient, c.c.status == "active").order_by(c.c.last_updated.desc())
        )
    ).scalars()
    for raw in rows:
        consent = orjson.loads(raw)
        provision = consent.get("provision") or {}
        actors = {a.get("reference", {}).get("reference") for a in provision.get("actor") or []}
        if actor in actors:
            permitted: bool = provision.get("type", "permit") == "permit"
            return permitted
    return False


async def check_consent(session: AsyncSession, patients: Iterable[str | None], actor: str | None) -> None:
    """403 unless every person concerned has consented to this reader (when consent is needed)."""
    if actor is None:
        return
    for patient in patients:
        if patient is None or not await consent_permits(session, patient, actor):
            raise Forbidden(f"{patient or 'The person'} has not consented to sharing with {actor} (FR-72)", "Consent")


async def publish_carer_sharing(session: AsyncSession, consents: Iterable[dict[str, Any]], now: datetime) -> None:
    """Tell the services whether each carer these Consents name may now be told about the person's care.

    The decision sent is the one `consent_permits` reaches after the change (the latest active
    Consent naming the carer), so a revoked or replaced decision is sent as it now stands (FR-15).
    """
    named = {
        (patient, actor)
        for consent in consents
        if (patient := (consent.get("patient") or {}).get("reference"))
        for actor in _actors(consent)
        if actor.startswith("RelatedPerson/")
    }
    for patient, carer in sorted(named):
        event = {
            "id": str(uuid.uuid4()),
            "type": "carer-sharing-changed",
            "source": "gateway",
            "time": instant(now),
            "subject": patient,
            "carer": carer,
            "permitted": await consent_permits(session, patient, carer),
        }
        await accept_event(session, event, now)


def _actors(consent: dict[str, Any]) -> set[str]:
    provision = consent.get("provision") or {}
    return {str((a.get("reference") or {}).get("reference")) for a in provision.get("actor") or []}
