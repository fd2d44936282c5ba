"""Measures (FR-82 to FR-96): read-only generated `Measure` resources and `$evaluate-measure`."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.kit.api import IdPath, base_url
from services.kit.app import SessionDep
from services.kit.errors import BadRequest, NotFound
from services.kit.http import fhir_response
from services.referrals.reporting.definitions import BY_ID, MEASURES, MeasureDef, measure_resource
from services.referrals.reporting.evaluate import Period, evaluate

router = APIRouter(prefix="/fhir")

_EVALUATE_PARAMS = frozenset({"periodStart", "periodEnd", "reportType", "_format"})


def _measure(id_: str) -> MeasureDef:
    measure = BY_ID.get(id_)
    if measure is None:
        raise NotFound(f"Measure/{id_} is not known; GET /fhir/Measure lists them", "Measure.id")
    return measure


def _date(request: Request, name: str) -> date:
    text = request.query_params.get(name)
    if not text:
        raise BadRequest(f"{name} is required: a date such as 2026-01-01", name)
    try:
        if len(text) != 10:
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise BadRequest(f"{name} {text!r} is not a date (YYYY-MM-DD)", name) from None


def period_of(request: Request) -> Period:
    """The period asked for: whole days, start and end inclusive; 400 naming the parameter at fault."""
    for name in request.query_params:
        if name not in _EVALUATE_PARAMS:
            raise BadRequest(f"$evaluate-measure does not take {name!r}; it takes periodStart and periodEnd", name)
    report_type = request.query_params.get("reportType", "summary")
    if report_type != "summary":
        raise BadRequest(f"reportType {report_type!r} is not supported; only 'summary'", "reportType")
    start, end = _date(request, "periodStart"), _date(request, "periodEnd")
    if end < start:
        raise BadRequest(f"periodEnd {end} is before periodStart {start}", "periodEnd")
    return Period(start, end)


@router.get("/Measure", tags=["Measure"], summary="Every KPI as a Measure")
async def search_measures(request: Request) -> Response:
    """The referrals KPIs (generated, read-only): numerator, denominator, target and seed quote."""
    base = base_url(request)
    entries = [
        {"fullUrl": f"{base}/Measure/{m.id}", "resource": measure_resource(m), "search": {"mode": "match"}}
        for m in MEASURES
    ]
    return fhir_response(
        {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": len(entries),
            "link": [{"relation": "self", "url": f"{base}/Measure"}],
            "entry": entries,
        }
    )


@router.get("/Measure/{id}/$evaluate-measure", tags=["Measure"], summary="Evaluate a KPI over a period")
async def evaluate_measure(id: IdPath, request: Request, session: SessionDep) -> Response:
    """A summary MeasureReport: populations, score, and strata by borough, team, age band and borough × age band."""
    measure = _measure(id)
    period = period_of(request)
    state = request.app.state
    report = await evaluate(
        session,
        measure,
        period,
        state.directory.teams,
        state.settings.report_small_cell_threshold,
        state.clock.now(),
    )
    return fhir_response(report)


@router.get("/Measure/{id}", tags=["Measure"], summary="Read a KPI's Measure")
async def read_measure(id: IdPath) -> Response:
    """One KPI's Measure (generated from its definition)."""
    return fhir_response(measure_resource(_measure(id)), version_id=1)
