"""Migration 0002 backfills one `dialog_plus_session` row per session already recorded in a DIALOG+ plan."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from services.careplans.domain.codes import EXT_EPISODE, EXT_SESSION
from services.kit.migrate import upgrade

PLAN = {
    "resourceType": "CarePlan",
    "id": "cp-1",
    "status": "active",
    "subject": {"reference": "Patient/p-1"},
    "extension": [
        {"url": EXT_EPISODE, "valueReference": {"reference": "EpisodeOfCare/e-1"}},
        {
            "url": EXT_SESSION,
            "extension": [
                {"url": "date", "valueDateTime": "2025-06-01T10:00:00Z"},
                {"url": "clinician", "valueReference": {"reference": "PractitionerRole/barnet-core-north-worker"}},
            ],
        },
        {"url": EXT_SESSION, "extension": [{"url": "date", "valueDateTime": "2025-09-01"}]},
    ],
}


async def test_sessions_recorded_before_the_table_existed_are_backfilled(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'careplans.db'}"
    await asyncio.to_thread(upgrade, "careplans", url, "0001")
    engine = create_async_engine(url)
    async with engine.begin() as connection:
        for id_, category, resource in (
            ("cp-1", "dialog-plus-personalised-plan", PLAN),
            ("cp-2", "crisis", {**PLAN, "id": "cp-2"}),  # not a DIALOG+ plan: no sessions read
        ):
            await connection.execute(
                text(
                    "INSERT INTO care_plan (id, version_id, last_updated, resource, subject, category, status)"
                    " VALUES (:id, 1, '2025-09-01 10:00:00', :resource, 'Patient/p-1', :category, 'active')"
                ),
                {"id": id_, "resource": json.dumps(resource), "category": category},
            )
    await engine.dispose()
    await asyncio.to_thread(upgrade, "careplans", url)
    engine = create_async_engine(url)
    async with engine.connect() as connection:
        rows = (
            await connection.execute(
                text("SELECT id, subject, plan, episode, clinician, held_at FROM dialog_plus_session ORDER BY id")
            )
        ).all()
    await engine.dispose()
    assert [tuple(r) for r in rows] == [
        (
            "cp-1#1",
            "Patient/p-1",
            "CarePlan/cp-1",
            "EpisodeOfCare/e-1",
            "PractitionerRole/barnet-core-north-worker",
            "2025-06-01 10:00:00.000000",
        ),
        ("cp-1#2", "Patient/p-1", "CarePlan/cp-1", "EpisodeOfCare/e-1", None, "2025-09-01 00:00:00.000000"),
    ]
