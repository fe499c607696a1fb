"""One HTTP/1.1 connection: httptools parses, and each request becomes an Exchange in a queue.

Requests on a connection are answered in order (pipelining, RFC 9112 §9.3.2): each request becomes
an :class:`Exchange` in the connection's queue, and only the one at the head is being answered.
Hosts that stream the request body (WSGI, ASGI) start at the end of the header section; the others
start when the request is complete. Malformed input is answered with the right 4xx status, recorded
in the journal, and the connection is closed.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

import httptools

from .._drain import close_transport
from .._tls import TLSInfo, tls_info
from ._exchange import LARGE_WRITE, Exchange
from ._fields import field_pairs
from ._request import Request

if TYPE_CHECKING:
    from ._server import HTTPServer

__all__ = ["HTTPConnection"]

_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
#: Pipelined requests parsed ahead of the one being answered before reading pauses.
_MAX_PIPELINED = 16

#: The methods of RFC 9110 §9 (and PATCH), decoded once. Not CONNECT: see _other_method.
_METHODS = {
    name.encode(): name
    for name in ("GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "TRACE", "PATCH")
}

#: HTTPConnection.connection_field: a Connection (or Proxy-Connection) field; an Upgrade field
#: or the CONNECT method (llhttp may end the request as an upgrade).
_CONNECTION = 1
_UPGRADE = 2


_time = time.time

#: A Host field value: uri-host [ ":" port ] (RFC 9112 §3.2, RFC 3986 §3.2.2): an IP literal in
#: brackets, or a reg-name / IPv4 address (unreserved, sub-delims, percent-encodings); may be empty.
_HOST = re.compile(
    rb"(?:\[[0-9A-Fa-f:.]+\]|\[v[0-9A-Fa-f]+\.[-A-Za-z0-9._~!$&'()*+,;=:]+\]"
    rb"|(?:[-A-Za-z0-9._~!$&'()*+,;=]+|%[0-9A-Fa-f]{2})*)(?::[0-9]*)?"
).fullmatch
#: A method: a token (RFC 9110 §9.1, §5.6.2).
_TOKEN = re.compile(rb"[-!#$%&'*+.^_`|~0-9A-Za-z]+").fullmatch
#: A method llhttp knows, none of _METHODS, framed as any other request, that stands in for one
#: it does not know (see HTTPConnection._unregistered_method).
_STANDIN = b"PROPFIND"
#: The most bytes kept to find where a refused request began (see HTTPConnection.replay).
_REPLAY_MAX = 64 * 1024
#: HTTPConnection.replay when more than _REPLAY_MAX bytes came since it was last emptied.
_LOST: list[bytes] = [b""]

#: Host field values found valid: a test's requests name the same few hosts, so checking one is
#: a set lookup (cleared when it grows past _VALID_HOSTS_MAX).
_VALID_HOSTS: set[bytes] = set()
_VALID_HOSTS_MAX = 256


def loop_clock(loop: asyncio.AbstractEventLoop) -> Callable[[], float]:
    """``loop.time``, or the function it calls when that is all it does (a call the less)."""
    if type(loop).time is asyncio.BaseEventLoop.time:
        return time.monotonic
    return loop.time


#: Connections with bytes queued in this loop iteration (see HTTPConnection.write).
_UNFLUSHED: list[HTTPConnection] = []


def _flush_all() -> None:
    """Hand the bytes queued on every connection in this loop iteration to the transports."""
    unflushed = _UNFLUSHED[:]
    _UNFLUSHED.clear()
    for conn in unflushed:
        conn.flush()


# A child made by fork() has a runtime of its own: nothing of the parent's is to be flushed there.
os.register_at_fork(after_in_child=_UNFLUSHED.clear)


#: What a connection's parser becomes once it is lost (see connection_lost): fed nothing.
_NO_PARSER = httptools.HttpRequestParser(object())


def _check_host(value: bytes) -> None:
    """Refuse a Host field value that is not ``uri-host [":" port]`` (RFC 9112 §3.2)."""
    if _HOST(value) is None:
        raise _Refused(
            400,
            f"malformed request: the Host field {value.decode('latin-1')!r} is not host[:port] "
            "(RFC 9112 §3.2, RFC 3986 §3.2.2)",
        )
    if len(_VALID_HOSTS) >= _VALID_HOSTS_MAX:
        _VALID_HOSTS.clear()
    _VALID_HOSTS.add(value)


def _framing_head(exchange: Exchange) -> bytes:
    """A request head that frames a body as ``exchange``'s head did (its framing fields only).

    Fed to a new parser, it makes llhttp read the body that follows as it reads any body (RFC
    9112 §6.3), with every check of the framing fields; see :meth:`HTTPConnection._upgraded`.
    """
    lines = [b"PUT / HTTP/" + exchange.http_version.encode("ascii")]
    raw = exchange.raw_fields
    lines.extend(
        name + b": " + value
        for name, value in zip(raw[::2], raw[1::2], strict=True)
        if name.lower() in (b"content-length", b"transfer-encoding")
    )
    # (A Connection field takes on_headers_complete's slow branch, which gives the body back.)
    lines.append(b"Connection: keep-alive" if exchange.keep_alive else b"Connection: close")
    return b"\r\n".join(lines) + b"\r\n\r\n"


class _Begins:
    """Parser callbacks that count the requests begun."""

    __slots__ = ("count",)

    def __init__(self) -> None:
        self.count = 0

    def on_message_begin(self) -> None:
        self.count += 1


def _message_start(buffer: bytes, number: int) -> int | None:
    """Where request ``number`` (from 1) that a new parser begins in ``buffer`` starts.

    llhttp says where it stopped only for an upgrade, so the bytes are fed again one at a time
    to a parser that counts the requests it begins (the error path only). ``None`` if fewer
    began.
    """
    if number <= 0:
        return None
    begins = _Begins()
    parser = httptools.HttpRequestParser(begins)
    view = memoryview(buffer)
    for index in range(len(buffer)):
        try:
            parser.feed_data(view[index : index + 1])
        except (httptools.HttpParserError, httptools.HttpParserUpgrade):
            return index if begins.count == number else None
        if begins.count == number:
            return index
    return None


def _first_line(message: bytes) -> bytes:
    """The first line of ``message``, without its line ending (all of it if it has none)."""
    end = message.find(b"\n")
    return (message if end < 0 else message[:end]).removesuffix(b"\r")


class _Refused(Exception):
    """Raised inside a parser callback to refuse a request with a status code."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class HTTPConnection(asyncio.Protocol):
    """The asyncio protocol of one accepted HTTP connection."""

    def __init__(self, server: HTTPServer) -> None:
        self.server = server
        self.loop = server.loop
        self.clock = loop_clock(self.loop)
        self.scheme = server.scheme
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.queue: deque[Exchange] = deque()
        self.parsing: Exchange | None = None
        self.url = b""  # the request target of the request being parsed, as received so far
        self.header_bytes = 0
        self.hosts = 0  # Host field lines of the request being parsed
        self.connection_field = 0  # what the request has that persistence hangs on (bits above)
        #: A request offering an upgrade whose body llhttp skipped (see _upgrade_offered).
        self.upgrading: Exchange | None = None
        #: The connection switches protocol after the request being parsed (a CONNECT).
        self.switching = False
        #: Requests begun on this connection (on_message_begin).
        self.begun = 0
        #: What the parser was fed since it was last between requests at the end of a read,
        #: kept to find where a refused request began (llhttp does not say); empty while
        #: requests arrive whole; _LOST past _REPLAY_MAX bytes.
        self.replay: list[bytes] = []
        self.replay_size = 0
        #: ``begun`` when the first piece in ``replay`` was fed.
        self.window_begun = 0
        #: A read whose bytes are already in ``replay`` another way (fed again, changed).
        self.replay_skip: bytes | None = None
        #: The request fed again with _STANDIN in its method's place: (its number in
        #: ``begun``, its method).
        self.standin: tuple[int, bytes] | None = None
        self.client: tuple[str, int] | None = None
        #: The client's host and port as a PackedRequest keeps them (``None, None``: no client).
        self.client_fields: tuple[str | None, int | None] = (None, None)
        self.tls: TLSInfo | None = None
        #: The TLSInfo's fields, as a PackedRequest keeps them (``None``: plain HTTP).
        self.tls_fields: tuple[str, str, str | None, str | None] | None = None
        self.closing = False
        self.reading_paused = False
        self._writable: asyncio.Future[None] | None = None
        self._out: list[bytes] = []
        #: The transport asked for no more bytes (pause_writing) and has not asked again.
        self.write_paused = False
        #: What flush holds back of large writes until the transport has room (see flush).
        self.backlog: deque[bytes | memoryview] | None = None
        #: close() was called with a backlog: the transport closes once it is handed over.
        self.close_when_sent = False
        self.broken = False
        #: The client half-closed its side: answer what it sent, then close.
        self.peer_closed = False
        # Timeouts (seconds; loop time). One timer per connection, checked lazily: changing what
        # the connection waits for only sets a deadline; the timer re-arms itself when it fires.
        self.waiting: str | None = None  # "idle", "header", "body" or None (a request is handled)
        self.read_deadline = 0.0
        self.send_deadline = 0.0
        self.timer: asyncio.TimerHandle | None = None
        #: The exchange answered last, whose response may still be in the write buffer.
        self.answered: Exchange | None = None
        #: Inside :meth:`data_received`: a streaming host's dispatch waits for the end of it.
        self.feeding = False
        self.deferred: Exchange | None = None

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
            self.client = (peer[0], peer[1])
            self.client_fields = (peer[0], peer[1])
        if self.server._tls is not None:
            tls = self.tls = tls_info(transport)
            if tls is not None:
                self.tls_fields = (tls.version, tls.cipher, tls.alpn_protocol, tls.peer_subject)
        self.server.connections[self] = None
        self._wait("idle", self.server.idle_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.connections.pop(self, None)
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
        self.parser = _NO_PARSER

    def data_received(self, data: bytes) -> None:
        if self.broken:
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
            # the one handled as their context, in place of a callback's _Refused.)
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
            if self.replay:
                self.replay = []
                self.replay_skip = None
        else:
            self._keep(data, begun)
            # A request is arriving in pieces: the rest of its header section must come within
            # header_timeout of its first byte, and its body must not stall for idle_timeout.
            # (A request that arrives whole is never timed: nothing is set for it.)
            if parsing.method:
                self._wait("body", self.server.idle_timeout)
            elif self.waiting != "header":
                self._wait("header", self.server.header_timeout)

    def eof_received(self) -> bool:
        """The client has sent all it will send: answer what came in full, then close.

        A request cut short is refused with 400 (and recorded). Returns whether the transport
        stays open for writing.
        """
        self.peer_closed = True
        if self.parsing is not None and not self.broken:
            self._refuse(_Refused(400, "the client closed before the request was complete"), b"", 0)
        stays_open = bool(self.queue) and self.tls is None  # TLS cannot stay half-open
        if not stays_open:
            # The transport closes when this returns: what is queued for this loop iteration
            # (a response just finished) goes to it first, or it would be lost.
            self.flush()
            if self.backlog is not None and self.tls is None:
                self.close_when_sent = True  # (the rest of a large body first, then close)
                return True
        return stays_open

    def pause_writing(self) -> None:
        self.write_paused = True
        if self._writable is None or self._writable.done():
            self._writable = self.loop.create_future()
        send_timeout = self.server.send_timeout
        if send_timeout is not None:
            self.send_deadline = self.clock() + send_timeout
            self._arm(self.send_deadline)

    def resume_writing(self) -> None:
        self.write_paused = False
        self.send_deadline = 0.0
        if self.backlog is not None:
            self._feed()
            if self.write_paused:  # (the next slice filled the transport again)
                return
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)

    # -- httptools callbacks -----------------------------------------------------------------

    def on_message_begin(self) -> None:
        self.begun += 1
        self.parsing = Exchange(self)
        self.url = b""
        self.header_bytes = 0
        self.hosts = 0
        self.connection_field = 0

    def on_url(self, url: bytes) -> None:
        self.url += url
        self.header_bytes += len(url)
        if self.header_bytes > self.server.max_header_size:
            raise _Refused(431, "the request line and header section are too large")

    def on_header(self, name: bytes, value: bytes) -> None:
        exchange: Exchange = self.parsing  # type: ignore[assignment] # (set by on_message_begin)
        raw = exchange.raw_fields
        raw.append(name)
        raw.append(value)
        size = len(name)
        self.header_bytes += size + len(value) + 4
        if size == 4:
            if name.lower() == b"host":
                self.hosts += 1
                if value not in _VALID_HOSTS:
                    _check_host(value)
        elif size == 14:
            if name.lower() == b"content-length":
                exchange.content_length = value
        elif size == 10:
            if name.lower() == b"connection":
                self.connection_field |= _CONNECTION
        elif size == 16:
            if name.lower() == b"proxy-connection":
                self.connection_field |= _CONNECTION  # (llhttp heeds it as it does Connection)
        elif size == 7 and name.lower() == b"upgrade":
            self.connection_field |= _UPGRADE
        if self.header_bytes > self.server.max_header_size:
            raise _Refused(
                431,
                f"the header section is larger than max_header_size "
                f"({self.server.max_header_size} bytes)",
            )

    def on_headers_complete(self) -> None:
        exchange: Exchange = self.parsing  # type: ignore[assignment] # (set by on_message_begin)
        parser = self.parser
        method = parser.get_method()
        exchange.method = _METHODS.get(method) or self._other_method(method)
        url = self.url
        exchange.target = url.decode("latin-1")
        if url == b"*" and exchange.method != "OPTIONS":
            raise _Refused(
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
            if self.connection_field & _UPGRADE and parser.should_upgrade():
                self._upgrade_offered(exchange)
        length = exchange.content_length
        if length is not None and length.isdigit() and int(length) > self.server.max_body_size:
            raise _Refused(
                413,
                f"the body ({int(length)} bytes) is larger than max_body_size "
                f"({self.server.max_body_size} bytes)",
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

    def _upgrade_offered(self, exchange: Exchange) -> None:
        """llhttp will stop after ``exchange``'s head as if another protocol followed: decide.

        llhttp (as httptools drives it) treats a request with ``Upgrade`` and ``Connection:
        upgrade``, or a CONNECT, as the last HTTP/1.1 on the connection: it skips the body and
        stops (:exc:`httptools.HttpParserUpgrade`). Whether the connection really switches is
        :meth:`_switches_protocol`'s decision; if it does not, the body is read by its framing
        and the connection goes on in HTTP/1.1 (:meth:`_upgraded`).
        """
        if self._switches_protocol(exchange):
            # The answer, which may come before llhttp stops, must say the connection closes.
            exchange.keep_alive = False
            self.switching = True
        elif exchange.content_length is not None or exchange.header(b"transfer-encoding"):
            # llhttp will end the request without its body: on_message_complete waits, and
            # _upgraded reads the body with a parser of its own.
            self.upgrading = exchange

    def _switches_protocol(self, exchange: Exchange) -> bool:
        """Whether the bytes after ``exchange``'s head belong to another protocol.

        The one point where the connection decides to switch (RFC 9110 §7.8): a request that
        offers an upgrade (``Upgrade`` listed in ``Connection``) or a CONNECT (RFC 9110 §9.3.6).
        Today no upgrade is accepted: a server that does not switch ignores ``Upgrade`` (RFC
        9110 §7.8), so the request is answered as any other, its body read by its framing, and
        the connection stays HTTP/1.1. CONNECT is not served either, but what follows its head
        is the client's tunnel, never HTTP: it is answered, then the connection closes. A
        WebSocket handshake (RFC 6455 §4.2, answered 101) or h2c would return ``True`` here and
        take the transport over after the response.
        """
        return exchange.method == "CONNECT"

    def _parser_stopped(self, stopped: Exception, fed: bytes, begun: int) -> None:
        """The parser stopped in ``fed`` (a read; ``begun`` requests had begun before it).

        llhttp stops at an upgrade (:meth:`_upgraded`), at a method it does not know
        (:meth:`_unregistered_method`) and at what is malformed; the first two may go on with a
        new parser, fed again, which may stop again.
        """
        window_fed = fed
        while True:
            if isinstance(stopped, httptools.HttpParserUpgrade):
                again = self._upgraded(fed[stopped.args[0] :])
            elif isinstance(stopped, httptools.HttpParserInvalidMethodError):
                again = self._unregistered_method(stopped, window_fed, begun)
            else:
                assert isinstance(stopped, httptools.HttpParserError)
                self._parse_failed(stopped, window_fed, begun)
                return
            if again is None:
                return
            try:
                self.parser.feed_data(again)
            except (httptools.HttpParserUpgrade, httptools.HttpParserError) as error:
                stopped = error
            else:
                return
            # (_replay_from has put ``again`` in replay, the window of what comes next.)
            fed, window_fed, begun = again, b"", 0

    def _upgraded(self, rest: bytes) -> bytes | None:
        """llhttp stopped after a request offering an upgrade; ``rest`` is what followed it.

        Unless the connection switched (CONNECT), a new parser reads on: first the body of the
        request whose head offered the upgrade, fed as the body of a head made of its framing
        fields only (on_headers_complete gives that body back to the request), then ``rest`` as
        HTTP/1.1. Returns what to feed the new parser (``None``: nothing, it switched).
        """
        if self.switching:
            # What follows is another protocol: answer as plain HTTP/1.1, then close.
            self.broken = True
            if self.queue:
                self.queue[-1].keep_alive = False
            else:
                self.close()  # already answered
            return None
        exchange = self.upgrading
        self.parser = httptools.HttpRequestParser(self)
        again = rest if exchange is None else _framing_head(exchange) + rest
        self._replay_from(again)
        return again

    def _parse_failed(self, error: httptools.HttpParserError, fed: bytes, begun: int) -> None:
        """The parser refused the input or a callback refused a request: answer, then close.

        ``fed`` is what the failed read fed the parser (``b""`` if ``replay`` holds it), and
        ``begun`` the count of requests begun before it.
        """
        cause = error.__context__
        if isinstance(cause, _Refused):
            self._refuse(cause, fed, begun)
        else:
            self._refuse(_Refused(400, f"malformed request: {error}"), fed, begun)

    def _unregistered_method(
        self, error: httptools.HttpParserError, fed: bytes, begun: int
    ) -> bytes | None:
        """llhttp stopped at a method it does not know (it knows a fixed list): read it here.

        Any token is a method (RFC 9110 §9.1, §5.6.2; case-sensitive), and one a host does not
        implement reaches it all the same (to answer 501 or as a stub says). The request is
        found in what the parser was fed (:func:`_message_start`), its method checked, and a
        new parser made, to be fed it again from there with _STANDIN in the method's place (the
        real one is restored in :meth:`_other_method`): returns those bytes. A method still
        arriving waits for its end (``None``), as does a refused request.
        """
        window = self._window(fed, begun)
        start = None if window is None else _message_start(*window)
        if window is None or start is None:
            self._parse_failed(error, fed, begun)
            return None
        message = window[0][start:]
        method, space, rest = message.partition(b" ")
        valid = _TOKEN(method) is not None
        if not space and valid and len(message) <= self.server.max_header_size:
            # The method may go on in the next read: the parser, stopped, fails so again.
            self.replay = [message]
            self.replay_size = len(message)
            self.window_begun = self.begun - 1
            return None
        if not valid:
            shown = method.decode("latin-1")
            self._refuse(
                _Refused(
                    400,
                    f"malformed request: the method {shown!r} is not a token: letters, "
                    "digits and !#$%&'*+-.^_`|~ (RFC 9110 §9.1, §5.6.2)",
                ),
                fed,
                begun,
            )
            return None
        again = _STANDIN + b" " + rest
        self.standin = (self.begun + 1, method)  # (the next request the new parser begins)
        self.parser = httptools.HttpRequestParser(self)
        self._replay_from(again)
        return again

    def _replay_from(self, fed: bytes) -> None:
        """A new parser is about to be fed ``fed``: the window of ``replay`` starts there."""
        self.replay = [fed]
        self.replay_size = len(fed)
        self.window_begun = self.begun

    def _keep(self, data: bytes, begun: int) -> None:
        """A read ended inside a request: keep its bytes in ``replay`` (see _message_start)."""
        if self.replay_skip is data:
            self.replay_skip = None
            return
        replay = self.replay
        if replay is _LOST:
            return
        if not replay:
            self.window_begun = begun
            self.replay_size = 0
        replay.append(data)
        self.replay_size += len(data)
        if self.replay_size > _REPLAY_MAX:
            self.replay = _LOST

    def _window(self, fed: bytes, begun: int) -> tuple[bytes, int] | None:
        """The bytes since the parser was last between requests, and how many requests it
        began in them (``None``: more than _REPLAY_MAX bytes, not kept)."""
        replay = self.replay
        if replay is _LOST:
            return None
        if replay:
            return b"".join(replay) + fed, self.begun - self.window_begun
        return fed, self.begun - begun

    def _received_line(self, fed: bytes, begun: int) -> bytes:
        """The request line of the request being refused, as received (``b""``: not known)."""
        window = self._window(fed, begun)
        if window is None:
            return b""
        start = _message_start(*window)
        return b"" if start is None else _first_line(window[0][start:])

    def _other_method(self, method: bytes) -> str:
        """A method not in ``_METHODS``, decoded; CONNECT is noted as a possible upgrade."""
        standin = self.standin
        if standin is not None and standin[0] == self.begun:  # (see _unregistered_method)
            return standin[1].decode("ascii")
        if method == b"CONNECT":
            self.connection_field |= _UPGRADE
        return method.decode("ascii", "replace")

    def _check_version_and_host(self, exchange: Exchange) -> None:
        """Refuse what httptools lets through but RFC 9112 forbids (the rare path)."""
        version = exchange.http_version
        if version not in ("1.0", "1.1"):
            raise _Refused(505, f"HTTP/{version} is not supported; HTTP/1.1 is (RFC 9112 §2.3)")
        if self.hosts > 1 or (self.hosts == 0 and version == "1.1"):
            raise _Refused(
                400,
                f"malformed request: {self.hosts} Host fields; exactly one is required "
                "(RFC 9112 §3.2)",
            )
        if version == "1.0" and exchange.header(b"transfer-encoding") is not None:
            raise _Refused(
                400,
                "malformed request: Transfer-Encoding in an HTTP/1.0 request makes its framing "
                "faulty (RFC 9112 §6.1)",
            )

    def on_body(self, body: bytes) -> None:
        exchange = self.parsing
        assert exchange is not None
        exchange.body_size += len(body)
        if exchange.body_size > self.server.max_body_size:
            raise _Refused(
                413, f"the body is larger than max_body_size ({self.server.max_body_size} bytes)"
            )
        exchange.body_parts.append(body)
        if exchange.body_listener is not None:
            exchange.body_listener(body)

    def on_message_complete(self) -> None:
        if self.upgrading is not None:
            return  # llhttp skipped the body of a request offering an upgrade (_upgrade_offered)
        exchange: Exchange = self.parsing  # type: ignore[assignment] # (set by on_message_begin)
        self.parsing = None
        self.waiting = None
        exchange.complete = True
        parts = exchange.body_parts
        server = self.server
        # Kept packed (see PackedRequest): the Request is made when someone reads it.
        host, port = self.client_fields
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
        if server._stubs_made is None:
            exchange.number = server._journal.append(packed)
        else:
            # (It knows which requests the admin API keeps to itself.)
            exchange.number = server.record(packed)
        if exchange.head_sent:  # (a streaming host answered before the request was complete)
            exchange.record_answer(exchange.sent)
        if exchange.body_listener is not None:
            exchange.body_listener(None)
            exchange.body_listener = None
        queue = self.queue
        if queue and queue[0] is exchange and not exchange.dispatched:
            exchange.dispatched = True
            try:
                direct = server._direct
                if direct is not None:
                    direct.dispatch(server, exchange)  # (nothing routes: past server.dispatch)
                else:
                    server.dispatch(exchange)
            except Exception as error:  # noqa: BLE001 - a host's bug: a 500, and check() raises it
                server.host_failed(exchange, error)

    # -- the queue ---------------------------------------------------------------------------

    def _activate(self, exchange: Exchange) -> None:
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
        if self.server.streams_body(exchange.target):
            if self.feeding:
                # The rest of the request may be in the bytes being parsed: dispatch once they
                # are, so the host sees as much of it as there is.
                self.deferred = exchange
            else:
                self._dispatch(exchange)

    def _dispatch(self, exchange: Exchange) -> None:
        exchange.dispatched = True
        try:
            self.server.dispatch(exchange)
        except Exception as error:  # noqa: BLE001 - a host's bug: a 500, and check() raises it
            self.server.host_failed(exchange, error)

    def exchange_finished(self, exchange: Exchange) -> None:
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
            timeout = self.server.idle_timeout
            if timeout is None:
                self.waiting = None
            else:
                self.waiting = "idle"
                self.read_deadline = deadline = self.clock() + timeout
                if self.timer is None:
                    self._arm(deadline)

    def _refuse(self, refusal: _Refused, fed: bytes, begun: int) -> None:
        """Malformed or over-limit input: record it, answer in turn with its status, close.

        ``fed`` and ``begun`` say where to find the request line (see _parse_failed).
        """
        self.broken = True
        # What the parser holds of a request line belongs to the request being parsed, if one
        # was begun; otherwise (bytes after a close, garbage) it is the previous request's.
        url = self.url if self.parsing is not None else b""
        exchange = self.parsing or Exchange(self)
        line = self._received_line(fed, begun) if self.parsing is not None else b""
        self.parsing = None
        exchange.refusal = refusal
        exchange.keep_alive = False
        if not exchange.target:
            exchange.target = url.decode("latin-1")
        standin = self.standin
        if standin is not None and standin[0] == self.begun:
            # (fed again with _STANDIN in its method's place: see _unregistered_method)
            if line.startswith(_STANDIN):
                line = standin[1] + line[len(_STANDIN) :]
            if not exchange.method and url:
                exchange.method = standin[1].decode("ascii")
        if not exchange.method and url:  # (the method precedes the target: parsed if it came)
            try:
                exchange.method = self.parser.get_method().decode("ascii", "replace")
            except httptools.HttpParserError:
                exchange.method = ""
        parts = line.split(b" ")
        if len(parts) == 3:  # (a target llhttp refused, such as one not in ASCII)
            if not exchange.method and _TOKEN(parts[0]):
                exchange.method = parts[0].decode("ascii")
            if not exchange.target:
                exchange.target = parts[1].decode("latin-1")
        refused = exchange.refused = Request(
            method=exchange.method,
            target=exchange.target,
            headers=field_pairs(exchange.raw_fields),
            body=exchange.body,
            client=self.client,
            received_at=time.time(),
            scheme=self.scheme,
            tls=self.tls,
            error=refusal.reason,
            request_line=line.decode("latin-1"),
        )
        exchange.number = self.server.record(refused)
        exchange.answered_by = ("refused", refusal.reason)
        if exchange.dispatched:
            # A streaming host (WSGI, ASGI) is reading this body: end the body there and answer
            # with the refusal unless the app has begun its own response.
            listener, exchange.body_listener = exchange.body_listener, None
            if listener is not None:
                listener(None)
            exchange.send_error(refusal.status, refusal.reason, close=True)
            return
        if exchange not in self.queue:
            self.queue.append(exchange)
        if self.queue[0] is exchange:
            self._send_refusal(exchange)

    def _send_refusal(self, exchange: Exchange) -> None:
        refusal = exchange.refusal
        assert refusal is not None
        exchange.dispatched = True
        exchange.send_error(refusal.status, refusal.reason, close=True)

    # -- timeouts ----------------------------------------------------------------------------

    def _wait(self, waiting: str, timeout: float | None) -> None:
        """The connection now waits for the client (``waiting``) for at most ``timeout`` s."""
        self.waiting = waiting if timeout is not None else None
        if timeout is not None:
            self.read_deadline = deadline = self.clock() + timeout
            if self.timer is None:
                self._arm(deadline)

    def _arm(self, deadline: float) -> None:
        """Make the timer fire by ``deadline``, at the latest one shortest timeout from now.

        The cap keeps every later deadline (each at least the shortest timeout away) at or after
        the timer, so setting one never has to move the timer.
        """
        timer = self.timer
        if timer is not None:
            if timer.when() <= deadline:
                return
            timer.cancel()
        when = min(deadline, self.clock() + self.server.shortest_timeout)
        self.timer = self.loop.call_at(when, self._on_timer)

    def _on_timer(self) -> None:
        self.timer = None
        if self.transport is None:
            return
        now = self.clock()
        server = self.server
        if self.send_deadline:
            if now >= self.send_deadline:
                self._send_timed_out()
                return
            self._arm(self.send_deadline)
        waiting = self.waiting
        if waiting is None or self.broken:
            return
        if self.reading_paused:  # the server, not the client, is holding back
            self._arm(now + server.shortest_timeout)
            return
        if now < self.read_deadline:
            self._arm(self.read_deadline)
            return
        self.waiting = None
        if waiting == "idle":
            self.close()  # RFC 9112 §9.3: a server may close an idle connection
        elif waiting == "header":
            self._refuse(
                _Refused(
                    408,
                    f"the header section was not received within header_timeout "
                    f"({server.header_timeout:g} s)",
                ),
                b"",
                0,
            )
        else:
            self._refuse(
                _Refused(
                    408,
                    f"the request body stalled: no bytes for idle_timeout "
                    f"({server.idle_timeout:g} s)",
                ),
                b"",
                0,
            )

    def _send_timed_out(self) -> None:
        """The client has not read the response for ``send_timeout``: record it and abort."""
        exchange = self.queue[0] if self.queue else self.answered
        self.server.record(
            Request(
                method=exchange.method if exchange else "",
                target=exchange.target if exchange else "",
                headers=field_pairs(exchange.raw_fields) if exchange else [],
                body=b"",
                client=self.client,
                received_at=time.time(),
                scheme=self.scheme,
                tls=self.tls,
                error=f"the client did not read the response within send_timeout "
                f"({self.server.send_timeout:g} s); the connection was aborted",
            )
        )
        self.abort()

    # -- writing and closing -----------------------------------------------------------------

    def write(self, data: bytes) -> None:
        """Queue ``data``: what one loop iteration writes goes out in one send.

        A response's head and body (and pipelined responses) then cost one system call, not
        one each; on loopback the send is most of the cost of a small response. Even a whole
        response in one piece is queued: sending the answers once every connection ready in
        this iteration has been read costs the kernel less than sending each at once (under
        50 keep-alive clients, 48,000 responses a second rather than 38,000).
        """
        if self.transport is None:
            return  # (bytes for a transport that is closing are dropped by flush)
        out = self._out
        if not out:
            # One callback flushes every connection written to in this iteration.
            if not _UNFLUSHED:
                self.loop.call_soon(_flush_all)
            _UNFLUSHED.append(self)
        out.append(data)

    def flush(self) -> None:
        """Hand what was queued by :meth:`write` to the transport.

        A piece larger than ``LARGE_WRITE`` (a large body: canned, a file, a big chunk) is not
        handed over whole: asyncio's transports copy what the socket does not take at once into
        their buffers, so a client that does not read would keep a copy of the whole body for
        each connection. It is held back (:attr:`backlog`, with what is written after it) and
        handed over a slice at a time, each once the transport has drained to its low-water
        mark (:meth:`resume_writing`): a connection then holds about one slice, whatever the
        body's size, and the body itself is shared (memoryview slices, no copy).
        """
        out = self._out
        if not out:
            return
        if len(out) == 1 and self.backlog is None and len(out[0]) <= LARGE_WRITE:
            data = out[0]  # (the usual small response: one piece, one write)
            out.clear()
            transport = self.transport
            if transport is not None and not transport.is_closing():
                transport.write(data)
            return
        pieces = out[:]
        out.clear()
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if self.backlog is None:
            if sum(map(len, pieces)) <= LARGE_WRITE:
                transport.write(b"".join(pieces))
                return
            self.backlog = deque()
        self.backlog.extend(pieces)
        if not self.write_paused:
            self._feed()

    def hand_over(self) -> None:
        """On stop: hand the transport all that is held back, which stop then closes.

        (stop() delivers what is being sent to clients still reading, within its timeout, and
        closes the transports itself; a client that stopped reading is cut off then.)
        """
        self.flush()
        backlog, self.backlog = self.backlog, None
        self.close_when_sent = False
        transport = self.transport
        if backlog is not None and transport is not None and not transport.is_closing():
            for piece in backlog:
                transport.write(piece)

    def _feed(self) -> None:
        """Hand the backlog to the transport, a slice at a time, until it pauses or is empty."""
        backlog = self.backlog
        transport = self.transport
        if backlog is None:
            return
        while backlog and not self.write_paused:
            if transport is None or transport.is_closing():
                backlog.clear()
                break
            piece = backlog[0]
            if len(piece) > LARGE_WRITE:
                view = memoryview(piece)
                backlog[0] = view[LARGE_WRITE:]
                piece = view[:LARGE_WRITE]
            else:
                backlog.popleft()
            transport.write(piece)
        if not backlog:
            self.backlog = None
            if self.close_when_sent:
                self.close_when_sent = False
                # Not now: called from resume_writing, inside the transport's _write_ready,
                # which calls connection_lost itself when it finds itself closing with an empty
                # buffer, after close() has scheduled it too (twice: asyncio then fails).
                self.loop.call_soon(self.close)

    async def drain(self) -> None:
        self.flush()
        writable = self._writable
        if writable is not None and not writable.done():
            await writable

    def shutdown(self) -> None:
        """On stop: close now if idle, else once the exchange being answered is finished."""
        self.closing = True
        if not self.queue or not self.queue[0].dispatched:
            self.close()

    def close(self) -> None:
        self.closing = True
        self.flush()
        if self.backlog is not None:
            self.close_when_sent = True  # (closed by _feed once the backlog is handed over)
            return
        if self.transport is not None:
            close_transport(self.transport)  # (TLS: once, and the TCP transport with it)

    def abort(self) -> None:
        self.closing = True
        self._out.clear()
        self.backlog = None
        if self.transport is not None:
            self.transport.abort()

    @property
    def busy(self) -> bool:
        return bool(self.queue) and self.queue[0].dispatched
