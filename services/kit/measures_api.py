"""The `Measure` routes every service has: its KPIs as read-only Measures and `$evaluate-measure`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.api import IdPath, base_url
from services.kit.app import SessionDep
from services.kit.http import fhir_response
from services.kit.reporting import Catalogue, MeasureDef, Period, measure_bundle, measure_resource, period_of

Evaluate = Callable[[AsyncSession, MeasureDef, Period, Request], Awaitable[dict[str, Any]]]
"""How a service evaluates one of its measures over a period (its settings and clock come from the request)."""


def measure_router(catalogue: Catalogue, evaluate: Evaluate, strata: str) -> APIRouter:
    """`GET /fhir/Measure`, `/fhir/Measure/{id}` and `/fhir/Measure/{id}/$evaluate-measure` over `catalogue`.

    `strata` says in words what the service's MeasureReports are broken down by.
    """
    router = APIRouter(prefix="/fhir")

    @router.get("/Measure", tags=["Measure"], summary="Every KPI as a Measure")
    async def search_measures(request: Request) -> Response:
        """The service's KPIs (generated, read-only): numerator, denominator, target and seed quote."""
        return fhir_response(measure_bundle(request, base_url(request), catalogue))

    @router.get(
        "/Measure/{id}/$evaluate-measure",
        tags=["Measure"],
        summary="Evaluate a KPI over a period",
        description=f"A summary MeasureReport: populations, score, and strata by {strata}.",
    )
    async def evaluate_measure(id: IdPath, request: Request, session: SessionDep) -> Response:
        """A summary MeasureReport: populations, score and strata over the period."""
        return fhir_response(await evaluate(session, catalogue.measure(id), period_of(request), request))

    @router.get("/Measure/{id}", tags=["Measure"], summary="Read a KPI's Measure")
    async def read_measure(id: IdPath) -> Response:
        """One KPI's Measure (generated from its definition)."""
        return fhir_response(measure_resource(catalogue, catalogue.measure(id)), version_id=1)

    return router
