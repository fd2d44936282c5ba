"""The referrals KPIs as data (requirements section 10.1), for the kit's measure engine.

Each `MeasureDef` is one KPI: what it counts, its target, the seed quote it comes from and how it
is scored; `reporting/evaluate.py` builds the SQL cohort it counts. Nothing here touches the database.
"""

from __future__ import annotations

from services.kit.reporting import DEMOGRAPHIC_DIMENSIONS, Catalogue, MeasureDef

# Every dimension a referral measure can be broken down by (FR-82).
DIMENSIONS = {
    "borough": "Borough of the receiving team (reference/partnership.py); 'unknown' for partnership-wide teams",
    "team": "Receiving team (Task.owner)",
    **DEMOGRAPHIC_DIMENSIONS,
    "reason": "Decline reason (Task.statusReason code)",
}

# The breakdowns every measure offers; `borough-age-band` and `ethnicity-sex` are two-way crossings.
STRATIFIERS: dict[str, tuple[str, ...]] = {
    "borough": ("borough",),
    "team": ("team",),
    "age-band": ("age-band",),
    "ethnicity": ("ethnicity",),
    "sex": ("sex",),
    "deprivation-quintile": ("deprivation-quintile",),
    "borough-age-band": ("borough", "age-band"),
    "ethnicity-sex": ("ethnicity", "sex"),
}

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
    MeasureDef(
        id="referral-to-first-contact",
        title="Referral to first contact: median and 90th percentile days",
        metric="M-4, M-7",
        description=(
            "Whole days from referral receipt (the clock start) to the first contact where the person was seen "
            "(a finished Encounter in a seen mode, the clock's contact proxy), for every accepted referral whose "
            "first contact was in the period. Groups `median` and `p90`."
        ),
        populations=(
            ("initial-population", "Accepted referral Tasks whose first contact was in the period"),
            ("measure-population", "The same referrals"),
            ("measure-observation", "Whole days from clock start to the first contact, one per referral"),
        ),
        scoring="continuous-variable",
        improvement="decrease",
        target="Reduce; London baseline median 15 days for CYP (Mar 2024)",
        quotes=("003:563", "003:231", "003:330"),
        requirement="FR-85",
        cohort="first-contact",
        percentiles=(("median", 0.5), ("p90", 0.9)),
    ),
    MeasureDef(
        id="referral-to-second-contact",
        title="Referral to second contact: median and 90th percentile days",
        metric="M-7 (2+ contacts, adults)",
        description=(
            "Whole days from referral receipt to the second contact where the person was seen, for every "
            "accepted referral whose second contact was in the period. Groups `median` and `p90`."
        ),
        populations=(
            ("initial-population", "Accepted referral Tasks whose second contact was in the period"),
            ("measure-population", "The same referrals"),
            ("measure-observation", "Whole days from clock start to the second contact, one per referral"),
        ),
        scoring="continuous-variable",
        improvement="decrease",
        target="Reduce",
        quotes=("003:330",),
        requirement="FR-85",
        cohort="second-contact",
        percentiles=(("median", 0.5), ("p90", 0.9)),
    ),
    MeasureDef(
        id="open-referral-wait",
        title="Open referrals without a second contact: median wait at the period end",
        metric="M-5",
        description=(
            "Accepted referrals still open at the end of the period (accepted-waiting or started, clock started "
            "before the end) that had not had a second contact by then; the observation is the whole days from "
            "the clock start to the end of the period's last day. Groups `median` and `p90`."
        ),
        populations=(
            ("initial-population", "Open accepted referral Tasks with fewer than two contacts at the period end"),
            ("measure-population", "The same referrals"),
            ("measure-observation", "Whole days waited at the period end"),
        ),
        scoring="continuous-variable",
        improvement="decrease",
        target="Reduce; London baseline median 98 days (Dec 2024)",
        quotes=("003:302", "003:304"),
        requirement="FR-85",
        cohort="open-without-second-contact",
        percentiles=(("median", 0.5), ("p90", 0.9)),
    ),
    MeasureDef(
        id="redirect-rate",
        title="Referrals redirected to another team (hand-offs)",
        metric="M-21 (redirects, FR-86)",
        description=(
            "Of the referrals received in the period that have been decided, the share redirected to another "
            "team instead of being accepted or declined."
        ),
        populations=(
            ("initial-population", "Referral Tasks received in the period and decided"),
            ("denominator", "Those decided (accepted, declined, advice-only, signposted, redirected)"),
            ("numerator", "Those redirected"),
        ),
        scoring="proportion",
        improvement="decrease",
        target="Reduce hand-offs",
        quotes=("002:154",),
        requirement="FR-86",
        cohort="decided",
    ),
    MeasureDef(
        id="time-to-decision",
        title="Time from referral to acceptance decision: median and 90th percentile days",
        metric="M-13",
        description=(
            "Days (with their fraction) from referral receipt to the acceptance decision (the first stored "
            "version of the referral Task in a decided state: accepted, declined, advice-only, signposted or "
            "redirected), for referrals decided in the period. Groups `median` and `p90`."
        ),
        populations=(
            ("initial-population", "Referral Tasks decided in the period"),
            ("measure-population", "The same referrals"),
            ("measure-observation", "Days from receipt to the decision"),
        ),
        scoring="continuous-variable",
        improvement="decrease",
        target="Timely (no number); the decision SLA is 5 working days by default",
        quotes=("000:1340",),
        requirement="FR-86",
        cohort="decision-time",
        percentiles=(("median", 0.5), ("p90", 0.9)),
    ),
    MeasureDef(
        id="escalations",
        title="Escalations of undecided referrals",
        metric="M-13",
        description=(
            "Escalation Tasks (acceptance-decision-escalation) raised in the period, automatic or manual, each "
            "stratified by its referral's receiving team and person."
        ),
        populations=(("initial-population", "Escalation Tasks raised in the period"),),
        scoring="cohort",
        improvement="decrease",
        target="Timely escalation; fewer undecided referrals",
        quotes=("000:1340",),
        requirement="FR-86",
        cohort="escalated",
    ),
    MeasureDef(
        id="escalation-resolution-time",
        title="Time to resolve an escalation: median and 90th percentile days",
        metric="M-13",
        description=(
            "Days (with their fraction) from an escalation being raised to its resolution (the referral decided, "
            "which completes its escalations), for escalations resolved in the period. Groups `median` and `p90`."
        ),
        populations=(
            ("initial-population", "Escalation Tasks completed in the period"),
            ("measure-population", "The same escalations"),
            ("measure-observation", "Days from raised to completed"),
        ),
        scoring="continuous-variable",
        improvement="decrease",
        target="Timely (no number)",
        quotes=("000:1340",),
        requirement="FR-86",
        cohort="escalation-resolved",
        percentiles=(("median", 0.5), ("p90", 0.9)),
    ),
    MeasureDef(
        id="ethnicity-recorded",
        title="Referred people whose ethnicity is recorded (declared, or asked and declined)",
        metric="FR-91 (data quality: completeness of a protected characteristic)",
        description=(
            "Of the referrals received in the period, the share whose person has an NHS ethnic category "
            "recorded. 'Z' (not stated: the person was asked and declined) counts as recorded; missing is no "
            "category at all (FR-78). The ethnicity stratifier keeps 'not-stated' and 'unknown' apart."
        ),
        populations=(
            ("initial-population", "Referral Tasks received in the period"),
            ("denominator", "The same referrals"),
            ("numerator", "Those whose person has an ethnic category recorded, 'not stated' included"),
        ),
        scoring="proportion",
        improvement="increase",
        target="All: every person's ethnicity declared or declined, never missing",
        target_value=1.0,
        quotes=("003:572",),
        requirement="FR-91",
        cohort="received",
    ),
    MeasureDef(
        id="sex-recorded",
        title="Referred people whose sex is recorded",
        metric="FR-91 (data quality: completeness of a protected characteristic)",
        description=(
            "Of the referrals received in the period, the share whose person has an administrative gender "
            "recorded; FHIR's `unknown` (asked, not known or not given) counts as recorded, missing is no gender "
            "at all (FR-78)."
        ),
        populations=(
            ("initial-population", "Referral Tasks received in the period"),
            ("denominator", "The same referrals"),
            ("numerator", "Those whose person has an administrative gender recorded"),
        ),
        scoring="proportion",
        improvement="increase",
        target="All: every person's sex recorded, never missing",
        target_value=1.0,
        quotes=("003:572",),
        requirement="FR-91",
        cohort="received",
    ),
    MeasureDef(
        id="birth-date-recorded",
        title="Referred people whose date of birth (and so age) is recorded",
        metric="FR-91 (data quality: completeness of a protected characteristic)",
        description=(
            "Of the referrals received in the period, the share whose person has a date of birth recorded, "
            "without which no age band can be reported (FR-78)."
        ),
        populations=(
            ("initial-population", "Referral Tasks received in the period"),
            ("denominator", "The same referrals"),
            ("numerator", "Those whose person has a date of birth recorded"),
        ),
        scoring="proportion",
        improvement="increase",
        target="All: every person's date of birth recorded",
        target_value=1.0,
        quotes=("003:572",),
        requirement="FR-91",
        cohort="received",
    ),
)

CATALOGUE = Catalogue("referrals", MEASURES, DIMENSIONS, STRATIFIERS)
