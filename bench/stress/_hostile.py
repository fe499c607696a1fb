"""Hostile clients: slowloris and slow readers timed out per the configured limits while a
normal client keeps being answered; 5 000 idle connections held while a new request is answered;
oversize and endless inputs refused with the documented answer and recorded; hostile payloads
(JSON nested 100 000 deep to the admin API, a catastrophic regex in a mapping) answered at once.

The client side runs on this process's own asyncio loop (``asyncio.run``), apart from the
runtime's loop thread that serves.
"""

from __future__ import annotations

import asyncio
import os
import resource
import smtplib
import socket
import struct
import tempfile
import time
from dataclasses import asdict, dataclass, field

import psutil

import understudy
import understudy.tls

__all__ = [
    "HostileResult",
    "OversizeResult",
    "SlowReadersMemory",
    "run_hostile",
    "run_oversize",
    "run_slow_readers_memory",
]

_TIMEOUT = 10.0


@dataclass
class HostileResult:
    name: str
    clients: int
    limit: float = 0.0  # seconds: the configured timeout
    timed_out: int = 0  # hostile clients the server let go (with 408, or aborted)
    max_seconds_to_timeout: float = 0.0
    normal_requests: int = 0
    normal_failures: int = 0
    normal_max_ms: float = 0.0
    probe_ms: list[float] = field(default_factory=list)
    error: str | None = None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


async def _normal_client(
    server: understudy.HTTPServer, stop: asyncio.Event, result: HostileResult
) -> None:
    """A well-behaved client: a fresh connection and one GET every 20 ms until ``stop``."""
    while not stop.is_set():
        started = time.perf_counter()
        try:
            reader, writer = await asyncio.open_connection(*server.address)
            writer.write(b"GET /normal HTTP/1.1\r\nHost: s\r\nConnection: close\r\n\r\n")
            answer = await asyncio.wait_for(reader.read(), _TIMEOUT)
            writer.close()
            await writer.wait_closed()
            if not answer.startswith(b"HTTP/1.1 200 "):
                result.normal_failures += 1
        except (OSError, TimeoutError):
            result.normal_failures += 1
        result.normal_requests += 1
        result.normal_max_ms = max(result.normal_max_ms, (time.perf_counter() - started) * 1e3)
        try:
            await asyncio.wait_for(stop.wait(), 0.02)
        except TimeoutError:
            pass


async def _probe(server: understudy.HTTPServer, result: HostileResult) -> None:
    """One GET on a fresh connection, timed."""
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection(*server.address)
    writer.write(b"GET /probe HTTP/1.1\r\nHost: s\r\nConnection: close\r\n\r\n")
    answer = await asyncio.wait_for(reader.read(), _TIMEOUT)
    writer.close()
    await writer.wait_closed()
    result.normal_requests += 1
    if not answer.startswith(b"HTTP/1.1 200 "):
        result.normal_failures += 1
    elapsed = (time.perf_counter() - started) * 1e3
    result.normal_max_ms = max(result.normal_max_ms, elapsed)
    result.probe_ms.append(elapsed)


#: The heads slowloris clients dribble, in turn: each must end in 408 after header_timeout,
#: whatever path the connection reads it on (an unregistered method is read again by a new
#: parser; an upgrade offered with a body is read on by one).
_SLOW_HEADS = [
    b"GET /slow HTTP/1.1\r\nHost: s\r\nX-Slow: ",
    b"FOO /slow HTTP/1.1\r\nHost: s\r\nX-Slow: ",
    b"POST /slow HTTP/1.1\r\nHost: s\r\nConnection: Upgrade\r\nUpgrade: h2c\r\nX-Slow: ",
]
_slow_turn = 0


async def _slowloris(server: understudy.HTTPServer, result: HostileResult) -> None:
    global _slow_turn  # noqa: PLW0603 - the turn of the heads, across the clients of a run
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection(*server.address)
    header = _SLOW_HEADS[_slow_turn % len(_SLOW_HEADS)] + b"a" * 100
    _slow_turn += 1
    answer = b""
    for byte in header:  # one byte a second, until the server answers
        writer.write(bytes([byte]))
        try:
            answer = await asyncio.wait_for(reader.read(4096), 1.0)
            break
        except TimeoutError:
            continue
        except ConnectionError:
            break
    writer.close()
    if answer.startswith(b"HTTP/1.1 408 "):
        result.timed_out += 1
        result.max_seconds_to_timeout = max(
            result.max_seconds_to_timeout, time.perf_counter() - started
        )


async def _slow_reader(server: understudy.HTTPServer, result: HostileResult) -> None:
    started = time.perf_counter()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    await loop.sock_connect(sock, server.address)
    await loop.sock_sendall(sock, b"GET /big HTTP/1.1\r\nHost: s\r\n\r\n")
    try:
        await asyncio.wait_for(_until_aborted(server, sock.getsockname()), _TIMEOUT)
        result.timed_out += 1
        result.max_seconds_to_timeout = max(
            result.max_seconds_to_timeout, time.perf_counter() - started
        )
    except TimeoutError:
        pass
    finally:
        sock.close()


async def _until_aborted(server: understudy.HTTPServer, client: tuple[str, int]) -> None:
    while not any(
        request.error is not None and request.peer == client for request in server.requests
    ):
        await asyncio.sleep(0.05)  # polling the journal from the client's own loop


async def _hostile(name: str, clients: int, limit: float) -> HostileResult:
    result = HostileResult(name, clients, limit)
    big = understudy.Response(200, body=b"x" * (16 * 1024 * 1024))

    def handler(request: understudy.Request) -> understudy.Response:
        return big if request.path == "/big" else understudy.Response(200, body="ok")

    options = {"header_timeout": limit} if name == "slowloris" else {"send_timeout": limit}
    with understudy.HTTPServer(handler=handler, **options) as server:  # type: ignore[arg-type]
        stop = asyncio.Event()
        normal = asyncio.create_task(_normal_client(server, stop, result))
        hostile = _slowloris if name == "slowloris" else _slow_reader
        await asyncio.gather(*(hostile(server, result) for _ in range(clients)))
        stop.set()
        await normal
    return result


async def _held_connections(count: int, probes: int) -> HostileResult:
    result = HostileResult("5000 connections held", count)
    with understudy.HTTPServer(response=understudy.Response(200, body="ok")) as server:
        writers = []
        try:
            for _ in range(count):
                _, writer = await asyncio.open_connection(*server.address)
                writers.append(writer)
            result.timed_out = len(writers)  # here: connections held open
            for _ in range(probes):
                await _probe(server, result)
        finally:
            for writer in writers:
                writer.close()
    return result


def _raise_fd_limit(wanted: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))


def run_hostile(
    *, slowloris: int = 50, slow_readers: int = 10, held: int = 5000, limit: float = 2.0
) -> list[HostileResult]:
    _raise_fd_limit(2 * held + 1000)
    results = []
    for coro in (
        _hostile("slowloris", slowloris, limit),
        _hostile("slow reader", slow_readers, limit),
        _held_connections(held, 20),
    ):
        try:
            results.append(asyncio.run(coro))
        except Exception as error:
            results.append(HostileResult("?", 0, error=f"{type(error).__name__}: {error}"))
    return results


# -- slow readers of a large canned body: memory ---------------------------------------------


@dataclass
class SlowReadersMemory:
    """RSS of this process (the server's) before and after ``clients`` connections each ask for
    a ``body_bytes`` canned body and never read it."""

    name: str
    clients: int
    body_bytes: int
    rss_before: int = 0
    rss_after: int = 0
    error: str | None = None

    #: The target: RSS grows by at most this much per slow reader (a copy of the body each
    #: would be ``body_bytes``).
    limit_per_client: int = 2 << 20

    @property
    def met(self) -> bool:
        grown = self.rss_after - self.rss_before
        return self.error is None and grown <= self.clients * self.limit_per_client

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "met": self.met}


def _slow_readers_memory(clients: int, *, tls: bool) -> SlowReadersMemory:
    size = 10 * 1024 * 1024
    result = SlowReadersMemory("HTTPS" if tls else "HTTP", clients, size)
    big = understudy.Response(200, body=b"x" * size)
    process = psutil.Process()
    opened: list[socket.socket] = []

    def connect(address: tuple[str, int], **options: int) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        opened.append(sock)
        for option, value in options.items():
            sock.setsockopt(socket.SOL_SOCKET, getattr(socket, option), value)
        sock.settimeout(_TIMEOUT)
        sock.connect(address)
        if tls:
            sock = understudy.tls.client_context().wrap_socket(sock, server_hostname="127.0.0.1")
            opened.append(sock)
        return sock

    with understudy.HTTPServer(response=big, tls=tls) as server:
        try:
            result.rss_before = process.memory_info().rss
            for _ in range(clients):
                connect(server.address, SO_RCVBUF=4096).sendall(
                    b"GET /big HTTP/1.1\r\nHost: s\r\n\r\n"
                )
            server.wait_for_requests(clients, timeout=_TIMEOUT)
            # Answered in turn: once this is, every slow reader's answer is with its transport.
            probe = connect(server.address)
            probe.sendall(b"HEAD / HTTP/1.1\r\nHost: s\r\nConnection: close\r\n\r\n")
            if not probe.recv(100).startswith(b"HTTP/1.1 200 "):
                result.error = "the probe was not answered 200"
            result.rss_after = process.memory_info().rss
        finally:
            for sock in opened:
                sock.close()
    return result


def run_slow_readers_memory(clients: int = 100) -> list[SlowReadersMemory]:
    results = []
    for tls in (False, True):
        try:
            results.append(_slow_readers_memory(clients, tls=tls))
        except Exception as error:
            results.append(
                SlowReadersMemory("?", clients, 0, error=f"{type(error).__name__}: {error}")
            )
    return results


# -- oversize and endless inputs -------------------------------------------------------------


@dataclass
class OversizeResult:
    name: str
    expected: str
    #: What ``recorded`` stands for in this case.
    recorded_means: str = "recorded with the reason"
    got: str = ""
    recorded: bool = False
    error: str | None = None

    @property
    def met(self) -> bool:
        return self.error is None and self.recorded and self.got == self.expected

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "met": self.met}


def _send_until_answered(address: tuple[str, int], head: bytes, piece: bytes, cap: int) -> bytes:
    """Send ``head``, then ``piece`` over and over (at most ``cap`` bytes) until the server
    answers or closes; return the answer."""
    with socket.create_connection(address, timeout=_TIMEOUT) as sock:
        sock.sendall(head)
        sock.setblocking(False)
        sent = 0
        answer = b""
        while sent < cap:
            try:
                answer += sock.recv(65536)
                break
            except BlockingIOError:
                pass
            except ConnectionResetError:
                break
            try:
                sent += sock.send(piece)
            except BlockingIOError:
                time.sleep(0.001)  # the server is not reading: wait for its answer
            except (BrokenPipeError, ConnectionResetError):
                break
        sock.settimeout(_TIMEOUT)
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except (ConnectionResetError, TimeoutError):
            pass
        return answer


def _status(answer: bytes) -> str:
    return answer[9:12].decode("latin-1") if answer.startswith(b"HTTP/1.1 ") else repr(answer[:20])


def _oversize_http_header() -> OversizeResult:
    result = OversizeResult("HTTP endless header section", "431")
    with understudy.HTTPServer(response=understudy.Response(200)) as server:
        answer = _send_until_answered(
            server.address,
            b"GET / HTTP/1.1\r\nHost: s\r\n",
            b"X-Endless: " + b"a" * 1000 + b"\r\n",
            64 << 20,
        )
        result.got = _status(answer)
        result.recorded = any(r.error for r in server.wait_for_requests(1, timeout=_TIMEOUT))
    return result


def _oversize_http_chunked() -> OversizeResult:
    result = OversizeResult("HTTP endless chunked body", "413")
    with understudy.HTTPServer(response=understudy.Response(200), max_body_size=1 << 20) as server:
        answer = _send_until_answered(
            server.address,
            b"POST / HTTP/1.1\r\nHost: s\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"4000\r\n" + b"b" * 0x4000 + b"\r\n",
            256 << 20,
        )
        result.got = _status(answer)
        result.recorded = any(r.error for r in server.wait_for_requests(1, timeout=_TIMEOUT))
    return result


def _oversize_smtp() -> OversizeResult:
    result = OversizeResult(
        "SMTP DATA over max_message_size",
        "552",
        "recorded with the reply, the next message too",
    )
    with understudy.SMTPServer(max_message_size=1 << 20) as server:
        with smtplib.SMTP(server.host, server.port, timeout=_TIMEOUT) as client:
            client.ehlo()
            client.mail("a@example.com")
            client.rcpt("b@example.com")
            code, _ = client.data(b"Subject: big\r\n\r\n" + (b"c" * 998 + b"\r\n") * 8192)
            result.got = str(code)
            # The refused content is recorded with the reply (without its bytes); the session
            # goes on, and the next message is recorded too.
            client.sendmail("a@example.com", ["b@example.com"], b"Subject: next\r\n\r\nok\r\n")
        refused, following = server.wait_for_messages(2, timeout=_TIMEOUT)
        result.recorded = (
            refused.error is not None
            and refused.error.startswith("552")
            and following.error is None
            and len(server.messages) == 2
        )
    return result


def _oversize_syslog() -> OversizeResult:
    result = OversizeResult(
        "syslog endless TCP frame", "refused", "recorded with the reason, next frame parsed"
    )
    with understudy.SyslogServer(transport="tcp", max_message_size=64 * 1024) as server:
        with socket.create_connection(server.address, timeout=_TIMEOUT) as sock:
            sock.sendall(b"<13>" + b"d" * (1 << 20))  # no trailer: endless
            sock.sendall(b"\n<13>1 - - app - - - after\n")
            [refused, after] = server.wait_for_messages(2, timeout=_TIMEOUT)
        result.recorded = refused.error is not None and after.error is None
        result.got = "refused" if refused.error else "accepted"
    return result


def _oversize_log_record() -> OversizeResult:
    result = OversizeResult("log-record endless frame", "refused", "a BadFrame with the reason")
    with understudy.LogRecordServer(max_frame_size=64 * 1024) as server:
        with socket.create_connection(server.address, timeout=_TIMEOUT) as sock:
            sock.sendall(struct.pack(">L", 0xFFFFFFF0) + b"e" * (4 << 20))
            deadline = time.monotonic() + _TIMEOUT
            while not server.bad_frames and time.monotonic() < deadline:
                time.sleep(0.01)
        result.recorded = bool(server.bad_frames)
        result.got = "refused" if result.recorded else "nothing"
    return result


def _admin_deep_json() -> OversizeResult:
    result = OversizeResult(
        "admin API JSON nested 100 000 deep",
        "422",
        "kept out of the journal, nothing for check()",
    )
    deep = b"[" * 100_000 + b"]" * 100_000
    with understudy.HTTPServer(admin=True) as server:
        answer = _send_until_answered(
            server.address,
            b"POST /__admin/mappings HTTP/1.1\r\nHost: s\r\nConnection: close\r\n"
            b"Content-Length: %d\r\n\r\n" % len(deep) + deep,
            b"",
            0,
        )
        result.got = _status(answer)
        server.check()
        result.recorded = server.requests == []
    return result


def _catastrophic_regex() -> OversizeResult:
    result = OversizeResult(
        "mapping regex /api/(a+)+b vs 10 000 a's",
        "404",
        "recorded as UnexpectedRequest, with the near-miss report",
    )
    mapping = b'{"request": {"urlPathPattern": "/api/(a+)+b"}, "response": {"body": "x"}}'
    with understudy.HTTPServer(admin=True) as server:
        created = _send_until_answered(
            server.address,
            b"POST /__admin/mappings HTTP/1.1\r\nHost: s\r\nConnection: close\r\n"
            b"Content-Length: %d\r\n\r\n" % len(mapping) + mapping,
            b"",
            0,
        )
        if _status(created) != "201":
            result.error = f"the mapping was not created: {created[:200]!r}"
            return result
        answer = _send_until_answered(
            server.address,
            b"GET /api/" + b"a" * 10_000 + b"! HTTP/1.1\r\nHost: s\r\nConnection: close\r\n\r\n",
            b"",
            0,
        )
        result.got = _status(answer)
        try:
            server.check()
        except understudy.UnexpectedRequest as unexpected:
            result.recorded = "urlPathPattern" in str(unexpected)
    return result


def _starttls_twice() -> OversizeResult:
    result = OversizeResult("SMTP STARTTLS inside TLS", "503", "nothing for check()")
    with understudy.SMTPServer(starttls=True) as server:
        with smtplib.SMTP(server.host, server.port, timeout=_TIMEOUT) as client:
            client.starttls(context=understudy.tls.client_context())
            result.got = str(client.docmd("STARTTLS")[0])
            client.noop()
        server.check()
        result.recorded = True
    return result


def _tls_alert(name: str, expected: str, settings: understudy.TLS, old: bool) -> OversizeResult:
    """A TLS client the server refuses: the alert it reads, and the failure recorded."""
    import ssl  # noqa: PLC0415
    import warnings  # noqa: PLC0415

    result = OversizeResult(name, expected, "recorded in tls_failures")
    context = understudy.tls.client_context()
    if old:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
            context.minimum_version = ssl.TLSVersion.TLSv1
            context.maximum_version = ssl.TLSVersion.TLSv1_1
            context.set_ciphers("DEFAULT:@SECLEVEL=0")
    with understudy.HTTPServer(tls=settings) as server:
        try:
            with (
                socket.create_connection(server.address, timeout=_TIMEOUT) as raw,
                context.wrap_socket(raw, server_hostname="localhost") as client,
            ):
                client.recv(1)
            result.got = "no error"
        except ssl.SSLError as error:
            result.got = str(error.reason).lower()
        result.recorded = bool(server.wait_for_tls_failures(1, timeout=_TIMEOUT))
    return result


def _mtls_without_certificate() -> OversizeResult:
    settings = understudy.TLS(client_cert="required")
    return _tls_alert(
        "mTLS without a client certificate", "tlsv13_alert_certificate_required", settings, False
    )


def _tls_1_1_client_hello() -> OversizeResult:
    return _tls_alert("TLS 1.1 ClientHello", "tlsv1_alert_protocol_version", understudy.TLS(), True)


def _near_miss_large_bodies() -> OversizeResult:
    result = OversizeResult(
        "near-miss report: 1 MiB body vs 50 mappings of 1 MiB bodies",
        "404",
        "recorded as UnexpectedRequest, ranked, in under 2 s",
    )
    big = "x" * (1 << 20)
    with understudy.HTTPServer(admin=True) as server:
        for index in range(50):
            server._stubs.add_json(
                {
                    "request": {
                        "method": "POST",
                        "url": f"/up/{index}",
                        "bodyPatterns": [{"equalTo": big[: -index - 1] + "y" * (index + 1)}],
                    },
                    "response": {"status": 200},
                }
            )
        body = big.encode()
        started = time.monotonic()
        answer = _send_until_answered(
            server.address,
            b"POST /up/7 HTTP/1.1\r\nHost: s\r\nConnection: close\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body) + body,
            b"",
            0,
        )
        took = time.monotonic() - started
        result.got = _status(answer)
        try:
            server.check()
        except understudy.UnexpectedRequest as unexpected:
            # the nearest: the mapping at /up/7 (URL equal), then the body nearest
            result.recorded = "/up/7" in str(unexpected).split("Nearest expectations:")[1][:300]
            result.recorded = result.recorded and took < 2.0
    return result


def _record_unrelayable() -> OversizeResult:
    result = OversizeResult(
        "proxy+record: upstream status 999 / folded field",
        "502",
        "not recorded; the recorded directory loads",
    )

    def upstream_handler(connection: understudy.StreamConnection) -> None:
        head = b""
        while (line := connection.readline(timeout=_TIMEOUT)) not in (b"\r\n", b""):
            head += line
        if head.startswith(b"GET /odd"):
            connection.sendall(b"HTTP/1.1 999 Odd\r\nContent-Length: 2\r\n\r\nhi")
        else:
            connection.sendall(b"HTTP/1.1 200 OK\r\nX-Fold: a\r\n b\r\nContent-Length: 2\r\n\r\nhi")

    with tempfile.TemporaryDirectory() as directory:
        with (
            understudy.TCPServer(handler=upstream_handler) as upstream,
            understudy.HTTPServer(
                proxy_to=f"http://127.0.0.1:{upstream.port}", record=directory
            ) as proxy,
        ):
            answers = [
                _send_until_answered(
                    proxy.address,
                    b"GET /%s HTTP/1.1\r\nHost: s\r\nConnection: close\r\n\r\n" % name,
                    b"",
                    0,
                )
                for name in (b"odd", b"fold")
            ]
            proxy.check()
        result.got = _status(answers[0])
        with understudy.HTTPServer(mappings=directory) as replay:
            replayed = _send_until_answered(
                replay.address,
                b"GET /fold HTTP/1.1\r\nHost: s\r\nConnection: close\r\n\r\n",
                b"",
                0,
            )
        result.recorded = (
            _status(answers[1]) == "200"
            and b"\r\nX-Fold: a b\r\n" in replayed
            and len(os.listdir(os.path.join(directory, "mappings"))) == 1
        )
    return result


def run_oversize() -> list[OversizeResult]:
    results = []
    for check in (
        _oversize_http_header,
        _oversize_http_chunked,
        _oversize_smtp,
        _oversize_syslog,
        _oversize_log_record,
        _admin_deep_json,
        _catastrophic_regex,
        _starttls_twice,
        _mtls_without_certificate,
        _tls_1_1_client_hello,
        _near_miss_large_bodies,
        _record_unrelayable,
    ):
        try:
            results.append(check())
        except Exception as error:
            results.append(
                OversizeResult(check.__name__, "?", error=f"{type(error).__name__}: {error}")
            )
    return results
