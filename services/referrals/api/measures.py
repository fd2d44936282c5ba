"""Measures (FR-82 to FR-96): read-only generated `Measure` resources and `$evaluate-measure`;
the MHSDS-like CSV extract (FR-95)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.app import SessionDep
from services.kit.measures_api import measure_router
from services.kit.reporting import MeasureDef, Period, period_of
from services.referrals.reporting.definitions import CATALOGUE
from services.referrals.reporting.evaluate import evaluate
from services.referrals.reporting.extract import extract_rows, to_csv


async def _evaluate(session: AsyncSession, measure: MeasureDef, period: Period, request: Request) -> dict[str, Any]:
    state = request.app.state
    return await evaluate(
        session, measure, period, state.directory.teams, state.settings.report_small_cell_threshold, state.clock.now()
    )


router = measure_router(CATALOGUE, _evaluate, "borough, team and the person's demographics")


@router.get(
    "/ServiceRequest/$mhsds-extract",
    tags=["ServiceRequest"],
    summary="MHSDS-like CSV extract of the referrals received in a period",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "One row per referral, header first"}},
)
async def mhsds_extract(request: Request, session: SessionDep) -> Response:
    """Referrals, contacts, care-plan and outcome milestones and protected characteristics, as CSV (FR-95)."""
    period = period_of(request, "$mhsds-extract")
    rows = await extract_rows(session, period, request.app.state.directory.teams)
    name = f"mhsds-extract-{period.start.isoformat()}-{period.end.isoformat()}.csv"
    return Response(
        to_csv(rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
