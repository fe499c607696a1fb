"""When an HTTP/1.1 connection gives up on its client: malformed or over-limit input and timeouts.

Malformed input is answered with the right 4xx status, recorded in the journal, and the
connection is closed; llhttp stops at an upgrade and at a method it does not know, and the
connection goes on with a new parser. To record a refused request's line, the bytes fed since
the parser was last between requests are kept (``replay``). The timers: one per connection,
checked lazily; changing what the connection waits for only sets a deadline.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

import httptools

from ._exchange import HTTP1Exchange
from ._models import Request, field_pairs
from ._parsing import LOST, REPLAY_MAX, STANDIN, TOKEN, first_line, framing_head, message_start
from ._refusal import Refused
from ._writer import ResponseWriter

if TYPE_CHECKING:
    from .._tls import TLSInfo
    from ._limits import Limits
    from ._site import Site

__all__ = ["Refusals"]


class Refusals(ResponseWriter):
    """The error path and the timers of ``HTTPConnection`` (which sets the attributes below)."""

    site: Site
    limits: Limits
    scheme: str
    client: tuple[str, int] | None
    tls: TLSInfo | None
    clock: Callable[[], float]
    parser: httptools.HttpRequestParser
    queue: deque[HTTP1Exchange]
    parsing: HTTP1Exchange | None
    upgrading: HTTP1Exchange | None
    answered: HTTP1Exchange | None
    url: bytes
    begun: int
    switching: bool
    broken: bool
    reading_paused: bool

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
        # Timeouts (seconds; loop time). One timer per connection, checked lazily: changing what
        # the connection waits for only sets a deadline; the timer re-arms itself when it fires.
        self.waiting: str | None = None  # "idle", "header", "body" or None (a request is handled)
        self.read_deadline = 0.0
        self.send_deadline = 0.0
        self.timer: asyncio.TimerHandle | None = None

    def new_exchange(self) -> HTTP1Exchange:
        """An exchange on this connection (``HTTPConnection`` makes them)."""
        raise NotImplementedError

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
            # What follows is another protocol: answer as plain HTTP/1.1, then close.
            self.broken = True
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
            client=self.client,
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
        when = min(deadline, self.clock() + self.limits.shortest_timeout)
        self.timer = self.loop.call_at(when, self._on_timer)

    def _on_timer(self) -> None:
        self.timer = None
        if self.transport is None:
            return
        now = self.clock()
        limits = self.limits
        if self.send_deadline:
            if now >= self.send_deadline:
                self._send_timed_out()
                return
            self._arm(self.send_deadline)
        waiting = self.waiting
        if waiting is None or self.broken:
            return
        if self.reading_paused:  # the server, not the client, is holding back
            self._arm(now + limits.shortest_timeout)
            return
        if now < self.read_deadline:
            self._arm(self.read_deadline)
            return
        self.waiting = None
        if waiting == "idle":
            self.close()  # RFC 9112 §9.3: a server may close an idle connection
        elif waiting == "header":
            self._refuse(
                Refused(
                    408,
                    f"the header section was not received within header_timeout "
                    f"({limits.header_timeout:g} s)",
                ),
                b"",
                0,
            )
        else:
            self._refuse(
                Refused(
                    408,
                    f"the request body stalled: no bytes for idle_timeout "
                    f"({limits.idle_timeout:g} s)",
                ),
                b"",
                0,
            )

    def _send_timed_out(self) -> None:
        """The client has not read the response for ``send_timeout``: record it and abort."""
        exchange = self.queue[0] if self.queue else self.answered
        self.site.record(
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
                f"({self.limits.send_timeout:g} s); the connection was aborted",
            )
        )
        self.abort()
