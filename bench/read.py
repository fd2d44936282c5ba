"""Read path: a referral read and a team worklist search through the gateway, against a bare `GET /health`.

The floor is the baseline app's `GET /health` (no database, a constant body): what one HTTP round
trip through uvicorn and FastAPI costs here. Reads through the gateway add the token checks, the
proxy hop, the referrals service's query and the gateway's AuditEvent; stored JSON is served as
stored. Goal (issue 8): each read at least 40% of the floor's throughput.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import httpx
import orjson

from bench import load
from bench.payloads import FHIR, PERFORMER, referral
from bench.report import say, table, verdict, write
from bench.stack import Running

GOAL_RATIO = 0.40
IDS = 200
WORKLIST = [("owner", PERFORMER), ("code", "referral"), ("status", "requested"), ("_sort", "wait"), ("_count", "50")]
# The query as the issue and the brief write it: no `code`, so the gateway fans Task out to every owner.
WORKLIST_WITHOUT_CODE = [(k, v) for k, v in WORKLIST if k != "code"]


def _ensure_referrals(r: Running, wanted: int) -> None:
    """Enough referrals to read and a worklist longer than a page (when run without the create benchmark)."""
    have = r.count("referrals", "SELECT count(*) FROM service_request")
    if have >= wanted:
        return
    with httpx.Client(base_url=r.stack.gateway_url, headers=r.auth, timeout=30.0) as client:
        for _ in range(wanted - have):
            answer = client.post("/fhir/ServiceRequest", content=orjson.dumps(referral(r.patient)))
            if answer.status_code != 201:
                raise RuntimeError(f"could not create a referral: {answer.status_code} {answer.text[:300]}")


def _probe(r: Running, query: list[tuple[str, str]]) -> dict[str, Any]:
    """One worklist request: its status, how many entries, and whether they come in waiting order."""
    answer = httpx.get(f"{r.stack.gateway_url}/fhir/Task", params=urlencode(query), headers=r.auth, timeout=30.0)
    found: dict[str, Any] = {"query": urlencode(query), "status": answer.status_code}
    if answer.status_code != 200:
        found["body"] = answer.text[:300]
        return found
    entries = answer.json().get("entry", [])
    starts = [e["resource"].get("authoredOn", "") for e in entries]
    found |= {
        "entries": len(entries),
        "total": answer.json().get("total"),
        "sorted_by_wait": starts == sorted(starts),
        "bytes": len(answer.content),
    }
    return found


def run(r: Running, duration: float, connections: int, memory: dict[str, dict[str, float | None]]) -> dict[str, Any]:
    """Floor, referral read, worklist; print the table and write bench/results/read.json."""
    _ensure_referrals(r, IDS)
    ids = r.ids(f"SELECT id FROM service_request ORDER BY random() LIMIT {IDS}")
    worklist_path = f"/fhir/Task?{urlencode(WORKLIST)}"
    probe = _probe(r, WORKLIST)
    if probe["status"] != 200 or probe.get("entries") != 50:
        raise RuntimeError(f"the worklist does not answer as expected: {probe}")
    without_code = _probe(r, WORKLIST_WITHOUT_CODE)
    say(f"read: floor, referral read (direct, gateway), worklist; {connections} connections, {duration:g} s each ...")
    watch = {name: p.pid for name, p in r.processes().items()}
    auth = {"Authorization": r.auth["Authorization"], "Accept": FHIR["Content-Type"]}
    paths = [f"/fhir/ServiceRequest/{i}" for i in ids]

    def measure(url: str, targets: list[str], headers: dict[str, str]) -> load.Result:
        return load.run(load.Spec(url, targets, "GET", headers, None, connections, duration), watch=watch)

    floor = measure(r.baseline_url, ["/health"], {})
    direct = measure(r.stack.referrals_url, paths, auth)
    reads = measure(r.stack.gateway_url, paths, auth)
    worklist = measure(r.stack.gateway_url, [worklist_path], auth)
    memory["read"] = {name: p.peak_rss_mib() for name, p in r.processes().items()}

    read_ratio = reads.rps / floor.rps if floor.rps else 0.0
    worklist_ratio = worklist.rps / floor.rps if floor.rps else 0.0
    figures: dict[str, Any] = {
        "connections": connections,
        "duration_s": duration,
        "generator": load.generator_version(),
        "floor_baseline_health": floor.row(),
        "read_service_request": {**reads.row(), "distinct_ids": len(ids)},
        "read_service_request_referrals_direct": direct.row(),
        "worklist": {**worklist.row(), "path": worklist_path, "probe": probe},
        "worklist_without_code_probe": without_code,
        "ratios": {
            "read": round(read_ratio, 3),
            "worklist": round(worklist_ratio, 3),
            "read_referrals_direct": round(direct.rps / floor.rps, 3) if floor.rps else None,
        },
        "goals": {
            "ratio_at_least": GOAL_RATIO,
            "read_met": read_ratio >= GOAL_RATIO and reads.unexpected == 0,
            "worklist_met": worklist_ratio >= GOAL_RATIO and worklist.unexpected == 0,
        },
        "referrals_in_database": r.count("referrals", "SELECT count(*) FROM service_request"),
        "peak_rss_mib": memory["read"],
    }
    path = write("read", figures)

    def row(label: str, result: load.Result) -> list[Any]:
        cpu = result.cpu_ms_per_request
        share = f"{result.rps / floor.rps:.2f}" if floor.rps else "-"
        return [label, result.rps, result.p50_ms, result.p99_ms, result.unexpected, share,
                cpu.get("gateway"), cpu.get("referrals"), cpu.get("baseline")]  # fmt: skip

    say(
        table(
            f"Read: {connections} connections, {duration:g} s ({floor.generator})",
            [
                "target",
                "req/s",
                "p50 ms",
                "p99 ms",
                "errors",
                "of floor",
                "CPU ms/req: gateway",
                "referrals",
                "baseline",
            ],
            [
                row("floor: baseline GET /health", floor),
                row("referrals GET ServiceRequest/{id} directly", direct),
                row("gateway GET ServiceRequest/{id}", reads),
                row(f"gateway worklist ({probe.get('total')} requested, 50 a page)", worklist),
            ],
        )
    )
    say(f"  read {read_ratio:.2f} of the floor (goal >= {GOAL_RATIO}): {verdict(figures['goals']['read_met'])}")
    say(
        f"  worklist {worklist_ratio:.2f} of the floor (goal >= {GOAL_RATIO}): "
        f"{verdict(figures['goals']['worklist_met'])}"
    )
    say(
        f"  the worklist without code=referral (as the issue writes it) answers {without_code['status']}"
        + (f", sorted by wait: {without_code.get('sorted_by_wait')}" if without_code["status"] == 200 else "")
    )
    say(f"  -> {path.relative_to(path.parents[2])}")
    return figures
