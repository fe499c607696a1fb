"""The ``understudy`` command: run a server out of process until SIGINT or SIGTERM.

Each subcommand is a :class:`Command`: how to add its options to argparse, how to make the
server from them, and what to print while it runs. Adding one (``understudy pypi``, ``--tls``)
is a function and a line in :data:`COMMANDS`.

On start the command prints where it listens (``--json``: one JSON line, flushed, for a script
that starts it); SIGINT and SIGTERM stop the server and exit 0; a busy port exits 2 with a
message saying so.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import FrameType
from typing import Any, NoReturn, TextIO

from ._errors import AddressInUse, ConfigurationError
from ._http._server import HTTPServer
from ._server import Server
from ._smtp import SMTPMessage, SMTPServer
from ._sockets import TCPServer
from ._syslog import SyslogMessage, SyslogServer
from ._tls import authority
from .fakes import PyPIServer

__all__ = ["COMMANDS", "Command", "main"]

#: A wait in the main thread lasts at most this long before it is begun again (seconds); a
#: signal ends it at once.
_WAIT: float = 3600.0


class _Stop(Exception):
    """Raised in the main thread by the SIGINT/SIGTERM handler."""


@dataclass
class Running:
    """A server the command started, and how to report it."""

    server: Server
    info: dict[str, Any]
    #: Runs in the main thread until interrupted by ``_Stop`` (printing what arrives).
    watch: Callable[[TextIO], None] | None = None
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Command:
    """One subcommand: its help, its options, and how to make its server."""

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    make: Callable[[argparse.Namespace, TextIO], Running]


# -- http --------------------------------------------------------------------------------------


def _http_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", metavar="DIR", help="serve the files under DIR at /")
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
    _tls_argument(parser, "serve HTTPS")


def _tls_argument(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--tls",
        action="store_true",
        help=f"{what} with a certificate from a test CA made for this run; its PEM file is "
        "printed (ca_bundle) for clients to trust, and removed on exit",
    )


def _tls_info(running: Running, tls: bool) -> None:
    """Tell clients which CA to trust (the file lives as long as the command)."""
    if tls:
        running.info["ca_bundle"] = authority().ca_bundle()
        running.notes.append(f"trust the test CA in {running.info['ca_bundle']}")


def _http(args: argparse.Namespace, out: TextIO) -> Running:
    if args.record is not None and args.proxy_to is None:
        raise ConfigurationError("--record writes what the upstream answers: give --proxy-to too")
    if args.root is None and args.generated_fields != "all":
        raise ConfigurationError("--generated-fields applies to the files of --root: give it too")
    server = _CommandHTTPServer(
        host=args.host,
        port=args.port,
        root=args.root,
        generated_fields=args.generated_fields,
        mappings=args.mappings,
        admin=not args.no_admin,
        proxy_to=args.proxy_to,
        record=args.record,
        tls=args.tls or None,
    )
    running = Running(server, {"kind": "http"})
    _tls_info(running, args.tls)
    return running


class _CommandHTTPServer(HTTPServer):
    """Prints what went wrong (an unmatched request's near-miss report, a handler's error) to
    stderr as it happens, instead of keeping it for a ``check()`` that the command never calls."""

    def record_error(self, error: BaseException) -> None:
        sys.stderr.write(f"understudy http: {type(error).__name__}: {error}\n")
        sys.stderr.flush()


def _http_info(running: Running) -> None:
    server = running.server
    assert isinstance(server, HTTPServer)
    running.info["url"] = server.url
    if server._admin() is not None:
        running.notes.append(f"admin API at {server.url}/__admin")


# -- smtp --------------------------------------------------------------------------------------


def _smtp_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--hostname",
        default="understudy.invalid",
        help="the name the server gives in its greeting (default: %(default)s)",
    )
    _tls_argument(parser, "speak implicit TLS (SMTPS, RFC 8314)")
    parser.add_argument(
        "--starttls",
        action="store_true",
        help="offer STARTTLS (RFC 3207), with the same test CA as --tls",
    )


def _smtp(args: argparse.Namespace, out: TextIO) -> Running:
    lock = threading.Lock()

    def show(message: SMTPMessage) -> None:
        text = format_message(message)
        with lock:
            out.write(text)
            out.flush()

    server = SMTPServer(
        host=args.host,
        port=args.port,
        hostname=args.hostname,
        handler=show,
        journal_size=100,
        tls=args.tls or None,
        starttls=args.starttls,
    )
    running = Running(server, {"kind": "smtps" if args.tls else "smtp"})
    _tls_info(running, args.tls or args.starttls)
    return running


def format_message(message: SMTPMessage, *, body_lines: int = 10) -> str:
    """A message as the command prints it: envelope, header fields, the start of the body."""
    lines = [
        "---------- MESSAGE FOLLOWS ----------",
        f"mail from: {message.mail_from}",
        f"rcpt to: {', '.join(message.rcpt_tos)}",
    ]
    if message.peer is not None:
        lines.append(f"peer: {message.peer[0]}:{message.peer[1]}")
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
    return "\n".join(lines) + "\n"


# -- syslog ------------------------------------------------------------------------------------


def _syslog_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--transport",
        choices=("udp", "tcp"),
        default="udp",
        help="UDP datagrams (RFC 5426) or TCP streams (RFC 6587) (default: %(default)s)",
    )


def _syslog(args: argparse.Namespace, out: TextIO) -> Running:
    server = SyslogServer(transport=args.transport, host=args.host, port=args.port)

    def watch(out: TextIO) -> None:
        printed = 0
        while True:
            try:
                messages = server.wait_for_messages(printed + 1, timeout=_WAIT)
            except TimeoutError:
                continue
            out.writelines(format_syslog(message) + "\n" for message in messages[printed:])
            out.flush()
            printed = len(messages)

    return Running(server, {"kind": "syslog", "transport": args.transport}, watch=watch)


def format_syslog(message: SyslogMessage) -> str:
    """One line per message: priority, timestamp, host, app, the text."""
    if message.error is not None:
        return f"(not syslog: {message.error}) {message.raw!r}"
    parts = [
        f"<{message.facility}.{message.severity}>",
        message.timestamp.isoformat() if message.timestamp is not None else "-",
        message.hostname or "-",
        f"{message.app_name or '-'}[{message.procid or '-'}]:",
        message.msg or "",
    ]
    return " ".join(parts)


# -- tcp ---------------------------------------------------------------------------------------


def _tcp_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--echo", action="store_true", help="send every byte received straight back"
    )


def _tcp(args: argparse.Namespace, out: TextIO) -> Running:
    server = TCPServer(host=args.host, port=args.port, echo=args.echo, journal_size=100)
    return Running(server, {"kind": "tcp", "echo": args.echo})


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
        action="append",
        default=[],
        help="accept uploads from NAME with PASSWORD (repeatable; default: any credentials)",
    )
    _tls_argument(parser, "serve HTTPS (pip and twine take the CA with --cert)")


def _pypi(args: argparse.Namespace, out: TextIO) -> Running:
    users = {}
    for given in args.user:
        name, colon, password = given.partition(":")
        if not colon or not name:
            raise ConfigurationError(f"--user takes NAME:PASSWORD, not {given!r}")
        users[name] = password
    server = PyPIServer(
        host=args.host,
        port=args.port,
        directory=args.dir,
        users=users or None,
        tls=args.tls or None,
    )
    running = Running(server, {"kind": "pypi"})
    _tls_info(running, args.tls)
    return running


def _pypi_info(running: Running) -> None:
    server = running.server
    assert isinstance(server, PyPIServer)
    running.info["index_url"] = server.index_url
    running.info["upload_url"] = server.upload_url
    running.notes.append(f"pip install --index-url {server.index_url} ...")
    running.notes.append(f"twine upload --repository-url {server.upload_url} ...")


COMMANDS: list[Command] = [
    Command(
        "http",
        "an HTTP/1.1 server: files, WireMock mappings, proxy and record",
        _http_arguments,
        _http,
    ),
    Command("smtp", "an SMTP server that prints each message it receives", _smtp_arguments, _smtp),
    Command("syslog", "a syslog receiver that prints each message", _syslog_arguments, _syslog),
    Command("tcp", "a TCP server (--echo: an echo server)", _tcp_arguments, _tcp),
    Command(
        "pypi", "a fake PyPI: pip installs from it, twine uploads to it", _pypi_arguments, _pypi
    ),
]


# -- the command -------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``understudy``, one subparser per :data:`COMMANDS` entry."""
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
            type=int,
            default=0,
            help="port to listen on (default: 0, a free port the kernel chooses)",
        )
        sub.add_argument(
            "--json",
            action="store_true",
            help="print the start line as one JSON object (kind, host, port, url...)",
        )
        command.add_arguments(sub)
        sub.set_defaults(make=command.make)
    return parser


def _raise_stop(signum: int, frame: FrameType | None) -> NoReturn:
    raise _Stop(signum)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``understudy`` with ``argv`` (``sys.argv[1:]`` by default); return the exit status.

    Returns:
        0 after a clean stop on SIGINT or SIGTERM; 2 for a busy port or wrong options.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    out = sys.stdout
    try:
        running: Running = args.make(args, out)
    except (ConfigurationError, OSError) as error:
        parser.error(str(error))
    server = running.server
    previous = {
        signum: signal.signal(signum, _raise_stop) for signum in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        try:
            server.start()
        except AddressInUse as error:
            sys.stderr.write(
                f"understudy {args.command}: {error}\nChoose another --port, or 0 for a free one.\n"
            )
            return 2
        _announce(running, args, out)
        _wait(running, out)
    except _Stop:
        pass
    finally:
        for signum in previous:
            signal.signal(signum, signal.SIG_IGN)  # stopping is bounded: let it finish
    try:
        server.stop()
    except TimeoutError as error:
        sys.stderr.write(f"understudy {args.command}: {error}\n")
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 0


def _announce(running: Running, args: argparse.Namespace, out: TextIO) -> None:
    server = running.server
    info = running.info
    info["host"], info["port"] = server.host, server.port
    if isinstance(server, PyPIServer):
        running.info["url"] = server.url
        _pypi_info(running)
    elif isinstance(server, HTTPServer):
        _http_info(running)
    else:
        info["url"] = f"{info['kind']}://{_url_host(server.host)}:{server.port}"
    if args.json:
        out.write(json.dumps(info) + "\n")
    else:
        out.write(f"understudy {args.command}: listening on {info['url']} (Ctrl-C to stop)\n")
        out.writelines(f"  {note}\n" for note in running.notes)
    out.flush()


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _wait(running: Running, out: TextIO) -> None:
    if running.watch is not None:
        running.watch(out)
        return
    forever = threading.Event()
    while not forever.wait(_WAIT):
        pass
