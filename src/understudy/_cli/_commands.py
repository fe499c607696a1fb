"""The subcommands: one :class:`~._options.Command` each (``http`` has a module of its own)."""

from __future__ import annotations

import argparse
from typing import Any

from .. import ConfigurationError, ConnectionRecord, SMTPServer, SyslogServer, TCPServer
from .._journal import Journal
from .._smtp._server import messages_journal
from .._sockets._tcp import connections_journal
from .._syslog import messages_journal as syslog_journal
from ..fakes import PyPIDownload, PyPIServer, PyPIUpload
from ._http_command import http_arguments, make_http
from ._options import Command, Running, Source, credentials, tls_arguments, tls_settings
from ._reports import (
    report_connection,
    report_download,
    report_message,
    report_syslog,
    report_upload,
)

__all__ = ["COMMANDS"]


# -- smtp --------------------------------------------------------------------------------------


def _smtp_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--hostname",
        default="understudy.invalid",
        help="the name the server gives in its greeting (default: %(default)s)",
    )
    parser.add_argument(
        "--auth",
        metavar="USER:PASSWORD",
        type=credentials("--auth"),
        action="append",
        default=[],
        help="offer AUTH PLAIN and LOGIN (RFC 4954) and accept USER with PASSWORD (repeatable)",
    )
    parser.add_argument(
        "--auth-required",
        action="store_true",
        help="with --auth: refuse MAIL, RCPT and DATA with 530 until the client authenticates",
    )
    parser.add_argument(
        "--smtputf8",
        action="store_true",
        help="offer SMTPUTF8 (RFC 6531): UTF-8 in addresses and header fields",
    )
    tls_arguments(parser, "speak implicit TLS (SMTPS, RFC 8314)")
    parser.add_argument(
        "--starttls",
        action="store_true",
        help="offer STARTTLS (RFC 3207), with the same test CA as --tls",
    )


def _smtp(args: argparse.Namespace) -> Running:
    if args.auth_required and not args.auth:
        raise ConfigurationError("--auth-required needs credentials: give --auth USER:PASSWORD too")
    info: dict[str, Any] = {"kind": "smtps" if args.tls else "smtp"}
    notes: list[str] = []
    tls = tls_settings(args, info, notes, enabled=args.tls or args.starttls)
    server = SMTPServer(
        host=args.host,
        port=args.port,
        hostname=args.hostname,
        auth=dict(args.auth) or None,
        auth_required=args.auth_required,
        smtputf8=args.smtputf8,
        journal_size=100,
        tls=tls if args.tls else None,
        starttls=(tls or False) if args.starttls else False,
    )
    return Running(server, info, [Source(messages_journal(server), report_message)], notes=notes)


# -- syslog ------------------------------------------------------------------------------------


def _syslog_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--transport",
        choices=("udp", "tcp"),
        default="udp",
        help="UDP datagrams (RFC 5426) or TCP streams (RFC 6587) (default: %(default)s)",
    )
    tls_arguments(parser, "with --transport tcp: syslog over TLS (RFC 5425)")


def _syslog(args: argparse.Namespace) -> Running:
    scheme = "syslog+tls" if args.tls else f"syslog+{args.transport}"
    info: dict[str, Any] = {"kind": "syslog", "transport": args.transport, "scheme": scheme}
    notes: list[str] = []
    server = SyslogServer(
        transport=args.transport,
        host=args.host,
        port=args.port,
        journal_size=100,
        tls=tls_settings(args, info, notes, enabled=args.tls),
    )
    return Running(server, info, [Source(syslog_journal(server), report_syslog)], notes=notes)


# -- tcp ---------------------------------------------------------------------------------------


def _tcp_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--echo", action="store_true", help="send every byte received straight back"
    )
    tls_arguments(parser, "speak TLS")


def _tcp(args: argparse.Namespace) -> Running:
    info: dict[str, Any] = {"kind": "tcp", "echo": args.echo}
    notes: list[str] = []
    server = TCPServer(
        host=args.host,
        port=args.port,
        echo=args.echo,
        journal_size=100,
        tls=tls_settings(args, info, notes, enabled=args.tls),
    )
    # (a connection is reported once closed, with every byte it sent)
    source = Source(connections_journal(server), report_connection, _closed)
    return Running(server, info, [source], notes=notes)


def _closed(record: ConnectionRecord) -> bool:
    return record.closed


# -- pypi --------------------------------------------------------------------------------------


def _pypi_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dir",
        metavar="DIR",
        help="serve the distributions in DIR and write uploads there (default: in memory)",
    )
    parser.add_argument(
        "--user",
        metavar="NAME:PASSWORD",
        type=credentials("--user"),
        action="append",
        default=[],
        help="accept uploads from NAME with PASSWORD (repeatable; default: any credentials)",
    )
    tls_arguments(parser, "serve HTTPS (pip and twine take the CA with --cert)")


def _pypi(args: argparse.Namespace) -> Running:
    info: dict[str, Any] = {"kind": "pypi"}
    notes: list[str] = []
    server = _CommandPyPIServer(
        host=args.host,
        port=args.port,
        directory=args.dir,
        users=dict(args.user) or None,
        journal_size=100,
        tls=tls_settings(args, info, notes, enabled=args.tls),
    )
    sources = [
        Source(server.uploads_journal, report_upload),
        Source(server.downloads_journal, report_download),
    ]
    return Running(server, info, sources, notes=notes)


class _CommandPyPIServer(PyPIServer):
    """The fake PyPI, with the journals the command follows.

    (Read here, in the command's own subclass, until ``PyPIServer`` offers its store to the
    package by a name of its own.)
    """

    @property
    def uploads_journal(self) -> Journal[PyPIUpload]:
        return self._store.uploads

    @property
    def downloads_journal(self) -> Journal[PyPIDownload]:
        return self._store.downloads


COMMANDS: list[Command] = [
    Command(
        "http",
        "an HTTP/1.1 server: files, WireMock mappings, proxy and record",
        http_arguments,
        make_http,
    ),
    Command("smtp", "an SMTP server that prints each message it receives", _smtp_arguments, _smtp),
    Command("syslog", "a syslog receiver that prints each message", _syslog_arguments, _syslog),
    Command(
        "tcp",
        "a TCP server that prints each connection (--echo: an echo server)",
        _tcp_arguments,
        _tcp,
    ),
    Command(
        "pypi",
        "a fake PyPI: pip installs from it, twine uploads to it; prints each upload and download",
        _pypi_arguments,
        _pypi,
    ),
]
