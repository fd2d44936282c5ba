"""Direct inserts for reporting fixtures, consistent with persistence/tables.py (for volume and for
states the API refuses to create, such as a waiting referral with no support decision)."""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import Table

from services.kit.db import Database
from services.referrals.domain.codes import CS_DECLINE, CS_STATE
from services.referrals.persistence import tables

NOW = datetime(2026, 1, 5, 9, tzinfo=UTC)
_ids = itertools.count(1)


def at(text: str) -> datetime:
    """An aware UTC instant from `2025-11-01T00:00:00`."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def referral_rows(
    *,
    team: str,
    patient: str,
    clock_start: datetime,
    clock_stop: datetime | None = None,
    status: str = "accepted",
    business_status: str = "accepted-waiting",
    support: str | None = "interim-support",
    source: str = "internal-team",
    reason: str | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A referral ServiceRequest row and its referral Task row."""
    n = next(_ids)
    sr_id, task_id = f"sr-{n}", f"task-{n}"
    owner = f"HealthcareService/{team}"
    task_resource: dict[str, Any] = {"resourceType": "Task", "id": task_id, "status": status}
    if reason:
        task_resource["statusReason"] = {"coding": [{"system": CS_DECLINE, "code": reason}]}
    common = {"version_id": 1, "last_updated": NOW}
    sr = {
        **common,
        "id": sr_id,
        "resource": json.dumps({"resourceType": "ServiceRequest", "id": sr_id}),
        "subject": f"Patient/{patient}",
        "performer": owner,
        "requester": "PractitionerRole/barnet-core-north-worker",
        "requester_team": "HealthcareService/barnet-core-north",
        "status": "active",
        "source": source,
        "received_at": clock_start,
        "spell": sr_id,
    }
    task = {
        **common,
        "id": task_id,
        "resource": json.dumps(task_resource),
        "code": "referral",
        "status": status,
        "business_status": business_status,
        "focus": f"ServiceRequest/{sr_id}",
        "owner": owner,
        "subject": f"Patient/{patient}",
        "clock_start": clock_start,
        "clock_stop": clock_stop,
        "support_status": support,
    }
    return sr, task


def seen(task: Mapping[str, Any], when: datetime, milestone: str = "seen") -> tuple[Table, dict[str, Any]]:
    """A clock event of the referral's spell: a contact where the person was seen (by default)."""
    n = next(_ids)
    spell = str(task["focus"]).removeprefix("ServiceRequest/")
    return tables.clock_event, {"id": f"ce-{n}", "spell": spell, "milestone": milestone, "at": when}


def version(task: Mapping[str, Any], number: int, when: datetime, business_status: str) -> tuple[Table, dict[str, Any]]:
    """A stored version of the referral Task in the history table, in `business_status`."""
    resource = {
        "resourceType": "Task",
        "id": task["id"],
        "businessStatus": {"coding": [{"system": CS_STATE, "code": business_status}]},
    }
    values = {
        "resource_type": "Task",
        "id": task["id"],
        "version_id": number,
        "last_updated": when,
        "resource": json.dumps(resource),
    }
    return tables.history, values


def escalation(
    task: Mapping[str, Any], raised: datetime, resolved: datetime | None = None
) -> tuple[Table, dict[str, Any]]:
    """An escalation Task of a referral Task, completed at `resolved` (or still open)."""
    n = next(_ids)
    values = {
        "id": f"esc-{n}",
        "version_id": 2 if resolved else 1,
        "last_updated": resolved or raised,
        "resource": json.dumps({"resourceType": "Task", "id": f"esc-{n}"}),
        "code": "acceptance-decision-escalation",
        "status": "completed" if resolved else "requested",
        "focus": f"Task/{task['id']}",
        "owner": "PractitionerRole/barnet-psychosis-lead",
        "subject": task["subject"],
        "authored_on": raised,
        "escalation_key": f"{task['id']}:{n}",
    }
    return tables.task, values


def waited(team: str, patient: str, stop: datetime, days: int, **kw: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """A referral whose clock stopped at `stop` after `days` whole days (plus three hours)."""
    start = stop - timedelta(days=days, hours=3)
    return referral_rows(
        team=team,
        patient=patient,
        clock_start=start,
        clock_stop=stop,
        status="in-progress",
        business_status="started",
        **kw,
    )


async def insert(
    app: FastAPI,
    referrals: Sequence[tuple[dict[str, Any], dict[str, Any]]] = (),
    patients: Mapping[str, date | None] | None = None,
    told: Sequence[tuple[str, datetime]] = (),
    demographics: Mapping[str, Mapping[str, Any]] | None = None,
    extra: Sequence[tuple[Table, Mapping[str, Any]]] = (),
) -> None:
    """Insert referrals, patient facts (id → birth date, plus `demographics` columns), waiting-time
    Communications (focus, sent) and any `extra` rows (table, values)."""
    database: Database = app.state.database
    async with database.session(writing=True) as session:
        for sr, task in referrals:
            await session.execute(tables.service_request.insert().values(**sr))
            await session.execute(tables.task.insert().values(**task))
        births = dict(patients or {})
        for id_ in demographics or {}:
            births.setdefault(id_, None)
        for id_, birth in births.items():
            columns = dict((demographics or {}).get(id_, {}))
            await session.execute(
                tables.patient_facts.insert().values(
                    id=id_, birth_date=birth, borough="barnet", updated_at=NOW, **columns
                )
            )
        for focus, sent in told:
            n = next(_ids)
            await session.execute(
                tables.communication.insert().values(
                    id=f"comm-{n}",
                    version_id=1,
                    last_updated=NOW,
                    resource=json.dumps({"resourceType": "Communication", "id": f"comm-{n}"}),
                    subject=None,
                    based_on=focus,
                    category="waiting-time",
                    sent=sent,
                )
            )
        for table, values in extra:
            await session.execute(table.insert().values(**values))
        await session.commit()


async def report(client: httpx.AsyncClient, measure: str, start: str, end: str) -> dict[str, Any]:
    """Evaluate a measure (asserting 200) and return the MeasureReport."""
    response = await client.get(
        f"/fhir/Measure/{measure}/$evaluate-measure", params={"periodStart": start, "periodEnd": end}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def population(container: dict[str, Any], code: str) -> int | None:
    """A population's count in a group or stratum (None when suppressed)."""
    for entry in container["population"]:
        if entry["code"]["coding"][0]["code"] == code:
            count: int | None = entry.get("count")
            return count
    raise AssertionError(f"no {code} population")


def score(container: dict[str, Any]) -> float | None:
    """A group's or stratum's measureScore value (None when absent or suppressed)."""
    value: float | None = container.get("measureScore", {}).get("value")
    return value


def strata(report_: dict[str, Any], stratifier: str, group: int = 0) -> dict[str, dict[str, Any]]:
    """A stratifier's strata by value text (`a|b` for components)."""
    for found in report_["group"][group]["stratifier"]:
        if found["code"][0]["text"] == stratifier:
            out = {}
            for stratum in found["stratum"]:
                if "value" in stratum:
                    key = stratum["value"]["text"]
                else:
                    key = "|".join(c["value"]["text"] for c in stratum["component"])
                out[key] = stratum
            return out
    raise AssertionError(f"no stratifier {stratifier}")
