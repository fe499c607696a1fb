"""``understudy``'s parser and main loop: make the server, start it, report, stop on a signal."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
from collections.abc import Iterator, Sequence
from types import FrameType
from typing import TextIO

from .. import ConfigurationError, HTTPServer
from ..fakes import PyPIServer
from ._commands import COMMANDS
from ._follow import Follower
from ._options import Running, port_number
from ._reports import Report
from ._wording import cannot_listen, cli_wording

__all__ = ["build_parser", "main"]

#: A wait in the main thread lasts at most this long before it is begun again (seconds); a
#: signal ends it at once.
_WAIT: float = 3600.0

#: The signals that stop the command.
_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class _StopOnSignal:
    """The SIGINT/SIGTERM handler: notes the signal and wakes the main thread from its wait.

    It raises nothing: a report being written when the signal comes (a reader that reads
    stdout only once it has stopped the command) is written whole, and the command stops once
    it is.
    """

    def __init__(self, follower: Follower) -> None:
        self._follower = follower
        self.requested = False

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.requested = True
        self._follower.wake()


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
            type=port_number,
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
    try:
        running: Running = args.make(args)
    except (ConfigurationError, OSError) as error:
        usage.error(cli_wording(str(error)))
    follower = Follower(running.sources)
    follower.start()
    stop = _StopOnSignal(follower)
    running.complaints.wake = follower.wake
    previous = {signum: signal.signal(signum, stop) for signum in _SIGNALS}
    try:
        failure = _run(running, follower, stop, args)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        follower.stop()
    if failure is not None:
        usage.error(failure)
    return 0


def _run(
    running: Running, follower: Follower, stop: _StopOnSignal, args: argparse.Namespace
) -> str | None:
    """Start, report until a signal, stop, and report what was left; what kept it from
    listening (worded for the flags), or ``None``."""
    server, out = running.server, sys.stdout
    try:
        try:
            server.start()
        except OSError as error:
            return cli_wording(cannot_listen(args, error))
        _announce(running, args, out)
        while not stop.requested:
            _write(follower.take(_WAIT), args.json, out)
            _complain(running.complaints.take())
    finally:
        for signum in _SIGNALS:
            signal.signal(signum, signal.SIG_IGN)  # stopping is bounded: let it finish
    try:
        server.stop()
    except TimeoutError as error:
        running.complaints.put(f"understudy {args.command}: {error}")
    _write(follower.rest(), args.json, out)
    _complain(running.complaints.take())
    return None


def _write(reports: list[Report], as_json: bool, out: TextIO) -> None:
    if reports:
        _print([json.dumps(event) if as_json else text for event, text in reports], out)


def _print(lines: list[str], out: TextIO) -> None:
    """Write ``lines`` to ``out`` whole, and flush; nothing if its reader has gone."""
    try:
        with _signals_held():
            out.writelines(line + "\n" for line in lines)
            out.flush()
    except BrokenPipeError:
        _discard(out)


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Keep SIGINT and SIGTERM off the main thread while it writes reports.

    A signal that interrupts a write to a pipe cuts it short (write(2)), and an unbuffered
    stdout (``python -u``, ``PYTHONUNBUFFERED``) drops what was left of it: a report larger
    than the pipe holds would lose its end. Held, the signal goes to another thread of the
    process, or waits; its handler runs in the main thread once the write is done.
    """
    held = signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


def _complain(lines: list[str]) -> None:
    """Write ``lines`` to stderr; nothing if it is closed (``2>&-``) or its reader has gone."""
    err = sys.stderr
    if lines and err is not None:
        try:
            err.writelines(line + "\n" for line in lines)
            err.flush()
        except BrokenPipeError:
            _discard(err)


def _discard(out: TextIO) -> None:
    """The reader of ``out`` has gone (``| head -1``, a harness that closed its pipe, before
    or after the start line): drop what is written from now on, and go on serving; the server
    is what was asked for, the reports are a side line. (Python's advice on SIGPIPE: the file
    descriptor is pointed at the null device, so the flush at exit does not raise either.)"""
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, out.fileno())
    finally:
        os.close(null)


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
        _print([json.dumps({"event": "listening", **info})], out)
    else:
        start = f"understudy {args.command}: listening on {info['url']} (Ctrl-C to stop)"
        _print([start, *(f"  {note}" for note in running.notes)], out)


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
