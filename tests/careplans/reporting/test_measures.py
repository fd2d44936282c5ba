"""Care-plans Measures against fixture data with hand-computed expected values (FR-83, FR-84, FR-88, FR-89).

Every expected number below was worked out by hand from the fixture rows, not by the code under test.
Period: November 2025; the look-back window is the 365 days before 1 December 2025, so it starts at
2024-12-01T00:00:00Z.
"""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from services.kit.resources import validate
from services.kit.testing import assert_outcome
from tests.careplans.builders import active_plan, create_plan, crisis_plan
from tests.careplans.events import tell
from tests.careplans.reporting.rows import CAMDEN_WORKER, Rows, report
from tests.referrals.reporting.rows import population, score, strata

DIALOG_PLUS = "dialog-plus-personalised-plan"
NOVEMBER = ("2025-11-01", "2025-11-30")


async def test_the_care_plans_measures_are_valid_r4_measures(client: httpx.AsyncClient) -> None:
    bundle = (await client.get("/fhir/Measure")).json()
    ids = [e["resource"]["id"] for e in bundle["entry"]]
    assert ids == sorted(
        [
            "crisis-plan-coverage",
            "dialog-plus-use",
            "paired-outcome-measures",
            "personalised-plan-dialog-plus",
            "sqol-change",
            "treatment-satisfaction-change",
        ]
    )
    assert bundle["total"] == 6
    for entry in bundle["entry"]:
        assert validate(entry["resource"], "Measure")
    use = (await client.get("/fhir/Measure/dialog-plus-use")).json()
    target = next(e for e in use["extension"] if e["url"].endswith("measure-target-value"))
    assert target["valueDecimal"] == 0.8
    assert [a["label"] for a in use["relatedArtifact"]] == ["001:588"]
    plans = (await client.get("/fhir/Measure/personalised-plan-dialog-plus")).json()
    assert [s["code"]["text"] for s in plans["group"][0]["stratifier"]] == [
        "borough",
        "team",
        "age-band",
        "ethnicity",
        "sex",
        "deprivation-quintile",
        "ethnicity-sex",
    ]
    crossing = plans["group"][0]["stratifier"][-1]
    assert [c["code"]["text"] for c in crossing["component"]] == ["ethnicity", "sex"]
    paged = (await client.get("/fhir/Measure", params={"_count": "2", "_offset": "2"})).json()
    assert [e["resource"]["id"] for e in paged["entry"]] == ids[2:4]
    assert paged["total"] == 6
    assert_outcome(await client.get("/fhir/Measure/dialog-plus-use/$evaluate-measure"), 400, expression="periodStart")
    assert_outcome(await client.get("/fhir/Measure", params={"name": "x"}), 400, expression="name")
    assert_outcome(await client.get("/fhir/Measure", params={"_count": "many"}), 400, expression="_count")
    assert_outcome(await client.get("/fhir/Measure/acceptance-rate"), 404)


async def _service_users(app: FastAPI) -> None:
    rows = Rows()
    rows.plan("u1", DIALOG_PLUS, "active", "2025-06-01T10:00:00").session("u1", "2025-06-01T10:00:00")
    rows.plan("u2", DIALOG_PLUS, "active", "2025-03-01T10:00:00").session("u2", "2025-03-01T10:00:00")
    rows.plan("u3", DIALOG_PLUS, "draft", "2025-10-01T10:00:00").session("u3", "2025-10-01T10:00:00")
    rows.plan("u4", "crisis", "active", "2024-06-01T10:00:00")  # living crisis plan: in the cohort
    rows.dialog("u5", "2025-11-10T10:00:00")  # a DIALOG only: in the cohort, no session
    # A living plan from before the window; its last session a second before the window opens.
    rows.plan("u6", DIALOG_PLUS, "active", "2024-01-01T10:00:00").session("u6", "2024-11-30T23:59:59")
    rows.plan("u7", "waiting-support", "active", "2024-11-30T10:00:00")  # before the window: out
    rows.dialog("u8", "2025-12-01T00:00:00")  # after the period end: out
    # Camden: the latest record is a Camden plan, after an earlier Barnet DIALOG.
    rows.dialog("u9", "2025-04-01T10:00:00")
    rows.plan("u9", DIALOG_PLUS, "active", "2025-05-01T10:00:00", author=CAMDEN_WORKER)
    rows.session("u9", "2025-05-01T10:00:00")
    rows.plan("u10", "waiting-support", "completed", "2025-01-15T10:00:00")  # created in the window
    rows.plan("u11", DIALOG_PLUS, "completed", "2025-02-01T10:00:00").session("u11", "2025-02-01T10:00:00")
    rows.dialog("u12", "2024-11-30T23:59:59")  # a second before the window: out
    # Crisis plans: u1 and u2 current by the end; u3's is after the end; u6's was superseded long ago.
    rows.plan("u1", "crisis", "active", "2025-07-01T10:00:00")
    rows.plan("u2", "crisis", "active", "2025-11-30T23:00:00")
    rows.plan("u3", "crisis", "active", "2025-12-02T10:00:00")
    rows.plan("u6", "crisis", "revoked", "2023-01-01T10:00:00")
    await rows.insert(app)


async def test_dialog_plus_use_counts_sessions_in_the_look_back_window(app: FastAPI, client: httpx.AsyncClient) -> None:
    await _service_users(app)
    body = await report(client, "dialog-plus-use", *NOVEMBER)
    assert validate(body, "MeasureReport")
    group = body["group"][0]
    # Cohort: u1 u2 u3 u4 u5 u6 u9 u10 u11 (9); sessions in the window: u1 u2 u3 u9 u11 (5).
    assert (population(group, "denominator"), population(group, "numerator")) == (9, 5)
    assert score(group) == 0.5556
    boroughs = strata(body, "borough")
    assert (population(boroughs["barnet"], "denominator"), population(boroughs["barnet"], "numerator")) == (8, 4)
    assert score(boroughs["barnet"]) == 0.5
    assert population(boroughs["camden"], "denominator") is None  # u9 alone: suppressed
    assert set(strata(body, "team")) == {"barnet-core-north", "camden-core-north"}


async def test_personalised_plans_count_active_dialog_plus_plans_by_borough(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await _service_users(app)
    body = await report(client, "personalised-plan-dialog-plus", *NOVEMBER)
    group = body["group"][0]
    # Active DIALOG+ plans: u1 u2 u6 u9 of the nine (u3 is a draft, u11 completed).
    assert (population(group, "denominator"), population(group, "numerator")) == (9, 4)
    assert score(group) == 0.4444
    barnet = strata(body, "borough")["barnet"]
    assert (population(barnet, "denominator"), population(barnet, "numerator"), score(barnet)) == (8, 3, 0.375)


async def test_a_shorter_look_back_window_is_configurable(app: FastAPI, client: httpx.AsyncClient) -> None:
    await _service_users(app)
    app.state.settings = app.state.settings.model_copy(update={"report_lookback_days": 61})
    group = (await report(client, "dialog-plus-use", *NOVEMBER))["group"][0]
    # From 2025-10-01: living plans u1 u2 u3 u4 u6 u9, u5's DIALOG; sessions: u3 only.
    assert (population(group, "denominator"), population(group, "numerator")) == (7, 1)


async def test_crisis_plan_coverage_is_over_people_with_an_open_episode(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await _service_users(app)
    body = await report(client, "crisis-plan-coverage", *NOVEMBER)
    group = body["group"][0]
    # Open episodes (draft or active DIALOG+ plans by the end): u1 u2 u3 u6 u9; current crisis plans: u1 u2.
    assert (population(group, "denominator"), population(group, "numerator"), score(group)) == (5, 2, 0.4)


async def _paired(app: FastAPI) -> None:
    rows = Rows()
    rows.dialog("p1", "2025-09-01T10:00:00", "r1").dialog("p1", "2025-11-05T10:00:00", "r1")  # paired
    rows.dialog("p2", "2025-11-10T10:00:00", "r2")  # one
    rows.dialog("p3", "2025-11-20T10:00:00", "r3").dialog("p3", "2025-12-05T10:00:00", "r3")  # second after the end
    rows.dialog("p4", "2025-08-01T10:00:00", "r4").dialog("p4", "2025-09-01T10:00:00", "r4")  # none in November
    rows.dialog("p5", "2025-11-01T00:00:00", "r5").dialog("p5", "2025-11-30T23:59:59", "r5")  # paired, both ends
    rows.dialog("p6", "2025-11-12T10:00:00")  # no referral
    await rows.insert(app)


async def test_paired_outcome_measures_need_two_dialogs_by_the_period_end(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await _paired(app)
    body = await report(client, "paired-outcome-measures", *NOVEMBER)
    group = body["group"][0]
    assert (population(group, "denominator"), population(group, "numerator"), score(group)) == (4, 2, 0.5)
    assert population(strata(body, "team")["barnet-core-north"], "denominator") is None  # 4: suppressed
    december = (await report(client, "paired-outcome-measures", "2025-12-01", "2025-12-31"))["group"][0]
    assert (population(december, "denominator"), population(december, "numerator")) == (1, 1)  # r3, now paired


async def _scores(app: FastAPI) -> None:
    rows = Rows()
    base = "baseline"
    rows.dialog("p1", "2025-09-01T10:00:00", "r1", scores={"sqol": 3.5, "treatment-satisfaction": 5.0}, timepoint=base)
    rows.dialog("p1", "2025-11-05T10:00:00", "r1", scores={"sqol": 4.25, "treatment-satisfaction": 4.5})  # +0.75
    rows.dialog("p5", "2025-11-01T00:00:00", "r5", scores={"sqol": 4.0}, timepoint=base)
    rows.dialog("p5", "2025-11-30T23:59:59", "r5", scores={"sqol": 3.5})  # -0.5
    rows.dialog("p7", "2025-06-01T10:00:00", "r7", scores={"sqol": 2.0}, timepoint=base)
    rows.dialog("p7", "2025-10-01T10:00:00", "r7", scores={"sqol": 3.0})
    rows.dialog("p7", "2025-11-10T10:00:00", "r7", scores={"sqol": 5.0})  # latest by the end: +3
    rows.dialog("p7", "2025-12-03T10:00:00", "r7", scores={"sqol": 6.0})  # after the end
    rows.dialog("p8", "2025-09-01T10:00:00", "r8", scores={"sqol": None}, timepoint=base)  # no baseline score
    rows.dialog("p8", "2025-11-10T10:00:00", "r8", scores={"sqol": 4.0})
    rows.dialog("p9", "2025-09-01T10:00:00", "r9", scores={"sqol": 3.0}, timepoint=base)
    rows.dialog("p9", "2025-10-15T10:00:00", "r9", scores={"sqol": 4.0})  # follow-up before November
    await rows.insert(app)


async def test_mean_change_is_latest_follow_up_by_the_end_minus_baseline(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await _scores(app)
    body = await report(client, "sqol-change", *NOVEMBER)
    assert validate(body, "MeasureReport")
    (group,) = body["group"]
    assert group["code"]["text"] == "mean"
    assert population(group, "initial-population") == 3  # r1 r5 r7
    assert group["measureScore"] == {
        "value": 1.08,  # (0.75 - 0.5 + 3) / 3 = 1.0833
        "unit": "score",
        "system": "http://unitsofmeasure.org",
        "code": "{score}",
    }
    satisfaction = (await report(client, "treatment-satisfaction-change", *NOVEMBER))["group"][0]
    assert (population(satisfaction, "initial-population"), score(satisfaction)) == (1, -0.5)
    empty = (await report(client, "sqol-change", "2025-01-01", "2025-01-31"))["group"][0]
    assert population(empty, "initial-population") == 0
    assert "measureScore" not in empty


@pytest.mark.parametrize("threshold", [0])
async def test_sessions_through_the_api_count_as_dialog_plus_use(
    app: FastAPI, client: httpx.AsyncClient, threshold: int
) -> None:
    app.state.settings = app.state.settings.model_copy(update={"report_small_cell_threshold": threshold})
    await active_plan(client)  # a DIALOG+ session on 5 January 2026 (the test clock), then activated
    crisis = await create_plan(client, crisis_plan())
    assert crisis["status"] == "draft"
    period = ("2026-01-01", "2026-01-05")
    use = await report(client, "dialog-plus-use", *period)
    assert (population(use["group"][0], "denominator"), score(use["group"][0])) == (1, 1.0)
    assert score(strata(use, "borough")["barnet"]) == 1.0  # threshold 0: nothing suppressed
    plans = await report(client, "personalised-plan-dialog-plus", *period)
    assert score(plans["group"][0]) == 1.0
    coverage = await report(client, "crisis-plan-coverage", *period)
    assert (population(coverage["group"][0], "denominator"), score(coverage["group"][0])) == (1, 0.0)  # a draft
    before = await report(client, "dialog-plus-use", "2025-12-01", "2025-12-31")
    assert population(before["group"][0], "denominator") == 0


async def _demographics(app: FastAPI, client: httpx.AsyncClient) -> None:
    """Fifteen service users with a DIALOG+ plan (or a DIALOG) in the window, and what the gateway said of them."""
    rows = Rows()
    for n in range(1, 7):  # white British women: w1-w4 active plans, w5 a draft, w6 a DIALOG only
        if n <= 5:
            rows.plan(f"w{n}", DIALOG_PLUS, "active" if n <= 4 else "draft", "2025-06-01T10:00:00")
        else:
            rows.dialog(f"w{n}", "2025-11-10T10:00:00")
        born = "2000-01-01" if n == 6 else "1990-04-01"  # 25 at the end of November: 18-25
        await tell(client, f"w{n}", ethnic="A", gender="female", decile=2, birth_date=born)
    for n in range(1, 6):  # declined to give their ethnicity (Z): z1 active, the others drafts
        rows.plan(f"z{n}", DIALOG_PLUS, "active" if n == 1 else "draft", "2025-07-01T10:00:00")
        await tell(client, f"z{n}", ethnic="Z", gender="female" if n <= 3 else "male")
    # Missing: m1 and m2 never had a Patient event, m3's has no ethnic category.
    rows.plan("m1", DIALOG_PLUS, "active", "2025-08-01T10:00:00")
    rows.plan("m2", DIALOG_PLUS, "draft", "2025-08-01T10:00:00")
    rows.plan("m3", DIALOG_PLUS, "draft", "2025-08-01T10:00:00")
    await tell(client, "m3", gender="female")
    rows.plan("b1", DIALOG_PLUS, "draft", "2025-09-01T10:00:00")
    await tell(client, "b1", ethnic="N", gender="male")  # Black Caribbean
    await rows.insert(app)


async def test_personalised_plans_are_broken_down_by_ethnicity_and_sex_with_declined_apart_from_missing(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    """FR-84: the default report carries the demographic strata; cells under 5 are suppressed."""
    await _demographics(app, client)
    body = await report(client, "personalised-plan-dialog-plus", *NOVEMBER)
    assert validate(body, "MeasureReport")
    group = body["group"][0]
    # Active DIALOG+ plans: w1-w4, z1, m1: 6 of 15.
    assert (population(group, "denominator"), population(group, "numerator"), score(group)) == (15, 6, 0.4)
    ethnicity = strata(body, "ethnicity")
    assert set(ethnicity) == {"white", "not-stated", "unknown", "black"}
    white = ethnicity["white"]
    assert (population(white, "denominator"), population(white, "numerator"), score(white)) == (6, 4, 0.6667)
    declined = ethnicity["not-stated"]  # five who declined: shown, and apart from the missing
    assert (population(declined, "denominator"), population(declined, "numerator"), score(declined)) == (5, 1, 0.2)
    for suppressed in (ethnicity["unknown"], ethnicity["black"]):  # m1 m2 m3; b1
        assert population(suppressed, "denominator") is None
        assert "value" not in suppressed["measureScore"]
        assert suppressed["extension"][0]["valueBoolean"] is True
    sex = strata(body, "sex")
    # Women: w1-w6, z1-z3, m3 (10), of whom w1-w4 and z1 have an active plan.
    assert (population(sex["female"], "denominator"), population(sex["female"], "numerator")) == (10, 5)
    assert score(sex["female"]) == 0.5
    assert population(sex["male"], "denominator") is None  # z4 z5 b1
    assert population(sex["unknown"], "denominator") is None  # m1 m2
    crossing = strata(body, "ethnicity-sex")
    assert set(crossing) == {
        "white|female",
        "not-stated|female",
        "not-stated|male",
        "unknown|female",
        "unknown|unknown",
        "black|male",
    }
    assert (population(crossing["white|female"], "numerator"), score(crossing["white|female"])) == (4, 0.6667)
    assert [c["code"]["text"] for c in crossing["white|female"]["component"]] == ["ethnicity", "sex"]
    assert all(population(crossing[k], "denominator") is None for k in crossing if k != "white|female")
    ages = strata(body, "age-band")
    # 26-64: w1-w5 (w1-w4 active); 18-25: w6; unknown: the nine without a birth date (z1 and m1 active).
    assert (population(ages["26-64"], "denominator"), score(ages["26-64"])) == (5, 0.8)
    assert population(ages["18-25"], "denominator") is None
    assert (population(ages["unknown"], "denominator"), score(ages["unknown"])) == (9, 0.2222)
    quintiles = strata(body, "deprivation-quintile")
    assert (population(quintiles["1"], "denominator"), population(quintiles["unknown"], "denominator")) == (6, 9)


async def test_referral_measures_find_the_person_through_the_dialogs_subject(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    app.state.settings = app.state.settings.model_copy(update={"report_small_cell_threshold": 0})
    rows = Rows()
    rows.dialog("p1", "2025-09-01T10:00:00", "r1", scores={"sqol": 3.0}, timepoint="baseline")
    rows.dialog("p1", "2025-11-05T10:00:00", "r1", scores={"sqol": 4.5})  # paired, +1.5
    rows.dialog("p2", "2025-11-10T10:00:00", "r2")  # one DIALOG
    rows.dialog("p3", "2025-11-12T10:00:00", "r3")  # no Patient event
    await rows.insert(app)
    await tell(client, "p1", ethnic="H", gender="male")  # Indian
    await tell(client, "p2", ethnic="Z", gender="female")
    paired = await report(client, "paired-outcome-measures", *NOVEMBER)
    ethnicity = strata(paired, "ethnicity")
    assert {k: (population(v, "denominator"), score(v)) for k, v in ethnicity.items()} == {
        "asian": (1, 1.0),
        "not-stated": (1, 0.0),
        "unknown": (1, 0.0),
    }
    assert set(strata(paired, "ethnicity-sex")) == {"asian|male", "not-stated|female", "unknown|unknown"}
    change = await report(client, "sqol-change", *NOVEMBER)
    assert {k: score(v) for k, v in strata(change, "ethnicity-sex").items()} == {"asian|male": 1.5}
