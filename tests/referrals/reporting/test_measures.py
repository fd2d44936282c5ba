"""Measures and $evaluate-measure against fixture data with hand-computed expected values (FR-82 to FR-96).

Every expected number below was worked out by hand from the fixture rows, not by the code under test.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.kit.reporting import percentile_cont
from services.kit.resources import validate
from services.kit.testing import assert_outcome
from services.referrals.persistence import tables
from tests.referrals.builders import ACCEPT_WITH_SUPPORT, operate, referral_with_episode
from tests.referrals.events import patient, send
from tests.referrals.reporting.rows import (
    at,
    escalation,
    insert,
    population,
    referral_rows,
    report,
    score,
    seen,
    strata,
    version,
    waited,
)

BARNET = "barnet-psychosis"
CAMDEN = "camden-psychosis"
MASKED = {"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason", "valueCode": "masked"}]}


# ---------------------------------------------------------------- the Measure resources


async def test_every_measure_is_a_valid_r4_measure_with_its_definition(client: httpx.AsyncClient) -> None:
    bundle = (await client.get("/fhir/Measure")).json()
    assert bundle["resourceType"] == "Bundle"
    assert bundle["total"] == 19
    ids = {e["resource"]["id"] for e in bundle["entry"]}
    assert {"referral-to-clock-stop", "acceptance-rate", "gp-re-referral-requests", "told-expected-wait"} <= ids
    for entry in bundle["entry"]:
        measure = entry["resource"]
        assert validate(measure, "Measure")
        assert measure["relatedArtifact"], "every KPI names its seed quote"
        assert measure["scoring"]["coding"][0]["code"] in {"proportion", "continuous-variable", "cohort"}
        assert measure["improvementNotation"]["coding"][0]["code"] in {"increase", "decrease"}
    one = await client.get("/fhir/Measure/clock-stop-within-28-days")
    assert one.status_code == 200
    body = one.json()
    assert [a["label"] for a in body["relatedArtifact"]] == ["000:908", "003:217", "003:239"]
    codes = [p["code"]["coding"][0]["code"] for p in body["group"][0]["population"]]
    assert codes == ["initial-population", "denominator", "numerator"]
    crossing = next(s for s in body["group"][0]["stratifier"] if s["code"]["text"] == "borough-age-band")
    assert [c["code"]["text"] for c in crossing["component"]] == ["borough", "age-band"]


async def test_client_errors_are_operation_outcomes(client: httpx.AsyncClient) -> None:
    url = "/fhir/Measure/acceptance-rate/$evaluate-measure"
    assert_outcome(
        await client.get(url, params={"periodStart": "2025-13-01", "periodEnd": "2025-12-31"}),
        400,
        expression="periodStart",
    )
    assert_outcome(
        await client.get(url, params={"periodStart": "yesterday", "periodEnd": "2025-12-31"}),
        400,
        expression="periodStart",
    )
    assert_outcome(await client.get(url, params={"periodStart": "2025-01-01"}), 400, expression="periodEnd")
    assert_outcome(
        await client.get(url, params={"periodStart": "2025-02-01", "periodEnd": "2025-01-31"}),
        400,
        expression="periodEnd",
    )
    assert_outcome(
        await client.get(url, params={"periodStart": "2025-01-01", "periodEnd": "2025-01-31", "group_by": "x"}),
        400,
        expression="group_by",
    )
    assert_outcome(await client.get("/fhir/Measure/no-such-kpi"), 404)
    assert_outcome(await client.get("/fhir/Measure/no-such-kpi/$evaluate-measure"), 404)


# ---------------------------------------------------------------- waiting times


def test_the_sqlite_percentile_fallback_interpolates_like_percentile_cont() -> None:
    assert percentile_cont([7, 10, 14, 20, 28, 29, 30, 40, 100], 0.5) == 28
    assert percentile_cont([7, 10, 14, 20, 28, 29, 30, 40, 100], 0.9) == pytest.approx(52)  # 40 + 0.2 x 60
    assert percentile_cont([1, 2, 3, 4, 5, 50], 0.5) == 3.5
    assert percentile_cont([1, 2, 3, 4, 5, 50], 0.9) == pytest.approx(27.5)  # 5 + 0.5 x 45
    assert percentile_cont([12], 0.9) == 12
    assert percentile_cont([], 0.5) is None


async def _november_waits(app: FastAPI) -> None:
    # Barnet: 5 people aged 26-64, waits 10, 20, 30, 40, 100 days; the first stops at the first instant of November.
    rows = [waited(BARNET, "b1", at("2025-11-01T00:00:00"), 10)]
    rows += [waited(BARNET, f"b{i}", at("2025-11-15T12:00:00"), d) for i, d in ((2, 20), (3, 30), (4, 40), (5, 100))]
    # Camden: 4 people, waits 7, 14, 28, 29 days; the last stops at the last instant of November.
    rows += [waited(CAMDEN, f"c{i}", at("2025-11-20T10:00:00"), d) for i, d in ((1, 7), (2, 14), (3, 28))]
    rows.append(waited(CAMDEN, "c4", at("2025-11-30T23:59:59"), 29))
    # Just outside the period on either side: 1000-day waits that would move every percentile.
    rows.append(waited(BARNET, "b6", at("2025-10-31T23:59:59"), 1000))
    rows.append(waited(BARNET, "b7", at("2025-12-01T00:00:00"), 1000))
    births = {f"b{i}": date(1990, 1, 1) for i in range(1, 8)}
    # c1 turns 18 on the period's last day (18-25); c2 turns 18 the day after (0-17); c4 has no facts.
    births |= {"c1": date(2007, 11, 30), "c2": date(2007, 12, 1), "c3": date(2012, 1, 1)}
    await insert(app, rows, births)


async def test_median_and_p90_of_an_odd_count_with_strata_and_suppression(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await _november_waits(app)
    body = await report(client, "referral-to-clock-stop", "2025-11-01", "2025-11-30")
    assert validate(body, "MeasureReport")
    assert body["status"] == "complete"
    assert body["type"] == "summary"
    assert body["period"] == {"start": "2025-11-01", "end": "2025-11-30"}
    median, p90 = body["group"]
    assert median["code"]["text"] == "median"
    assert p90["code"]["text"] == "p90"
    # All nine in November: 7 10 14 20 28 29 30 40 100.
    assert population(median, "initial-population") == 9
    assert population(median, "measure-observation") == 9
    assert score(median) == 28
    assert score(p90) == 52  # rank 0.9 x 8 = 7.2: 40 + 0.2 x (100 - 40)
    teams = strata(body, "team")
    assert population(teams[BARNET], "initial-population") == 5  # 5: shown
    assert score(teams[BARNET]) == 30
    assert score(strata(body, "team", 1)[BARNET]) == 76  # rank 3.6: 40 + 0.6 x 60
    camden = teams[CAMDEN]  # 4: under the threshold of 5, suppressed
    assert population(camden, "initial-population") is None
    assert camden["population"][0]["_count"] == MASKED
    assert camden["measureScore"] == MASKED
    assert camden["extension"][0]["valueBoolean"] is True
    boroughs = strata(body, "borough")
    assert population(boroughs["barnet"], "initial-population") == 5
    assert population(boroughs["camden"], "initial-population") is None
    bands = strata(body, "age-band")
    assert set(bands) == {"26-64", "0-17", "18-25", "unknown"}
    assert population(bands["26-64"], "initial-population") == 5
    assert score(bands["26-64"]) == 30
    assert all(population(bands[b], "initial-population") is None for b in ("0-17", "18-25", "unknown"))
    crossing = strata(body, "borough-age-band")
    assert set(crossing) == {"barnet|26-64", "camden|0-17", "camden|18-25", "camden|unknown"}
    assert population(crossing["barnet|26-64"], "initial-population") == 5
    assert score(crossing["barnet|26-64"]) == 30
    assert crossing["barnet|26-64"]["component"][0]["code"]["text"] == "borough"
    assert population(crossing["camden|0-17"], "initial-population") is None  # c2 and c3: 2 people


async def test_within_28_days_counts_the_28th_day_and_respects_the_period_ends(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await _november_waits(app)
    body = await report(client, "clock-stop-within-28-days", "2025-11-01", "2025-11-30")
    group = body["group"][0]
    assert (population(group, "denominator"), population(group, "numerator")) == (9, 5)  # 7 10 14 20 28
    assert score(group) == 0.5556
    assert score(strata(body, "team")[BARNET]) == 0.4  # 10 and 20 of five
    # The day before and the day after see only the 1000-day waits.
    october = await report(client, "clock-stop-within-28-days", "2025-10-31", "2025-10-31")
    assert (population(october["group"][0], "denominator"), population(october["group"][0], "numerator")) == (1, 0)
    december = await report(client, "clock-stop-within-28-days", "2025-12-01", "2025-12-01")
    assert population(december["group"][0], "denominator") == 1
    # A one-day period at each end holds the boundary referral.
    first = await report(client, "referral-to-clock-stop", "2025-11-01", "2025-11-01")
    assert (population(first["group"][0], "initial-population"), score(first["group"][0])) == (1, 10)
    last = await report(client, "referral-to-clock-stop", "2025-11-30", "2025-11-30")
    assert (population(last["group"][0], "initial-population"), score(last["group"][0])) == (1, 29)


async def test_median_and_p90_of_an_even_count(app: FastAPI, client: httpx.AsyncClient) -> None:
    team = "islington-psychosis"
    rows = [waited(team, f"e{d}", at("2025-12-04T15:00:00"), d) for d in (50, 3, 1, 5, 2, 4)]
    await insert(app, rows)
    body = await report(client, "referral-to-clock-stop", "2025-12-01", "2025-12-07")
    assert population(body["group"][0], "initial-population") == 6
    assert score(body["group"][0]) == 3.5  # (3 + 4) / 2
    assert score(body["group"][1]) == 27.5  # rank 4.5: 5 + 0.5 x 45
    assert score(strata(body, "team")[team]) == 3.5  # six people: shown
    assert population(strata(body, "age-band")["unknown"], "initial-population") == 6  # no patient facts
    within = await report(client, "clock-stop-within-28-days", "2025-12-01", "2025-12-07")
    assert score(within["group"][0]) == 0.8333  # 5 of 6


async def test_an_empty_period_reports_zero_and_no_score(client: httpx.AsyncClient) -> None:
    body = await report(client, "referral-to-clock-stop", "2025-11-01", "2025-11-30")
    assert population(body["group"][0], "initial-population") == 0
    assert "measureScore" not in body["group"][0]
    assert all(s["stratum"] == [] for s in body["group"][0]["stratifier"])


# ---------------------------------------------------------------- waiting at the period end


async def _november_waiting(app: FastAPI) -> None:
    team = "barnet-core-south"

    def waiting(patient_: str, start: str, **kw: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        return referral_rows(team=team, patient=patient_, clock_start=at(start), **kw)

    rows = [
        waiting("w1", "2023-12-01T09:00:00"),  # 730 days at the end: 104+ weeks
        waiting("w2", "2023-12-04T00:00:00"),  # exactly 728 days at midnight after 30 Nov: 104+ weeks
        waiting("w3", "2023-12-04T00:00:01", support="assessed-no-support-needed"),  # a second short
        waiting("w4", "2025-11-20T10:00:00", support=None),  # neither support nor assessment
        waiting(
            "w5",
            "2025-11-25T10:00:00",
            clock_stop=at("2025-12-03T10:00:00"),
            status="in-progress",
            business_status="started",
        ),  # stopped after the end: still waiting at the end
        waiting("w6", "2025-12-01T00:00:00"),  # received after the end
        waiting("w7", "2025-10-01T00:00:00", clock_stop=at("2025-11-15T00:00:00"), business_status="started"),
        waiting("w8", "2025-11-10T00:00:00", status="requested", business_status="received", support=None),
    ]
    told = [
        (rows[0][1]["focus"], at("2023-12-02T09:00:00")),
        (rows[1][1]["focus"], at("2023-12-04T10:00:00")),
        (rows[3][1]["focus"], at("2025-12-01T00:00:00")),  # after the end: not yet told at the end
        (rows[4][1]["focus"], at("2025-11-25T10:00:00")),
    ]
    await insert(app, rows, told=told)


async def test_waits_of_104_weeks_and_waiting_with_support(app: FastAPI, client: httpx.AsyncClient) -> None:
    await _november_waiting(app)
    team = "barnet-core-south"
    period = ("2025-11-01", "2025-11-30")
    long_waits = await report(client, "waiting-104-weeks", *period)
    assert population(long_waits["group"][0], "initial-population") == 2  # w1, w2
    supported = await report(client, "waiting-with-support", *period)
    group = supported["group"][0]
    assert (population(group, "denominator"), population(group, "numerator"), score(group)) == (5, 3, 0.6)
    assert score(strata(supported, "team")[team]) == 0.6  # five: shown
    unsupported = await report(client, "waiting-without-support", *period)
    assert population(unsupported["group"][0], "initial-population") == 1  # w4
    informed = await report(client, "told-expected-wait", *period)
    group = informed["group"][0]
    assert (population(group, "denominator"), population(group, "numerator"), score(group)) == (5, 3, 0.6)


async def test_accepting_through_the_api_counts_as_supported_and_told(client: httpx.AsyncClient) -> None:
    await send(
        client, {"id": "evt-p1", "type": "patient-upserted", "resource": patient("p-1", birth_date="1990-04-01")}
    )
    _, task = await referral_with_episode(client)
    assert (await operate(client, task, "accept", ACCEPT_WITH_SUPPORT)).status_code == 200
    period = ("2026-01-01", "2026-01-05")  # the test clock is 5 January 2026
    for measure in ("waiting-with-support", "told-expected-wait"):
        group = (await report(client, measure, *period))["group"][0]
        assert (population(group, "denominator"), population(group, "numerator"), score(group)) == (1, 1, 1.0)
    for measure in ("waiting-without-support", "gp-re-referral-requests", "waiting-104-weeks"):
        assert population((await report(client, measure, *period))["group"][0], "initial-population") == 0
    body = await report(client, "told-expected-wait", *period)
    assert population(strata(body, "age-band")["26-64"], "denominator") is None  # one person: suppressed


# ---------------------------------------------------------------- referral flow


async def _november_decisions(app: FastAPI) -> None:
    def decided(team: str, received: str, business: str, status: str, reason: str | None = None) -> Any:
        return referral_rows(
            team=team,
            patient=f"d-{team}-{received}-{business}",
            clock_start=at(received),
            status=status,
            business_status=business,
            reason=reason,
        )

    nov = "2025-11-10T10:00:00"
    rows = [
        decided(BARNET, "2025-11-01T00:00:00", "accepted-waiting", "accepted"),
        decided(BARNET, nov, "accepted-waiting", "accepted"),
        decided(BARNET, "2025-11-11T10:00:00", "accepted-waiting", "accepted"),
        decided(BARNET, nov, "started", "in-progress"),
        decided(BARNET, nov, "declined", "rejected", "needs-better-met-elsewhere"),
        decided(BARNET, "2025-11-30T23:59:59", "declined", "rejected", "not-commissioned"),
        decided(BARNET, nov, "redirected", "completed"),
        decided(BARNET, nov, "cancelled", "cancelled"),  # not decided
        decided(BARNET, nov, "received", "requested"),  # not yet decided
        decided(CAMDEN, nov, "accepted-waiting", "accepted"),
        decided(CAMDEN, nov, "advice-only", "completed", "advice-only-not-primarily-mental-illness"),
        decided(BARNET, "2025-10-31T23:59:59", "declined", "rejected", "not-commissioned"),  # before
        decided(BARNET, "2025-12-01T00:00:00", "accepted-waiting", "accepted"),  # after
    ]
    await insert(app, rows)


async def test_acceptance_rate_is_accepted_over_decided_per_team(app: FastAPI, client: httpx.AsyncClient) -> None:
    await _november_decisions(app)
    body = await report(client, "acceptance-rate", "2025-11-01", "2025-11-30")
    group = body["group"][0]
    assert (population(group, "denominator"), population(group, "numerator")) == (9, 5)
    assert score(group) == 0.5556
    barnet = strata(body, "team")[BARNET]
    assert (population(barnet, "denominator"), population(barnet, "numerator")) == (7, 4)
    assert score(barnet) == 0.5714
    assert population(strata(body, "team")[CAMDEN], "denominator") is None  # 2: suppressed


async def test_decline_reasons_and_no_gp_re_referral_requests(app: FastAPI, client: httpx.AsyncClient) -> None:
    await _november_decisions(app)
    declines = await report(client, "decline-reasons", "2025-11-01", "2025-11-30")
    assert population(declines["group"][0], "initial-population") == 3
    assert set(strata(declines, "reason")) == {
        "needs-better-met-elsewhere",
        "not-commissioned",
        "advice-only-not-primarily-mental-illness",
    }
    gp = await report(client, "gp-re-referral-requests", "2025-11-01", "2025-11-30")
    assert population(gp["group"][0], "initial-population") == 0


async def _gp_re_referrals(app: FastAPI) -> None:
    rows = [
        referral_rows(
            team=BARNET,
            patient="g1",
            clock_start=at("2025-09-01T10:00:00"),
            status="rejected",
            business_status="declined",
        ),
        # The GP re-refers g1 after the decline: a GP re-referral request.
        referral_rows(team=BARNET, patient="g1", clock_start=at("2025-11-05T10:00:00"), source="gp"),
        # A GP referral for someone never declined is an ordinary referral.
        referral_rows(team=BARNET, patient="g2", clock_start=at("2025-11-05T10:00:00"), source="gp"),
        # A decline that asked for a GP referral (the API refuses it; older data may hold it).
        referral_rows(
            team=CAMDEN,
            patient="g3",
            clock_start=at("2025-11-06T10:00:00"),
            status="rejected",
            business_status="declined",
            reason="gp-referral-requested",
        ),
    ]
    await insert(app, rows)


async def test_gp_re_referral_requests_are_found_when_they_happen(app: FastAPI, client: httpx.AsyncClient) -> None:
    await _gp_re_referrals(app)
    gp = await report(client, "gp-re-referral-requests", "2025-11-01", "2025-11-30")
    assert population(gp["group"][0], "initial-population") == 2


# ---------------------------------------------------------------- periods reconcile (FR-94)

ADDITIVE = {
    "referral-to-clock-stop": ("initial-population",),
    "clock-stop-within-28-days": ("denominator", "numerator"),
    "acceptance-rate": ("denominator", "numerator"),
    "decline-reasons": ("initial-population",),
}


async def _counts(client: httpx.AsyncClient, start: date, end: date) -> dict[str, int]:
    out: dict[str, int] = {}
    for measure, codes in ADDITIVE.items():
        group = (await report(client, measure, start.isoformat(), end.isoformat()))["group"][0]
        for code in codes:
            out[f"{measure}/{code}"] = population(group, code) or 0
    return out


async def test_weekly_monthly_and_quarterly_periods_reconcile(app: FastAPI, client: httpx.AsyncClient) -> None:
    cycle = [
        ("accepted-waiting", "accepted"),
        ("started", "in-progress"),
        ("declined", "rejected"),
        ("redirected", "completed"),
    ]
    rows = []
    first = at("2025-09-29T00:00:00")  # a Monday
    for i in range(60):
        stop = first + timedelta(hours=35 * i)  # every 35 hours: 29 Sep to 24 Dec
        business, status = cycle[i % 4]
        rows.append(
            referral_rows(
                team=BARNET if i % 3 else CAMDEN,
                patient=f"r{i}",
                clock_start=stop - timedelta(days=(7 * i) % 45, hours=2),
                clock_stop=stop,
                status=status,
                business_status=business,
                reason="not-commissioned" if business == "declined" else None,
            )
        )
    await insert(app, rows)
    quarter = await _counts(client, date(2025, 9, 29), date(2025, 12, 28))  # 13 whole weeks
    assert quarter["referral-to-clock-stop/initial-population"] == 60  # every stop is inside
    weeks = [
        await _counts(client, date(2025, 9, 29) + timedelta(weeks=k), date(2025, 10, 5) + timedelta(weeks=k))
        for k in range(13)
    ]
    assert {key: sum(w[key] for w in weeks) for key in quarter} == quarter
    months = [
        await _counts(client, date(2025, 10, 1), date(2025, 10, 31)),
        await _counts(client, date(2025, 11, 1), date(2025, 11, 30)),
        await _counts(client, date(2025, 12, 1), date(2025, 12, 31)),
    ]
    calendar_quarter = await _counts(client, date(2025, 10, 1), date(2025, 12, 31))
    assert {key: sum(m[key] for m in months) for key in calendar_quarter} == calendar_quarter


# ---------------------------------------------------------------- equity breakdowns (FR-82)


async def test_ethnicity_sex_and_deprivation_strata_with_a_two_way_crossing(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    stop = at("2025-11-20T10:00:00")
    people: list[tuple[str, int, dict[str, Any]]] = [
        *((f"x{i}", d, {"ethnic_category": "A", "sex": "female", "deprivation_decile": 1})
          for i, d in enumerate((10, 20, 30, 40, 50, 60), start=1)),
        *((f"x{i}", d, {"ethnic_category": "N", "sex": "male", "deprivation_decile": 4})
          for i, d in ((7, 5), (8, 15), (9, 35))),
        ("x10", 3, {"ethnic_category": "Z", "sex": "female", "deprivation_decile": 10}),  # declined to say
        ("x11", 100, {}),  # known, nothing recorded
    ]  # fmt: skip
    rows = [waited(BARNET, person, stop, days) for person, days, _ in people]
    rows.append(waited(BARNET, "x12", stop, 7))  # no patient facts at all
    await insert(app, rows, demographics={person: facts for person, _, facts in people})
    body = await report(client, "clock-stop-within-28-days", "2025-11-01", "2025-11-30")
    group = body["group"][0]
    # Within 28 days: 10 20 (x1 x2), 5 15 (x7 x8), 3 (x10), 7 (x12).
    assert (population(group, "denominator"), population(group, "numerator"), score(group)) == (12, 6, 0.5)
    ethnicity = strata(body, "ethnicity")
    assert set(ethnicity) == {"white", "black", "not-stated", "unknown"}
    assert (population(ethnicity["white"], "numerator"), score(ethnicity["white"])) == (2, 0.3333)
    assert population(ethnicity["black"], "denominator") is None  # 3: suppressed
    assert population(ethnicity["unknown"], "denominator") is None  # x11 and x12: missing, not declined
    sex = strata(body, "sex")
    assert (population(sex["female"], "denominator"), population(sex["female"], "numerator")) == (7, 3)
    assert score(sex["female"]) == 0.4286
    assert set(sex) == {"female", "male", "unknown"}
    quintiles = strata(body, "deprivation-quintile")
    assert set(quintiles) == {"1", "2", "5", "unknown"}  # deciles 1, 4 and 10
    assert population(quintiles["1"], "denominator") == 6
    crossing = strata(body, "ethnicity-sex")
    assert set(crossing) == {"white|female", "black|male", "not-stated|female", "unknown|unknown"}
    assert score(crossing["white|female"]) == 0.3333
    assert [c["code"]["text"] for c in crossing["white|female"]["component"]] == ["ethnicity", "sex"]
    assert population(crossing["black|male"], "denominator") is None


async def test_patient_events_fill_the_demographics_the_strata_use(app: FastAPI, client: httpx.AsyncClient) -> None:
    person = patient("p-1", birth_date="1990-04-01", gender="male")
    person["extension"] += [
        {
            "url": "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-EthnicCategory",
            "valueCodeableConcept": {
                "coding": [{"system": "https://fhir.hl7.org.uk/CodeSystem/UKCore-EthnicCategoryEngland", "code": "H"}]
            },
        },
        {"url": "https://continuum.example.org/fhir/StructureDefinition/deprivation-decile", "valueInteger": 3},
    ]
    await send(client, {"id": "evt-demo", "type": "patient-upserted", "resource": person})
    database = app.state.database
    async with database.session() as session:
        facts = (await session.execute(tables.patient_facts.select())).mappings().one()
    assert (facts["ethnic_category"], facts["sex"], facts["deprivation_decile"]) == ("H", "male", 3)
    _, task = await referral_with_episode(client)
    assert (await operate(client, task, "accept", ACCEPT_WITH_SUPPORT)).status_code == 200
    app.state.settings = app.state.settings.model_copy(update={"report_small_cell_threshold": 0})
    body = await report(client, "waiting-with-support", "2026-01-01", "2026-01-05")
    assert list(strata(body, "ethnicity")) == ["asian"]
    assert list(strata(body, "sex")) == ["male"]
    assert list(strata(body, "deprivation-quintile")) == ["2"]
    assert list(strata(body, "ethnicity-sex")) == ["asian|male"]


# ---------------------------------------------------------------- contacts, decisions, escalations


async def _contacts(app: FastAPI) -> None:
    def started(person: str, start: str, business: str = "started", status: str = "in-progress") -> Any:
        return referral_rows(
            team=BARNET, patient=person, clock_start=at(start), status=status, business_status=business
        )

    f1 = started("f1", "2025-10-01T09:00:00")
    f2 = started("f2", "2025-11-02T09:00:00")
    f3 = started("f3", "2025-09-01T00:00:00")
    f4 = started("f4", "2025-11-10T00:00:00")
    f5 = started("f5", "2025-10-20T12:00:00")
    f6 = started("f6", "2025-11-01T00:00:00", "declined", "rejected")
    f7 = started("f7", "2025-11-01T00:00:00", "accepted-waiting", "accepted")
    f8 = started("f8", "2025-10-01T00:00:00", "closed", "completed")
    contacts = [
        seen(f1[1], at("2025-11-05T10:00:00")),  # 35 days
        seen(f1[1], at("2025-11-20T10:00:00")),  # 50 days
        seen(f2[1], at("2025-11-04T08:00:00")),  # 1 day (1 day 23 hours)
        seen(f2[1], at("2025-12-02T10:00:00")),  # after the period
        seen(f3[1], at("2025-10-15T10:00:00")),  # first contact in October
        seen(f3[1], at("2025-11-30T23:59:59")),  # 90 days
        seen(f4[1], at("2025-11-10T00:00:00")),  # 0 days
        seen(f4[1], at("2025-11-17T00:00:00")),  # 7 days
        seen(f5[1], at("2025-12-01T00:00:00")),  # after the period
        seen(f6[1], at("2025-11-12T10:00:00")),  # declined: not counted
        seen(f7[1], at("2025-11-03T10:00:00"), "assessed"),  # not a contact where the person was seen
    ]
    await insert(app, [f1, f2, f3, f4, f5, f6, f7, f8], extra=contacts)


async def test_first_and_second_contact_times(app: FastAPI, client: httpx.AsyncClient) -> None:
    await _contacts(app)
    first = await report(client, "referral-to-first-contact", "2025-11-01", "2025-11-30")
    assert population(first["group"][0], "initial-population") == 3  # f1 35, f2 1, f4 0
    assert (score(first["group"][0]), score(first["group"][1])) == (1, 28.2)  # p90: 1 + 0.8 x 34
    second = await report(client, "referral-to-second-contact", "2025-11-01", "2025-11-30")
    assert population(second["group"][0], "initial-population") == 3  # f1 50, f3 90, f4 7
    assert (score(second["group"][0]), score(second["group"][1])) == (50, 82)  # p90: 50 + 0.8 x 40


async def test_open_referrals_without_a_second_contact_at_the_period_end(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await _contacts(app)
    body = await report(client, "open-referral-wait", "2025-11-01", "2025-11-30")
    # f2 (28 days 15 hours), f5 (41 days 12 hours), f7 (30 days); f8 is closed, f6 declined.
    assert population(body["group"][0], "initial-population") == 3
    assert (score(body["group"][0]), score(body["group"][1])) == (30, 38.8)  # p90: 30 + 0.8 x 11
    october = await report(client, "open-referral-wait", "2025-10-01", "2025-10-31")
    # At the end of October: f1 (30 days 15 hours), f3 (one contact; 61 days), f5 (11 days 12 hours); f8 is
    # closed now, and the current status is what counts (see docs/reporting.md, Periods).
    assert population(october["group"][0], "initial-population") == 3
    assert (score(october["group"][0]), score(october["group"][1])) == (30, 54.8)  # p90: 30 + 0.8 x 31


async def test_redirect_rate_is_redirected_over_decided(app: FastAPI, client: httpx.AsyncClient) -> None:
    await _november_decisions(app)
    redirects = (await report(client, "redirect-rate", "2025-11-01", "2025-11-30"))["group"][0]
    assert (population(redirects, "denominator"), population(redirects, "numerator")) == (9, 1)
    assert score(redirects) == 0.1111


async def _decisions_and_escalations(app: FastAPI) -> None:
    def task(person: str, start: str, business: str, status: str) -> Any:
        return referral_rows(
            team=BARNET, patient=person, clock_start=at(start), status=status, business_status=business
        )

    d1 = task("d1", "2025-11-03T09:00:00", "started", "in-progress")
    d2 = task("d2", "2025-11-10T00:00:00", "declined", "rejected")
    d3 = task("d3", "2025-10-25T00:00:00", "redirected", "completed")
    d4 = task("d4", "2025-11-20T00:00:00", "accepted-waiting", "accepted")
    d5 = task("d5", "2025-11-12T00:00:00", "cancelled", "cancelled")
    history = [
        version(d1[1], 1, at("2025-11-03T09:00:00"), "received"),
        version(d1[1], 2, at("2025-11-05T21:00:00"), "accepted-waiting"),  # 2.5 days
        version(d1[1], 3, at("2025-11-20T10:00:00"), "started"),
        version(d2[1], 1, at("2025-11-10T00:00:00"), "received"),
        version(d2[1], 2, at("2025-11-10T06:00:00"), "declined"),  # 0.25 days
        version(d3[1], 1, at("2025-10-25T00:00:00"), "received"),
        version(d3[1], 2, at("2025-11-04T00:00:00"), "redirected"),  # 10 days
        version(d4[1], 1, at("2025-11-20T00:00:00"), "received"),
        version(d4[1], 2, at("2025-12-01T00:00:00"), "accepted-waiting"),  # decided in December
        version(d5[1], 1, at("2025-11-12T00:00:00"), "received"),
        version(d5[1], 2, at("2025-11-15T00:00:00"), "cancelled"),  # not a decision
    ]
    escalations = [
        escalation(d1[1], at("2025-11-04T09:00:00"), at("2025-11-05T21:00:00")),  # 1.5 days
        escalation(d4[1], at("2025-11-27T00:00:00"), at("2025-12-01T00:00:00")),  # resolved in December
        escalation(d3[1], at("2025-10-31T00:00:00"), at("2025-11-04T00:00:00")),  # raised in October: 4 days
        escalation(d5[1], at("2025-11-12T00:00:00")),  # still open
    ]
    await insert(app, [d1, d2, d3, d4, d5], extra=[*history, *escalations])


async def test_time_to_decision_and_escalations(app: FastAPI, client: httpx.AsyncClient) -> None:
    await _decisions_and_escalations(app)
    november = ("2025-11-01", "2025-11-30")
    decisions = await report(client, "time-to-decision", *november)
    assert population(decisions["group"][0], "initial-population") == 3  # 0.25, 2.5, 10
    assert (score(decisions["group"][0]), score(decisions["group"][1])) == (2.5, 8.5)  # p90: 2.5 + 0.8 x 7.5
    raised = await report(client, "escalations", *november)
    assert population(raised["group"][0], "initial-population") == 3  # on d1, d4 and d5
    assert population(strata(raised, "team")[BARNET], "initial-population") is None  # 3: suppressed
    resolved = await report(client, "escalation-resolution-time", *november)
    assert population(resolved["group"][0], "initial-population") == 2  # 1.5 and 4 days
    assert (score(resolved["group"][0]), score(resolved["group"][1])) == (2.75, 3.75)  # p90: 1.5 + 0.9 x 2.5


async def _ethnicity_recording(app: FastAPI) -> None:
    received = at("2025-11-10T09:00:00")
    people: list[tuple[str, dict[str, Any]]] = [
        *((f"e{i}", {"ethnic_category": "A"}) for i in range(1, 6)),  # white British: recorded
        *((f"e{i}", {"ethnic_category": "Z"}) for i in range(6, 11)),  # asked and declined: recorded
        *((f"e{i}", {"sex": "female"}) for i in range(11, 16)),  # known, ethnicity missing
    ]  # fmt: skip
    rows = [referral_rows(team=BARNET, patient=person, clock_start=received) for person, _ in people]
    rows.append(referral_rows(team=BARNET, patient="e16", clock_start=received))  # no facts at all: missing
    rows.append(referral_rows(team=BARNET, patient="e1", clock_start=at("2025-12-02T09:00:00")))  # after the period
    born = {f"e{i}": date(1990, 1, 1) for i in range(1, 9)}  # e1-e8 have a date of birth
    await insert(app, rows, patients=born, demographics=dict(people))


async def test_ethnicity_recorded_counts_declined_as_recorded_and_missing_as_not(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    """FR-91, FR-78: completeness of ethnicity among the people referred in the period."""
    await _ethnicity_recording(app)
    body = await report(client, "ethnicity-recorded", "2025-11-01", "2025-11-30")
    group = body["group"][0]
    # 16 referrals received in November; recorded: e1-e5 (A) and e6-e10 (Z) = 10.
    assert (population(group, "denominator"), population(group, "numerator"), score(group)) == (16, 10, 0.625)
    ethnicity = strata(body, "ethnicity")
    assert set(ethnicity) == {"white", "not-stated", "unknown"}
    assert (population(ethnicity["not-stated"], "numerator"), score(ethnicity["not-stated"])) == (5, 1.0)
    assert (population(ethnicity["unknown"], "denominator"), score(ethnicity["unknown"])) == (6, 0.0)


async def test_sex_and_birth_date_recorded_over_the_same_referrals(app: FastAPI, client: httpx.AsyncClient) -> None:
    """FR-91: each protected characteristic's completeness is its own measure over the period's referrals."""
    await _ethnicity_recording(app)
    sex = (await report(client, "sex-recorded", "2025-11-01", "2025-11-30"))["group"][0]
    # Recorded: e11-e15 (female) = 5 of the 16 received in November.
    assert (population(sex, "denominator"), population(sex, "numerator"), score(sex)) == (16, 5, 0.3125)
    born = await report(client, "birth-date-recorded", "2025-11-01", "2025-11-30")
    group = born["group"][0]
    # Recorded: e1-e8 = 8 of 16; their age bands are known, the others' are not.
    assert (population(group, "denominator"), population(group, "numerator"), score(group)) == (16, 8, 0.5)
    bands = strata(born, "age-band")
    assert (population(bands["26-64"], "numerator"), score(bands["unknown"])) == (8, 0.0)
