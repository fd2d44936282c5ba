"""Bulk loading referrals straight into the referrals service's PostgreSQL database.

Each referral is built the way `services.referrals.service.referrals._store` builds it (the
validated ServiceRequest with its identifier, status, authoredOn and received-at, spell and
direction extensions; a referral Task owned by the receiving team), stamped and serialised by
the repository's own `_stamp`, and given the search columns of `service_request_row` and
`task_row` plus the columns the service sets itself (`requester_team`, `clock_start`,
`clock_stop`, `support_status`). Rows go in with COPY, a chunk at a time; the secondary indexes
are dropped for the load and recreated from their own definitions afterwards, then the tables
are analysed. Each row's current version is also written to `resource_history` (earlier
versions are not synthesised). No outbox rows: these referrals' events were delivered long ago.

Referrals are spread evenly over the partnership's intensive and early-intervention teams
(level 5), sent by a core team's worker in the same borough, in a fixed mix of states. Undecided
referrals (requested, triage) are recent enough that no escalation is due, so the service's
escalation sweep finds work to read but none to write.
"""

from __future__ import annotations

import contextlib
import os
import random
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from bench.payloads import referral
from reference.partnership import Team, directory
from services.kit.clock import instant
from services.kit.fhir import concept, reference, set_extension
from services.kit.repository import _stamp
from services.kit.resources import validate
from services.referrals.domain import rules
from services.referrals.domain.codes import (
    CS_STATE,
    CS_TASK,
    EXT_DIRECTION,
    EXT_RECEIVED_AT,
    EXT_SPELL,
    REFERRAL_ID,
    TASK_STATUS,
    State,
    SupportStatus,
    TaskCode,
)
from services.referrals.persistence import tables
from services.referrals.service.context import stamp_actor, team_reference

# The mix of states the loaded referrals are in, with the version each state's Task has reached.
STATES: tuple[tuple[State, float, int], ...] = (
    (State.RECEIVED, 0.30, 1),
    (State.TRIAGE, 0.10, 2),
    (State.ACCEPTED_WAITING, 0.20, 3),
    (State.STARTED, 0.10, 4),
    (State.CLOSED, 0.15, 5),
    (State.DECLINED, 0.07, 2),
    (State.CANCELLED, 0.08, 2),
)
CHUNK = 10_000


def _ms(moment: datetime) -> datetime:
    """To the millisecond, as the service's clock gives time (services.kit.clock.SystemClock)."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def asyncpg_dsn(url: str) -> str:
    """A libpq-style DSN for asyncpg from an SQLAlchemy URL."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def receiving_teams() -> list[Team]:
    """The teams the loaded referrals go to: the partnership's level-5 (intensive, EIP) services."""
    d = directory()
    return sorted((t for t in d.teams.values() if t.level == 5 and d.internal(t)), key=lambda t: t.id)


@dataclass
class Generator:
    """Builds referral rows: deterministic for a seed, `now` fixed at construction."""

    seed: int
    now: datetime

    def __post_init__(self) -> None:
        self.random = random.Random(self.seed)
        d = directory()
        self.directory = d
        self.teams = receiving_teams()
        self.core_workers: dict[str | None, list[str]] = {}
        for role_id, role in sorted(d.roles.items()):
            team = d.teams[role.team]
            if team.type.value == "core-cmht" and role_id.endswith("-worker"):
                self.core_workers.setdefault(team.borough, []).append(role_id)
        self.template = validate(referral("Patient/template"), "ServiceRequest")
        self.weights = [w for _, w, _ in STATES]

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self.random.getrandbits(128), version=4))

    def _received_at(self, state: State, team: Team) -> datetime:
        if state in (State.RECEIVED, State.TRIAGE):
            # Undecided and recent: no escalation due (the sweep would otherwise write escalations).
            received = self.now - timedelta(hours=self.random.uniform(0.0, 20.0))
            while rules.escalation_levels_due(received, self.now, team) and self.now - received > timedelta(minutes=1):
                received = self.now - (self.now - received) / 2
            return _ms(received)
        return _ms(self.now - timedelta(days=self.random.uniform(1.0, 365.0)))

    def referral(self, index: int) -> tuple[dict[str, Any], dict[str, Any], list[tuple[Any, ...]]]:
        """One referral: its service_request row, its task row and their two history rows."""
        rnd = self.random
        state, _, task_version = rnd.choices(STATES, weights=self.weights)[0]
        team = self.teams[index % len(self.teams)]
        requester_role = rnd.choice(self.core_workers.get(team.borough) or next(iter(self.core_workers.values())))
        requester = f"PractitionerRole/{requester_role}"
        requester_team = self.directory.teams[self.directory.roles[requester_role].team]
        subject = f"Patient/{self._uuid()}"
        received = self._received_at(state, team)
        later = _ms(min(self.now, received + timedelta(days=rnd.uniform(0.1, 30.0))))
        changed = received if task_version == 1 else later
        sr_id, task_id = self._uuid(), self._uuid()

        # The ServiceRequest, as create_referral and _store leave it.
        resource = {**self.template, "subject": {"reference": subject}, "requester": {"reference": requester}}
        resource["performer"] = [{"reference": f"HealthcareService/{team.id}"}]
        resource["identifier"] = [{"system": REFERRAL_ID, "value": self._uuid()}]
        resource["status"] = "active"
        resource["authoredOn"] = instant(received)
        set_extension(resource, EXT_RECEIVED_AT, valueDateTime=instant(received))
        set_extension(resource, EXT_SPELL, valueString=sr_id)
        set_extension(resource, EXT_DIRECTION, valueCode=rules.direction(requester_team, True, team).value)
        sr_version = 1
        if state in (State.CLOSED, State.DECLINED, State.CANCELLED):
            resource["status"] = "revoked" if state in (State.DECLINED, State.CANCELLED) else "completed"
            sr_version = 2
        sr_updated = received if sr_version == 1 else changed
        sr_body = _stamp(resource, sr_id, sr_version, sr_updated)

        # Its referral Task, as _store creates it and the operations move it on.
        task: dict[str, Any] = {
            "resourceType": "Task",
            "status": TASK_STATUS[state],
            "intent": "order",
            "code": concept(CS_TASK, TaskCode.REFERRAL, "Referral"),
            "businessStatus": concept(CS_STATE, state),
            "focus": reference("ServiceRequest", sr_id),
            "basedOn": [reference("ServiceRequest", sr_id)],
            "for": resource["subject"],
            "requester": resource["requester"],
            "owner": team_reference(team),
            "authoredOn": instant(received),
        }
        stamp_actor(task, requester if task_version == 1 else f"PractitionerRole/{team.id}-worker", changed)
        task_body = _stamp(task, task_id, task_version, changed)
        stopped = state in (State.STARTED, State.CLOSED)
        clock_stop = _ms(min(self.now, received + timedelta(days=rnd.uniform(7.0, 120.0)))) if stopped else None
        support = SupportStatus.SUPPORTED.value if state is State.ACCEPTED_WAITING else None

        sr_row = {
            "id": sr_id,
            "version_id": sr_version,
            "last_updated": sr_updated,
            "resource": sr_body.decode(),
            **tables.service_request_row(resource),
            "requester_team": f"HealthcareService/{requester_team.id}",
        }
        task_row = {
            "id": task_id,
            "version_id": task_version,
            "last_updated": changed,
            "resource": task_body.decode(),
            **tables.task_row(task),
            "clock_start": received,
            "clock_stop": clock_stop,
            "support_status": support,
            "escalation_key": None,
        }
        history = [
            ("ServiceRequest", sr_id, sr_version, sr_updated, sr_row["resource"]),
            ("Task", task_id, task_version, changed, task_row["resource"]),
        ]
        return sr_row, task_row, history

    def chunks(self, start: int, count: int) -> Iterator[tuple[list[tuple[Any, ...]], ...]]:
        """Rows for referrals `start` .. `start + count - 1`, CHUNK at a time, as COPY records."""
        sr_columns = [c.name for c in tables.service_request.columns]
        task_columns = [c.name for c in tables.task.columns]
        for first in range(start, start + count, CHUNK):
            srs, tasks, history = [], [], []
            for index in range(first, min(first + CHUNK, start + count)):
                sr_row, task_row, versions = self.referral(index)
                srs.append(tuple(sr_row[c] for c in sr_columns))
                tasks.append(tuple(task_row[c] for c in task_columns))
                history += versions
            yield srs, tasks, history


_SECONDARY_INDEXES = """
SELECT i.indexname, i.indexdef FROM pg_indexes i
WHERE i.schemaname = current_schema() AND i.tablename = ANY($1::text[])
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)
ORDER BY i.indexname
"""


async def load(url: str, generator: Generator, start: int, count: int) -> dict[str, Any]:
    """COPY `count` more referrals into the database at `url`; returns what was loaded and how fast."""
    began = time.perf_counter()
    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        indexes = await connection.fetch(_SECONDARY_INDEXES, ["service_request", "task"])
        for row in indexes:
            await connection.execute(f'DROP INDEX "{row["indexname"]}"')
        sr_columns = [c.name for c in tables.service_request.columns]
        task_columns = [c.name for c in tables.task.columns]
        history_columns = [c.name for c in tables.history.columns]
        for srs, tasks, history in generator.chunks(start, count):
            async with connection.transaction():
                await connection.copy_records_to_table("service_request", records=srs, columns=sr_columns)
                await connection.copy_records_to_table("task", records=tasks, columns=task_columns)
                await connection.copy_records_to_table("resource_history", records=history, columns=history_columns)
        copied = time.perf_counter()
        for row in indexes:
            await connection.execute(row["indexdef"])
        indexed = time.perf_counter()
        await connection.execute("VACUUM ANALYZE service_request")
        await connection.execute("VACUUM ANALYZE task")
        await connection.execute("VACUUM ANALYZE resource_history")
        with contextlib.suppress(asyncpg.PostgresError):  # needs a superuser or pg_checkpoint
            # Write the load out now, not while the worklist is being timed.
            await connection.execute("CHECKPOINT")
        totals = {
            name: int(await connection.fetchval(f"SELECT count(*) FROM {name}"))
            for name in ("service_request", "task", "resource_history")
        }
        size = await connection.fetchval("SELECT pg_size_pretty(pg_database_size(current_database()))")
    finally:
        await connection.close()
    done = time.perf_counter()
    return {
        "added": count,
        "rows": totals,
        "database_size": size,
        "copy_s": round(copied - began, 1),
        "index_s": round(indexed - copied, 1),
        "analyze_s": round(done - indexed, 1),
        "referrals_per_s": round(count / (copied - began)),
        "indexes_rebuilt": [row["indexname"] for row in indexes],
    }


def postgres_url() -> str | None:
    """The PostgreSQL server to use, if any (an SQLAlchemy asyncpg URL to an admin database)."""
    return os.environ.get("BENCH_POSTGRES_URL") or os.environ.get("CONTINUUM_TEST_POSTGRES_URL") or None


async def admin(url: str, sql: str) -> None:
    """Run one statement on the server's admin database (CREATE or DROP DATABASE)."""
    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        await connection.execute(sql)
    finally:
        await connection.close()
