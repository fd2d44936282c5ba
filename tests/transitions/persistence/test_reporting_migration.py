"""Migration 0002 fills the reporting columns of rows stored before it, from their resources (FR-90)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from services.kit.migrate import upgrade
from services.transitions.domain.codes import CS_EXPERIENCE, CS_OUTPUT, EXT_AGREEMENT


def _output(kind: str, **value: Any) -> dict[str, Any]:
    return {"type": {"coding": [{"system": CS_OUTPUT, "code": kind}]}, **value}


CASE = {
    "resourceType": "Task",
    "id": "c-1",
    "output": [
        _output("discussion-date", valueDate="2025-10-01"),
        _output("plan-formalised", valueDateTime="2025-11-01T10:00:00Z"),
        _output("actioned", valueDateTime="2025-12-01T10:00:00Z"),
        _output("actioned-after-planned-date", valueBoolean=True),
    ],
}
PLAN = {
    "resourceType": "CarePlan",
    "id": "tp-1",
    "extension": [
        {
            "url": EXT_AGREEMENT,
            "extension": [
                {"url": "decision", "valueCode": "agreed"},
                {"url": "recorded", "valueDateTime": "2025-11-01T10:00:00Z"},
            ],
        }
    ],
}
FEEDBACK = {
    "resourceType": "QuestionnaireResponse",
    "id": "fb-1",
    "item": [{"linkId": "experience", "answer": [{"valueCoding": {"system": CS_EXPERIENCE, "code": "positive"}}]}],
}


async def test_rows_stored_before_the_columns_existed_are_backfilled(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'transitions.db'}"
    await asyncio.to_thread(upgrade, "transitions", url, "0001")
    engine = create_async_engine(url)
    common = "version_id, last_updated, resource"
    async with engine.begin() as connection:
        await connection.execute(
            text(
                f"INSERT INTO task (id, {common}, code, status, high_risk)"
                " VALUES ('c-1', 1, '2025-12-01 10:00:00', :r, 'transition-case', 'in-progress', 0)"
            ),
            {"r": json.dumps(CASE)},
        )
        await connection.execute(
            text(
                f"INSERT INTO care_plan (id, {common}, subject, status)"
                " VALUES ('tp-1', 1, '2025-11-01 10:00:00', :r, 'Patient/yp-1', 'active')"
            ),
            {"r": json.dumps(PLAN)},
        )
        await connection.execute(
            text(
                f"INSERT INTO questionnaire_response (id, {common}, status)"
                " VALUES ('fb-1', 1, '2025-12-05 10:00:00', :r, 'completed')"
            ),
            {"r": json.dumps(FEEDBACK)},
        )
    await engine.dispose()
    await asyncio.to_thread(upgrade, "transitions", url)
    engine = create_async_engine(url)
    async with engine.connect() as connection:
        case = (
            await connection.execute(
                text("SELECT discussion_date, formalised_at, actioned_at, actioned_late FROM task")
            )
        ).one()
        plan = (await connection.execute(text("SELECT agreement, agreement_recorded FROM care_plan"))).one()
        experience = (await connection.execute(text("SELECT experience FROM questionnaire_response"))).scalar_one()
    await engine.dispose()
    assert tuple(case) == ("2025-10-01", "2025-11-01 10:00:00.000000", "2025-12-01 10:00:00.000000", 1)
    assert tuple(plan) == ("agreed", "2025-11-01 10:00:00.000000")
    assert experience == "positive"
