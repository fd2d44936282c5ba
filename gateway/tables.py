"""The gateway's tables: the directory and identity resources it owns, audit, subscriptions,
event deliveries and idempotency records."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, Column, Index, Integer, String, Table, Text, UniqueConstraint

from services.kit.clock import parse_instant
from services.kit.db import UtcDateTime, new_metadata
from services.kit.repository import ResourceKind, history_table, resource_table

metadata = new_metadata()
SD = "https://continuum.example.org/fhir/StructureDefinition"
EXT_BOROUGH = f"{SD}/borough"
EXT_LEVEL = f"{SD}/clinical-model-level"
EXT_SELF_REFERRAL = f"{SD}/accepts-self-referral"
CS_SERVICE_TYPE = "https://continuum.example.org/fhir/CodeSystem/service-type"


def _ref(value: dict[str, Any] | None) -> str | None:
    return value.get("reference") if value else None


def _ext(resource: dict[str, Any], url: str) -> dict[str, Any]:
    return next((e for e in resource.get("extension") or [] if e.get("url") == url), {})


patient = resource_table(
    metadata,
    "patient",
    Column("family", String(120), nullable=True, index=True),
    Column("birth_date", String(10), nullable=True),
    Column("borough", String(32), nullable=True),
    Column("gender", String(16), nullable=True),
)


def patient_row(resource: dict[str, Any]) -> dict[str, Any]:
    """Search columns of a Patient."""
    names = resource.get("name") or [{}]
    return {
        "family": names[0].get("family"),
        "birth_date": resource.get("birthDate"),
        "borough": _ext(resource, EXT_BOROUGH).get("valueCode"),
        "gender": resource.get("gender"),
    }


patient_identifier = Table(
    "patient_identifier",
    metadata,
    Column("system", String(255), primary_key=True),
    Column("value", String(64), primary_key=True),
    Column("patient", String(64), nullable=False, index=True),
)

organization = resource_table(
    metadata,
    "organization",
    Column("name", String(255), nullable=True),
    Column("part_of", String(80), nullable=True),
)

healthcare_service = resource_table(
    metadata,
    "healthcare_service",
    Column("organization", String(80), nullable=True, index=True),
    Column("type", String(64), nullable=True),
    Column("borough", String(32), nullable=True),
    Column("self_referral", Boolean, nullable=False, default=False),
    Column("name", String(255), nullable=True),
)

location = resource_table(metadata, "location", Column("name", String(255), nullable=True))
practitioner = resource_table(metadata, "practitioner", Column("name", String(255), nullable=True))

practitioner_role = resource_table(
    metadata,
    "practitioner_role",
    Column("practitioner", String(80), nullable=True),
    Column("organization", String(80), nullable=True),
    Column("service", String(80), nullable=True, index=True),
)

audit_event = resource_table(
    metadata,
    "audit_event",
    Column("recorded", UtcDateTime(), nullable=False, index=True),
    Column("patient", String(80), nullable=True, index=True),
    Column("agent", String(120), nullable=True, index=True),
    Column("action", String(2), nullable=True),
    Column("outcome", String(2), nullable=True),
)

subscription = resource_table(
    metadata,
    "subscription",
    Column("status", String(16), nullable=False),
    Column("topic", String(120), nullable=False, index=True),
    Column("endpoint", String(500), nullable=False),
)


def subscription_row(resource: dict[str, Any]) -> dict[str, Any]:
    """Search columns of a Subscription; the topic is the event type its criteria name."""
    return {
        "status": resource.get("status"),
        "topic": str(resource.get("criteria", "")).rsplit("/", 1)[-1],
        "endpoint": (resource.get("channel") or {}).get("endpoint", ""),
    }


consent = resource_table(
    metadata,
    "consent",
    Column("patient", String(80), nullable=True, index=True),
    Column("status", String(32), nullable=False),
)

flag = resource_table(
    metadata,
    "flag",
    Column("patient", String(80), nullable=True, index=True),
    Column("status", String(32), nullable=False),
    Column("code", String(64), nullable=True),
)

history = history_table(metadata)

event_log = Table(
    "event_log",
    metadata,
    Column("event_id", String(64), primary_key=True),
    Column("event_type", String(64), nullable=False),
    Column("received_at", UtcDateTime(), nullable=False),
)

delivery = Table(
    "delivery",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(64), nullable=False),
    Column("subscription", String(64), nullable=False),
    Column("endpoint", String(500), nullable=False),
    Column("payload", Text, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UtcDateTime(), nullable=False),
    Column("delivered_at", UtcDateTime(), nullable=True),
    Column("last_status", String(200), nullable=True),
    UniqueConstraint("event_id", "subscription", name="uq_delivery_event_subscription"),
    Index("ix_delivery_due", "delivered_at", "next_attempt_at"),
)

idempotency = Table(
    "idempotency",
    metadata,
    Column("request_id", String(128), primary_key=True),
    Column("method", String(8), nullable=False),
    Column("path", String(500), nullable=False),
    Column("status", Integer, nullable=True),
    Column("headers", Text, nullable=True),
    Column("body", Text, nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
)


def _name_row(resource: dict[str, Any]) -> dict[str, Any]:
    names = resource.get("name")
    if isinstance(names, list):
        first = names[0] if names else {}
        return {"name": first.get("text") or " ".join([*(first.get("given") or []), first.get("family", "")])}
    return {"name": names}


def _audit_row(resource: dict[str, Any]) -> dict[str, Any]:
    agents = resource.get("agent") or [{}]
    patient_ref = next(
        (
            _ref(e.get("what"))
            for e in resource.get("entity") or []
            if (_ref(e.get("what")) or "").startswith("Patient/")
        ),
        None,
    )
    return {
        "recorded": parse_instant(resource["recorded"]),
        "patient": patient_ref,
        "agent": _ref(agents[0].get("who")) or (agents[0].get("who") or {}).get("display"),
        "action": resource.get("action"),
        "outcome": resource.get("outcome"),
    }


KINDS = {
    "Patient": ResourceKind("Patient", patient, patient_row),
    "Organization": ResourceKind(
        "Organization",
        organization,
        lambda r: {"name": r.get("name"), "part_of": _ref(r.get("partOf"))},
    ),
    "HealthcareService": ResourceKind(
        "HealthcareService",
        healthcare_service,
        lambda r: {
            "organization": _ref(r.get("providedBy")),
            "type": next((c.get("code") for t in r.get("type") or [] for c in t.get("coding") or []), None),
            "borough": _ext(r, EXT_BOROUGH).get("valueCode"),
            "self_referral": bool(_ext(r, EXT_SELF_REFERRAL).get("valueBoolean")),
            "name": r.get("name"),
        },
    ),
    "Location": ResourceKind("Location", location, lambda r: {"name": r.get("name")}),
    "Practitioner": ResourceKind("Practitioner", practitioner, _name_row),
    "PractitionerRole": ResourceKind(
        "PractitionerRole",
        practitioner_role,
        lambda r: {
            "practitioner": _ref(r.get("practitioner")),
            "organization": _ref(r.get("organization")),
            "service": _ref((r.get("healthcareService") or [None])[0]),
        },
    ),
    "AuditEvent": ResourceKind("AuditEvent", audit_event, _audit_row),
    "Subscription": ResourceKind("Subscription", subscription, subscription_row),
    "Flag": ResourceKind(
        "Flag",
        flag,
        lambda r: {
            "patient": _ref(r.get("subject")),
            "status": r.get("status"),
            "code": next((c.get("code") for c in (r.get("code") or {}).get("coding") or []), None),
        },
    ),
    "Consent": ResourceKind(
        "Consent", consent, lambda r: {"patient": _ref(r.get("patient")), "status": r.get("status")}
    ),
}
