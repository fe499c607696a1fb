"""Known-malformed HTTP requests, request smuggling shapes among them, are answered with 400
(505 for an HTTP version other than 1.x) and closed, recorded with an error, and never reach a
handler as a valid request (RFC 9112 §6.1, §6.3, §11.2; §3.2 for Host; §5.2 for obs-fold).

Each case is sent over a real socket to a running server, whose handler must never run.
"""

from __future__ import annotations

import socket

import pytest

from understudy import HTTPServer, Request

TIMEOUT = 5.0

_POST = b"POST / HTTP/1.1\r\nHost: t\r\n"
_CHUNKED = _POST + b"Transfer-Encoding: chunked\r\n\r\n"

#: name -> request bytes; each must be refused with 400.
MALFORMED: dict[str, bytes] = {
    # Content-Length (RFC 9112 §6.3, RFC 9110 §8.6)
    "duplicate content-length": _POST + b"Content-Length: 1\r\nContent-Length: 2\r\n\r\nab",
    "duplicate equal content-length": _POST + b"Content-Length: 2\r\nContent-Length: 2\r\n\r\nab",
    "content-length list": _POST + b"Content-Length: 1, 2\r\n\r\nab",
    "content-length with a sign": _POST + b"Content-Length: +2\r\n\r\nab",
    "negative content-length": _POST + b"Content-Length: -1\r\n\r\n",
    "hexadecimal content-length": _POST + b"Content-Length: 0x2\r\n\r\nab",
    "content-length with inner space": _POST + b"Content-Length: 1 2\r\n\r\nab",
    "content-length overflow": _POST + b"Content-Length: 99999999999999999999999\r\n\r\n",
    # Transfer-Encoding (RFC 9112 §6.1, §6.3)
    "content-length with transfer-encoding": (
        _POST + b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
    ),
    "content-length with transfer-encoding identity": (
        _POST + b"Content-Length: 2\r\nTransfer-Encoding: identity\r\n\r\nab"
    ),
    "chunked not last": _POST + b"Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
    "chunked not last over two fields": (
        _POST + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n"
    ),
    "chunked twice": _POST + b"Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n",
    "unknown transfer coding": _POST + b"Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n",
    "transfer-encoding in http/1.0": (
        b"POST / HTTP/1.0\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
    ),
    "content-length in a trailer": _CHUNKED + b"0\r\nContent-Length: 5\r\n\r\n",
    # Chunked framing (RFC 9112 §7.1)
    "invalid chunk size": _CHUNKED + b"zz\r\nab\r\n0\r\n\r\n",
    "negative chunk size": _CHUNKED + b"-2\r\nab\r\n0\r\n\r\n",
    "chunk size with 0x": _CHUNKED + b"0x2\r\nab\r\n0\r\n\r\n",
    "chunk size overflow": _CHUNKED + b"fffffffffffffffff1\r\nab\r\n0\r\n\r\n",
    "space after chunk size": _CHUNKED + b"2 \r\nab\r\n0\r\n\r\n",
    "bare LF after chunk size": _CHUNKED + b"2\nab\r\n0\r\n\r\n",
    "bare LF after chunk extension": _CHUNKED + b"2;a\nab\r\n0\r\n\r\n",
    "chunk data longer than its size": _CHUNKED + b"3\r\nabcX\r\n0\r\n\r\n",
    # Field syntax (RFC 9112 §5, §2.2)
    "obs-fold": b"GET / HTTP/1.1\r\nHost: t\r\nX-A: a\r\n b\r\n\r\n",
    "obs-fold of transfer-encoding": (_POST + b"Transfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n"),
    "space before colon": _POST + b"Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
    "tab before colon": b"GET / HTTP/1.1\r\nHost: t\r\nX-A\t: b\r\n\r\n",
    "space in a field name": b"GET / HTTP/1.1\r\nHost: t\r\nX A: b\r\n\r\n",
    "empty field name": b"GET / HTTP/1.1\r\nHost: t\r\n: x\r\n\r\n",
    "whitespace before the first field": b"GET / HTTP/1.1\r\n Host: t\r\n\r\n",
    "NUL in a field value": b"GET / HTTP/1.1\r\nHost: t\r\nX: a\x00b\r\n\r\n",
    "bare LF in a field line": b"GET / HTTP/1.1\r\nHost: t\nX: y\r\n\r\n",
    "bare LF after the request line": b"GET / HTTP/1.1\nHost: t\r\n\r\n",
    "bare LF ending the header section": b"GET / HTTP/1.1\r\nHost: t\r\n\n",
    "bare CR": b"GET / HTTP/1.1\r\nHost: t\rX: y\r\n\r\n",
    # Request line (RFC 9112 §3)
    "control character in the target": b"GET /\x01 HTTP/1.1\r\nHost: t\r\n\r\n",
    "space in the target": b"GET /a b HTTP/1.1\r\nHost: t\r\n\r\n",
    # (a lower-case method is a method, RFC 9110 §9.1: tests/test_http_protocol.py)
    "method not a token": b"G(T / HTTP/1.1\r\nHost: t\r\n\r\n",
    "method not ASCII": b"G\xc9T / HTTP/1.1\r\nHost: t\r\n\r\n",
    "no target": b"FOO HTTP/1.1\r\nHost: t\r\n\r\n",
    "asterisk form for GET": b"GET * HTTP/1.1\r\nHost: t\r\n\r\n",
    "junk after the version": b"GET / HTTP/1.1 junk\r\nHost: t\r\n\r\n",
    "HTTP/1.2": b"GET / HTTP/1.2\r\nHost: t\r\n\r\n",
    # Host (RFC 9112 §3.2)
    "no Host in HTTP/1.1": b"GET / HTTP/1.1\r\nX: y\r\n\r\n",
    "two Host fields": b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    "Host with a space and a path": b"GET / HTTP/1.1\r\nHost: a b/c\r\n\r\n",
    "Host with userinfo": b"GET / HTTP/1.1\r\nHost: user@a\r\n\r\n",
    "Host with a bad port": b"GET / HTTP/1.1\r\nHost: a:8o\r\n\r\n",
}


class Recorder:
    """A handler that must never be called."""

    def __init__(self) -> None:
        self.calls: list[Request] = []

    def __call__(self, request: Request) -> str:
        self.calls.append(request)
        return "handled"


def exchange(server: HTTPServer, data: bytes) -> bytes:
    """Send ``data``, half-close, and read until the server closes."""
    with socket.create_connection(server.address, timeout=TIMEOUT) as sock:
        try:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):  # refused before all was sent
            pass
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except ConnectionResetError:
            pass
        return answer


@pytest.mark.parametrize("data", list(MALFORMED.values()), ids=list(MALFORMED))
def test_a_malformed_request_gets_400_is_recorded_and_reaches_no_handler(data: bytes) -> None:
    handler = Recorder()
    with HTTPServer(handler=handler) as server:
        answer = exchange(server, data)
        recorded = server.wait_for_requests(1)
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:200]
    assert answer.count(b"HTTP/1.1 ") == 1  # nothing smuggled behind it is answered
    assert b"\r\nconnection: close\r\n" in answer.lower()
    assert [request.error is not None for request in recorded] == [True]
    assert "malformed" in (recorded[0].error or "")
    assert handler.calls == []


def test_an_http_version_other_than_1_gets_505() -> None:
    handler = Recorder()
    with HTTPServer(handler=handler) as server:
        answer = exchange(server, b"GET / HTTP/2.0\r\nHost: t\r\n\r\n")
        [recorded] = server.wait_for_requests(1)
    assert answer.startswith(b"HTTP/1.1 505 ")
    assert recorded.error is not None
    assert handler.calls == []


def test_a_smuggled_request_behind_a_valid_one_is_refused() -> None:
    handler = Recorder()
    smuggled = b"GET /smuggled HTTP/1.1\r\nHost: t\r\n\r\n"
    data = (
        b"POST /first HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
        + f"{len(smuggled):x}".encode()
        + b"\r\n"
        + smuggled
        + b"\r\n0\r\n\r\n"
    )
    with HTTPServer(handler=handler) as server:
        answer = exchange(server, b"GET /ok HTTP/1.1\r\nHost: t\r\n\r\n" + data)
        good, bad = server.wait_for_requests(2)
    assert answer.count(b"HTTP/1.1 200 ") == 1
    assert answer.count(b"HTTP/1.1 400 ") == 1
    assert [request.target for request in handler.calls] == ["/ok"]
    assert good.error is None
    assert bad.error is not None
    assert all(request.target != "/smuggled" for request in server.requests)


def test_a_valid_chunked_get_is_still_served() -> None:
    handler = Recorder()
    with HTTPServer(handler=handler) as server:
        answer = exchange(
            server, b"GET / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
        )
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert len(handler.calls) == 1
