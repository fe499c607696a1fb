"""Hypothesis over the WebSocket frame input path: any bytes a client sends after a real
handshake, over a real socket, end the connection without crashing the server, and every
connection is journaled with how it ended."""

from __future__ import annotations

import base64
import os
import socket

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import understudy

_FRAME_HEADS = st.sampled_from(
    [
        b"\x81\x85",
        b"\x82\xfe\x00\x10",
        b"\x01\x83",
        b"\x80\x81",
        b"\x88\x82",
        b"\x89\x80",
        b"\xc1\x84",
    ]
)
_PIECES = st.lists(
    st.one_of(st.binary(max_size=40), _FRAME_HEADS.map(lambda head: head + b"\x01\x02\x03\x04")),
    min_size=1,
    max_size=6,
)


def _handshake(server: understudy.HTTPServer) -> socket.socket:
    sock = socket.create_connection((server.host, server.port), timeout=5)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        f"GET / HTTP/1.1\r\nHost: {server.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(4096)
    assert head.startswith(b"HTTP/1.1 101 ")
    return sock


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pieces=_PIECES)
def test_any_bytes_after_the_handshake_end_cleanly_and_are_recorded(pieces: list[bytes]) -> None:
    with understudy.HTTPServer() as server:  # leaving it raises whatever the server recorded
        server.expect_websocket("/").echo()
        with _handshake(server) as sock:
            for piece in pieces:
                try:
                    sock.sendall(piece)
                except OSError:
                    break  # (the server already closed: a protocol error)
            try:
                sock.shutdown(socket.SHUT_WR)
                while sock.recv(65536):
                    pass
            except OSError:
                pass  # (reset: the server aborted after its close frame)
        [connection] = server.wait_for_websockets(1, match=lambda c: c.closed)
        assert connection.close is not None
        assert 1000 <= connection.close.code <= 4999
