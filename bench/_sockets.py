"""(e) SMTP start → one message → stop, and (f) ``stop()`` of the TCP and UDP servers.

(e) Each cycle makes a fresh server, sends one message with ``smtplib.SMTP(host, port)``
(``sendmail``, then ``quit``), checks the server got it, and stops the server. The peer is
aiosmtpd's ``Controller``, whose port 0 is broken (aiosmtpd #388): it is given a free port found
by binding a socket to port 0 and closing it (outside the timed cycle).

The floor row is no SMTP server at all: an asyncio protocol on understudy's loop that answers
each line with a canned reply (no parsing, no journal). Its cycle is what smtplib's round trips
and a listener's start and stop cost by themselves, so the Controller's p50 divided by it is the
best ratio any SMTP server could reach in this measurement.

(f) A started server with one idle client (TCP: connected, and accepted by the server; UDP: one
datagram received), then ``stop()`` timed alone. The socketserver peers answer stop with
``shutdown()`` (socketserver's 0.5 s poll) and ``server_close()`` (which joins the handler
threads, so with a client still connected it waits for that client to leave).

Loops are bounded twice: by a cycle count and by a time budget, whichever comes first.
"""

from __future__ import annotations

import asyncio
import smtplib
import socket
import socketserver
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as AiosmtpdSMTP  # noqa: N811 - aiosmtpd's name
from aiosmtpd.smtp import Envelope, Session

import understudy
from understudy._runtime import get_runtime

from ._cycle import BenchError
from ._stats import Summary, summarize
from ._subjects import HOST

__all__ = [
    "SMTP_CONTROLLER",
    "SMTP_CONTROLLER_DEFAULTS",
    "SMTP_FLOOR",
    "SMTP_UNDERSTUDY",
    "SOCKETSERVER_TCP",
    "SOCKETSERVER_UDP",
    "TCP_UNDERSTUDY",
    "UDP_UNDERSTUDY",
    "SMTPCycleResult",
    "SMTPSubject",
    "SocketStopResult",
    "StopSubject",
    "run_smtp_cycles",
    "run_socket_stops",
]

_TIMEOUT = 5.0
SENDER = "sender@example.com"
RECIPIENT = "recipient@example.com"
MESSAGE = (
    b"From: sender@example.com\r\nTo: recipient@example.com\r\nSubject: bench\r\n\r\nhello\r\n"
)


# -- (e) SMTP ----------------------------------------------------------------------------------


class SMTPRunning(Protocol):
    """A started SMTP server."""

    @property
    def host(self) -> str: ...

    @property
    def port(self) -> int: ...

    def received(self) -> None:
        """Return once the server has the message; raise ``BenchError`` if it does not."""
        ...

    def stop(self) -> None: ...


@dataclass(frozen=True)
class SMTPSubject:
    """A kind of SMTP server; ``start(port)`` makes a fresh one, serving.

    ``needs_port``: the server cannot take port 0, so each cycle finds it a free port first
    (outside the timed cycle: it is the caller's work-around, not the server's start).
    """

    key: str
    label: str
    start: Callable[[int], SMTPRunning]
    needs_port: bool = False


class _UnderstudySMTP:
    def __init__(self, port: int = 0) -> None:
        self._server = understudy.SMTPServer(port=port).start()
        self.host = self._server.host
        self.port = self._server.port

    def received(self) -> None:
        [message] = self._server.wait_for_messages(1, timeout=_TIMEOUT)
        if message.rcpt_tos != [RECIPIENT]:
            raise BenchError(f"understudy recorded {message!r}")

    def stop(self) -> None:
        self._server.stop()


class _Handler:
    """An aiosmtpd handler that notes the message and accepts it."""

    def __init__(self) -> None:
        self.got = threading.Event()
        self.rcpt_tos: list[str] = []

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: AiosmtpdSMTP, session: Session, envelope: Envelope
    ) -> str:
        self.rcpt_tos = list(envelope.rcpt_tos)
        self.got.set()
        return "250 OK"


def free_port() -> int:
    """A port that was free a moment ago (bind to port 0, read it, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


class _Controller:
    def __init__(self, port: int, *, defaults: bool) -> None:
        self._handler = _Handler()
        if defaults:
            # Only the port given: hostname from get_localhost(), server_hostname from getfqdn().
            self._controller = Controller(self._handler, port=port)
        else:
            self._controller = Controller(self._handler, hostname=HOST, port=port)
        self._controller.start()
        self.host = str(self._controller.hostname)
        self.port = port

    def received(self) -> None:
        if not self._handler.got.wait(_TIMEOUT) or self._handler.rcpt_tos != [RECIPIENT]:
            raise BenchError(f"aiosmtpd's handler saw {self._handler.rcpt_tos!r}")

    def stop(self) -> None:
        self._controller.stop()


class _CannedReplies(asyncio.Protocol):
    """Answers smtplib's commands with canned replies: no SMTP logic (the floor)."""

    def __init__(self, got: threading.Event) -> None:
        self._got = got
        self._in_data = False
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        transport.write(b"220 floor ESMTP\r\n")

    def data_received(self, data: bytes) -> None:
        transport = self._transport
        assert transport is not None
        for line in data.split(b"\r\n")[:-1]:
            if self._in_data:
                if line == b".":
                    self._in_data = False
                    self._got.set()
                    transport.write(b"250 OK\r\n")
                continue
            command = line[:4].upper()
            if command == b"EHLO":
                transport.write(b"250-floor\r\n250 8BITMIME\r\n")
            elif command == b"DATA":
                self._in_data = True
                transport.write(b"354 go on\r\n")
            elif command == b"QUIT":
                transport.write(b"221 bye\r\n")
                transport.close()
            else:
                transport.write(b"250 OK\r\n")


class _Floor:
    def __init__(self, port: int = 0) -> None:
        self._got = threading.Event()
        runtime = get_runtime()
        self._loop = runtime.loop
        self._server = runtime.call(self._listen(), _TIMEOUT, twin="")
        self.host = HOST
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def _listen(self) -> asyncio.Server:
        loop = asyncio.get_running_loop()
        return await loop.create_server(lambda: _CannedReplies(self._got), HOST, 0)

    def received(self) -> None:
        if not self._got.wait(_TIMEOUT):
            raise BenchError("the floor responder saw no message")

    def stop(self) -> None:
        async def close() -> None:
            self._server.close()
            await self._server.wait_closed()

        get_runtime().call(close(), _TIMEOUT, twin="")


def _send(host: str, port: int) -> None:
    client = smtplib.SMTP(host, port, timeout=_TIMEOUT)
    try:
        refused = client.sendmail(SENDER, [RECIPIENT], MESSAGE)
    except BaseException:
        client.close()
        raise
    client.quit()
    if refused:
        raise BenchError(f"refused: {refused!r}")


@dataclass
class SMTPCycleResult:
    """Phases of each cycle, in seconds (the peer's port search is outside them)."""

    key: str
    label: str
    start: list[float] = field(default_factory=list)
    send: list[float] = field(default_factory=list)
    stop: list[float] = field(default_factory=list)
    total: list[float] = field(default_factory=list)

    def summaries(self) -> dict[str, Summary]:
        return {
            "total": summarize(self.total),
            "start": summarize(self.start),
            "send": summarize(self.send),
            "stop": summarize(self.stop),
        }


def _smtp_cycle(subject: SMTPSubject, result: SMTPCycleResult | None) -> None:
    port = free_port() if subject.needs_port else 0
    t0 = time.perf_counter()
    running = subject.start(port)
    t1 = time.perf_counter()
    try:
        _send(running.host, running.port)
        running.received()
        t2 = time.perf_counter()
    finally:
        running.stop()
    t3 = time.perf_counter()
    if result is not None:
        result.start.append(t1 - t0)
        result.send.append(t2 - t1)
        result.stop.append(t3 - t2)
        result.total.append(t3 - t0)


def run_smtp_cycles(
    subject: SMTPSubject, *, max_cycles: int, budget: float, warmup: int
) -> SMTPCycleResult:
    """Up to ``max_cycles`` cycles within ``budget`` seconds (after ``warmup`` unrecorded)."""
    result = SMTPCycleResult(subject.key, subject.label)
    for _ in range(warmup):
        _smtp_cycle(subject, None)
    deadline = time.perf_counter() + budget
    for _ in range(max_cycles):
        if time.perf_counter() > deadline:
            break
        _smtp_cycle(subject, result)
    return result


SMTP_UNDERSTUDY = SMTPSubject("understudy-smtp", "understudy SMTPServer()", _UnderstudySMTP)
SMTP_CONTROLLER = SMTPSubject(
    "aiosmtpd-controller",
    'aiosmtpd Controller(hostname="127.0.0.1", port=free)',
    lambda port: _Controller(port, defaults=False),
    needs_port=True,
)
SMTP_FLOOR = SMTPSubject(
    "smtp-floor", "floor: canned replies, no SMTP logic (on understudy's loop)", _Floor
)
SMTP_CONTROLLER_DEFAULTS = SMTPSubject(
    "aiosmtpd-controller-defaults",
    "aiosmtpd Controller(port=free), other defaults",
    lambda port: _Controller(port, defaults=True),
    needs_port=True,
)


# -- (f) stop() of TCP and UDP servers -----------------------------------------------------------


class StopRunning(Protocol):
    """A started server with one idle client, as (f) wants it."""

    def stop(self) -> None: ...

    def client_saw_eof(self) -> bool | None:
        """TCP: whether the idle client reads EOF now; UDP: None. Closes the client."""
        ...


@dataclass(frozen=True)
class StopSubject:
    key: str
    label: str
    transport: str  # "TCP" or "UDP"
    start: Callable[[], StopRunning]


def _eof(client: socket.socket) -> bool:
    client.settimeout(1.0)
    try:
        return client.recv(1) == b""
    except (TimeoutError, ConnectionError):
        return False
    finally:
        client.close()


class _UnderstudyTCP:
    def __init__(self) -> None:
        self._server = understudy.TCPServer().start()
        self._client = socket.create_connection((HOST, self._server.port), timeout=_TIMEOUT)
        self._server.wait_for_connections(1, timeout=_TIMEOUT)

    def stop(self) -> None:
        self._server.stop()

    def client_saw_eof(self) -> bool | None:
        return _eof(self._client)


class _UnderstudyUDP:
    def __init__(self) -> None:
        self._server = understudy.UDPServer().start()
        self._client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._client.sendto(b"ping", (HOST, self._server.port))
        self._server.wait_for_datagrams(1, timeout=_TIMEOUT)

    def stop(self) -> None:
        self._server.stop()

    def client_saw_eof(self) -> bool | None:
        self._client.close()
        return None


class _ReadUntilEOF(socketserver.BaseRequestHandler):
    server: _NotingTCPServer

    def handle(self) -> None:
        self.server.arrived.set()
        while self.request.recv(65536):
            pass


class _NotingTCPServer(socketserver.ThreadingTCPServer):
    arrived: threading.Event


class _NoteDatagram(socketserver.BaseRequestHandler):
    server: _NotingUDPServer

    def handle(self) -> None:
        self.server.arrived.set()


class _NotingUDPServer(socketserver.ThreadingUDPServer):
    arrived: threading.Event


class _SocketServer:
    """socketserver's threading TCP/UDP server, ``serve_forever()`` in a thread."""

    def __init__(self, server: _NotingTCPServer | _NotingUDPServer) -> None:
        server.arrived = threading.Event()
        self._server = server
        self.port = int(server.server_address[1])
        self._thread = threading.Thread(
            target=server.serve_forever, name="bench-socketserver", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()  # joins the handler threads (block_on_close)
        self._thread.join()


class _SocketServerTCP(_SocketServer):
    def __init__(self) -> None:
        super().__init__(_NotingTCPServer((HOST, 0), _ReadUntilEOF))
        self._client = socket.create_connection((HOST, self.port), timeout=_TIMEOUT)
        if not self._server.arrived.wait(_TIMEOUT):
            raise BenchError("socketserver did not accept the connection")

    def client_saw_eof(self) -> bool | None:
        return _eof(self._client)


class _SocketServerUDP(_SocketServer):
    def __init__(self) -> None:
        super().__init__(_NotingUDPServer((HOST, 0), _NoteDatagram))
        self._client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._client.sendto(b"ping", (HOST, self.port))
        if not self._server.arrived.wait(_TIMEOUT):
            raise BenchError("socketserver did not receive the datagram")

    def client_saw_eof(self) -> bool | None:
        self._client.close()
        return None


@dataclass
class SocketStopResult:
    """``stop()`` durations (seconds) and what the idle TCP client saw."""

    key: str
    label: str
    transport: str
    cap: float
    stop: list[float] = field(default_factory=list)
    #: Stops that had not returned after ``cap`` seconds (they returned once the client left).
    blocked: int = 0
    #: TCP cycles where the idle client read EOF right after ``stop()`` returned.
    client_saw_eof: int = 0


def _timed_stop(running: StopRunning, cap: float) -> tuple[float | None, threading.Thread]:
    """``running.stop()`` in a helper thread, timed inside it; None if it outlasts ``cap``."""
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


def run_socket_stops(
    subject: StopSubject, *, max_cycles: int, budget: float, warmup: int, cap: float
) -> SocketStopResult:
    """Time ``stop()`` of a fresh server with one idle client, cycle after cycle.

    A stop that outlasts ``cap`` seconds is counted as blocked; the client then leaves (which
    lets such a server finish stopping) and the loop ends, since every later cycle would block too.
    """
    result = SocketStopResult(subject.key, subject.label, subject.transport, cap)
    deadline = time.perf_counter() + budget
    for cycle in range(warmup + max_cycles):
        if cycle >= warmup and time.perf_counter() > deadline:
            break
        running = subject.start()
        duration, thread = _timed_stop(running, cap)
        eof = running.client_saw_eof()
        if duration is None:
            thread.join(_TIMEOUT)
            result.blocked += 1
            break
        if cycle < warmup:
            continue
        result.stop.append(duration)
        result.client_saw_eof += bool(eof)
    return result


TCP_UNDERSTUDY = StopSubject("understudy-tcp", "understudy TCPServer()", "TCP", _UnderstudyTCP)
UDP_UNDERSTUDY = StopSubject("understudy-udp", "understudy UDPServer()", "UDP", _UnderstudyUDP)
SOCKETSERVER_TCP = StopSubject(
    "socketserver-tcp", "socketserver.ThreadingTCPServer", "TCP", _SocketServerTCP
)
SOCKETSERVER_UDP = StopSubject(
    "socketserver-udp", "socketserver.ThreadingUDPServer", "UDP", _SocketServerUDP
)
