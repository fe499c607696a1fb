"""HTTP/1.1 on the wire (RFC 9112): keep-alive, pipelining, chunked bodies, 100-continue, HEAD,
HTTP/1.0, malformed and oversize input, request smuggling shapes, and stop() with clients attached.

Byte-exact cases use raw sockets with the small response reader below; the others use
``http.client``.
"""

from __future__ import annotations

import http.client
import pickle
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from understudy import HTTPServer, Request, Response, WaitTimeout

TIMEOUT = 5.0


# -- a minimal HTTP/1.1 response reader over a socket ----------------------------------------


class Reply:
    def __init__(self, status: int, reason: str, fields: list[tuple[str, str]], body: bytes):
        self.status = status
        self.reason = reason
        self.fields = fields
        self.body = body

    def get(self, name: str) -> str | None:
        for key, value in self.fields:
            if key.lower() == name.lower():
                return value
        return None

    def get_all(self, name: str) -> list[str]:
        return [value for key, value in self.fields if key.lower() == name.lower()]

    def __repr__(self) -> str:
        return f"Reply({self.status}, {self.fields}, {self.body[:60]!r})"


class Wire:
    """A raw client connection: send bytes, read responses exactly as framed."""

    def __init__(self, server: HTTPServer) -> None:
        self.sock = socket.create_connection(server.address, timeout=TIMEOUT)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.file = self.sock.makefile("rb")

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def line(self) -> bytes:
        line = self.file.readline(65537)
        if not line:
            raise EOFError("the server closed the connection")
        return line

    def read_response(self, *, method: str = "GET") -> Reply:
        status_line = self.line().decode("latin-1")
        version, status, reason = status_line.rstrip("\r\n").split(" ", 2)
        assert version == "HTTP/1.1", status_line
        fields: list[tuple[str, str]] = []
        while (line := self.line()) != b"\r\n":
            name, _, value = line.decode("latin-1").partition(":")
            fields.append((name, value.strip()))
        reply = Reply(int(status), reason, fields, b"")
        code = int(status)
        if method == "HEAD" or code < 200 or code in (204, 304):
            return reply
        if (reply.get("transfer-encoding") or "").lower() == "chunked":
            body = b""
            while True:
                size = int(self.line().split(b";")[0], 16)
                if size == 0:
                    assert self.line() == b"\r\n"
                    break
                body += self.file.read(size)
                assert self.file.read(2) == b"\r\n"
            reply.body = body
        elif (length := reply.get("content-length")) is not None:
            reply.body = self.file.read(int(length))
        else:
            reply.body = self.file.read()
        return reply

    def at_eof(self) -> bool:
        """Whether the server has closed its side (waits for it, up to TIMEOUT)."""
        try:
            return self.file.read(1) == b""
        except ConnectionResetError:
            return True

    def close(self) -> None:
        self.file.close()
        self.sock.close()


@pytest.fixture
def wires() -> Iterator[list[Wire]]:
    opened: list[Wire] = []
    yield opened
    for wire in opened:
        wire.close()


def echo(request: Request) -> Response:
    """Answer with what was received, so the order of answers is visible."""
    return Response(
        200,
        body=f"{request.method} {request.target} {request.http_version} {request.body!r}",
        headers={"X-Path": request.path},
    )


def get(target: str, *extra: str, version: str = "1.1") -> bytes:
    lines = [f"GET {target} HTTP/{version}", "Host: test", *extra, "", ""]
    return "\r\n".join(lines).encode()


# -- keep-alive and pipelining ---------------------------------------------------------------


def test_keep_alive_serves_several_requests_on_one_connection() -> None:
    with HTTPServer(handler=echo) as server:
        conn = http.client.HTTPConnection(server.host, server.port, timeout=TIMEOUT)
        try:
            for index in range(3):
                conn.request("GET", f"/n{index}")
                reply = conn.getresponse()
                assert reply.read() == f"GET /n{index} 1.1 b''".encode()
                assert reply.getheader("Connection") is None
        finally:
            conn.close()
        requests = server.wait_for_requests(3)
    assert len({request.peer for request in requests}) == 1


def test_keep_alive_with_bodies_of_every_kind(wires: list[Wire]) -> None:
    with HTTPServer(handler=echo) as server:
        wire = Wire(server)
        wires.append(wire)
        wire.send(b"POST /a HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc")
        assert wire.read_response().body == b"POST /a 1.1 b'abc'"
        wire.send(
            b"POST /b HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"2\r\nde\r\n1;ext=1\r\nf\r\n0\r\nTrailer: x\r\n\r\n"
        )
        assert wire.read_response().body == b"POST /b 1.1 b'def'"
        wire.send(get("/c"))
        assert wire.read_response().body == b"GET /c 1.1 b''"


def test_pipelined_requests_are_answered_in_order(wires: list[Wire]) -> None:
    with HTTPServer(handler=echo) as server:
        wire = Wire(server)
        wires.append(wire)
        wire.send(
            get("/1")
            + b"POST /2 HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n\r\nbody"
            + b"POST /3 HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
            + b"1\r\nx\r\n0\r\n\r\n"
            + get("/4")
        )
        bodies = [wire.read_response().body for _ in range(4)]
    assert bodies == [
        b"GET /1 1.1 b''",
        b"POST /2 1.1 b'body'",
        b"POST /3 1.1 b'x'",
        b"GET /4 1.1 b''",
    ]


def test_pipelining_with_a_slow_handler_first(wires: list[Wire]) -> None:
    release = threading.Event()
    started = threading.Event()
    calls: list[str] = []

    def handler(request: Request) -> str:
        calls.append(request.path)
        if request.path == "/slow":
            started.set()
            assert release.wait(TIMEOUT)
        return request.path

    with HTTPServer(handler=handler) as server:
        wire = Wire(server)
        wires.append(wire)
        wire.send(get("/slow") + get("/fast") + get("/faster"))
        server.wait_for_requests(3)  # all three parsed while /slow is being handled
        assert started.wait(TIMEOUT)
        assert calls == ["/slow"]
        release.set()
        bodies = [wire.read_response().body for _ in range(3)]
    assert bodies == [b"/slow", b"/fast", b"/faster"]
    assert calls == ["/slow", "/fast", "/faster"]


def test_many_pipelined_requests_pause_and_resume_reading(wires: list[Wire]) -> None:
    with HTTPServer(handler=echo) as server:
        wire = Wire(server)
        wires.append(wire)
        wire.send(b"".join(get(f"/{index}") for index in range(60)))
        paths = [wire.read_response().get("x-path") for _ in range(60)]
    assert paths == [f"/{index}" for index in range(60)]


def test_a_malformed_request_after_good_pipelined_ones(wires: list[Wire]) -> None:
    with HTTPServer(handler=echo) as server:
        wire = Wire(server)
        wires.append(wire)
        wire.send(get("/ok") + b"BAD\x00REQUEST\r\n\r\n")
        first = wire.read_response()
        second = wire.read_response()
        assert wire.at_eof()
        requests = server.wait_for_requests(2)
    assert first.status == 200
    assert second.status == 400
    assert second.get("connection") == "close"
    assert requests[0].error is None
    assert requests[1].error is not None


# -- request bodies --------------------------------------------------------------------------


def test_chunked_request_body(wires: list[Wire]) -> None:
    with HTTPServer(handler=echo) as server:
        wire = Wire(server)
        wires.append(wire)
        wire.send(
            b"PUT /up HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
        )
        reply = wire.read_response()
        [request] = server.wait_for_requests(1)
    assert reply.body == b"PUT /up 1.1 b'hello world'"
    assert request.body == b"hello world"
    assert request.headers["transfer-encoding"] == "chunked"


def test_a_request_sent_one_byte_at_a_time(wires: list[Wire]) -> None:
    data = (
        b"POST /slowly?a=1 HTTP/1.1\r\nHost: t\r\nX-Long: "
        + b"v" * 50
        + b"\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n10\r\n"
        + b"0123456789abcdef\r\n0\r\n\r\n"
    )
    with HTTPServer(handler=echo) as server:
        wire = Wire(server)
        wires.append(wire)
        for index in range(len(data)):
            wire.send(data[index : index + 1])
        reply = wire.read_response()
        [request] = server.wait_for_requests(1)
    assert reply.body == b"POST /slowly?a=1 1.1 b'abc0123456789abcdef'"
    assert request.headers["x-long"] == "v" * 50
    assert request.query["a"] == "1"


def test_http_client_sends_a_chunked_body_from_an_iterable() -> None:
    with HTTPServer(handler=echo) as server:
        conn = http.client.HTTPConnection(server.host, server.port, timeout=TIMEOUT)
        try:
            conn.request("POST", "/it", body=iter([b"one", b"two"]), encode_chunked=True)
            reply = conn.getresponse()
            assert reply.read() == b"POST /it 1.1 b'onetwo'"
        finally:
            conn.close()


# -- streamed responses ------------------------------------------------------------------


def test_a_streamed_response_is_chunked(wires: list[Wire]) -> None:
    def handler(request: Request) -> Response:
        return Response(200, body=(part for part in [b"one ", b"", b"two ", b"three"]))

    with HTTPServer(handler=handler) as server:
        wire = Wire(server)
        wires.append(wire)
        wire.send(get("/stream") + get("/stream"))
        first = wire.read_response()
        second = wire.read_response()
    assert first.get("transfer-encoding") == "chunked"
    assert first.get("content-length") is None
    assert first.body == second.body == b"one two three"


def test_a_large_streamed_response_is_delivered_whole() -> None:
    chunk = bytes(range(256)) * 256  # 64 KiB

    def handler(request: Request) -> Response:
        # 4 MiB, beyond the transport's buffer
        return Response(200, body=(chunk for _ in range(64)))

    with HTTPServer(handler=handler) as server:
        conn = http.client.HTTPConnection(server.host, server.port, timeout=TIMEOUT)
        try:
            conn.request("GET", "/big")
            body = conn.getresponse().read()
        finally:
            conn.close()
    assert body == chunk * 64


def test_a_streamed_response_to_http_1_0_is_close_delimited(wires: list[Wire]) -> None:
    with HTTPServer(response=Response(200, body=[b"a", b"b"])) as server:
        wire = Wire(server)
        wires.append(wire)
        wire.send(get("/", "Connection: keep-alive", version="1.0"))
        reply = wire.read_response()  # no length, not chunked: read to EOF
    assert reply.body == b"ab"
    assert reply.get("connection") == "close"
    assert reply.get("transfer-encoding") is None


# -- Expect: 100-continue -----------------------------------------------------------------


def test_expect_100_continue_before_the_body(wires: list[Wire]) -> None:
    with HTTPServer(handler=echo) as server:
        wire = Wire(server)
        wires.append(wire)
        wire.send(
            b"POST /e HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-Continue\r\n\r\n"
        )
        interim = wire.read_response()
        assert interim.status == 100
        assert server.requests == []
        wire.send(b"hello")
        final = wire.read_response()
    assert final.status == 200
    assert final.body == b"POST /e 1.1 b'hello'"


def test_expect_100_continue_with_http_client() -> None:
    with HTTPServer(handler=echo) as server:
        conn = http.client.HTTPConnection(server.host, server.port, timeout=TIMEOUT)
        try:
            conn.putrequest("POST", "/x")
            conn.putheader("Content-Length", "2")
            conn.putheader("Expect", "100-continue")
            conn.endheaders()
            conn.send(b"ok")
            reply = conn.getresponse()  # http.client skips the 100 response
            assert reply.status == 200
            assert reply.read() == b"POST /x 1.1 b'ok'"
        finally:
            conn.close()


def test_expect_100_continue_refused_when_too_large(wires: list[Wire]) -> None:
    with HTTPServer(handler=echo, max_body_size=10) as server:
        wire = Wire(server)
        wires.append(wire)
        wire.send(
            b"POST /big HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\nExpect: 100-continue\r\n\r\n"
        )
        reply = wire.read_response()
        assert wire.at_eof()
        [request] = server.wait_for_requests(1)
    assert reply.status == 413
    assert request.error is not None
    assert "max_body_size" in request.error
    assert request.path == "/big"


def test_no_100_continue_to_http_1_0(wires: list[Wire]) -> None:
    with HTTPServer(handler=echo) as server:
        wire = Wire(server)
        wires.append(wire)
        wire.send(b"POST /e HTTP/1.0\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\nhi")
        reply = wire.read_response()
    assert reply.status == 200  # not 100 first
    assert reply.body == b"POST /e 1.0 b'hi'"


# -- HEAD, Connection: close, HTTP/1.0 -------------------------------------------------------


def test_head_has_content_length_but_no_body(wires: list[Wire]) -> None:
    with HTTPServer(response=Response(200, body=b"twelve bytes")) as server:
        wire = Wire(server)
        wires.append(wire)
        wire.send(b"HEAD / HTTP/1.1\r\nHost: t\r\n\r\n" + get("/"))
        head = wire.read_response(method="HEAD")
        after = wire.read_response()  # would be garbled if the HEAD response had a body
    assert head.get("content-length") == "12"
    assert after.status == 200
    assert after.body == b"twelve bytes"


def test_head_of_a_streamed_body_sends_nothing(wires: list[Wire]) -> None:
    def handler(request: Request) -> Response:
        return Response(200, body=iter([b"abc"]))

    with HTTPServer(handler=handler) as server:
        wire = Wire(server)
        wires.append(wire)
        wire.send(b"HEAD / HTTP/1.1\r\nHost: t\r\n\r\n" + get("/"))
        head = wire.read_response(method="HEAD")
        after = wire.read_response()
    assert head.status == 200
    assert after.body == b"abc"


def test_connection_close_from_the_client(wires: list[Wire]) -> None:
    with HTTPServer(handler=echo) as server:
        wire = Wire(server)
        wires.append(wire)
        wire.send(get("/", "Connection: close") + get("/never"))
        reply = wire.read_response()
        assert wire.at_eof()
        [request] = server.wait_for_requests(1)
    assert reply.get("connection") == "close"
    assert request.path == "/"


def test_connection_close_from_the_response(wires: list[Wire]) -> None:
    with HTTPServer(response=Response(200, body="bye", headers={"Connection": "close"})) as server:
        wire = Wire(server)
        wires.append(wire)
        wire.send(get("/"))
        reply = wire.read_response()
        assert wire.at_eof()
    assert reply.get_all("connection") == ["close"]


def test_http_1_0_closes_by_default(wires: list[Wire]) -> None:
    with HTTPServer(handler=echo) as server:
        wire = Wire(server)
        wires.append(wire)
        wire.send(b"GET /old HTTP/1.0\r\n\r\n")
        reply = wire.read_response()
        assert wire.at_eof()
    assert reply.body == b"GET /old 1.0 b''"
    assert reply.get("connection") == "close"


def test_http_1_0_keep_alive_when_asked(wires: list[Wire]) -> None:
    with HTTPServer(handler=echo) as server:
        wire = Wire(server)
        wires.append(wire)
        for index in range(2):
            wire.send(get(f"/{index}", "Connection: keep-alive", version="1.0"))
            reply = wire.read_response()
            assert reply.get("connection") == "keep-alive"
            assert reply.body == f"GET /{index} 1.0 b''".encode()
        wire.send(get("/last", version="1.0"))
        assert wire.read_response().get("connection") == "close"
        assert wire.at_eof()


@pytest.mark.parametrize(
    ("version", "extra", "recorded", "persists"),
    [
        ("1.1", (), "1.1", True),
        ("1.1", ("Connection: close",), "1.1", False),
        ("1.1", ("Connection: keep-alive",), "1.1", True),
        ("1.1", ("connection: Upgrade-Insecure, keep-alive",), "1.1", True),
        ("1.0", (), "1.0", False),
        ("1.0", ("Connection: keep-alive",), "1.0", True),
        ("1.0", ("CONNECTION: KEEP-ALIVE",), "1.0", True),
        # llhttp reads Proxy-Connection as Connection (a 1.0 request persists by either)
        ("1.0", ("Proxy-Connection: keep-alive",), "1.0", True),
        ("1.0", ("proxy-connection: Keep-Alive", "Keep-Alive: timeout=5"), "1.0", True),
        ("1.0", ("Keep-Alive: timeout=5",), "1.0", False),
        ("1.1", ("Proxy-Connection: close",), "1.1", False),
        ("1.1", ("Keep-Alive: timeout=5",), "1.1", True),
    ],
)
def test_the_http_version_is_recorded_and_answered_whatever_the_connection_field(
    wires: list[Wire], version: str, extra: tuple[str, ...], recorded: str, persists: bool
) -> None:
    with HTTPServer(handler=echo) as server:
        wire = Wire(server)
        wires.append(wire)
        wire.send(get("/v", *extra, version=version))
        reply = wire.read_response()
        assert reply.body == f"GET /v {recorded} b''".encode()
        assert server.requests[0].http_version == recorded
        if not persists:
            assert reply.get("connection") == "close"
        elif version == "1.0":
            assert reply.get("connection") == "keep-alive"  # (RFC 9112 §9.3: HTTP/1.0 must ask)
        if persists:
            wire.send(get("/again", *extra, version=version))
            assert wire.read_response().body == f"GET /again {recorded} b''".encode()
        else:
            assert wire.at_eof()


@pytest.mark.parametrize("version", ["2.0", "0.9"])
@pytest.mark.parametrize(
    "extra",
    [(), ("Connection: keep-alive",), ("Proxy-Connection: keep-alive",)],
    ids=["plain", "keep-alive", "proxy-keep-alive"],
)
def test_versions_other_than_1_x_get_505_and_are_recorded(
    wires: list[Wire], version: str, extra: tuple[str, ...]
) -> None:
    with HTTPServer(handler=echo) as server:
        wire = Wire(server)
        wires.append(wire)
        wire.send(get("/v", *extra, version=version))
        assert wire.read_response().status == 505
        assert wire.at_eof()
        (request,) = server.wait_for_requests(1, timeout=TIMEOUT)
        assert request.error is not None
        assert f"HTTP/{version}" in request.error


@pytest.mark.parametrize(
    "pieces",
    [
        [b"Connection: keep-alive\r\n\r\n"],
        [b"Proxy-Connection: keep-alive\r\n\r\n"],
        [b"cOnNeC", b"tIoN: keep-alive\r\n\r\n"],  # (the name split across reads)
    ],
    ids=["connection", "proxy-connection", "split"],
)
def test_a_persistent_http_1_0_request_needs_no_host_field(
    wires: list[Wire], pieces: list[bytes]
) -> None:
    """HTTP/1.0 has no Host requirement (RFC 9112 §3.2 is HTTP/1.1's), whatever asks to persist."""
    with HTTPServer(handler=echo) as server:
        wire = Wire(server)
        wires.append(wire)
        for turn in range(2):
            wire.send(b"GET /old HTTP/1.0\r\n")
            for piece in pieces:
                wire.send(piece)
            reply = wire.read_response()
            assert (reply.status, reply.body) == (200, b"GET /old 1.0 b''"), turn
            assert reply.get("connection") == "keep-alive"
            assert reply.get("transfer-encoding") is None
        assert [request.http_version for request in server.requests] == ["1.0", "1.0"]
        server.check()


async def plain_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"plain"})


BEHAVIOURS = [
    {"response": Response(200, body="plain")},
    {"handler": lambda request: "plain"},
    {"asgi": plain_app},
]


@pytest.mark.parametrize("behaviour", BEHAVIOURS, ids=["response", "handler", "asgi"])
def test_a_connect_request_is_answered_as_plain_http_then_closed(
    wires: list[Wire], behaviour: dict[str, Any]
) -> None:
    """What follows a CONNECT head is the client's tunnel, never HTTP: the answer says the
    connection closes (RFC 9112 §9.6), whichever host answers, and however soon."""
    with HTTPServer(**behaviour) as server:
        wire = Wire(server)
        wires.append(wire)
        wire.send(b"CONNECT example.test:443 HTTP/1.1\r\nHost: example.test:443\r\n\r\n")
        reply = wire.read_response()
        assert reply.get("connection") == "close"
        assert wire.at_eof()
    assert reply.body == b"plain"


@pytest.mark.parametrize("behaviour", BEHAVIOURS, ids=["response", "handler", "asgi"])
@pytest.mark.parametrize(
    ("request_bytes", "persists"),
    [
        (get("/ws", "Connection: Upgrade", "Upgrade: websocket"), True),
        (get("/ws", "Upgrade: websocket", "connection: keep-alive, UPGRADE"), True),
        (get("/ws", "Connection: Upgrade", "Upgrade: websocket", version="1.0"), False),
        (
            get("/h2", "Connection: Upgrade, HTTP2-Settings", "Upgrade: h2c", "HTTP2-Settings: AA"),
            True,
        ),
    ],
    ids=["upgrade", "upgrade-after", "upgrade-1.0", "h2c"],
)
def test_an_upgrade_is_ignored_and_the_connection_stays_http_1_1(
    wires: list[Wire], behaviour: dict[str, Any], request_bytes: bytes, persists: bool
) -> None:
    """A server that does not switch ignores Upgrade (RFC 9110 §7.8): the request is answered
    as any other, and the connection persists as it would without the field."""
    with HTTPServer(**behaviour) as server:
        wire = Wire(server)
        wires.append(wire)
        wire.send(request_bytes + get("/next") if persists else request_bytes)
        first = wire.read_response()
        assert first.body == b"plain"
        if persists:
            assert first.get("connection") is None
            assert wire.read_response().body == b"plain"
        else:
            assert first.get("connection") == "close"
            assert wire.at_eof()
        requests = server.wait_for_requests(2 if persists else 1)
    assert all(request.error is None for request in requests)


UPGRADES = {
    "h2c": ("Connection: Upgrade, HTTP2-Settings", "Upgrade: h2c", "HTTP2-Settings: AAMAAABkAAQ"),
    "websocket": ("Connection: Upgrade", "Upgrade: websocket"),
}


def post(target: str, body: bytes, *extra: str, chunked: bool = False) -> bytes:
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {len(body)}"
    head = "\r\n".join([f"POST {target} HTTP/1.1", "Host: test", *extra, framing, "", ""])
    if chunked:
        body = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body) if body else b"0\r\n\r\n"
    return head.encode() + body


@pytest.mark.parametrize("upgrade", list(UPGRADES), ids=list(UPGRADES))
@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
@pytest.mark.parametrize("pieces", [False, True], ids=["whole", "byte-by-byte"])
def test_a_body_offered_an_upgrade_is_read_by_its_framing(
    wires: list[Wire], upgrade: str, chunked: bool, pieces: bool
) -> None:
    """Issue 19 item 15: with Upgrade (Java's HttpClient and curl --http2 send h2c on every
    cleartext request) the body arrived empty. The body is read as without the field, and
    the request after it (pipelined) is HTTP/1.1 again."""
    data = post("/up", b"hello world!", *UPGRADES[upgrade], chunked=chunked)
    data += post("/after", b"second", *UPGRADES[upgrade], chunked=not chunked) + get("/last")
    with HTTPServer(handler=echo) as server:
        wire = Wire(server)
        wires.append(wire)
        if pieces:
            for index in range(len(data)):
                wire.send(data[index : index + 1])
        else:
            wire.send(data)
        replies = [wire.read_response() for _ in range(3)]
        requests = server.wait_for_requests(3)
    assert [reply.body for reply in replies] == [
        b"POST /up 1.1 b'hello world!'",
        b"POST /after 1.1 b'second'",
        b"GET /last 1.1 b''",
    ]
    assert [request.body for request in requests] == [b"hello world!", b"second", b""]
    assert [request.error for request in requests] == [None, None, None]


@pytest.mark.parametrize("behaviour", BEHAVIOURS[1:], ids=["handler", "asgi"])
def test_expect_100_continue_with_an_upgrade_field(
    wires: list[Wire], behaviour: dict[str, Any]
) -> None:
    """Issue 19 item 15: a client that waits for 100 Continue (JDK's HttpClient) got the final
    answer without the body it had not sent yet, then hung."""

    async def body_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})

    behaviour = {"asgi": body_app} if "asgi" in behaviour else {"handler": lambda r: r.body}
    head = post("/up", b"", *UPGRADES["h2c"], "Expect: 100-continue")
    head = head.replace(b"Content-Length: 0", b"Content-Length: 12")
    with HTTPServer(**behaviour) as server:
        wire = Wire(server)
        wires.append(wire)
        wire.send(head)
        interim = wire.read_response()
        assert interim.status == 100
        wire.send(b"hello world!")
        reply = wire.read_response()
    assert reply.status == 200
    assert reply.body == b"hello world!"


def test_clients_that_send_upgrade_h2c_post_their_bodies() -> None:
    """http.client and requests with the Upgrade fields Java's HttpClient sends, and curl
    --http2 (which offers h2c on http://) where curl is installed."""
    with HTTPServer(handler=lambda request: request.body) as server:
        fields = {
            "Connection": "Upgrade, HTTP2-Settings",
            "Upgrade": "h2c",
            "HTTP2-Settings": "AAMAAABkAAQCAAAAAAIAAAAA",
        }
        connection = http.client.HTTPConnection(*server.address, timeout=TIMEOUT)
        connection.request("POST", "/a", body=b"from http.client", headers=fields)
        reply = connection.getresponse()
        assert (reply.status, reply.read()) == (200, b"from http.client")
        connection.request("PUT", "/b", body=iter([b"chunked ", b"body"]), headers=fields)
        reply = connection.getresponse()
        assert (reply.status, reply.read()) == (200, b"chunked body")
        connection.close()
        answer = requests.post(
            server.url + "/c", data=b"from requests", headers=fields, timeout=TIMEOUT
        )
        assert (answer.status_code, answer.content) == (200, b"from requests")
        expected = [b"from http.client", b"chunked body", b"from requests"]
        curl = shutil.which("curl")
        if curl is not None:
            for extra in ([], ["-H", "Expect: 100-continue"]):
                done = subprocess.run(
                    [
                        curl,
                        "--silent",
                        "--show-error",
                        "--http2",
                        "--max-time",
                        "5",
                        "--data-binary",
                        "from curl",
                        *extra,
                        server.url + "/d",
                    ],
                    capture_output=True,
                    check=True,
                    timeout=TIMEOUT * 2,
                )
                assert done.stdout == b"from curl"
                expected.append(b"from curl")
        requests_seen = server.wait_for_requests(len(expected))
    assert [request.body for request in requests_seen] == expected
    if curl is not None:
        assert requests_seen[-1].headers["upgrade"] == "h2c"


@pytest.mark.parametrize(
    "extra",
    [("Upgrade: h2c",), ("Connection: keep-alive", "Upgrade: websocket")],
    ids=["no-connection-option", "not-an-option"],
)
def test_an_upgrade_field_alone_is_no_upgrade(wires: list[Wire], extra: tuple[str, ...]) -> None:
    with HTTPServer(handler=echo) as server:
        wire = Wire(server)
        wires.append(wire)
        for target in ("/a", "/b"):
            wire.send(get(target, *extra))
            reply = wire.read_response()
            assert reply.body == f"GET {target} 1.1 b''".encode()
            assert reply.get("connection") is None


def test_an_absolute_form_target(wires: list[Wire]) -> None:
    with HTTPServer(handler=echo) as server:
        wire = Wire(server)
        wires.append(wire)
        wire.send(b"GET http://example.test/a%20b?x=1 HTTP/1.1\r\nHost: example.test\r\n\r\n")
        reply = wire.read_response()
        [request] = server.wait_for_requests(1)
    assert reply.get("x-path") == "/a b"
    assert request.target == "http://example.test/a%20b?x=1"
    assert request.path == "/a b"
    assert request.raw_path == "/a%20b"
    assert request.query["x"] == "1"
    assert request.url == "http://example.test/a%20b?x=1"


# -- bad input ---------------------------------------------------------------------------


def refused(server: HTTPServer, data: bytes, wires: list[Wire]) -> tuple[Reply, Request]:
    """Send ``data``; expect one error response, then EOF, and one journal entry."""
    wire = Wire(server)
    wires.append(wire)
    try:
        wire.send(data)
    except (BrokenPipeError, ConnectionResetError):  # the server may close before all is sent
        pass
    reply = wire.read_response()
    assert wire.at_eof()
    [request] = server.wait_for_requests(1)
    return reply, request


class Recorder:
    """A handler that must never be called."""

    def __init__(self) -> None:
        self.calls: list[Request] = []

    def __call__(self, request: Request) -> str:
        self.calls.append(request)
        return "handled"


def test_a_malformed_request_line_gets_400_and_is_recorded(wires: list[Wire]) -> None:
    handler = Recorder()
    with HTTPServer(handler=handler) as server:
        reply, request = refused(server, b"GET / HTTP/1.1 junk\r\n\r\n", wires)
    assert reply.status == 400
    assert reply.get("connection") == "close"
    assert request.error is not None
    assert "malformed" in request.error
    assert handler.calls == []


@pytest.mark.parametrize(
    "host", ["a b/c", "a/b", "a:b:c", "host:80x", "[::1", "a@b", "caf\xe9.test"]
)
def test_an_invalid_host_field_gets_400(wires: list[Wire], host: str) -> None:
    """Issue 19 item 9: RFC 9112 §3.2, a server MUST answer 400 to a Host field value that is
    not uri-host [":" port]."""
    handler = Recorder()
    with HTTPServer(handler=handler) as server:
        data = f"GET /h HTTP/1.1\r\nHost: {host}\r\n\r\n".encode("latin-1")
        reply, request = refused(server, data, wires)
    assert reply.status == 400
    assert request.error is not None
    assert "Host field" in request.error
    assert (request.method, request.target) == ("GET", "/h")
    assert handler.calls == []


@pytest.mark.parametrize(
    "host", ["", "example.test", "example.test:8080", "127.0.0.1:1", "[::1]:80", "ex%41mple.test"]
)
def test_a_valid_host_field_is_accepted(wires: list[Wire], host: str) -> None:
    with HTTPServer(handler=echo) as server:
        wire = Wire(server)
        wires.append(wire)
        wire.send(f"GET /h HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        assert wire.read_response().status == 200
        [request] = server.wait_for_requests(1)
    assert request.headers["host"] == host


@pytest.mark.parametrize("method", ["GET", "POST", "HEAD", "DELETE"])
def test_the_asterisk_form_is_only_for_options(wires: list[Wire], method: str) -> None:
    """Issue 19 item 9: RFC 9112 §3.2.4, ``*`` is the target of a server-wide OPTIONS only."""
    handler = Recorder()
    with HTTPServer(handler=handler) as server:
        reply, request = refused(server, f"{method} * HTTP/1.1\r\nHost: t\r\n\r\n".encode(), wires)
    assert reply.status == 400
    assert request.error is not None
    assert "OPTIONS" in request.error
    assert (request.method, request.target) == (method, "*")
    assert handler.calls == []


def test_options_asterisk_is_answered(wires: list[Wire]) -> None:
    with HTTPServer(handler=echo) as server:
        wire = Wire(server)
        wires.append(wire)
        wire.send(b"OPTIONS * HTTP/1.1\r\nHost: t\r\n\r\n")
        assert wire.read_response().body == b"OPTIONS * 1.1 b''"


UNREGISTERED = [b"FOO", b"X-CUSTOM", b"get", b"M!#$%&'*+-.^_`|~9", b"PROPFIND2"]


@pytest.mark.parametrize("pieces", [False, True], ids=["whole", "byte-by-byte"])
def test_any_token_is_a_method_and_reaches_routing(wires: list[Wire], pieces: bool) -> None:
    """Issue 19 item 8: llhttp knows a fixed list of methods and refused the others as
    malformed; RFC 9110 §9.1 makes any token a method (case-sensitive). Pipelined, with
    bodies, among registered ones."""
    data = b"".join(
        method + b" /m/" + str(index).encode() + b" HTTP/1.1\r\nHost: t\r\n"
        b"Content-Length: 3\r\n\r\nabc" + get("/between")
        for index, method in enumerate(UNREGISTERED)
    )
    with HTTPServer(handler=echo) as server:
        wire = Wire(server)
        wires.append(wire)
        if pieces:
            for index in range(len(data)):
                wire.send(data[index : index + 1])
        else:
            wire.send(data)
        replies = [wire.read_response() for _ in range(2 * len(UNREGISTERED))]
        requests_seen = server.wait_for_requests(2 * len(UNREGISTERED))
    assert [reply.body for reply in replies[::2]] == [
        method + f" /m/{index} 1.1 b'abc'".encode() for index, method in enumerate(UNREGISTERED)
    ]
    assert [request.method for request in requests_seen[::2]] == [
        method.decode() for method in UNREGISTERED
    ]
    assert all(request.error is None for request in requests_seen)


def test_an_unregistered_method_from_real_clients_meets_its_expectation() -> None:
    with HTTPServer() as server:
        server.expect("PURGE-ALL", "/cache").respond(202, body="purged")
        server.expect("REPORT", "/r").respond(207, body="report")
        connection = http.client.HTTPConnection(*server.address, timeout=TIMEOUT)
        connection.request("PURGE-ALL", "/cache")
        reply = connection.getresponse()
        assert (reply.status, reply.read()) == (202, b"purged")
        connection.close()
        answer = requests.request("REPORT", server.url + "/r", data=b"x", timeout=TIMEOUT)
        assert (answer.status_code, answer.text) == (207, "report")
        requests_seen = server.wait_for_requests(2)
    assert [request.method for request in requests_seen] == ["PURGE-ALL", "REPORT"]


@pytest.mark.parametrize(
    ("data", "line", "method", "target"),
    [
        (b"G@T /x HTTP/1.1\r\nHost: t\r\n\r\n", "G@T /x HTTP/1.1", "", "/x"),
        (
            b"GET /\xff\xfe HTTP/1.1\r\nHost: t\r\n\r\n",
            "GET /\xff\xfe HTTP/1.1",
            "GET",
            "/\xff\xfe",
        ),
        (b"FOO * HTTP/1.1\r\nHost: t\r\n\r\n", "FOO * HTTP/1.1", "FOO", "*"),
        (b"FOO /x HTTP/1.1\r\nHost: a b\r\n\r\n", "FOO /x HTTP/1.1", "FOO", "/x"),
        (b"GET / HTTP/1.1 junk\r\n\r\n", "GET / HTTP/1.1 junk", "GET", "/"),
        (b"\r\nPOST /p HTTP/1.1\r\nHost: t\r\nX A: b\r\n\r\n", "POST /p HTTP/1.1", "POST", "/p"),
    ],
    ids=["method-not-a-token", "non-ascii-target", "asterisk", "bad-host", "junk", "bad-field"],
)
@pytest.mark.parametrize("after", [False, True], ids=["first", "pipelined"])
def test_a_refused_request_is_journaled_with_its_request_line(
    wires: list[Wire], data: bytes, line: str, method: str, target: str, after: bool
) -> None:
    """Issue 19 item 8: refused requests were journaled with an empty method and target;
    ``request_line`` keeps what was received (Latin-1), and the target is ASCII (RFC 9112 §3.2)
    or refused."""
    with HTTPServer(handler=echo) as server:
        wire = Wire(server)
        wires.append(wire)
        wire.send(get("/ok") + data if after else data)
        if after:
            assert wire.read_response().status == 200
        assert wire.read_response().status == 400
        assert wire.at_eof()
        journal = server.wait_for_requests(2 if after else 1)
    refused_request = journal[-1]
    assert refused_request.error is not None
    assert (refused_request.request_line, refused_request.method, refused_request.target) == (
        line,
        method,
        target,
    )
    if after:
        assert journal[0].request_line is None
    assert refused_request.response is not None
    assert refused_request.response.status_code == 400
    assert pickle.loads(pickle.dumps(refused_request)).request_line == line


def test_a_malformed_header_line_gets_400(wires: list[Wire]) -> None:
    handler = Recorder()
    with HTTPServer(handler=handler) as server:
        reply, request = refused(
            server, b"GET /h HTTP/1.1\r\nHost: t\r\nNo colon here\r\n\r\n", wires
        )
    assert reply.status == 400
    assert request.error is not None
    assert request.target == "/h"
    assert request.method == "GET"
    assert handler.calls == []


def test_an_oversize_header_section_gets_431(wires: list[Wire]) -> None:
    handler = Recorder()
    with HTTPServer(handler=handler, max_header_size=1024) as server:
        data = get("/big", *[f"X-Field-{index}: {'v' * 40}" for index in range(40)])
        reply, request = refused(server, data, wires)
    assert reply.status == 431
    assert request.error is not None
    assert "max_header_size" in request.error
    assert handler.calls == []


def test_an_oversize_request_target_gets_431(wires: list[Wire]) -> None:
    with HTTPServer(handler=echo, max_header_size=512) as server:
        reply, request = refused(server, get("/" + "a" * 1000), wires)
    assert reply.status == 431
    assert request.error is not None


def test_a_body_over_max_body_size_by_content_length(wires: list[Wire]) -> None:
    handler = Recorder()
    with HTTPServer(handler=handler, max_body_size=10) as server:
        reply, request = refused(
            server, b"POST /b HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\n" + b"x" * 11, wires
        )
    assert reply.status == 413
    assert request.error is not None
    assert "max_body_size (10 bytes)" in request.error
    assert handler.calls == []


def test_a_body_over_max_body_size_when_chunked(wires: list[Wire]) -> None:
    handler = Recorder()
    with HTTPServer(handler=handler, max_body_size=10) as server:
        reply, request = refused(
            server,
            b"POST /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"6\r\nxxxxxx\r\n6\r\nxxxxxx\r\n0\r\n\r\n",
            wires,
        )
    assert reply.status == 413
    assert request.error is not None
    assert request.path == "/c"
    assert handler.calls == []


def test_a_body_of_exactly_max_body_size_is_accepted(wires: list[Wire]) -> None:
    with HTTPServer(handler=echo, max_body_size=10) as server:
        wire = Wire(server)
        wires.append(wire)
        wire.send(
            b"POST /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5\r\nxxxxx\r\n5\r\nxxxxx\r\n0\r\n\r\n"
        )
        assert wire.read_response().status == 200


SMUGGLING = {
    "content-length and transfer-encoding": (
        b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"0\r\n\r\n"
    ),
    "duplicate differing content-length": (
        b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab"
    ),
    "content-length list": b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1, 2\r\n\r\nab",
    "negative content-length": b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: -1\r\n\r\n",
    "invalid chunk size": (
        b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n0\r\n\r\n"
    ),
    "chunked not last": (
        b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n"
    ),
    "space before colon": (
        b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n"
    ),
    "bare LF in a header line": b"GET / HTTP/1.1\r\nHost: t\nX: y\r\n\r\n",
    "bare CR": b"GET / HTTP/1.1\r\nHost: t\rX: y\r\n\r\n",
    "chunk without CRLF": (
        b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n0\r\n\r\n"
    ),
}


@pytest.mark.parametrize("data", list(SMUGGLING.values()), ids=list(SMUGGLING))
def test_request_smuggling_shapes_get_400_and_reach_no_handler(
    data: bytes, wires: list[Wire]
) -> None:
    handler = Recorder()
    with HTTPServer(handler=handler) as server:
        reply, request = refused(server, data, wires)
    assert reply.status == 400
    assert request.error is not None
    assert handler.calls == []


# -- stop() with clients attached -------------------------------------------------------------


def test_stop_with_an_idle_keep_alive_client_gives_it_eof(wires: list[Wire]) -> None:
    server = HTTPServer(handler=echo).start()
    try:
        wire = Wire(server)
        wires.append(wire)
        wire.send(get("/"))
        assert wire.read_response().get("connection") is None  # kept alive
    finally:
        server.stop()
    assert wire.at_eof()


def test_stop_with_a_partial_request_gives_the_client_eof(wires: list[Wire]) -> None:
    server = HTTPServer(handler=echo).start()
    try:
        wire = Wire(server)
        wires.append(wire)
        wire.send(get("/first"))  # so the connection is accepted and served before stop()
        assert wire.read_response().status == 200
        wire.send(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc")
    finally:
        server.stop()
    assert wire.at_eof()
    assert [request.path for request in server.requests] == ["/first"]


class _Signalling(HTTPServer):
    """Sets ``stopping`` as soon as stop() begins on the loop."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.stopping = threading.Event()

    async def _shutdown(self, timeout: float) -> list[str]:
        self.stopping.set()
        return await super()._shutdown(timeout)


def test_stop_delivers_the_response_of_a_handler_in_flight(wires: list[Wire]) -> None:
    started = threading.Event()

    def slow(request: Request) -> str:
        started.set()
        assert server.stopping.wait(TIMEOUT)
        return "finished"

    server = _Signalling(handler=slow).start()
    wire = Wire(server)
    wires.append(wire)
    wire.send(get("/slow"))
    assert started.wait(TIMEOUT)
    server.stop(timeout=TIMEOUT)
    reply = wire.read_response()
    assert reply.body == b"finished"
    assert reply.get("connection") == "close"
    assert wire.at_eof()


def test_stop_raises_wait_timeout_naming_a_handler_still_running(wires: list[Wire]) -> None:
    started = threading.Event()
    release = threading.Event()
    finished = threading.Event()

    def stuck(request: Request) -> str:
        started.set()
        release.wait(TIMEOUT)
        finished.set()
        return "too late"

    server = HTTPServer(handler=stuck).start()
    wire = Wire(server)
    wires.append(wire)
    wire.send(get("/stuck"))
    assert started.wait(TIMEOUT)
    try:
        with pytest.raises(WaitTimeout, match=r"stuck for GET /stuck") as caught:
            server.stop(timeout=0.05)
        assert "still running" in str(caught.value)
        assert wire.at_eof()  # the connection is dropped
        assert not server.running
    finally:
        release.set()
        assert finished.wait(TIMEOUT)
    server.check()  # the late handler's outcome is not an error


# -- a declared Content-Length that the body does not fit -------------------------------------


def test_a_body_longer_than_its_content_length_is_cut(wires: list[Wire]) -> None:
    response = Response(200, body=b"abcdef", headers={"Content-Length": "3"})
    with HTTPServer(response=response) as server:
        wire = Wire(server)
        wires.append(wire)
        wire.send(get("/") + get("/"))
        first = wire.read_response()
        second = wire.read_response()  # not garbled by the 3 extra bytes
    assert first.body == second.body == b"abc"


def test_a_body_shorter_than_its_content_length_closes_the_connection(
    wires: list[Wire],
) -> None:
    response = Response(200, body=b"abc", headers={"Content-Length": "10"})
    with HTTPServer(response=response) as server:
        wire = Wire(server)
        wires.append(wire)
        wire.send(get("/"))
        status = wire.line()
        while wire.line() != b"\r\n":
            pass
        body = wire.file.read()  # to EOF: the client learns the response is incomplete
    assert status.startswith(b"HTTP/1.1 200")
    assert body == b"abc"


# -- a client that half-closes after sending ------------------------------------------------


def test_a_client_half_closing_after_its_requests_gets_every_answer(wires: list[Wire]) -> None:
    release = threading.Event()

    def handler(request: Request) -> str:
        if request.path == "/slow":
            assert release.wait(TIMEOUT)
        return request.path

    with HTTPServer(handler=handler) as server:
        wire = Wire(server)
        wires.append(wire)
        wire.send(get("/slow") + get("/next"))
        wire.sock.shutdown(socket.SHUT_WR)
        server.wait_for_requests(2)
        release.set()
        bodies = [wire.read_response().body for _ in range(2)]
        assert wire.at_eof()
    assert bodies == [b"/slow", b"/next"]


def test_a_client_half_closing_mid_request_gets_400(wires: list[Wire]) -> None:
    handler = Recorder()
    with HTTPServer(handler=handler) as server:
        wire = Wire(server)
        wires.append(wire)
        wire.send(b"POST /cut HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc")
        wire.sock.shutdown(socket.SHUT_WR)
        reply = wire.read_response()
        assert wire.at_eof()
        [request] = server.wait_for_requests(1)
    assert reply.status == 400
    assert request.path == "/cut"
    assert request.error == "the client closed before the request was complete"
    assert request.body == b"abc"
    assert handler.calls == []


def test_a_client_half_closing_when_idle_gets_eof(wires: list[Wire]) -> None:
    with HTTPServer(handler=echo) as server:
        wire = Wire(server)
        wires.append(wire)
        wire.send(get("/"))
        assert wire.read_response().status == 200
        wire.sock.shutdown(socket.SHUT_WR)
        assert wire.at_eof()
        assert len(server.requests) == 1


def test_a_connection_accepted_as_stop_begins_is_closed_not_leaked() -> None:
    """The client connects and stop() follows at once, before the loop has made the connection:
    every time, the client gets EOF or a reset (and the fixture sees no server socket left)."""
    for _ in range(30):
        server = HTTPServer(handler=echo).start()
        with socket.create_connection(server.address, timeout=TIMEOUT) as sock:
            sock.sendall(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc")
            server.stop()
            try:
                assert sock.recv(100) == b""
            except ConnectionResetError:
                pass
        assert server.requests == []


def test_bytes_after_a_close_request_are_not_recorded_as_that_request() -> None:
    with HTTPServer(response=Response(200, body="ok")) as server:
        with socket.create_connection(server.address, TIMEOUT) as sock:
            sock.sendall(
                b"GET /a HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
                b"POST /b HTTP/1.1\r\nHost: t\r\n\r\n"
            )
            while sock.recv(65536):
                pass
        first, second = server.wait_for_requests(2)
    assert (first.method, first.target, first.error) == ("GET", "/a", None)
    assert second.error is not None
    # Not parsed: its fields are empty (Request's contract), not the previous request's.
    assert (second.method, second.target) == ("", "")


# -- a host that raises -------------------------------------------------------------------------


class _BrokenHost:
    """A host whose dispatch raises: stands for a bug in any host (admin, directory, mappings,
    proxy, PyPI), which the dispatch path must turn into an answer and an error for check()."""

    streams_body = False

    def dispatch(self, site: Any, exchange: Any) -> None:
        raise ZeroDivisionError(f"broken host for {exchange.target}")


def _with_broken_mount(server: HTTPServer) -> HTTPServer:
    server._router.mount("/broken", _BrokenHost())  # (no public way to install a bad host)
    return server


def test_a_host_that_raises_gets_500_closes_and_reaches_check() -> None:
    server = _with_broken_mount(HTTPServer(response=Response(200, body="fine"), idle_timeout=60.0))
    with server:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
        try:
            connection.request("GET", "/broken/x")
            answer = connection.getresponse()
            assert answer.status == 500
            assert "ZeroDivisionError" in answer.read().decode()
            assert answer.getheader("Connection") == "close"
        finally:
            connection.close()
        [request] = server.requests
        assert (request.method, request.target, request.error) == ("GET", "/broken/x", None)
        with pytest.raises(ZeroDivisionError, match="broken host for /broken/x") as raised:
            server.check()
        assert any(entry.name == "dispatch" for entry in raised.traceback)


def test_a_pipelined_request_to_a_host_that_raises_is_answered_in_turn() -> None:
    """The request behind another is dispatched when the first is answered (not from the
    parser): that path too turns the exception into a 500, and the connection closes after."""
    server = _with_broken_mount(HTTPServer(response=Response(200, body="fine"), idle_timeout=60.0))
    with server, socket.create_connection(server.address, timeout=5) as sock:
        sock.sendall(
            b"GET /ok HTTP/1.1\r\nHost: x\r\n\r\n"
            b"GET /broken/y HTTP/1.1\r\nHost: x\r\n\r\n"
            b"GET /never HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
        assert received.count(b"HTTP/1.1 ") == 2
        assert b"HTTP/1.1 200 OK" in received
        assert b"HTTP/1.1 500 Internal Server Error" in received
        with pytest.raises(ZeroDivisionError, match="broken host for /broken/y"):
            server.check()
