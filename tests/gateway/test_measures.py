"""Measures through the gateway: one `/fhir/Measure` over every service's KPIs, and
`Measure/{id}/$evaluate-measure` routed to the service that owns the measure."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from services.careplans.main import create_app as careplans_app
from services.careplans.persistence.tables import metadata as careplans_metadata
from services.careplans.settings import Settings as CareplansSettings
from services.kit.clock import FixedClock
from services.kit.testing import assert_outcome, empty_tables, migrated_database
from services.transitions.main import create_app as transitions_app
from services.transitions.persistence.tables import metadata as transitions_metadata
from services.transitions.settings import Settings as TransitionsSettings
from tests.gateway.conftest import GATEWAY_BASE, REFERRALS, Network, client_for
from tests.referrals.reporting.rows import at, insert, waited

pytestmark = pytest.mark.usefixtures("engine")

REFERRAL_MEASURES = 19
CAREPLANS_MEASURES = 6
TRANSITIONS_MEASURES = 5
ALL = REFERRAL_MEASURES + CAREPLANS_MEASURES + TRANSITIONS_MEASURES


@pytest.fixture(scope="session")
async def careplans_db(engine: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    async with migrated_database("careplans", engine, Path(tmp_path_factory.mktemp(f"cp-{engine}"))) as url:
        yield url


@pytest.fixture(scope="session")
async def transitions_db(engine: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    async with migrated_database("transitions", engine, Path(tmp_path_factory.mktemp(f"tr-{engine}"))) as url:
        yield url


@pytest.fixture
async def every_service(
    network: Network, careplans_db: str, transitions_db: str, clock: FixedClock
) -> AsyncIterator[Network]:
    """The care-plans and transitions services on the network beside referrals."""
    careplans = careplans_app(CareplansSettings(database_url=careplans_db, run_background_tasks=False), clock)
    transitions = transitions_app(TransitionsSettings(database_url=transitions_db, run_background_tasks=False), clock)
    network.attach("careplans.internal", careplans)
    network.attach("transitions.internal", transitions)
    yield network
    await empty_tables(careplans.state.database, careplans_metadata)
    await empty_tables(transitions.state.database, transitions_metadata)
    await careplans.state.database.dispose()
    await transitions.state.database.dispose()


def _ids(bundle: dict[str, Any]) -> list[str]:
    return [e["resource"]["id"] for e in bundle["entry"]]


async def test_the_measure_search_merges_every_services_kpis_with_paging(
    every_service: Network, client: httpx.AsyncClient
) -> None:
    response = await client.get("/fhir/Measure", params={"_count": "100"})
    assert response.status_code == 200, response.text
    bundle = response.json()
    assert bundle["total"] == ALL
    ids = _ids(bundle)
    assert len(ids) == len(set(ids)) == ALL
    assert {"referral-to-clock-stop", "dialog-plus-use", "transition-phase1-before-17-5"} <= set(ids)
    assert all(e["fullUrl"].startswith(f"{GATEWAY_BASE}/Measure/") for e in bundle["entry"])
    publishers = {e["resource"]["publisher"] for e in bundle["entry"]}
    assert len(publishers) == 3  # one per service
    paged: list[str] = []
    url: str | None = "/fhir/Measure?_count=7"
    while url:
        page = (await client.get(url)).json()
        assert page["total"] == ALL
        paged += _ids(page)
        following = next((link["url"] for link in page["link"] if link["relation"] == "next"), None)
        url = None if following is None else "/fhir/Measure?" + urlsplit(following).query
        if following:
            assert dict(parse_qsl(urlsplit(following).query))["_count"] == "7"
    assert sorted(paged) == sorted(ids)
    assert len(paged) == ALL
    assert_outcome(await client.get("/fhir/Measure", params={"title": "x"}), 400, expression="title")


async def test_evaluate_measure_reaches_the_service_that_owns_the_measure(
    every_service: Network, client: httpx.AsyncClient, referrals: Any
) -> None:
    # Five clocks stopped in November at Barnet: 10, 20, 30, 40 and 100 days.
    stop = at("2025-11-15T12:00:00")
    await insert(referrals, [waited("barnet-psychosis", f"b{d}", stop, d) for d in (10, 20, 30, 40, 100)])
    period = {"periodStart": "2025-11-01", "periodEnd": "2025-11-30"}
    through = await client.get("/fhir/Measure/referral-to-clock-stop/$evaluate-measure", params=period)
    assert through.status_code == 200, through.text
    async with client_for(referrals, REFERRALS) as direct_client:
        direct = await direct_client.get("/fhir/Measure/referral-to-clock-stop/$evaluate-measure", params=period)
    assert through.json() == direct.json()
    assert through.json()["group"][0]["measureScore"]["value"] == 30
    for measure in ("dialog-plus-use", "transition-actioned-on-time"):
        report = await client.get(f"/fhir/Measure/{measure}/$evaluate-measure", params=period)
        assert report.status_code == 200, report.text
        assert report.json()["measure"] == f"https://continuum.example.org/fhir/Measure/{measure}"
    one = await client.get("/fhir/Measure/crisis-plan-coverage")
    assert one.status_code == 200
    assert one.json()["id"] == "crisis-plan-coverage"


async def test_measure_errors_are_operation_outcomes(every_service: Network, client: httpx.AsyncClient) -> None:
    period = {"periodStart": "2025-11-01", "periodEnd": "2025-11-30"}
    assert_outcome(await client.get("/fhir/Measure/no-such-kpi/$evaluate-measure", params=period), 404)
    assert_outcome(await client.get("/fhir/Measure/no-such-kpi"), 404)
    assert_outcome(
        await client.get("/fhir/Measure/dialog-plus-use/$evaluate-measure", params={"periodEnd": "2025-11-30"}),
        400,
        expression="periodStart",
    )
    every_service.down.add("transitions.internal")
    # The owner answers, so a referrals KPI is still evaluated; the merged search cannot be complete.
    assert (await client.get("/fhir/Measure/acceptance-rate/$evaluate-measure", params=period)).status_code == 200
    assert_outcome(await client.get("/fhir/Measure"), 502)
    assert_outcome(await client.get("/fhir/Measure/transition-overdue/$evaluate-measure", params=period), 502)
