"""(a) start → one GET → stop, and (b) ``stop()`` with an idle keep-alive client connected.

Each cycle makes a fresh server, as a per-test fixture would. Loops are bounded twice: by a cycle
count and by a time budget, whichever comes first; slow peers (~0.5 s a cycle) get fewer cycles.
"""

from __future__ import annotations

import http.client
import threading
import time
from dataclasses import dataclass, field

from ._stats import Summary, summarize
from ._subjects import BODY, HOST, Running, Subject

__all__ = ["CycleResult", "StopResult", "run_cycles", "run_idle_stops"]

_CLIENT_TIMEOUT = 5.0


class BenchError(RuntimeError):
    """A server under test answered wrongly."""


@dataclass
class CycleResult:
    """Phases of each cycle, in seconds."""

    key: str
    label: str
    body_delay: float
    start: list[float] = field(default_factory=list)
    get: list[float] = field(default_factory=list)
    body: list[float] = field(default_factory=list)
    stop: list[float] = field(default_factory=list)
    total: list[float] = field(default_factory=list)

    @property
    def overhead(self) -> list[float]:
        """What the server costs the test: the whole cycle less the test body."""
        return [total - body for total, body in zip(self.total, self.body, strict=True)]

    def summaries(self) -> dict[str, Summary]:
        return {
            "total": summarize(self.total),
            "overhead": summarize(self.overhead),
            "start": summarize(self.start),
            "get": summarize(self.get),
            "stop": summarize(self.stop),
        }


@dataclass
class StopResult:
    """``stop()`` durations (seconds) with an idle keep-alive client, and what the client saw."""

    key: str
    label: str
    cap: float
    stop: list[float] = field(default_factory=list)
    #: Stops that had not returned after ``cap`` seconds (they returned once the client left).
    blocked: int = 0
    #: Cycles where the idle client read EOF right after ``stop()`` returned.
    client_saw_eof: int = 0
    #: Cycles where the server had already closed the connection after its response.
    closed_after_response: int = 0


def _get(port: int) -> http.client.HTTPConnection:
    """One ``GET /`` on a fresh connection; returns the connection, still open."""
    conn = http.client.HTTPConnection(HOST, port, timeout=_CLIENT_TIMEOUT)
    conn.request("GET", "/")
    response = conn.getresponse()
    body = response.read()
    if response.status != 200 or body != BODY:
        conn.close()
        raise BenchError(f"GET / on port {port} gave {response.status} {body[:60]!r}")
    if response.will_close:
        conn.close()
    return conn


def _one_cycle(subject: Subject, body_delay: float, result: CycleResult | None) -> None:
    t0 = time.perf_counter()
    running = subject.start()
    t1 = time.perf_counter()
    try:
        _get(running.port).close()
        t2 = time.perf_counter()
        if body_delay:
            time.sleep(body_delay)  # the test body: a deliberate sleep, in bench code only
        t3 = time.perf_counter()
    finally:
        running.stop()
    t4 = time.perf_counter()
    if result is not None:
        result.start.append(t1 - t0)
        result.get.append(t2 - t1)
        result.body.append(t3 - t2)
        result.stop.append(t4 - t3)
        result.total.append(t4 - t0)


def run_cycles(
    subject: Subject, *, body_delay: float, max_cycles: int, budget: float, warmup: int
) -> CycleResult:
    """Run up to ``max_cycles`` cycles within ``budget`` seconds (after ``warmup`` unrecorded)."""
    result = CycleResult(subject.key, subject.label, body_delay)
    for _ in range(warmup):
        _one_cycle(subject, body_delay, None)
    deadline = time.perf_counter() + budget
    for _ in range(max_cycles):
        if time.perf_counter() > deadline:
            break
        _one_cycle(subject, body_delay, result)
    return result


def _timed_stop(running: Running, cap: float) -> tuple[float | None, threading.Thread]:
    """Stop ``running`` in a helper thread, timed inside it; None if it outlasts ``cap``."""
    durations: list[float] = []
    errors: list[BaseException] = []

    def stop() -> None:
        t0 = time.perf_counter()
        try:
            running.stop()
        except BaseException as error:
            errors.append(error)
            return
        durations.append(time.perf_counter() - t0)

    thread = threading.Thread(target=stop, name="bench-stop", daemon=True)
    thread.start()
    thread.join(cap)
    if errors:
        raise errors[0]
    return (durations[0] if durations else None), thread


def _saw_eof(conn: http.client.HTTPConnection) -> bool:
    sock = conn.sock
    if sock is None:
        return False
    sock.settimeout(1.0)
    try:
        return sock.recv(1) == b""
    except (TimeoutError, ConnectionError):
        return False


def run_idle_stops(
    subject: Subject, *, max_cycles: int, budget: float, warmup: int, cap: float
) -> StopResult:
    """Time ``stop()`` while a client that made one request holds its connection open.

    A stop that outlasts ``cap`` seconds is counted as blocked; the client then disconnects (which
    lets such a server finish stopping) and the loop ends, since every later cycle would block too.
    """
    result = StopResult(subject.key, subject.label, cap)
    deadline = time.perf_counter() + budget
    for cycle in range(warmup + max_cycles):
        if cycle >= warmup and time.perf_counter() > deadline:
            break
        running = subject.start()
        conn = _get(running.port)
        closed_by_server = conn.sock is None
        duration, thread = _timed_stop(running, cap)
        if duration is None:
            conn.close()
            thread.join(_CLIENT_TIMEOUT)
            result.blocked += 1
            break
        eof = not closed_by_server and _saw_eof(conn)
        conn.close()
        if cycle < warmup:
            continue
        result.stop.append(duration)
        result.client_saw_eof += eof
        result.closed_after_response += closed_by_server
    return result
