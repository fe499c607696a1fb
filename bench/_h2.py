"""(l) HTTP/2: start → one h2c GET → stop, and requests/s under 10 connections x 10 streams.

Cycle: a server offering HTTP/1.1 and HTTP/2 is started, one prior-knowledge h2c GET is made on a
raw socket with the h2 library (the preface, SETTINGS, HEADERS; read until END_STREAM), and the
server is stopped; beside it the same cycle with an HTTP/1.1 GET on a raw socket. Medians.

Throughput: ``bench/_h2load.py`` in several client processes (each with its share of the 10
connections, each connection keeping 10 streams in flight), against understudy (a canned 200, and
a minimal ASGI app) and hypercorn (the Python HTTP/2 server, the same ASGI app, one worker, in a
process of its own; h2c by prior knowledge). The client processes' CPU use is printed beside: a
client near 100% of a core would be the limit, not the server; the client-bound floor is the
requests/s the client processes would make at a full core each. On a 2-core machine the clients
and the server share the cores, so the figures are comparable with each other only; the server's
CPU per response (this process's CPU for understudy, the hypercorn process's from /proc) is
the figure other load on the machine moves least, and its ratio is printed too.

The three subjects are started once, each warmed up in the process then measured, and measured
in ROUNDS interleaved rounds (the order reversed every other round), so that the machine's other
load falls on all of them alike; each figure is the median of its rounds.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import ssl
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import h2.config
import h2.connection
import h2.events

import understudy

from ._report import Target, format_table, ms, ratio
from ._stats import summarize

__all__ = ["H2Result", "h2_json", "h2_table", "h2_targets", "h2c_get", "run"]

CONNECTIONS = 10
STREAMS = 10
PROCESSES = 2
ROUNDS = 3
_TIMEOUT = 10.0


async def asgi_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The minimal ASGI app every server runs: 200, ``ok``."""
    if scope["type"] != "http":
        return
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain"), (b"content-length", b"2")],
        }
    )
    await send({"type": "http.response.body", "body": b"ok"})


@dataclass
class H2Result:
    """One run of (l)."""

    cycle_h2: list[float] = field(default_factory=list)  # seconds per cycle
    cycle_h1: list[float] = field(default_factory=list)
    throughput: dict[str, float] = field(default_factory=dict)  # requests/s by subject
    client_cpu: dict[str, float] = field(default_factory=dict)  # share of one core per client
    #: Server CPU per response, in seconds (what the load of other processes does not change).
    server_cpu: dict[str, float] = field(default_factory=dict)
    #: The client-bound floor: requests/s the client processes would make at a core each.
    floor: dict[str, float] = field(default_factory=dict)


def h2c_get(host: str, port: int, *, context: ssl.SSLContext | None = None) -> None:
    """One GET by prior knowledge on a raw socket (with ``context``: over TLS, whose ALPN
    offers ``h2``), read until its stream ends."""
    raw = socket.create_connection((host, port), timeout=_TIMEOUT)
    # (Without it, the request written after the TLS handshake's last record waits for that
    # record's ACK, which the server's kernel delays by 40 ms: Nagle's algorithm.)
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock = raw if context is None else context.wrap_socket(raw, server_hostname=host)
    with sock:
        conn = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=True, header_encoding=None)
        )
        conn.initiate_connection()
        scheme = b"http" if context is None else b"https"
        headers = [(b":method", b"GET"), (b":path", b"/"), (b":scheme", scheme)]
        conn.send_headers(1, [*headers, (b":authority", b"127.0.0.1")], end_stream=True)
        sock.sendall(conn.data_to_send())
        while True:
            data = sock.recv(65536)
            if not data:
                raise RuntimeError("the server closed before the response ended")
            if any(isinstance(e, h2.events.StreamEnded) for e in conn.receive_data(data)):
                return


def _h1_get(host: str, port: int) -> None:
    with socket.create_connection((host, port), timeout=_TIMEOUT) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        while sock.recv(65536):
            pass


def _cycles(count: int, get: Any) -> list[float]:
    times = []
    for _ in range(count):
        began = time.perf_counter()
        server = understudy.HTTPServer(
            response=understudy.Response(200, body="ok"), http_versions=("1.1", "2")
        )
        server.start()
        get(server.host, server.port)
        server.stop()
        times.append(time.perf_counter() - began)
    return times


def _load(port: int, seconds: float, server_cpu: Callable[[], float]) -> _Load:
    """Requests/s over ``seconds`` from PROCESSES clients, their mean CPU share, the server's
    CPU per response (``server_cpu()``: its CPU seconds so far), and the client-bound floor."""
    per = CONNECTIONS // PROCESSES
    began = server_cpu()
    clients = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench._h2load",
                "127.0.0.1",
                str(port),
                str(per),
                str(STREAMS),
                str(seconds),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(PROCESSES)
    ]
    results = [json.loads(client.communicate(timeout=seconds + 30)[0]) for client in clients]
    used = server_cpu() - began
    done = sum(result["responses"] for result in results)
    cpu = sum(result["cpu"] for result in results) / len(results) / seconds
    floor = sum(result["responses"] / max(result["cpu"], 1e-9) for result in results)
    return _Load(done / seconds, cpu, used / max(done, 1), floor)


@dataclass
class _Load:
    rate: float
    client_cpu: float
    server_cpu: float
    floor: float


def _process_cpu(pid: int) -> float:
    """CPU seconds (user + system) of process ``pid`` and its descendants (hypercorn's worker
    is a child of the process started) so far (Linux: /proc/PID/stat, .../children)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rpartition(")")[2].split()
    total = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    with open(f"/proc/{pid}/task/{pid}/children") as children:
        return total + sum(_process_cpu(int(child)) for child in children.read().split())


@contextlib.contextmanager
def _hypercorn() -> Iterator[tuple[int, Callable[[], float]]]:
    """Hypercorn serving :func:`asgi_app` in a process of its own: its port, and its CPU
    seconds so far."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hypercorn",
            "bench._h2:asgi_app",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--log-level",
            "warning",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + _TIMEOUT
        while True:
            try:
                h2c_get("127.0.0.1", port)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)  # (waiting for another process to listen: nothing to wait on)
        yield port, lambda: _process_cpu(process.pid)
    finally:
        process.terminate()
        process.wait(_TIMEOUT)


def run(cycles: int, seconds: float, warmup: float) -> H2Result:
    result = H2Result()
    result.cycle_h2 = _cycles(cycles, h2c_get)
    result.cycle_h1 = _cycles(cycles, _h1_get)
    subjects: dict[str, tuple[int, Callable[[], float]]] = {}
    with contextlib.ExitStack() as stack:
        for name, options in (
            ("understudy canned", {"response": understudy.Response(200, body="ok")}),
            ("understudy ASGI", {"asgi": asgi_app}),
        ):
            server = understudy.HTTPServer(http_versions=("1.1", "2"), journal_size=0, **options)
            stack.enter_context(server)
            # (the clients are other processes: this one's CPU is the servers')
            subjects[name] = (server.port, time.process_time)
        subjects["hypercorn ASGI"] = stack.enter_context(_hypercorn())
        for port, cpu in subjects.values():
            _load(port, warmup, cpu)  # (each warmed up in the process it is measured in)
        loads: dict[str, list[_Load]] = {name: [] for name in subjects}
        for index in range(ROUNDS):
            order = list(subjects) if index % 2 == 0 else list(reversed(subjects))
            for name in order:
                port, cpu = subjects[name]
                loads[name].append(_load(port, seconds, cpu))
    for name, runs in loads.items():
        _note(result, name, _median(runs))
    return result


def _median(runs: list[_Load]) -> _Load:
    """Each figure's median over the rounds."""
    return _Load(
        statistics.median(run.rate for run in runs),
        statistics.median(run.client_cpu for run in runs),
        statistics.median(run.server_cpu for run in runs),
        statistics.median(run.floor for run in runs),
    )


def _note(result: H2Result, name: str, load: _Load) -> None:
    result.throughput[name], result.client_cpu[name] = load.rate, load.client_cpu
    result.server_cpu[name], result.floor[name] = load.server_cpu, load.floor


def h2_table(result: H2Result) -> str:
    rows = [
        ["h2c cycle p50 (ms)", ms(summarize(result.cycle_h2).p50), ""],
        ["HTTP/1.1 cycle p50 (ms)", ms(summarize(result.cycle_h1).p50), ""],
    ]
    hypercorn = result.throughput.get("hypercorn ASGI")
    for name, rate in result.throughput.items():
        versus = ratio(rate / hypercorn) if hypercorn else ""
        rows.append(
            [f"{name} req/s (client CPU {result.client_cpu[name]:.0%})", f"{rate:,.0f}", versus]
        )
    # Per response, the server's CPU: the figure the machine's other load does not move.
    base = result.server_cpu.get("hypercorn ASGI")
    for name, cpu in result.server_cpu.items():
        versus = ratio(base / cpu) if base and cpu else ""
        rows.append([f"{name} server CPU per response (µs)", f"{cpu * 1e6:,.0f}", versus])
    for name, floor in result.floor.items():
        rows.append([f"{name} client-bound floor req/s", f"{floor:,.0f}", ""])
    return format_table(["(l) HTTP/2", "value", "vs hypercorn"], rows)


def h2_targets(result: H2Result) -> list[Target]:
    hypercorn = result.throughput.get("hypercorn ASGI") or 0.0
    targets = []
    for name in ("understudy canned", "understudy ASGI"):
        rate = result.throughput.get(name)
        targets.append(
            Target(
                f"(l) {name}, 10x10 h2c streams",
                ">= 3x hypercorn",
                ratio(rate / hypercorn) if rate and hypercorn else "n/a",
                None if not (rate and hypercorn) else rate >= 3 * hypercorn,
            )
        )
    p50 = summarize(result.cycle_h2).p50
    targets.append(Target("(l) start → one h2c GET → stop p50", "<= 2 ms", ms(p50), p50 <= 0.002))
    return targets


def h2_json(result: H2Result) -> dict[str, object]:
    return {
        "cycle_h2_p50": summarize(result.cycle_h2).p50,
        "cycle_h1_p50": summarize(result.cycle_h1).p50,
        "throughput": result.throughput,
        "client_cpu": result.client_cpu,
        "server_cpu_per_response": result.server_cpu,
        "client_bound_floor": result.floor,
    }
