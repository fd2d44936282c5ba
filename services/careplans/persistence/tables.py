"""The care-plans service's tables. Each resource table keeps the stored JSON plus the columns
its search parameters and rules need, derived by one `*_row` function per type."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, Date, Index, Integer, String, Table

from services.careplans.domain.codes import (
    CS_CATEGORY,
    CS_DIALOG_ITEM,
    CS_DIALOG_SCORE,
    CS_GOAL_KIND,
    EXT_EPISODE,
    EXT_REFERRAL,
    EXT_TIMEPOINT,
    Category,
    PlanStatus,
)
from services.careplans.domain.fhir import coding_code, extension, ref, value_of
from services.kit.db import UtcDateTime, new_metadata
from services.kit.outbox import inbox_table, outbox_table
from services.kit.repository import ResourceKind, history_table, resource_table
from services.kit.search import date_range

metadata = new_metadata()


def moment(text: object) -> datetime | None:
    """The instant a FHIR date or dateTime starts at (None when absent or unreadable)."""
    if not isinstance(text, str):
        return None
    try:
        return date_range(text)[0]
    except ValueError:
        return None


questionnaire = resource_table(
    metadata,
    "questionnaire",
    Column("url", String(255), nullable=True, index=True),
    Column("name", String(64), nullable=True),
    Column("status", String(32), nullable=False),
)


def questionnaire_row(resource: dict[str, Any]) -> dict[str, Any]:
    """Search columns of a Questionnaire."""
    return {"url": resource.get("url"), "name": resource.get("name"), "status": resource.get("status")}


questionnaire_response = resource_table(
    metadata,
    "questionnaire_response",
    Column("subject", String(80), nullable=False, index=True),
    Column("questionnaire", String(255), nullable=False),
    Column("based_on", String(80), nullable=True, index=True),
    Column("authored", UtcDateTime(), nullable=True),
    Column("status", String(32), nullable=False),
    # Set (by the service) on the first response of a person's referral: the baseline (FR-34).
    Column("baseline_key", String(200), nullable=True, unique=True),
)


def questionnaire_response_row(resource: dict[str, Any]) -> dict[str, Any]:
    """Search columns of a QuestionnaireResponse."""
    referrals = [r for r in (ref(b) for b in resource.get("basedOn") or []) if r and r.startswith("ServiceRequest/")]
    return {
        "subject": ref(resource.get("subject")),
        "questionnaire": resource.get("questionnaire"),
        "based_on": referrals[0] if referrals else None,
        "authored": moment(resource.get("authored")),
        "status": resource.get("status"),
    }


observation = resource_table(
    metadata,
    "observation",
    Column("subject", String(80), nullable=False, index=True),
    Column("code", String(64), nullable=False),
    Column("derived_from", String(80), nullable=True, index=True),
    Column("based_on", String(80), nullable=True, index=True),
    Column("effective", UtcDateTime(), nullable=True),
    Column("timepoint", String(16), nullable=True),
)


def observation_row(resource: dict[str, Any]) -> dict[str, Any]:
    """Search columns of a score Observation."""
    return {
        "subject": ref(resource.get("subject")),
        "code": coding_code(resource.get("code"), CS_DIALOG_SCORE) or "other",
        "derived_from": ref((resource.get("derivedFrom") or [None])[0]),
        "based_on": ref((resource.get("basedOn") or [None])[0]),
        "effective": moment(resource.get("effectiveDateTime")),
        "timepoint": value_of(extension(resource, EXT_TIMEPOINT)),
    }


care_plan = resource_table(
    metadata,
    "care_plan",
    Column("subject", String(80), nullable=False, index=True),
    Column("category", String(64), nullable=False),
    Column("status", String(32), nullable=False),
    Column("episode", String(80), nullable=True, index=True),
    Column("referral", String(80), nullable=True, index=True),
    Column("author", String(80), nullable=True),
    Column("created", UtcDateTime(), nullable=True),
    # One living DIALOG+ plan per episode, one current crisis plan per person (FR-36, FR-43):
    # the unique key settles concurrent writers on both engines.
    Column("current_key", String(200), nullable=True, unique=True),
    Index("ix_care_plan_subject_category_status", "subject", "category", "status"),
)


def current_key(resource: dict[str, Any]) -> str | None:
    """The key that at most one plan holds at a time: the living DIALOG+ plan, the current crisis plan."""
    category = coding_code(resource.get("category"), CS_CATEGORY)
    status = resource.get("status")
    subject = ref(resource.get("subject"))
    if category == Category.DIALOG_PLUS and status in (PlanStatus.DRAFT, PlanStatus.ACTIVE):
        episode = ref(value_of(extension(resource, EXT_EPISODE)))
        return f"{category}|{subject}|{episode}"
    if category == Category.CRISIS and status == PlanStatus.ACTIVE:
        return f"{category}|{subject}"
    return None


def care_plan_row(resource: dict[str, Any]) -> dict[str, Any]:
    """Search columns of a CarePlan."""
    return {
        "subject": ref(resource.get("subject")),
        "category": coding_code(resource.get("category"), CS_CATEGORY) or "other",
        "status": resource.get("status"),
        "episode": ref(value_of(extension(resource, EXT_EPISODE))),
        "referral": ref(value_of(extension(resource, EXT_REFERRAL))),
        "author": ref(resource.get("author")),
        "created": moment(resource.get("created")),
        "current_key": current_key(resource),
    }


goal = resource_table(
    metadata,
    "goal",
    Column("subject", String(80), nullable=False, index=True),
    Column("lifecycle_status", String(32), nullable=False),
    Column("domain", String(64), nullable=True),
    Column("kind", String(32), nullable=True),
)


def goal_row(resource: dict[str, Any]) -> dict[str, Any]:
    """Search columns of a Goal."""
    return {
        "subject": ref(resource.get("subject")),
        "lifecycle_status": resource.get("lifecycleStatus"),
        "domain": coding_code(resource.get("category"), CS_DIALOG_ITEM),
        "kind": coding_code(resource.get("category"), CS_GOAL_KIND),
    }


# One row per DIALOG+ session (the session's record lives in its plan's `dialog-plus-session`
# extensions): DIALOG+ use is counted in SQL from here (FR-83). Written by the service.
dialog_plus_session = Table(
    "dialog_plus_session",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("subject", String(80), nullable=False, index=True),
    Column("plan", String(80), nullable=False, index=True),
    Column("episode", String(80), nullable=True),
    Column("clinician", String(80), nullable=True),
    Column("held_at", UtcDateTime(), nullable=False, index=True),
)

history = history_table(metadata)
outbox = outbox_table(metadata)
inbox = inbox_table(metadata)

# What the gateway's `patient-upserted` events say about each person, for the demographic strata of
# the measures (FR-82, FR-84): NHS ethnic category code ("Z" declined, NULL missing), FHIR
# administrative gender, IMD decile (1 = most deprived). Written by the service, one row a person.
patient_facts = Table(
    "patient_facts",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("birth_date", Date, nullable=True),
    Column("ethnic_category", String(8), nullable=True),
    Column("sex", String(16), nullable=True),
    Column("deprivation_decile", Integer, nullable=True),
    Column("updated_at", UtcDateTime(), nullable=False),
)

KINDS = {
    "Questionnaire": ResourceKind("Questionnaire", questionnaire, questionnaire_row),
    "QuestionnaireResponse": ResourceKind("QuestionnaireResponse", questionnaire_response, questionnaire_response_row),
    "Observation": ResourceKind("Observation", observation, observation_row),
    "CarePlan": ResourceKind("CarePlan", care_plan, care_plan_row),
    "Goal": ResourceKind("Goal", goal, goal_row),
}
