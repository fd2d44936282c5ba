"""Measures: `$evaluate-measure` of the waiting-time KPI over 10,000 and 1,000,000 referrals in PostgreSQL.

A fresh database on the configured server (BENCH_POSTGRES_URL, else CONTINUUM_TEST_POSTGRES_URL),
migrated with the referrals service's own migrations and loaded in bulk (bench/bulk.py), with a
`patient_facts` row per person (birth date, ethnic category, sex, deprivation decile spread by a
hash of the person's id). Then `referral-to-clock-stop` (median and 90th percentile of referral to
clock stop) is evaluated over the last 365 days in process, by the service's own code
(`services.referrals.reporting.evaluate`), as `$evaluate-measure` runs it: totals and every
stratifier, including the two-way crossings `borough-age-band` and `ethnicity-sex`.

The baseline, in the same run and on the same rows: one SQL statement computing the unstratified
median and 90th percentile of the same clock stops (`percentile_cont` over the task table, no
joins), the least any evaluation of the measure must do. Reported: the evaluation's median time of
5 runs (after one warm-up), the baseline's, their ratio, and the time of one two-way stratifier's
query alone. Goal (issue 6): the evaluation under 5 s with 1,000,000 referrals on 2 cores.
The database is dropped afterwards (BENCH_KEEP_DB=1 keeps it).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from bench import bulk
from bench.report import say, table, verdict, write
from reference.partnership import directory
from services.kit.db import Database
from services.kit.migrate import upgrade
from services.kit.reporting import Period, percentiles, whole_days
from services.referrals.persistence import tables
from services.referrals.reporting.definitions import CATALOGUE
from services.referrals.reporting.evaluate import cohort, evaluate

GOAL_S = 5.0
RUNS = 5
MEASURE = "referral-to-clock-stop"

# One patient_facts row per person, its values spread by a hash of the person's id (deterministic).
_FACTS = """
INSERT INTO patient_facts
    (id, birth_date, borough, smi, high_risk, ethnic_category, sex, deprivation_decile, updated_at)
SELECT DISTINCT ON (subject)
    substr(subject, 9),
    date '1940-01-01' + (abs(hashtext(subject)) % 30000),
    'barnet', false, false,
    (ARRAY['A','B','C','D','E','F','G','H','J','K','L','M','N','P','R','S','Z'])
        [1 + abs(hashtext(subject || 'e')) % 17],
    (ARRAY['female','male','other','unknown'])[1 + abs(hashtext(subject || 's')) % 4],
    1 + abs(hashtext(subject || 'd')) % 10,
    now()
FROM task WHERE code = 'referral' AND subject IS NOT NULL
ON CONFLICT (id) DO NOTHING
"""


async def _facts(url: str) -> int:
    connection = await asyncpg.connect(bulk.asyncpg_dsn(url))
    try:
        await connection.execute("TRUNCATE patient_facts")
        await connection.execute(_FACTS)
        await connection.execute("VACUUM ANALYZE patient_facts")
        return int(await connection.fetchval("SELECT count(*) FROM patient_facts"))
    finally:
        await connection.close()


async def _timed(url: str, period: Period) -> dict[str, Any]:
    """Time the evaluation, the baseline and one crossing's query alone; check they agree."""
    database = Database(url)
    measure = CATALOGUE.by_id[MEASURE]
    teams = directory().teams
    now = datetime.now(UTC)
    t = tables.task
    days = whole_days(t.c.clock_start, t.c.clock_stop, "postgresql")
    baseline_query = select(
        func.count(),
        *(func.percentile_cont(f).within_group(days.asc()) for f in (0.5, 0.9)),
    ).where(
        t.c.code == "referral",
        t.c.clock_stop >= period.lower,
        t.c.clock_stop < period.upper,
        t.c.clock_start.is_not(None),
    )
    evaluations: list[float] = []
    baselines: list[float] = []
    crossings: list[float] = []
    report: dict[str, Any] = {}
    baseline_count = 0
    try:
        for run in range(RUNS + 1):
            async with database.session() as session:
                began = time.perf_counter()
                report = await evaluate(session, measure, period, teams, 5, now)
                evaluated = time.perf_counter() - began
                began = time.perf_counter()
                baseline_count = int((await session.execute(baseline_query)).one()[0])
                baselined = time.perf_counter() - began
                began = time.perf_counter()
                rows = cohort(measure, period, teams, "postgresql")
                await percentiles(session, rows, ("ethnicity", "sex"), "observation", (0.5, 0.9))
                crossed = time.perf_counter() - began
                await session.execute(text("SELECT 1"))
            if run:  # the first run warms the caches
                evaluations.append(evaluated)
                baselines.append(baselined)
                crossings.append(crossed)
    finally:
        await database.dispose()
    total = report["group"][0]["population"][0]["count"]
    assert total == baseline_count, (total, baseline_count)
    stratifiers = [s["code"][0]["text"] for s in report["group"][0]["stratifier"]]
    return {
        "clock_stops": total,
        "median_days": report["group"][0].get("measureScore", {}).get("value"),
        "p90_days": report["group"][1].get("measureScore", {}).get("value"),
        "stratifiers": stratifiers,
        "evaluate_s": round(statistics.median(evaluations), 3),
        "evaluate_runs_s": [round(x, 3) for x in evaluations],
        "baseline_s": round(statistics.median(baselines), 3),
        "ethnicity_sex_percentiles_s": round(statistics.median(crossings), 3),
    }


async def _run(admin: str, million: bool) -> dict[str, Any]:
    name = f"continuum_bench_measures_{uuid.uuid4().hex[:8]}"
    await bulk.admin(admin, f'CREATE DATABASE "{name}"')
    url = make_url(admin).set(database=name).render_as_string(hide_password=False)
    results: dict[str, Any] = {"database": name, "sizes": {}}
    try:
        await asyncio.to_thread(upgrade, "referrals", url)
        generator = bulk.Generator(seed=2026, now=datetime.now(UTC).replace(microsecond=0))
        today = generator.now.date()
        period = Period(today - timedelta(days=365), today)
        loaded = 0
        for size in (10_000, 1_000_000) if million else (10_000,):
            say(f"  loading {size - loaded:,} referrals ...")
            results.setdefault("loads", []).append(await bulk.load(url, generator, loaded, size - loaded))
            loaded = size
            people = await _facts(url)
            say(f"  evaluating {MEASURE} over {size:,} referrals ({people:,} people) ...")
            results["sizes"][str(size)] = await _timed(url, period)
        results["period"] = {"start": period.start.isoformat(), "end": period.end.isoformat()}
    finally:
        if os.environ.get("BENCH_KEEP_DB") != "1":
            await bulk.admin(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return results


def run(million: bool) -> dict[str, Any]:
    """The measures benchmark; skipped (saying so) without PostgreSQL."""
    say("Measures: $evaluate-measure of referral-to-clock-stop, every stratifier (two two-way crossings)")
    admin = bulk.postgres_url()
    if admin is None:
        reason = "no PostgreSQL: set BENCH_POSTGRES_URL or CONTINUUM_TEST_POSTGRES_URL"
        say(f"  skipped: {reason}")
        write("measures", {"skipped": reason})
        return {"skipped": reason}
    results = asyncio.run(_run(admin, million))
    rows = []
    for size, figures in results["sizes"].items():
        rows.append(
            [
                f"{int(size):,}",
                f"{figures['clock_stops']:,}",
                figures["evaluate_s"],
                figures["baseline_s"],
                round(figures["evaluate_s"] / figures["baseline_s"], 1) if figures["baseline_s"] else None,
                figures["ethnicity_sex_percentiles_s"],
                f"{figures['median_days']} / {figures['p90_days']}",
            ]
        )
    say(
        table(
            f"Evaluate {MEASURE} over {results['period']['start']}..{results['period']['end']} (median of {RUNS} runs)",
            ["referrals", "clock stops", "evaluate s", "baseline s", "ratio", "ethnicity×sex s", "median / p90 d"],
            rows,
        )
    )
    largest = results["sizes"][max(results["sizes"], key=int)]
    met = largest["evaluate_s"] < GOAL_S
    size = "1,000,000" if million else "10,000 (run --million for 1,000,000)"
    say(f"  goal: under {GOAL_S:g} s with {size}: {verdict(met)}")
    results["goal_s"] = GOAL_S
    results["met"] = met if million else None
    path = write("measures", results)
    say(f"  -> {path.relative_to(path.parents[2])}")
    return results


if __name__ == "__main__":
    run(os.environ.get("BENCH_MILLION") == "1")
