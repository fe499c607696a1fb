"""(k) WebSocket: idle memory per open connection, and stop() with clients that answer the close.

Both use the whole servers of :mod:`bench._websocket` (in this process, each on its own loop
thread) and raw clients in a process of their own (:mod:`bench._ws_client`'s handshake), so the
clients' memory and CPU are not counted:

- **Idle RSS per connection**: in a fresh process per server, its resident set
  (``/proc/self/statm``) before and after ``connections`` WebSocket connections are opened and
  left idle, divided by their number, after a warm-up that opened and closed some (first-use
  imports and pools are not counted).
- **stop() with open clients** (in ``processes`` fresh interpreters, the stops shared out among
  them: the time of a stop moves more from one process to the next than within one, so one
  process's median is not the server's): ``clients`` connections are open and idle; the client
  process answers each close frame with its own (RFC 6455 §5.5.1), then closes its socket once
  the server has closed the TCP connection, as a well-behaved client does (§7.1.1: the server
  closes it first; websockets' client waits for that too). The time is the server's stop, from
  the call to its return, with the CPU the server's process spent in it (all its threads) and
  the CPU the client process spent answering (so it can be seen not to be the bottleneck).

Run the client alone: ``python -m bench._ws_idle PORT CONNECTIONS`` (prints ``ready``, holds the
connections, answers close frames, exits when stdin closes); one RSS figure:
``python -m bench._ws_idle rss CASE CONNECTIONS`` (a :data:`bench._websocket.SERVER_CASES` key);
the stop() figures alone, every server, in this process: ``python -m bench._ws_idle stops
[STOPS]``.
"""

from __future__ import annotations

import gc
import json
import os
import select
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import IO, Any, Protocol

from ._report import format_table, ratio
from ._ws_client import handshake, masked_frame

__all__ = ["IdleResult", "idle_json", "idle_table", "run_idle", "run_stops"]

_PAGE = os.sysconf("SC_PAGE_SIZE")
_CLOSE_1000 = masked_frame((1000).to_bytes(2, "big"), opcode=0x8)


class _Running(Protocol):
    port: int

    def close(self) -> None: ...


def _rss() -> int:
    with open("/proc/self/statm", "rb") as statm:
        return int(statm.read().split()[1]) * _PAGE


# -- the client (a process of its own) ---------------------------------------------------------


def _hold(port: int, connections: int) -> None:
    """Open ``connections``, say ``ready``, answer close frames until stdin ends."""
    socks = {}
    for _ in range(connections):
        sock, _rest = handshake(port)
        sock.setblocking(False)
        socks[sock.fileno()] = sock
    poller = select.epoll()
    for fd in socks:
        poller.register(fd, select.EPOLLIN)
    stdin = sys.stdin.fileno()
    poller.register(stdin, select.EPOLLIN)
    print("ready", flush=True)
    began = None  # (this thread's CPU time when the first close frame came)
    while socks:
        for fd, _ in poller.poll():
            if fd == stdin:
                return
            sock = socks[fd]
            try:
                data = sock.recv(65536)
            except ConnectionResetError:
                data = b""
            if data[:1] == b"\x88":  # (the server's close frame: answered with the client's)
                if began is None:
                    began = time.thread_time()
                sock.send(_CLOSE_1000)
            elif not data:  # (then the server ends the TCP connection first: RFC 6455 §7.1.1)
                sock.close()  # (which takes it out of the epoll set too)
                del socks[fd]
    spent = 0.0 if began is None else time.thread_time() - began
    sys.stdin.read()
    print(f"cpu {spent}", flush=True)  # (seconds: answering the closes, closing the sockets)


class _Clients:
    """The client process, holding ``connections`` open to ``port`` once it is made."""

    def __init__(self, port: int, connections: int) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench._ws_idle", str(port), str(connections)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        stdout: IO[str] | None = self.process.stdout
        assert stdout is not None
        line = stdout.readline().strip()
        if line != "ready":
            self.process.kill()
            raise RuntimeError(f"the WebSocket client process said {line!r}, not ready")

    def end(self) -> float:
        """End the process; the seconds of CPU it spent answering the server's close frames
        and closing its sockets (0.0 if no close frame came)."""
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.close()
        said = self.process.stdout.read().split()
        self.process.wait(30.0)
        return float(said[-1]) if said[:1] == ["cpu"] else 0.0


# -- the figures -------------------------------------------------------------------------------


@dataclass
class IdleResult:
    connections: int
    clients: int
    #: Bytes of resident memory per idle open connection, per server.
    rss_per_connection: dict[str, float] = field(default_factory=dict)
    #: Seconds per stop() with ``clients`` open connections answering the close, per server.
    stops: dict[str, list[float]] = field(default_factory=dict)
    #: CPU seconds of the server's process (all its threads) per stop(), per server.
    stop_cpu: dict[str, list[float]] = field(default_factory=dict)
    #: CPU seconds the client process spent per stop() answering the closes, per server.
    client_cpu: dict[str, list[float]] = field(default_factory=dict)


def _rss_per_connection(case: str, connections: int) -> float:
    """Bytes per idle connection to ``case``, measured in a fresh process of its own (an
    allocator that kept a previous case's freed memory would make a later case look free)."""
    done = subprocess.run(
        [sys.executable, "-m", "bench._ws_idle", "rss", case, str(connections)],
        capture_output=True,
        text=True,
        timeout=120.0,
        check=True,
    )
    return float(done.stdout.split()[-1])


def _measure_rss(start: Callable[[], _Running], connections: int) -> float:
    running = start()
    try:
        _Clients(running.port, 20).end()  # (warm-up: first-use imports, buffers, pools)
        gc.collect()
        before = _rss()
        clients = _Clients(running.port, connections)
        gc.collect()
        after = _rss()
        clients.end()
    finally:
        running.close()
    return (after - before) / connections


def run_idle(
    cases: Collection[str],
    *,
    connections: int = 500,
    clients: int = 10,
    stops: int = 20,
    processes: int = 4,
    budget: float = 15.0,
) -> IdleResult:
    """Both figures for each of ``cases`` (names of :data:`bench._websocket.SERVER_CASES`:
    each server is made in fresh processes, by name); the stop cycles take turns across cases,
    ``stops`` shared out among ``processes`` processes."""
    result = IdleResult(connections, clients)
    for name in cases:
        result.rss_per_connection[name] = _rss_per_connection(name, connections)
    result.stops = {name: [] for name in cases}
    result.stop_cpu = {name: [] for name in cases}
    result.client_cpu = {name: [] for name in cases}
    each = max(1, -(-stops // processes))  # (rounded up)
    share = str(budget / processes)  # (seconds per case and process)
    for _ in range(processes):
        done = subprocess.run(
            [sys.executable, "-m", "bench._ws_idle", "stops-json", str(each), share, *cases],
            capture_output=True,
            text=True,
            timeout=300.0,
            check=True,
        )
        figures = json.loads(done.stdout.splitlines()[-1])
        for name in cases:
            result.stops[name] += figures["stops"][name]
            result.stop_cpu[name] += figures["stop_cpu"][name]
            result.client_cpu[name] += figures["client_cpu"][name]
    return result


def run_stops(
    cases: Mapping[str, Callable[[], _Running]],
    result: IdleResult,
    *,
    stops: int = 20,
    budget: float = 15.0,
) -> IdleResult:
    """The stop() figures of ``result`` for each case, the cycles taking turns across cases."""
    clients = result.clients
    spent = dict.fromkeys(cases, 0.0)
    result.stops = {name: [] for name in cases}
    result.stop_cpu = {name: [] for name in cases}
    result.client_cpu = {name: [] for name in cases}
    for _ in range(stops):
        for name, start in cases.items():
            if spent[name] > budget:
                continue
            began = time.perf_counter()
            running = start()
            held = _Clients(running.port, clients)
            cpu = time.process_time()
            stopping = time.perf_counter()
            running.close()
            took = time.perf_counter() - stopping
            cpu = time.process_time() - cpu
            result.client_cpu[name].append(held.end())
            spent[name] += time.perf_counter() - began
            result.stops[name].append(took)
            result.stop_cpu[name].append(cpu)
    return result


def idle_table(result: IdleResult, ours: str) -> str:
    """Per server: KiB per idle connection, stop() p50 with clients answering, ratios to ours."""
    our_rss = result.rss_per_connection.get(ours, 0.0)
    our_stop = statistics.median(result.stops[ours]) if result.stops.get(ours) else 0.0
    rows = []
    for name in {**result.rss_per_connection, **result.stops}:
        rss = result.rss_per_connection.get(name, 0.0)
        stops = result.stops.get(name) or []
        p50 = statistics.median(stops) if stops else 0.0
        cpu, client = result.stop_cpu.get(name) or [], result.client_cpu.get(name) or []
        rows.append(
            [
                name,
                f"{rss / 1024:.1f}",
                ratio(rss / our_rss if our_rss else None),
                str(len(stops)),
                f"{p50 * 1e3:.2f}",
                ratio(p50 / our_stop if our_stop else None),
                f"{statistics.median(cpu) * 1e3:.2f}" if cpu else "-",
                f"{statistics.median(client) * 1e3:.2f}" if client else "-",
            ]
        )
    headers = [
        "server",
        f"KiB per idle connection ({result.connections})",
        "÷ ours",
        "stops",
        f"stop() p50 ms ({result.clients} clients answering)",
        "÷ ours",
        "server CPU ms per stop, p50",
        "client CPU ms per stop, p50",
    ]
    return format_table(headers, rows)


def idle_json(result: IdleResult) -> dict[str, Any]:
    return {
        "connections": result.connections,
        "clients": result.clients,
        "rss_bytes_per_connection": result.rss_per_connection,
        "stop_seconds": result.stops,
        "stop_cpu_seconds": result.stop_cpu,
        "stop_client_cpu_seconds": result.client_cpu,
        "stop_p50_seconds": {
            name: statistics.median(times) for name, times in result.stops.items() if times
        },
    }


if __name__ == "__main__":
    if sys.argv[1] == "rss":
        import warnings

        from ._websocket import SERVER_CASES

        warnings.simplefilter("ignore", DeprecationWarning)
        print(_measure_rss(SERVER_CASES[sys.argv[2]], int(sys.argv[3])))
    elif sys.argv[1] == "stops-json":  # (run_idle's child: STOPS BUDGET CASE...)
        import warnings

        from ._websocket import SERVER_CASES

        warnings.simplefilter("ignore", DeprecationWarning)
        chosen = {name: SERVER_CASES[name] for name in sys.argv[4:]}
        stopped = run_stops(
            chosen, IdleResult(0, 10), stops=int(sys.argv[2]), budget=float(sys.argv[3])
        )
        figures = {
            "stops": stopped.stops,
            "stop_cpu": stopped.stop_cpu,
            "client_cpu": stopped.client_cpu,
        }
        print(json.dumps(figures))
    elif sys.argv[1] == "stops":
        import warnings

        from ._websocket import _OURS, SERVER_CASES

        warnings.simplefilter("ignore", DeprecationWarning)
        count = int(sys.argv[2]) if len(sys.argv) > 2 else 20
        print(idle_table(run_stops(SERVER_CASES, IdleResult(0, 10), stops=count), _OURS))
    else:
        _hold(int(sys.argv[1]), int(sys.argv[2]))
