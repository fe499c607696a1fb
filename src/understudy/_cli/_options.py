"""What every subcommand shares: :class:`Command`, :class:`Running`, and the options each one
takes the same way (``--port``, ``--tls...``, ``USER:PASSWORD``)."""

from __future__ import annotations

import argparse
import queue
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .. import TLS, ConfigurationError, Server
from .._journal import Journal
from .._tls import authority
from ._reports import Report

__all__ = [
    "Command",
    "Complaints",
    "Running",
    "Source",
    "credentials",
    "port_number",
    "tls_arguments",
    "tls_settings",
]


@dataclass(frozen=True)
class Source:
    """A journal of a server that the command reports from, and how it reports an entry."""

    journal: Journal[Any]
    report: Callable[[Any], Report]
    #: An entry is reported once this holds of it (``None``: as soon as it is appended); asked
    #: again on each change to the journal. Entries not yet ready at the stop are reported then.
    ready: Callable[[Any], bool] | None = None


class Complaints:
    """Lines for stderr that a server hands to the command's main thread, which prints them.

    :meth:`put` is called on the server's threads (the loop's, a worker's): writing there would
    stall every connection while nobody reads stderr, and break them when it is closed.
    """

    def __init__(self) -> None:
        self._lines: queue.SimpleQueue[str] = queue.SimpleQueue()
        #: Called after each :meth:`put`: the command sets it to end its main thread's wait.
        self.wake: Callable[[], None] = lambda: None

    def put(self, line: str) -> None:
        """Queue ``line`` (no newline) for stderr; from any thread."""
        self._lines.put(line)
        self.wake()

    def take(self) -> list[str]:
        """The lines queued since the last call, oldest first."""
        lines = []
        while True:
            try:
                lines.append(self._lines.get_nowait())
            except queue.Empty:
                return lines


@dataclass
class Running:
    """A server the command made (not yet started), and how to report it."""

    server: Server
    info: dict[str, Any]
    sources: list[Source] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: What the server has to say on stderr (an HTTP request's near-miss report).
    complaints: Complaints = field(default_factory=Complaints)


@dataclass(frozen=True)
class Command:
    """One subcommand: its help, its options, and how to make its server."""

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    make: Callable[[argparse.Namespace], Running]


def port_number(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a port is a number, not {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(
            f"a port is 0 (a free one) to 65535, not {port}; give --port 0 for a free one"
        )
    return port


def credentials(flag: str) -> Callable[[str], tuple[str, str]]:
    def parse(text: str) -> tuple[str, str]:
        name, colon, password = text.partition(":")
        if not colon or not name:
            raise argparse.ArgumentTypeError(f"{flag} takes NAME:PASSWORD, not {text!r}")
        return name, password

    return parse


_TLS_VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}


def tls_arguments(parser: argparse.ArgumentParser, what: str) -> None:
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


def tls_settings(
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
