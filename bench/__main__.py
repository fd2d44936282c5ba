"""`python -m bench` (what `make bench` runs): create, read, scale, measures and memory, each against its baseline.

Options (or environment):
  --only create,read,scale,measures   run some of the benchmarks (BENCH_ONLY)
  --million                  also 1,000,000 referrals in the scale and measures benchmarks (BENCH_MILLION=1)
  --duration SECONDS         measured seconds per load, after a 2 s warm-up (BENCH_DURATION, default 10)
  --connections N            concurrent connections for create and read (BENCH_CONNECTIONS, default 32)
BENCH_LOADGEN=httpx uses the httpx driver even where wrk is installed. The scale and measures
benchmarks need BENCH_POSTGRES_URL or CONTINUUM_TEST_POSTGRES_URL and are skipped, saying so, without it.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from typing import Any

from bench import create, load, measures, read, scale
from bench.processes import Processes
from bench.report import machine, say, table, write
from bench.stack import running

BENCHMARKS = ("create", "read", "scale", "measures")


def _arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--only", default=os.environ.get("BENCH_ONLY", ",".join(BENCHMARKS)))
    parser.add_argument("--million", action="store_true", default=os.environ.get("BENCH_MILLION") == "1")
    parser.add_argument("--duration", type=float, default=float(os.environ.get("BENCH_DURATION", "10")))
    parser.add_argument("--connections", type=int, default=int(os.environ.get("BENCH_CONNECTIONS", "32")))
    arguments = parser.parse_args(argv)
    chosen = [b.strip() for b in arguments.only.split(",") if b.strip()]
    unknown = sorted(set(chosen) - set(BENCHMARKS))
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    arguments.only = chosen
    return arguments


def _stop_on_sigterm() -> None:
    def stop(signum: int, _: Any) -> None:
        raise SystemExit(128 + signum)  # unwinds through every finally: the processes are stopped

    signal.signal(signal.SIGTERM, stop)


def main(argv: list[str]) -> int:
    """Run the chosen benchmarks and print their tables; figures go to bench/results/."""
    arguments = _arguments(argv)
    _stop_on_sigterm()
    began = time.monotonic()
    where = machine()
    say(f"Continuum benchmarks on {where['nproc']} cores ({where['cpu_model']})")
    say(f"load average at start: {where['loadavg_at_start']} (other work on the machine shows here)")
    say(f"load generator: {load.generator_version()}; loopback only")
    if load.generator() == "httpx":
        say(
            "  note: the httpx driver tops out at a few hundred requests/s on 2 cores, so fast targets (the baseline,\n"
            "  the floor) are measured at the driver's limit and ratios against them come out too high;\n"
            "  install wrk (apt-get install wrk) for figures to compare"
        )
    say()
    memory: dict[str, dict[str, float | None]] = {}
    summary: dict[str, Any] = {}
    if {"create", "read"} & set(arguments.only):
        processes = Processes()
        with running(processes) as system:
            if "create" in arguments.only:
                summary["create"] = create.run(system, arguments.duration, arguments.connections, memory)
                say()
            if "read" in arguments.only:
                summary["read"] = read.run(system, arguments.duration, arguments.connections, memory)
                say()
    if "scale" in arguments.only:
        summary["scale"] = scale.run(arguments.duration, arguments.million, memory)
        say()
    if "measures" in arguments.only:
        summary["measures"] = measures.run(arguments.million)
        say()
    if memory:
        names = sorted({name for phase in memory.values() for name in phase})
        rows = [[phase, *(figures.get(name) for name in names)] for phase, figures in memory.items()]
        say(table("Peak RSS (VmHWM, MiB) of each process by the end of each benchmark", ["after", *names], rows))
        path = write("memory", {"unit": "MiB", "source": "/proc/<pid>/status VmHWM", "after": memory})
        say(f"  -> {path.relative_to(path.parents[2])}")
    write("machine", {**where, "elapsed_s": round(time.monotonic() - began, 1), "benchmarks": arguments.only})
    say(f"\nAll done in {time.monotonic() - began:.0f} s.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
