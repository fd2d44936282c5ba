"""The referrals KPIs as data (requirements section 10.1), and their FHIR `Measure` resources.

Each `MeasureDef` is one KPI: what it counts, its target, the seed quote it comes from and how it
is scored. `measure_resource` renders it as an R4 `Measure`; nothing here touches the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

CANONICAL = "https://continuum.example.org/fhir"
SD = f"{CANONICAL}/StructureDefinition"
EXT_TARGET = f"{SD}/measure-target"
EXT_TARGET_VALUE = f"{SD}/measure-target-value"
EXT_METRIC = f"{SD}/measure-catalogue-metric"
SCORING = "http://terminology.hl7.org/CodeSystem/measure-scoring"
IMPROVEMENT = "http://terminology.hl7.org/CodeSystem/measure-improvement-notation"
POPULATION = "http://terminology.hl7.org/CodeSystem/measure-population"

Scoring = Literal["proportion", "continuous-variable", "cohort"]

# The breakdowns every measure offers (FR-82); `borough-age-band` is the two-way crossing.
STRATIFIERS: dict[str, tuple[str, ...]] = {
    "borough": ("borough",),
    "team": ("team",),
    "age-band": ("age-band",),
    "borough-age-band": ("borough", "age-band"),
}
STRATIFIER_TEXT = {
    "borough": "Borough of the receiving team (reference/partnership.py); 'unknown' for partnership-wide teams",
    "team": "Receiving team (Task.owner)",
    "age-band": "Age band at the period end from the person's birth date (0-17, 18-25, 26-64, 65+, unknown)",
    "reason": "Decline reason (Task.statusReason code)",
}


@dataclass(frozen=True)
class MeasureDef:
    """One KPI: its definition, target and provenance, and the cohort the evaluator counts."""

    id: str
    title: str
    metric: str
    description: str
    populations: tuple[tuple[str, str], ...]
    scoring: Scoring
    improvement: Literal["increase", "decrease"]
    target: str
    quotes: tuple[str, ...]
    requirement: str
    cohort: str
    target_value: float | None = None
    percentiles: tuple[tuple[str, float], ...] = ()
    extra_stratifiers: tuple[str, ...] = ()

    @property
    def stratifiers(self) -> dict[str, tuple[str, ...]]:
        """Every stratifier of this measure: the standard four plus its own."""
        return {**STRATIFIERS, **{name: (name,) for name in self.extra_stratifiers}}


MEASURES: tuple[MeasureDef, ...] = (
    MeasureDef(
        id="referral-to-clock-stop",
        title="Referral to clock stop: median and 90th percentile days",
        metric="M-7 (also M-2, M-4, FR-85)",
        description=(
            "Whole days from referral receipt (the clock start) to the clock stop (FR-12), for every referral "
            "whose clock stopped in the period. Group `median` scores the median, group `p90` the 90th "
            "percentile (linear interpolation, as PostgreSQL percentile_cont)."
        ),
        populations=(
            ("initial-population", "Referral Tasks whose clock stopped in the period"),
            ("measure-population", "The same referrals (every one has a start and a stop)"),
            ("measure-observation", "Whole days from clock start to clock stop, one per referral"),
        ),
        scoring="continuous-variable",
        improvement="decrease",
        target="Reduce; London baseline median 15 days to first contact for CYP (Mar 2024)",
        quotes=("003:330", "003:563", "001:589"),
        requirement="FR-85",
        cohort="clock-stopped",
        percentiles=(("median", 0.5), ("p90", 0.9)),
    ),
    MeasureDef(
        id="clock-stop-within-28-days",
        title="Clock stopped within 4 weeks (28 days) of referral",
        metric="M-1, M-3",
        description="Of the referrals whose clock stopped in the period, the share stopped within 28 days of receipt.",
        populations=(
            ("initial-population", "Referral Tasks whose clock stopped in the period"),
            ("denominator", "The same referrals"),
            ("numerator", "Those with 28 whole days or fewer from clock start to clock stop"),
        ),
        scoring="proportion",
        improvement="increase",
        target="All treated within four weeks (national target)",
        target_value=1.0,
        quotes=("000:908", "003:217", "003:239"),
        requirement="FR-85",
        cohort="clock-stopped",
    ),
    MeasureDef(
        id="waiting-104-weeks",
        title="People waiting 104 weeks or more at the period end",
        metric="M-6",
        description=(
            "Referrals still waiting at the end of the period's last day (clock started, not stopped by then) "
            "whose wait is 728 days or more."
        ),
        populations=(("initial-population", "Referral Tasks waiting at the period end for 728 days or more"),),
        scoring="cohort",
        improvement="decrease",
        target="0",
        target_value=0,
        quotes=("003:338", "003:564"),
        requirement="FR-85",
        cohort="waiting-104-weeks",
    ),
    MeasureDef(
        id="acceptance-rate",
        title="Referral acceptance rate (accepted / decided), per receiving team",
        metric="M-12",
        description=(
            "Of the referrals received in the period that have been decided, the share accepted. Accepted: the "
            "Task reached accepted-waiting (now accepted-waiting, started or closed). Decided: accepted, or "
            "declined, advice-only, signposted or redirected. Cancelled and undecided referrals are excluded."
        ),
        populations=(
            ("initial-population", "Referral Tasks received in the period and decided"),
            ("denominator", "Those decided (accepted, declined, advice-only, signposted, redirected)"),
            ("numerator", "Those accepted"),
        ),
        scoring="proportion",
        improvement="increase",
        target="Monitor variation between teams (benchmark: EIP 100% Camden and Islington)",
        quotes=("000:687", "000:840"),
        requirement="FR-86",
        cohort="decided",
    ),
    MeasureDef(
        id="decline-reasons",
        title="Declined referrals by reason",
        metric="M-12 (decline-reason distribution, FR-86)",
        description=(
            "Referrals received in the period and declined (declined, advice-only or signposted), counted by the "
            "decline reason in Task.statusReason (stratifier `reason`)."
        ),
        populations=(("initial-population", "Declined referral Tasks received in the period"),),
        scoring="cohort",
        improvement="decrease",
        target="Monitor; no rigid-criteria reasons (they are refused, FR-6)",
        quotes=("000:1303", "000:1338"),
        requirement="FR-86",
        cohort="declined",
        extra_stratifiers=("reason",),
    ),
    MeasureDef(
        id="gp-re-referral-requests",
        title="GP re-referral requests (must be 0)",
        metric="M-14",
        description=(
            "Referrals received in the period that show a GP was asked to refer between partnership teams: a "
            "Task whose decline reason is `gp-referral-requested`, or a GP-sourced referral (source `gp`) for a "
            "person with an earlier declined, advice-only, signposted or redirected referral."
        ),
        populations=(("initial-population", "Referrals received in the period that are GP re-referral requests"),),
        scoring="cohort",
        improvement="decrease",
        target="0",
        target_value=0,
        quotes=("000:1339", "000:1346"),
        requirement="FR-86",
        cohort="gp-re-referral",
    ),
    MeasureDef(
        id="waiting-with-support",
        title="Waiting referrals with interim support",
        metric="M-15 (FR-87)",
        description=(
            "Of the accepted referrals waiting at the period end (clock started, not stopped by the end of the "
            "last day), the share whose support status is interim support."
        ),
        populations=(
            ("initial-population", "Accepted referral Tasks waiting at the period end"),
            ("denominator", "The same referrals"),
            ("numerator", "Those with support status `interim-support`"),
        ),
        scoring="proportion",
        improvement="increase",
        target="Everyone waiting is supported or assessed as not needing support",
        quotes=("000:1345", "000:1622"),
        requirement="FR-87",
        cohort="waiting-list",
    ),
    MeasureDef(
        id="waiting-without-support",
        title="Waiting with neither support nor an assessment (must be 0)",
        metric="M-15",
        description=(
            "Accepted referrals waiting at the period end with neither interim support nor a clinical "
            "`assessed-no-support-needed` decision (support status missing or `none`)."
        ),
        populations=(("initial-population", "Accepted referral Tasks waiting unsupported and unassessed"),),
        scoring="cohort",
        improvement="decrease",
        target="0",
        target_value=0,
        quotes=("000:1345",),
        requirement="FR-87",
        cohort="waiting-without-support",
    ),
    MeasureDef(
        id="told-expected-wait",
        title="Waiting people told their expected wait",
        metric="M-17",
        description=(
            "Of the accepted referrals waiting at the period end, the share with a `waiting-time` Communication "
            "(expected wait and waiting-well information) sent on or before the period end."
        ),
        populations=(
            ("initial-population", "Accepted referral Tasks waiting at the period end"),
            ("denominator", "The same referrals"),
            ("numerator", "Those with a waiting-time Communication sent by the period end"),
        ),
        scoring="proportion",
        improvement="increase",
        target="All (everyone waiting is told from the outset)",
        target_value=1.0,
        quotes=("000:1622", "000:1818"),
        requirement="FR-87",
        cohort="waiting-list",
    ),
)

BY_ID = {m.id: m for m in MEASURES}


def _criteria(text: str, name: str) -> dict[str, Any]:
    return {"language": "text/plain", "expression": name, "description": text}


def _stratifier(name: str, parts: tuple[str, ...]) -> dict[str, Any]:
    if len(parts) == 1:
        text = STRATIFIER_TEXT[name]
        return {"code": {"text": name}, "description": text, "criteria": _criteria(text, name)}
    return {
        "code": {"text": name},
        "description": " × ".join(parts),
        "component": [
            {"code": {"text": p}, "description": STRATIFIER_TEXT[p], "criteria": _criteria(STRATIFIER_TEXT[p], p)}
            for p in parts
        ],
    }


def _group(measure: MeasureDef, code: str | None, description: str) -> dict[str, Any]:
    group: dict[str, Any] = {
        "description": description,
        "population": [
            {
                "code": {"coding": [{"system": POPULATION, "code": c}]},
                "description": text,
                "criteria": _criteria(text, c),
            }
            for c, text in measure.populations
        ],
        "stratifier": [_stratifier(name, parts) for name, parts in measure.stratifiers.items()],
    }
    if code:
        group["code"] = {"text": code}
    return group


def measure_resource(measure: MeasureDef) -> dict[str, Any]:
    """The KPI as an R4 `Measure` (read-only; generated from the definition)."""
    extensions: list[dict[str, Any]] = [
        {"url": EXT_TARGET, "valueString": measure.target},
        {"url": EXT_METRIC, "valueString": measure.metric},
    ]
    if measure.target_value is not None:
        extensions.append({"url": EXT_TARGET_VALUE, "valueDecimal": measure.target_value})
    if measure.percentiles:
        groups = [_group(measure, n, f"{n} ({p:g} quantile) of {measure.title}") for n, p in measure.percentiles]
    else:
        groups = [_group(measure, None, measure.title)]
    return {
        "resourceType": "Measure",
        "id": measure.id,
        "meta": {"versionId": "1"},
        "extension": extensions,
        "url": f"{CANONICAL}/Measure/{measure.id}",
        "identifier": [{"system": f"{CANONICAL}/Id/measure", "value": measure.id}],
        "version": "1",
        "name": "".join(part.capitalize() for part in measure.id.split("-")),
        "title": measure.title,
        "status": "active",
        "experimental": False,
        "date": "2026-01-05",
        "publisher": "North London Mental Health Partnership (Continuum referrals service)",
        "description": measure.description,
        "purpose": f"{measure.requirement}; catalogue {measure.metric}",
        "relatedArtifact": [
            {"type": "documentation", "label": q, "display": f"Seed quote {q} (requirements section 10.1)"}
            for q in measure.quotes
        ],
        "scoring": {"coding": [{"system": SCORING, "code": measure.scoring}]},
        "improvementNotation": {"coding": [{"system": IMPROVEMENT, "code": measure.improvement}]},
        "guidance": f"Target: {measure.target}. Periods are whole days (UTC), both ends inclusive.",
        "group": groups,
    }
