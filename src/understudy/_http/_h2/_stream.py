"""One HTTP/2 stream as an :class:`~understudy._http._exchange.Exchange`: what hosts answer through.

Hosts (canned responses, handlers, WSGI, ASGI, expectations, directories) answer an HTTP/2
request exactly as an HTTP/1.1 one: :meth:`H2Exchange.send` a whole response, or
:meth:`~H2Exchange.start`, :meth:`~H2Exchange.write` and :meth:`~H2Exchange.end`. What differs is
underneath: the head becomes a HEADERS frame (``:status`` and lower-case names, no reason
phrase, none of the connection-specific fields RFC 9113 §8.2.2 forbids), the body DATA frames
sent as the stream's flow-control window allows (RFC 9113 §5.2), and the end END_STREAM or a
trailer section (§8.1). The journal records the head as an HTTP/1.1-style head with an empty
reason, so ``request.response`` reads the same over both versions.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import TYPE_CHECKING, Protocol, cast

import h2.exceptions

from ..._core.framing import BodyMode, encode_head, plan_framing
from .._exchange import HTTP1Exchange
from .._heads import http_date, str_fields
from .._response import Response

if TYPE_CHECKING:
    import h2.connection

    from ..._core.faults import Ending
    from ..._tls import TLSInfo
    from .._exchange import Wire

__all__ = ["CONNECTION_SPECIFIC", "H2Exchange", "Streams"]

#: Fields an HTTP/2 message must not carry (RFC 9113 §8.2.2): a response that has them (a
#: WSGI app's ``Connection: close``) is sent without them.
CONNECTION_SPECIFIC = frozenset(
    {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"}
)

_LENGTH = BodyMode.LENGTH
_NONE = BodyMode.NONE


class Streams(Protocol):
    """What an :class:`H2Exchange` (and a fault) uses of its connection (``H2Connection``)."""

    h2: h2.connection.H2Connection
    transport: asyncio.Transport | None
    streams: dict[int, H2Exchange]
    closing: bool
    broken: bool
    windows_closed: bool
    peer: tuple[str, int] | None
    scheme: str
    tls: TLSInfo | None

    def send_headers(
        self, exchange: H2Exchange, headers: list[tuple[bytes, bytes]], *, end_stream: bool
    ) -> None: ...
    def reset_stream(self, exchange: H2Exchange, error_code: int) -> None: ...
    def forget_if_done(self, exchange: H2Exchange) -> None: ...
    def gone(self, exchange: H2Exchange) -> None: ...
    def wrote(self) -> None: ...
    async def drain(self, exchange: H2Exchange) -> None: ...
    def write(self, data: bytes) -> None: ...
    def close(self) -> None: ...
    def abort(self) -> None: ...
    def goaway(self, last_stream_id: int, error_code: int = 0) -> None: ...
    def cut(self, exchange: H2Exchange, data: bytes, ending: Ending) -> None: ...


class H2Exchange(HTTP1Exchange):
    """One request and its response on an HTTP/2 stream. Loop-side only."""

    __slots__ = (
        "drained",
        "ending",
        "fault",
        "h2conn",
        "pending",
        "pending_size",
        "stream_id",
        "trailers",
    )

    def __init__(self, conn: Streams, stream_id: int) -> None:
        # (Hosts read conn.server, .peer, .scheme, .tls and .transport, which an H2Connection
        # has as an HTTPConnection does; the Exchange's own writes are all overridden here.)
        super().__init__(cast("Wire", conn))
        self.h2conn = conn
        self.stream_id = stream_id
        self.http_version = "2"
        #: Body bytes waiting for flow-control window (RFC 9113 §5.2).
        self.pending: deque[bytes | memoryview] = deque()
        self.pending_size = 0
        #: The response ended (end/send) and END_STREAM goes once ``pending`` is sent.
        self.ending = False
        #: A trailer section to end the stream with instead of END_STREAM (RFC 9113 §8.1).
        self.trailers: list[tuple[bytes, bytes]] | None = None
        #: Set when ``pending`` is sent (drain waits on it).
        self.drained: asyncio.Future[None] | None = None
        #: The fault's name, as apply_fault records it just before cut() (see cut).
        self.fault = ""

    def record_answer(self, sent: bytes | str | None, *, keep: bool = False) -> None:
        """As HTTP/1.1's; a fault's name is also kept for :meth:`cut`."""
        if isinstance(sent, str):
            self.fault = sent
        super().record_answer(sent, keep=keep)

    def cut(self, data: bytes, ending: Ending) -> None:
        """A fault (``_faults.apply_fault``): carried out on this stream as HTTP/2 does
        (``_h2/_faults.py``), after the fault's name recorded just before."""
        self.h2conn.cut(self, data, ending)

    # -- response side -----------------------------------------------------------------------

    def send(self, response: Response) -> None:
        """Send a complete response whose body is bytes, then finish."""
        body = response.body
        if not isinstance(body, bytes):
            raise TypeError("Exchange.send takes a response with a bytes body")
        if self.head_sent or self.finished:
            return
        self.start(response.status_code, response.reason, list(response.headers), len(body))
        self.queue(body)
        self.end()  # (one flow: the body's last DATA frame carries END_STREAM)

    def start(
        self, status: int, reason: str, fields: list[tuple[str, str]], body_length: int | None
    ) -> None:
        """Send the HEADERS frame; ``body_length`` None streams the body (DATA frames)."""
        if self.head_sent or self.finished:
            return
        framing = plan_framing(
            status,
            fields,
            body_length=body_length,
            request_method=self.method,
            http_version="1.1",
            keep_alive=True,
        )
        self.framing = framing
        if framing.mode is _LENGTH:
            self.remaining = framing.length if framing.length is not None else 0
        sent: list[tuple[str, str]] = []
        has_date = False
        for name, value in fields:
            lower = name.lower()
            if lower in CONNECTION_SPECIFIC:
                continue
            if lower == "date":
                has_date = True
            sent.append((lower, value))
        if not has_date:
            sent.insert(0, ("date", http_date()))
        for name, value in framing.extra_fields:
            if name == "Content-Length":
                sent.append(("content-length", value))
        self.head_sent = True
        if self.conn.transport is not None:
            # (an HTTP/1.1-style head for the journal: HTTP/2 has no reason phrase)
            self.record_answer(encode_head(status, "", sent))
        headers = [(b":status", b"%d" % status)]
        headers += [
            (name.encode("latin-1", "replace"), value.encode("latin-1", "replace"))
            for name, value in sent
        ]
        self.h2conn.send_headers(self, headers, end_stream=False)

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
        """:meth:`start` (HPACK does what the memo of heads does for HTTP/1.1), then
        ``body`` and, with ``end``, :meth:`end`."""
        if not (self.head_sent or self.finished):
            self.start(status, reason or "", str_fields(fields), body_length)
        if body and self.queue(body) and not end:
            self.flow()
        if end:
            self.end()

    def write(self, data: bytes) -> None:
        """Send a piece of the body as DATA frames, as the flow-control windows allow.

        Bytes beyond a declared Content-Length are not sent (RFC 9113 §8.1.1 makes a stream
        whose DATA disagree with it malformed); a response without content sends none.
        """
        if self.queue(data):
            self.flow()

    def queue(self, data: bytes) -> bool:
        """Add ``data`` to the body waiting to be sent (as :meth:`write` says); whether any was."""
        framing = self.framing
        if framing is None or self.finished or not data or framing.mode is _NONE:
            return False
        if framing.mode is _LENGTH:
            remaining = self.remaining
            if len(data) > remaining:
                data = data[:remaining]
            self.remaining = remaining - len(data)
            if not data:
                return False
        self.pending.append(data)
        self.pending_size += len(data)
        return True

    def end(self) -> None:
        """Finish the response: END_STREAM (or the trailers) once the body is sent.

        A body shorter than its declared Content-Length resets the stream (INTERNAL_ERROR), so
        the client knows the response is incomplete.
        """
        if self.finished:
            return
        if self.framing is None:
            self.start(200, "", [], 0)
        if self.remaining > 0:
            self.abort()
            return
        self.finished = True
        self.ending = True
        self.notify_done()
        self.flow()

    def send_trailers(self, fields: list[tuple[bytes, bytes]], more: bool = False) -> None:
        """End the response with a trailer section (RFC 9113 §8.1; ASGI's
        ``http.response.trailers``) once the body is sent; with ``more`` (ASGI's
        ``more_trailers``), keep ``fields`` and wait for the rest of the section."""
        trailers = self.trailers if self.trailers is not None else []
        trailers += [(bytes(name).lower(), bytes(value)) for name, value in fields]
        self.trailers = trailers
        if not more:
            self.end()

    def abort(self) -> None:
        """The response cannot be completed: reset the stream (RST_STREAM INTERNAL_ERROR).

        Only this stream ends; the connection and its other streams go on (RFC 9113 §5.4.2).
        """
        self.finished = True
        self.notify_done()
        self.h2conn.reset_stream(self, 0x2)

    def send_error(self, status: int, message: str, *, close: bool = False) -> None:
        """Send a plain-text error response (the message and a newline), if not too late.

        ``close`` has no meaning for a stream: the connection's other streams go on.
        """
        if self.head_sent:
            self.abort()
            return
        self.send(Response(status, body=message + "\n"))

    def flow(self) -> None:
        """Send what the stream's window allows of its body; its end once all of it is sent."""
        exchange = self
        h2conn = self.h2conn
        conn = h2conn.h2
        stream_id = self.stream_id
        pending = self.pending
        try:
            while pending:
                window = min(
                    conn.local_flow_control_window(stream_id), conn.max_outbound_frame_size
                )
                if window <= 0:
                    break
                piece = pending[0]
                if len(piece) > window:
                    view = memoryview(piece)
                    pending[0] = view[window:]
                    piece = view[:window]
                else:
                    pending.popleft()
                exchange.pending_size -= len(piece)
                if not pending and exchange.ending and exchange.trailers is None:
                    # The last piece carries END_STREAM: one frame the less (RFC 9113 §6.1).
                    exchange.ending = False
                    conn.send_data(stream_id, piece, end_stream=True)
                    h2conn.forget_if_done(exchange)
                else:
                    conn.send_data(stream_id, piece)
            if not pending and exchange.ending:
                exchange.ending = False
                if exchange.trailers is not None:
                    conn.send_headers(stream_id, exchange.trailers, end_stream=True)
                else:
                    conn.end_stream(stream_id)
                h2conn.forget_if_done(exchange)
        except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError):
            h2conn.gone(exchange)
        if not pending:
            drained = exchange.drained
            if drained is not None and not drained.done():
                drained.set_result(None)
        h2conn.wrote()

    async def drain(self) -> None:
        """Wait until this stream's body is sent (its window) and the transport has room."""
        await self.h2conn.drain(self)
