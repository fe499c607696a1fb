"""When an HTTP/1.1 connection gives up on its client: malformed or over-limit input and timeouts.

Malformed input is answered with the right 4xx status, recorded in the journal, and the
connection is closed; llhttp stops at an upgrade and at a method it does not know, and the
connection goes on with a new parser. To record a refused request's line, the bytes fed since
the parser was last between requests are kept (``replay``). The timers: one per connection,
checked lazily; changing what the connection waits for only sets a deadline.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import httptools

from ._exchange import HTTP1Exchange
from ._fields import field_pairs
from ._parsing import (
    LOST,
    REPLAY_MAX,
    STANDIN,
    TOKEN,
    UPGRADE,
    first_line,
    framing_head,
    message_start,
)
from ._refusal import Refused
from ._request import Request
from ._timeouts import Timeouts

if TYPE_CHECKING:
    from ._routing import Router
    from ._site import Site

__all__ = ["Refusals"]


#: The answer to an HTTP/2 connection preface when the server offers HTTP/1.1 only.
_HTTP2_NOT_OFFERED = (
    "this server offers HTTP/1.1 only: pass http_versions=('1.1', '2') to HTTPServer to serve "
    "HTTP/2 (h2c by prior knowledge, or ALPN h2 over TLS) beside it"
)


class Refusals(Timeouts):
    """The error path of ``HTTPConnection`` (which sets the attributes declared here): where
    llhttp stopped, what it lets through that RFC 9112 refuses, and the refusals."""

    router: Router
    parser: httptools.HttpRequestParser
    parsing: HTTP1Exchange | None
    upgrading: HTTP1Exchange | None
    url: bytes
    begun: int
    hosts: int
    connection_field: int
    switching: bool
    held: list[bytes] | None
    peer_closed: bool

    def __init__(self, site: Site) -> None:
        super().__init__(site.loop)
        #: What the parser was fed since it was last between requests at the end of a read,
        #: kept to find where a refused request began (llhttp does not say); empty while
        #: requests arrive whole; LOST past REPLAY_MAX bytes.
        self.replay: list[bytes] = []
        self.replay_size = 0
        #: ``begun`` when the first piece in ``replay`` was fed.
        self.window_begun = 0
        #: A read whose bytes are already in ``replay`` another way (fed again, changed).
        self.replay_skip: bytes | None = None
        #: The request fed again with STANDIN in its method's place: (its number in
        #: ``begun``, its method).
        self.standin: tuple[int, bytes] | None = None

    def new_exchange(self) -> HTTP1Exchange:
        """An exchange on this connection (``HTTPConnection`` makes them)."""
        raise NotImplementedError

    def eof_received(self) -> bool:
        """The client has sent all it will send: answer what came in full, then close.

        A request cut short is refused with 400 (and recorded). Returns whether the transport
        stays open for writing.
        """
        self.peer_closed = True
        if self.parsing is not None and not self.broken:
            self._refuse(Refused(400, "the client closed before the request was complete"), b"", 0)
        # (Open for what is queued, or a stall fault's client, who still reads until stop().
        # TLS cannot stay half-open.)
        stays_open = (bool(self.queue) or self.stalled) and self.tls is None
        if not stays_open:
            # The transport closes when this returns: what is queued for this loop iteration
            # (a response just finished) goes to it first, or it would be lost.
            self.flush()
            if self.backlog is not None and self.tls is None:
                self.close_when_sent = True  # (the rest of a large body first, then close)
                return True
        return stays_open

    # -- where the parser stopped ------------------------------------------------------------

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
            self.broken = True
            if self.held is not None and self.queue:  # (a WebSocket handshake, not answered yet)
                if rest:
                    self.held.append(rest)
                return None
            # What follows is another protocol: answer as plain HTTP/1.1, then close.
            if self.queue:
                self.queue[-1].keep_alive = False
            else:
                self.close()  # already answered
            return None
        exchange = self.upgrading
        self.parser = httptools.HttpRequestParser(self)
        again = rest if exchange is None else framing_head(exchange) + rest
        self._replay_from(again)
        return again

    def _parse_failed(self, error: httptools.HttpParserError, fed: bytes, begun: int) -> None:
        """The parser refused the input or a callback refused a request: answer, then close.

        ``fed`` is what the failed read fed the parser (``b""`` if ``replay`` holds it), and
        ``begun`` the count of requests begun before it.
        """
        cause = error.__context__
        if isinstance(cause, Refused):
            self._refuse(cause, fed, begun)
        elif "PRI" in str(error):  # (httptools stops at the HTTP/2 preface, RFC 9113 §3.4)
            self._refuse(Refused(505, _HTTP2_NOT_OFFERED), fed, begun)
        else:
            self._refuse(Refused(400, f"malformed request: {error}"), fed, begun)

    def _unregistered_method(
        self, error: httptools.HttpParserError, fed: bytes, begun: int
    ) -> bytes | None:
        """llhttp stopped at a method it does not know (it knows a fixed list): read it here.

        Any token is a method (RFC 9110 §9.1, §5.6.2; case-sensitive), and one a host does not
        implement reaches it all the same (to answer 501 or as a stub says). The request is
        found in what the parser was fed (:func:`message_start`), its method checked, and a
        new parser made, to be fed it again from there with STANDIN in the method's place (the
        real one is restored in :meth:`_other_method`): returns those bytes. A method still
        arriving waits for its end (``None``), as does a refused request.
        """
        window = self._window(fed, begun)
        start = None if window is None else message_start(*window)
        if window is None or start is None:
            self._parse_failed(error, fed, begun)
            return None
        message = window[0][start:]
        method, space, rest = message.partition(b" ")
        valid = TOKEN(method) is not None
        if not space and valid and len(message) <= self.limits.max_header_size:
            # The method may go on in the next read: the parser, stopped, fails so again.
            self.replay = [message]
            self.replay_size = len(message)
            self.window_begun = self.begun - 1
            return None
        if not valid:
            shown = method.decode("latin-1")
            self._refuse(
                Refused(
                    400,
                    f"malformed request: the method {shown!r} is not a token: letters, "
                    "digits and !#$%&'*+-.^_`|~ (RFC 9110 §9.1, §5.6.2)",
                ),
                fed,
                begun,
            )
            return None
        again = STANDIN + b" " + rest
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
        """A read ended inside a request: keep its bytes in ``replay`` (see message_start)."""
        if self.replay_skip is data:
            self.replay_skip = None
            return
        replay = self.replay
        if replay is LOST:
            return
        if not replay:
            self.window_begun = begun
            self.replay_size = 0
        replay.append(data)
        self.replay_size += len(data)
        if self.replay_size > REPLAY_MAX:
            self.replay = LOST

    def _window(self, fed: bytes, begun: int) -> tuple[bytes, int] | None:
        """The bytes since the parser was last between requests, and how many requests it
        began in them (``None``: more than REPLAY_MAX bytes, not kept)."""
        replay = self.replay
        if replay is LOST:
            return None
        if replay:
            return b"".join(replay) + fed, self.begun - self.window_begun
        return fed, self.begun - begun

    def _received_line(self, fed: bytes, begun: int) -> bytes:
        """The request line of the request being refused, as received (``b""``: not known)."""
        window = self._window(fed, begun)
        if window is None:
            return b""
        start = message_start(*window)
        return b"" if start is None else first_line(window[0][start:])

    def _refuse(self, refusal: Refused, fed: bytes, begun: int) -> None:
        """Malformed or over-limit input: record it, answer in turn with its status, close.

        ``fed`` and ``begun`` say where to find the request line (see _parse_failed).
        """
        self.broken = True
        # What the parser holds of a request line belongs to the request being parsed, if one
        # was begun; otherwise (bytes after a close, garbage) it is the previous request's.
        url = self.url if self.parsing is not None else b""
        exchange = self.parsing or self.new_exchange()
        line = self._received_line(fed, begun) if self.parsing is not None else b""
        self.parsing = None
        exchange.refusal = refusal
        exchange.keep_alive = False
        if not exchange.target:
            exchange.target = url.decode("latin-1")
        standin = self.standin
        if standin is not None and standin[0] == self.begun:
            # (fed again with STANDIN in its method's place: see _unregistered_method)
            if line.startswith(STANDIN):
                line = standin[1] + line[len(STANDIN) :]
            if not exchange.method and url:
                exchange.method = standin[1].decode("ascii")
        if not exchange.method and url:  # (the method precedes the target: parsed if it came)
            try:
                exchange.method = self.parser.get_method().decode("ascii", "replace")
            except httptools.HttpParserError:
                exchange.method = ""
        parts = line.split(b" ")
        if len(parts) == 3:  # (a target llhttp refused, such as one not in ASCII)
            if not exchange.method and TOKEN(parts[0]):
                exchange.method = parts[0].decode("ascii")
            if not exchange.target:
                exchange.target = parts[1].decode("latin-1")
        refused = exchange.refused = Request(
            method=exchange.method,
            target=exchange.target,
            headers=field_pairs(exchange.raw_fields),
            body=exchange.body,
            peer=self.peer,
            received_at=time.time(),
            scheme=self.scheme,
            tls=self.tls,
            error=refusal.reason,
            request_line=line.decode("latin-1"),
        )
        exchange.number = self.site.record(refused)
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

    def _send_refusal(self, exchange: HTTP1Exchange) -> None:
        refusal = exchange.refusal
        assert refusal is not None
        exchange.dispatched = True
        exchange.send_error(refusal.status, refusal.reason, close=True)

    # -- what llhttp lets through, and upgrades --------------------------------------------

    def _upgrade_offered(self, exchange: HTTP1Exchange) -> None:
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
            if exchange.method == "GET":
                self.held = []  # (a WebSocket handshake: see _ws/_handshake.py)
        elif exchange.content_length is not None or exchange.header(b"transfer-encoding"):
            # llhttp will end the request without its body: on_message_complete waits, and
            # _upgraded reads the body with a parser of its own.
            self.upgrading = exchange

    def _switches_protocol(self, exchange: HTTP1Exchange) -> bool:
        """Whether the bytes after ``exchange``'s head belong to another protocol.

        The one point where the connection decides to switch (RFC 9110 §7.8): a request that
        offers an upgrade (``Upgrade`` listed in ``Connection``) or a CONNECT (RFC 9110 §9.3.6).
        A WebSocket handshake on a server that serves WebSocket switches:
        ``router.upgrade(site, exchange)`` says so (see ``_site.Upgrade``), and the host that
        answers it takes the transport over after the 101. Any other upgrade is ignored (RFC
        9110 §7.8): the request is answered as any other, its body read by its framing, and the
        connection stays HTTP/1.1. CONNECT is not served, but what follows its head is the
        client's tunnel, never HTTP: it is answered, then the connection closes.
        """
        if exchange.method == "CONNECT":
            return True
        return self.router.upgrade(self.site, exchange) is not None

    def _other_method(self, method: bytes) -> str:
        """A method not in ``METHODS``, decoded; CONNECT is noted as a possible upgrade."""
        standin = self.standin
        if standin is not None and standin[0] == self.begun:  # (see _unregistered_method)
            return standin[1].decode("ascii")
        if method == b"CONNECT":
            self.connection_field |= UPGRADE
        return method.decode("ascii", "replace")

    def _check_version_and_host(self, exchange: HTTP1Exchange) -> None:
        """Refuse what httptools lets through but RFC 9112 forbids (the rare path)."""
        version = exchange.http_version
        if version not in ("1.0", "1.1"):
            raise Refused(505, f"HTTP/{version} is not supported; HTTP/1.1 is (RFC 9112 §2.3)")
        if self.hosts > 1 or (self.hosts == 0 and version == "1.1"):
            raise Refused(
                400,
                f"malformed request: {self.hosts} Host fields; exactly one is required "
                "(RFC 9112 §3.2)",
            )
        if version == "1.0" and exchange.header(b"transfer-encoding") is not None:
            raise Refused(
                400,
                "malformed request: Transfer-Encoding in an HTTP/1.0 request makes its framing "
                "faulty (RFC 9112 §6.1)",
            )
