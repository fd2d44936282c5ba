"""Scale: the team worklist with 10,000 (and, with --million, 1,000,000) referrals in PostgreSQL.

A fresh database on the configured server (BENCH_POSTGRES_URL, else CONTINUUM_TEST_POSTGRES_URL),
migrated with the service's own migrations and loaded in bulk (bench/bulk.py). The referrals
service and the gateway run as real processes on it; the worklist (one team's requested referral
Tasks, longest wait first, first 50) is timed one request at a time, straight at the referrals
service and through the gateway, and its SQL, captured from the service's own repository code, is
EXPLAINed (ANALYZE, BUFFERS) to show which index serves it. Also timed, in process: the escalation
sweep the service runs at start and every minute, which reads every undecided referral.
Goal (issue 8): worklist p95 under 50 ms, and with 1,000,000 referrals at most twice its
10,000-referral p95. The database is dropped afterwards (BENCH_KEEP_DB=1 keeps it).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import asyncpg
from sqlalchemy import event
from sqlalchemy.engine import make_url

from bench import bulk, load
from bench.payloads import FHIR, PERFORMER
from bench.processes import ClosedPort, Processes, Stack, build_stack
from bench.report import say, table, verdict, write
from reference.partnership import directory
from services.kit.clock import SystemClock
from services.kit.db import Database
from services.kit.migrate import upgrade
from services.kit.repository import ResourceRepository
from services.kit.search import parse_search
from services.referrals.api.search_specs import TASK
from services.referrals.persistence import tables
from services.referrals.service.context import Context
from services.referrals.service.worklists import sweep_escalations
from services.referrals.settings import Settings

GOAL_P95_MS = 50.0
GOAL_GROWTH = 2.0
INDEX = "ix_task_owner_status_clock"
WORKLIST = [("owner", PERFORMER), ("status", "requested"), ("_sort", "wait"), ("_count", "50")]
# Through the gateway a Task search names its code, or it is sent to every service that holds Tasks.
GATEWAY_WORKLIST = [("code", "referral"), *WORKLIST]
# The same page without the searchset's total (no count of the team's whole queue): informational.
WORKLIST_NO_TOTAL = [*WORKLIST, ("_total", "none")]
# Every open state at once (requested, received, accepted, in-progress): informational.
OPEN_STATUSES = ["requested", "received", "accepted", "in-progress"]
OPEN_WORKLIST = [
    ("owner", PERFORMER),
    ("status", ",".join(OPEN_STATUSES)),
    ("_sort", "wait"),
    ("_count", "50"),
]


async def explain(url: str, query: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """EXPLAIN (ANALYZE, BUFFERS) each statement the service's own search code sends for `query`."""
    database = Database(url)
    captured: list[tuple[str, Any]] = []

    @event.listens_for(database.engine.sync_engine, "before_cursor_execute")
    def _capture(_c: Any, _cur: Any, statement: str, parameters: Any, _ctx: Any, _many: bool) -> None:
        captured.append((statement, parameters))

    settings = Settings(database_url=url)
    search = parse_search(TASK, query, default_count=settings.default_page_size, max_count=settings.max_page_size)
    try:
        async with database.session(writing=False) as session:
            repo = ResourceRepository(session, tables.KINDS["Task"], tables.history)
            await repo.search(search.where, search.order_by, search.count, search.offset, count=search.want_total)
            await session.rollback()
    finally:
        await database.dispose()
    connection = await asyncpg.connect(bulk.asyncpg_dsn(url))
    plans = []
    try:
        for statement, parameters in captured:
            rows = await connection.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {statement}", *(parameters or ()))
            plan = [str(row[0]) for row in rows]
            plans.append(
                {
                    "sql": " ".join(statement.split()),
                    "parameters": [str(p) for p in parameters or ()],
                    "plan": plan,
                    "uses_index": INDEX in "\n".join(plan),
                    "seq_scan": any("Seq Scan" in line for line in plan),
                }
            )
    finally:
        await connection.close()
    return plans


async def time_sweep(url: str) -> dict[str, Any]:
    """One escalation sweep, as the service runs it at start and every minute (rolled back)."""
    database = Database(url)
    try:
        async with database.session(writing=True) as session:
            ctx = Context(session, SystemClock().now(), Settings(database_url=url), directory())
            began = time.perf_counter()
            created = await sweep_escalations(ctx)
            elapsed = time.perf_counter() - began
            await session.rollback()
    finally:
        await database.dispose()
    return {"seconds": round(elapsed, 3), "escalations_due": created}


def _measure(base: str, token: str, query: list[tuple[str, str]], seconds: float, watch: dict[str, int]) -> load.Result:
    headers = {"Authorization": f"Bearer {token}", "Accept": FHIR["Content-Type"]}
    spec = load.Spec(base, [f"/fhir/Task?{urlencode(query)}"], "GET", headers, None, 1, seconds)
    return load.run(spec, warmup=1.0, watch=watch)


def _size_run(url: str, stack: Stack, token: str, seconds: float, counts: dict[str, Any]) -> dict[str, Any]:
    watch = {"gateway": stack.gateway.pid, "referrals": stack.referrals.pid}
    direct = _measure(stack.referrals_url, token, WORKLIST, seconds, watch)
    gateway = _measure(stack.gateway_url, token, GATEWAY_WORKLIST, seconds, watch)
    no_total = _measure(stack.referrals_url, token, WORKLIST_NO_TOTAL, seconds, watch)
    open_all = _measure(stack.referrals_url, token, OPEN_WORKLIST, seconds, watch)
    plans = asyncio.run(explain(url, WORKLIST))
    gateway_plans = asyncio.run(explain(url, GATEWAY_WORKLIST))
    open_plans = asyncio.run(explain(url, OPEN_WORKLIST))
    sweep = asyncio.run(time_sweep(url))
    return {
        **counts,
        "worklist_direct": direct.row(),
        "worklist_via_gateway": gateway.row(),
        "worklist_without_total_direct": no_total.row(),
        "open_worklist_direct": open_all.row(),
        "explain": plans,
        "explain_gateway_worklist": gateway_plans,
        "explain_open_worklist": open_plans,
        "index_used": all(p["uses_index"] for p in plans),
        "escalation_sweep": sweep,
    }


async def _team_counts(url: str) -> dict[str, Any]:
    connection = await asyncpg.connect(bulk.asyncpg_dsn(url))
    try:
        team_requested = await connection.fetchval(
            "SELECT count(*) FROM task WHERE owner = $1 AND status = 'requested'", PERFORMER
        )
        team_open = await connection.fetchval(
            "SELECT count(*) FROM task WHERE owner = $1 AND status = ANY($2::text[])", PERFORMER, OPEN_STATUSES
        )
        undecided = await connection.fetchval("SELECT count(*) FROM task WHERE status IN ('requested','received')")
    finally:
        await connection.close()
    return {"team_requested": int(team_requested), "team_open": int(team_open), "undecided_all_teams": int(undecided)}


def run(duration: float, million: bool, memory: dict[str, dict[str, float | None]]) -> dict[str, Any]:
    """Load, measure, explain; print the table and write bench/results/scale.json (or say why it was skipped)."""
    admin = bulk.postgres_url()
    if admin is None:
        reason = "PostgreSQL is not configured: set BENCH_POSTGRES_URL or CONTINUUM_TEST_POSTGRES_URL"
        say(f"scale: SKIPPED ({reason}, e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/postgres)")
        write("scale", {"skipped": reason})
        return {"skipped": reason}
    seconds = max(5.0, duration * 0.8)
    name = f"continuum_bench_{uuid.uuid4().hex[:10]}"
    url = make_url(admin).set(database=name).render_as_string(hide_password=False)
    workdir = Path(tempfile.mkdtemp(prefix="continuum-bench-scale-"))
    processes = Processes()
    down = ClosedPort()
    sizes: dict[str, Any] = {}
    asyncio.run(bulk.admin(admin, f'CREATE DATABASE "{name}"'))
    try:
        upgrade("referrals", url)
        generator = bulk.Generator(seed=8, now=SystemClock().now())
        targets = [10_000, 1_000_000] if million else [10_000]
        loaded = 0
        stack = None
        for target in targets:
            say(f"scale: loading {target - loaded:,} referrals into PostgreSQL ({name}) ...")
            loading = asyncio.run(bulk.load(url, generator, loaded, target - loaded))
            loaded = target
            if stack is None:
                stack = build_stack(workdir, down, {"referrals": url})
                # Only the sweep at start: the measurements below must not overlap a minute's sweep.
                stack.referrals.env["REFERRALS_SWEEP_INTERVAL_SECONDS"] = "3600"
            # A fresh start on each size: its escalation sweep at start reads every undecided referral.
            processes.stop_all()
            processes.start(stack.gateway, stack.referrals)
            token = stack.token("epr-beh")
            busy = stack.referrals.wait_until_idle(timeout=600.0)
            counts = {"referrals": target, "load": loading, "service_busy_after_start_s": round(busy, 1)}
            counts |= asyncio.run(_team_counts(url))
            say(f"scale: {target:,} referrals loaded ({loading['database_size']}); timing the worklist ...")
            sizes[str(target)] = _size_run(url, stack, token, seconds, counts)
            memory[f"scale_{target}"] = {
                "gateway": stack.gateway.peak_rss_mib(),
                "referrals": stack.referrals.peak_rss_mib(),
            }
    finally:
        processes.stop_all()
        down.close()
        shutil.rmtree(workdir, ignore_errors=True)
        if os.environ.get("BENCH_KEEP_DB") == "1":
            say(f"(kept the database {name})")
        else:
            asyncio.run(bulk.admin(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    return _report(sizes, seconds, million, memory)


def _plan_summary(plan: list[str]) -> str:
    """The scan nodes and the execution time of a plan, on one line."""
    nodes = [line.strip().removeprefix("->").strip().split("  (")[0] for line in plan if "Scan" in line]
    heap = [line.strip() for line in plan if "Heap Fetches" in line or "Heap Blocks" in line]
    total = [line.strip() for line in plan if line.startswith("Execution Time")]
    return "; ".join([*nodes, *heap, *total])


def _report(sizes: dict[str, Any], seconds: float, million: bool, memory: dict[str, Any]) -> dict[str, Any]:
    small = sizes["10000"]
    p95_10k = small["worklist_direct"]["p95_ms"]
    goals: dict[str, Any] = {"p95_ms_under": GOAL_P95_MS, "p95_10k_met": p95_10k < GOAL_P95_MS}
    growth = None
    if "1000000" in sizes:
        big = sizes["1000000"]
        growth = big["worklist_direct"]["p95_ms"] / p95_10k if p95_10k else None
        goals |= {
            "p95_1m_met": big["worklist_direct"]["p95_ms"] < GOAL_P95_MS,
            "growth_at_most": GOAL_GROWTH,
            "growth_met": growth is not None and growth <= GOAL_GROWTH,
        }
    figures: dict[str, Any] = {
        "worklist_query": urlencode(WORKLIST),
        "connections": 1,
        "seconds_per_measurement": seconds,
        "generator": load.generator_version(),
        "million": million,
        "sizes": sizes,
        "p95_growth_1m_over_10k": None if growth is None else round(growth, 2),
        "goals": goals,
        "peak_rss_mib": {k: v for k, v in memory.items() if k.startswith("scale_")},
    }
    path = write("scale", figures)
    rows = []
    for size, found in sizes.items():
        for label, key in (
            ("worklist, referrals service", "worklist_direct"),
            ("worklist, through the gateway", "worklist_via_gateway"),
            ("worklist with _total=none, referrals service", "worklist_without_total_direct"),
            ("all open states, referrals service", "open_worklist_direct"),
        ):
            result = found[key]
            cpu = result["cpu_ms_per_request"]
            rows.append([f"{int(size):,}: {label}", result["requests"], result["p50_ms"], result["p95_ms"],
                         result["p99_ms"], result["unexpected"], cpu.get("gateway"), cpu.get("referrals")])  # fmt: skip
    say(table(f"Scale: one team's worklist, 1 connection, {seconds:g} s each (PostgreSQL)",
              ["referrals: query", "requests", "p50 ms", "p95 ms", "p99 ms", "errors", "CPU ms/req: gateway",
               "referrals"], rows))  # fmt: skip
    for size, found in sizes.items():
        say(
            f"  {int(size):,}: the team has {found['team_requested']:,} requested Tasks; {INDEX} used: "
            f"{found['index_used']}; escalation sweep over {found['undecided_all_teams']:,} undecided referrals: "
            f"{found['escalation_sweep']['seconds']:.2f} s"
        )
    say(f"  10k p95 {p95_10k:.1f} ms (goal < {GOAL_P95_MS:g} ms): {verdict(goals['p95_10k_met'])}")
    if growth is not None:
        big_p95 = sizes["1000000"]["worklist_direct"]["p95_ms"]
        say(f"  1M p95 {big_p95:.1f} ms (goal < {GOAL_P95_MS:g} ms): {verdict(goals['p95_1m_met'])}")
        say(f"  1M/10k p95 ratio {growth:.2f} (goal <= {GOAL_GROWTH:g}): {verdict(goals['growth_met'])}")
    else:
        say("  1,000,000 referrals: not run (make bench BENCH_ARGS=--million, or BENCH_MILLION=1)")
    largest = max(sizes, key=int)
    for statement in sizes[largest]["explain"]:
        say(f"  EXPLAIN ANALYZE at {int(largest):,} referrals: {statement['sql'][:110]} ...")
        for line in statement["plan"]:
            say(f"    {line}")
    for label, key in (
        ("with code=referral (gateway)", "explain_gateway_worklist"),
        ("all open states", "explain_open_worklist"),
    ):
        for statement in sizes[largest][key]:
            say(f"  EXPLAIN ANALYZE at {int(largest):,} referrals, {label}: {_plan_summary(statement['plan'])}")
    say(f"  -> {path.relative_to(path.parents[2])}")
    return figures
