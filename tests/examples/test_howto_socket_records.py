"""How to read what the socket, syslog and log-record servers journaled.

A stream server (``TCPServer``, ``UnixStreamServer``) keeps a :class:`understudy.ConnectionRecord`
per connection: who (``peer``), every byte received (``data``), when it opened and closed
(``opened_at``, ``closed_at``: ``time.time()`` seconds) and, with ``tls=``, what TLS agreed on.
A datagram server (``UDPServer``, ``UnixDatagramServer``) keeps a :class:`understudy.Datagram`
per datagram. A ``SyslogServer`` parses each message into a :class:`understudy.SyslogMessage`
(RFC 5424 §6's fields, or ``error`` and the ``raw`` bytes); a ``LogRecordServer`` keeps each
frame it could not read as a :class:`understudy.BadFrame`.

Reference (built by ``make docs`` into site/; every attribute, with its type):
``ConnectionRecord``, ``Datagram``, ``SyslogMessage``, ``BadFrame``: docs/reference/sockets.md.
"""

from __future__ import annotations

import logging
import logging.handlers
import pickle
import socket
import struct
import time
from datetime import UTC, datetime

import understudy
import understudy.tls


def test_a_connection_record_keeps_every_byte_and_when_it_opened_and_closed() -> None:
    """``data`` grows as bytes arrive; ``closed_at`` is set when either side closes."""
    with understudy.TCPServer() as server:
        before = time.time()
        with socket.create_connection(server.address, timeout=5) as client:
            client_address = client.getsockname()
            client.sendall(b"HELO\r\n")
            open_record = server.wait_for_bytes(b"HELO\r\n")
            assert (open_record.closed, open_record.closed_at) == (False, None)
            client.sendall(b"QUIT\r\n")
        [record] = server.wait_for_connections(1, match=lambda c: c.closed)
        after = time.time()

    assert record.data == b"HELO\r\nQUIT\r\n"  # both writes, in order
    assert record.peer == client_address
    assert record.closed_at is not None
    assert before <= record.opened_at <= record.closed_at <= after  # time.time() seconds
    assert record.tls is None  # plain TCP


def test_a_tls_connection_records_what_the_handshake_agreed_on() -> None:
    """With ``tls=True``, ``data`` is the decrypted bytes and ``tls`` the session's terms."""
    context = understudy.tls.client_context()
    context.set_alpn_protocols(["myproto"])  # offered, but only an HTTPServer takes ALPN
    with (
        understudy.TCPServer(tls=True) as server,
        socket.create_connection(server.address, timeout=5) as plain,
        context.wrap_socket(plain, server_hostname="localhost") as client,
    ):
        client.sendall(b"secret")
        record = server.wait_for_bytes(b"secret")

    assert record.data == b"secret"
    assert record.tls is not None
    assert record.tls.version in ("TLSv1.2", "TLSv1.3")
    assert record.tls.cipher  # e.g. "TLS_AES_256_GCM_SHA384"
    assert record.tls.alpn_protocol is None  # none chosen: a TCPServer offers no protocol


def test_each_udp_datagram_is_a_record_with_its_sender() -> None:
    """A ``Datagram`` is one datagram whole: ``data``, ``peer`` and ``received_at``."""
    with (
        understudy.UDPServer() as server,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client,
    ):
        client.bind(("127.0.0.1", 0))  # so the server sees (and could answer) its address
        client_address = client.getsockname()
        before = time.time()
        client.sendto(b"requests:1|c", server.address)
        client.sendto(b"latency:12|ms", server.address)
        first, second = server.wait_for_datagrams(2)
        after = time.time()

    assert (first.data, second.data) == (b"requests:1|c", b"latency:12|ms")  # never joined
    assert first.peer == client_address  # (host, port)
    assert before <= first.received_at <= second.received_at <= after


def test_a_unix_datagram_from_an_unbound_socket_has_no_peer() -> None:
    """On a Unix datagram socket (like /dev/log), an unbound sender has no address."""
    with (
        understudy.UnixDatagramServer() as server,
        socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as client,
    ):
        client.sendto(b"<14>hello", server.path)
        [datagram] = server.wait_for_datagrams(1)

    assert datagram.data == b"<14>hello"
    assert datagram.peer is None  # so it cannot be answered


RFC5424 = (
    b"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog 4242 ID47 "
    b'[exampleSDID@32473 iut="3" eventSource="Application"] An application event'
)  # RFC 5424 §6.5's example, with structured data


def test_a_syslog_message_is_parsed_into_rfc_5424_fields() -> None:
    """facility, severity, timestamp, hostname, app_name, procid, msgid, structured_data."""
    with (
        understudy.SyslogServer() as server,  # UDP by default
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client,
    ):
        before = time.time()
        client.sendto(RFC5424, server.address)
        [message] = server.wait_for_messages(1)
        after = time.time()

    assert (message.facility, message.facility_name) == (20, "local4")
    assert (message.severity, message.severity_name) == (5, "notice")
    assert message.version == 1
    assert message.timestamp == datetime(2003, 10, 11, 22, 14, 15, 3000, tzinfo=UTC)
    assert message.hostname == "mymachine.example.com"
    assert message.app_name == "evntslog"
    assert (message.procid, message.msgid) == ("4242", "ID47")
    assert message.structured_data == {
        "exampleSDID@32473": {"iut": "3", "eventSource": "Application"}
    }
    assert message.msg == "An application event"
    assert message.raw == RFC5424  # the bytes as received
    assert message.transport == "udp"
    assert message.peer is not None
    assert message.peer[0] == "127.0.0.1"
    assert before <= message.received_at <= after
    assert (message.error, message.tls) == (None, None)


def test_bytes_that_are_not_syslog_are_kept_with_the_reason() -> None:
    """What parses as neither RFC 5424 nor RFC 3164 keeps ``raw``, with ``error`` saying why."""
    with (
        understudy.SyslogServer() as server,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client,
    ):
        client.sendto(b"<999>1 - - - - - - too high", server.address)
        [message] = server.wait_for_messages(1)

    assert message.error == "PRI <999> is not 0..191 (RFC 5424 §6.2.1)"
    assert message.raw == b"<999>1 - - - - - - too high"
    assert (message.facility, message.severity, message.app_name) == (None, None, None)
    assert (message.msg, message.structured_data) == ("", {})


def test_syslog_over_a_unix_socket_as_sysloghandler_sends_it() -> None:
    """Over ``transport="unix"`` (like /dev/log), ``peer`` is ``None``: the handler's socket is
    unbound. Python's ``SysLogHandler`` sends ``<PRI>MSG``, RFC 3164's shortest form."""
    with understudy.SyslogServer(transport="unix") as server:
        handler = logging.handlers.SysLogHandler(address=server.path, facility="local3")
        logger = logging.getLogger("app.disk")
        logger.addHandler(handler)
        try:
            logger.error("disk full")
        finally:
            logger.removeHandler(handler)
            handler.close()
        [message] = server.wait_for_messages(1)

    assert (message.facility_name, message.severity_name) == ("local3", "err")
    assert message.priority == 19 * 8 + 3  # PRI: facility * 8 + severity
    assert message.msg == "disk full"  # the trailing NUL SysLogHandler appends is removed
    assert (message.version, message.hostname, message.timestamp) == (None, None, None)
    assert (message.transport, message.peer) == ("unix", None)


def test_syslog_over_tls_records_the_tls_of_each_message() -> None:
    """RFC 5425: over ``transport="tcp", tls=True`` each message carries its connection's TLS."""
    context = understudy.tls.client_context()
    frame = b"<14>1 - web01 api - - - started"
    with (
        understudy.SyslogServer(transport="tcp", tls=True) as server,
        socket.create_connection(server.address, timeout=5) as plain,
        context.wrap_socket(plain, server_hostname="localhost") as client,
    ):
        client.sendall(b"%d %s" % (len(frame), frame))  # octet counting (RFC 6587 §3.4.1)
        [message] = server.wait_for_messages(1)

    assert (message.hostname, message.app_name, message.msg) == ("web01", "api", "started")
    assert message.timestamp is None  # "-", the NILVALUE
    assert message.transport == "tcp"
    assert message.tls is not None
    assert message.tls.version in ("TLSv1.2", "TLSv1.3")


def test_a_frame_a_log_record_receiver_cannot_read_is_a_bad_frame() -> None:
    """Not a pickle of plain data: a ``BadFrame`` with the reason; the connection goes on."""
    not_a_pickle = b"hello"
    code = pickle.dumps(time.time)  # a pickle that would call a function: refused
    with (
        understudy.LogRecordServer() as server,
        socket.create_connection(server.address, timeout=5) as client,
    ):
        client_address = client.getsockname()
        for frame in (not_a_pickle, code):
            client.sendall(struct.pack(">L", len(frame)) + frame)  # as SocketHandler frames
        first, second = server.wait_for_bad_frames(2)

    assert first.reason.startswith("not a pickle of plain data: UnpicklingError")
    assert first.data == b"\x00\x00\x00\x05hello"  # the first bytes, length prefix included
    assert "the pickle refers to time.time" in second.reason
    assert first.peer == client_address
    assert 0 < first.received_at <= second.received_at
    assert server.records == []  # nothing was unpickled into a LogRecord
