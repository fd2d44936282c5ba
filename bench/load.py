"""The load generator: wrk (Debian's package) when installed, else an httpx asyncio driver in its own process.

Either way the load runs in a separate process on loopback, keeps a fixed number of connections
busy for a fixed time (after a short warm-up whose figures are dropped), and reports completed
requests per second and latency percentiles. `BENCH_LOADGEN=httpx` forces the fallback.

The fallback is also this module's command line: `python -m bench.load SPEC.json` runs one load
described by a JSON `Spec` and prints its `Result` as JSON.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Spec:
    """One load: where, what, how many connections, for how long."""

    base_url: str
    paths: list[str]
    method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None
    connections: int = 32
    duration: float = 10.0
    expect: int = 200


@dataclass
class Result:
    """What a load achieved."""

    generator: str
    connections: int
    duration_s: float
    requests: int
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    unexpected: int
    """Answers other than `Spec.expect`, transport errors and timeouts."""
    statuses: dict[str, int] = field(default_factory=dict)
    loadgen_peak_rss_mib: float | None = None
    cpu_ms_per_request: dict[str, float] = field(default_factory=dict)
    """CPU time (user + system) each watched server process spent per completed request."""

    def row(self) -> dict[str, Any]:
        """The figures as a plain dict (for the JSON results)."""
        return asdict(self)


def generator() -> str:
    """The load generator this machine will use."""
    if os.environ.get("BENCH_LOADGEN", "").lower() != "httpx" and shutil.which("wrk"):
        return "wrk"
    return "httpx"


def generator_version() -> str:
    """A human-readable name and version of the load generator."""
    if generator() == "wrk":
        probe = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
        first = (probe.stdout or probe.stderr).splitlines()
        return first[0].split(" Copyright")[0] if first else "wrk"
    return f"httpx {httpx.__version__} asyncio driver (separate process)"


def run(spec: Spec, warmup: float = 2.0, watch: dict[str, int] | None = None) -> Result:
    """Warm up for `warmup` seconds (figures dropped), then run the load and return its figures.

    `watch` names server processes (name: pid) whose CPU time per request is reported.
    """
    if warmup > 0:
        _run_once(Spec(**{**asdict(spec), "duration": warmup}))
    before = {name: cpu_seconds(pid) for name, pid in (watch or {}).items()}
    result = _run_once(spec)
    for name, pid in (watch or {}).items():
        used = cpu_seconds(pid) - before[name]
        result.cpu_ms_per_request[name] = round(used * 1000 / result.requests, 3) if result.requests else 0.0
    return result


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process (all its threads), in seconds; 0 when it cannot be read."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _run_once(spec: Spec) -> Result:
    return _run_wrk(spec) if generator() == "wrk" else _run_httpx_process(spec)


# ---------------------------------------------------------------- wrk


def _lua_string(value: str) -> str:
    level = 0
    while f"]{'=' * level}]" in value:
        level += 1
    return f"[{'=' * level}[{value}]{'=' * level}]"


def _wrk_script(spec: Spec) -> str:
    lines = [
        "local paths = {" + ", ".join(_lua_string(p) for p in spec.paths) + "}",
        "local threads = {}",
        "local i = 0",
        f"wrk.method = {_lua_string(spec.method)}",
    ]
    if spec.body is not None:
        lines.append(f"wrk.body = {_lua_string(spec.body)}")
    lines += [f"wrk.headers[ {_lua_string(k)} ] = {_lua_string(v)}" for k, v in spec.headers.items()]
    lines.append(
        """
function setup(thread) table.insert(threads, thread) end
function init(args) statuses = {} end
request = function()
  i = i % #paths + 1
  return wrk.format(nil, paths[i])
end
response = function(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end
done = function(summary, latency, requests)
  local counts = {}
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do counts[status] = (counts[status] or 0) + n end
  end
  local parts = {}
  for status, n in pairs(counts) do table.insert(parts, string.format('"%d": %d', status, n)) end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "socket_errors": %d, "p50_us": %d, "p95_us": %d,'
      .. ' "p99_us": %d, "max_us": %d, "statuses": {%s}}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max,
    table.concat(parts, ", ")))
end
"""
    )
    return "\n".join(lines)


def _run_wrk(spec: Spec) -> Result:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_wrk_script(spec))
    try:
        command = [
            "wrk", "-t1", f"-c{spec.connections}", f"-d{max(1, round(spec.duration))}s", "--timeout", "10s",
            "-s", script.name, spec.base_url,
        ]  # fmt: skip
        finished = subprocess.run(command, capture_output=True, text=True, timeout=spec.duration + 60, check=False)
    finally:
        Path(script.name).unlink(missing_ok=True)
    match = re.search(r"^BENCH_JSON (.*)$", finished.stdout, re.MULTILINE)
    if finished.returncode != 0 or match is None:
        raise RuntimeError(f"wrk failed ({finished.returncode}):\n{finished.stdout}\n{finished.stderr}")
    figures = json.loads(match.group(1))
    statuses = {str(k): int(v) for k, v in figures["statuses"].items()}
    seconds = figures["duration_us"] / 1e6
    unexpected = figures["socket_errors"] + sum(n for s, n in statuses.items() if s != str(spec.expect))
    return Result(
        generator="wrk",
        connections=spec.connections,
        duration_s=round(seconds, 2),
        requests=figures["requests"],
        rps=round(figures["requests"] / seconds, 1),
        p50_ms=figures["p50_us"] / 1000,
        p95_ms=figures["p95_us"] / 1000,
        p99_ms=figures["p99_us"] / 1000,
        max_ms=figures["max_us"] / 1000,
        unexpected=unexpected,
        statuses=statuses,
    )


# ---------------------------------------------------------------- httpx, in a process of its own


def _run_httpx_process(spec: Spec) -> Result:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as file:
        json.dump(asdict(spec), file)
    try:
        finished = subprocess.run(
            [sys.executable, "-m", "bench.load", file.name],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=spec.duration + 120,
            check=False,
        )
    finally:
        Path(file.name).unlink(missing_ok=True)
    if finished.returncode != 0:
        raise RuntimeError(f"the httpx load generator failed ({finished.returncode}):\n{finished.stderr[-3000:]}")
    return Result(**json.loads(finished.stdout.strip().splitlines()[-1]))


def _percentile(ordered: list[float], fraction: float) -> float:
    if not ordered:
        return 0.0
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))
    return ordered[index]


async def drive(spec: Spec) -> Result:
    """Keep `spec.connections` requests in flight for `spec.duration` seconds; measure each one.

    Each connection is a client of its own (one shared pool of 32 costs more in the pool's
    bookkeeping than the requests themselves).
    """
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    errors = 0
    content = spec.body.encode() if spec.body is not None else None
    started = time.perf_counter()
    deadline = started + spec.duration

    async def worker(offset: int) -> None:
        nonlocal errors
        n = offset
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        async with httpx.AsyncClient(
            base_url=spec.base_url, headers=spec.headers, limits=limits, timeout=10.0
        ) as client:
            while time.perf_counter() < deadline:
                path = spec.paths[n % len(spec.paths)]
                n += spec.connections
                sent = time.perf_counter()
                try:
                    response = await client.request(spec.method, path, content=content)
                except httpx.HTTPError:
                    errors += 1
                    continue
                latencies.append(time.perf_counter() - sent)
                statuses[str(response.status_code)] += 1

    await asyncio.gather(*(worker(i) for i in range(spec.connections)))
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return Result(
        generator="httpx",
        connections=spec.connections,
        duration_s=round(elapsed, 2),
        requests=len(latencies),
        rps=round(len(latencies) / elapsed, 1),
        p50_ms=round(_percentile(ordered, 0.50) * 1000, 3),
        p95_ms=round(_percentile(ordered, 0.95) * 1000, 3),
        p99_ms=round(_percentile(ordered, 0.99) * 1000, 3),
        max_ms=round((ordered[-1] if ordered else 0.0) * 1000, 3),
        unexpected=errors + sum(n for s, n in statuses.items() if s != str(spec.expect)),
        statuses=dict(statuses),
        loadgen_peak_rss_mib=round(peak_kib / 1024, 1),
    )


def main(argv: list[str]) -> int:
    """`python -m bench.load SPEC.json`: run one load with httpx and print the result as JSON."""
    spec = Spec(**json.loads(Path(argv[0]).read_text()))
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvicorn[standard] installs it
        result = asyncio.run(drive(spec))
    else:
        result = uvloop.run(drive(spec))
    print(json.dumps(result.row()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
