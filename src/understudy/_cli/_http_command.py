"""``understudy http``: an HTTP/1.1 server of files, WireMock mappings, a proxy and a recorder,
with WireMock's admin API guarded on a host other than loopback."""

from __future__ import annotations

import argparse
import os
from typing import Any

from .. import ConfigurationError, HTTPServer, Request
from .._core.versions import HTTP_VERSIONS
from .._http._report import NOTHING_HOSTED
from .._journal import Journal
from ._options import Complaints, Running, Source, tls_arguments, tls_settings
from ._reports import report_request
from ._wording import is_loopback

__all__ = ["ADMIN_TOKEN_VARIABLE", "http_arguments", "make_http"]

#: The environment variable ``--admin-token`` defaults to (a token on the command line is
#: visible to every user of the machine in ``ps``).
ADMIN_TOKEN_VARIABLE = "UNDERSTUDY_ADMIN_TOKEN"  # noqa: S105 - a name, not a secret


def http_arguments(parser: argparse.ArgumentParser) -> None:
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
    _version_arguments(parser)
    tls_arguments(parser, "serve HTTPS")


def _version_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--http-versions",
        metavar="VERSIONS",
        type=_http_versions,
        default="1.1",
        help="the HTTP versions offered, a comma-separated list of 1.1 and 2 (default: 1.1); "
        "with 2, one port serves prior-knowledge h2c (curl --http2-prior-knowledge) beside "
        "HTTP/1.1, and TLS offers h2 by ALPN",
    )


#: What the near-miss report of a request nothing answered says to do, in the command's terms.
_NOTHING_SERVED = (
    "Nothing is served: start the command with --root DIR, --mappings DIR or --proxy-to URL, "
    "or add a stub mapping with POST /__admin/mappings."
)


def _http_versions(text: str) -> list[str]:
    versions = [version.strip() for version in text.split(",")]
    if not set(versions) <= set(HTTP_VERSIONS):
        raise argparse.ArgumentTypeError(
            f"a comma-separated list of {' and '.join(HTTP_VERSIONS)} (1.1,2 for both, 2 for "
            f"HTTP/2 only), not {text!r}"
        )
    return versions


def make_http(args: argparse.Namespace) -> Running:
    """The server ``understudy http`` runs (not yet started).

    Raises:
        ConfigurationError: options that contradict each other, or an admin API that would
            answer a network without a token.
    """
    admin = not args.no_admin
    token = _admin_token(args, admin)
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
    complaints = Complaints()
    server = _CommandHTTPServer(
        complaints,
        host=args.host,
        port=args.port,
        mappings=args.mappings,
        admin=admin,
        admin_token=token,
        proxy_to=args.proxy_to,
        record=args.record,
        tls=tls_settings(args, info, notes, enabled=args.tls),
        http_versions=args.http_versions,
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
    # (a request is reported once answered: then its response is known)
    source = Source(server.journal, report_request, _answered)
    return Running(server, info, [source], notes=notes, complaints=complaints)


def _admin_token(args: argparse.Namespace, admin: bool) -> str | None:
    """The token the admin API asks for (``None``: none), refusing an unguarded network."""
    token: str | None = args.admin_token
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
    return token


def _answered(request: Request) -> bool:
    return request.response is not None


class _CommandHTTPServer(HTTPServer):
    """Hands what went wrong (an unmatched request's near-miss report, a handler's error) to
    the command as it happens, for stderr, instead of keeping it for a ``check()`` that the
    command never calls."""

    def __init__(self, complaints: Complaints, **options: Any) -> None:
        super().__init__(**options)
        self._complaints = complaints

    def _record_error(self, error: BaseException) -> None:
        text = str(error).replace(NOTHING_HOSTED, _NOTHING_SERVED)  # (in the command's terms)
        self._complaints.put(f"understudy http: {type(error).__name__}: {text}")

    @property
    def journal(self) -> Journal[Request]:
        """The journal of requests, which the command follows.

        (Read here, in the command's own subclass, until ``HTTPServer`` offers its journal to
        the package by a name of its own.)
        """
        return self._journal
