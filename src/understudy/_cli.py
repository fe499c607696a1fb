"""The ``understudy`` command: run a server out of process until SIGINT or SIGTERM.

Each subcommand is a :class:`Command`: how to add its options to argparse, how to make the
server from them, and how to report what arrives. Adding one (``understudy pypi``, ``--tls``)
is a function and a line in :data:`COMMANDS`.

On start the command prints where it listens, then one report per thing that arrives
(request, message, connection, upload, download); with ``--json`` each of those is one JSON
object on a line of its own, flushed, for a script that starts it. SIGINT and SIGTERM stop the
server and exit 0. Every mistake — a wrong option, a busy port, a host it cannot listen on —
exits 2 with the subcommand's usage and one line naming the flag to change: the library's
messages name Python arguments (``port=0``), and :func:`cli_wording` rewords them with one
table, :data:`FLAGS`.
"""

from __future__ import annotations

import argparse
import base64
import errno
import functools
import ipaddress
import json
import os
import queue
import re
import signal
import ssl
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import FrameType
from typing import Any, NoReturn, TextIO

from ._errors import ConfigurationError, WaitTimeout
from ._http._request import Request
from ._http._server import HTTPServer
from ._journal import Journal
from ._server import Server
from ._smtp import SMTPMessage, SMTPServer
from ._sockets import ConnectionRecord, TCPServer
from ._syslog import SyslogMessage, SyslogServer
from ._tls import TLS, authority
from ._waits import Wait
from .fakes import PyPIDownload, PyPIServer, PyPIUpload

__all__ = ["COMMANDS", "FLAGS", "Command", "cli_wording", "main"]

#: A wait in the main thread lasts at most this long before it is begun again (seconds); a
#: signal ends it at once.
_WAIT: float = 3600.0

#: The environment variable ``--admin-token`` defaults to (a token on the command line is
#: visible to every user of the machine in ``ps``).
ADMIN_TOKEN_VARIABLE = "UNDERSTUDY_ADMIN_TOKEN"  # noqa: S105 - a name, not a secret

#: A report of one thing that arrived: the JSON object ``--json`` prints, and the text printed
#: without it.
Report = tuple[dict[str, Any], str]


class _Stop(Exception):
    """Raised in the main thread by the SIGINT/SIGTERM handler."""


@dataclass
class Running:
    """A server the command made (not yet started), and how to report it."""

    server: Server
    info: dict[str, Any]
    #: The server's journals to report from: attribute name (a dotted path from the server)
    #: -> how to report one entry.
    reports: dict[str, Callable[[Any], Report]] = field(default_factory=dict)
    #: Entries are reported once this holds of them (TCP: when the connection has closed).
    ready: Callable[[Any], bool] | None = None
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Command:
    """One subcommand: its help, its options, and how to make its server."""

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    make: Callable[[argparse.Namespace], Running]


# -- wording -----------------------------------------------------------------------------------

#: A server's Python argument (or method) -> the flag of the command that sets it.
FLAGS: dict[str, str] = {
    "admin_token": "--admin-token",
    "auth": "--auth",
    "auth_required": "--auth-required",
    "directory": "--dir",
    "content_codings": "--content-codings",
    "echo": "--echo",
    "generated_fields": "--generated-fields",
    "host": "--host",
    "hostname": "--hostname",
    "index": "--index",
    "load_mappings()": "--mappings",
    "mappings": "--mappings",
    "port": "--port",
    "proxy_to": "--proxy-to",
    "record": "--record",
    "root": "--root",
    "serve_directory()": "--root",
    "smtputf8": "--smtputf8",
    "starttls": "--starttls",
    "tls": "--tls",
    "transport": "--transport",
    "users": "--user",
}
_NAMES = "|".join(re.escape(name) for name in sorted(FLAGS, key=len, reverse=True))
#: ``SMTPServer tls=`` -> ``--tls``: the class is the command's own.
_CLASS = re.compile(r"\b(?:HTTPServer|PyPIServer|SMTPServer|SyslogServer|TCPServer)(?:\(\))? ?")
#: ``port=0``, ``transport='udp'``, ``tls=``.
_ASSIGNED = re.compile(rf"(?<![\w-])({_NAMES})=(?:'([^']*)'|([\w.]+))?")
#: ``serve_directory()``, ``proxy_to``: names no English sentence uses.
_NAMED = re.compile(
    rf"(?<![\w-])({'|'.join(re.escape(n) for n in FLAGS if '_' in n or n.endswith('()'))})"
    r"(?![\w=])"
)
#: ``root '/nope' does not exist``: a message that opens with the argument's name.
_OPENING = re.compile(rf"^({_NAMES})\b(?![=(])")


def cli_wording(message: str) -> str:
    """``message`` (a server's error) with each Python argument named by its flag (:data:`FLAGS`).

    ``"pass port=0 to let the kernel choose"`` becomes ``"pass --port 0 to let the kernel
    choose"``; ``"give SMTPServer tls= ... or starttls="``, ``"give --tls ... or --starttls"``.
    """

    def assigned(found: re.Match[str]) -> str:
        value = found.group(2) if found.group(2) is not None else found.group(3)
        return FLAGS[found.group(1)] + (f" {value}" if value else "")

    message = _CLASS.sub("", message)
    message = _ASSIGNED.sub(assigned, message)
    message = _NAMED.sub(lambda found: FLAGS[found.group(1)], message)
    return _OPENING.sub(lambda found: FLAGS[found.group(1)], message)


def _cannot_listen(args: argparse.Namespace, error: OSError) -> str:
    """What to say when ``start()`` could not bind: which flag to change, and to what."""
    reason = error.strerror or str(error)
    if error.errno == errno.EADDRINUSE:
        return str(error)  # (AddressInUse names host and port, and what to pass instead)
    if error.errno == errno.EACCES:
        return (
            f"cannot listen on port {args.port}: {reason}; ports below 1024 need privileges: "
            "give --port 0 (a free port) or one above 1023"
        )
    return (
        f"cannot listen on --host {args.host}: {reason}; give an address of this machine, "
        "such as 127.0.0.1 (the default), ::1 or localhost"
    )


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address (127.0.0.0/8, ``::1``) or ``localhost``.

    Names other than ``localhost`` are not looked up: they count as not loopback.
    """
    if host.lower() == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


# -- options every server shares ---------------------------------------------------------------


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a port is a number, not {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(
            f"a port is 0 (a free one) to 65535, not {port}; give --port 0 for a free one"
        )
    return port


def _credentials(flag: str) -> Callable[[str], tuple[str, str]]:
    def parse(text: str) -> tuple[str, str]:
        name, colon, password = text.partition(":")
        if not colon or not name:
            raise argparse.ArgumentTypeError(f"{flag} takes NAME:PASSWORD, not {text!r}")
        return name, password

    return parse


_TLS_VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}


def _tls_arguments(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--tls",
        action="store_true",
        help=f"{what} with a certificate from a test CA made for this run; its PEM file is "
        "printed (ca_bundle) for clients to trust, and removed on exit",
    )
    parser.add_argument(
        "--tls-certificate",
        choices=("valid", "expired", "not-yet-valid", "wrong-host", "self-signed", "untrusted-ca"),
        help="with TLS: the certificate to present; all but valid (the default) make a "
        "client's verification fail",
    )
    parser.add_argument(
        "--tls-client-cert",
        choices=("none", "optional", "required"),
        help="with TLS: ask clients for a certificate (mutual TLS); one signed by the test CA "
        "is written for them (client_cert: key and certificate, PEM)",
    )
    parser.add_argument(
        "--tls-min-version", choices=tuple(_TLS_VERSIONS), help="with TLS: the lowest version"
    )
    parser.add_argument(
        "--tls-max-version", choices=tuple(_TLS_VERSIONS), help="with TLS: the highest version"
    )


def _tls(
    args: argparse.Namespace, info: dict[str, Any], notes: list[str], *, enabled: bool
) -> TLS | None:
    """The TLS settings the options ask for (``None``: no TLS), and what clients need to know."""
    given = [
        flag
        for flag, value in (
            ("--tls-certificate", args.tls_certificate),
            ("--tls-client-cert", args.tls_client_cert),
            ("--tls-min-version", args.tls_min_version),
            ("--tls-max-version", args.tls_max_version),
        )
        if value is not None
    ]
    if not enabled:
        if given:
            flags = " --starttls" if hasattr(args, "starttls") else ""
            raise ConfigurationError(f"{given[0]} sets how TLS is spoken: give --tls{flags} too")
        return None
    settings = TLS(
        certificate=args.tls_certificate or "valid",
        client_cert=args.tls_client_cert or "none",
        minimum_version=_TLS_VERSIONS.get(args.tls_min_version or ""),
        maximum_version=_TLS_VERSIONS.get(args.tls_max_version or ""),
    )
    info["ca_bundle"] = authority().ca_bundle()
    notes.append(f"trust the test CA in {info['ca_bundle']}")
    if settings.client_cert != "none":
        info["client_cert"] = authority().issue_client_cert().path
        notes.append(f"present the client certificate in {info['client_cert']}")
    return settings


# -- reports -----------------------------------------------------------------------------------


def _address(peer: Any) -> str | None:
    if isinstance(peer, tuple) and len(peer) >= 2:
        host = f"[{peer[0]}]" if ":" in str(peer[0]) else str(peer[0])
        return f"{host}:{peer[1]}"
    return None if peer is None or peer == "" else str(peer)


def _content(name: str, data: bytes) -> dict[str, Any]:
    """``data`` as JSON: text under ``name`` when it is UTF-8, else base64 under ``name_base64``."""
    try:
        return {name: data.decode("utf-8")}
    except UnicodeDecodeError:
        return {f"{name}_base64": base64.b64encode(data).decode("ascii")}


def _shown(data: bytes, limit: int = 200) -> str:
    return repr(data[:limit]) + ("..." if len(data) > limit else "")


def report_request(request: Request) -> Report:
    """An HTTP request as the command reports it."""
    event: dict[str, Any] = {
        "event": "request",
        "method": request.method,
        "target": request.target,
        "http_version": request.http_version,
        "client": _address(request.client),
        "headers": [list(pair) for pair in request.headers.multi_items()],
        **_content("body", request.body),
        "size": len(request.body),
        "received_at": request.received_at,
    }
    text = (
        f"{_address(request.client)} {request.method} {request.target} ({len(request.body)} bytes)"
    )
    if request.error is not None:
        event["error"] = request.error
        text += f": {request.error}"
    return event, text


def report_message(message: SMTPMessage) -> Report:
    """An SMTP message as the command reports it."""
    email = message.email
    event: dict[str, Any] = {
        "event": "message",
        "mail_from": message.mail_from,
        "rcpt_tos": list(message.rcpt_tos),
        "peer": _address(message.peer),
        "helo": message.helo,
        "login": message.login,
        "smtputf8": message.smtputf8,
        "headers": [[name, str(value)] for name, value in email.items()],
        "text": message.text,
        "html": message.html,
        "attachments": [
            {
                "filename": part.get_filename(),
                "content_type": part.get_content_type(),
                "size": len(part.get_payload(decode=True) or b""),
            }
            for part in message.attachments
        ],
        "size": len(message.data),
        "received_at": message.received_at,
        "error": message.error,
    }
    return event, format_message(message)


def format_message(message: SMTPMessage, *, body_lines: int = 10) -> str:
    """A message as the command prints it: envelope, header fields, the start of the body."""
    lines = [
        "---------- MESSAGE FOLLOWS ----------",
        f"mail from: {message.mail_from}",
        f"rcpt to: {', '.join(message.rcpt_tos)}",
    ]
    if message.peer is not None:
        lines.append(f"peer: {message.peer[0]}:{message.peer[1]}")
    if message.login is not None:
        lines.append(f"login: {message.login}")
    if message.error is not None:
        lines.append(f"refused: {message.error}")
    lines.append("")
    lines += [f"{name}: {value}" for name, value in message.email.items()]
    lines.append("")
    text = message.text or message.html
    body = text.splitlines()
    lines += body[:body_lines]
    if len(body) > body_lines:
        lines.append(f"... ({len(body) - body_lines} more lines)")
    for part in message.attachments:
        size = len(part.get_payload(decode=True) or b"")
        lines.append(
            f"[attachment {part.get_filename() or '(no name)'}: {part.get_content_type()}, "
            f"{size} bytes]"
        )
    lines.append(f"({len(message.data)} bytes)")
    lines.append("------------ END MESSAGE ------------")
    return "\n".join(lines)


def report_syslog(message: SyslogMessage) -> Report:
    """A syslog message as the command reports it: facility and severity by name."""
    event: dict[str, Any] = {
        "event": "message",
        "facility": message.facility_name,
        "severity": message.severity_name,
        "timestamp": None if message.timestamp is None else message.timestamp.isoformat(),
        "hostname": message.hostname,
        "app_name": message.app_name,
        "procid": message.procid,
        "msgid": message.msgid,
        "structured_data": {
            sd_id: dict(params) for sd_id, params in message.structured_data.items()
        },
        "msg": message.msg,
        "peer": _address(message.peer),
        "transport": message.transport,
        "received_at": message.received_at,
        "error": message.error,
    }
    if message.error is not None:
        event.update(_content("raw", message.raw))
    return event, format_syslog(message)


def format_syslog(message: SyslogMessage) -> str:
    """One line per message: facility.severity by name (RFC 5424 §6.2.1), timestamp, host,
    app[procid], the text."""
    if message.error is not None:
        return f"(not syslog: {message.error}) {message.raw!r}"
    parts = [
        f"<{message.facility_name}.{message.severity_name}>",
        message.timestamp.isoformat() if message.timestamp is not None else "-",
        message.hostname or "-",
        f"{message.app_name or '-'}[{message.procid or '-'}]:",
        message.msg or "",
    ]
    return " ".join(parts)


def report_connection(record: ConnectionRecord) -> Report:
    """A TCP connection, once closed, as the command reports it: every byte it sent."""
    data = record.data
    event = {
        "event": "connection",
        "peer": _address(record.peer),
        "opened_at": record.opened_at,
        "closed_at": record.closed_at,
        **_content("data", data),
        "size": len(data),
    }
    return event, f"connection from {_address(record.peer)}: {len(data)} bytes {_shown(data)}"


def report_upload(upload: PyPIUpload) -> Report:
    """An upload the fake PyPI accepted, as the command reports it."""
    event = {
        "event": "upload",
        "project": upload.project,
        "version": upload.version,
        "filename": upload.filename,
        "filetype": upload.filetype,
        "size": upload.size,
        "sha256": upload.sha256,
        "uploader": upload.uploader,
    }
    by = f" by {upload.uploader}" if upload.uploader is not None else ""
    text = (
        f"upload: {upload.project} {upload.version} {upload.filename} "
        f"({upload.filetype}, {upload.size} bytes){by}"
    )
    return event, text


def report_download(download: PyPIDownload) -> Report:
    """A distribution file the fake PyPI served, as the command reports it."""
    event = {
        "event": "download",
        "project": download.project,
        "version": download.version,
        "filename": download.filename,
        "user_agent": download.user_agent,
    }
    agent = download.user_agent.split(" ", 1)[0] or "(no User-Agent)"
    return event, f"download: {download.filename} by {agent}"


# -- http --------------------------------------------------------------------------------------


def _http_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", metavar="DIR", help="serve the files under DIR at /")
    parser.add_argument(
        "--index",
        metavar="FILE",
        help="with --root: the file served for a request naming a directory (index.html); "
        "without it directories get 404",
    )
    parser.add_argument(
        "--generated-fields",
        metavar="FIELDS",
        default="all",
        help="with --root: the fields generated for a file that does not declare them: all "
        "(the default), none (only what the file or its .headers sidecar declares, plus "
        "framing and Date), or a comma-separated list of Content-Type, ETag, Last-Modified, "
        "Accept-Ranges",
    )
    parser.add_argument(
        "--content-codings",
        metavar="CODINGS",
        help="with --root: code each file in the first of these content codings (a "
        "comma-separated list of gzip, deflate, br, zstd) that the request's Accept-Encoding "
        "accepts (curl --compressed), or not at all",
    )
    parser.add_argument(
        "--mappings",
        metavar="DIR",
        help="answer as the WireMock stub mappings in DIR (DIR/mappings/*.json, DIR/__files/)",
    )
    parser.add_argument(
        "--proxy-to",
        metavar="URL",
        help="forward requests that no mapping answers to the upstream at URL",
    )
    parser.add_argument(
        "--record",
        metavar="DIR",
        help="with --proxy-to: write one WireMock mapping per distinct request into DIR",
    )
    parser.add_argument(
        "--no-admin",
        action="store_true",
        help="do not answer WireMock's admin API under /__admin",
    )
    parser.add_argument(
        "--admin-token",
        metavar="TOKEN",
        help="the admin API answers only requests with Authorization: Bearer TOKEN (or "
        f"WireMock's Token TOKEN), others get 401 (default: ${ADMIN_TOKEN_VARIABLE}, if set)",
    )
    parser.add_argument(
        "--admin-on-network",
        action="store_true",
        help="let a --host that is not loopback serve the admin API without --admin-token "
        "(anyone who reaches the port can then read and change the mappings and read the "
        "journal, Authorization fields included)",
    )
    _tls_arguments(parser, "serve HTTPS")


def _http(args: argparse.Namespace) -> Running:
    admin = not args.no_admin
    token = args.admin_token
    if token is not None and not admin:
        raise ConfigurationError(
            "--admin-token guards the admin API, which --no-admin turns off: give one or the other"
        )
    if token is None and admin:
        token = os.environ.get(ADMIN_TOKEN_VARIABLE) or None
    if admin and token is None and not args.admin_on_network and not is_loopback(args.host):
        raise ConfigurationError(
            f"--host {args.host} is not a loopback address, and the admin API (/__admin: the "
            "mappings, and the journal with every request's Authorization field) would answer "
            "anyone without authentication: give --admin-token TOKEN, or --no-admin, or "
            "--admin-on-network to expose it anyway"
        )
    if args.record is not None and args.proxy_to is None:
        raise ConfigurationError("--record writes what the upstream answers: give --proxy-to too")
    for flag, value in (
        ("--generated-fields", args.generated_fields != "all"),
        ("--index", args.index),
        ("--content-codings", args.content_codings),
    ):
        if args.root is None and value:
            raise ConfigurationError(f"{flag} applies to the files of --root: give it too")
    info: dict[str, Any] = {"kind": "http"}
    notes: list[str] = []
    tls = _tls(args, info, notes, enabled=args.tls)
    server = _CommandHTTPServer(
        host=args.host,
        port=args.port,
        mappings=args.mappings,
        admin=admin,
        admin_token=token,
        proxy_to=args.proxy_to,
        record=args.record,
        tls=tls,
    )
    if args.root is not None:
        options: dict[str, Any] = {"generated_fields": args.generated_fields}
        if args.index is not None:
            options["index"] = args.index
        if args.content_codings is not None:
            options["content_codings"] = args.content_codings
        server.serve_directory("/", args.root, **options)
    if admin:
        info["admin_url"] = None  # (known once started)
        info["admin_token_required"] = token is not None
    return Running(server, info, {"_journal": report_request}, notes=notes)


class _CommandHTTPServer(HTTPServer):
    """Prints what went wrong (an unmatched request's near-miss report, a handler's error) to
    stderr as it happens, instead of keeping it for a ``check()`` that the command never calls."""

    def record_error(self, error: BaseException) -> None:
        sys.stderr.write(f"understudy http: {type(error).__name__}: {error}\n")
        sys.stderr.flush()


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
        type=_credentials("--auth"),
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
    _tls_arguments(parser, "speak implicit TLS (SMTPS, RFC 8314)")
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
    tls = _tls(args, info, notes, enabled=args.tls or args.starttls)
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
    return Running(server, info, {"_site.journal": report_message}, notes=notes)


# -- syslog ------------------------------------------------------------------------------------


def _syslog_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--transport",
        choices=("udp", "tcp"),
        default="udp",
        help="UDP datagrams (RFC 5426) or TCP streams (RFC 6587) (default: %(default)s)",
    )
    _tls_arguments(parser, "with --transport tcp: syslog over TLS (RFC 5425)")


def _syslog(args: argparse.Namespace) -> Running:
    scheme = "syslog+tls" if args.tls else f"syslog+{args.transport}"
    info: dict[str, Any] = {"kind": "syslog", "transport": args.transport, "scheme": scheme}
    notes: list[str] = []
    server = SyslogServer(
        transport=args.transport,
        host=args.host,
        port=args.port,
        journal_size=100,
        tls=_tls(args, info, notes, enabled=args.tls),
    )
    return Running(server, info, {"_journal": report_syslog}, notes=notes)


# -- tcp ---------------------------------------------------------------------------------------


def _tcp_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--echo", action="store_true", help="send every byte received straight back"
    )
    _tls_arguments(parser, "speak TLS")


def _tcp(args: argparse.Namespace) -> Running:
    info: dict[str, Any] = {"kind": "tcp", "echo": args.echo}
    notes: list[str] = []
    server = TCPServer(
        host=args.host,
        port=args.port,
        echo=args.echo,
        journal_size=100,
        tls=_tls(args, info, notes, enabled=args.tls),
    )
    # (a connection is reported once closed, with every byte it sent)
    return Running(server, info, {"_journal": report_connection}, _closed, notes)


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
        type=_credentials("--user"),
        action="append",
        default=[],
        help="accept uploads from NAME with PASSWORD (repeatable; default: any credentials)",
    )
    _tls_arguments(parser, "serve HTTPS (pip and twine take the CA with --cert)")


def _pypi(args: argparse.Namespace) -> Running:
    info: dict[str, Any] = {"kind": "pypi"}
    notes: list[str] = []
    server = PyPIServer(
        host=args.host,
        port=args.port,
        directory=args.dir,
        users=dict(args.user) or None,
        journal_size=100,
        tls=_tls(args, info, notes, enabled=args.tls),
    )
    reports: dict[str, Callable[[Any], Report]] = {
        "_store.uploads": report_upload,
        "_store.downloads": report_download,
    }
    return Running(server, info, reports, notes=notes)


COMMANDS: list[Command] = [
    Command(
        "http",
        "an HTTP/1.1 server: files, WireMock mappings, proxy and record",
        _http_arguments,
        _http,
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


# -- the command -------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``understudy``, one subparser per :data:`COMMANDS` entry.

    Each subcommand's namespace holds ``make`` (its :attr:`Command.make`) and ``usage`` (its
    own parser, whose ``error()`` shows the subcommand's usage).
    """
    parser = argparse.ArgumentParser(
        prog="understudy",
        description="Run an understudy server until interrupted (Ctrl-C or SIGTERM).",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        sub = subparsers.add_parser(command.name, help=command.help, description=command.help)
        sub.add_argument(
            "--host",
            default="127.0.0.1",
            help="address to listen on (default: %(default)s; 'localhost' is IPv4 and IPv6)",
        )
        sub.add_argument(
            "--port",
            type=_port,
            default=0,
            help="port to listen on (default: 0, a free port the kernel chooses)",
        )
        sub.add_argument(
            "--json",
            action="store_true",
            help="print one JSON object per line: the start line (kind, host, port, url...), "
            "then one per request, message, connection, upload or download",
        )
        command.add_arguments(sub)
        sub.set_defaults(make=command.make, usage=sub)
    return parser


def _raise_stop(signum: int, frame: FrameType | None) -> NoReturn:
    raise _Stop(signum)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``understudy`` with ``argv`` (``sys.argv[1:]`` by default); return the exit status.

    Returns:
        0 after a clean stop on SIGINT or SIGTERM.

    Raises:
        SystemExit: 2 for wrong options, a busy port or a host it cannot listen on, after
            printing the subcommand's usage and the reason (naming the flag) to stderr.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    usage: argparse.ArgumentParser = args.usage
    out = sys.stdout
    try:
        running: Running = args.make(args)
    except (ConfigurationError, OSError) as error:
        usage.error(cli_wording(str(error)))
    server = running.server
    arrived: queue.SimpleQueue[tuple[Callable[[Any], Report], Journal[Any], Any]] = (
        queue.SimpleQueue()
    )
    for path, report in running.reports.items():
        *parents, name = path.split(".")
        owner = functools.reduce(getattr, parents, server)
        setattr(owner, name, _Tap(getattr(owner, name), report, arrived))
    failure: str | None = None
    previous = {
        signum: signal.signal(signum, _raise_stop) for signum in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        try:
            try:
                server.start()
            except OSError as error:
                failure = cli_wording(_cannot_listen(args, error))
            else:
                _announce(running, args, out)
                _follow(running, arrived, args.json, out)
        except _Stop:
            pass
        finally:
            for signum in previous:
                signal.signal(signum, signal.SIG_IGN)  # stopping is bounded: let it finish
        if failure is None:
            try:
                server.stop()
            except TimeoutError as error:
                sys.stderr.write(f"understudy {args.command}: {error}\n")
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if failure is not None:
        usage.error(failure)
    return 0


class _Tap(Journal[Any]):
    """A server's journal that also hands each entry to the command's main thread."""

    __slots__ = ("_arrived", "_report")

    def __init__(
        self,
        journal: Journal[Any],
        report: Callable[[Any], Report],
        arrived: queue.SimpleQueue[tuple[Callable[[Any], Report], Journal[Any], Any]],
    ) -> None:
        super().__init__(journal._noun, journal.size, unpack=journal._unpack)
        self._report = report
        self._arrived = arrived

    def append(self, entry: Any) -> int:
        # (queued first: the append wakes the main thread's wait, which then finds it queued)
        self._arrived.put((self._report, self, entry))  # (never blocks: the loop goes on)
        return super().append(entry)


def _announce(running: Running, args: argparse.Namespace, out: TextIO) -> None:
    server = running.server
    info = running.info
    info["host"], info["port"] = server.host, server.port
    if isinstance(server, HTTPServer):
        info["url"] = server.url
        if "admin_url" in info:
            info["admin_url"] = f"{server.url}/__admin"
            required = " (send Authorization: Bearer TOKEN)" if info["admin_token_required"] else ""
            running.notes.append(f"admin API at {info['admin_url']}{required}")
    else:
        scheme = info.pop("scheme", info["kind"])
        info["url"] = f"{scheme}://{_url_host(server.host)}:{server.port}"
    if isinstance(server, PyPIServer):
        info["index_url"] = server.index_url
        info["upload_url"] = server.upload_url
        running.notes.append(f"pip install --index-url {server.index_url} ...")
        running.notes.append(f"twine upload --repository-url {server.upload_url} ...")
    if args.json:
        out.write(json.dumps({"event": "listening", **info}) + "\n")
    else:
        out.write(f"understudy {args.command}: listening on {info['url']} (Ctrl-C to stop)\n")
        out.writelines(f"  {note}\n" for note in running.notes)
    out.flush()


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _follow(
    running: Running,
    arrived: queue.SimpleQueue[tuple[Callable[[Any], Report], Journal[Any], Any]],
    as_json: bool,
    out: TextIO,
) -> None:
    """Report what arrives, as it arrives, until a signal ends the wait (``_Stop``)."""
    ready = running.ready
    waiting: list[tuple[Callable[[Any], Report], Any]] = []

    def take() -> list[tuple[Callable[[Any], Report], Any]] | None:
        while True:
            try:
                report, journal, entry = arrived.get_nowait()
            except queue.Empty:
                break
            waiting.append((report, journal._read([entry])[0]))
        done = [item for item in waiting if ready is None or ready(item[1])]
        for item in done:
            waiting.remove(item)
        return done or None

    # (a connection is reported once closed: wait for the changes to its journal, tapped)
    tapped = getattr(running.server, "_journal", None) if ready is not None else None
    wait = Wait(take, lambda: WaitTimeout("nothing"))
    while True:
        if isinstance(tapped, Journal):
            try:
                done = tapped.wait(wait, _WAIT)
            except WaitTimeout:
                continue
        else:
            try:
                report, journal, entry = arrived.get(timeout=_WAIT)
            except queue.Empty:
                continue
            done = [(report, journal._read([entry])[0])]
        for report, entry in done:
            event, text = report(entry)
            out.write(json.dumps(event) + "\n" if as_json else text + "\n")
        out.flush()
