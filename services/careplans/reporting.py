"""The care-plans KPIs (requirements section 10.2) and the SQL cohort each one counts.

DIALOG+ use, personalised plans through DIALOG+, paired outcome measures, mean change in the two
DIALOG scores and crisis-plan coverage, evaluated by the kit's measure engine over this service's
own tables (FR-96: nothing is entered for reporting).

Who is "a defined service user" (FR-83: the cohort is configurable): the caseload itself is kept by
the referrals service, so here it is everyone with a care-plans record in the look-back window
ending at the period end (`CAREPLANS_REPORT_LOOKBACK_DAYS`, default 365): a DIALOG recorded, a care
plan of any category created, or a DIALOG+ or crisis plan still draft or active. Strata use the team
of the clinician who wrote the person's latest record (its borough from the directory), and the
person's demographics from the gateway's Patient events (`patient_facts`, FR-82, FR-84). A measure
counting referrals finds the person through the subject of the referral's latest DIALOG.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Float, and_, case, exists, func, literal, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import FromClause, Subquery

from reference.partnership import Directory
from services.careplans.domain.codes import DIALOG_URL, Category, PlanStatus, Scale, Timepoint
from services.careplans.persistence import tables
from services.kit.reporting import (
    DEMOGRAPHIC_DIMENSIONS,
    Catalogue,
    MeasureDef,
    Period,
    age_band,
    deprivation_quintile,
    dialect_of,
    ethnic_group,
    json_number,
    json_text,
    sex_of,
    team_borough,
)
from services.kit.reporting import evaluate as evaluate_rows

# The person of a unit is the person counted, or the subject of a counted referral's latest DIALOG;
# demographics are those of the latest Patient event about them ('unknown' before any arrives).
DIMENSIONS = {
    "borough": "Borough of the team of the clinician who wrote the latest record ('unknown' when none)",
    "team": "Team of the clinician who wrote the latest record (PractitionerRole.healthcareService)",
    **DEMOGRAPHIC_DIMENSIONS,
}
# FR-84: the borough and demographic breakdowns are in every report; `ethnicity-sex` is a crossing.
STRATIFIERS: dict[str, tuple[str, ...]] = {
    "borough": ("borough",),
    "team": ("team",),
    "age-band": ("age-band",),
    "ethnicity": ("ethnicity",),
    "sex": ("sex",),
    "deprivation-quintile": ("deprivation-quintile",),
    "ethnicity-sex": ("ethnicity", "sex"),
}

_COHORT = "People with a care-plans record in the look-back window ending at the period end (default 365 days)"
_SCORE_CHANGE = (
    "Of the referrals with a follow-up {scale} score recorded in the period, the mean change from the referral's "
    "baseline score to its latest follow-up score by the period end (a positive change is an improvement)."
)

MEASURES: tuple[MeasureDef, ...] = (
    MeasureDef(
        id="dialog-plus-use",
        title="Defined service users with a DIALOG+ session in the look-back window",
        metric="M-31",
        description=(
            "Of the defined service users (people with a care-plans record in the look-back window ending at the "
            "period end: a DIALOG recorded, a care plan created, or a DIALOG+ or crisis plan draft or active), the "
            "share with at least one DIALOG+ session held in that window."
        ),
        populations=(
            ("initial-population", _COHORT),
            ("denominator", "The same people"),
            ("numerator", "Those with a DIALOG+ session held in the window"),
        ),
        scoring="proportion",
        improvement="increase",
        target="80% of defined service users",
        target_value=0.8,
        quotes=("001:588",),
        requirement="FR-83",
        cohort="service-users",
    ),
    MeasureDef(
        id="personalised-plan-dialog-plus",
        title="Defined service users with an active personalised plan through DIALOG+",
        metric="M-32",
        description=(
            "Of the defined service users, the share with an active co-produced DIALOG+ plan (category "
            "dialog-plus-personalised-plan, status active, created by the period end), by borough."
        ),
        populations=(
            ("initial-population", _COHORT),
            ("denominator", "The same people"),
            ("numerator", "Those with an active DIALOG+ personalised plan"),
        ),
        scoring="proportion",
        improvement="increase",
        target="60% of defined service users",
        target_value=0.6,
        quotes=("001:629",),
        requirement="FR-84",
        cohort="service-users",
    ),
    MeasureDef(
        id="paired-outcome-measures",
        title="Referrals with paired outcome measures (DIALOG recorded at least twice)",
        metric="M-33 (also M-34, FR-91)",
        description=(
            "Of the referrals with a DIALOG recorded in the period (QuestionnaireResponse basedOn the "
            "ServiceRequest), the share with at least two DIALOGs recorded by the period end (a baseline and a "
            "follow-up: paired)."
        ),
        populations=(
            ("initial-population", "Referrals with a DIALOG recorded in the period"),
            ("denominator", "The same referrals"),
            ("numerator", "Those with two or more DIALOGs recorded by the period end"),
        ),
        scoring="proportion",
        improvement="increase",
        target="Increase (London baseline 32% of MHSDS activity)",
        quotes=("003:570", "003:430"),
        requirement="FR-88",
        cohort="referrals-assessed",
    ),
    MeasureDef(
        id="sqol-change",
        title="Mean change in DIALOG subjective quality of life, baseline to latest",
        metric="M-36",
        description=_SCORE_CHANGE.format(scale="SQOL"),
        populations=(
            ("initial-population", "Referrals with a follow-up SQOL score recorded in the period and a baseline"),
            ("measure-population", "The same referrals"),
            ("measure-observation", "Latest follow-up SQOL by the period end minus the baseline SQOL"),
        ),
        scoring="continuous-variable",
        improvement="increase",
        target="Improve",
        quotes=("000:1103", "003:317"),
        requirement="FR-88",
        cohort="score-change:sqol",
        mean=True,
        unit=("score", "{score}"),
    ),
    MeasureDef(
        id="treatment-satisfaction-change",
        title="Mean change in DIALOG treatment satisfaction, baseline to latest",
        metric="M-37",
        description=_SCORE_CHANGE.format(scale="treatment-satisfaction"),
        populations=(
            (
                "initial-population",
                "Referrals with a follow-up treatment-satisfaction score recorded in the period and a baseline",
            ),
            ("measure-population", "The same referrals"),
            ("measure-observation", "Latest follow-up score by the period end minus the baseline score"),
        ),
        scoring="continuous-variable",
        improvement="increase",
        target="Improve",
        quotes=("000:275",),
        requirement="FR-88",
        cohort="score-change:treatment-satisfaction",
        mean=True,
        unit=("score", "{score}"),
    ),
    MeasureDef(
        id="crisis-plan-coverage",
        title="People with an open episode and a current crisis plan",
        metric="M-39",
        description=(
            "Of the people with an open episode known to care plans at the period end (a DIALOG+ plan, draft or "
            "active, created by then), the share with a current (active) crisis plan created by then."
        ),
        populations=(
            ("initial-population", "People with a draft or active DIALOG+ plan created by the period end"),
            ("denominator", "The same people"),
            ("numerator", "Those with an active crisis plan created by the period end"),
        ),
        scoring="proportion",
        improvement="increase",
        target="All (NWL ambition)",
        target_value=1.0,
        quotes=("004:15",),
        requirement="FR-89",
        cohort="open-episodes",
    ),
)

CATALOGUE = Catalogue("care plans", MEASURES, DIMENSIONS, STRATIFIERS)

LIVING = (PlanStatus.DRAFT.value, PlanStatus.ACTIVE.value)
RECORDED = ("completed", "amended")


def _team(role: ColumnElement[Any], directory: Directory) -> ColumnElement[str]:
    mapping = {f"PractitionerRole/{r.id}": f"HealthcareService/{r.team}" for r in directory.roles.values()}
    return case(mapping, value=role, else_="unknown")


def _boroughs(directory: Directory) -> Mapping[str, str]:
    return {f"HealthcareService/{t.id}": t.borough.value for t in directory.teams.values() if t.borough is not None}


def _demographics(
    source: FromClause, person: ColumnElement[Any], on: date
) -> tuple[FromClause, list[ColumnElement[Any]]]:
    """`source` outer-joined to the facts of `person` (a Patient reference), and the strata read from them."""
    pf = tables.patient_facts
    return source.outerjoin(pf, person == ("Patient/" + pf.c.id)), [
        age_band(pf.c.birth_date, on).label("age-band"),
        ethnic_group(pf.c.ethnic_category).label("ethnicity"),
        sex_of(pf.c.sex).label("sex"),
        deprivation_quintile(pf.c.deprivation_decile).label("deprivation-quintile"),
    ]


def _latest(keys: Subquery, key: str, directory: Directory) -> Subquery:
    """One row per unit: its key, and the team of the clinician and the person of its latest record."""
    ranked = select(
        keys.c[key].label("unit"),
        _team(keys.c.author, directory).label("team"),
        keys.c.person,
        # Ties at the same instant prefer a record with an author, then the lowest (same on both engines).
        func.row_number()
        .over(
            partition_by=keys.c[key],
            order_by=(keys.c.at.desc(), case((keys.c.author.is_(None), 1), else_=0), keys.c.author),
        )
        .label("rank"),
    ).subquery("ranked")
    return select(ranked.c.unit, ranked.c.team, ranked.c.person).where(ranked.c.rank == 1).subquery("units")


def cohort(measure: MeasureDef, period: Period, directory: Directory, lookback_days: int, dialect: str) -> Subquery:
    """One row per person or referral in the measure's cohort: strata keys, numerator flag, observation."""
    qr, cp, ob, dps = tables.questionnaire_response, tables.care_plan, tables.observation, tables.dialog_plus_session
    lower, upper = period.lower, period.upper
    since = upper - timedelta(days=lookback_days)
    qr_author = json_text(qr.c.resource, ("author", "reference"), dialect)
    dialog = and_(qr.c.questionnaire == DIALOG_URL, qr.c.status.in_(RECORDED))
    numerator: ColumnElement[bool] = literal(False)
    observation: ColumnElement[Any] = literal(None, Float)
    if measure.cohort == "service-users":
        records = union_all(
            select(
                qr.c.subject, qr_author.label("author"), qr.c.authored.label("at"), qr.c.subject.label("person")
            ).where(dialog, qr.c.authored >= since, qr.c.authored < upper),
            select(cp.c.subject, cp.c.author, cp.c.created.label("at"), cp.c.subject.label("person")).where(
                cp.c.created < upper,
                or_(
                    cp.c.created >= since,
                    and_(
                        cp.c.category.in_((Category.DIALOG_PLUS.value, Category.CRISIS.value)), cp.c.status.in_(LIVING)
                    ),
                ),
            ),
        ).subquery("records")
        units = _latest(records, "subject", directory)
        if measure.id == "dialog-plus-use":
            numerator = exists(
                select(dps.c.id).where(dps.c.subject == units.c.unit, dps.c.held_at >= since, dps.c.held_at < upper)
            )
        else:
            numerator = exists(
                select(cp.c.id).where(
                    cp.c.subject == units.c.unit,
                    cp.c.category == Category.DIALOG_PLUS.value,
                    cp.c.status == PlanStatus.ACTIVE.value,
                    cp.c.created < upper,
                )
            )
    elif measure.cohort == "open-episodes":
        plans = (
            select(cp.c.subject, cp.c.author, cp.c.created.label("at"), cp.c.subject.label("person"))
            .where(cp.c.category == Category.DIALOG_PLUS.value, cp.c.status.in_(LIVING), cp.c.created < upper)
            .subquery("plans")
        )
        units = _latest(plans, "subject", directory)
        numerator = exists(
            select(cp.c.id).where(
                cp.c.subject == units.c.unit,
                cp.c.category == Category.CRISIS.value,
                cp.c.status == PlanStatus.ACTIVE.value,
                cp.c.created < upper,
            )
        )
    elif measure.cohort == "referrals-assessed":
        assessed = (
            select(qr.c.based_on, qr_author.label("author"), qr.c.authored.label("at"), qr.c.subject.label("person"))
            .where(dialog, qr.c.based_on.is_not(None), qr.c.authored < upper)
            .subquery("assessed")
        )
        units = _latest(assessed, "based_on", directory)
        in_period = exists(
            select(qr.c.id).where(dialog, qr.c.based_on == units.c.unit, qr.c.authored >= lower, qr.c.authored < upper)
        )
        recorded = (
            select(func.count()).where(dialog, qr.c.based_on == units.c.unit, qr.c.authored < upper).scalar_subquery()
        )
        numerator = recorded >= 2
        return _rows(units, directory, period, numerator, observation, in_period)
    elif measure.cohort.startswith("score-change:"):
        scale = Scale(measure.cohort.split(":", 1)[1]).value
        value = json_number(ob.c.resource, ("valueQuantity", "value"), dialect)
        scored = and_(ob.c.code == scale, value.is_not(None), ob.c.based_on.is_not(None), ob.c.effective < upper)
        follow_ups = (
            select(ob.c.based_on, ob.c.derived_from.label("response"), ob.c.effective.label("at"))
            .where(scored, ob.c.timepoint == Timepoint.FOLLOW_UP.value)
            .subquery("follow_ups")
        )
        ranked = select(
            follow_ups.c.based_on.label("unit"),
            follow_ups.c.response,
            func.row_number()
            .over(partition_by=follow_ups.c.based_on, order_by=(follow_ups.c.at.desc(), follow_ups.c.response.desc()))
            .label("rank"),
        ).subquery("ranked")
        latest = select(ranked.c.unit, ranked.c.response).where(ranked.c.rank == 1).subquery("latest")
        later, base = ob.alias("later"), ob.alias("base")
        later_value = json_number(later.c.resource, ("valueQuantity", "value"), dialect)
        base_value = json_number(base.c.resource, ("valueQuantity", "value"), dialect)
        latest_value = (
            select(later_value)
            .where(later.c.derived_from == latest.c.response, later.c.code == scale)
            .limit(1)
            .scalar_subquery()
        )
        baseline_value = (
            select(base_value)
            .where(
                base.c.based_on == latest.c.unit,
                base.c.code == scale,
                base.c.timepoint == Timepoint.BASELINE.value,
                base_value.is_not(None),
            )
            .limit(1)
            .scalar_subquery()
        )
        response_author = json_text(qr.c.resource, ("author", "reference"), dialect)
        author = (
            select(response_author).where(("QuestionnaireResponse/" + qr.c.id) == latest.c.response).scalar_subquery()
        )
        reported = and_(
            exists(
                select(ob.c.id).where(
                    scored,
                    ob.c.based_on == latest.c.unit,
                    ob.c.timepoint == Timepoint.FOLLOW_UP.value,
                    ob.c.effective >= lower,
                )
            ),
            baseline_value.is_not(None),
        )
        team = _team(author, directory)
        response = qr.alias("response")
        responses = latest.outerjoin(response, ("QuestionnaireResponse/" + response.c.id) == latest.c.response)
        source, strata = _demographics(responses, response.c.subject, period.end)
        query = (
            select(
                team.label("team"),
                team_borough(team, _boroughs(directory)).label("borough"),
                *strata,
                literal(0).label("num"),
                (latest_value - baseline_value).label("observation"),
            )
            .select_from(source)
            .where(reported)
        )
        return query.subquery("cohort")
    else:  # pragma: no cover - every definition names a known cohort
        raise ValueError(f"unknown cohort {measure.cohort!r}")
    return _rows(units, directory, period, numerator, observation, None)


def _rows(
    units: Subquery,
    directory: Directory,
    period: Period,
    numerator: ColumnElement[bool],
    observation: ColumnElement[Any],
    where: ColumnElement[bool] | None,
) -> Subquery:
    source, strata = _demographics(units, units.c.person, period.end)
    query = select(
        units.c.team.label("team"),
        team_borough(units.c.team, _boroughs(directory)).label("borough"),
        *strata,
        case((numerator, 1), else_=0).label("num"),
        observation.label("observation"),
    ).select_from(source)
    if where is not None:
        query = query.where(where)
    return query.subquery("cohort")


async def evaluate(
    session: AsyncSession,
    measure: MeasureDef,
    period: Period,
    directory: Directory,
    lookback_days: int,
    threshold: int,
    now: datetime,
) -> dict[str, Any]:
    """The summary `MeasureReport` of a care-plans measure over a period."""
    rows = cohort(measure, period, directory, lookback_days, dialect_of(session))
    return await evaluate_rows(session, CATALOGUE, measure, rows, period, threshold, now)
