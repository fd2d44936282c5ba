"""`$evaluate-measure` for the referrals KPIs: the SQL cohort each measure counts.

Every measure is a cohort of referral Tasks (one row per referral) with a numerator flag, an
observation (whole days) and its stratifier keys, built as one SQL subquery; the kit's measure
engine (`services/kit/reporting.py`) aggregates it in the database into a `MeasureReport`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Integer, String, and_, case, exists, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Subquery

from reference.partnership import Team
from services.kit.db import UtcDateTime
from services.kit.reporting import (
    MeasureDef,
    Period,
    age_band,
    deprivation_quintile,
    dialect_of,
    elapsed_days,
    ethnic_group,
    json_code,
    sex_of,
    whole_days,
)
from services.kit.reporting import evaluate as evaluate_rows
from services.referrals.domain.codes import DeclineReason, ReferralSource, State, SupportStatus, TaskCode
from services.referrals.domain.waiting import Milestone
from services.referrals.persistence import tables
from services.referrals.reporting.definitions import CATALOGUE

WAIT_104_WEEKS = timedelta(days=728)
WITHIN_DAYS = 28

OPEN_TASK = ("requested", "received", "accepted")
ACCEPTED = (State.ACCEPTED_WAITING.value, State.STARTED.value, State.CLOSED.value)
DECLINED = (State.DECLINED.value, State.ADVICE_ONLY.value, State.SIGNPOSTED.value)
DECIDED = (*ACCEPTED, *DECLINED, State.REDIRECTED.value)
REDIRECTED = (State.REDIRECTED.value,)
OPEN_ACCEPTED = (State.ACCEPTED_WAITING.value, State.STARTED.value)


def _contact(t: Any, n: int) -> ColumnElement[Any]:
    """When the referral's spell had its `n`th contact where the person was seen (the clock's contact proxy)."""
    sr, ce = tables.service_request, tables.clock_event
    return (
        select(ce.c.at)
        .select_from(ce.join(sr, ce.c.spell == sr.c.spell))
        .where(("ServiceRequest/" + sr.c.id) == t.c.focus, ce.c.milestone == Milestone.SEEN.value)
        .order_by(ce.c.at)
        .limit(1)
        .offset(n - 1)
        .scalar_subquery()
    )


def _decided_at(t: Any, dialect: str) -> ColumnElement[Any]:
    """When the referral was decided: the first stored version of its Task in a decided state."""
    h = tables.history
    return (
        select(func.min(h.c.last_updated))
        .where(
            h.c.resource_type == "Task",
            h.c.id == t.c.id,
            json_code(h.c.resource, "businessStatus", dialect).in_(DECIDED),
        )
        .scalar_subquery()
    )


def _borough(owner: ColumnElement[Any], teams: Mapping[str, Team]) -> ColumnElement[str]:
    mapping = {f"HealthcareService/{t.id}": t.borough.value for t in teams.values() if t.borough is not None}
    return case(mapping, value=owner, else_="unknown")


def cohort(measure: MeasureDef, period: Period, teams: Mapping[str, Team], dialect: str) -> Subquery:
    """One row per referral in the measure's cohort: stratifier keys, numerator flag and observation."""
    t, pf, sr, c = tables.task, tables.patient_facts, tables.service_request, tables.communication
    days = whole_days(t.c.clock_start, t.c.clock_stop, dialect)
    reason = json_code(t.c.resource, "statusReason", dialect)
    lower, upper = period.lower, period.upper
    waiting = and_(
        t.c.clock_start < upper,
        or_(t.c.clock_stop >= upper, and_(t.c.clock_stop.is_(None), t.c.status.in_(OPEN_TASK))),
    )
    received = and_(t.c.clock_start >= lower, t.c.clock_start < upper)
    where: list[ColumnElement[bool]] = [t.c.code == TaskCode.REFERRAL.value]
    source: Any = t
    numerator: ColumnElement[bool] = literal(False)
    observation: ColumnElement[Any] = literal(None, Integer)
    if measure.cohort == "clock-stopped":
        where += [t.c.clock_stop >= lower, t.c.clock_stop < upper, t.c.clock_start.is_not(None)]
        observation = days
        numerator = days <= WITHIN_DAYS
    elif measure.cohort == "waiting-104-weeks":
        where += [waiting, t.c.clock_start <= upper - WAIT_104_WEEKS]
    elif measure.cohort in ("waiting-list", "waiting-without-support"):
        where += [waiting, t.c.business_status.in_(ACCEPTED)]
        if measure.cohort == "waiting-without-support":
            where.append(or_(t.c.support_status.is_(None), t.c.support_status == SupportStatus.NONE.value))
        elif measure.id == "waiting-with-support":
            numerator = t.c.support_status == SupportStatus.SUPPORTED.value
        else:
            numerator = exists(
                select(c.c.id).where(c.c.based_on == t.c.focus, c.c.category == "waiting-time", c.c.sent < upper)
            )
    elif measure.cohort == "decided":
        where += [received, t.c.business_status.in_(DECIDED)]
        numerator = t.c.business_status.in_(ACCEPTED if measure.id == "acceptance-rate" else REDIRECTED)
    elif measure.cohort in ("first-contact", "second-contact"):
        contact = _contact(t, 1 if measure.cohort == "first-contact" else 2)
        where += [t.c.business_status.in_(ACCEPTED), contact >= lower, contact < upper]
        observation = whole_days(t.c.clock_start, contact, dialect)
    elif measure.cohort == "open-without-second-contact":
        end = literal(upper, UtcDateTime())
        where += [
            t.c.business_status.in_(OPEN_ACCEPTED),
            t.c.clock_start < upper,
            or_(_contact(t, 2).is_(None), _contact(t, 2) >= upper),
        ]
        observation = whole_days(t.c.clock_start, end, dialect)
    elif measure.cohort == "decision-time":
        decided_at = _decided_at(t, dialect)
        where += [t.c.business_status.in_(DECIDED), decided_at >= lower, decided_at < upper]
        observation = elapsed_days(t.c.clock_start, decided_at, dialect)
    elif measure.cohort in ("escalated", "escalation-resolved"):
        escalation = tables.task.alias("escalation")
        source = escalation.join(t, escalation.c.focus == ("Task/" + t.c.id))
        where.append(escalation.c.code == TaskCode.ESCALATION.value)
        if measure.cohort == "escalated":
            where += [escalation.c.authored_on >= lower, escalation.c.authored_on < upper]
        else:
            # A completed escalation is not changed again: its last update is its resolution (FR-5).
            resolved = escalation.c.last_updated
            where += [escalation.c.status == "completed", resolved >= lower, resolved < upper]
            observation = elapsed_days(escalation.c.authored_on, resolved, dialect)
    elif measure.cohort == "received":
        where.append(received)
        recorded = {"ethnicity-recorded": pf.c.ethnic_category, "sex-recorded": pf.c.sex}
        numerator = recorded.get(measure.id, pf.c.birth_date).is_not(None)
    elif measure.cohort == "declined":
        where += [received, t.c.business_status.in_(DECLINED)]
    elif measure.cohort == "gp-re-referral":
        earlier = tables.task.alias("earlier")
        declined_before = exists(
            select(earlier.c.id).where(
                earlier.c.subject == t.c.subject,
                earlier.c.code == TaskCode.REFERRAL.value,
                earlier.c.business_status.in_((*DECLINED, State.REDIRECTED.value)),
                earlier.c.clock_start < t.c.clock_start,
            )
        )
        gp_source = exists(
            select(sr.c.id).where(("ServiceRequest/" + sr.c.id) == t.c.focus, sr.c.source == ReferralSource.GP.value)
        )
        where += [received, or_(reason == DeclineReason.GP_REFERRAL_REQUESTED.value, and_(gp_source, declined_before))]
    else:  # pragma: no cover - every definition names a known cohort
        raise ValueError(f"unknown cohort {measure.cohort!r}")
    query = (
        select(
            t.c.owner.label("team"),
            _borough(t.c.owner, teams).label("borough"),
            age_band(pf.c.birth_date, period.end).label("age-band"),
            ethnic_group(pf.c.ethnic_category).label("ethnicity"),
            sex_of(pf.c.sex).label("sex"),
            deprivation_quintile(pf.c.deprivation_decile).label("deprivation-quintile"),
            (func.coalesce(reason, "unknown") if measure.extra_stratifiers else literal(None, String)).label("reason"),
            case((numerator, 1), else_=0).label("num"),
            observation.label("observation"),
        )
        .select_from(source.outerjoin(pf, t.c.subject == ("Patient/" + pf.c.id)))
        .where(*where)
    )
    return query.subquery("cohort")


async def evaluate(
    session: AsyncSession,
    measure: MeasureDef,
    period: Period,
    teams: Mapping[str, Team],
    threshold: int,
    now: datetime,
) -> dict[str, Any]:
    """The summary `MeasureReport` of a referrals measure over a period, every stratifier included."""
    rows = cohort(measure, period, teams, dialect_of(session))
    return await evaluate_rows(session, CATALOGUE, measure, rows, period, threshold, now)
