"""The pure decoder of SocketHandler / DatagramHandler frames, table-tested."""

from __future__ import annotations

import logging
import logging.handlers
import os
import pickle
import struct
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from understudy._core.logframes import (
    BadFrame,
    LogFrameDecoder,
    decode_datagram,
    decode_payload,
    encode_frame,
)


def frame(payload: bytes) -> bytes:
    return struct.pack(">L", len(payload)) + payload


class Exploit:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, ("echo pwned",))


def self_referencing_list() -> bytes:
    items: list[Any] = []
    items.append(items)
    return pickle.dumps({"msg": items})


def shared_references(depth: int) -> bytes:
    # Each level refers to the one below twice: 2**depth paths, depth distinct objects.
    node: list[Any] = ["leaf"]
    for _ in range(depth):
        node = [node, node]
    return pickle.dumps({"msg": node})


GOOD = [
    ({"msg": "hi", "args": None, "levelno": 20}, 0),
    ({"nested": {"list": [1, 2.5, True, None, b"raw", ("tuple",)]}}, 0),
    ({"msg": "protocol 0"}, 0),
]
BAD = [
    (pickle.dumps(Exploit()), "refers to posix.system"),
    (pickle.dumps({"when": __import__("datetime").date(2024, 1, 1)}), "refers to datetime.date"),
    (pickle.dumps({"s": frozenset({1})}), "holds a frozenset"),
    (pickle.dumps({"b": bytearray(b"x")}, protocol=5), "holds a bytearray"),
    (pickle.dumps({"b": bytearray(b"x")}, protocol=2), "refers to __builtin__.bytearray"),
    (b"c_codecs\nencode\n(Vx\nVrot13\ntR.", "only as bytes in latin-1"),
    (b"c__builtin__\nbytes\n(I1\ntR.", "only without arguments"),
    (pickle.dumps({1: "int key"}), "keys that are not str"),
    (pickle.dumps("a string"), "holds a str"),
    (b"", "not a pickle of plain data"),
    (b"\x80\x05garbage", "not a pickle of plain data"),
    (b"Pabc\n.", "persistent id"),
]


@pytest.mark.parametrize("protocol", [0, 1, 2, 4, 5])
@pytest.mark.parametrize(("attributes", "_"), GOOD)
def test_plain_data_passes(attributes: dict[str, Any], _: int, protocol: int) -> None:
    assert decode_payload(pickle.dumps(attributes, protocol)) == attributes


@pytest.mark.parametrize(("payload", "reason"), BAD)
def test_anything_else_is_refused(payload: bytes, reason: str) -> None:
    result = decode_payload(payload)
    assert isinstance(result, str)
    assert reason in result


# BUILD (the opcode that sets an object's attributes) on each global the decoder admits: a
# dict state (its __dict__), and a (None, slots) state (setattr, e.g. a function's defaults).
BUILDS_ON_ADMITTED_GLOBALS = [
    b"cbuiltins\nbytes\n}S'mark'\nI1\nsb0}.",
    b"c__builtin__\nbytes\n}S'mark'\nI1\nsb0}.",
    b"c_codecs\nencode\n}S'mark'\nI1\nsb0}.",
    b"c_codecs\nencode\n(N}S'__defaults__'\n(S'planted'\nS'latin1'\ntstb0}.",
    b"cbuiltins\nbytes\n(N}S'__kwdefaults__'\n}stb0}.",
]


@pytest.mark.parametrize("payload", BUILDS_ON_ADMITTED_GLOBALS)
def test_a_pickle_cannot_change_what_the_decoder_admits(payload: bytes) -> None:
    result = decode_payload(payload)
    assert isinstance(result, str)
    assert "not a pickle of plain data" in result
    # The frames after it decode as before: `_codecs.encode()` with its defaults is still b"".
    assert decode_payload(b"(dVmsg\nc_codecs\nencode\n)Rs.") == {"msg": b""}
    assert decode_payload(pickle.dumps({"blob": b"\xff"}, 1)) == {"blob": b"\xff"}


def test_cycles_and_shared_references_are_checked_once() -> None:
    assert isinstance(decode_payload(self_referencing_list()), dict)
    assert isinstance(decode_payload(shared_references(200)), dict)


def test_what_sockethandler_sends_decodes() -> None:
    handler = logging.handlers.SocketHandler("127.0.0.1", 9)
    try:
        record = logging.LogRecord("app", logging.ERROR, "/x.py", 7, "n=%d", (3,), None)
        data = handler.makePickle(record)
    finally:
        handler.close()
    [attributes] = LogFrameDecoder().feed(data)
    assert isinstance(attributes, dict)
    rebuilt = logging.makeLogRecord(attributes)
    assert (rebuilt.name, rebuilt.levelno, rebuilt.getMessage(), rebuilt.lineno) == (
        "app",
        logging.ERROR,
        "n=3",
        7,
    )


STREAM = (
    encode_frame({"msg": "one"})
    + frame(pickle.dumps(Exploit()))
    + frame(pickle.dumps({"msg": "x" * 500}))  # longer than max_frame_size below
    + encode_frame({"msg": "two"})
)


def summarise(items: list[dict[str, Any] | BadFrame]) -> list[str]:
    return [
        item.reason.split(":")[0] if isinstance(item, BadFrame) else item["msg"] for item in items
    ]


EXPECTED = ["one", "not a pickle of plain data", "frame of", "two"]


def test_stream_fed_whole() -> None:
    decoder = LogFrameDecoder(max_frame_size=100)
    got = decoder.feed(STREAM)
    assert decoder.close() == []
    assert [s.split(" 5")[0] for s in summarise(got)] == EXPECTED


def test_stream_fed_byte_by_byte() -> None:
    decoder = LogFrameDecoder(max_frame_size=100)
    got: list[dict[str, Any] | BadFrame] = []
    for byte in STREAM:
        got += decoder.feed(bytes([byte]))
    assert [s.split(" 5")[0] for s in summarise(got)] == EXPECTED


def test_stream_with_trailing_partial_frame() -> None:
    decoder = LogFrameDecoder(max_frame_size=100)
    tail = encode_frame({"msg": "cut"})[:-3]
    got = decoder.feed(STREAM + tail)
    assert len(got) == 4
    [partial] = decoder.close()
    assert "ended inside a frame" in partial.reason
    assert partial.data == tail


def test_oversized_frame_reason_and_kept_bytes() -> None:
    decoder = LogFrameDecoder(max_frame_size=100)
    [bad] = decoder.feed(struct.pack(">L", 10_000) + b"z" * 1000)
    assert isinstance(bad, BadFrame)
    assert bad.reason == "frame of 10000 bytes is longer than max_frame_size=100; refused"
    assert len(bad.data) == 256
    assert decoder.feed(b"z" * 9000 + encode_frame({"m": "ok"})) == [{"m": "ok"}]
    assert decoder.close() == []


@pytest.mark.parametrize(
    ("datagram", "reason"),
    [
        (b"\x00\x00\x00", "shorter than the 4-byte length prefix"),
        (struct.pack(">L", 5) + b"abc", "says 5 bytes but the datagram carries 3"),
        (struct.pack(">L", 1000) + b"a" * 1000, "longer than max_frame_size=100"),
        (frame(pickle.dumps(Exploit())), "refers to posix.system"),
    ],
)
def test_bad_datagrams(datagram: bytes, reason: str) -> None:
    result = decode_datagram(datagram, 100)
    assert isinstance(result, BadFrame)
    assert reason in result.reason
    assert repr(result).startswith("<understudy.BadFrame")


def test_good_datagram() -> None:
    assert decode_datagram(encode_frame({"msg": "hi"}), 100) == {"msg": "hi"}


plain = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text()
    | st.binary(),
    lambda children: (
        st.lists(children, max_size=4)
        | st.tuples(children, children)
        | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=20,
)


@given(
    records=st.lists(st.dictionaries(st.text(max_size=8), plain, max_size=5), max_size=5),
    cuts=st.lists(st.integers(0, 2000), max_size=8),
)
def test_round_trip_in_any_chunks(records: list[dict[str, Any]], cuts: list[int]) -> None:
    stream = b"".join(encode_frame(record) for record in records)
    decoder = LogFrameDecoder()
    got: list[dict[str, Any] | BadFrame] = []
    start = 0
    for cut in sorted(cuts):
        got += decoder.feed(stream[start:cut])
        start = max(start, cut)
    got += decoder.feed(stream[start:])
    assert decoder.close() == []
    assert got == records
