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

#: Examples per fuzz target (``make stress`` raises it, as for tests/test_fuzz.py).
EXAMPLES = int(os.environ.get("UNDERSTUDY_FUZZ_EXAMPLES", "60"))

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


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
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


# -- the fast path: whole frames read without the protocol's parser -----------------------------

_KINDS = st.sampled_from(["text", "binary", "ping", "fragmented"])
_SIZES = st.sampled_from([0, 1, 16, 125, 126, 127, 1000, 65535, 65536, 70000])
_KEY = b"\x9a\x17\x3c\x05"


def _frame(opcode: int, payload: bytes, *, fin: bool = True) -> bytes:
    size = len(payload)
    if size < 126:
        head = bytes([opcode | (0x80 if fin else 0), 0x80 | size])
    elif size < 65536:
        head = bytes([opcode | (0x80 if fin else 0), 0x80 | 126]) + size.to_bytes(2, "big")
    else:
        head = bytes([opcode | (0x80 if fin else 0), 0x80 | 127]) + size.to_bytes(8, "big")
    masked = bytes(byte ^ _KEY[index % 4] for index, byte in enumerate(payload))
    return head + _KEY + masked


def _message(kind: str, size: int, number: int) -> tuple[bytes, str | bytes | None]:
    """A client's frames for one message, and what the server must record (None: a ping)."""
    if kind == "ping":
        return _frame(0x9, bytes(min(size, 125))), None
    if kind == "binary":
        data = bytes((number + index) % 251 for index in range(size))
        return _frame(0x2, data), data
    text = ("é" * (size // 2) + "a" * (size % 2)) or ""
    encoded = text.encode()
    if kind == "text":
        return _frame(0x1, encoded), text
    third = len(encoded) // 3  # (a cut may split a UTF-8 sequence: RFC 6455 §5.6 allows it)
    return (
        _frame(0x1, encoded[:third], fin=False)
        + _frame(0x0, encoded[third : 2 * third], fin=False)
        + _frame(0x0, encoded[2 * third :])
    ), text


def _server_messages(data: bytes) -> list[str | bytes]:
    """The data messages in the whole server frames (unmasked, unfragmented) in ``data``."""
    found: list[str | bytes] = []
    at = 0
    while len(data) - at >= 2:
        opcode, size = data[at] & 0x0F, data[at + 1] & 0x7F
        extra = {126: 2, 127: 8}.get(size, 0)
        if extra:
            size = int.from_bytes(data[at + 2 : at + 2 + extra], "big")
        at += 2 + extra
        if at + size > len(data):
            break
        payload, at = data[at : at + size], at + size
        if opcode == 0x1:
            found.append(payload.decode())
        elif opcode == 0x2:
            found.append(payload)
        elif opcode == 0x8:
            break
    return found


@settings(
    max_examples=max(1, EXAMPLES * 2 // 3),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    messages=st.lists(st.tuples(_KINDS, _SIZES), min_size=1, max_size=6),
    chunk=st.sampled_from([1, 7, 130, 4096, 1 << 20]),
)
def test_messages_in_any_reads_are_received_whole_and_in_order(
    messages: list[tuple[str, int]], chunk: int
) -> None:
    stream = b""
    expected: list[str | bytes] = []
    for number, (kind, size) in enumerate(messages):
        frames, data = _message(kind, size, number)
        stream += frames
        if data is not None:
            expected.append(data)
    with understudy.HTTPServer() as server:
        server.expect_websocket("/").echo()
        with _handshake(server) as sock:
            for start in range(0, len(stream), chunk):
                sock.sendall(stream[start : start + chunk])
            answer = b""
            while len(_server_messages(answer)) < len(expected):
                answer += sock.recv(1 << 20)
            # (the close only now: websockets' parser answers a close read together with a
            # message before that message is handed on, so its echo would not be sent)
            sock.sendall(_frame(0x8, (1000).to_bytes(2, "big")))
            while chunk_read := sock.recv(1 << 20):
                answer += chunk_read
        [connection] = server.wait_for_websockets(1, match=lambda c: c.closed)
        received = [m.data for m in connection.messages if m.direction == "received"]
        assert received == expected
        assert _server_messages(answer) == expected
        assert connection.close is not None
        assert (connection.close.code, connection.close.clean) == (1000, True)
