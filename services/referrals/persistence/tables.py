"""The referrals service's tables. Each resource table keeps the stored JSON plus the columns
its search parameters and rules need, derived by one `*_row` function per type."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, Column, Date, Index, Integer, String, Table, Text, UniqueConstraint

from services.kit.clock import parse_instant
from services.kit.db import UtcDateTime, new_metadata
from services.kit.fhir import coding_code, extension, ref
from services.kit.outbox import inbox_table, outbox_table
from services.kit.repository import ResourceKind, history_table, resource_table
from services.referrals.domain.codes import (
    CS_COMMUNICATION,
    CS_SOURCE,
    CS_STATE,
    CS_TASK,
    EXT_HEALTHCARE_SERVICE,
    EXT_OVERRIDE,
    EXT_RECEIVED_AT,
    EXT_SPELL,
)

metadata = new_metadata()


def _time(text: str | None) -> Any:
    return parse_instant(text) if text else None


service_request = resource_table(
    metadata,
    "service_request",
    Column("subject", String(80), nullable=False, index=True),
    Column("performer", String(80), nullable=False, index=True),
    Column("requester", String(80), nullable=False),
    Column("requester_team", String(80), nullable=True, index=True),
    Column("status", String(32), nullable=False),
    Column("source", String(64), nullable=True),
    Column("priority", String(16), nullable=True),
    Column("identifier", String(255), nullable=True, unique=True),
    Column("authored", UtcDateTime(), nullable=True),
    Column("received_at", UtcDateTime(), nullable=False, index=True),
    Column("spell", String(64), nullable=False, index=True),
)


def service_request_row(resource: dict[str, Any]) -> dict[str, Any]:
    """Search columns of a referral ServiceRequest."""
    identifiers = resource.get("identifier") or []
    first = identifiers[0] if identifiers else None
    received = extension(resource, EXT_RECEIVED_AT)
    spell = extension(resource, EXT_SPELL)
    return {
        "subject": ref(resource.get("subject")),
        "performer": ref((resource.get("performer") or [None])[0]),
        "requester": ref(resource.get("requester")),
        "status": resource.get("status"),
        "source": coding_code(resource.get("category"), CS_SOURCE),
        "priority": resource.get("priority"),
        "identifier": f"{first.get('system', '')}|{first.get('value', '')}" if first else None,
        "authored": _time(resource.get("authoredOn")),
        "received_at": _time(received["valueDateTime"]) if received else None,
        "spell": (spell or {}).get("valueString") or resource.get("id"),
    }


task = resource_table(
    metadata,
    "task",
    Column("code", String(64), nullable=False),
    Column("status", String(32), nullable=False),
    Column("business_status", String(64), nullable=True),
    Column("focus", String(80), nullable=True, index=True),
    Column("owner", String(80), nullable=True),
    Column("subject", String(80), nullable=True, index=True),
    Column("requester", String(80), nullable=True),
    Column("authored_on", UtcDateTime(), nullable=True),
    Column("clock_start", UtcDateTime(), nullable=True),
    Column("clock_stop", UtcDateTime(), nullable=True),
    Column("support_status", String(32), nullable=True),
    Column("escalation_key", String(120), nullable=True, unique=True),
    Index("ix_task_owner_status_clock", "owner", "status", "clock_start"),
    Index("ix_task_code_status", "code", "status"),
)


def task_row(resource: dict[str, Any]) -> dict[str, Any]:
    """Search columns of a Task (clock and support columns are set by the service, not derived)."""
    return {
        "code": coding_code(resource.get("code"), CS_TASK) or "other",
        "status": resource.get("status"),
        "business_status": coding_code(resource.get("businessStatus"), CS_STATE),
        "focus": ref(resource.get("focus")),
        "owner": ref(resource.get("owner")),
        "subject": ref(resource.get("for")),
        "requester": ref(resource.get("requester")),
        "authored_on": _time(resource.get("authoredOn")),
    }


encounter = resource_table(
    metadata,
    "encounter",
    Column("subject", String(80), nullable=True, index=True),
    Column("based_on", String(80), nullable=True, index=True),
    Column("status", String(32), nullable=False),
    Column("period_start", UtcDateTime(), nullable=True),
)


def encounter_row(resource: dict[str, Any]) -> dict[str, Any]:
    """Search columns of a contact Encounter."""
    return {
        "subject": ref(resource.get("subject")),
        "based_on": ref((resource.get("basedOn") or [None])[0]),
        "status": resource.get("status"),
        "period_start": _time((resource.get("period") or {}).get("start")),
    }


episode_of_care = resource_table(
    metadata,
    "episode_of_care",
    Column("patient", String(80), nullable=False, index=True),
    Column("status", String(32), nullable=False),
    Column("team", String(80), nullable=False, index=True),
    Column("referral", String(80), nullable=True),
    Column("period_start", UtcDateTime(), nullable=True),
    Column("overridden", Boolean, nullable=False, default=False),
)


def episode_row(resource: dict[str, Any]) -> dict[str, Any]:
    """Search columns of a caseload EpisodeOfCare."""
    team = extension(resource, EXT_HEALTHCARE_SERVICE)
    return {
        "patient": ref(resource.get("patient")),
        "status": resource.get("status"),
        "team": ref((team or {}).get("valueReference")) or "",
        "referral": ref((resource.get("referralRequest") or [None])[0]),
        "period_start": _time((resource.get("period") or {}).get("start")),
        "overridden": extension(resource, EXT_OVERRIDE) is not None,
    }


communication = resource_table(
    metadata,
    "communication",
    Column("subject", String(80), nullable=True, index=True),
    Column("based_on", String(80), nullable=True, index=True),
    Column("category", String(64), nullable=True),
    Column("sent", UtcDateTime(), nullable=True),
)


def communication_row(resource: dict[str, Any]) -> dict[str, Any]:
    """Search columns of a Communication to a person."""
    return {
        "subject": ref(resource.get("subject")),
        "based_on": ref((resource.get("basedOn") or [None])[0]),
        "category": coding_code(resource.get("category"), CS_COMMUNICATION),
        "sent": _time(resource.get("sent")),
    }


history = history_table(metadata)
outbox = outbox_table(metadata)
inbox = inbox_table(metadata)

patient_facts = Table(
    "patient_facts",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("birth_date", Date, nullable=True),
    Column("borough", String(32), nullable=True),
    Column("smi", Boolean, nullable=False, default=False),
    Column("high_risk", Boolean, nullable=False, default=False),
    Column("mental_illness_onset", Date, nullable=True),
    Column("language", String(64), nullable=True),
    Column("interpreter", Boolean, nullable=True),
    Column("communication_needs", Text, nullable=True),
    Column("updated_at", UtcDateTime(), nullable=False),
    # Equity reporting (FR-82): NHS ethnic category code ("Z" declined, NULL missing), FHIR
    # administrative gender, IMD decile (1 = most deprived).
    Column("ethnic_category", String(8), nullable=True),
    Column("sex", String(16), nullable=True),
    Column("deprivation_decile", Integer, nullable=True),
)

carer_sharing = Table(
    "carer_sharing",
    metadata,
    Column("patient", String(80), primary_key=True),
    Column("carer", String(80), primary_key=True),
    Column("permitted", Boolean, nullable=False),
    Column("decided_at", UtcDateTime(), nullable=False),
)
"""Whether the person lets each carer be told about their care: the latest decision the gateway sent (FR-15)."""

clock_event = Table(
    "clock_event",
    metadata,
    Column("id", String(80), primary_key=True),
    Column("spell", String(64), nullable=False, index=True),
    Column("milestone", String(64), nullable=False),
    Column("at", UtcDateTime(), nullable=False),
    Column("source", String(120), nullable=True),
)

panel_slot = Table(
    "panel_slot",
    metadata,
    Column("service", String(80), primary_key=True),
    Column("meeting", Date, primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("task", String(64), nullable=False),
    UniqueConstraint("task", name="uq_panel_slot_task"),
)

KINDS = {
    "ServiceRequest": ResourceKind("ServiceRequest", service_request, service_request_row),
    "Task": ResourceKind("Task", task, task_row),
    "Encounter": ResourceKind("Encounter", encounter, encounter_row),
    "EpisodeOfCare": ResourceKind("EpisodeOfCare", episode_of_care, episode_row),
    "Communication": ResourceKind("Communication", communication, communication_row),
}
