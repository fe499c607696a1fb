"""(k) WebSocket: which sans-IO protocol library to build on, and the servers (issue 22).

Two minimal echo servers, each an ``asyncio.Protocol`` on an event loop of its own, differ only
in the library that parses and frames: wsproto (python-hyper) and websockets' sans-IO
``ServerProtocol``. Each does the RFC 6455 handshake, then sends every text message back.

The client is not Python's WebSocket stack (which would measure itself): a separate process
(:mod:`bench._ws_client`: raw non-blocking sockets on one epoll) does each handshake by hand and
then keeps one pre-masked 16-byte text frame in flight per connection, waiting for the 18-byte
unmasked answer, over ``connections`` connections at once for ``duration`` seconds. Round trips
per second are counted by the client, whose own CPU per round trip is reported beside the
server's (about half of the cheapest server's: it is not the bottleneck). On a loaded 2-core
machine the round trips per second still move with the load from round to round, so the server
loop thread's CPU time per round trip (``pthread_getcpuclockid``) is the figure the library
choice is made on. The two
servers run in turns, ``rounds`` times each, interleaved; each keeps its best round (noise from
other processes only ever lowers a figure).

Then whole servers, with the same client: understudy (an ASGI echo app, and
``expect_websocket("/").echo()``), uvicorn with its ``websockets``, ``websockets-sansio`` (its
default) and ``wsproto`` implementations, and ``websockets.asyncio.server.serve``, each on a
thread of its own (understudy on its runtime's loop thread; uvicorn in its defaults for what is
installed: ``loop="auto"``, ``http="auto"``, see :func:`uvicorn_setup`). Issue 22 asks
understudy for >= 1.5x uvicorn and >= 1.0x ``websockets.serve`` in round trips per second. Then
start → connect → one echo → close → stop per server (the servers taking turns), and
:mod:`bench._ws_idle`: idle memory per connection and stop() with clients that answer the close.
"""

from __future__ import annotations

import asyncio
import functools
import importlib.util
import socket
import statistics
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import uvicorn
from websockets.asyncio.server import ServerConnection
from websockets.asyncio.server import serve as websockets_serve
from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode
from websockets.http11 import Request as WebsocketsRequest
from websockets.server import ServerProtocol
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, CloseConnection, Message
from wsproto.events import Request as WsprotoRequest

import understudy
from understudy._runtime import get_runtime

from ._report import Target, format_table, ms, ratio
from ._stats import summarize
from ._ws_client import echo_once
from ._ws_idle import IdleResult, idle_json, idle_table, run_idle

__all__ = [
    "WebSocketResult",
    "idle_table_of",
    "run",
    "websocket_json",
    "websocket_table",
    "websocket_targets",
]

HOST = "127.0.0.1"
PAYLOAD = b"0123456789abcdef"  # 16 bytes of text
_MASK = b"\x01\x02\x03\x04"


def _masked_frame(payload: bytes) -> bytes:
    masked = bytes(byte ^ _MASK[index % 4] for index, byte in enumerate(payload))
    return bytes([0x81, 0x80 | len(payload)]) + _MASK + masked


# -- the two servers ---------------------------------------------------------------------------


class _WsprotoEcho(asyncio.Protocol):
    def __init__(self) -> None:
        self.connection = WSConnection(ConnectionType.SERVER)
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        connection = self.connection
        connection.receive_data(data)
        out = []
        for event in connection.events():
            if isinstance(event, Message):
                out.append(connection.send(Message(data=event.data)))
            elif isinstance(event, WsprotoRequest):
                out.append(connection.send(AcceptConnection()))
            elif isinstance(event, CloseConnection):
                out.append(connection.send(event.response()))
        if out and self.transport is not None:
            self.transport.write(b"".join(out))


class _WebsocketsEcho(asyncio.Protocol):
    def __init__(self) -> None:
        self.protocol = ServerProtocol()
        self.transport: asyncio.Transport | None = None
        self.open = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        protocol = self.protocol
        protocol.receive_data(data)
        for event in protocol.events_received():
            if isinstance(event, Frame):
                if event.opcode is Opcode.TEXT:
                    protocol.send_text(event.data)
            elif isinstance(event, WebsocketsRequest):
                protocol.send_response(protocol.accept(event))
        out = protocol.data_to_send()
        if out and self.transport is not None:
            self.transport.write(b"".join(out))


SERVERS: dict[str, type[asyncio.Protocol]] = {
    "wsproto": _WsprotoEcho,
    "websockets ServerProtocol": _WebsocketsEcho,
}


class _Serving:
    """One echo server on a loop thread of its own."""

    def __init__(self, factory: type[asyncio.Protocol]) -> None:
        self.loop = asyncio.new_event_loop()
        self.sock = socket.create_server((HOST, 0))
        self.port: int = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server = asyncio.run_coroutine_threadsafe(
            self.loop.create_server(factory, sock=self.sock), self.loop
        ).result(5.0)

    def cpu_time(self) -> float:
        """Seconds of CPU the server's loop thread has used."""
        assert self.thread.ident is not None
        return time.clock_gettime(time.pthread_getcpuclockid(self.thread.ident))

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.server.close)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5.0)
        self.loop.close()


# -- whole servers -----------------------------------------------------------------------------


async def _asgi_echo(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] != "websocket":
        return
    await receive()
    await send({"type": "websocket.accept"})
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return
        await send({"type": "websocket.send", "text": message.get("text"), "bytes": None})


class _Running(Protocol):
    port: int

    def cpu_time(self) -> float: ...

    def close(self) -> None: ...


def _thread_cpu(thread: threading.Thread) -> float:
    assert thread.ident is not None
    return time.clock_gettime(time.pthread_getcpuclockid(thread.ident))


class _Understudy:
    def __init__(self, *, asgi: bool) -> None:
        self.server = understudy.HTTPServer(asgi=_asgi_echo) if asgi else understudy.HTTPServer()
        if not asgi:
            self.server.expect_websocket("/").echo()
        self.server.start()
        self.port = self.server.port

    def cpu_time(self) -> float:
        return _thread_cpu(get_runtime().thread)

    def close(self) -> None:
        self.server.stop()


class _Uvicorn:
    def __init__(self, ws: str) -> None:
        config = uvicorn.Config(
            _asgi_echo,
            host=HOST,
            port=0,
            ws=ws,
            access_log=False,
            log_level="warning",
            log_config=None,
            lifespan="off",
        )
        self.server = uvicorn.Server(config)
        with warnings.catch_warnings():
            # ("websockets" is deprecated for "websockets-sansio"; both are measured)
            warnings.simplefilter("ignore", DeprecationWarning)
            config.load()
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10.0
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start within 10 s")
            time.sleep(0.01)
        self.port = int(self.server.servers[0].sockets[0].getsockname()[1])

    def cpu_time(self) -> float:
        return _thread_cpu(self.thread)

    def close(self) -> None:
        self.server.should_exit = True
        self.thread.join(10.0)


def uvicorn_setup() -> str:
    """What ``loop="auto"`` and ``http="auto"`` give a user of uvicorn with what is installed
    (uvloop and httptools when ``uvicorn[standard]`` was installed; asyncio and h11 without)."""
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    return f"loop={loop}, http={http}"


class _WebsocketsServe:
    def __init__(self) -> None:
        async def echo(connection: ServerConnection) -> None:
            try:
                async for message in connection:
                    await connection.send(message)
            except ConnectionClosed:
                pass  # (the raw client ends without a close frame)

        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

        async def start() -> Any:
            return await websockets_serve(echo, HOST, 0, compression=None)

        self.server = asyncio.run_coroutine_threadsafe(start(), self.loop).result(10.0)
        self.port = int(next(iter(self.server.sockets)).getsockname()[1])

    def cpu_time(self) -> float:
        return _thread_cpu(self.thread)

    def close(self) -> None:
        async def stop() -> None:
            self.server.close()
            await self.server.wait_closed()

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(10.0)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10.0)
        self.loop.close()


SERVER_CASES: dict[str, Callable[[], _Running]] = {
    "understudy (ASGI echo app)": lambda: _Understudy(asgi=True),
    "understudy (expect_websocket echo)": lambda: _Understudy(asgi=False),
    "uvicorn, ws=websockets": lambda: _Uvicorn("websockets"),
    "uvicorn, ws=websockets-sansio": lambda: _Uvicorn("websockets-sansio"),
    "uvicorn, ws=wsproto": lambda: _Uvicorn("wsproto"),
    "websockets.serve": _WebsocketsServe,
}


# -- start -> connect -> one echo -> close -> stop ----------------------------------------------


CYCLE_CASES: dict[str, Callable[[], _Running]] = {
    "understudy (expect_websocket echo)": lambda: _Understudy(asgi=False),
    "understudy (ASGI echo app)": lambda: _Understudy(asgi=True),
    "websockets.serve (own loop thread)": _WebsocketsServe,
    "uvicorn, ws=websockets": lambda: _Uvicorn("websockets"),
}


def run_cycles(cycles: int, budget: float) -> dict[str, list[float]]:
    """Seconds per start -> connect -> echo -> close -> stop, per case (``budget`` s each).

    The cases take turns, one cycle each, so the load other processes put on the machine
    falls on all of them alike (run one after the other, a busy minute lands on one case).
    """
    results: dict[str, list[float]] = {name: [] for name in CYCLE_CASES}
    spent = dict.fromkeys(CYCLE_CASES, 0.0)
    for _ in range(cycles + 1):
        for name, start in CYCLE_CASES.items():
            if spent[name] > budget:
                continue
            started = time.perf_counter()
            running = start()
            echo_once(running.port)
            running.close()
            took = time.perf_counter() - started
            spent[name] += took
            results[name].append(took)
    for times in results.values():
        del times[:1]  # (the first: imports and the runtime's first start)
    return results


def cycles_table(cycles: dict[str, list[float]]) -> str:
    ours = statistics.median(cycles[_CYCLE_OURS]) if cycles.get(_CYCLE_OURS) else 0.0
    rows = []
    for name, times in cycles.items():
        p50 = statistics.median(times) if times else 0.0
        rows.append([name, str(len(times)), ms(p50), ratio(p50 / ours if ours else None)])
    return format_table(["server", "cycles", "p50 ms", "p50 ÷ ours"], rows)


_CYCLE_OURS = "understudy (expect_websocket echo)"


# -- running and reporting ---------------------------------------------------------------------


@dataclass
class WebSocketResult:
    """Echo round trips per second, each server's rounds (best first is not assumed)."""

    connections: int
    duration: float
    rounds: dict[str, list[float]] = field(default_factory=dict)
    #: Server CPU seconds per round trip (handshakes included), per round.
    cpu: dict[str, list[float]] = field(default_factory=dict)
    #: The same for whole servers (SERVER_CASES).
    servers: dict[str, list[float]] = field(default_factory=dict)
    servers_cpu: dict[str, list[float]] = field(default_factory=dict)
    #: The client process's CPU seconds per round trip, per whole server, per round.
    client_cpu: dict[str, list[float]] = field(default_factory=dict)
    #: Seconds per start -> connect -> echo -> close -> stop, per case.
    cycles: dict[str, list[float]] = field(default_factory=dict)
    #: Idle RSS per open connection and stop() with clients answering the close.
    idle: IdleResult | None = None

    def best(self, name: str) -> float:
        return max(self.rounds[name], default=0.0)

    def best_cpu(self, name: str) -> float:
        return min(self.cpu[name], default=0.0)


def _round(
    start: Callable[[], _Running], connections: int, duration: float
) -> tuple[float, float, float]:
    """One round: round trips per second, then server and client CPU seconds per round trip."""
    serving = start()
    cpu_before = serving.cpu_time()
    try:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "bench._ws_client",
                str(serving.port),
                str(connections),
                str(duration),
            ],
            capture_output=True,
            text=True,
            timeout=duration + 30.0,
            check=True,
        )
        cpu = serving.cpu_time() - cpu_before
    finally:
        serving.close()
    counted, client_cpu = done.stdout.split()
    count = max(int(counted), 1)
    return count / duration, cpu / count, float(client_cpu) / count


def run(
    *,
    connections: int = 50,
    duration: float = 3.0,
    rounds: int = 2,
    cycles: int = 300,
    cycle_budget: float = 10.0,
    idle_connections: int = 500,
    stops: int = 20,
) -> WebSocketResult:
    result = WebSocketResult(
        connections, duration, {name: [] for name in SERVERS}, {name: [] for name in SERVERS}
    )
    for _ in range(rounds):
        for name, factory in SERVERS.items():
            start = functools.partial(_Serving, factory)
            per_second, cpu, _ = _round(start, connections, duration)
            result.rounds[name].append(per_second)
            result.cpu[name].append(cpu)
        for name, case in SERVER_CASES.items():
            per_second, cpu, client_cpu = _round(case, connections, duration)
            result.servers.setdefault(name, []).append(per_second)
            result.servers_cpu.setdefault(name, []).append(cpu)
            result.client_cpu.setdefault(name, []).append(client_cpu)
    result.cycles = run_cycles(cycles, cycle_budget)
    result.idle = run_idle(list(SERVER_CASES), connections=idle_connections, stops=stops)
    return result


def idle_table_of(result: WebSocketResult) -> str:
    return "(not run)" if result.idle is None else idle_table(result.idle, _OURS)


def websocket_table(result: WebSocketResult) -> str:
    base = result.best_cpu("wsproto")
    rows = [
        [
            name,
            f"{result.best(name):,.0f}",
            " ".join(f"{value:,.0f}" for value in result.rounds[name]),
            f"{result.best_cpu(name) * 1e6:.1f}",
            ratio(result.best_cpu(name) / base if base else None),
        ]
        for name in SERVERS
    ]
    headers = ["protocol library", "round trips/s", "rounds", "server CPU µs/echo", "÷ wsproto"]
    return format_table(headers, rows)


def servers_table(result: WebSocketResult) -> str:
    ours = max(result.servers.get(_OURS, []), default=0.0)
    our_cpu = min(result.servers_cpu.get(_OURS, []), default=0.0)
    rows = []
    for name in SERVER_CASES:
        best = max(result.servers.get(name, []), default=0.0)
        cpu = min(result.servers_cpu.get(name, []), default=0.0)
        client = min(result.client_cpu.get(name, []), default=0.0)
        rows.append(
            [
                name,
                f"{best:,.0f}",
                " ".join(f"{value:,.0f}" for value in result.servers.get(name, [])),
                f"{cpu * 1e6:.1f}",
                f"{client * 1e6:.1f}",
                ratio(ours / best if best else None),
                ratio(cpu / our_cpu if our_cpu else None),
            ]
        )
    rows.append(["(uvicorn: its defaults here: " + uvicorn_setup() + ")", "", "", "", "", "", ""])
    headers = [
        "server",
        "round trips/s",
        "rounds",
        "server CPU µs/echo",
        "client CPU µs/echo",
        "ours (ASGI) ÷ it",
        "its CPU/echo ÷ ours",
    ]
    return format_table(headers, rows)


_OURS = "understudy (ASGI echo app)"


def websocket_targets(result: WebSocketResult) -> list[Target]:
    def best(name: str) -> float:
        return max(result.servers.get(name, []), default=0.0)

    ours = best(_OURS)
    targets = []
    times = result.cycles.get(_CYCLE_OURS)
    p50 = statistics.median(times) if times else None
    targets.append(
        Target(
            "(k) WebSocket start → connect → echo → close → stop, p50",
            "≤ 2 ms",
            "-" if p50 is None else f"{p50 * 1e3:.2f} ms",
            None if p50 is None else p50 <= 0.002,
        )
    )
    stops = result.idle.stops.get(_OURS) if result.idle is not None else None
    stop = statistics.median(stops) if stops else None
    targets.append(
        Target(
            "(k) WebSocket stop() with 10 open clients answering the close, p50 (ASGI)",
            "≤ 1 ms",
            "-" if stop is None else f"{stop * 1e3:.2f} ms",
            None if stop is None else stop <= 0.001,
        )
    )
    our_cpu = min(result.servers_cpu.get(_OURS, []), default=0.0)
    for peer, goal in (
        ("uvicorn, ws=websockets", 1.5),
        ("uvicorn, ws=websockets-sansio", 1.5),
        ("uvicorn, ws=wsproto", 1.5),
        ("websockets.serve", 1.0),
    ):
        theirs = best(peer)
        measured = ours / theirs if theirs else None
        their_cpu = min(result.servers_cpu.get(peer, []), default=0.0)
        by_cpu = f", by CPU/echo {their_cpu / our_cpu:.2f}x" if our_cpu and their_cpu else ""
        targets.append(
            Target(
                f"(k) WebSocket echo round trips/s vs {peer}",
                f"≥ {goal:g}x",
                "-" if measured is None else f"{measured:.2f}x{by_cpu}",
                None if measured is None else measured >= goal,
            )
        )
    return targets


def websocket_json(result: WebSocketResult) -> dict[str, Any]:
    return {
        "connections": result.connections,
        "duration": result.duration,
        "rounds": result.rounds,
        "best": {name: result.best(name) for name in SERVERS},
        "cpu_per_echo": result.cpu,
        "servers": result.servers,
        "servers_cpu_per_echo": result.servers_cpu,
        "client_cpu_per_echo": result.client_cpu,
        "cycle_seconds": {
            name: summarize(times).as_dict() for name, times in result.cycles.items() if times
        },
        "idle": None if result.idle is None else idle_json(result.idle),
        "uvicorn": uvicorn_setup(),
    }


if __name__ == "__main__":
    ran = run()
    print(websocket_table(ran))
    print(servers_table(ran))
    print(cycles_table(ran.cycles))
    print(idle_table_of(ran))
    for target in websocket_targets(ran):
        print(f"  {target.verdict:8} {target.name}: {target.measured} (goal {target.goal})")
