"""How-to: the servers that are not HTTP — mail, raw sockets, syslog and logging's receivers.

The README's "Mail, sockets, syslog and logging" section shows these tests.

Reference (built by ``make docs`` into site/; every attribute, with its type): ``SMTPMessage``:
docs/reference/mail.md; ``ConnectionRecord``, ``Datagram``, ``SyslogMessage`` and the log records:
docs/reference/sockets.md.
"""

from __future__ import annotations

import logging
import logging.handlers
import smtplib
import socket
from collections.abc import Iterator

import pytest

import understudy


@pytest.fixture
def logger() -> Iterator[logging.Logger]:
    logger = logging.getLogger("howto.mail_and_sockets")
    logger.propagate = False
    yield logger
    for handler in logger.handlers[:]:
        logger.removeHandler(handler)
        handler.close()


def test_mail(smtp_server: understudy.SMTPServer) -> None:
    with smtplib.SMTP(smtp_server.host, smtp_server.port) as client:
        client.sendmail("app@example.com", ["ops@example.com"], b"Subject: Daily report\r\n\r\nok")
    [message] = smtp_server.wait_for_messages(1)
    assert message.mail_from == "app@example.com"
    assert message.rcpt_tos == ["ops@example.com"]
    assert message["Subject"] == "Daily report"


def test_raw_tcp(tcp_server: understudy.TCPServer) -> None:
    with socket.create_connection(tcp_server.address) as client:
        client.sendall(b"PING\r\n")
        record = tcp_server.wait_for_bytes(b"PING\r\n")
    assert record.peer is not None


def test_syslog_and_logging(
    syslog_server: understudy.SyslogServer,
    log_record_server: understudy.LogRecordServer,
    logger: logging.Logger,
) -> None:
    logger.addHandler(logging.handlers.SysLogHandler(address=syslog_server.address))
    logger.addHandler(logging.handlers.SocketHandler(*log_record_server.address))
    logger.warning("disk %d%% full", 91)
    [message] = syslog_server.wait_for_messages(1)
    assert message.severity == 4  # warning (RFC 5424 §6.2.1)
    assert message.msg == "disk 91% full"
    [record] = log_record_server.wait_for_records(1)
    assert (record.levelname, record.getMessage()) == ("WARNING", "disk 91% full")
