"""SyslogServer driven by logging.handlers.SysLogHandler and raw sockets, over each transport."""

from __future__ import annotations

import logging
import logging.handlers
import socket
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from understudy._core.syslog import format_rfc5424
from understudy._core.syslog_framing import frame_octet_counted
from understudy._errors import ConfigurationError, WaitTimeout
from understudy._syslog import SyslogMessage, SyslogServer


@pytest.fixture
def logger() -> Iterator[logging.Logger]:
    log = logging.getLogger(f"understudy-test-{uuid.uuid4().hex}")
    log.propagate = False
    log.setLevel(logging.DEBUG)
    yield log
    for handler in list(log.handlers):
        log.removeHandler(handler)
        handler.close()


def syslog_handler(server: SyslogServer) -> logging.handlers.SysLogHandler:
    if server.transport == "unix":
        handler = logging.handlers.SysLogHandler(address=server.path, facility="local3")
    else:
        handler = logging.handlers.SysLogHandler(
            address=server.address,
            facility="local3",
            socktype=socket.SOCK_STREAM if server.transport == "tcp" else socket.SOCK_DGRAM,
        )
    handler.ident = "myapp[42]: "
    return handler


@pytest.mark.parametrize("transport", ["udp", "tcp", "unix"])
def test_sysloghandler_over_each_transport(transport: str, logger: logging.Logger) -> None:
    with SyslogServer(transport=transport) as server:  # type: ignore[arg-type]
        logger.addHandler(syslog_handler(server))
        logger.warning("disk %s is full", "/var")
        logger.debug("détail")
        warning, debug = server.wait_for_messages(2)
        assert warning.error is None
        assert (warning.facility, warning.facility_name) == (19, "local3")
        assert (warning.severity, warning.severity_name) == (4, "warning")
        assert warning.priority == 19 * 8 + 4
        assert (warning.app_name, warning.procid) == ("myapp", "42")
        assert warning.msg == "disk /var is full"
        assert warning.raw.startswith(b"<156>myapp[42]: disk")
        assert warning.transport == transport
        assert debug.severity_name == "debug"
        assert debug.msg == "détail"


def test_a_traceback_logged_over_tcp_arrives_as_one_message(logger: logging.Logger) -> None:
    """``logger.exception`` over ``SysLogHandler``'s TCP: the message, with its traceback's
    lines, ends at the NUL the handler sends, not at its first line feed."""
    with SyslogServer(transport="tcp") as server:
        logger.addHandler(syslog_handler(server))
        try:
            _fail("the disk is full")
        except ValueError:
            logger.exception("saving %s failed", "report.pdf")
        logger.info("after")
        failed, after = server.wait_for_messages(2)
        assert failed.error is None
        assert failed.severity_name == "err"
        lines = failed.msg.splitlines()
        assert lines[0] == "saving report.pdf failed"
        assert lines[1] == "Traceback (most recent call last):"
        assert lines[-1] == "ValueError: the disk is full"
        assert after.msg == "after"
        assert len(server.messages) == 2


def _fail(reason: str) -> None:
    raise ValueError(reason)


def test_many_records_over_one_tcp_connection(logger: logging.Logger) -> None:
    with SyslogServer(transport="tcp") as server:
        logger.addHandler(syslog_handler(server))
        for number in range(50):
            logger.info("record %d", number)
        messages = server.wait_for_messages(50)
        assert [message.msg for message in messages] == [f"record {n}" for n in range(50)]


def rfc5424_message(text: str) -> bytes:
    return format_rfc5424(
        facility=16,
        severity=3,
        timestamp=datetime(2024, 5, 6, 7, 8, 9, 123000, tzinfo=UTC),
        hostname="web1",
        app_name="billing",
        procid="99",
        msgid="PAY",
        structured_data={"order@32473": {"id": "7", "note": 'a "b" ]'}},
        msg=text,
    )


def test_tcp_frames_sent_one_byte_at_a_time_are_reassembled() -> None:
    stream = (
        frame_octet_counted(rfc5424_message("octet counted\nwith a newline"))
        + b"<13>Oct  1 12:00:00 host1 cron[7]: LF framed\n"
        + b"<14>NUL framed\x00"
    )
    with SyslogServer(transport="tcp") as server:
        with socket.create_connection(server.address) as client:
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for byte in stream:
                client.send(bytes([byte]))
        first, second, third = server.wait_for_messages(3)
    assert first.version == 1
    assert first.msg == "octet counted\nwith a newline"
    assert first.timestamp == datetime(2024, 5, 6, 7, 8, 9, 123000, tzinfo=UTC)
    assert (first.hostname, first.app_name, first.procid, first.msgid) == (
        "web1",
        "billing",
        "99",
        "PAY",
    )
    assert first.structured_data == {"order@32473": {"id": "7", "note": 'a "b" ]'}}
    assert second.version is None
    assert (second.hostname, second.app_name, second.procid) == ("host1", "cron", "7")
    assert second.timestamp is not None
    assert (second.timestamp.month, second.timestamp.day) == (10, 1)
    assert second.msg == "LF framed"
    assert third.msg == "NUL framed"


def test_bad_messages_are_kept_with_the_reason() -> None:
    with (
        SyslogServer() as server,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client,
    ):
        client.sendto(b"no priority here", server.address)
        client.sendto(b"<13>1 not-a-time - - - - -", server.address)
        client.sendto(b"<13>fine", server.address)
        bad_pri, bad_time, good = server.wait_for_messages(3)
        assert bad_pri.error is not None
        assert "PRI" in bad_pri.error
        assert bad_pri.raw == b"no priority here"
        assert bad_time.error is not None
        assert "TIMESTAMP" in bad_time.error
        assert good.error is None
        assert good.msg == "fine"
        [only_good] = server.wait_for_messages(match=lambda m: m.error is None)
        assert only_good is good


def test_oversized_frames_are_refused_without_killing_siblings() -> None:
    with SyslogServer(transport="tcp", max_message_size=100) as server:
        with (
            socket.create_connection(server.address) as sibling,
            socket.create_connection(server.address) as offender,
        ):
            offender.sendall(b"500 " + b"x" * 500 + b"<13>after octets\n")
            offender.sendall(b"<13>" + b"y" * 300 + b"\n<13>after lf\n")
            sibling.sendall(b"<13>sibling\n")
            messages = server.wait_for_messages(5)
        refused = [message for message in messages if message.error is not None]
        assert len(refused) == 2
        assert all("max_message_size=100" in message.error for message in refused)  # type: ignore[operator]
        good = sorted(message.msg for message in messages if message.error is None)
        assert good == ["after lf", "after octets", "sibling"]
        assert server.running


def test_oversized_datagram_is_refused() -> None:
    with (
        SyslogServer(max_message_size=10) as server,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client,
    ):
        client.sendto(b"<13>" + b"z" * 20, server.address)
        client.sendto(b"<13>short", server.address)
        refused, short = server.wait_for_messages(2)
        assert refused.error is not None
        assert "longer than max_message_size=10" in refused.error
        assert short.msg == "short"


def test_tcp_connection_closed_inside_a_frame_is_recorded() -> None:
    with SyslogServer(transport="tcp") as server:
        with socket.create_connection(server.address) as client:
            client.sendall(b"100 <13>cut short")
        [message] = server.wait_for_messages()
        assert message.error is not None
        assert "ended inside an octet-counted frame" in message.error


def test_wait_timeout_and_clear() -> None:
    with (
        SyslogServer() as server,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client,
    ):
        client.sendto(b"<13>one", server.address)
        server.wait_for_messages()
        with pytest.raises(WaitTimeout, match="2 syslog messages; 1 arrived"):
            server.wait_for_messages(2, timeout=0.01)
        server.clear()
        assert server.messages == []


@pytest.mark.asyncio
async def test_async_wait(logger: logging.Logger) -> None:
    async with SyslogServer() as server:
        logger.addHandler(syslog_handler(server))
        logger.error("from an async test")
        [message] = await server.wait_for_messages_async()
        assert isinstance(message, SyslogMessage)
        assert message.msg == "from an async test"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"transport": "tls"}, "transport must be"),
        ({"transport": "unix", "port": 514}, "listens on path="),
        ({"transport": "udp", "path": "/dev/log"}, "path= is for transport='unix'"),
        ({"max_message_size": 0}, "max_message_size must be"),
    ],
)
def test_configuration_errors(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        SyslogServer(**kwargs)  # type: ignore[arg-type]


def test_repr_names_transport() -> None:
    with SyslogServer(transport="tcp") as server:
        assert f"tcp 127.0.0.1:{server.port} running" in repr(server)
