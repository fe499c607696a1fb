"""stop() under load over HTTP/2: 100 streams in flight on 10 connections (h2c).

Each connection first has one stream answered in full (it must be in the journal: 0 lost); then
each opens 10 streams whose handler blocks until after ``stop()``. (All the answered streams
come first: a sync handler runs on the worker pool, at most ``MAX_WORKERS`` (32) at once, so a
stream answered after the blocked ones would wait behind them until their handlers gave up,
and the round would measure that instead.) ``stop(timeout)`` sends GOAWAY and waits for them
within its timeout, then closes. What each client has received when ``stop()`` returns was
served before it; then the handlers are released and each client reads what still comes: a
response (HEADERS or DATA) on a blocked stream is served after stop, as is a new connection
accepted.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import TYPE_CHECKING

import h2.config
import h2.connection
import h2.events
from hyperframe.frame import DataFrame, Frame, HeadersFrame

import understudy

if TYPE_CHECKING:
    from ._load import LoadResult

__all__ = ["H2_SCENARIO", "h2_round", "stream_ids_answered"]

H2_SCENARIO = "HTTP/2 streams in flight"
CONNECTIONS = 10
STREAMS = 10
_TIMEOUT = 10.0


class _Client:
    """A prior-knowledge h2c client on a raw socket (the h2 library's state machine)."""

    def __init__(self, server: understudy.HTTPServer) -> None:
        self.sock = socket.create_connection(server.address, timeout=_TIMEOUT)
        self.conn = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=True, header_encoding=None)
        )
        self.conn.initiate_connection()
        self.authority = f"{server.host}:{server.port}".encode()

    def get(self, path: str) -> int:
        stream_id: int = self.conn.get_next_available_stream_id()
        fields = [(b":method", b"GET"), (b":path", path.encode()), (b":scheme", b"http")]
        self.conn.send_headers(stream_id, [*fields, (b":authority", self.authority)], True)
        self.sock.sendall(self.conn.data_to_send())
        return stream_id

    def body(self, stream_id: int) -> bytes:
        """Read until ``stream_id`` ends; its body."""
        body = b""
        while True:
            data = self.sock.recv(65536)
            if not data:
                raise EOFError(f"closed before stream {stream_id} ended")
            for event in self.conn.receive_data(data):
                if getattr(event, "stream_id", None) != stream_id:
                    continue
                if isinstance(event, h2.events.DataReceived):
                    body += event.data or b""
                elif isinstance(event, h2.events.StreamEnded):
                    return body
            self.sock.sendall(self.conn.data_to_send())

    def received(self) -> bytes:
        """Every byte the socket holds now, without waiting (raw, as :meth:`rest`)."""
        data = b""
        self.sock.setblocking(False)
        try:
            while chunk := self.sock.recv(65536):
                data += chunk
        except (BlockingIOError, ConnectionResetError):
            pass
        finally:
            self.sock.settimeout(_TIMEOUT)
        return data

    def rest(self) -> bytes:
        """Every byte until the server closes (raw: h2 takes nothing after a GOAWAY)."""
        data = b""
        try:
            while chunk := self.sock.recv(65536):
                data += chunk
        except (ConnectionResetError, TimeoutError):
            pass
        return data


def accepts(address: tuple[str, int]) -> int:
    """1 if a connection to ``address`` is accepted (after stop(): one served too many), else 0."""
    try:
        socket.create_connection(address, timeout=1.0).close()
    except OSError:
        return 0
    return 1


def stream_ids_answered(data: bytes, since: int = 0) -> set[int]:
    """The stream ids a HEADERS or DATA frame in ``data`` (raw HTTP/2 frames) answered, counting
    only the frames that begin at or after offset ``since``."""
    answered = set()
    view = memoryview(data)
    offset = 0
    while len(view) >= 9:
        frame, length = Frame.parse_frame_header(view[:9])
        if offset >= since and isinstance(frame, HeadersFrame | DataFrame) and frame.stream_id:
            answered.add(frame.stream_id)
        view = view[9 + length :]
        offset += 9 + length
    return answered


def h2_round(stop_timeout: float, result: LoadResult) -> None:
    """One round of :data:`H2_SCENARIO`, added to ``result``."""
    release = threading.Event()

    def handler(request: understudy.Request) -> bytes:
        if request.path.startswith("/block"):
            release.wait(_TIMEOUT)
            return b"late"
        return b"ok"

    server = understudy.HTTPServer(handler=handler, http_versions=("1.1", "2")).start()
    clients: list[_Client] = []
    blocked: list[set[int]] = []
    completed: list[str] = []
    try:
        for index in range(CONNECTIONS):
            client = _Client(server)
            clients.append(client)
            if client.body(client.get(f"/done/{index}")) == b"ok":
                completed.append(f"/done/{index}")
        for index, client in enumerate(clients):
            blocked.append({client.get(f"/block/{index}/{n}") for n in range(STREAMS)})
        server.wait_for_requests(CONNECTIONS * (STREAMS + 1), timeout=_TIMEOUT)
        started = time.perf_counter()
        try:
            server.stop(timeout=stop_timeout)
        except understudy.WaitTimeout:
            pass  # the blocked handlers are still running: expected
        result.max_stop_seconds = max(result.max_stop_seconds, time.perf_counter() - started)
        recorded = {request.path for request in server.requests}
        # (what came before stop() returned, a handler that finished within its timeout
        # included, was served before it: read it now, so only what comes later counts)
        before = [client.received() for client in clients]
        release.set()
        result.served_after_stop += accepts(server.address)
        for client, streams, data in zip(clients, blocked, before, strict=True):
            answered = stream_ids_answered(data + client.rest(), since=len(data))
            result.served_after_stop += len(answered & streams)
        result.lost += sum(1 for path in completed if path not in recorded)
        result.rounds += 1
    finally:
        release.set()
        server.stop()
        for client in clients:
            client.sock.close()
