"""The seam of the HTTP core: what a protocol's connection gets, and what a host sees of a request.

Three kinds of object meet here, and nothing else joins them:

- a **connection** speaks a protocol on one transport: :class:`~._connection.HTTPConnection`
  speaks HTTP/1.1, :class:`~._h2._connection.H2Connection` HTTP/2, and a WebSocket session
  (``_ws/``) RFC 6455 after an HTTP/1.1 handshake. Each is made with a :class:`Site` and a
  :class:`~._routing.Router` (a session with the Site), never the server;
- an **exchange** is one request and its response, as the connection offers it to hosts: the
  :class:`Exchange` protocol below. :class:`~._exchange.HTTP1Exchange` implements it over an
  HTTP/1.1 connection; an HTTP/2 stream implements the same members over its stream;
- a **host** answers exchanges: ``Host.dispatch(site, exchange)``. Hosts know a :class:`Site`
  and the :class:`Exchange` protocol, never a connection, a router or the server.

How a new protocol plugs in:

- **HTTP/2** (after ALPN ``h2`` or a prior-knowledge preface): an ``asyncio.Protocol`` made per
  accepted transport as ``H2Connection(site, router)``; it adds itself to
  :attr:`Site.connections` (``shutdown()``, ``abort()``, ``hand_over()``, ``busy`` and
  ``transport`` are what ``stop()`` calls on it), journals each complete request with
  :attr:`Site.record` (which returns the journal number :meth:`Exchange.record_answer` needs),
  and hands each stream, as an object implementing :class:`Exchange`, to
  ``router.direct.dispatch(site, stream)`` when ``router.direct`` is set, else to
  ``router.dispatch(site, stream)``; a host that raises goes to :meth:`Site.host_failed`. Its
  timers read :attr:`Site.limits`.
- **WebSocket** (RFC 6455 §4.2, on an HTTP/1.1 ``Upgrade: websocket``): the connection asks
  ``router.upgrade(site, exchange)`` when a request offers an upgrade
  (``HTTPConnection._switches_protocol``); a non-``None`` :class:`Upgrade` says a host will
  answer it, so the connection holds the bytes after the head instead of parsing them. The
  exchange then goes to ``router.dispatch_upgrade``: to an ``expect_websocket`` stub or the
  ASGI app, which refuses through the exchange or sends the 101 and hands the transport and the held
  bytes to a session itself (``_ws/_handshake.py``'s ``switch``): an ASGI app accepts later, from
  its own task, so the switch cannot be the connection's. The session gets the same
  :class:`Site` (journal, errors, in-flight registry, limits).

The rules: a :class:`Site` and a ``Router`` hold no reference to ``HTTPServer`` (so a server the
test drops is freed at once: ``tests/test_server.py``'s
``test_a_stopped_server_the_test_drops_is_freed_at_once`` and its neighbours); nothing
under ``_http/`` imports ``_http._server``
(``tests/test_public_api.py::test_the_http_core_has_no_import_cycle``).
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from .._server import describe_handler
from .._waits import end
from ._limits import DEFAULT_LIMITS, Limits

if TYPE_CHECKING:
    import random

    from .._core.faults import Ending
    from .._journal import Journal
    from .._runtime import Runtime
    from .._tls import TLS
    from ._request import PackedRequest, Request
    from ._response import Response
    from ._response_record import Detail

__all__ = [
    "AnsweredBy",
    "Connection",
    "Exchange",
    "Host",
    "HostOfBehaviour",
    "Site",
    "SiteOwner",
    "Upgrade",
]

#: What answered an exchange: a kind and a detail (see ResponseRecord.answered_by, .detail;
#: the detail may be made when the record is read, see ``Described``).
AnsweredBy = tuple[str, "Detail"]


class Exchange(Protocol):
    """One request and its response, as every host sees it, whatever the protocol under it.

    Loop-side only. The request side is read-only to hosts; the response is sent either whole
    (:meth:`send`) or in pieces (:meth:`start` or :meth:`start_memoized`, :meth:`write`,
    :meth:`end`); :meth:`abort` or :meth:`cut` end it otherwise.
    """

    #: What answers, when routing chose it; ``None``: the router's host of behaviour.
    answered_by: AnsweredBy | None
    #: Called once when the response is finished or the connection is gone.
    done_listener: Callable[[], None] | None

    @property
    def method(self) -> str: ...
    @property
    def target(self) -> str:
        """The request target as received (RFC 9112 §3.2; HTTP/2: ``:path``)."""

    @property
    def raw_fields(self) -> list[bytes]:
        """The request's field lines as received, flat: name, value, name, value... (bytes)."""

    @property
    def http_version(self) -> str:
        """``"1.0"``, ``"1.1"`` (``"2"`` for an HTTP/2 stream)."""

    @property
    def request(self) -> Request | None:
        """The request, once complete and well-formed."""

    @property
    def complete(self) -> bool:
        """The whole request body has come."""

    @property
    def body_parts(self) -> list[bytes]:
        """The body received so far, as it came."""

    @property
    def head_sent(self) -> bool:
        """The response's head is written: :meth:`send_error` can only abort now."""

    @property
    def finished(self) -> bool:
        """The response is ended (or aborted)."""

    @property
    def connected(self) -> bool:
        """The connection (HTTP/2: the stream) can still carry bytes to the client."""

    @property
    def peer(self) -> tuple[str, int] | None:
        """The client's address (host, port); ``None`` for a Unix socket."""

    @property
    def scheme(self) -> str:
        """``"http"`` or ``"https"``."""

    @property
    def sends_body(self) -> bool:
        """The response begun has a body to send (not HEAD, 204, 304)."""

    def header(self, name: bytes) -> bytes | None:
        """The first value of a request field by lower-case name."""

    def listen_to_body(self, listener: Callable[[bytes | None], None]) -> None:
        """Feed ``listener`` every body chunk, those already received first, then ``None``."""

    def send(self, response: Response) -> None:
        """Send a complete response whose body is bytes, then finish."""

    def start(
        self, status: int, reason: str, fields: list[tuple[str, str]], body_length: int | None
    ) -> None:
        """Send the status line and fields; ``body_length`` None streams the body."""

    def start_memoized(
        self,
        status: int,
        reason: str | None,
        fields: tuple[tuple[bytes, bytes], ...] | tuple[tuple[str, str], ...],
        body_length: int | None,
        body: bytes | None = None,
        *,
        end: bool = False,
    ) -> None:
        """:meth:`start` (with ``body`` written and the response ended when asked), memoized."""

    def write(self, data: bytes) -> None:
        """Send a piece of the body, framed as the head decided."""

    def end(self) -> None:
        """Finish the response."""

    def abort(self) -> None:
        """End the response as incomplete (RFC 9112 §8): the client must not take it whole."""

    def send_error(self, status: int, message: str, *, close: bool = False) -> None:
        """Send a plain-text error response, if not too late (else :meth:`abort`)."""

    async def drain(self) -> None:
        """Wait until the transport's write buffer is below its high-water mark."""

    def record_answer(self, sent: bytes | str | None) -> None:
        """Record in the journal what answers the request (its head, or a fault's name)."""

    def cut(self, data: bytes, ending: Ending) -> None:
        """A fault: finish, write ``data``, then end the connection as ``ending`` says (an
        HTTP/2 stream: the stream); nothing after it is answered."""


class Connection(Protocol):
    """What ``stop()`` calls on an open connection, whatever its protocol (in
    :attr:`Site.connections` from ``connection_made`` to ``connection_lost``)."""

    #: A response finished from now on closes the connection.
    closing: bool

    @property
    def transport(self) -> asyncio.Transport | None:
        """The transport; ``None`` once the connection is lost."""

    @property
    def busy(self) -> bool:
        """A request is being answered."""

    def shutdown(self) -> None:
        """Close now if idle, else once the exchange being answered is finished."""

    def hand_over(self) -> asyncio.Future[None] | None:
        """Hand the transport everything still held back (stop() then closes it); a future
        (HTTP/2: bodies the client's flow-control windows hold back) that stop() awaits first,
        until its deadline."""

    def abort(self) -> None:
        """Drop the connection now."""


class Host(Protocol):
    """What answers the exchanges routed to it."""

    #: Start at the end of the header section (True) or when the request is complete (False).
    streams_body: bool

    def dispatch(self, site: Site, exchange: Exchange) -> None:
        """On the loop: answer ``exchange``; must end it (or abort it) eventually."""


class HostOfBehaviour(Host, Protocol):
    """A host the server can be given as a whole (``response=``, ``handler=``, ``wsgi=``...)."""

    @property
    def answered_by(self) -> AnsweredBy:
        """What answered, as the journal records it when routing chose nothing else: the
        kind and the detail of :class:`~understudy.ResponseRecord`."""


class Upgrade(Protocol):
    """What a connection switches to after answering a request's upgrade (RFC 9110 §7.8).

    Returned by ``Router.upgrade(site, exchange)`` for a WebSocket handshake on a server that
    serves WebSocket (``_ws/_handshake.WebSocketUpgrade``); any other upgrade offered is
    ignored, as RFC 9110 §7.8 lets a server do, and h2c's is answered in HTTP/1.1 (RFC 9113
    §3.1 removed it). The host that answers the exchange makes the switch (see above).
    """

    def accept(self, site: Site, exchange: Exchange) -> bool:
        """Whether a host will answer ``exchange``'s upgrade (so its bytes are held)."""


class SiteOwner(Protocol):
    """What a :class:`Site` reaches, through a weak reference, of the server that made it
    (``understudy.Server``): its seeded random source, its address and its error sink."""

    @property
    def random(self) -> random.Random:
        """The server's seeded source of random choices."""

    @property
    def address(self) -> tuple[str, int]:
        """The server's listening address (host, port)."""

    def _record_error(self, error: BaseException) -> None:
        """Keep ``error`` for ``check()`` (``Server._record_error``)."""


class Site:
    """What a connection or a host may use while serving, and nothing else.

    Made by the server in its ``__init__``; :attr:`runtime` and :attr:`loop` are set when it
    starts. Holds no strong reference to the server: :meth:`fail` and :attr:`random` reach it
    through a weak reference.
    """

    __slots__ = (
        "_owner",
        "connections",
        "inflight",
        "journal",
        "limits",
        "loop",
        "record",
        "runtime",
        "scheme",
        "settled",
        "tls",
        "websocket",
    )

    #: The runtime and its loop, set when the server starts (unset before: AttributeError).
    runtime: Runtime
    loop: asyncio.AbstractEventLoop

    def __init__(
        self,
        journal: Journal[Request],
        *,
        owner: SiteOwner,
        tls: TLS | None = None,
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        self.journal = journal
        #: The journal gate: keeps a request (or a packed one), returns its number (0: not
        #: kept). ``journal.append`` unless something (the admin API) keeps some to itself.
        self.record: Callable[[Request | PackedRequest], int] = journal.append
        # (Weakly: the server holds the Site, and a server the test drops is freed at once.)
        self._owner = weakref.ref(owner)
        self.tls = tls
        self.scheme = "http" if tls is None else "https"
        self.limits = limits
        #: The open connections (a dict as an ordered set: an empty one is a third the size).
        self.connections: dict[Connection, None] = {}
        #: Futures stop() waits for, with what names each in its timeout report.
        self.inflight: dict[asyncio.Future[Any], str | Callable[[], str]] = {}
        #: While stop() waits for :attr:`inflight` to empty: a future the last release ends.
        self.settled: asyncio.Future[None] | None = None
        #: The WebSocket journals and open sessions (``_ws/_site.py``), made on first use.
        self.websocket: Any = None

    @property
    def random(self) -> random.Random:
        """The server's seeded source of random choices (fault plans, delays)."""
        owner = self._owner()
        assert owner is not None  # (a server that serves is held)
        return owner.random

    @property
    def address(self) -> tuple[str, int]:
        """The server's listening address (host, port): WSGI's SERVER_NAME, ASGI's server."""
        owner = self._owner()
        assert owner is not None  # (a server that serves is held)
        return owner.address

    def fail(self, error: BaseException) -> None:
        """Keep ``error`` for the server's ``check()`` (the error sink; was ``record_error``)."""
        owner = self._owner()
        if owner is not None:
            owner._record_error(error)

    def host_failed(self, exchange: Exchange, error: Exception) -> None:
        """A host raised while answering ``exchange``: keep the error for ``check()``, answer 500
        and close (a response already begun is cut short instead, RFC 9112 §8).

        Every dispatch from a connection goes through this on an exception (and so do the
        hosts' own continuations), so no host needs a guard of its own.
        """
        self.fail(error)
        exchange.send_error(
            500,
            f"understudy: answering {exchange.method} {exchange.target} raised "
            f"{type(error).__name__} (see check())",
            close=True,
        )

    def hold(self, future: asyncio.Future[Any], description: str | Callable[[], str]) -> None:
        """Count ``future`` as an in-flight handler until :meth:`release` is called for it.

        ``description`` (or a callable making it, called only if needed) names the handler in
        stop()'s timeout report.
        """
        self.inflight[future] = description

    def track(
        self,
        future: asyncio.Future[Any],
        description: str | Callable[[], str],
        then: Callable[[asyncio.Future[Any]], None] | None = None,
    ) -> None:
        """:meth:`hold` ``future`` and :meth:`release` it once done; then call ``then(future)``."""
        self.inflight[future] = description
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
        inflight = self.inflight
        inflight.pop(future, None)
        if self.settled is not None and not inflight:
            end(self.settled)
        if future.done() and not future.cancelled():
            error = future.exception()
            if error is not None:
                self.fail(error)

    @staticmethod
    def describe(handler: object) -> str:
        """A short name for a user's callable, for messages."""
        return describe_handler(handler)
