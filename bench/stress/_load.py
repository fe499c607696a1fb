"""stop() under load: 200 clients mid-request, mid-upload, idle on keep-alive or reading slowly;
and over HTTP/2, 100 streams in flight on 10 connections (``_load_h2.py``).

Each round starts an HTTPServer, brings 200 clients into one state, plus 20 clients whose
requests were answered in full (they stay connected, idle), then times ``stop(timeout)``. After
``stop()`` returns, the blocked handlers are released and every client reads what it gets:
nothing may be answered after stop (no response to a blocked or partial request, a slow
reader's response cut short, no new connection accepted), and every request whose answer a
client received must be in the journal.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import asdict, dataclass

import understudy
from understudy._http._connection import HTTPConnection

from ._load_h2 import CONNECTIONS, H2_SCENARIO, STREAMS, accepts, h2_round

__all__ = ["SCENARIOS", "LoadResult", "run_stop_under_load"]

SCENARIOS = ("mid-request", "mid-upload", "idle keep-alive", "slow reader", H2_SCENARIO)
_TIMEOUT = 10.0
_BIG = 256 * 1024
_COMPLETED = 20


@dataclass
class LoadResult:
    scenario: str
    clients: int
    rounds: int = 0
    stop_timeout: float = 0.0
    max_stop_seconds: float = 0.0
    served_after_stop: int = 0
    lost: int = 0
    #: Slow readers whose response was still partly unsent (in the server) when stop() began.
    unsent_at_stop: int = 0
    error: str | None = None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _connect(server: understudy.HTTPServer, *, rcvbuf: int = 0) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.settimeout(_TIMEOUT)
    sock.connect(server.address)
    return sock


def _read_response(sock: socket.socket) -> bytes:
    """One response framed by Content-Length (the server's own answers always have one)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError(f"closed after {data!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += sock.recv(65536)
    return head


def _read_rest(sock: socket.socket) -> bytes:
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except (ConnectionResetError, TimeoutError):
        pass
    return data


def _clients_with_unsent_data(server: understudy.HTTPServer) -> set[tuple[str, int]]:
    """The client addresses of connections whose response is not all handed to the kernel."""

    async def look() -> set[tuple[str, int]]:
        return {
            conn.peer
            for conn in server._site.connections  # (HTTPConnection: ``peer``, ``transport``)
            if isinstance(conn, HTTPConnection)
            and conn.peer is not None
            and conn.transport is not None
            and conn.transport.get_write_buffer_size() > 0
        }

    return server._site.runtime.call(look(), _TIMEOUT, twin="")


def _round(scenario: str, clients: int, stop_timeout: float, result: LoadResult) -> None:
    release = threading.Event()

    def handler(request: understudy.Request) -> bytes:
        if request.path.startswith("/block"):
            release.wait(_TIMEOUT)
            return b"late"
        if request.path.startswith("/big"):
            return b"x" * _BIG
        return b"ok"

    server = understudy.HTTPServer(handler=handler).start()
    sockets: list[socket.socket] = []
    completed: list[str] = []
    try:
        for index in range(_COMPLETED):
            sock = _connect(server)
            sockets.append(sock)
            sock.sendall(f"GET /done/{index} HTTP/1.1\r\nHost: s\r\n\r\n".encode())
            if _read_response(sock).startswith(b"HTTP/1.1 200 "):
                completed.append(f"/done/{index}")
        loaded: list[socket.socket] = []
        for index in range(clients):
            sock = _connect(server, rcvbuf=4096 if scenario == "slow reader" else 0)
            loaded.append(sock)
            if scenario == "mid-request":
                sock.sendall(f"GET /block/{index} HTTP/1.1\r\nHost: s\r\n\r\n".encode())
            elif scenario == "mid-upload":
                head = f"POST /up/{index} HTTP/1.1\r\nHost: s\r\nContent-Length: 100000\r\n\r\n"
                sock.sendall(head.encode() + b"u" * 1000)
            elif scenario == "idle keep-alive":
                sock.sendall(f"GET /idle/{index} HTTP/1.1\r\nHost: s\r\n\r\n".encode())
                if _read_response(sock).startswith(b"HTTP/1.1 200 "):
                    completed.append(f"/idle/{index}")
            else:
                sock.sendall(f"GET /big/{index} HTTP/1.1\r\nHost: s\r\n\r\n".encode())
        sockets += loaded
        if scenario in ("mid-request", "slow reader"):
            server.wait_for_requests(_COMPLETED + clients, timeout=_TIMEOUT)
        unsent = _clients_with_unsent_data(server)
        result.unsent_at_stop += len(unsent)
        started = time.perf_counter()
        try:
            server.stop(timeout=stop_timeout)
        except understudy.WaitTimeout:
            pass  # the blocked handlers are still running: expected for "mid-request"
        elapsed = time.perf_counter() - started
        result.max_stop_seconds = max(result.max_stop_seconds, elapsed)
        recorded = {request.path for request in server.requests}
        release.set()
        # Nothing is served after stop: no new connection ...
        result.served_after_stop += accepts(server.address)
        # ... and no answer to what was not answered before it.
        for sock in loaded:
            rest = _read_rest(sock)
            if scenario == "slow reader":
                if sock.getsockname() in unsent and len(rest) >= _BIG:
                    result.served_after_stop += 1  # its response was finished after stop
            elif scenario != "idle keep-alive" and rest:
                result.served_after_stop += 1
        result.lost += sum(1 for path in completed if path not in recorded)
        result.rounds += 1
    finally:
        release.set()
        server.stop()
        for sock in sockets:
            sock.close()


def run_stop_under_load(
    clients: int = 200, rounds: int = 3, stop_timeout: float = 1.0, budget: float = 60.0
) -> list[LoadResult]:
    """Each scenario ``rounds`` times (or until ``budget`` seconds per scenario)."""
    results = []
    for scenario in SCENARIOS:
        h2 = scenario == H2_SCENARIO
        count = CONNECTIONS * STREAMS if h2 else clients
        result = LoadResult(scenario, count, stop_timeout=stop_timeout)
        started = time.perf_counter()
        try:
            while result.rounds < rounds and time.perf_counter() - started < budget:
                if h2:
                    h2_round(stop_timeout, result)
                else:
                    _round(scenario, clients, stop_timeout, result)
        except Exception as error:
            result.error = f"{type(error).__name__}: {error}"
        results.append(result)
    return results
