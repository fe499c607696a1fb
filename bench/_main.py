"""Run every measurement, print the table, write ``bench/results/latest.json``."""

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

from . import _conditions, _startup, _suite, _websocket
from ._cycle import CycleResult, StopResult, run_cycles, run_idle_stops
from ._load import LoadResult, ensure_wrk, run_load
from ._memory import IdleResult, measure_idle
from ._report import Target, format_table, ms, ratio
from ._sockets import (
    SMTP_CONTROLLER,
    SMTP_CONTROLLER_DEFAULTS,
    SMTP_FLOOR,
    SMTP_UNDERSTUDY,
    SOCKETSERVER_TCP,
    SOCKETSERVER_UDP,
    TCP_UNDERSTUDY,
    UDP_UNDERSTUDY,
    SMTPCycleResult,
    SocketStopResult,
    run_smtp_cycles,
    run_socket_stops,
)
from ._stats import summarize
from ._subjects import (
    ASGI_FLOOR,
    PYTEST_HTTPSERVER,
    PYTEST_LOCALSERVER,
    THREADING_HTTPSERVER,
    UNDERSTUDY,
    UNDERSTUDY_ASGI,
    UNDERSTUDY_HANDLER,
    UVICORN_ASGI,
)
from ._tls import run_https_cycles

__all__ = ["main"]

RESULTS = Path(__file__).parent / "results" / "latest.json"
PEERS = (PYTEST_HTTPSERVER, PYTEST_LOCALSERVER, THREADING_HTTPSERVER)
LOAD_CASES = (
    UNDERSTUDY,
    UNDERSTUDY_ASGI,
    UNDERSTUDY_HANDLER,
    UVICORN_ASGI,
    ASGI_FLOOR,
    PYTEST_HTTPSERVER,
)
TEST_BODY = 0.010


@dataclass(frozen=True)
class Plan:
    """How much of each measurement to run (counts, and seconds as budgets)."""

    cycles: int = 300
    peer_cycles: int = 30
    peer_budget: float = 11.0
    stop_cycles: int = 300
    peer_stop_cycles: int = 10
    peer_stop_budget: float = 5.0
    stop_cap: float = 2.0
    load_duration: int = 3  # seconds (wrk takes whole seconds)
    load_warmup: int = 1
    load_rounds: int = 2
    connections: int = 50
    idle_servers: int = 1000
    idle_peer_servers: int = 20
    smtp_cycles: int = 300
    smtp_peer_cycles: int = 300
    smtp_peer_budget: float = 4.0
    smtp_defaults_cycles: int = 100
    socket_stop_cycles: int = 300
    socket_peer_stop_cycles: int = 10
    socket_peer_stop_budget: float = 5.0
    https_cycles: int = 300
    conditions_samples: int = 200
    conditions_duration: float = 1.0  # seconds per bandwidth setting
    startup_rounds: int = 20
    suite_tests: int = 1000
    suite_rounds: int = 5
    websocket_duration: float = 3.0  # seconds per round
    websocket_rounds: int = 3
    websocket_cycles: int = 300
    websocket_idle_connections: int = 500
    websocket_stops: int = 20

    @classmethod
    def quick(cls) -> Plan:
        return cls(
            cycles=100,
            peer_cycles=4,
            peer_budget=2.0,
            stop_cycles=100,
            peer_stop_cycles=3,
            peer_stop_budget=1.5,
            load_duration=1,
            load_warmup=1,
            load_rounds=1,
            idle_servers=200,
            idle_peer_servers=5,
            smtp_cycles=100,
            smtp_peer_cycles=100,
            smtp_peer_budget=1.5,
            smtp_defaults_cycles=30,
            socket_stop_cycles=100,
            socket_peer_stop_cycles=3,
            socket_peer_stop_budget=1.5,
            https_cycles=100,
            conditions_samples=50,
            conditions_duration=0.5,
            startup_rounds=5,
            suite_tests=300,
            suite_rounds=1,
            websocket_duration=1.0,
            websocket_rounds=1,
            websocket_cycles=50,
            websocket_idle_connections=100,
            websocket_stops=5,
        )


def _log(message: str) -> None:
    print(f"  … {message}", file=sys.stderr, flush=True)


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "?"


def _machine() -> dict[str, object]:
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "versions": {
            name: _version(name)
            for name in (
                "understudy",
                "httptools",
                "pytest-httpserver",
                "pytest-localserver",
                "werkzeug",
                "uvicorn",
                "aiosmtpd",
            )
        },
    }


# -- running ---------------------------------------------------------------------------------


@dataclass
class Results:
    idle: list[IdleResult]
    cycles: list[CycleResult]
    body_cycles: list[CycleResult]
    stops: list[StopResult]
    load: list[LoadResult]
    load_skipped: str | None
    smtp: list[SMTPCycleResult]
    socket_stops: list[SocketStopResult]
    https: CycleResult
    conditions: _conditions.ConditionsResult
    startup: _startup.StartupResult
    suite: _suite.SuiteResult
    websocket: _websocket.WebSocketResult


def _cycles(plan: Plan, body_delay: float) -> list[CycleResult]:
    results = []
    for subject in (UNDERSTUDY, *PEERS):
        is_ours = subject is UNDERSTUDY
        what = f"with a {body_delay * 1e3:g} ms test body" if body_delay else "no test body"
        _log(f"(a) start → GET → stop, {what}: {subject.label}")
        results.append(
            run_cycles(
                subject,
                body_delay=body_delay,
                max_cycles=plan.cycles if is_ours else plan.peer_cycles,
                budget=60.0 if is_ours else plan.peer_budget,
                warmup=20 if is_ours else 1,
            )
        )
    return results


def _stops(plan: Plan) -> list[StopResult]:
    results = []
    for subject in (UNDERSTUDY, *PEERS):
        is_ours = subject is UNDERSTUDY
        _log(f"(b) stop() with an idle keep-alive client: {subject.label}")
        results.append(
            run_idle_stops(
                subject,
                max_cycles=plan.stop_cycles if is_ours else plan.peer_stop_cycles,
                budget=30.0 if is_ours else plan.peer_stop_budget,
                warmup=20 if is_ours else 0,
                cap=plan.stop_cap,
            )
        )
    return results


def _smtp(plan: Plan) -> list[SMTPCycleResult]:
    cases = (
        (SMTP_UNDERSTUDY, plan.smtp_cycles, 30.0, 20),
        (SMTP_CONTROLLER, plan.smtp_peer_cycles, plan.smtp_peer_budget, 5),
        (SMTP_CONTROLLER_DEFAULTS, plan.smtp_defaults_cycles, plan.smtp_peer_budget, 2),
        (SMTP_FLOOR, plan.smtp_cycles, 30.0, 20),
    )
    results = []
    for subject, cycles, budget, warmup in cases:
        _log(f"(e) SMTP start → one message → stop: {subject.label}")
        results.append(run_smtp_cycles(subject, max_cycles=cycles, budget=budget, warmup=warmup))
    return results


def _socket_stops(plan: Plan) -> list[SocketStopResult]:
    results = []
    for subject in (TCP_UNDERSTUDY, SOCKETSERVER_TCP, UDP_UNDERSTUDY, SOCKETSERVER_UDP):
        is_ours = subject in (TCP_UNDERSTUDY, UDP_UNDERSTUDY)
        _log(f"(f) stop() with one idle {subject.transport} client: {subject.label}")
        results.append(
            run_socket_stops(
                subject,
                max_cycles=plan.socket_stop_cycles if is_ours else plan.socket_peer_stop_cycles,
                budget=30.0 if is_ours else plan.socket_peer_stop_budget,
                warmup=20 if is_ours else 0,
                cap=plan.stop_cap,
            )
        )
    return results


def _load(plan: Plan) -> tuple[list[LoadResult], str | None]:
    """Every case once per round, rounds interleaved; each case keeps its best round.

    Noise from other processes only ever lowers a run's req/s, so interleaving the cases and
    keeping each one's best round compares them under the most similar conditions available.
    """
    wrk, how = ensure_wrk(_log)
    if wrk is None:
        _log(f"(c) skipped: {how}")
        return [], how
    runs: dict[str, list[LoadResult]] = {subject.key: [] for subject in LOAD_CASES}
    for round_number in range(1, plan.load_rounds + 1):
        for subject in LOAD_CASES:
            _log(
                f"(c) round {round_number}/{plan.load_rounds}, wrk -t1 -c{plan.connections} "
                f"-d{plan.load_duration}s: {subject.label}"
            )
            runs[subject.key].append(
                run_load(
                    wrk,
                    subject,
                    duration=plan.load_duration,
                    warmup=plan.load_warmup,
                    connections=plan.connections,
                )
            )
    results = []
    for subject in LOAD_CASES:
        attempts = runs[subject.key]
        good = [run for run in attempts if run.error is None]
        best = max(good, key=lambda run: run.requests_per_second) if good else attempts[-1]
        best.rounds = [run.requests_per_second for run in good]
        results.append(best)
    return results, None


def _idle(plan: Plan) -> list[IdleResult]:
    _log(f"(d) {plan.idle_servers} idle understudy servers")
    results = [measure_idle(UNDERSTUDY, count=plan.idle_servers, warmup=20, parallel_stop=False)]
    for subject in (PYTEST_HTTPSERVER, THREADING_HTTPSERVER):
        _log(f"(d) {plan.idle_peer_servers} idle {subject.label} servers")
        results.append(
            measure_idle(subject, count=plan.idle_peer_servers, warmup=1, parallel_stop=True)
        )
    return results


def _run_startup(plan: Plan) -> _startup.StartupResult:
    _log(
        f"(i) import understudy and pytest startup, {plan.startup_rounds} interleaved rounds "
        "of fresh interpreters"
    )
    return _startup.run(rounds=plan.startup_rounds)


def _run_suite(plan: Plan) -> _suite.SuiteResult:
    _log(
        f"(j) a {plan.suite_tests}-test suite per case, {plan.suite_rounds} interleaved "
        "rounds: fresh http_server per test, the floor, pytest-httpserver, responses"
    )
    return _suite.run(tests=plan.suite_tests, rounds=plan.suite_rounds)


def run(plan: Plan, *, skip_load: bool) -> Results:
    startup = _run_startup(plan)  # first: before this process's runs load the machine
    idle = _idle(plan)  # before load runs grow and free the heap
    cycles = _cycles(plan, 0.0)
    body_cycles = _cycles(plan, TEST_BODY)
    stops = _stops(plan)
    smtp = _smtp(plan)
    socket_stops = _socket_stops(plan)
    _log("(g) HTTPS start → GET → stop: understudy")
    https = run_https_cycles(max_cycles=plan.https_cycles, budget=30.0, warmup=20)
    _log("(h) network conditions: achieved latency and bandwidth vs the settings")
    conditions = _conditions.run(samples=plan.conditions_samples, duration=plan.conditions_duration)
    suite = _run_suite(plan)
    _log("(k) WebSocket echo, 50 connections: two protocol libraries, then five servers")
    websocket = _websocket.run(
        connections=plan.connections,
        duration=plan.websocket_duration,
        rounds=plan.websocket_rounds,
        cycles=plan.websocket_cycles,
        idle_connections=plan.websocket_idle_connections,
        stops=plan.websocket_stops,
    )
    load: list[LoadResult] = []
    skipped: str | None = "--skip-load was given"
    if not skip_load:
        load, skipped = _load(plan)
    return Results(
        idle,
        cycles,
        body_cycles,
        stops,
        load,
        skipped,
        smtp,
        socket_stops,
        https,
        conditions,
        startup,
        suite,
        websocket,
    )


# -- reporting -------------------------------------------------------------------------------


def _by_key(results: list[LoadResult], key: str) -> LoadResult | None:
    return next((result for result in results if result.key == key), None)


def _cycles_table(results: list[CycleResult]) -> str:
    ours = summarize(results[0].total).p50
    rows = []
    for result in results:
        s = result.summaries()
        rows.append(
            [
                result.label,
                str(s["total"].n),
                ms(s["total"].p50),
                ms(s["total"].p90),
                ms(s["total"].p99),
                ms(s["start"].p50),
                ms(s["get"].p50),
                ms(s["stop"].p50),
                ratio(s["total"].p50 / ours),
            ]
        )
    headers = ["server", "cycles", "p50", "p90", "p99", "start", "GET", "stop", "p50 ÷ ours"]
    return format_table(headers, rows)


def _body_table(results: list[CycleResult]) -> str:
    ours = results[0].summaries()
    rows = []
    for result in results:
        s = result.summaries()
        rows.append(
            [
                result.label,
                str(s["total"].n),
                ms(s["total"].p50),
                ms(s["overhead"].p50),
                ms(s["overhead"].p90),
                ms(s["overhead"].p99),
                ratio(s["overhead"].p50 / ours["overhead"].p50),
                ratio(s["total"].p50 / ours["total"].p50),
            ]
        )
    headers = [
        "server",
        "cycles",
        "total p50",
        "overhead p50",
        "p90",
        "p99",
        "overhead ÷ ours",
        "total ÷ ours",
    ]
    return format_table(headers, rows)


def _stop_note(result: StopResult) -> str:
    if result.blocked:
        return f"stop() blocked > {result.cap:g} s, until the client left"
    n = len(result.stop)
    if result.closed_after_response == n:
        return "HTTP/1.0: closed after its response"
    if result.client_saw_eof == 0:
        return "left open after stop() returned"
    return f"EOF at stop(): {result.client_saw_eof}/{n}"


def _stops_table(results: list[StopResult]) -> str:
    ours = summarize(results[0].stop).p50 if results[0].stop else None
    rows = []
    for result in results:
        if not result.stop:
            rows.append([result.label, "0", f"> {ms(result.cap)}", "", "", "-", _stop_note(result)])
            continue
        s = summarize(result.stop)
        rows.append(
            [
                result.label,
                str(s.n),
                ms(s.p50),
                ms(s.p90),
                ms(s.p99),
                ratio(s.p50 / ours) if ours else "-",
                _stop_note(result),
            ]
        )
    headers = ["server", "cycles", "p50", "p90", "p99", "p50 ÷ ours", "the idle connection"]
    return format_table(headers, rows)


def _smtp_table(results: list[SMTPCycleResult]) -> str:
    ours = results[0].summaries()
    rows = []
    for result in results:
        s = result.summaries()
        rows.append(
            [
                result.label,
                str(s["total"].n),
                ms(s["total"].p50),
                ms(s["total"].p90),
                ms(s["total"].p99),
                ms(s["start"].p50),
                ms(s["send"].p50),
                ms(s["stop"].p50),
                ratio(s["total"].p50 / ours["total"].p50),
                ratio(s["start"].p50 / ours["start"].p50),
            ]
        )
    headers = [
        "server",
        "cycles",
        "p50",
        "p90",
        "p99",
        "start",
        "send",
        "stop",
        "p50 ÷ ours",
        "start ÷ ours",
    ]
    return format_table(headers, rows)


def _socket_stops_table(results: list[SocketStopResult]) -> str:
    ours = {
        result.transport: summarize(result.stop).p50
        for result in results
        if result.key in (TCP_UNDERSTUDY.key, UDP_UNDERSTUDY.key) and result.stop
    }
    rows = []
    for result in results:
        if result.transport == "UDP":
            note = "-"
        elif result.blocked:
            note = f"stop() blocked > {result.cap:g} s, until the client left"
        else:
            note = f"EOF at stop(): {result.client_saw_eof}/{len(result.stop)}"
        if not result.stop:
            rows.append([result.label, "0", f"> {ms(result.cap)}", "", "", "-", note])
            continue
        s = summarize(result.stop)
        base = ours.get(result.transport)
        rows.append(
            [
                result.label,
                str(s.n),
                ms(s.p50),
                ms(s.p90),
                ms(s.p99),
                ratio(s.p50 / base) if base else "-",
                note,
            ]
        )
    headers = ["server", "cycles", "p50", "p90", "p99", "p50 ÷ ours", "the idle TCP client"]
    return format_table(headers, rows)


def _load_table(results: list[LoadResult]) -> str:
    uvicorn = _by_key(results, UVICORN_ASGI.key)
    httpserver = _by_key(results, PYTEST_HTTPSERVER.key)

    def versus(result: LoadResult, peer: LoadResult | None) -> str:
        if result.error or peer is None or peer.error or not peer.requests_per_second:
            return "-"
        return ratio(result.requests_per_second / peer.requests_per_second)

    rows = []
    for result in results:
        if result.error:
            rows.append([result.label, "error", "-", "-", "-", result.error[:60]])
            continue
        errors = str(result.errors) if result.errors else "0"
        journal = result.details.get("journal_entries")
        note = f"journal held {journal}" if journal is not None else ""
        rounds = " / ".join(f"{rps:,.0f}" for rps in result.rounds)
        rows.append(
            [
                result.label,
                f"{result.requests_per_second:,.0f}",
                versus(result, uvicorn),
                versus(result, httpserver),
                result.latency_avg,
                errors,
                rounds,
                note,
            ]
        )
    headers = [
        "case",
        "req/s",
        "÷ uvicorn",
        "÷ pytest-httpserver",
        "latency avg",
        "errors",
        "each round",
        "",
    ]
    return format_table(headers, rows)


def _idle_table(results: list[IdleResult]) -> str:
    rows = [
        [
            result.label,
            str(result.servers),
            f"{result.rss_per_server / 1024:.2f}",
            f"{result.threads_per_server:g}",
            ms(result.start_seconds / result.servers),
            ms(result.stop_seconds / result.servers),
        ]
        for result in results
    ]
    headers = ["server", "servers", "RSS KiB/server", "threads/server", "start ms", "stop ms"]
    return format_table(headers, rows)


def _targets(results: Results) -> list[Target]:
    targets = []
    ours = results.cycles[0].summaries()["total"].p50
    targets.append(Target("start → GET → stop p50", "≤ 2 ms", f"{ms(ours)} ms", ours <= 0.002))

    body = {result.key: result.summaries() for result in results.body_cycles}
    ours_overhead = body[UNDERSTUDY.key]["overhead"].p50
    theirs = body[PYTEST_HTTPSERVER.key]
    overhead_ratio = theirs["overhead"].p50 / ours_overhead
    total_ratio = theirs["total"].p50 / body[UNDERSTUDY.key]["total"].p50
    targets.append(
        Target(
            "with a 10 ms test body: server overhead vs pytest-httpserver",
            "≥ 100x less",
            f"{ratio(overhead_ratio)} (whole cycle incl. the 10 ms body: {ratio(total_ratio)})",
            overhead_ratio >= 100,
        )
    )

    stop = results.stops[0]
    stop_p50 = summarize(stop.stop).p50 if stop.stop else None
    targets.append(
        Target(
            "stop() with an idle keep-alive client, p50",
            "≤ 0.5 ms",
            f"{ms(stop_p50)} ms" if stop_p50 is not None else "blocked",
            stop_p50 is not None and stop_p50 <= 0.0005,
        )
    )

    def load_target(name: str, ours_key: str, peer_key: str, factor: float) -> Target:
        ours_run = _by_key(results.load, ours_key)
        peer_run = _by_key(results.load, peer_key)
        goal = f"≥ {factor:g}x"
        if (
            ours_run is None
            or peer_run is None
            or ours_run.error
            or peer_run.error
            or not peer_run.requests_per_second
        ):
            return Target(name, goal, results.load_skipped or "a run failed", None)
        value = ours_run.requests_per_second / peer_run.requests_per_second
        return Target(name, goal, ratio(value), value >= factor)

    targets.append(
        load_target(
            "50 conns: canned response (journal on) vs pytest-httpserver",
            UNDERSTUDY.key,
            PYTEST_HTTPSERVER.key,
            10,
        )
    )
    asgi = load_target(
        "50 conns: minimal ASGI app vs uvicorn", UNDERSTUDY_ASGI.key, UVICORN_ASGI.key, 2
    )
    floor_run = _by_key(results.load, ASGI_FLOOR.key)
    uvicorn_run = _by_key(results.load, UVICORN_ASGI.key)
    if (
        asgi.met is not None
        and floor_run is not None
        and uvicorn_run is not None
        and not floor_run.error
        and uvicorn_run.requests_per_second
    ):
        ceiling = floor_run.requests_per_second / uvicorn_run.requests_per_second
        asgi = Target(
            asgi.name,
            asgi.goal,
            f"{asgi.measured} (ceiling, a bare server checking nothing: {ratio(ceiling)})",
            asgi.met,
        )
    targets.append(asgi)
    targets.append(
        load_target(
            "50 conns: sync handler callable vs uvicorn (ASGI)",
            UNDERSTUDY_HANDLER.key,
            UVICORN_ASGI.key,
            1,
        )
    )

    smtp = {result.key: result.summaries() for result in results.smtp}
    ours_smtp = smtp[SMTP_UNDERSTUDY.key]
    theirs_smtp = smtp[SMTP_CONTROLLER.key]
    smtp_ratio = theirs_smtp["total"].p50 / ours_smtp["total"].p50
    start_ratio = theirs_smtp["start"].p50 / ours_smtp["start"].p50
    ceiling = theirs_smtp["total"].p50 / smtp[SMTP_FLOOR.key]["total"].p50
    targets.append(
        Target(
            "SMTP start → message → stop vs Controller",
            "≥ 3x",
            f"{ratio(smtp_ratio)} ({ms(ours_smtp['total'].p50)} vs "
            f"{ms(theirs_smtp['total'].p50)} ms; start alone {ratio(start_ratio)}; "
            f"ceiling with no SMTP logic at all {ratio(ceiling)})",
            smtp_ratio >= 3,
        )
    )

    https = summarize(results.https.total).p50
    targets.append(
        Target(
            "HTTPS start → GET → stop p50 (handshake included)",
            "≤ 5 ms",
            f"{ms(https)} ms",
            https <= 0.005,
        )
    )

    idle = results.idle[0]
    kib = idle.rss_per_server / 1024
    targets.append(
        Target("RSS per idle server", "≤ 4 KiB", f"{kib:.2f} KiB", idle.rss_per_server <= 4096)
    )
    targets.append(
        Target(
            "threads per idle server",
            "0",
            f"{idle.threads_per_server:g}",
            idle.threads <= 0,
        )
    )
    targets += _conditions.conditions_targets(results.conditions)
    targets += _startup.startup_targets(results.startup)
    targets += _suite.suite_targets(results.suite)
    targets += _websocket.websocket_targets(results.websocket)
    return targets


def _startup_lines(startup: _startup.StartupResult) -> list[str]:
    return [
        (
            "(i) where understudy is unused: fresh interpreters, CPU time (user + system) and "
            f"wall clock, medians of {startup.rounds} interleaved rounds; ms. pytest runs one "
            "trivial test in an empty directory; base = python -c pass, or pytest with neither "
            "plugin (with no bytecode cache: pytest -p no:understudy, so cached alike). Bytecode "
            "cached as an installed package has it, except where the case says no cache "
            "(PYTHONDONTWRITEBYTECODE=1)."
        ),
        _startup.startup_table(startup),
    ]


def _suite_lines(suite: _suite.SuiteResult) -> list[str]:
    return [
        (
            f"(j) per test in a {suite.tests}-test suite: pytest's run-test loop (setup, call, "
            "teardown) divided by the tests; best round; ms."
        ),
        _suite.suite_table(suite),
        "",
        (
            f"(j) with the floor's test in one pytest process, in blocks of {_suite.BLOCK} tests "
            "of each, every test timed from setup to teardown; median over the blocks of the "
            f"difference of their medians (the first {_suite.SETTLE} tests of a block left out), "
            "median over the rounds; alternating: one by one, median of the pairs' "
            "differences; ms."
        ),
        _suite.blocked_table(suite),
    ]


def _target_lines(targets: list[Target]) -> list[str]:
    width = max(len(target.name) for target in targets)
    return [
        f"  {target.verdict:>7}  {target.name.ljust(width)}  {target.goal:<12} {target.measured}"
        for target in targets
    ]


def report(results: Results, plan: Plan, machine: dict[str, object]) -> tuple[str, list[Target]]:
    targets = _targets(results)
    load = machine["load_average_at_start"]
    lines = [
        "",
        (
            f"understudy bench — {machine['cpus']} CPUs, Python {machine['python']}, "
            f"load average at start {load} (other processes on the machine make figures noisy)"
        ),
        "",
        "(a) start → one GET (http.client, fresh connection) → stop; fresh server each cycle; ms.",
        "    Peers that need ~0.5 s a cycle get fewer cycles (a time budget): read their p99",
        "    as their maximum. pytest-httpserver and pytest-localserver answer on their serving",
        "    thread, so a stop() issued right after the response often lands before that thread",
        "    is back in its 0.5 s poll: fast here, but any test body exposes the poll (a').",
        _cycles_table(results.cycles),
        "",
        (
            f"(a') the same with a {TEST_BODY * 1e3:g} ms test body (a sleep) between the GET "
            "and stop; ms. overhead = cycle - body."
        ),
        _body_table(results.body_cycles),
        "",
        "(b) stop() while a client that made one request keeps its connection open; ms.",
        _stops_table(results.stops),
        "",
        (
            f"(c) wrk -t1 -c{plan.connections} -d{plan.load_duration}s after a "
            f"{plan.load_warmup} s warm-up, keep-alive, GET /; wrk in its own process; "
            + (
                f"best of {plan.load_rounds} interleaved rounds."
                if plan.load_rounds > 1
                else "one round."
            )
        ),
    ]
    if results.load:
        lines.append(_load_table(results.load))
    else:
        lines.append(f"  skipped: {results.load_skipped}")
    lines += [
        "",
        "(d) idle servers started in this process: growth per server.",
        _idle_table(results.idle),
        "",
        (
            "(e) SMTP: start → one message (smtplib.SMTP(host, port): sendmail, then quit) → "
            "stop; ms. The Controller is given a free port first (aiosmtpd #388), untimed."
        ),
        _smtp_table(results.smtp),
        "",
        (
            "(f) stop() of a TCP server with one connected idle client, and of a UDP server "
            "after one datagram; ms."
        ),
        _socket_stops_table(results.socket_stops),
        "",
        (
            "(g) HTTPS: start HTTPServer(tls=True) → one GET (http.client, fresh connection, "
            "full TLS handshake) → stop; ms."
        ),
        _cycles_table([results.https]),
        "",
        (
            "(h) network conditions: one-way latency (half an echo round trip) minus the "
            "setting, and bandwidth achieved from first byte to last."
        ),
        _conditions.conditions_table(results.conditions),
        "",
        *_startup_lines(results.startup),
        "",
        *_suite_lines(results.suite),
        "",
        (
            "(k) WebSocket protocol libraries: 16-byte text echo on an asyncio Protocol, "
            f"{results.websocket.connections} raw clients in another process; best round."
        ),
        _websocket.websocket_table(results.websocket),
        "",
        (
            "(k) WebSocket servers: the same echo and client; ratios: understudy's ASGI round "
            "trips/s ÷ each (what the targets use), and each one's server CPU per echo ÷ "
            "understudy's ASGI (the ratio of round trips/s on equal CPU: steadier on a loaded "
            "machine)."
        ),
        _websocket.servers_table(results.websocket),
        "",
        "(k) WebSocket start → connect → one echo → close → stop (a raw blocking client), ms.",
        _websocket.cycles_table(results.websocket.cycles),
        "",
        (
            "(k) WebSocket idle memory per open connection (RSS of a fresh process per server, "
            "raw clients in another), and stop() with open clients that answer the close frame."
        ),
        _websocket.idle_table_of(results.websocket),
        "",
        "Targets (issues 2, 4, 5, 6, 20 and 22; 23: `--only h2`)",
    ]
    lines += _target_lines(targets)
    return "\n".join(lines), targets


def _as_json(
    results: Results, plan: Plan, machine: dict[str, object], targets: list[Target]
) -> dict[str, object]:
    def cycle(result: CycleResult) -> dict[str, object]:
        return {
            "key": result.key,
            "label": result.label,
            "body_delay_seconds": result.body_delay,
            "seconds": {name: s.as_dict() for name, s in result.summaries().items()},
            "total_samples_seconds": [round(x, 7) for x in result.total],
        }

    return {
        "generated_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": machine,
        "plan": plan.__dict__,
        "start_get_stop": [cycle(result) for result in results.cycles],
        "start_get_stop_with_test_body": [cycle(result) for result in results.body_cycles],
        "stop_with_idle_client": [
            {
                "key": result.key,
                "label": result.label,
                "seconds": summarize(result.stop).as_dict() if result.stop else None,
                "blocked_over_seconds": result.cap if result.blocked else None,
                "client_saw_eof": result.client_saw_eof,
                "closed_after_response": result.closed_after_response,
            }
            for result in results.stops
        ],
        "load": {
            "skipped": results.load_skipped,
            "connections": plan.connections,
            "duration_seconds": plan.load_duration,
            "rounds": plan.load_rounds,
            "cases": [result.__dict__ for result in results.load],
        },
        "idle_servers": [
            {
                **result.__dict__,
                "rss_bytes_per_server": result.rss_per_server,
                "threads_per_server": result.threads_per_server,
            }
            for result in results.idle
        ],
        "smtp_start_message_stop": [
            {
                "key": result.key,
                "label": result.label,
                "seconds": {name: s.as_dict() for name, s in result.summaries().items()},
                "total_samples_seconds": [round(x, 7) for x in result.total],
            }
            for result in results.smtp
        ],
        "socket_stop_with_idle_client": [
            {
                "key": result.key,
                "label": result.label,
                "transport": result.transport,
                "seconds": summarize(result.stop).as_dict() if result.stop else None,
                "blocked_over_seconds": result.cap if result.blocked else None,
                "client_saw_eof": result.client_saw_eof if result.transport == "TCP" else None,
            }
            for result in results.socket_stops
        ],
        "https_start_get_stop": cycle(results.https),
        "conditions": _conditions.conditions_json(results.conditions),
        "startup": _startup.startup_json(results.startup),
        "suite": _suite.suite_json(results.suite),
        "websocket": _websocket.websocket_json(results.websocket),
        "targets": [target.as_dict() for target in targets],
    }


def _main_only(
    section: str, plan: Plan, machine: dict[str, object], began: float, output: Path
) -> int:
    """``--only SECTION``: that section alone, its table, its targets and its JSON."""
    if section == "h2":
        from . import _h2  # noqa: PLC0415 - (l) alone; its h2 client imports are its own

        _log("(l) HTTP/2: cycles, then 10 connections x 10 streams per subject")
        h2 = _h2.run(plan.https_cycles, float(plan.load_duration), float(plan.load_warmup))
        lines, targets = ["", _h2.h2_table(h2)], _h2.h2_targets(h2)
        figures, issue = _h2.h2_json(h2), 23
    elif section == "startup":
        startup = _run_startup(plan)
        lines, targets = _startup_lines(startup), _startup.startup_targets(startup)
        figures, issue = _startup.startup_json(startup), 20
    else:
        suite = _run_suite(plan)
        lines, targets = _suite_lines(suite), _suite.suite_targets(suite)
        figures, issue = _suite.suite_json(suite), 20
    machine["bench_seconds"] = round(time.perf_counter() - began, 1)
    print("\n".join(["", *lines, "", f"Targets (issue {issue})"]))
    print("\n".join(_target_lines(targets)))
    payload = {
        "generated_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": machine,
        "plan": plan.__dict__,
        section: figures,
        "targets": [target.as_dict() for target in targets],
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    print(f"\n  wrote {output}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="few cycles, 1 s load runs (~2 min)")
    parser.add_argument("--skip-load", action="store_true", help="skip (c), the wrk runs")
    parser.add_argument("--output", type=Path, default=RESULTS, help=f"default: {RESULTS}")
    parser.add_argument(
        "--only",
        choices=["startup", "suite", "h2"],
        help="run one section alone: startup = (i), import understudy and pytest startup; "
        "suite = (j), the per-test cost in a suite; h2 = (l), HTTP/2 against hypercorn",
    )
    args = parser.parse_args(argv)
    plan = Plan.quick() if args.quick else Plan()
    machine = _machine()
    began = time.perf_counter()
    if args.only is not None:
        return _main_only(args.only, plan, machine, began, args.output)
    _log("running; the table follows when every measurement is done")
    results = run(plan, skip_load=args.skip_load)
    machine["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    machine["bench_seconds"] = round(time.perf_counter() - began, 1)
    text, targets = report(results, plan, machine)
    print(text)
    print(f"\n  {machine['bench_seconds']} s in all; load average at end {os.getloadavg()[0]:.2f}")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    payload = _as_json(results, plan, machine, targets)
    args.output.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    print(f"  wrote {args.output}")
    return 0
