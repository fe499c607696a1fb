"""HTTP/2 connections: the timeouts HTTP/1.1 has (header, idle, send), connection errors
journaled, a preface to an HTTP/1.1-only server, ASGI trailers in several messages.

Clients: h2 as a scripted client (tests/h2_client.py), httpx (HTTP/2 by prior knowledge).
"""

from __future__ import annotations

import socket
from collections.abc import MutableMapping
from typing import Any

import h2.errors
import h2.events
import httpx
import pytest
from hyperframe.frame import ContinuationFrame, HeadersFrame

from h2_client import H2Client, Reply
from understudy import HTTPServer, Response

BOTH = ("1.1", "2")
TIMEOUT = 5.0
CODES = h2.errors.ErrorCodes


def errors(server: HTTPServer, count: int = 1) -> list[str]:
    """The errors of the first ``count`` journaled requests with one (waited for)."""
    found = server.wait_for_requests(count, match=lambda r: r.error is not None, timeout=TIMEOUT)
    return [request.error or "" for request in found]


# -- timeouts --------------------------------------------------------------------------------


def test_an_idle_connection_is_closed_with_goaway_after_idle_timeout() -> None:
    server = HTTPServer(response=Response(200, body="ok"), http_versions=BOTH, idle_timeout=0.2)
    with server, H2Client(server) as client:
        assert client.response(client.request("GET", "/")).body == b"ok"
        goaway = client.until(h2.events.ConnectionTerminated)  # (nothing sent: it waits)
    assert goaway.error_code == CODES.NO_ERROR
    assert [request.error for request in server.requests] == [None]


def test_a_stalled_request_body_gets_408_on_its_stream_and_is_journaled() -> None:
    server = HTTPServer(response=Response(200, body="ok"), http_versions=BOTH, idle_timeout=0.2)
    with server, H2Client(server) as client:
        stream_id = client.conn.get_next_available_stream_id()
        fields = [(b":method", b"POST"), (b":path", b"/up"), (b":scheme", b"http")]
        client.conn.send_headers(stream_id, [*fields, (b":authority", client.authority)])
        client.conn.send_data(stream_id, b"part of it")
        client.replies[stream_id] = Reply()
        client.flush()
        reply = client.response(stream_id)
    assert reply.status == 408
    [error] = errors(server)
    assert "the request body stalled" in error
    assert server.requests[0].path == "/up"


def test_a_frame_begun_and_not_finished_ends_the_connection_after_header_timeout() -> None:
    server = HTTPServer(response=Response(200, body="ok"), http_versions=BOTH, header_timeout=0.2)
    with server, H2Client(server) as client:
        assert client.response(client.request("GET", "/")).body == b"ok"  # (SETTINGS acked)
        block = client.conn.encoder.encode([(b":method", b"GET"), (b":path", b"/")])
        frame = HeadersFrame(3, data=block)
        frame.flags.add("END_HEADERS")
        client.send_raw(frame.serialize()[:-1])  # (all but its last byte: a slowloris's)
        goaway = client.until(h2.events.ConnectionTerminated)
    assert (goaway.error_code, goaway.last_stream_id) == (CODES.PROTOCOL_ERROR, 1)
    [error] = errors(server)
    assert "header_timeout (0.2 s)" in error


def block_begun(client: H2Client, stream_id: int, continuations: int, size: int = 0) -> bytes:
    """A HEADERS frame without END_HEADERS, then ``continuations`` CONTINUATION frames without
    it either (``size`` bytes each, or a field each): a header block never ended."""
    fields = [(b":method", b"GET"), (b":path", b"/"), (b":scheme", b"http")]
    headers = HeadersFrame(stream_id, data=client.conn.encoder.encode(fields))
    headers.flags.add("END_STREAM")
    frames = headers.serialize()
    for index in range(continuations):
        block = b"\x00" * size or client.conn.encoder.encode([(b"x-part", b"%d" % index)])
        frames += ContinuationFrame(stream_id, data=block).serialize()
    return frames


@pytest.mark.parametrize("continuations", [0, 3])
def test_a_header_block_whose_continuation_never_comes_ends_after_header_timeout(
    continuations: int,
) -> None:
    """RFC 9113 §6.10: a header block is contiguous; its END_HEADERS never comes."""
    server = HTTPServer(response=Response(200, body="ok"), http_versions=BOTH, header_timeout=0.2)
    with server, H2Client(server) as client:
        assert client.response(client.request("GET", "/")).body == b"ok"
        client.send_raw(block_begun(client, 3, continuations))  # ... and then nothing
        goaway = client.until(h2.events.ConnectionTerminated)
        assert client.until(h2.events.ConnectionTerminated) is None  # (then closed)
    assert (goaway.error_code, goaway.last_stream_id) == (CODES.PROTOCOL_ERROR, 1)
    [error] = errors(server)
    assert "header block was begun and not finished within header_timeout (0.2 s)" in error
    assert "GOAWAY PROTOCOL_ERROR" in error
    assert [request.path for request in server.requests] == ["/", ""]
    assert all(request.http_version == "2" for request in server.requests)


def test_a_continuation_flood_is_bounded_by_max_header_size() -> None:
    """CONTINUATION frames that never end: refused once they carry more than max_header_size
    (RFC 9113 §10.5), long before h2's own limit of 64 frames."""
    server = HTTPServer(response=Response(200, body="ok"), http_versions=BOTH, max_header_size=4096)
    with server:
        with H2Client(server) as client:
            assert client.response(client.request("GET", "/")).body == b"ok"
            client.send_raw(block_begun(client, 3, 5, size=1000))  # (~5 KB, no END_HEADERS)
            goaway = client.until(h2.events.ConnectionTerminated)
        assert (goaway.error_code, goaway.last_stream_id) == (CODES.ENHANCE_YOUR_CALM, 1)
        [error] = errors(server)
        assert error.startswith("HTTP/2 connection error: a header block of ")
        assert "over max_header_size (4096 bytes) (GOAWAY ENHANCE_YOUR_CALM" in error
        with H2Client(server) as again:  # (and the server goes on)
            assert again.response(again.request("GET", "/")).body == b"ok"
    assert [request.http_version for request in server.requests] == ["2", "2", "2"]


def test_a_client_that_reads_nothing_is_aborted_after_send_timeout() -> None:
    big = Response(200, body=b"x" * (16 * 1024 * 1024))
    server = HTTPServer(response=big, http_versions=BOTH, send_timeout=0.2)
    with server, H2Client(server, INITIAL_WINDOW_SIZE=2**31 - 1) as client:
        client.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        client.conn.increment_flow_control_window(2**31 - 1 - 65535)
        client.request("GET", "/")  # ... and never read
        [error] = errors(server)
    assert "send_timeout (0.2 s)" in error
    assert server.requests[0].http_version == "2"


# -- connection errors -------------------------------------------------------------------------


def test_a_protocol_error_is_journaled_with_its_goaway_code() -> None:
    with HTTPServer(response=Response(200, body="ok"), http_versions=BOTH) as server:
        with H2Client(server) as client:
            client.send_raw(b"\x00\x00\x01\x00\x00\x00\x00\x00\x00x")  # DATA on stream 0
            assert client.until(h2.events.ConnectionTerminated).error_code == CODES.PROTOCOL_ERROR
        [error] = errors(server)
    assert error.startswith("HTTP/2 connection error: ")
    assert "GOAWAY PROTOCOL_ERROR" in error


def test_a_preface_to_an_http11_only_server_says_which_option_serves_http2() -> None:
    with HTTPServer(response=Response(200, body="ok")) as server:
        client = httpx.Client(http1=False, http2=True, timeout=TIMEOUT)
        with client, pytest.raises(httpx.HTTPError):
            client.get(server.url + "/")
        with socket.create_connection(server.address, timeout=TIMEOUT) as sock:
            sock.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
    assert answer.startswith(b"HTTP/1.1 505 ")
    assert b"http_versions=('1.1', '2')" in answer
    assert all("http_versions=('1.1', '2')" in (r.error or "") for r in server.requests)


# -- ASGI trailers -----------------------------------------------------------------------------


def test_asgi_trailers_in_several_messages_with_more_trailers() -> None:
    async def app(scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise RuntimeError("no lifespan")
        await send({"type": "http.response.start", "status": 200, "trailers": True})
        await send({"type": "http.response.body", "body": b"body"})
        first = [(b"grpc-status", b"0")]
        await send({"type": "http.response.trailers", "headers": first, "more_trailers": True})
        await send({"type": "http.response.trailers", "headers": [(b"grpc-message", b"fine")]})

    with HTTPServer(asgi=app, http_versions=BOTH) as server, H2Client(server) as client:
        reply = client.response(client.request("GET", "/"))
    assert (reply.status, reply.body) == (200, b"body")
    assert reply.trailers == [(b"grpc-status", b"0"), (b"grpc-message", b"fine")]
