"""Leaks: start → one request → stop, many times per server kind, counting what is left.

Each kind is one :class:`Kind` entry in :data:`KINDS`: how to make the server and how to make
one request to it and see it recorded. After a warm-up (3 000 cycles: the runtime's loop thread,
its first worker thread, the allocator's pools and the clients' caches are made once, and RSS
settles; after 300 it still moved by a megabyte while tracemalloc saw under 4 KB of Python
objects grow per 2 000 cycles, none of them understudy's), threads, open fds, RSS and listening
sockets are read; after the cycles they are read again. Kinds run in separate processes
(``spawn``), two at a time, so one kind's leftovers never count against another.
"""

from __future__ import annotations

import concurrent.futures
import logging
import logging.handlers
import multiprocessing
import os
import smtplib
import socket
import time
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import understudy
import understudy.fakes
import understudy.tls

from .._h2 import h2c_get
from .._ws_client import echo_once
from ._probe import usage

__all__ = ["KINDS", "Kind", "LeakResult", "run_leaks"]

_TIMEOUT = 5.0


@dataclass(frozen=True)
class Kind:
    """A server kind: ``make()`` a fresh (unstarted) server; ``request(server)`` makes one
    request to the started server and returns once the server has recorded it."""

    name: str
    make: Callable[[], Any]
    request: Callable[[Any], None]


def _http(server: understudy.HTTPServer) -> None:
    with urllib.request.urlopen(server.url + "/leak", timeout=_TIMEOUT) as reply:
        assert reply.read() == b"ok"
    server.wait_for_requests(1, timeout=_TIMEOUT)


def _https(server: understudy.HTTPServer) -> None:
    context = understudy.tls.client_context()
    with urllib.request.urlopen(server.url + "/leak", timeout=_TIMEOUT, context=context) as reply:
        assert reply.read() == b"ok"
    server.wait_for_requests(1, timeout=_TIMEOUT)


def _h2c(server: understudy.HTTPServer) -> None:
    h2c_get(server.host, server.port)  # (h2 on a raw socket: prior knowledge, one GET)
    server.wait_for_requests(1, timeout=_TIMEOUT)


def _h2_alpn(server: understudy.HTTPServer) -> None:
    context = understudy.tls.client_context()
    context.set_alpn_protocols(["h2"])
    h2c_get(server.host, server.port, context=context)
    server.wait_for_requests(1, timeout=_TIMEOUT)


def _h2_server(**options: Any) -> understudy.HTTPServer:
    return understudy.HTTPServer(
        response=understudy.Response(200, body="ok"), http_versions=("1.1", "2"), **options
    )


def _pypi(server: understudy.fakes.PyPIServer) -> None:
    with urllib.request.urlopen(server.url + "/simple/", timeout=_TIMEOUT) as reply:
        assert reply.status == 200
    server.wait_for_requests(1, timeout=_TIMEOUT)


def _smtp(server: understudy.SMTPServer) -> None:
    with smtplib.SMTP(server.host, server.port, timeout=_TIMEOUT) as client:
        client.sendmail("a@example.com", ["b@example.com"], b"Subject: leak\r\n\r\nhi\r\n")
    server.wait_for_messages(1, timeout=_TIMEOUT)


def _tcp(server: understudy.TCPServer) -> None:
    with socket.create_connection(server.address, timeout=_TIMEOUT) as sock:
        sock.sendall(b"ping")
        assert sock.recv(4) == b"ping"
    server.wait_for_bytes(b"ping", timeout=_TIMEOUT)


def _udp(server: understudy.UDPServer) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(b"ping", server.address)
    server.wait_for_datagrams(1, timeout=_TIMEOUT)


def _unix_stream(server: understudy.UnixStreamServer) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(_TIMEOUT)
        sock.connect(server.path)
        sock.sendall(b"ping")
        assert sock.recv(4) == b"ping"
    server.wait_for_bytes(b"ping", timeout=_TIMEOUT)


def _unix_datagram(server: understudy.UnixDatagramServer) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.sendto(b"ping", server.path)
    server.wait_for_datagrams(1, timeout=_TIMEOUT)


def _syslog(server: understudy.SyslogServer) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(b"<13>1 - - app - - - leak", server.address)
    server.wait_for_messages(1, timeout=_TIMEOUT)


def _log_records(server: understudy.LogRecordServer) -> None:
    handler = logging.handlers.SocketHandler(server.host, server.port)
    try:
        handler.handle(logging.makeLogRecord({"msg": "leak", "levelno": logging.INFO}))
    finally:
        handler.close()
    server.wait_for_records(1, timeout=_TIMEOUT)


def _websocket_server() -> understudy.HTTPServer:
    server = understudy.HTTPServer()
    server.expect_websocket("/").echo()
    return server


def _websocket(server: understudy.HTTPServer) -> None:
    # A raw client (handshake, one echo, the closing handshake): websockets' sync client runs a
    # thread per connection, whose arenas would show as RSS that is not the server's.
    echo_once(server.port)
    server.wait_for_websockets(1, match=lambda connection: connection.closed, timeout=_TIMEOUT)


#: Every server kind measured. A new kind is one entry.
KINDS: list[Kind] = [
    Kind(
        "HTTP", lambda: understudy.HTTPServer(response=understudy.Response(200, body="ok")), _http
    ),
    Kind(
        "HTTPS",
        lambda: understudy.HTTPServer(response=understudy.Response(200, body="ok"), tls=True),
        _https,
    ),
    Kind("HTTP/2 h2c", _h2_server, _h2c),
    Kind("HTTP/2 TLS ALPN", lambda: _h2_server(tls=True), _h2_alpn),
    Kind("PyPI", understudy.fakes.PyPIServer, _pypi),
    Kind("SMTP", understudy.SMTPServer, _smtp),
    Kind("TCP", lambda: understudy.TCPServer(echo=True), _tcp),
    Kind("UDP", understudy.UDPServer, _udp),
    Kind("Unix stream", lambda: understudy.UnixStreamServer(echo=True), _unix_stream),
    Kind("Unix datagram", understudy.UnixDatagramServer, _unix_datagram),
    Kind("syslog", understudy.SyslogServer, _syslog),
    Kind("log records", understudy.LogRecordServer, _log_records),
    Kind("WebSocket", _websocket_server, _websocket),
]


@dataclass(frozen=True)
class LeakResult:
    kind: str
    cycles: int
    seconds: float
    threads: int
    fds: int
    rss: int
    listening: int
    workers: int = 0  # threads the worker pool made meanwhile (kept by design, bounded)
    error: str | None = None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _cycle(kind: Kind) -> None:
    server = kind.make()
    server.start()
    try:
        kind.request(server)
    finally:
        server.stop()
    server.check()


def measure_kind(name: str, cycles: int, warmup: int, budget: float) -> LeakResult:
    """In this process: ``warmup`` cycles, a reading, ``cycles`` cycles (or ``budget`` seconds),
    another reading."""
    kind = next(kind for kind in KINDS if kind.name == name)
    try:
        for _ in range(warmup):
            _cycle(kind)
        before = usage()
        started = time.perf_counter()
        done = 0
        while done < cycles and time.perf_counter() - started < budget:
            _cycle(kind)
            done += 1
        seconds = time.perf_counter() - started
        grown = usage().minus(before)
    except Exception as error:  # a failed cycle is a figure too
        return LeakResult(name, 0, 0.0, 0, 0, 0, 0, error=f"{type(error).__name__}: {error}")
    return LeakResult(
        name, done, seconds, grown.threads, grown.fds, grown.rss, grown.listening, grown.workers
    )


def run_leaks(
    cycles: int, warmup: int, budget: float, *, kinds: list[str] | None = None, workers: int = 2
) -> list[LeakResult]:
    """Measure each kind in a fresh process, ``workers`` at a time."""
    names = kinds or [kind.name for kind in KINDS]
    # The children allocate with the C heap directly, so that malloc_trim() gives back what was
    # freed and RSS counts memory in use: pymalloc keeps an arena while one object in it lives,
    # which made RSS wander by a megabyte while traced allocations grew by a few KB.
    os.environ["PYTHONMALLOC"] = "malloc"
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(
        max_workers=workers, mp_context=context, max_tasks_per_child=1
    ) as pool:
        futures = [pool.submit(measure_kind, name, cycles, warmup, budget) for name in names]
        # Each kind stops at its budget (plus its warmup and a fresh process): the whole run
        # ends by then, however the kinds queue behind one another.
        rounds = -(-len(futures) // workers)
        deadline = time.monotonic() + rounds * (budget + 120)
        return [future.result(timeout=max(deadline - time.monotonic(), 1)) for future in futures]
