"""LogRecordServer driven by logging.handlers.SocketHandler, DatagramHandler and raw sockets."""

from __future__ import annotations

import logging
import logging.handlers
import os
import pickle
import socket
import struct
import uuid
from collections.abc import Iterator

import pytest

from understudy._errors import ConfigurationError, WaitTimeout
from understudy._logrecords import BadFrame, LogRecordServer


@pytest.fixture
def logger() -> Iterator[logging.Logger]:
    log = logging.getLogger(f"understudy-test-{uuid.uuid4().hex}")
    log.propagate = False
    log.setLevel(logging.DEBUG)
    yield log
    for handler in list(log.handlers):
        log.removeHandler(handler)
        handler.close()


def frame(payload: bytes) -> bytes:
    return struct.pack(">L", len(payload)) + payload


def test_socket_handler_records(logger: logging.Logger) -> None:
    with LogRecordServer() as server:
        logger.addHandler(logging.handlers.SocketHandler(server.host, server.port))
        logger.warning(
            "disk %s is full", "/var", extra={"user": "bob", "tags": ["a", 1], "blob": b"\x00\xff"}
        )
        try:
            1 / 0  # noqa: B018
        except ZeroDivisionError:
            logger.exception("failed")
        warning, error = server.wait_for_records(2)
        assert warning.name == logger.name
        assert warning.levelno == logging.WARNING
        assert warning.getMessage() == "disk /var is full"
        assert warning.__dict__["user"] == "bob"
        assert warning.__dict__["tags"] == ["a", 1]
        assert warning.__dict__["blob"] == b"\x00\xff"  # protocol 1 spells bytes as a call
        assert warning.lineno > 0
        assert error.levelname == "ERROR"
        assert "ZeroDivisionError" in (error.exc_text or "")
        assert server.bad_frames == []


def test_datagram_handler_records(logger: logging.Logger) -> None:
    with LogRecordServer(transport="udp") as server:
        logger.addHandler(logging.handlers.DatagramHandler(server.host, server.port))
        logger.info("one")
        logger.info("two")
        records = server.wait_for_records(2)
        assert [record.getMessage() for record in records] == ["one", "two"]


def test_records_a_datagram_handler_sent_before_stop_are_all_kept(logger: logging.Logger) -> None:
    with LogRecordServer(transport="udp") as server:
        logger.addHandler(logging.handlers.DatagramHandler(server.host, server.port))
        for number in range(30):
            logger.info("record %d", number)
    assert [record.getMessage() for record in server.records] == [
        f"record {number}" for number in range(30)
    ]


def test_frames_sent_one_byte_at_a_time_are_reassembled() -> None:
    handler = logging.handlers.SocketHandler("127.0.0.1", 9)  # only used to pickle
    stream = b"".join(
        handler.makePickle(logging.makeLogRecord({"msg": f"record {n}", "levelno": 20}))
        for n in range(3)
    )
    handler.close()
    with LogRecordServer() as server:
        with socket.create_connection(server.address) as client:
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for byte in stream:
                client.send(bytes([byte]))
        records = server.wait_for_records(3)
    assert [record.msg for record in records] == ["record 0", "record 1", "record 2"]


class Exploit:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.getenv, ("HOME",))


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (pickle.dumps(Exploit()), "refers to os.getenv"),
        (pickle.dumps({"msg": {1, 2}}), "holds a set"),
        (pickle.dumps(["not", "a", "dict"]), "holds a list"),
        (b"not a pickle", "not a pickle of plain data"),
        (pickle.dumps({"msg": "x"}) + b"junk", "bytes follow the pickle's STOP"),
    ],
    ids=["global", "set", "list", "garbage", "trailing"],
)
def test_bad_frames_are_recorded_and_the_connection_goes_on(payload: bytes, reason: str) -> None:
    good = frame(pickle.dumps({"msg": "still served", "levelno": 20}))
    with LogRecordServer() as server:
        with socket.create_connection(server.address) as client:
            client.sendall(frame(payload) + good)
        [bad] = server.wait_for_bad_frames()
        [record] = server.wait_for_records()
    assert isinstance(bad, BadFrame)
    assert reason in bad.reason
    assert bad.peer is not None
    assert record.msg == "still served"


def test_oversized_frame_refused_and_skipped(logger: logging.Logger) -> None:
    with LogRecordServer(max_frame_size=200) as server:
        with (
            socket.create_connection(server.address) as offender,
            socket.create_connection(server.address) as sibling,
        ):
            offender.sendall(frame(pickle.dumps({"msg": "x" * 1000})))
            offender.sendall(frame(pickle.dumps({"msg": "after"})))
            sibling.sendall(frame(pickle.dumps({"msg": "sibling"})))
            [bad] = server.wait_for_bad_frames()
            records = server.wait_for_records(2)
        assert "longer than max_frame_size=200" in bad.reason
        assert sorted(record.msg for record in records) == ["after", "sibling"]
        assert server.running


def test_bad_datagrams() -> None:
    with (
        LogRecordServer(transport="udp") as server,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client,
    ):
        client.sendto(b"\x00\x00", server.address)
        client.sendto(b"\x00\x00\x00\x09abc", server.address)
        short, mismatch = server.wait_for_bad_frames(2)
        assert "shorter than the 4-byte length prefix" in short.reason
        assert "says 9 bytes" in mismatch.reason


def test_partial_frame_at_close_is_a_bad_frame() -> None:
    with LogRecordServer() as server:
        with socket.create_connection(server.address) as client:
            client.sendall(b"\x00\x00\x01\x00abc")
        [bad] = server.wait_for_bad_frames()
        assert "ended inside a frame" in bad.reason


def test_wait_timeout_and_clear(logger: logging.Logger) -> None:
    with LogRecordServer() as server:
        logger.addHandler(logging.handlers.SocketHandler(server.host, server.port))
        logger.info("only one")
        server.wait_for_records()
        with pytest.raises(WaitTimeout, match="2 log records; 1 arrived"):
            server.wait_for_records(2, timeout=0.01)
        server.clear()
        assert server.records == []


@pytest.mark.asyncio
async def test_async_waits(logger: logging.Logger) -> None:
    async with LogRecordServer(transport="udp") as server:
        logger.addHandler(logging.handlers.DatagramHandler(server.host, server.port))
        logger.critical("async")
        [record] = await server.wait_for_records_async(match=lambda r: r.levelno >= 50)
        assert record.getMessage() == "async"
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
            client.sendto(b"bad", server.address)
            [bad] = await server.wait_for_bad_frames_async()
        assert bad.data == b"bad"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"transport": "unix"}, "transport must be"),
        ({"max_frame_size": -1}, "max_frame_size must be"),
    ],
)
def test_configuration_errors(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        LogRecordServer(**kwargs)  # type: ignore[arg-type]
