"""Measures (FR-90, the transition KPIs): read-only generated `Measure` resources and `$evaluate-measure`."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.measures_api import measure_router
from services.kit.reporting import MeasureDef, Period
from services.transitions.reporting import CATALOGUE, evaluate


async def _evaluate(session: AsyncSession, measure: MeasureDef, period: Period, request: Request) -> dict[str, Any]:
    state = request.app.state
    return await evaluate(session, measure, period, state.settings.report_small_cell_threshold, state.clock.now())


router = measure_router(CATALOGUE, _evaluate, "borough, team and high-risk flag")
