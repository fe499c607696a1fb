"""(k) WebSocket: which sans-IO protocol library to build on (issue 22).

Two minimal echo servers, each an ``asyncio.Protocol`` on an event loop of its own, differ only
in the library that parses and frames: wsproto (python-hyper) and websockets' sans-IO
``ServerProtocol``. Each does the RFC 6455 handshake, then sends every text message back.

The client is not Python's WebSocket stack (which would measure itself): a separate process,
asyncio with raw sockets, does each handshake by hand and then sends one pre-masked 16-byte text
frame per connection and waits for the 18-byte unmasked answer, over ``connections`` connections
at once for ``duration`` seconds. Round trips per second are counted by the client, which on a
loaded 2-core machine may be the bottleneck; so the server loop thread's CPU time per round trip
(``pthread_getcpuclockid``) is the figure the choice is made on. The two
servers run in turns, ``rounds`` times each, interleaved; each keeps its best round (noise from
other processes only ever lowers a figure).
"""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from websockets.frames import Frame, Opcode
from websockets.http11 import Request as WebsocketsRequest
from websockets.server import ServerProtocol
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, CloseConnection, Message
from wsproto.events import Request as WsprotoRequest

from ._report import Target, format_table, ratio

__all__ = [
    "WebSocketResult",
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


# -- the client (a separate process) -----------------------------------------------------------


async def _one_client(port: int, stop_at: float, counts: list[int]) -> None:
    reader, writer = await asyncio.open_connection(HOST, port)
    writer.transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        (
            f"GET / HTTP/1.1\r\nHost: {HOST}:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = await reader.readuntil(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 101"):
        raise RuntimeError(f"handshake refused: {head!r}")
    frame = _masked_frame(PAYLOAD)
    answer = len(PAYLOAD) + 2
    loop = asyncio.get_running_loop()
    count = 0
    while loop.time() < stop_at:
        writer.write(frame)
        reply = await reader.readexactly(answer)
        if reply[2:] != PAYLOAD:
            raise RuntimeError(f"wrong echo: {reply!r}")
        count += 1
    counts.append(count)
    writer.close()


async def _clients(port: int, connections: int, duration: float) -> int:
    loop = asyncio.get_running_loop()
    counts: list[int] = []
    stop_at = loop.time() + duration
    await asyncio.gather(*(_one_client(port, stop_at, counts) for _ in range(connections)))
    return sum(counts)


def _client_main(argv: list[str]) -> None:
    port, connections, duration = int(argv[0]), int(argv[1]), float(argv[2])
    print(asyncio.run(_clients(port, connections, duration)))


# -- running and reporting ---------------------------------------------------------------------


@dataclass
class WebSocketResult:
    """Echo round trips per second, each server's rounds (best first is not assumed)."""

    connections: int
    duration: float
    rounds: dict[str, list[float]] = field(default_factory=dict)
    #: Server CPU seconds per round trip (handshakes included), per round.
    cpu: dict[str, list[float]] = field(default_factory=dict)

    def best(self, name: str) -> float:
        return max(self.rounds[name], default=0.0)

    def best_cpu(self, name: str) -> float:
        return min(self.cpu[name], default=0.0)


def _round(
    factory: type[asyncio.Protocol], connections: int, duration: float
) -> tuple[float, float]:
    """One round: (round trips per second, server CPU seconds per round trip)."""
    serving = _Serving(factory)
    cpu_before = serving.cpu_time()
    try:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "bench._websocket",
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
    count = int(done.stdout.strip())
    return count / duration, cpu / max(count, 1)


def run(*, connections: int = 50, duration: float = 3.0, rounds: int = 2) -> WebSocketResult:
    result = WebSocketResult(
        connections, duration, {name: [] for name in SERVERS}, {name: [] for name in SERVERS}
    )
    for _ in range(rounds):
        for name, factory in SERVERS.items():
            per_second, cpu = _round(factory, connections, duration)
            result.rounds[name].append(per_second)
            result.cpu[name].append(cpu)
    return result


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


def websocket_targets(result: WebSocketResult) -> list[Target]:
    return []  # (issue 22's targets compare whole servers; this section chooses a library)


def websocket_json(result: WebSocketResult) -> dict[str, Any]:
    return {
        "connections": result.connections,
        "duration": result.duration,
        "rounds": result.rounds,
        "best": {name: result.best(name) for name in SERVERS},
        "cpu_per_echo": result.cpu,
    }


if __name__ == "__main__":
    if len(sys.argv) == 4:
        _client_main(sys.argv[1:])
    else:
        print(websocket_table(run()))
