"""`$evaluate-measure`: one KPI over a period, aggregated in the database, as a FHIR `MeasureReport`.

Every measure is a cohort of referral Tasks (one row per referral) with a numerator flag, an
observation (whole days) and its stratifier keys, built as one SQL subquery; totals and every
stratifier are `GROUP BY` queries over it (`COUNT`, `COUNT ... FILTER`, `percentile_cont`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Integer, String, and_, case, exists, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Subquery

from reference.partnership import Team
from services.kit.clock import instant
from services.referrals.domain.codes import DeclineReason, ReferralSource, State, SupportStatus, TaskCode
from services.referrals.persistence import tables
from services.referrals.reporting.definitions import CANONICAL, POPULATION, SD, MeasureDef, measure_resource
from services.referrals.reporting.sql import dialect_of, json_code, percentiles, whole_days

EXT_SUPPRESSION_THRESHOLD = f"{SD}/measurereport-suppression-threshold"
EXT_SUPPRESSED = f"{SD}/measurereport-suppressed"
DATA_ABSENT = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"
UCUM = "http://unitsofmeasure.org"
WAIT_104_WEEKS = timedelta(days=728)
WITHIN_DAYS = 28

OPEN_TASK = ("requested", "received", "accepted")
ACCEPTED = (State.ACCEPTED_WAITING.value, State.STARTED.value, State.CLOSED.value)
DECLINED = (State.DECLINED.value, State.ADVICE_ONLY.value, State.SIGNPOSTED.value)
DECIDED = (*ACCEPTED, *DECLINED, State.REDIRECTED.value)


@dataclass(frozen=True)
class Period:
    """A reporting period of whole days, both ends inclusive (UTC)."""

    start: date
    end: date

    @property
    def lower(self) -> datetime:
        """The first instant of the period."""
        return datetime.combine(self.start, time(), UTC)

    @property
    def upper(self) -> datetime:
        """The first instant after the period (midnight after its last day)."""
        return datetime.combine(self.end + timedelta(days=1), time(), UTC)


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def _age_band(birth: ColumnElement[Any], on: date) -> ColumnElement[str]:
    """The reporting age band at `on` (as domain.waiting.age_band), computed in SQL."""
    return case(
        (birth.is_(None), "unknown"),
        (birth > _years_before(on, 18), "0-17"),
        (birth > _years_before(on, 26), "18-25"),
        (birth > _years_before(on, 65), "26-64"),
        else_="65+",
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
        numerator = t.c.business_status.in_(ACCEPTED)
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
            _age_band(pf.c.birth_date, period.end).label("age-band"),
            (func.coalesce(reason, "unknown") if measure.extra_stratifiers else literal(None, String)).label("reason"),
            case((numerator, 1), else_=0).label("num"),
            observation.label("days"),
        )
        .select_from(t.outerjoin(pf, t.c.subject == ("Patient/" + pf.c.id)))
        .where(*where)
    )
    return query.subquery("cohort")


@dataclass
class Cell:
    """The aggregates of one stratum (or of the whole group, with an empty key)."""

    count: int
    numerator: int
    scores: list[float | None]


async def _cells(
    session: AsyncSession, measure: MeasureDef, rows: Subquery, keys: tuple[str, ...]
) -> dict[tuple[Any, ...], Cell]:
    key_columns = [rows.c[k] for k in keys]
    query = select(*key_columns, func.count(), func.count().filter(rows.c.num == 1)).group_by(*key_columns)
    cells = {
        tuple(row[: len(keys)]): Cell(int(row[len(keys)]), int(row[len(keys) + 1]), [])
        for row in (await session.execute(query)).all()
    }
    if measure.percentiles:
        fractions = [f for _, f in measure.percentiles]
        for key, scores in (await percentiles(session, rows, keys, "days", fractions)).items():
            if key in cells:
                cells[key].scores = scores
    return cells


def _value(key: str, raw: Any) -> dict[str, Any]:
    text = str(raw) if raw is not None else "unknown"
    return {"text": text.removeprefix("HealthcareService/") if key == "team" else text}


def _populations(measure: MeasureDef, cell: Cell, suppressed: bool) -> list[dict[str, Any]]:
    out = []
    for code, _ in measure.populations:
        count = cell.numerator if code == "numerator" else cell.count
        entry: dict[str, Any] = {"code": {"coding": [{"system": POPULATION, "code": code}]}}
        if suppressed:
            entry["_count"] = {"extension": [{"url": DATA_ABSENT, "valueCode": "masked"}]}
        else:
            entry["count"] = count
        out.append(entry)
    return out


def _score(measure: MeasureDef, cell: Cell, index: int) -> dict[str, Any] | None:
    if measure.scoring == "proportion":
        if cell.count == 0:
            return None
        return {"value": round(cell.numerator / cell.count, 4), "unit": "proportion", "system": UCUM, "code": "1"}
    if measure.scoring == "continuous-variable":
        value = cell.scores[index] if index < len(cell.scores) else None
        if value is None:
            return None
        return {"value": round(value, 2), "unit": "days", "system": UCUM, "code": "d"}
    return None


def _scored(target: dict[str, Any], measure: MeasureDef, cell: Cell, index: int, suppressed: bool) -> None:
    if suppressed:
        target["measureScore"] = {"extension": [{"url": DATA_ABSENT, "valueCode": "masked"}]}
        return
    score = _score(measure, cell, index)
    if score is not None:
        target["measureScore"] = score


async def evaluate(
    session: AsyncSession,
    measure: MeasureDef,
    period: Period,
    teams: Mapping[str, Team],
    threshold: int,
    now: datetime,
) -> dict[str, Any]:
    """The summary `MeasureReport` of a measure over a period, every stratifier included."""
    rows = cohort(measure, period, teams, dialect_of(session))
    total = (await _cells(session, measure, rows, ())).get((), Cell(0, 0, []))
    if measure.percentiles and not total.scores:
        total.scores = [None] * len(measure.percentiles)
    stratified = {name: await _cells(session, measure, rows, parts) for name, parts in measure.stratifiers.items()}
    definition = measure_resource(measure)
    groups = []
    for index, group_definition in enumerate(definition["group"]):
        group: dict[str, Any] = {"population": _populations(measure, total, False)}
        if "code" in group_definition:
            group["code"] = group_definition["code"]
        _scored(group, measure, total, index, False)
        stratifiers = []
        for name, parts in measure.stratifiers.items():
            strata = []
            for key, cell in sorted(stratified[name].items(), key=lambda item: [str(k) for k in item[0]]):
                suppressed = cell.count < threshold
                stratum: dict[str, Any] = {}
                if suppressed:
                    stratum["extension"] = [{"url": EXT_SUPPRESSED, "valueBoolean": True}]
                if len(parts) == 1:
                    stratum["value"] = _value(parts[0], key[0])
                else:
                    pairs = zip(parts, key, strict=True)
                    stratum["component"] = [{"code": {"text": p}, "value": _value(p, raw)} for p, raw in pairs]
                stratum["population"] = _populations(measure, cell, suppressed)
                _scored(stratum, measure, cell, index, suppressed)
                strata.append(stratum)
            stratifiers.append({"code": [{"text": name}], "stratum": strata})
        group["stratifier"] = stratifiers
        groups.append(group)
    return {
        "resourceType": "MeasureReport",
        "extension": [{"url": EXT_SUPPRESSION_THRESHOLD, "valueInteger": threshold}],
        "status": "complete",
        "type": "summary",
        "measure": f"{CANONICAL}/Measure/{measure.id}",
        "date": instant(now),
        "period": {"start": period.start.isoformat(), "end": period.end.isoformat()},
        "improvementNotation": definition["improvementNotation"],
        "group": groups,
    }
