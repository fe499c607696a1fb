"""HTTPServer: an HTTP/1.1 server hosting a fixed response, a handler, a WSGI or an ASGI app."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from collections import deque
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, TypeGuard, Unpack

from .._core.matching import Difference, Matcher
from .._drain import StalledReaders, finish_connections
from .._errors import (
    ConfigurationError,
    ExpectationExceeded,
    UnexpectedRequest,
    UnmetExpectation,
)
from .._journal import Journal
from .._keywords import checked_keywords
from .._runtime import Runtime
from .._server import Server, describe_handler
from .._tls import resolve_tls
from ._connection import HTTPConnection
from ._criteria import RequestCriteria
from ._exchange import Exchange
from ._expect import (
    Expectation,
    Expectations,
    differences,
    make_shape,
    nearness,
    report_extra,
    unmatched_report,
)
from ._hosts import CannedHost, Handler, HandlerHost, Host, HostOfBehaviour, NoHost
from ._request import PackedRequest, Request, unpack_request
from ._response import Response

# What only some servers use (WireMock stubs and admin API, record and replay, directories,
# WSGI and ASGI apps) is imported when a server first uses it: `understudy.HTTPServer` loads
# what a server answering a Response or a handler needs, and no more (issue 20).
if TYPE_CHECKING:
    from .._conditions import Conditions
    from .._tls import TLS
    from ._admin import AdminHost
    from ._asgi import ASGIApp, ASGIHost
    from ._wiremock import Stubs
    from ._wsgi import WSGIApp

__all__ = ["HTTPServer"]

_DEFAULT_MAX_HEADER_SIZE = 64 * 1024
_DEFAULT_MAX_BODY_SIZE = 64 * 1024 * 1024
_DEFAULT_HEADER_TIMEOUT = 30.0
_DEFAULT_IDLE_TIMEOUT = 300.0
_DEFAULT_SEND_TIMEOUT = 30.0
#: Seconds between looks, while stop() waits for handlers, for clients that stopped reading.
_LOOK_INTERVAL = 0.05


class HTTPServer(Server):
    """An HTTP/1.1 server (RFC 9112) that records every request and answers as the test says.

    Host at most one of ``response``, ``handler``, ``wsgi`` and ``asgi``; with none, every request
    gets a 404 saying that nothing is configured.

    Args:
        host: address to listen on (see :class:`understudy.Server`): ``"127.0.0.1"`` by default.
        port: port to listen on; 0 (the default) lets the kernel choose.
        response: a :class:`Response` sent to every request, from the loop, with no user code.
        handler: ``handler(request) -> reply``, where reply is a :class:`Response`, ``str``,
            ``bytes``, a JSON-able ``dict``/``list``, ``(status, body)``, or a
            :class:`~understudy.Fault` to fail the request with. A plain function runs
            in the worker pool; an ``async def`` runs on the server's loop.
        wsgi: a WSGI application (PEP 3333), run in the worker pool.
        asgi: an ASGI 3 application (``http`` and ``lifespan`` scopes), run on the loop; its
            lifespan startup runs in ``start()`` and its shutdown in ``stop()``.
        root: a directory to serve at ``/``; shorthand for ``serve_directory("/", root)``.
        generated_fields: with ``root``, which fields the server generates for a file that does
            not declare them: ``"all"`` (the default: Content-Type by suffix, ETag,
            Last-Modified, Accept-Ranges), ``"none"`` (only what the file declares, plus the
            framing and Date), or some of those names; see :meth:`serve_directory`.
        content_coding: with ``root``, code every file in this content coding (``"gzip"``,
            ``"deflate"``, ``"br"``, ``"zstd"``) whatever the request says; see
            :meth:`serve_directory`.
        content_codings: with ``root``, code each file in the one of these codings the
            request's Accept-Encoding prefers (RFC 9110 §12.5.3), or not at all; see
            :meth:`serve_directory`. (A :class:`Response` takes the same two arguments.)
        journal_size: keep only the last N requests (``None``: all; ``0``: none).
        unmatched_status: the status code for a request that no expectation, mounted directory
            or host answers (404 by default); its body is the near-miss report, and the same
            report is raised as :class:`~understudy.UnexpectedRequest` by ``check()``.
        allow_unmatched: ``True`` for a negative test, where requests nothing answers are
            expected: each still gets the ``unmatched_status`` response with the near-miss
            report and stays in the journal (:attr:`requests`), but ``check()``, leaving the
            ``with`` block and fixture teardown no longer raise
            :class:`~understudy.UnexpectedRequest` for it. ``False`` (the default): strict. A
            request beyond an expectation's own limit (``times``, ``once``) still raises
            :class:`~understudy.ExpectationExceeded`: that limit was the test's.
        max_header_size: bytes of request line plus header section accepted; more gets 431.
        max_body_size: bytes of request body accepted; more gets 413.
        header_timeout: seconds from a request's first byte to the end of its header section
            (30.0 by default; ``None``: no limit); a client slower than that (a "slowloris")
            gets 408 Request Timeout (RFC 9110 §15.5.9), recorded with the reason, and the
            connection is closed.
        idle_timeout: seconds a connection may go without a byte while the server waits for
            the client (300.0 by default; ``None``: no limit): an idle keep-alive connection is
            then closed (RFC 9112 §9.3), and a request whose body stalled gets 408, recorded.
        send_timeout: seconds a response may wait on a client that does not read it (30.0 by
            default; ``None``: no limit); the connection is then aborted, and the request is
            recorded again with the reason. Over TLS it counts from the response's second
            piece: asyncio's TLS transport takes a piece whole, however large, without pausing.
        tls: serve HTTPS (RFC 9110 §4.2.2): ``True``, or :class:`~understudy.TLS` settings
            (client certificates, a deliberately bad certificate, protocol versions). The
            certificate comes from the test CA of :mod:`understudy.tls`; :attr:`url` starts
            with ``https://``; ALPN offers ``http/1.1``; each request records ``.tls``.
        mappings: a WireMock mapping file, or a directory of them (``mappings/*.json``, with
            ``__files/`` beside); shorthand for :meth:`load_mappings`.
        admin: answer WireMock's admin API under ``/__admin`` (off by default); its requests
            are not journaled.
        admin_token: with ``admin``, a secret the admin API asks of every request: in its
            Authorization field as ``Bearer <token>`` (RFC 6750 §2.1; the ``wiremock``
            package sends it with ``Config.headers["Authorization"] = "Bearer <token>"``) or
            ``Token <token>`` (WireMock's own clients' ``TokenAuthenticator``). A request
            without it gets 401 with ``WWW-Authenticate: Bearer`` (RFC 9110 §11.6.1) and is
            journaled like any request the server answered. ``None`` (the default): no token.
        proxy_to: an upstream base URL (``"http://127.0.0.1:8080"``): requests that no
            expectation or mapping answers are forwarded there, with ``http.client``.
        record: with ``proxy_to``, a directory to write one WireMock mapping per distinct
            request into (``DIR/mappings``, large bodies in ``DIR/__files``), which
            ``mappings=DIR`` replays offline.
        conditions: network conditions on every connection (:class:`understudy.Conditions`).
        seed: seeds the server's random choices (see :class:`understudy.Server`).

    Raises:
        ConfigurationError: two hosts given, a host that is not callable, a bad limit, a
            ``tls`` that is neither ``True`` nor ``TLS(...)``, or ``generated_fields`` without
            ``root`` or naming a field the server does not generate, ``content_coding`` or
            ``content_codings`` without ``root`` or naming a coding that is unknown or whose
            package is not installed, or an ``admin_token``
            that is not a non-empty str of visible characters, or given without ``admin``.

    An exception raised by a handler or app gets the client a 500 and is re-raised in the test by
    :meth:`check` and on leaving the ``with`` block.
    """

    kind: ClassVar[str] = "HTTP server"
    _alpn_protocols: ClassVar[tuple[str, ...]] = ("http/1.1",)

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        response: Response | None = None,
        handler: Handler | None = None,
        wsgi: WSGIApp | None = None,
        asgi: ASGIApp | None = None,
        root: str | os.PathLike[str] | None = None,
        generated_fields: str | Collection[str] = "all",
        content_coding: str | None = None,
        content_codings: str | Sequence[str] | None = None,
        journal_size: int | None = None,
        unmatched_status: int = 404,
        allow_unmatched: bool = False,
        max_header_size: int = _DEFAULT_MAX_HEADER_SIZE,
        max_body_size: int = _DEFAULT_MAX_BODY_SIZE,
        header_timeout: float | None = _DEFAULT_HEADER_TIMEOUT,
        idle_timeout: float | None = _DEFAULT_IDLE_TIMEOUT,
        send_timeout: float | None = _DEFAULT_SEND_TIMEOUT,
        tls: bool | TLS | None = None,
        mappings: str | os.PathLike[str] | None = None,
        admin: bool = False,
        admin_token: str | None = None,
        proxy_to: str | None = None,
        record: str | os.PathLike[str] | None = None,
        conditions: Conditions | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__(host=host, port=port, conditions=conditions, seed=seed)
        self._tls = resolve_tls(tls, self.kind)
        if self._tls is not None:
            self._ssl_context()  # the CA and certificate are made here, not on the loop
        if record is not None and proxy_to is None:
            raise ConfigurationError("record= writes what the upstream answers: give proxy_to= too")
        directory_options: tuple[tuple[str, object, object], ...] = (
            ("generated_fields", generated_fields, "all"),
            ("content_coding", content_coding, None),
            ("content_codings", content_codings, None),
        )
        for name, given, default in directory_options:
            if root is None and given != default:
                raise ConfigurationError(
                    f"{name}= applies to the files of root=: give root= too, or pass it to "
                    f"serve_directory(prefix, root, {name}=...); a Response takes "
                    "content_coding= and content_codings= too"
                )
        self._host_of_behaviour: HostOfBehaviour = _choose_host(response, handler, wsgi, asgi)
        if proxy_to is not None:
            if not isinstance(self._host_of_behaviour, NoHost):
                raise ConfigurationError(
                    "proxy_to= answers what no expectation answers: give it without response=, "
                    "handler=, wsgi= or asgi="
                )
            from ._record import Recorder  # noqa: PLC0415 - loaded when first used

            self._host_of_behaviour = HandlerHost(Recorder(proxy_to, record))
        for name, value in (("max_header_size", max_header_size), ("max_body_size", max_body_size)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigurationError(f"{name} must be a positive int (bytes), not {value!r}")
        self.max_header_size = max_header_size
        self.max_body_size = max_body_size
        timeouts = {
            "header_timeout": header_timeout,
            "idle_timeout": idle_timeout,
            "send_timeout": send_timeout,
        }
        for name, seconds in timeouts.items():
            if seconds is not None and (
                not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds <= 0
            ):
                raise ConfigurationError(
                    f"{name} must be a positive number of seconds or None (no limit), "
                    f"not {seconds!r}"
                )
        self.header_timeout = header_timeout
        self.idle_timeout = idle_timeout
        self.send_timeout = send_timeout
        self._journal: Journal[Request] = Journal("request", journal_size, unpack=unpack_request)
        #: The open connections (a dict as an ordered set: an empty one is a third the size).
        self.connections: dict[HTTPConnection, None] = {}
        self._listeners: list[asyncio.AbstractServer] = []
        self._inflight: dict[asyncio.Future[Any], str | Callable[[], str]] = {}
        self._mounts: list[tuple[str, Host]] = []
        # (No callback to the server in it, nor in anything else it holds: a server dropped by
        # the test is freed at once, with its journal, not when the cyclic GC comes round.)
        self._expectations = Expectations()
        if not isinstance(unmatched_status, int) or not 400 <= unmatched_status <= 599:
            raise ConfigurationError(
                f"unmatched_status must be an error status code (400-599), not {unmatched_status!r}"
            )
        self.unmatched_status = unmatched_status
        if not isinstance(allow_unmatched, bool):
            raise ConfigurationError(
                f"allow_unmatched must be True or False, not {allow_unmatched!r}"
            )
        self._expectations.allow_unmatched = allow_unmatched
        if admin_token is not None:
            if not admin:
                raise ConfigurationError(
                    "admin_token= guards the admin API: give admin=True too, or leave it out"
                )
            if (
                not isinstance(admin_token, str)
                or not admin_token
                or not all(" " < c <= "~" for c in admin_token)
            ):
                raise ConfigurationError(
                    "admin_token must be a non-empty str of visible ASCII characters (it travels "
                    f"in an Authorization field), not {admin_token!r}"
                )
        #: The WireMock stub mappings (and the admin API), made when first needed.
        self._stubs_made = (
            _stubs(self._expectations, admin=admin, token=admin_token) if admin else None
        )
        #: The host every request goes to when nothing routes (see _routing_changed).
        self._direct: Host | None = None
        self._routing_changed()
        # (An idle server stays small: up to 29 attributes, CPython keeps them in a compact
        # array shared with the class's other instances instead of a dict of their own, which
        # costs 1.5 KiB more. tests/test_server.py counts them.)
        if root is not None:
            self.serve_directory(
                "/",
                root,
                generated_fields=generated_fields,
                content_coding=content_coding,
                content_codings=content_codings,
            )
        if mappings is not None:
            self.load_mappings(mappings)

    # -- what the test reads -----------------------------------------------------------------

    @property
    def scheme(self) -> str:
        """``"https"`` when served with ``tls=``, else ``"http"`` (RFC 9110 §4.2)."""
        return "http" if self._tls is None else "https"

    @property
    def url(self) -> str:
        """``http://host:port`` (``https://`` with ``tls=``), without a trailing slash (IPv6
        hosts in brackets)."""
        return f"{self.scheme}://{self._url_host()}:{self.port}"

    @property
    def requests(self) -> list[Request]:
        """The requests received so far (a snapshot list, oldest first), malformed ones included.

        Each read makes the list's :class:`Request` objects afresh from what the journal keeps
        (they compare equal to those of an earlier read, but are not the same objects).
        """
        return self._journal.snapshot()

    def wait_for_requests(
        self,
        count: int = 1,
        *,
        match: Callable[[Request], bool] | None = None,
        timeout: float = 5.0,
    ) -> list[Request]:
        """Block until ``count`` requests (satisfying ``match``, if given) have been received.

        Args:
            count: how many to wait for.
            match: a predicate on :class:`Request`; only requests it accepts count.
            timeout: seconds to wait.

        Returns:
            The first ``count`` such requests, oldest first.

        Raises:
            WaitTimeout: after ``timeout`` seconds; the message lists what did arrive.
        """
        __tracebackhide__ = True
        return self._journal.wait_for(count, match=match, timeout=timeout)

    async def wait_for_requests_async(
        self,
        count: int = 1,
        *,
        match: Callable[[Request], bool] | None = None,
        timeout: float = 5.0,
    ) -> list[Request]:
        """The awaitable twin of :meth:`wait_for_requests`, for async tests."""
        __tracebackhide__ = True
        return await self._journal.wait_for_async(count, match=match, timeout=timeout)

    def clear(self) -> None:
        """Forget the requests received so far."""
        self._journal.clear()
        self._expectations.unmatched = None

    def load_mappings(self, path: str | os.PathLike[str]) -> None:
        """Answer as the WireMock stub mappings in ``path`` say; each becomes an expectation.

        Args:
            path: a mapping file (one mapping, or ``{"mappings": [...]}``), or a directory: its
                ``mappings/`` subdirectory if it has one, else the directory itself, is read for
                ``*.json``; ``bodyFileName`` is read from the ``__files/`` directory inside or
                beside it.

        Raises:
            ConfigurationError: a file that is not JSON, or a field that is unknown, not
                supported, or of the wrong type (the message names the file and the field).
        """
        try:
            self._stubs.load(path)
        finally:
            self._routing_changed()  # (the files before a bad one are loaded: they answer)

    @checked_keywords
    def serve_directory(
        self,
        prefix: str,
        root: str | os.PathLike[str],
        *,
        in_file_headers: bool = False,
        sidecar_headers: bool = True,
        suffix_headers: Mapping[str, Mapping[str, str]] | None = None,
        index: str | None = None,
        generated_fields: str | Collection[str] = "all",
        content_coding: str | None = None,
        content_codings: str | Sequence[str] | None = None,
    ) -> None:
        """Serve the files under ``root`` at the URL path ``prefix``.

        The options (keyword-only) are ``in_file_headers``, ``sidecar_headers``,
        ``suffix_headers``, ``index``, ``generated_fields`` (``"none"``: a file is sent with
        only the fields it declares, no generated validators), ``content_coding`` (every file
        coded so, ``"gzip"``...) and ``content_codings`` (each file coded as the request's
        Accept-Encoding prefers, among these; RFC 9110 §12.5.3); see
        :class:`understudy._http._directory.DirectoryHost`. Requests whose
        path starts with ``prefix`` are answered from the directory (404 for a missing file);
        a later call with a longer prefix takes precedence over a shorter one.

        Raises:
            ConfigurationError: ``prefix`` does not start with ``/``, ``root`` is not a
                directory, or an option is unknown (naming the closest one) or malformed.
        """
        if not isinstance(prefix, str) or not prefix.startswith("/"):
            raise ConfigurationError(f"prefix must be a URL path starting with '/', not {prefix!r}")
        from ._directory import DirectoryHost  # noqa: PLC0415 - loaded when first used

        host = DirectoryHost(
            prefix,
            root,
            in_file_headers=in_file_headers,
            sidecar_headers=sidecar_headers,
            suffix_headers=suffix_headers,
            index=index,
            generated_fields=generated_fields,
            content_coding=content_coding,
            content_codings=content_codings,
        )
        self._mounts.append((prefix, host))
        self._mounts.sort(key=lambda mount: len(mount[0]), reverse=True)
        self._routing_changed()

    # -- expectations ------------------------------------------------------------------------

    def expect(
        self,
        method: str | None = None,
        path: Matcher | None = None,
        **criteria: Unpack[RequestCriteria],
    ) -> Expectation:
        """Expect a request of this shape; answer it as the returned expectation says.

        Every criterion left out accepts anything. Matchers are an exact ``str``, a compiled
        ``re.Pattern`` (which must match the whole value), or a predicate.

        Args:
            method: the method, case-insensitive (``"GET"``).
            path: the percent-decoded path, without the query (``"/users/7"``).
            **criteria: keyword-only: ``query``, ``headers``, ``body``, ``json``, ``form`` and
                ``match``, as :class:`~understudy.RequestCriteria` describes them.

        Returns:
            The :class:`~understudy.Expectation`: call ``respond(...)``/``respond_with(...)``
            on it (200 with no body until then). See its docs for sequences and verification,
            and the module docs of precedence: the most recently added matching expectation
            answers.

        Raises:
            ConfigurationError: an argument of the wrong type, saying what is accepted, or a
                criterion that does not exist (naming the closest one).
        """
        shape = make_shape(method, path, criteria, what="expect()")
        expectation = self._expectations.add(shape, ordered=False)
        self._routing_changed()
        return expectation

    def expect_in_order(
        self,
        method: str | None = None,
        path: Matcher | None = None,
        **criteria: Unpack[RequestCriteria],
    ) -> Expectation:
        """Like :meth:`expect`, for a client whose call order matters.

        Expectations added with ``expect_in_order`` answer one after the other, in the order
        they were added, each once unless given ``times(n)``; a request that fits a later one
        before the earlier ones are used is unexpected. Each must be used up by the end of the
        test, or ``check()`` raises :class:`~understudy.UnmetExpectation`.
        """
        shape = make_shape(method, path, criteria, what="expect_in_order()")
        expectation = self._expectations.add(shape, ordered=True)
        self._routing_changed()
        return expectation

    def assert_requested(
        self,
        method: str | None = None,
        path: Matcher | None = None,
        *,
        times: int | None = None,
        **criteria: Unpack[RequestCriteria],
    ) -> list[Request]:
        """Assert the journal holds requests of this shape.

        Args:
            method: the method, case-insensitive, as for :meth:`expect`.
            path: the percent-decoded path, as for :meth:`expect`.
            times: how many exactly; ``None`` (the default) means at least one.
            **criteria: keyword-only, as :class:`~understudy.RequestCriteria` describes them.

        Returns:
            The matching requests, oldest first.

        Raises:
            UnmetExpectation: fewer came than asked for (none, with ``times=None``); the
                message lists the nearest requests received and how each differed.
            ExpectationExceeded: more than ``times`` came; the message says the counts
                ("expected at most 1, got 3") and lists the extra requests.
            ConfigurationError: a malformed or unknown criterion, as for :meth:`expect`.
        """
        __tracebackhide__ = True
        shape = make_shape(method, path, criteria, what="assert_requested()", takes=("times",))
        received = [r for r in self._journal.snapshot() if r.error is None]
        found = [r for r in received if not differences(shape, r)]
        if (times is None and found) or len(found) == times:
            return found
        if times is not None and len(found) > times:
            extra = found[times:]
            summary = (
                f"{shape.describe()} was requested too often: expected at most {times}, got "
                f"{len(found)}; the extra request{'s' * (len(extra) != 1)}:"
            )
            raise ExpectationExceeded("\n".join([summary, *report_extra(extra)]))
        wanted = "at least once" if times is None else f"{times} time{'s' * (times != 1)}"
        summary = (
            f"expected {shape.describe()} to be requested {wanted}; "
            f"it was requested {len(found)} time{'s' * (len(found) != 1)}"
        )
        lines = [summary]
        lines += _nearest_requests(shape, received)
        raise UnmetExpectation("\n".join(lines))

    def _take_failures(self) -> list[BaseException]:
        failures = super()._take_failures()
        unmet = self._expectations.unmet()
        if unmet:
            received = [r for r in self._journal.snapshot() if r.error is None]
            lines = [f"{len(unmet)} expectation{'s' * (len(unmet) != 1)} of {self!r} not met:"]
            for number, expectation in enumerate(unmet, 1):
                lines.append(f"  {number}. {expectation.describe()}")
                lines += ["  " + line for line in _nearest_requests(expectation.shape, received)]
            failures.append(UnmetExpectation("\n".join(lines)))
        exceeded = self._expectations.exceeded()
        if exceeded:
            count = len(exceeded)
            lines = [f"{count} expectation{'s' * (count != 1)} of {self!r} met too often:"]
            for number, (expectation, extra) in enumerate(exceeded, 1):
                got = expectation.calls + len(expectation.extra)
                lines.append(
                    f"  {number}. {expectation.describe_kind()}: expected at most "
                    f"{expectation.required}, got {got}; the extra request"
                    f"{'s' * (len(extra) != 1)} (answered {self.unmatched_status}):"
                )
                lines += ["    " + line for line in report_extra(extra)]
            failures.append(ExpectationExceeded("\n".join(lines)))
        return failures

    # -- used by connections and hosts, on the loop ------------------------------------------

    @property
    def runtime(self) -> Runtime:
        runtime = self._runtime
        assert runtime is not None
        return runtime

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return self.runtime.loop

    def streams_body(self, target: str) -> bool:
        """Whether a request for ``target`` goes to its host before its body has come."""
        expectations = self._expectations
        stubs = self._stubs_made
        return (
            self._host_of_behaviour.streams_body
            and not self._mounts
            and not (expectations.unordered or expectations.ordered)
            # (the admin API reads whole requests; the app beside it still streams its own)
            and not (stubs is not None and stubs.admin is not None and _is_admin(target))
        )

    @property
    def _stubs(self) -> Stubs:
        stubs = self._stubs_made
        if stubs is None:
            stubs = self._stubs_made = _stubs(self._expectations, admin=False)
        return stubs

    def _admin(self) -> AdminHost | None:
        """The admin API's host when the server answers it (``admin=True``), else ``None``."""
        stubs = self._stubs_made
        return None if stubs is None else stubs.admin

    def record(self, request: Request | PackedRequest) -> int:
        """Keep ``request`` in the journal, unless it is the admin API's own (one it allows).

        Returns its number in the journal (see ``Journal.append``), or 0 if not kept.
        """
        stubs = self._stubs_made
        if stubs is not None and stubs.admin is not None:
            target = request[1] if isinstance(request, tuple) else request.target
            if _is_admin(target) and stubs.admin.allows(unpack_request(request)):
                return 0
        return self._journal.append(request)

    def record_error(self, error: BaseException) -> None:
        self._record_error(error)

    def host_failed(self, exchange: Exchange, error: Exception) -> None:
        """A host raised while answering ``exchange``: whatever the host (admin API, directory,
        mappings, proxy, a fake, the hosted handler or app), keep the error, traceback and all,
        for :meth:`check`, and answer 500 and close the connection (a response already begun
        is cut short instead, RFC 9112 §8), so the client is never left waiting.

        Every dispatch from a connection goes through this on an exception (and so do the
        hosts' own continuations), so no host needs a guard of its own.
        """
        self.record_error(error)
        exchange.send_error(
            500,
            f"understudy: answering {exchange.method} {exchange.target} raised "
            f"{type(error).__name__} (see check())",
            close=True,
        )

    def _routing_changed(self) -> None:
        """Note whether requests go straight to the host of behaviour, past :meth:`dispatch`.

        Called whenever what :meth:`dispatch` looks at changes: expectations added or removed,
        a directory mounted. Connections call ``_direct.dispatch`` when it is set, which saves
        every request a call and the checks (the routing it skips would all fall through).
        """
        stubs = self._stubs_made
        routed = (
            (stubs is not None and stubs.admin is not None)
            or bool(self._expectations)
            or bool(self._mounts)
            or isinstance(self._host_of_behaviour, NoHost)
        )
        self._direct = None if routed else self._host_of_behaviour

    def dispatch(self, exchange: Exchange) -> None:
        """Route ``exchange``: the admin API, expectations, mounts, then the host of behaviour."""
        request = exchange.request
        stubs = self._stubs_made
        if (
            stubs is not None
            and stubs.admin is not None
            and request is not None
            and _is_admin(request.target)
        ):
            stubs.admin.dispatch(self, exchange)
            return
        expectations = self._expectations
        if (expectations.unordered or expectations.ordered) and request is not None:
            chosen = expectations.select(request)
            if chosen is not None:
                host, exchange.answered_by = chosen
                host.dispatch(self, exchange)
                return
        if self._mounts:
            target = exchange.target
            for prefix, host in self._mounts:
                if _under(target, prefix):
                    host.dispatch(self, exchange)
                    return
        if isinstance(self._host_of_behaviour, NoHost) and request is not None:
            self._unmatched(exchange, request)
            return
        self._host_of_behaviour.dispatch(self, exchange)

    def _unmatched(self, exchange: Exchange, request: Request) -> None:
        expectations = self._expectations
        if expectations.unmatched is None:
            expectations.unmatched = deque(maxlen=self._journal.size)
        expectations.unmatched.append(request)
        report = unmatched_report(self._expectations, request, hosted=bool(self._mounts))
        # One over an expectation's limit is reported with its count by _take_failures.
        if expectations.exceeded_by(request) is None and not expectations.allow_unmatched:
            self.record_error(UnexpectedRequest(report))
        exchange.answered_by = ("unmatched", "")
        exchange.send(Response(self.unmatched_status, report + "\n"))

    @property
    def shortest_timeout(self) -> float:
        """A waiting connection's timer fires at least this often (seconds; 0.0: no limits)."""
        return min(
            (t for t in (self.header_timeout, self.idle_timeout, self.send_timeout) if t),
            default=0.0,
        )

    def hold(self, future: asyncio.Future[Any], description: str | Callable[[], str]) -> None:
        """Count ``future`` as an in-flight handler until :meth:`release` is called for it.

        ``description`` (or a callable making it, called only if needed) names the handler in
        stop()'s timeout report.
        """
        self._inflight[future] = description

    def track(
        self,
        future: asyncio.Future[Any],
        description: str | Callable[[], str],
        then: Callable[[asyncio.Future[Any]], None] | None = None,
    ) -> None:
        """:meth:`hold` ``future`` and :meth:`release` it once done; then call ``then(future)``."""
        self._inflight[future] = description
        if then is None:
            future.add_done_callback(self.release)
        else:
            release = self.release

            def done(future: asyncio.Future[Any]) -> None:
                release(future)
                then(future)

            future.add_done_callback(done)

    def release(self, future: asyncio.Future[Any]) -> None:
        """``future`` is no longer in flight; if done, record what it raised for ``check()``.

        (A task may release itself as it ends, having reported its own errors.)
        """
        self._inflight.pop(future, None)
        if future.done() and not future.cancelled():
            error = future.exception()
            if error is not None:
                self.record_error(error)

    @staticmethod
    def describe(handler: object) -> str:
        return describe_handler(handler)

    # -- lifecycle hooks ---------------------------------------------------------------------

    async def _serve(self, sockets: list[socket.socket]) -> None:
        host = self._host_of_behaviour
        if _is_asgi(host):
            await host.startup(self)
        context = self._ssl_context()
        self._listeners = [
            await self._listen(lambda: HTTPConnection(self), sock, ssl=context) for sock in sockets
        ]

    async def _shutdown(self, timeout: float) -> list[str]:
        loop = asyncio.get_running_loop()
        listeners, self._listeners = self._listeners, []
        for conn in self.connections:
            conn.closing = True  # a response finished from now on says Connection: close
        await self._close_listeners(listeners)
        for conn in list(self.connections):
            conn.shutdown()
        deadline = loop.time() + timeout
        stalled = StalledReaders()
        while self._inflight and (remaining := deadline - loop.time()) > 0:
            await asyncio.wait(list(self._inflight), timeout=min(remaining, _LOOK_INTERVAL))
            # A body still being produced for a client that stopped reading would hold stop()
            # up to its timeout: cut that client off (the body is then closed, see _send).
            stalled.abort(self._open_transports(), loop.time())
        still_running = sorted(
            {name if isinstance(name, str) else name() for name in self._inflight.values()}
        )
        for future in list(self._inflight):
            future.cancel()
        for conn in list(self.connections):
            if conn.busy:
                conn.abort()  # its handler ran out of time
        if self.connections:
            # What is being sent goes out to clients reading it (TLS: then close_notify; the
            # client's is not awaited, RFC 8446 §6.1); nothing is sent after stop() returns.
            for conn in list(self.connections):
                conn.hand_over()  # (what a large body's connection still holds back)
            await finish_connections(self._open_transports, deadline)
        host = self._host_of_behaviour
        if _is_asgi(host):
            await host.shutdown(max(deadline - loop.time(), 0.1))
        return still_running

    def _open_transports(self) -> list[asyncio.BaseTransport]:
        return [conn.transport for conn in self.connections if conn.transport is not None]

    def _abort(self) -> None:
        for listener in self._listeners:
            listener.close()
        self._listeners = []
        for conn in list(self.connections):
            conn.abort()

    def _describe_address(self) -> str:
        if self._bound_port is None and not self._requested_port:
            return f"{self.scheme}://{self._url_host()}:?"
        return self.url


def _nearest_requests(shape: Any, received: list[Request]) -> list[str]:
    """The received requests closest to ``shape`` (3 kinds at most), with how each differed."""
    if not received:
        return ["  no request was received"]
    groups: dict[tuple[str, str, tuple[Difference, ...]], int] = {}
    for request in received:
        key = (request.method, request.target, tuple(differences(shape, request)))
        groups[key] = groups.get(key, 0) + 1
    nearest = sorted(groups.items(), key=lambda item: nearness(shape, list(item[0][2])))[:3]
    lines = ["  nearest requests received:"]
    for (method, target, found), count in nearest:
        repeat = f" ({count} like it)" if count > 1 else ""
        verdict = "" if found else " - matches"
        lines.append(f"    {method} {target}{repeat}{verdict}")
        lines += [f"      {difference}" for difference in found]
    return lines


def _under(target: str, prefix: str) -> bool:
    """Whether the request target's path is ``prefix`` or below it."""
    if prefix in ("/", target):
        return True
    if not target.startswith(prefix):
        return False
    rest = target[len(prefix) :]
    return prefix.endswith("/") or rest[0] in "/?#"


def _choose_host(
    response: Response | None,
    handler: Handler | None,
    wsgi: WSGIApp | None,
    asgi: ASGIApp | None,
) -> HostOfBehaviour:
    given = {
        name: value
        for name, value in (
            ("response", response),
            ("handler", handler),
            ("wsgi", wsgi),
            ("asgi", asgi),
        )
        if value is not None
    }
    if len(given) > 1:
        raise ConfigurationError(
            f"give HTTPServer at most one of response=, handler=, wsgi= and asgi=; got "
            f"{', '.join(f'{name}=' for name in given)}"
        )
    if response is not None:
        if not isinstance(response, Response):
            raise ConfigurationError(
                f"response= takes an understudy.Response, not {type(response).__name__}; write "
                f"response=Response(200, {response!r:.40})"
            )
        CannedHost.check_reusable(response)
        return CannedHost(response)
    for name, value in given.items():
        if not callable(value):
            raise ConfigurationError(f"{name}= must be callable, not {type(value).__name__}")
    if handler is not None:
        return HandlerHost(handler)
    if wsgi is not None:
        from ._wsgi import WSGIHost  # noqa: PLC0415 - loaded when first used

        return WSGIHost(wsgi)
    if asgi is not None:
        from ._asgi import ASGIHost  # noqa: PLC0415 - loaded when first used

        return ASGIHost(asgi)
    return NoHost()


def _stubs(expectations: Expectations, *, admin: bool, token: str | None = None) -> Stubs:
    """WireMock stub mappings over ``expectations``, with the admin API when ``admin`` (asking
    for ``token`` when one is given)."""
    from ._wiremock import Stubs  # noqa: PLC0415 - WireMock is loaded when first used

    if not admin:
        return Stubs(expectations)
    from ._admin import AdminHost  # noqa: PLC0415

    return Stubs(expectations, admin=AdminHost(token))


def _is_admin(target: str) -> bool:
    """Whether ``target`` is the admin API's (asked only once a server answers it)."""
    from ._admin import is_admin  # noqa: PLC0415 - loaded with the admin API

    return is_admin(target)


def _is_asgi(host: Host) -> TypeGuard[ASGIHost]:
    """Whether ``host`` runs an ASGI app (none does while the ASGI module is not loaded)."""
    module = sys.modules.get(f"{__package__}._asgi")
    return module is not None and isinstance(host, module.ASGIHost)
