"""Measures (FR-83, FR-84, FR-88, FR-89): read-only generated `Measure` resources and `$evaluate-measure`."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession

from services.careplans.reporting import CATALOGUE, evaluate
from services.kit.measures_api import measure_router
from services.kit.reporting import MeasureDef, Period


async def _evaluate(session: AsyncSession, measure: MeasureDef, period: Period, request: Request) -> dict[str, Any]:
    state = request.app.state
    settings = state.settings
    return await evaluate(
        session,
        measure,
        period,
        state.directory,
        settings.report_lookback_days,
        settings.report_small_cell_threshold,
        state.clock.now(),
    )


router = measure_router(CATALOGUE, _evaluate, "borough and team")
