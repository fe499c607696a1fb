"""Section: one logging configuration ships records to every receiver of ``logging.handlers``.

The second seed's use case: CPython's test_logging needed an SMTP, a syslog and socket servers to
test SMTPHandler, SysLogHandler, SocketHandler and DatagramHandler. Here each is an understudy
server, started in about a millisecond, and one ``logging.config.dictConfig`` points at them all.
"""

from __future__ import annotations

import contextlib
import logging
import logging.config
import socket

import understudy

from ._report import Report

TITLE = "logging.config -> SMTP, syslog (UDP, TCP, Unix) and socket/datagram receivers"


def run(report: Report) -> None:
    """Log one error through six handlers and show what each server received."""
    with contextlib.ExitStack() as stack:
        smtp = stack.enter_context(understudy.SMTPServer())
        syslog_udp = stack.enter_context(understudy.SyslogServer(transport="udp"))
        syslog_tcp = stack.enter_context(understudy.SyslogServer(transport="tcp"))
        syslog_unix = stack.enter_context(understudy.SyslogServer(transport="unix"))
        records_tcp = stack.enter_context(understudy.LogRecordServer(transport="tcp"))
        records_udp = stack.enter_context(understudy.LogRecordServer(transport="udp"))
        handlers = {
            "mail": {
                "class": "logging.handlers.SMTPHandler",
                "mailhost": (smtp.host, smtp.port),
                "fromaddr": "app@example.com",
                "toaddrs": ["ops@example.com"],
                "subject": "app error",
            },
            "syslog_udp": {
                "class": "logging.handlers.SysLogHandler",
                "address": syslog_udp.address,
            },
            "syslog_tcp": {
                "class": "logging.handlers.SysLogHandler",
                "address": syslog_tcp.address,
                "socktype": socket.SOCK_STREAM,
            },
            "syslog_unix": {
                "class": "logging.handlers.SysLogHandler",
                "address": syslog_unix.address,
            },
            "socket": {
                "class": "logging.handlers.SocketHandler",
                "host": records_tcp.host,
                "port": records_tcp.port,
            },
            "datagram": {
                "class": "logging.handlers.DatagramHandler",
                "host": records_udp.host,
                "port": records_udp.port,
            },
        }
        logging.config.dictConfig(
            {
                "version": 1,
                "handlers": handlers,
                "loggers": {"demo.app": {"handlers": list(handlers), "level": "INFO"}},
            }
        )
        logger = logging.getLogger("demo.app")
        report.line(
            "handlers: " + ", ".join(spec["class"].rpartition(".")[2] for spec in handlers.values())
        )
        report.line()
        report.line('>>> logging.getLogger("demo.app").error("disk %s is full", "/var")')
        logger.error("disk %s is full", "/var")
        try:
            [mail] = smtp.wait_for_messages(1)
            report.line(f"SMTPServer received          {mail!r}")
            report.check(mail["Subject"] == "app error", "the mail's subject")
            for name, server in (("UDP", syslog_udp), ("TCP", syslog_tcp), ("Unix", syslog_unix)):
                [message] = server.wait_for_messages(1)
                report.line(
                    f"SyslogServer ({name:<4}) received  facility={message.facility} "
                    f"severity={message.severity} msg={message.msg!r}"
                )
                report.check(message.msg.endswith("disk /var is full"), f"syslog over {name}")
            for name, receiver in (("TCP", records_tcp), ("UDP", records_udp)):
                [record] = receiver.wait_for_records(1)
                report.line(
                    f"LogRecordServer ({name}) received a LogRecord: {record.name} "
                    f"{record.levelname} {record.getMessage()!r}"
                )
                report.check(record.getMessage() == "disk /var is full", f"the record over {name}")
        finally:
            for handler in logger.handlers:
                handler.close()
            logger.handlers.clear()
