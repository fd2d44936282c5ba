"""The transitions service's tables. Each resource table keeps the stored JSON plus the columns its
search parameters and rules need, derived by one `*_row` function per type."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Boolean, Column, Date, Index, Integer, String, Table

from services.kit.clock import parse_instant
from services.kit.db import UtcDateTime, new_metadata
from services.kit.fhir import coding_code, extension, ref
from services.kit.outbox import inbox_table, outbox_table
from services.kit.repository import ResourceKind, history_table, resource_table
from services.transitions.domain.codes import (
    CS_CAREPLAN_CATEGORY,
    CS_EXPERIENCE,
    CS_OUTPUT,
    CS_PHASE,
    CS_TASK,
    EXT_AGREEMENT,
    EXT_CASE,
    EXT_HIGH_RISK,
    EXT_PHASE1_DEADLINE,
    EXT_PLANNED_ACTION,
    EXT_RESPONDENT,
)

metadata = new_metadata()


def _time(text: str | None) -> Any:
    return parse_instant(text) if text else None


def _date(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


def last_output(resource: dict[str, Any], kind: str, key: str) -> Any:
    """The value of the latest output of a kind on a case Task (None when there is none)."""
    found = [o.get(key) for o in resource.get("output") or [] if coding_code(o.get("type"), CS_OUTPUT) == kind]
    return found[-1] if found else None


def high_risk_of(resource: dict[str, Any]) -> bool:
    """Whether a case carries the high-risk flag (FR-60)."""
    flag = extension(resource, EXT_HIGH_RISK) or {}
    return any(e.get("url") == "flag" and e.get("valueBoolean") for e in flag.get("extension") or [])


task = resource_table(
    metadata,
    "task",
    Column("code", String(64), nullable=False),
    Column("status", String(32), nullable=False),
    Column("business_status", String(64), nullable=True),
    Column("subject", String(80), nullable=True, index=True),
    Column("owner", String(80), nullable=True),
    Column("part_of", String(80), nullable=True, index=True),
    Column("focus", String(80), nullable=True, index=True),
    Column("requester", String(80), nullable=True),
    Column("authored_on", UtcDateTime(), nullable=True),
    Column("high_risk", Boolean, nullable=False, default=False),
    Column("phase1_deadline", Date, nullable=True),
    Column("planned_action_date", Date, nullable=True),
    # Reporting (FR-90), derived from the case's outputs: the pre-transition discussion, the plan
    # formalised with the young person's agreement, and the plan actioned (late or not).
    Column("discussion_date", Date, nullable=True),
    Column("formalised_at", UtcDateTime(), nullable=True),
    Column("actioned_at", UtcDateTime(), nullable=True),
    Column("actioned_late", Boolean, nullable=True),
    # Set by the service, not derived: the borough (reporting, FR-11 equity), one open case per
    # person (the unique key is the patient while the case is open, NULL once closed), and the
    # declined referral an escalation is about (one escalation per decline).
    Column("borough", String(32), nullable=True),
    Column("open_case_key", String(80), nullable=True, unique=True),
    Column("escalation_key", String(120), nullable=True, unique=True),
    Index("ix_task_code_status", "code", "status"),
)


def task_row(resource: dict[str, Any]) -> dict[str, Any]:
    """Search columns of a transitions Task (case, phase or escalation)."""
    deadline = extension(resource, EXT_PHASE1_DEADLINE)
    planned = extension(resource, EXT_PLANNED_ACTION)
    return {
        "code": coding_code(resource.get("code"), CS_TASK) or "other",
        "status": resource.get("status"),
        "business_status": coding_code(resource.get("businessStatus"), CS_PHASE),
        "subject": ref(resource.get("for")),
        "owner": ref(resource.get("owner")),
        "part_of": ref((resource.get("partOf") or [None])[0]),
        "focus": ref(resource.get("focus")),
        "requester": ref(resource.get("requester")),
        "authored_on": _time(resource.get("authoredOn")),
        "high_risk": high_risk_of(resource),
        "phase1_deadline": _date((deadline or {}).get("valueDate")),
        "planned_action_date": _date((planned or {}).get("valueDate")),
        "discussion_date": _date(last_output(resource, "discussion-date", "valueDate")),
        "formalised_at": _time(last_output(resource, "plan-formalised", "valueDateTime")),
        "actioned_at": _time(last_output(resource, "actioned", "valueDateTime")),
        "actioned_late": last_output(resource, "actioned-after-planned-date", "valueBoolean"),
    }


care_plan = resource_table(
    metadata,
    "care_plan",
    Column("subject", String(80), nullable=False, index=True),
    Column("status", String(32), nullable=False),
    Column("category", String(64), nullable=True),
    Column("case_task", String(80), nullable=True, index=True),
    Column("created", UtcDateTime(), nullable=True),
    # The young person's latest decision on the plan and when it was recorded (FR-56, FR-90).
    Column("agreement", String(16), nullable=True),
    Column("agreement_recorded", UtcDateTime(), nullable=True),
)


def agreement_parts(resource: dict[str, Any]) -> dict[str, Any]:
    """The parts of a plan's young-person agreement extension, by name."""
    found = extension(resource, EXT_AGREEMENT) or {}
    return {e.get("url"): e for e in found.get("extension") or []}


def care_plan_row(resource: dict[str, Any]) -> dict[str, Any]:
    """Search columns of a transition plan."""
    case = extension(resource, EXT_CASE)
    return {
        "subject": ref(resource.get("subject")),
        "status": resource.get("status"),
        "category": coding_code(resource.get("category"), CS_CAREPLAN_CATEGORY),
        "case_task": ref((case or {}).get("valueReference")),
        "created": _time(resource.get("created")),
        "agreement": (agreement_parts(resource).get("decision") or {}).get("valueCode"),
        "agreement_recorded": _time((agreement_parts(resource).get("recorded") or {}).get("valueDateTime")),
    }


questionnaire_response = resource_table(
    metadata,
    "questionnaire_response",
    Column("subject", String(80), nullable=True, index=True),
    Column("questionnaire", String(255), nullable=True),
    Column("status", String(32), nullable=False),
    Column("based_on", String(80), nullable=True, index=True),
    Column("source", String(80), nullable=True),
    Column("respondent", String(32), nullable=True),
    Column("case_task", String(80), nullable=True, index=True),
    Column("authored", UtcDateTime(), nullable=True),
    # The answer to "How was the experience ...?" (positive, mixed, negative), for FR-90.
    Column("experience", String(16), nullable=True),
)


def experience_of(resource: dict[str, Any]) -> str | None:
    """The experience rating of a feedback response (None when not answered)."""
    for item in resource.get("item") or []:
        if item.get("linkId") == "experience":
            for answer in item.get("answer") or []:
                coding = answer.get("valueCoding") or {}
                if coding.get("system") == CS_EXPERIENCE and isinstance(coding.get("code"), str):
                    return str(coding["code"])
    return None


def questionnaire_response_row(resource: dict[str, Any]) -> dict[str, Any]:
    """Search columns of a transition feedback QuestionnaireResponse."""
    case = extension(resource, EXT_CASE)
    return {
        "subject": ref(resource.get("subject")),
        "questionnaire": resource.get("questionnaire"),
        "status": resource.get("status"),
        "based_on": ref((resource.get("basedOn") or [None])[0]),
        "source": ref(resource.get("source")),
        "respondent": (extension(resource, EXT_RESPONDENT) or {}).get("valueCode"),
        "case_task": ref((case or {}).get("valueReference")),
        "authored": _time(resource.get("authored")),
        "experience": experience_of(resource),
    }


history = history_table(metadata)
outbox = outbox_table(metadata)
inbox = inbox_table(metadata)

# The referrals this service sent through the gateway, so the referral events it receives
# (accepted, declined, redirected) find their case (FR-62).
sent_referral = Table(
    "sent_referral",
    metadata,
    Column("service_request", String(80), primary_key=True),
    Column("case_task", String(80), nullable=False, index=True),
    Column("purpose", String(32), nullable=False),
    Column("activity", Integer, nullable=True),
    Column("performer", String(80), nullable=False),
    Column("state", String(32), nullable=False),
    Column("sent_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)

KINDS = {
    "Task": ResourceKind("Task", task, task_row),
    "CarePlan": ResourceKind("CarePlan", care_plan, care_plan_row),
    "QuestionnaireResponse": ResourceKind("QuestionnaireResponse", questionnaire_response, questionnaire_response_row),
}
