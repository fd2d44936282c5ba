"""The transition KPIs (requirements section 10.3, FR-90) and the SQL cohort each one counts.

Evaluated by the kit's measure engine over this service's own tables (FR-96). Every row belongs to
a transition case, whose borough (set when the case opens), owning team and high-risk flag are the
strata.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Integer, String, and_, case, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Subquery

from services.kit.reporting import Catalogue, MeasureDef, Period
from services.kit.reporting import evaluate as evaluate_rows
from services.transitions.domain.codes import Agreement, Experience, TaskCode
from services.transitions.persistence import tables

DIMENSIONS = {
    "borough": "Borough of the transition case (set when the case opens; 'unknown' when none)",
    "team": "Team that owns the case (the sending CYPMHS team, then the borough's Transitions team)",
    "high-risk": "Whether the case is flagged high-risk (FR-60): 'yes' or 'no'",
    "respondent": "Who gave the feedback (young-person, family-carer, referring-worker, adult-team)",
}
STRATIFIERS: dict[str, tuple[str, ...]] = {
    "borough": ("borough",),
    "team": ("team",),
    "high-risk": ("high-risk",),
    "borough-high-risk": ("borough", "high-risk"),
}

MEASURES: tuple[MeasureDef, ...] = (
    MeasureDef(
        id="transition-phase1-before-17-5",
        title="Pre-transition discussion held before 17½",
        metric="M-48",
        description=(
            "Of the transition cases whose phase-1 deadline (the day the young person turns 17½) falls in the "
            "period, the share whose pre-transition discussion took place before that day. A case with no "
            "discussion recorded is not in the numerator."
        ),
        populations=(
            ("initial-population", "Transition cases whose 17½ deadline falls in the period"),
            ("denominator", "The same cases"),
            ("numerator", "Those whose pre-transition discussion date is before the deadline"),
        ),
        scoring="proportion",
        improvement="increase",
        target="All (discussions are initiated before 17½)",
        target_value=1.0,
        quotes=("000:1847",),
        requirement="FR-90",
        cohort="phase1-due",
    ),
    MeasureDef(
        id="transition-plans-agreed",
        title="Transition plans formalised with the young person's agreement",
        metric="M-50",
        description=(
            "Of the transition plans whose young person's decision was recorded in the period (the latest "
            "decision on each plan), the share agreed: only agreement formalises a plan (FR-56)."
        ),
        populations=(
            ("initial-population", "Transition plans with the young person's latest decision recorded in the period"),
            ("denominator", "The same plans"),
            ("numerator", "Those the young person agreed (formalised)"),
        ),
        scoring="proportion",
        improvement="increase",
        target="Plans are formalised only with the young person's agreement (rule; monitor the share not agreed)",
        quotes=("000:1849",),
        requirement="FR-90",
        cohort="plans-decided",
    ),
    MeasureDef(
        id="transition-actioned-on-time",
        title="Transition plans actioned by 18 or the agreed date",
        metric="M-52",
        description=(
            "Of the transition cases whose plan was actioned in the period, the share actioned on or before the "
            "planned action date (18th birthday or the agreed alternative time)."
        ),
        populations=(
            ("initial-population", "Transition cases actioned in the period"),
            ("denominator", "The same cases"),
            ("numerator", "Those actioned by the planned date"),
        ),
        scoring="proportion",
        improvement="increase",
        target="All",
        target_value=1.0,
        quotes=("000:1850",),
        requirement="FR-90",
        cohort="actioned",
    ),
    MeasureDef(
        id="transition-overdue",
        title="Transition plans overdue at the period end",
        metric="M-52 (overdue count)",
        description=(
            "Transition cases with a formalised plan whose planned action date is before the period's last day "
            "and that had not been actioned by the end of the period (cancelled cases excluded)."
        ),
        populations=(("initial-population", "Formalised plans past their planned date and not actioned"),),
        scoring="cohort",
        improvement="decrease",
        target="0",
        target_value=0,
        quotes=("000:1850",),
        requirement="FR-90",
        cohort="overdue",
    ),
    MeasureDef(
        id="transition-feedback-positive",
        title="Transition feedback rating the experience positively",
        metric="M-54 (also M-53)",
        description=(
            "Of the transition feedback responses recorded in the period that rate the experience, the share "
            "rating it positive (stratifier `respondent`: young person, family or carer, workers)."
        ),
        populations=(
            ("initial-population", "Feedback responses recorded in the period with an experience rating"),
            ("denominator", "The same responses"),
            ("numerator", "Those rating the experience positive"),
        ),
        scoring="proportion",
        improvement="increase",
        target="All young people and their families have a good experience",
        target_value=1.0,
        quotes=("002:239", "000:499"),
        requirement="FR-90",
        cohort="feedback",
        extra_stratifiers=("respondent",),
    ),
)

CATALOGUE = Catalogue("transitions", MEASURES, DIMENSIONS, STRATIFIERS)


def cohort(measure: MeasureDef, period: Period) -> Subquery:
    """One row per case, plan or response in the measure's cohort: strata keys and numerator flag."""
    case_task, plan, qr = tables.task, tables.care_plan, tables.questionnaire_response
    lower, upper = period.lower, period.upper
    respondent: ColumnElement[Any] = literal(None, String)
    numerator: ColumnElement[bool] = literal(False)
    where: list[ColumnElement[bool]] = [case_task.c.code == TaskCode.CASE.value]
    source: Any = case_task
    if measure.cohort == "phase1-due":
        where += [case_task.c.phase1_deadline >= period.start, case_task.c.phase1_deadline <= period.end]
        numerator = and_(
            case_task.c.discussion_date.is_not(None), case_task.c.discussion_date < case_task.c.phase1_deadline
        )
    elif measure.cohort == "actioned":
        where += [case_task.c.actioned_at >= lower, case_task.c.actioned_at < upper]
        numerator = or_(case_task.c.actioned_late.is_(False), case_task.c.actioned_late.is_(None))
    elif measure.cohort == "overdue":
        where += [
            case_task.c.formalised_at < upper,
            case_task.c.planned_action_date < period.end,
            or_(case_task.c.actioned_at.is_(None), case_task.c.actioned_at >= upper),
            case_task.c.status != "cancelled",
        ]
    elif measure.cohort == "plans-decided":
        source = plan.join(case_task, plan.c.case_task == ("Task/" + case_task.c.id))
        where += [plan.c.agreement_recorded >= lower, plan.c.agreement_recorded < upper, plan.c.agreement.is_not(None)]
        numerator = plan.c.agreement == Agreement.AGREED.value
    elif measure.cohort == "feedback":
        source = qr.join(case_task, qr.c.case_task == ("Task/" + case_task.c.id))
        where += [qr.c.authored >= lower, qr.c.authored < upper, qr.c.experience.is_not(None)]
        numerator = qr.c.experience == Experience.POSITIVE.value
        respondent = func.coalesce(qr.c.respondent, "unknown")
    else:  # pragma: no cover - every definition names a known cohort
        raise ValueError(f"unknown cohort {measure.cohort!r}")
    query = (
        select(
            case_task.c.owner.label("team"),
            func.coalesce(case_task.c.borough, "unknown").label("borough"),
            case((case_task.c.high_risk.is_(True), "yes"), else_="no").label("high-risk"),
            respondent.label("respondent"),
            case((numerator, 1), else_=0).label("num"),
            literal(None, Integer).label("observation"),
        )
        .select_from(source)
        .where(*where)
    )
    return query.subquery("cohort")


async def evaluate(
    session: AsyncSession, measure: MeasureDef, period: Period, threshold: int, now: datetime
) -> dict[str, Any]:
    """The summary `MeasureReport` of a transitions measure over a period."""
    rows = cohort(measure, period)
    return await evaluate_rows(session, CATALOGUE, measure, rows, period, threshold, now)
