"""Direct inserts for care-plans reporting fixtures, consistent with persistence/tables.py (for states
and dates the API would only reach over months, such as plans created a year ago)."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import FastAPI

from services.careplans.domain.codes import DIALOG_URL
from services.careplans.persistence import tables
from services.kit.db import Database

NOW = datetime(2026, 1, 5, 9, tzinfo=UTC)
BARNET_WORKER = "PractitionerRole/barnet-core-north-worker"
CAMDEN_WORKER = "PractitionerRole/camden-core-north-worker"
_ids = itertools.count(1)


def at(text: str) -> datetime:
    """An aware UTC instant from `2025-11-01T00:00:00`."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


class Rows:
    """Rows to insert into the care-plans tables."""

    def __init__(self) -> None:
        self.plans: list[dict[str, Any]] = []
        self.responses: list[dict[str, Any]] = []
        self.observations: list[dict[str, Any]] = []
        self.sessions: list[dict[str, Any]] = []

    def plan(self, person: str, category: str, status: str, created: str, author: str = BARNET_WORKER) -> Rows:
        """A CarePlan of `Patient/{person}`."""
        n = next(_ids)
        resource = {"resourceType": "CarePlan", "id": f"cp-{n}", "status": status, "author": {"reference": author}}
        self.plans.append(
            {
                "id": f"cp-{n}",
                "version_id": 1,
                "last_updated": NOW,
                "resource": json.dumps(resource),
                "subject": f"Patient/{person}",
                "category": category,
                "status": status,
                "author": author,
                "created": at(created),
            }
        )
        return self

    def session(self, person: str, held: str) -> Rows:
        """A DIALOG+ session held with `Patient/{person}`."""
        n = next(_ids)
        self.sessions.append(
            {"id": f"s-{n}", "subject": f"Patient/{person}", "plan": f"CarePlan/cp-{n}", "held_at": at(held)}
        )
        return self

    def dialog(
        self,
        person: str,
        authored: str,
        referral: str | None = None,
        author: str = BARNET_WORKER,
        scores: dict[str, float | None] | None = None,
        timepoint: str = "follow-up",
    ) -> Rows:
        """A recorded DIALOG (and, with `scores`, its score Observations: scale -> value or None)."""
        n = next(_ids)
        qr_id = f"qr-{n}"
        resource = {"resourceType": "QuestionnaireResponse", "id": qr_id, "author": {"reference": author}}
        self.responses.append(
            {
                "id": qr_id,
                "version_id": 1,
                "last_updated": NOW,
                "resource": json.dumps(resource),
                "subject": f"Patient/{person}",
                "questionnaire": DIALOG_URL,
                "based_on": f"ServiceRequest/{referral}" if referral else None,
                "authored": at(authored),
                "status": "completed",
            }
        )
        for scale, value in (scores or {}).items():
            observation: dict[str, Any] = {"resourceType": "Observation", "id": f"ob-{n}-{scale}"}
            if value is not None:
                observation["valueQuantity"] = {"value": value, "code": "{score}"}
            self.observations.append(
                {
                    "id": f"ob-{n}-{scale}",
                    "version_id": 1,
                    "last_updated": NOW,
                    "resource": json.dumps(observation),
                    "subject": f"Patient/{person}",
                    "code": scale,
                    "derived_from": f"QuestionnaireResponse/{qr_id}",
                    "based_on": f"ServiceRequest/{referral}" if referral else None,
                    "effective": at(authored),
                    "timepoint": timepoint,
                }
            )
        return self

    async def insert(self, app: FastAPI) -> None:
        """Insert every row in one transaction."""
        database: Database = app.state.database
        async with database.session(writing=True) as session:
            for table, rows in (
                (tables.care_plan, self.plans),
                (tables.questionnaire_response, self.responses),
                (tables.observation, self.observations),
                (tables.dialog_plus_session, self.sessions),
            ):
                for row in rows:
                    await session.execute(table.insert().values(**row))
            await session.commit()


async def report(client: httpx.AsyncClient, measure: str, start: str, end: str) -> dict[str, Any]:
    """Evaluate a measure (asserting 200) and return the MeasureReport."""
    response = await client.get(
        f"/fhir/Measure/{measure}/$evaluate-measure", params={"periodStart": start, "periodEnd": end}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body
