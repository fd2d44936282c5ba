"""Create path: `POST /fhir/ServiceRequest` through the gateway against the baseline's validate-and-insert.

Through the gateway a create is: token check and audit at the gateway, proxy to the referrals
service, token check there, structural validation (fhir.resources), the referral rules, the
ServiceRequest, its Task and both history rows, an outbox event, all in one transaction; then the
gateway writes the AuditEvent before answering; later the outbox event is delivered to the
gateway, which fans it out to its Subscriptions. The baseline does only the validation and one
insert. The same load straight at the referrals service (bypassing the gateway) is measured too,
to tell the gateway's share from the service's, and so is each process's CPU time per create.
Goal (issue 8): at least half the baseline's throughput, and p99 under 100 ms.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import orjson

from bench import load
from bench.payloads import FHIR, referral
from bench.report import say, table, verdict, write
from bench.stack import Running

GOAL_RATIO = 0.5
GOAL_P99_MS = 100.0
PATH = "/fhir/ServiceRequest"
DRAIN_TIMEOUT_SECONDS = 180.0


def _preflight(url: str, headers: dict[str, str], body: bytes) -> None:
    answer = httpx.post(f"{url}{PATH}", content=body, headers=headers, timeout=30.0)
    if answer.status_code != 201:
        raise RuntimeError(f"POST {url}{PATH} answered {answer.status_code}, not 201: {answer.text[:500]}")


def _counts(r: Running) -> dict[str, int]:
    return {
        "service_request": r.count("referrals", "SELECT count(*) FROM service_request"),
        "task": r.count("referrals", "SELECT count(*) FROM task"),
        "outbox": r.count("referrals", "SELECT count(*) FROM outbox"),
        "audit_event": r.count("gateway", "SELECT count(*) FROM audit_event"),
    }


def _undelivered(r: Running) -> int:
    return r.count("referrals", "SELECT count(*) FROM outbox WHERE delivered_at IS NULL")


def _drain(r: Running) -> dict[str, Any]:
    """Wait (bounded) until the referrals outbox is delivered, so the next benchmark runs on a quiet system."""
    began = time.monotonic()
    backlog = _undelivered(r)
    left = backlog
    while left and time.monotonic() - began < DRAIN_TIMEOUT_SECONDS:
        time.sleep(1.0)
        left = _undelivered(r)
    waited = time.monotonic() - began
    return {
        "undelivered_at_end_of_loads": backlog,
        "undelivered_after_wait": left,
        "waited_s": round(waited, 1),
        "delivered_per_s": round((backlog - left) / waited, 1) if waited > 0 else None,
    }


def run(r: Running, duration: float, connections: int, memory: dict[str, dict[str, float | None]]) -> dict[str, Any]:
    """Baseline, referrals direct, gateway; print the table and write bench/results/create.json."""
    body = orjson.dumps(referral(r.patient))
    _preflight(r.baseline_url, FHIR, body)
    _preflight(r.stack.referrals_url, r.auth, body)
    _preflight(r.stack.gateway_url, r.auth, body)
    watch = {name: p.pid for name, p in r.processes().items()}
    say(f"create: baseline, referrals service, gateway; {connections} connections, {duration:g} s each ...")

    def measure(url: str, headers: dict[str, str]) -> load.Result:
        spec = load.Spec(url, [PATH], "POST", headers, body.decode(), connections, duration, 201)
        return load.run(spec, watch=watch)

    baseline = measure(r.baseline_url, FHIR)
    direct = measure(r.stack.referrals_url, r.auth)
    time.sleep(3.0)  # creates still in flight when the load generator stopped land before the count
    before = _counts(r)
    gateway = measure(r.stack.gateway_url, r.auth)
    time.sleep(3.0)  # requests still in flight when the load generator stopped finish their audit
    after = _counts(r)
    memory["create"] = {name: p.peak_rss_mib() for name, p in r.processes().items()}
    outbox = _drain(r)

    ratio = gateway.rps / baseline.rps if baseline.rps else 0.0
    ratio_met = ratio >= GOAL_RATIO and gateway.unexpected == 0
    p99_met = gateway.p99_ms < GOAL_P99_MS and gateway.unexpected == 0
    written = {k: after[k] - before[k] for k in after}
    figures: dict[str, Any] = {
        "load": {"method": "POST", "path": PATH, "connections": connections, "duration_s": duration, "warmup_s": 2},
        "generator": load.generator_version(),
        "baseline": baseline.row(),
        "referrals_direct": direct.row(),
        "gateway": gateway.row(),
        "throughput_ratio": round(ratio, 3),
        "throughput_ratio_referrals_direct": round(direct.rps / baseline.rps, 3) if baseline.rps else None,
        "goals": {
            "throughput_ratio_at_least": GOAL_RATIO,
            "throughput_ratio_met": ratio_met,
            "p99_ms_under": GOAL_P99_MS,
            "p99_met": p99_met,
        },
        "rows_written_during_gateway_load_incl_warmup": written,
        "outbox": outbox,
        "peak_rss_mib": memory["create"],
    }
    path = write("create", figures)

    def row(label: str, result: load.Result) -> list[Any]:
        cpu = result.cpu_ms_per_request
        return [label, result.rps, result.p50_ms, result.p99_ms, result.unexpected,
                cpu.get("gateway"), cpu.get("referrals"), cpu.get("baseline")]  # fmt: skip

    say(
        table(
            f"Create: POST {PATH}, {connections} connections, {duration:g} s ({baseline.generator})",
            ["target", "req/s", "p50 ms", "p99 ms", "errors", "CPU ms/req: gateway", "referrals", "baseline"],
            [
                row("baseline: FastAPI, fhir.resources, SQLite insert", baseline),
                row("referrals service directly (no gateway)", direct),
                row("gateway -> referrals (the create path)", gateway),
            ],
        )
    )
    say(f"  throughput ratio gateway/baseline: {ratio:.2f} (goal >= {GOAL_RATIO}): {verdict(ratio_met)}")
    say(f"  gateway p99 {gateway.p99_ms:.1f} ms (goal < {GOAL_P99_MS:g} ms): {verdict(p99_met)}")
    creates = written["service_request"]
    say(
        f"  each gateway create wrote {written['task'] / max(creates, 1):.2f} Task, "
        f"{written['outbox'] / max(creates, 1):.2f} outbox event, {written['audit_event'] / max(creates, 1):.2f} "
        f"AuditEvent; outbox: {outbox['undelivered_at_end_of_loads']} events undelivered after the loads, "
        f"delivered at {outbox['delivered_per_s']}/s ({outbox['undelivered_after_wait']} left after "
        f"{outbox['waited_s']:g} s)"
    )
    say(f"  -> {path.relative_to(path.parents[2])}")
    return figures
