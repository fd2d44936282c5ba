"""The MHSDS-like extract (FR-95): one CSV row per referral received in a period, with its contacts,
care-plan and outcome milestones and the person's protected characteristics.

One SQL query reads the rows (joins and correlated subqueries, so nothing is loaded per referral);
Python only formats them. The care-plan and outcome columns come from the milestones the care-plans
service reported to the referral clock (baseline DIALOG recorded, co-produced plan agreed).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from reference.partnership import Team
from services.kit.clock import instant
from services.kit.reporting import Period, dialect_of, json_code, whole_days
from services.referrals.domain.codes import TaskCode
from services.referrals.domain.waiting import Milestone
from services.referrals.persistence import tables

COLUMNS = (
    "referral_id",
    "referral_task_id",
    "patient_id",
    "referral_received",
    "source_of_referral",
    "referring_team",
    "receiving_team",
    "borough",
    "priority",
    "referral_state",
    "decline_reason",
    "waiting_support",
    "clock_stop",
    "days_to_clock_stop",
    "first_contact",
    "second_contact",
    "contacts_seen",
    "baseline_outcome_recorded",
    "care_plan_agreed",
    "age_at_referral",
    "ethnic_category",
    "sex",
    "deprivation_decile",
)


def _milestone(spell: ColumnElement[Any], milestone: Milestone, n: int = 1) -> ColumnElement[Any]:
    """When the spell's `n`th event of a milestone happened (NULL when it has not)."""
    ce = tables.clock_event
    return (
        select(ce.c.at)
        .where(ce.c.spell == spell, ce.c.milestone == milestone.value)
        .order_by(ce.c.at)
        .limit(1)
        .offset(n - 1)
        .scalar_subquery()
    )


def _age(birth: date | None, on: datetime | None) -> int | None:
    if birth is None or on is None:
        return None
    day = on.date()
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return instant(value)
    if isinstance(value, str):
        return value.split("/", 1)[1] if value.startswith(("HealthcareService/", "Patient/")) else value
    return str(value)


async def extract_rows(session: AsyncSession, period: Period, teams: Mapping[str, Team]) -> list[dict[str, Any]]:
    """The extract's rows, ordered by receipt: every referral Task received in the period."""
    t, sr, pf, ce = tables.task, tables.service_request, tables.patient_facts, tables.clock_event
    dialect = dialect_of(session)
    seen_count = (
        select(func.count()).where(ce.c.spell == sr.c.spell, ce.c.milestone == Milestone.SEEN.value).scalar_subquery()
    )
    query = (
        select(
            sr.c.id.label("referral_id"),
            t.c.id.label("referral_task_id"),
            t.c.subject.label("patient_id"),
            t.c.clock_start.label("referral_received"),
            sr.c.source.label("source_of_referral"),
            sr.c.requester_team.label("referring_team"),
            t.c.owner.label("receiving_team"),
            sr.c.priority.label("priority"),
            t.c.business_status.label("referral_state"),
            json_code(t.c.resource, "statusReason", dialect).label("decline_reason"),
            t.c.support_status.label("waiting_support"),
            t.c.clock_stop.label("clock_stop"),
            whole_days(t.c.clock_start, t.c.clock_stop, dialect).label("days_to_clock_stop"),
            _milestone(sr.c.spell, Milestone.SEEN).label("first_contact"),
            _milestone(sr.c.spell, Milestone.SEEN, 2).label("second_contact"),
            seen_count.label("contacts_seen"),
            _milestone(sr.c.spell, Milestone.BASELINE_OUTCOME).label("baseline_outcome_recorded"),
            _milestone(sr.c.spell, Milestone.CAREPLAN_COMPLETED).label("care_plan_agreed"),
            pf.c.birth_date,
            pf.c.ethnic_category,
            pf.c.sex,
            pf.c.deprivation_decile,
        )
        .select_from(
            t.join(sr, t.c.focus == ("ServiceRequest/" + sr.c.id)).outerjoin(pf, t.c.subject == ("Patient/" + pf.c.id))
        )
        .where(
            t.c.code == TaskCode.REFERRAL.value,
            t.c.clock_start >= period.lower,
            t.c.clock_start < period.upper,
        )
        .order_by(t.c.clock_start, t.c.id)
    )
    boroughs = {f"HealthcareService/{x.id}": x.borough.value for x in teams.values() if x.borough is not None}
    out = []
    for row in (await session.execute(query)).mappings():
        values = {c: row[c] for c in COLUMNS if c in row}
        values["borough"] = boroughs.get(row["receiving_team"] or "", "unknown")
        values["age_at_referral"] = _age(row["birth_date"], row["referral_received"])
        values["ethnic_category"] = row["ethnic_category"]
        out.append(values)
    return out


def to_csv(rows: list[dict[str, Any]]) -> str:
    """The rows as CSV (RFC 4180, header first; empty cells for unknown values)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([_text(row.get(c)) for c in COLUMNS])
    return buffer.getvalue()
