"""Run every reliability measurement, print the table, write ``bench/results/stress.json``."""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from .._report import Target, ms
from ._fuzz import FuzzResult, run_fuzz
from ._hostile import (
    HostileResult,
    OversizeResult,
    SlowReadersMemory,
    run_hostile,
    run_oversize,
    run_slow_readers_memory,
)
from ._leaks import KINDS, LeakResult, run_leaks
from ._load import LoadResult, run_stop_under_load
from ._processes import ProcessResult, run_processes

__all__ = ["main"]

RESULTS = Path(__file__).resolve().parents[1] / "results" / "stress.json"
MIB = 1024 * 1024
#: RSS a thread the worker pool makes may take (its stack's touched pages, its C heap arena):
#: the pool keeps its threads, up to its bound, by design; on a loaded machine it makes more.
WORKER_RSS = MIB // 2


@dataclass(frozen=True)
class Plan:
    """How much of each measurement to run (counts, and seconds as budgets)."""

    cycles: int = 10_000
    warmup: int = 3000
    leak_budget: float = 200.0  # seconds per kind
    load_clients: int = 200
    load_rounds: int = 3
    stop_timeout: float = 1.0
    slowloris: int = 50
    slow_readers: int = 10
    rss_readers: int = 100  # clients that never read a 10 MB canned body (RSS measured)
    held: int = 5000
    limit: float = 2.0  # header_timeout / send_timeout of the hostile runs
    fuzz_examples: int = 1000
    atheris_runs: int = 200_000
    fuzz_timeout: float = 240.0


QUICK = Plan(
    cycles=300,
    warmup=100,
    leak_budget=20.0,
    load_clients=50,
    load_rounds=1,
    slowloris=10,
    slow_readers=3,
    rss_readers=20,
    held=1000,
    fuzz_examples=100,
    atheris_runs=5_000,
    fuzz_timeout=120.0,
)
SECTIONS = ("leaks", "load", "hostile", "fuzz", "processes")


def _leak_targets(results: list[LeakResult], plan: Plan) -> list[Target]:
    targets = []
    for result in results:
        met = (
            result.error is None
            and result.cycles >= plan.cycles
            and result.threads <= 0
            and result.fds <= 0
            and result.listening <= 0
            and result.rss < MIB + max(result.workers, 0) * WORKER_RSS
        )
        measured = (
            result.error
            or f"{result.cycles} cycles in {result.seconds:.0f} s: {result.threads:+d} threads, "
            f"{result.fds:+d} fds, {result.listening:+d} listening, "
            f"{result.rss / MIB:+.2f} MiB RSS"
            + (f" ({result.workers:+d} pool threads)" if result.workers else "")
        )
        targets.append(
            Target(
                f"leaks: {result.kind}",
                f"{plan.cycles} cycles: +0 threads/fds/listening, RSS < +1 MiB*",
                measured,
                met,
            )
        )
    return targets


def _load_targets(results: list[LoadResult]) -> list[Target]:
    targets = []
    for result in results:
        allowed = result.stop_timeout + 0.5
        met = (
            result.error is None
            and result.rounds > 0
            and result.max_stop_seconds <= allowed
            and result.served_after_stop == 0
            and result.lost == 0
        )
        measured = result.error or (
            f"{result.rounds} rounds: stop max {ms(result.max_stop_seconds)} ms, "
            f"{result.served_after_stop} served after, {result.lost} lost"
        )
        targets.append(
            Target(
                f"stop under load: {result.clients} {result.scenario}",
                f"stop <= timeout+0.5 s ({allowed:g} s), 0 served after, 0 lost",
                measured,
                met,
            )
        )
    return targets


def _hostile_targets(results: list[HostileResult]) -> list[Target]:
    targets = []
    for result in results:
        if result.name == "5000 connections held" or result.name.endswith("held"):
            worst = max(result.probe_ms, default=float("inf"))
            met = result.error is None and result.timed_out >= result.clients and worst < 100
            targets.append(
                Target(
                    f"{result.clients} idle connections held",
                    "a new request answered in < 100 ms (each of 20)",
                    result.error or f"{result.timed_out} held; worst {worst:.1f} ms",
                    met,
                )
            )
            continue
        met = (
            result.error is None
            and result.timed_out == result.clients
            and result.max_seconds_to_timeout <= result.limit + 1.5
            and result.normal_failures == 0
            and result.normal_max_ms < result.limit * 1e3
        )
        targets.append(
            Target(
                f"hostile: {result.clients} {result.name} clients",
                f"all let go by {result.limit:g}+1.5 s; others never wait for them",
                result.error
                or f"{result.timed_out} let go, last at {result.max_seconds_to_timeout:.2f} s; "
                f"{result.normal_requests} others, {result.normal_failures} failed, "
                f"worst {result.normal_max_ms:.0f} ms",
                met,
            )
        )
    return targets


def _memory_targets(results: list[SlowReadersMemory]) -> list[Target]:
    return [
        Target(
            f"hostile: {result.clients} {result.name} clients not reading a 10 MB body",
            f"RSS +<= {result.limit_per_client >> 20} MiB per client (a copy: 10 MiB each)",
            result.error
            or f"RSS {result.rss_before / 2**20:.0f} -> {result.rss_after / 2**20:.0f} MiB "
            f"(+{(result.rss_after - result.rss_before) / 2**20:.0f})",
            result.met,
        )
        for result in results
    ]


def _oversize_targets(results: list[OversizeResult]) -> list[Target]:
    return [
        Target(
            f"oversize: {result.name}",
            f"{result.expected}; {result.recorded_means}",
            result.error or f"{result.got}; {'yes' if result.recorded else 'NO'}",
            result.met,
        )
        for result in results
    ]


def _table(rows: list[list[str]]) -> str:
    """Left-aligned columns (the figures are text, not numbers)."""
    headers = ["figure", "target", "measured", "verdict"]
    widths = [max(len(row[i]) for row in [headers, *rows]) for i in range(len(headers))]
    lines = ["  " + "  ".join(cell.ljust(w) for cell, w in zip(headers, widths, strict=True))]
    lines.append("  " + "  ".join("-" * width for width in widths))
    lines += [
        "  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    return "\n".join(lines)


def _fuzz_targets(results: list[FuzzResult]) -> list[Target]:
    return [
        Target(
            f"fuzz: {result.name}",
            "0 crashes, 0 hangs, every input answered or recorded",
            f"{result.examples} examples/target in {result.seconds:.0f} s: {result.detail}"
            if result.ok is not None
            else result.detail,
            result.ok,
        )
        for result in results
    ]


def _process_targets(results: list[ProcessResult]) -> list[Target]:
    return [
        Target(
            f"processes: {result.name}",
            "works; clean exit",
            f"{'ok' if result.ok else 'FAILED'} in {result.seconds:.1f} s ({result.detail})",
            result.ok,
        )
        for result in results
    ]


def _environment() -> dict[str, object]:
    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "understudy": metadata.version("understudy"),
        "load_average": os.getloadavg(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.stress", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small counts: a smoke run")
    parser.add_argument("--only", choices=SECTIONS, action="append", help="run only these")
    parser.add_argument("--kind", action="append", help="leak only these server kinds")
    parser.add_argument("--output", type=Path, default=RESULTS, help="where to write the JSON")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else Plan()
    sections = args.only or list(SECTIONS)
    started = time.perf_counter()
    targets: list[Target] = []
    raw: dict[str, object] = {}

    def note(section: str) -> None:
        print(f"... {section} ({time.perf_counter() - started:.0f} s so far)", flush=True)

    if "leaks" in sections:
        note(f"leaks: {len(args.kind or KINDS)} kinds x {plan.cycles} cycles")
        leaks = run_leaks(plan.cycles, plan.warmup, plan.leak_budget, kinds=args.kind)
        raw["leaks"] = [result.as_dict() for result in leaks]
        targets += _leak_targets(leaks, plan)
    if "load" in sections:
        note("stop under load")
        load = run_stop_under_load(plan.load_clients, plan.load_rounds, plan.stop_timeout)
        raw["load"] = [result.as_dict() for result in load]
        targets += _load_targets(load)
    if "hostile" in sections:
        note("hostile clients")
        hostile = run_hostile(
            slowloris=plan.slowloris,
            slow_readers=plan.slow_readers,
            held=plan.held,
            limit=plan.limit,
        )
        memory = run_slow_readers_memory(plan.rss_readers)
        oversize = run_oversize()
        raw["hostile"] = [result.as_dict() for result in hostile]
        raw["slow_readers_memory"] = [result.as_dict() for result in memory]
        raw["oversize"] = [result.as_dict() for result in oversize]
        targets += _hostile_targets(hostile) + _memory_targets(memory) + _oversize_targets(oversize)
    if "fuzz" in sections:
        note("fuzzing")
        fuzz = run_fuzz(plan.fuzz_examples, plan.atheris_runs, plan.fuzz_timeout)
        raw["fuzz"] = [result.as_dict() for result in fuzz]
        targets += _fuzz_targets(fuzz)
    if "processes" in sections:
        note("processes")
        processes = run_processes()
        raw["processes"] = [result.as_dict() for result in processes]
        targets += _process_targets(processes)
    seconds = time.perf_counter() - started

    print()
    print(_table([[t.name, t.goal, t.measured, t.verdict] for t in targets]))
    missed = [t for t in targets if t.met is False]
    print(f"\n  {len(targets) - len(missed)} of {len(targets)} met in {seconds:.0f} s")
    if "leaks" in sections:
        print(
            f"  * plus {WORKER_RSS / MIB:g} MiB per thread the worker pool made meanwhile "
            "(the pool keeps its threads, up to its bound; threads counts the others)"
        )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(
        json.dumps(
            {
                "environment": _environment(),
                "plan": plan.__dict__,
                "seconds": seconds,
                "targets": [t.as_dict() for t in targets],
                "raw": raw,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"  written to {args.output}")
    # (MET or MISSED is what the table and the JSON say: the exit status says only that the
    # sections ran, as make bench's does; docs/performance.md)
    return 0
