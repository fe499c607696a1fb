"""One HTTP/1.1 connection: httptools parses, and each request becomes an HTTP1Exchange in a queue.

Requests on a connection are answered in order (pipelining, RFC 9112 §9.3.2): each request becomes
an :class:`HTTP1Exchange` in the connection's queue, and only the one at the head is being answered.
Hosts that stream the request body (WSGI, ASGI) start at the end of the header section; the others
start when the request is complete. Malformed input: see ``_refusals.py``.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import TYPE_CHECKING

import httptools

from .._tls import TLSInfo, tls_info
from ._exchange import HTTP1Exchange
from ._parsing import CONNECTION, METHODS, NO_PARSER, UPGRADE, VALID_HOSTS, check_host
from ._refusal import Refused
from ._refusals import Refusals
from ._timeouts import loop_clock

if TYPE_CHECKING:
    from .._core.faults import Ending
    from ._routing import Router
    from ._site import Site

__all__ = ["HTTPConnection"]

_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
#: Pipelined requests parsed ahead of the one being answered before reading pauses.
_MAX_PIPELINED = 16
_time = time.time


class HTTPConnection(Refusals):
    """The asyncio protocol of one accepted HTTP/1.1 connection: made per accepted transport
    with a :class:`~._site.Site` and a :class:`~._routing.Router`.

    Its layers: :class:`~._writer.ResponseWriter` (the write path), :class:`~._refusals.Refusals`
    (the error path and the timers), and here the parser's callbacks, the queue of exchanges
    and their dispatch.
    """

    def __init__(self, site: Site, router: Router) -> None:
        super().__init__(site)
        self.site = site
        self.router = router
        self.limits = site.limits
        self.clock = loop_clock(self.loop)
        self.scheme = site.scheme
        self.parser = httptools.HttpRequestParser(self)
        self.queue: deque[HTTP1Exchange] = deque()
        self.parsing: HTTP1Exchange | None = None
        self.url = b""  # the request target of the request being parsed, as received so far
        self.header_bytes = 0
        self.hosts = 0  # Host field lines of the request being parsed
        self.connection_field = 0  # what the request has that persistence hangs on (bits above)
        #: A request offering an upgrade whose body llhttp skipped (see _upgrade_offered).
        self.upgrading: HTTP1Exchange | None = None
        #: The connection switches protocol after the request being parsed (a CONNECT).
        self.switching = False
        #: A WebSocket handshake's (``_ws/``): the bytes after its head, until it is answered.
        self.held: list[bytes] | None = None
        #: Requests begun on this connection (on_message_begin).
        self.begun = 0
        self.peer: tuple[str, int] | None = None
        #: The client's host and port as a PackedRequest keeps them (``None, None``: no client).
        self.peer_fields: tuple[str | None, int | None] = (None, None)
        self.tls: TLSInfo | None = None
        #: The TLSInfo's fields, as a PackedRequest keeps them (``None``: plain HTTP).
        self.tls_fields: tuple[str, str, str | None, str | None] | None = None
        self.reading_paused = False
        self.broken = False
        #: The client half-closed its side: answer what it sent, then close.
        self.peer_closed = False
        #: The exchange answered last, whose response may still be in the write buffer.
        self.answered: HTTP1Exchange | None = None
        #: Inside :meth:`data_received`: a streaming host's dispatch waits for the end of it.
        self.feeding = False
        self.deferred: HTTP1Exchange | None = None

    def new_exchange(self) -> HTTP1Exchange:
        return HTTP1Exchange(self)

    # -- asyncio.Protocol --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        listener = getattr(transport, "_server", None)
        if listener is not None and not listener.is_serving():
            # Accepted just before stop() closed the listener: nothing is served after stop().
            self.closing = True
            transport.close()
            return
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple):
            self.peer = (peer[0], peer[1])
            self.peer_fields = (peer[0], peer[1])
        if self.site.tls is not None:
            tls = self.tls = tls_info(transport)
            if tls is not None:
                self.tls_fields = (tls.version, tls.cipher, tls.alpn_protocol, tls.peer_subject)
        self.site.connections[self] = None
        self._wait("idle", self.limits.idle_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self.site.connections.pop(self, None)
        self.closing = True
        self.transport = None
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        for exchange in self.queue:
            if exchange.body_listener is not None and not exchange.complete:
                exchange.body_listener(None)
                exchange.body_listener = None
            exchange.notify_done()
        self.backlog = None
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)
        # Let go of what refers back to this connection (its exchanges, the parser's callbacks):
        # with no cycle through it, a stopped server the test drops is freed at once, journal
        # and all, not when the cyclic GC comes round (a packed journal gives it no reason to).
        self.queue.clear()
        self.parsing = self.deferred = self.answered = None
        self.parser = NO_PARSER

    def data_received(self, data: bytes) -> None:
        if self.broken:
            if self.held is not None:
                self.held.append(data)  # (the WebSocket session's, once it has switched)
            return
        begun = self.begun
        self.feeding = True
        try:
            self.parser.feed_data(data)
        except (httptools.HttpParserUpgrade, httptools.HttpParserError) as error:
            stopped: Exception | None = error
        else:
            stopped = None
        if stopped is not None:
            # (Outside the except clause: a parser fed again there would raise its errors with
            # the one handled as their context, in place of a callback's Refused.)
            try:
                self._parser_stopped(stopped, data, begun)
            finally:
                self.replay_skip = data
                self.feeding = False
        self.feeding = False
        deferred = self.deferred
        if deferred is not None:
            self.deferred = None
            if not deferred.dispatched and self.queue and self.queue[0] is deferred:
                self._activate(deferred)
        parsing = self.parsing
        if parsing is None or self.broken:
            if self.replay or self.broken:
                # (Nothing more is parsed once broken: the read's bytes go now, not with the
                # connection; a WebSocket's handshake read lives as long as its session.)
                self.replay = []
                self.replay_skip = None
        else:
            self._keep(data, begun)
            # A request is arriving in pieces: the rest of its header section must come within
            # header_timeout of its first byte, and its body must not stall for idle_timeout.
            # (A request that arrives whole is never timed: nothing is set for it.)
            if parsing.method:
                self._wait("body", self.limits.idle_timeout)
            elif self.waiting != "header":
                self._wait("header", self.limits.header_timeout)

    # -- httptools callbacks -----------------------------------------------------------------

    def on_message_begin(self) -> None:
        self.begun += 1
        self.parsing = HTTP1Exchange(self)
        self.url = b""
        self.header_bytes = 0
        self.hosts = 0
        self.connection_field = 0

    def on_url(self, url: bytes) -> None:
        self.url += url
        self.header_bytes += len(url)
        if self.header_bytes > self.limits.max_header_size:
            raise Refused(431, "the request line and header section are too large")

    def on_header(self, name: bytes, value: bytes) -> None:
        exchange: HTTP1Exchange = self.parsing  # type: ignore[assignment] # (set by on_message_begin)
        raw = exchange.raw_fields
        raw.append(name)
        raw.append(value)
        size = len(name)
        self.header_bytes += size + len(value) + 4
        if size == 4:
            if name.lower() == b"host":
                self.hosts += 1
                if value not in VALID_HOSTS:
                    check_host(value)
        elif size == 14:
            if name.lower() == b"content-length":
                exchange.content_length = value
        elif size == 10:
            if name.lower() == b"connection":
                self.connection_field |= CONNECTION
        elif size == 16:
            if name.lower() == b"proxy-connection":
                self.connection_field |= CONNECTION  # (llhttp heeds it as it does Connection)
        elif size == 7 and name.lower() == b"upgrade":
            self.connection_field |= UPGRADE
        if self.header_bytes > self.limits.max_header_size:
            raise Refused(
                431,
                f"the header section is larger than max_header_size "
                f"({self.limits.max_header_size} bytes)",
            )

    def on_headers_complete(self) -> None:
        exchange: HTTP1Exchange = self.parsing  # type: ignore[assignment] # (set by on_message_begin)
        parser = self.parser
        method = parser.get_method()
        exchange.method = METHODS.get(method) or self._other_method(method)
        url = self.url
        exchange.target = url.decode("latin-1")
        if url == b"*" and exchange.method != "OPTIONS":
            raise Refused(
                400,
                f"malformed request: the asterisk form (*) is only for OPTIONS, not "
                f"{exchange.method} (RFC 9112 §3.2.4)",
            )
        if parser.should_keep_alive() and not self.connection_field:
            # llhttp takes HTTP/0.9, 1.0, 1.1 and 2.0 (others are refused), and of those only
            # 1.1 persists without a Connection field (RFC 9112 §9.3; llhttp also heeds
            # Proxy-Connection, counted as one): asking costs ten times more (httptools formats
            # the version string).
            if self.hosts != 1:
                self._check_version_and_host(exchange)
        else:
            upgrading = self.upgrading
            if upgrading is not None:
                # The framing head _upgraded feeds a new parser: its body is upgrading's.
                self.parsing = upgrading
                self.upgrading = None
                return
            exchange.keep_alive = parser.should_keep_alive()
            exchange.http_version = parser.get_http_version()
            self._check_version_and_host(exchange)
            if self.connection_field & UPGRADE and parser.should_upgrade():
                self._upgrade_offered(exchange)
        length = exchange.content_length
        if length is not None and length.isdigit() and int(length) > self.limits.max_body_size:
            raise Refused(
                413,
                f"the body ({int(length)} bytes) is larger than max_body_size "
                f"({self.limits.max_body_size} bytes)",
            )
        queue = self.queue
        queue.append(exchange)
        if len(queue) == 1:
            # At the head of the queue: answered once the bytes in hand are parsed (see
            # data_received), or at once if the request is complete in them.
            self.deferred = exchange
        elif len(queue) >= _MAX_PIPELINED and self.transport is not None:
            self.transport.pause_reading()
            self.reading_paused = True

    def on_body(self, body: bytes) -> None:
        exchange = self.parsing
        assert exchange is not None
        exchange.body_size += len(body)
        if exchange.body_size > self.limits.max_body_size:
            raise Refused(
                413, f"the body is larger than max_body_size ({self.limits.max_body_size} bytes)"
            )
        exchange.body_parts.append(body)
        if exchange.body_listener is not None:
            exchange.body_listener(body)

    def on_message_complete(self) -> None:
        if self.upgrading is not None:
            return  # llhttp skipped the body of a request offering an upgrade (_upgrade_offered)
        exchange: HTTP1Exchange = self.parsing  # type: ignore[assignment] # (set by on_message_begin)
        self.parsing = None
        self.waiting = None
        exchange.complete = True
        parts = exchange.body_parts
        # Kept packed (see PackedRequest): the Request is made when someone reads it.
        host, port = self.peer_fields
        packed = exchange.packed = (
            exchange.method,
            exchange.target,
            (parts[0] if len(parts) == 1 else b"".join(parts)) if parts else b"",
            exchange.http_version,
            host,
            port,
            _time(),
            self.scheme,
            self.tls_fields,
            *exchange.raw_fields,
        )
        # (The gate: journal.append, unless the admin API keeps some requests to itself.)
        exchange.number = self.site.record(packed)
        if exchange.head_sent:  # (a streaming host answered before the request was complete)
            exchange.record_answer(exchange.sent)
        if exchange.body_listener is not None:
            exchange.body_listener(None)
            exchange.body_listener = None
        queue = self.queue
        if queue and queue[0] is exchange and not exchange.dispatched:
            self._dispatch(exchange)

    # -- the queue ---------------------------------------------------------------------------

    def _activate(self, exchange: HTTP1Exchange) -> None:
        """``exchange`` reached the head of the queue: start answering it when it can be."""
        if exchange.refusal is not None:
            self._send_refusal(exchange)
            return
        if exchange.complete:
            self._dispatch(exchange)
            return
        if exchange.http_version == "1.1":
            expect = exchange.header(b"expect")
            if expect is not None and expect.lower() == b"100-continue":
                self.write(_CONTINUE)  # RFC 9110 §10.1.1; never to HTTP/1.0 clients
        if self.router.streams_body(exchange.target):
            if self.feeding:
                # The rest of the request may be in the bytes being parsed: dispatch once they
                # are, so the host sees as much of it as there is.
                self.deferred = exchange
            else:
                self._dispatch(exchange)

    def _dispatch(self, exchange: HTTP1Exchange) -> None:
        """Hand ``exchange`` to its host: a WebSocket handshake to its switch (see
        ``Router.upgrade``), straight to the host of behaviour when nothing routes, else through
        the router."""
        exchange.dispatched = True
        site, router = self.site, self.router
        try:
            if self.held is not None:
                router.dispatch_upgrade(site, exchange)
            elif router.direct is not None:
                router.direct.dispatch(site, exchange)
            else:
                router.dispatch(site, exchange)
        except Exception as error:  # noqa: BLE001 - a host's bug: a 500, and check() raises it
            site.host_failed(exchange, error)

    def exchange_finished(self, exchange: HTTP1Exchange) -> None:
        queue = self.queue
        if not queue or queue[0] is not exchange:
            return
        queue.popleft()
        self.answered = exchange
        if not exchange.keep_alive or self.closing or (self.peer_closed and not queue):
            self.close()
            return
        if self.reading_paused and len(queue) < _MAX_PIPELINED and self.transport is not None:
            self.transport.resume_reading()
            self.reading_paused = False
        if queue:
            self._activate(queue[0])
        elif self.parsing is None:
            # (_wait, inline: once per request)
            timeout = self.limits.idle_timeout
            if timeout is None:
                self.waiting = None
            else:
                self.waiting = "idle"
                self.read_deadline = deadline = self.clock() + timeout
                if self.timer is None:
                    self._arm(deadline)

    # -- timeouts ----------------------------------------------------------------------------

    # -- writing and closing -----------------------------------------------------------------

    def shutdown(self) -> None:
        """On stop: close now if idle, else once the exchange being answered is finished."""
        self.closing = True
        if not self.queue or not self.queue[0].dispatched:
            self.close()

    def cut(self, data: bytes, ending: Ending) -> None:
        """A fault on the exchange being answered: nothing after it is answered, and the rest
        of what the client sends is not read as requests; ``data`` is written, then the
        transport ends as ``ending`` says (see ``ResponseWriter.end_transport``)."""
        self.queue.clear()
        self.parsing = None
        self.broken = True
        self.end_transport(data, ending)

    @property
    def busy(self) -> bool:
        return bool(self.queue) and self.queue[0].dispatched
