"""The KPI dashboard in headless Chromium: every Measure's score against its target, and one
measure's breakdown by borough and ethnic group, against the real gateway and services."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from client import kpis
from tests.browser.conftest import Browser, Referral, send_referral, sign_in_then, signed_in
from tests.e2e.conftest import Service, Stack

PSYCHOSIS_WORKER = "barnet-psychosis-worker"
SUPPRESSED = "https://continuum.example.org/fhir/StructureDefinition/measurereport-suppressed"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the tests keep the pages they hand to Chromium."""
    return Path(tmp_path_factory.mktemp("kpis"))


@pytest.fixture(scope="module")
def waiting(stack: Stack, client_app: Service) -> Referral:
    """A Barnet referral accepted onto the waiting list (counted by `told-expected-wait`)."""
    referral = send_referral(stack, "Low mood and poor sleep after a bereavement")
    with signed_in(client_app, PSYCHOSIS_WORKER) as http:
        page = http.get(f"/referrals/{referral.task_id}").text
        csrf = re.search(r'name="csrf" value="([^"]+)"', page)
        version = re.search(r'name="version" value="([^"]+)"', page)
        assert csrf, page[:500]
        assert version, page[:500]
        answer = http.post(
            f"/referrals/{referral.task_id}/accept",
            data={
                "csrf": csrf.group(1),
                "version": version.group(1),
                "waitingSupport": "barnet-core-north-worker",
                "supportOffered": "Fortnightly calls from the care coordinator",
            },
        )
        assert answer.status_code == 303, answer.text
    return referral


def default_period() -> dict[str, str]:
    """The dashboard's default: the last 90 days, today included."""
    today = datetime.now(UTC).date()
    return {"periodStart": str(today - timedelta(days=89)), "periodEnd": str(today)}


def test_the_dashboard_charts_every_measure_against_its_target(
    browser: Browser, client_app: Service, stack: Stack, workdir: Path, waiting: Referral
) -> None:
    url = sign_in_then(workdir, client_app, PSYCHOSIS_WORKER, "/kpis")
    dom = browser.dom(url)
    assert "<h1>KPI dashboard</h1>" in dom
    assert '<a href="/kpis">KPI dashboard</a>' in dom, "the page is in the main navigation"
    period = default_period()
    assert f'value="{period["periodStart"]}"' in dom
    assert f'value="{period["periodEnd"]}"' in dom
    with stack.client(stack.token("epr-beh")) as system:
        measures = system.get("/fhir/Measure", params={"_count": "100"}).json()
    titles = [x["resource"]["title"] for x in measures["entry"]]
    assert len(titles) >= 27
    for title in titles:
        assert re.search(rf">{re.escape(title)}</a>", dom.replace("&amp;", "&")), title
    chart = re.search(r'<svg class="app-chart" id="kpi-chart-proportion".*?</svg>', dom, re.S)
    assert chart, "the proportions are charted"
    assert 'fill="#212b32">Target</text>' in chart.group(0), "the target mark is explained"
    assert 'class="app-chart-target"' in chart.group(0)
    assert 'class="app-chart-bar"' in chart.group(0)
    # The chart's description says each value, its verdict and its target in words: told-expected-wait
    # (target 100%) counts the accepted Barnet referral, so it has a value.
    told = next(x["resource"]["title"] for x in measures["entry"] if x["resource"]["id"] == "told-expected-wait")
    said = chart.group(0).replace("&amp;", "&")
    assert re.search(rf"{re.escape(told)}: [0-9.]+%, target (met|missed) \(target 100%\)\.", said)
    # Met or missed is said in words, not by colour alone.
    assert re.search(r">(Target met|Target missed)</strong>", dom)
    assert "Not judged: the target has no number" in dom
    browser.screenshot(url, "14-kpi-dashboard.png")


def test_a_measures_breakdown_shows_its_borough_strata_and_suppression(
    browser: Browser, client_app: Service, stack: Stack, workdir: Path, waiting: Referral
) -> None:
    url = sign_in_then(workdir, client_app, PSYCHOSIS_WORKER, "/kpis/told-expected-wait")
    dom = browser.dom(url)
    with stack.client(stack.token("epr-beh")) as system:
        measure = system.get("/fhir/Measure/told-expected-wait").json()
        report: dict[str, Any] = system.get(
            "/fhir/Measure/told-expected-wait/$evaluate-measure", params=default_period()
        ).json()
    assert f"<h1>{measure['title']}</h1>" in dom
    assert '<h2 id="kpi-borough-h">By borough</h2>' in dom
    assert '<h2 id="kpi-ethnicity-h">By ethnic group</h2>' in dom
    assert re.search(r'<svg class="app-chart" id="kpi-borough-score"', dom), "the borough strata are charted"
    threshold = report["extension"][0]["valueInteger"]
    borough = next(s for s in report["group"][0]["stratifier"] if s["code"][0]["text"] == "borough")
    barnet = next(s for s in borough["stratum"] if s["value"]["text"] == "barnet")
    if any(x["url"] == SUPPRESSED for x in barnet.get("extension", [])):
        shown = f"suppressed (fewer than {threshold})"
    else:
        shown = f"{barnet['measureScore']['value'] * 100:.1f}".rstrip("0").rstrip(".") + "%"
    assert f'<tr><th scope="row">Barnet</th><td>{shown}</td></tr>' in dom, "the stratum as the gateway reports it"
    assert f"Barnet: {shown} (target 100%)." in dom, "and in the chart's description"
    browser.screenshot(url, "15-kpi-breakdown.png")


def test_a_measure_without_an_ethnicity_breakdown_says_so(
    browser: Browser, client_app: Service, stack: Stack, workdir: Path
) -> None:
    with stack.client(stack.token("epr-beh")) as system:
        measures = system.get("/fhir/Measure", params={"_count": "100"}).json()
    without = [
        x["resource"]["id"]
        for x in measures["entry"]
        if "ethnicity" not in {s["code"]["text"] for s in x["resource"]["group"][0].get("stratifier", [])}
    ]
    if not without:
        pytest.skip("every Measure the services publish has an ethnicity breakdown")
    url = sign_in_then(workdir, client_app, PSYCHOSIS_WORKER, f"/kpis/{without[0]}")
    dom = browser.dom(url)
    assert '<h2 id="kpi-borough-h">By borough</h2>' in dom
    assert "This measure has no ethnic group breakdown." in dom
    assert 'id="kpi-ethnicity-' not in dom.replace('id="kpi-ethnicity-h"', "")


def test_a_period_the_gateway_refuses_is_explained(browser: Browser, client_app: Service, workdir: Path) -> None:
    url = sign_in_then(workdir, client_app, PSYCHOSIS_WORKER, "/kpis?periodStart=2026-03-01&periodEnd=2026-02-01")
    dom = browser.dom(url)
    assert "There is a problem" in dom
    assert '<a href="#kpi-periodEnd">To</a>' in dom, "the refusal links to the date it names"
    assert "is before periodStart" in dom


def test_what_the_gateway_says_is_escaped_and_suppression_is_never_zero() -> None:
    measure = kpis.measure_of(
        {
            "resourceType": "Measure",
            "id": "odd",
            "title": "<script>alert(1)</script>",
            "scoring": {"coding": [{"code": "proportion"}]},
            "extension": [{"url": kpis.EXT_TARGET, "valueString": "All & <b>more</b>"}],
        }
    )
    stratum = {
        "extension": [{"url": kpis.EXT_SUPPRESSED, "valueBoolean": True}],
        "value": {"text": "<enfield>"},
        "population": [{"code": {"coding": [{"code": "initial-population"}]}, "_count": {}}],
        "measureScore": {"extension": []},
    }
    report = {
        "resourceType": "MeasureReport",
        "extension": [{"url": kpis.EXT_THRESHOLD, "valueInteger": 5}],
        "group": [
            {"measureScore": {"value": 0.5}, "stratifier": [{"code": [{"text": "borough"}], "stratum": [stratum]}]}
        ],
    }
    page = kpis.dashboard([measure], {"odd": report}) + kpis.summary(measure, report) + kpis.breakdown(measure, report)
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "All &amp; &lt;b&gt;more&lt;/b&gt;" in page
    assert '<tr><th scope="row">&lt;enfield&gt;</th><td>suppressed (fewer than 5)</td></tr>' in page
    assert "&lt;enfield&gt;: suppressed (fewer than 5)." in page
    assert "This measure has no ethnic group breakdown." in page
    assert "Not judged: the target has no number" in page
