"""HTTPServer: an HTTP/1.1 server hosting a fixed response, a handler, a WSGI or an ASGI app.

The public face only: it chooses the host of behaviour, builds the :class:`~._limits.Limits`,
the :class:`~._site.Site` and the :class:`~._routing.Router`, and hands the test its API: the
journal here; what to answer and ``assert_requested`` in its base ``_stubbing.Stubbing``; the
WebSocket part in its base ``_ws._face.WebSocketEndpoints``. Connections and hosts never see it
(``_site.py`` says how they plug in).

Rules (each held by the test named):

1. Nothing under ``_http/`` imports this module, even for type checking; ``_http`` has no
   import cycle (``tests/test_public_api.py::test_the_http_core_has_no_import_cycle``).
2. ``HTTPServer`` adds to ``Server`` only the test API
   (``tests/test_public_api.py::test_http_server_adds_only_the_test_api``).
3. No ``Any`` or untyped ``**kwargs`` in a public signature
   (``tests/test_public_api.py::test_no_public_signature_takes_untyped_options``).
4. Neither the Site nor the Router holds a reference to the server: a server the test drops
   is freed at once, journal and all (``tests/test_server.py::``
   ``test_a_stopped_server_the_test_drops_is_freed_at_once`` and its neighbours).
5. A routing change goes through a Router method, which ends in ``Router.changed()``
   (``tests/test_expect.py``, ``tests/test_directory.py``: requests after each change).
6. An idle server stays within 4 KiB (``bench``'s idle RSS figure (d), ``make bench``).
7. Naming the class loads its bases and no more: no asyncio, connection, host, router or
   site until a server is made or started (``tests/test_lazy_imports.py::``
   ``test_naming_the_http_server_loads_neither_asyncio_nor_what_a_made_server_needs``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Sequence
from importlib.util import find_spec
from typing import TYPE_CHECKING, ClassVar, TypeGuard

from .._ws._face import WebSocketEndpoints
from ._limits import (
    DEFAULT_HEADER_TIMEOUT,
    DEFAULT_IDLE_TIMEOUT,
    DEFAULT_MAX_BODY_SIZE,
    DEFAULT_MAX_HEADER_SIZE,
    DEFAULT_SEND_TIMEOUT,
    DEFAULT_WEBSOCKET_MAX_MESSAGE_SIZE,
)
from ._parking import Parking
from ._stubbing import Stubbing

# Naming `understudy.HTTPServer` loads the class and its bases, no more (issue 20): what a
# server needs once made (its host, site, router and journal, `_config`'s checks) is imported
# in `__init__`, what it needs once started (asyncio, the connections, TLS) in `_serve`; what
# only some servers use (WireMock stubs and admin API, record and replay, directories, WSGI and
# ASGI apps) when a server first uses it. tests/test_lazy_imports.py lists what stays unloaded.
if TYPE_CHECKING:
    import asyncio
    import socket
    import ssl

    from .._conditions import Conditions
    from .._journal import Journal
    from .._tls import TLS
    from ._asgi import ASGIApp, ASGIHost
    from ._hosts import Handler
    from ._request import Request
    from ._response import Response
    from ._site import Host
    from ._wiremock import Stubs
    from ._wsgi import WSGIApp

__all__ = ["HTTPServer"]

# httptools parses every request, and is loaded when a server first starts: its absence is
# said here, where the class is named (``understudy.__getattr__`` names the package to install).
if find_spec("httptools") is None:
    raise ModuleNotFoundError("No module named 'httptools'", name="httptools")


class HTTPServer(Stubbing, WebSocketEndpoints, Parking):
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
        http_versions: ``("1.1",)`` (default), ``("1.1", "2")`` or ``("2",)``: README, "HTTP/2".
        max_concurrent_streams: HTTP/2's SETTINGS_MAX_CONCURRENT_STREAMS (RFC 9113 §6.5.2).
        websocket_max_message_size: bytes a WebSocket message the ``asgi`` app receives may have
            after inflation (64 MiB by default; ``None``: no limit); a larger one closes the
            connection with 1009 Message Too Big (RFC 6455 §7.4.1). Not for stubs:
            ``expect_websocket(max_message_size=)`` and a mapping's ``maxMessageSize`` say theirs.

    Raises:
        ConfigurationError: two hosts given, a host that is not callable, a bad limit (a size
            not a positive int, ``websocket_max_message_size`` neither that nor ``None``), a
            ``tls`` that is neither ``True`` nor ``TLS(...)``, or ``generated_fields`` without
            ``root`` or naming a field the server does not generate, ``content_coding`` or
            ``content_codings`` without ``root`` or naming a coding that is unknown or whose
            package is not installed, or an ``admin_token`` that is not a non-empty str of
            visible characters, or given without ``admin``.

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
        max_header_size: int = DEFAULT_MAX_HEADER_SIZE,
        max_body_size: int = DEFAULT_MAX_BODY_SIZE,
        header_timeout: float | None = DEFAULT_HEADER_TIMEOUT,
        idle_timeout: float | None = DEFAULT_IDLE_TIMEOUT,
        send_timeout: float | None = DEFAULT_SEND_TIMEOUT,
        tls: bool | TLS | None = None,
        mappings: str | os.PathLike[str] | None = None,
        admin: bool = False,
        admin_token: str | None = None,
        proxy_to: str | None = None,
        record: str | os.PathLike[str] | None = None,
        conditions: Conditions | None = None,
        seed: int | None = None,
        http_versions: str | Collection[str] = ("1.1",),
        max_concurrent_streams: int = 100,
        websocket_max_message_size: int | None = DEFAULT_WEBSOCKET_MAX_MESSAGE_SIZE,
    ) -> None:
        # (absolute: a relative import in a function costs a microsecond a call)
        import understudy._http._config as config  # noqa: PLC0415 - loaded when one is made

        super().__init__(host=host, port=port, conditions=conditions, seed=seed)
        self._tls = None if tls is None else config.resolve_tls(tls, self.kind)
        directory = config.check_root_options(
            root, generated_fields, content_coding, content_codings
        )
        behaviour = config.choose_host(response, handler, wsgi, asgi, proxy_to, record)
        more = (http_versions, max_concurrent_streams, websocket_max_message_size)
        limits = config.limits_of(
            max_header_size, max_body_size, header_timeout, idle_timeout, send_timeout, *more
        )
        router = self._router = config.make_router(
            behaviour, journal_size, unmatched_status, allow_unmatched, admin, admin_token
        )
        self._site = config.make_site(self, router, self._tls, limits)
        self._ssl_context()  # with tls=: the CA and certificate are made here, not on the loop
        self._listeners: tuple[asyncio.AbstractServer, ...] = ()  # (an idle server: shared)
        if root is not None:
            self.serve_directory("/", root, **directory)
        if mappings is not None:
            self.load_mappings(mappings)

    # -- what the test reads -----------------------------------------------------------------

    @property
    def scheme(self) -> str:
        """``"https"`` when served with ``tls=``, else ``"http"`` (RFC 9110 §4.2)."""
        return self._site.scheme

    @property
    def url(self) -> str:
        """``http://host:port`` (``https://`` with ``tls=``), without a trailing slash (IPv6
        hosts in brackets)."""
        return f"{self.scheme}://{self._url_host()}:{self.port}"

    @property
    def unmatched_status(self) -> int:
        """The status code answered to a request nothing answers (``unmatched_status=``)."""
        return self._router.unmatched_status

    def _ssl_context(self) -> ssl.SSLContext | None:
        """The TLS context, its ALPN offering the versions of ``http_versions=``."""
        if self._tls is None:
            return None
        from ._serving import tls_context  # noqa: PLC0415 - loaded when first used

        return tls_context(self._tls, self._host, self._site.limits)

    @property
    def max_header_size(self) -> int:
        """Bytes of request line plus header section accepted (``max_header_size=``)."""
        return self._site.limits.max_header_size

    @property
    def max_body_size(self) -> int:
        """Bytes of request body accepted (``max_body_size=``)."""
        return self._site.limits.max_body_size

    @property
    def header_timeout(self) -> float | None:
        """Seconds for a request's header section (``header_timeout=``; ``None``: no limit)."""
        return self._site.limits.header_timeout

    @property
    def idle_timeout(self) -> float | None:
        """Seconds a connection may stay silent (``idle_timeout=``; ``None``: no limit)."""
        return self._site.limits.idle_timeout

    @property
    def send_timeout(self) -> float | None:
        """Seconds a response may wait on its client (``send_timeout=``; ``None``: no limit)."""
        return self._site.limits.send_timeout

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
            ConfigurationError: ``count`` over ``journal_size`` (the wait could never end).
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
        self._router.clear()

    @property
    def _journal(self) -> Journal[Request]:
        """The journal of requests (the site's and the router's: one object)."""
        return self._site.journal

    @property
    def _stubs(self) -> Stubs:
        """The stub mappings (read by tests/test_admin.py and bench/stress/_hostile.py)."""
        return self._router.stubs

    def _take_failures(self) -> list[BaseException]:
        return [*super()._take_failures(), *self._router.failures(lambda: repr(self))]

    # -- lifecycle hooks ---------------------------------------------------------------------

    def _start_waits(self) -> bool:
        return _is_asgi(self._router.host)  # (a failed lifespan startup: start() raises)

    def _load_for_serving(self) -> None:
        super()._load_for_serving()
        from . import _serving, _stopping  # noqa: F401, PLC0415 - (see the base's docstring)

        if "2" in self._site.limits.http_versions:
            from . import _h2  # noqa: F401, PLC0415

    async def _serve(self, sockets: list[socket.socket]) -> None:
        from ._serving import connections  # noqa: PLC0415 - loaded when first started

        site, router = self._site, self._router
        runtime = self._runtime
        assert runtime is not None  # (set by start() before it calls this)
        site.runtime = runtime
        site.loop = runtime.loop
        host = router.host
        if _is_asgi(host):
            await host.startup(site)
        context = self._ssl_context()
        factory = connections(site, router)
        self._listeners = tuple(
            [await self._listen(factory, sock, ssl=context) for sock in sockets]
        )

    async def _shutdown(self, timeout: float) -> list[str]:
        import asyncio  # noqa: PLC0415 - (loaded by then: the loop runs this)

        from ._stopping import stop_serving  # noqa: PLC0415 - loaded when first stopped

        listeners, self._listeners = list(self._listeners), ()
        still_running, deadline = await stop_serving(
            self._site, listeners, self._close_listeners, timeout
        )
        loop = asyncio.get_running_loop()
        host = self._router.host
        if _is_asgi(host):
            await host.shutdown(max(deadline - loop.time(), 0.1))
        return still_running

    def _abort(self) -> None:
        for listener in self._listeners:
            listener.close()
        self._listeners = ()
        for conn in list(self._site.connections):
            conn.abort()

    def _describe_address(self) -> str:
        if self._bound_port is None and not self._requested_port:
            return f"{self.scheme}://{self._url_host()}:?"
        return self.url


def _is_asgi(host: Host) -> TypeGuard[ASGIHost]:
    """Whether ``host`` runs an ASGI app (``ASGIHost.runs_asgi``)."""
    return getattr(host, "runs_asgi", False) is True
