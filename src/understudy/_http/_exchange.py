"""One request and its response on an HTTP/1.1 connection: the response framed as the head says.

An :class:`Exchange` is made by the connection (``_connection.py``) for each request it parses;
hosts answer through it: :meth:`Exchange.send` a whole response, or :meth:`Exchange.start`,
:meth:`Exchange.write` and :meth:`Exchange.end` one in pieces. It frames the body (Content-Length,
chunked or close-delimited, RFC 9112 §6) and hands the bytes to its connection, which writes what
one loop iteration produced in one send.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from .._core.framing import (
    LAST_CHUNK,
    BodyMode,
    Framing,
    encode_chunk,
    encode_head,
    imf_fixdate,
    plan_framing,
    reason_phrase,
)
from ._request import PackedRequest, Request, unpack_request
from ._response import Response

#: What answered an exchange: a kind and a detail (see ResponseRecord.answered_by, .detail).
AnsweredBy = tuple[str, str]

if TYPE_CHECKING:
    from ._connection import HTTPConnection, _Refused

__all__ = ["LARGE_WRITE", "Exchange", "http_date"]

#: Bytes beyond which a body is written apart from its head, never copied into one piece with
#: it, and handed to the transport in slices of this size as the client reads (see
#: HTTPConnection.flush): a body a client does not read then costs its connection one slice,
#: and a canned body stays one object however many clients are slow to read it.
LARGE_WRITE = 256 * 1024

_date_cache: tuple[int, str] = (0, "")
_time = time.time

# The body modes as module globals: reading an Enum member off its class costs ten times more.
_LENGTH = BodyMode.LENGTH
_CHUNKED = BodyMode.CHUNKED
_CLOSE = BodyMode.CLOSE


def http_date() -> str:
    """The current time as an IMF-fixdate (RFC 9110 §5.6.7), computed once a second."""
    global _date_cache  # noqa: PLW0603 - a per-second cache shared by every connection
    now = int(_time())
    if _date_cache[0] != now:
        _date_cache = (now, imf_fixdate(now))
    return _date_cache[1]


#: Rendered response heads, by what they depend on (see Exchange.start_memoized); shared by
#: every server, as all run on the runtime's one loop.
#: Each is (the second it was rendered in, the framing, the head, the Content-Length it declares
#: or -1 when the body is not framed by one).
_HEADS: dict[tuple[object, ...], tuple[int, Framing, bytes, int]] = {}


def _str_fields(
    fields: tuple[tuple[bytes, bytes], ...] | tuple[tuple[str, str], ...],
) -> list[tuple[str, str]]:
    """Fields as str pairs (bytes ones decoded as Latin-1, RFC 9110 §5.5)."""
    return [
        (
            name if isinstance(name, str) else bytes(name).decode("latin-1"),
            value if isinstance(value, str) else bytes(value).decode("latin-1"),
        )
        for name, value in fields
    ]


class Exchange:
    """One request and its response on a connection. Loop-side only unless noted."""

    __slots__ = (
        "_request",
        "answered_by",
        "body_listener",
        "body_parts",
        "body_size",
        "complete",
        "conn",
        "content_length",
        "dispatched",
        "done_listener",
        "finished",
        "framing",
        "head_sent",
        "http_version",
        "keep_alive",
        "method",
        "number",
        "packed",
        "raw_fields",
        "refusal",
        "refused",
        "remaining",
        "sent",
        "target",
    )

    def __init__(self, conn: HTTPConnection) -> None:
        self.conn = conn
        self.method = ""
        self.target = ""
        #: The field lines as received, flat: name, value, name, value... (bytes).
        self.raw_fields: list[bytes] = []
        #: The request's Content-Length field value as sent (``None``: none).
        self.content_length: bytes | None = None
        self.http_version = "1.1"
        self.keep_alive = True
        self.body_parts: list[bytes] = []
        self.body_size = 0
        self.complete = False
        #: The request as the journal keeps it, once complete and well-formed.
        self.packed: PackedRequest | None = None
        self._request: Request | None = None
        self.refusal: _Refused | None = None
        #: The journal entry's number (Journal.append) while its answer is to be recorded
        #: (0: not journaled, or already answered).
        self.number = 0
        #: What answers, when routing chose it; ``None``: the server's host of behaviour.
        self.answered_by: AnsweredBy | None = None
        #: The request as journaled when it was refused (malformed or over a limit).
        self.refused: Request | None = None
        #: What was sent before the request was journaled (a streaming host's early answer).
        self.sent: bytes | str | None = None
        self.dispatched = False
        self.head_sent = False
        self.finished = False
        self.framing: Framing | None = None
        #: Body bytes still to send when the head declared a Content-Length (-1: not so framed).
        self.remaining = -1
        #: Called with each body chunk, then with ``None`` at the end (for streaming hosts).
        self.body_listener: Callable[[bytes | None], None] | None = None
        #: Called once when the response is finished or the connection is gone.
        self.done_listener: Callable[[], None] | None = None

    def record_answer(self, sent: bytes | str | None) -> None:
        """Record in the request's journal entry what answered it: ``sent`` is the response's
        head as written (or the fault's name), and this comes before its bytes are written,
        so once the client has the response the journal has it too. Once per exchange.

        Before the request is journaled (a streaming host may answer before the body is
        complete), ``sent`` is kept, and the connection records it when it journals it.
        """
        if sent is None:
            return
        number = self.number
        if not number:
            self.sent = sent
            return
        self.number = 0
        server = self.conn.server
        by = self.answered_by or server._host_of_behaviour.answered_by
        packed = self.packed
        if packed is not None:
            server._journal.replace(number, (*packed, sent, *by))
        elif self.refused is not None:
            server._journal.replace(number, self.refused._with_answer((sent, *by)))

    def notify_done(self) -> None:
        listener, self.done_listener = self.done_listener, None
        if listener is not None:
            listener()

    # -- request side ------------------------------------------------------------------------

    @property
    def request(self) -> Request | None:
        """The request, once complete and well-formed (made on first use: most hosts need none)."""
        request = self._request
        if request is None and self.packed is not None:
            request = self._request = unpack_request(self.packed, self.conn.tls)
        return request

    @property
    def body(self) -> bytes:
        """The body received so far."""
        return b"".join(self.body_parts)

    def header(self, name: bytes) -> bytes | None:
        """The first value of a request field by lower-case name."""
        raw = self.raw_fields
        for index in range(0, len(raw), 2):
            if raw[index].lower() == name:
                return raw[index + 1]
        return None

    def listen_to_body(self, listener: Callable[[bytes | None], None]) -> None:
        """Feed ``listener`` every body chunk, those already received first, then ``None``."""
        for part in self.body_parts:
            listener(part)
        if self.complete:
            listener(None)
        else:
            self.body_listener = listener

    # -- response side -----------------------------------------------------------------------

    def send(self, response: Response) -> None:
        """Send a complete response whose body is bytes, then finish.

        The bytes on the wire depend only on the response, the request's method (HEAD or not),
        its HTTP version, persistence and the Date (which changes once a second), so they are
        rendered once per such combination and kept on the response: a fixed response answered
        many times costs one write per request.
        """
        body = response.body
        if not isinstance(body, bytes):
            raise TypeError("Exchange.send takes a response with a bytes body")
        if self.head_sent or self.finished:
            return
        keep_alive = self.keep_alive and not self.conn.closing and self.complete
        key = (self.method == "HEAD", self.http_version, keep_alive)
        second = int(_time())  # the Date field changes once a second
        cache = response._cache
        rendered = cache.get(key)
        if rendered is None or rendered[0] != second:
            conn = self.conn
            out, conn._out = conn._out, []
            try:
                fields = tuple(response.headers)
                self.start_memoized(response.status, response.reason, fields, len(body))
                head = b"".join(conn._out)  # (kept to record the answers the wire is sent as)
                if len(body) <= LARGE_WRITE:
                    self.write(body)  # (a large body is written apart, below: not copied)
                wire = b"".join(conn._out)
            finally:
                conn._out = out
            if self.framing is None or not wire:  # the connection is gone: nothing to keep
                self.end()
                return
            if len(cache) > 8:
                cache.clear()
            cache[key] = (second, wire, self.framing, self.remaining, head)
        else:
            _, wire, self.framing, self.remaining, head = rendered
            self.keep_alive = self.framing.keep_alive
            self.head_sent = True
            if self.conn.transport is not None:
                self.record_answer(head)
        self.conn.write(wire)
        if len(body) > LARGE_WRITE:
            self.write(body)
        self.end()

    def start(
        self, status: int, reason: str, fields: list[tuple[str, str]], body_length: int | None
    ) -> None:
        """Send the status line and fields; ``body_length`` None streams the body."""
        if self.head_sent or self.finished:
            return
        keep_alive = self.keep_alive and not self.conn.closing
        if not self.complete:
            # The rest of the request body would be read as the next request: close after.
            keep_alive = False
        framing = plan_framing(
            status,
            fields,
            body_length=body_length,
            request_method=self.method,
            http_version=self.http_version,
            keep_alive=keep_alive,
        )
        self.framing = framing
        self.keep_alive = framing.keep_alive
        if framing.mode is _LENGTH:
            self.remaining = framing.length if framing.length is not None else 0
        date = [("Date", http_date())] if not any(k.lower() == "date" for k, _ in fields) else []
        self.head_sent = True
        head = encode_head(status, reason, fields, [*date, *framing.extra_fields])
        if self.conn.transport is not None:
            self.record_answer(head)
        self.conn.write(head)

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
        """:meth:`start`, remembering the rendered head in the server's memo of heads.

        ``fields`` are pairs of bytes (as ASGI gives them) or of str; ``reason`` ``None`` is
        the registered phrase. The head depends only on the arguments, the request's method
        (HEAD or not), version and persistence, and the Date (which changes once a second): a
        handler or app that answers alike every time (most do) then costs one lookup per
        response instead of framing and encoding.

        Fields that cannot be hashed (pairs given as lists) are framed without the memo.
        ``body``, if given, is the whole body (``body_length`` is its length): it is written
        with the head, as :meth:`write` would. ``end`` then ends the response (:meth:`end`).
        """
        if self.head_sent or self.finished:
            if end:
                self.end()
            return
        conn = self.conn
        second = int(_time())  # the Date field changes once a second
        key = (
            status,
            reason,
            fields,
            body_length,
            self.method == "HEAD",
            self.http_version,
            self.keep_alive and not conn.closing and self.complete,
        )
        try:
            memoized = _HEADS.get(key)
        except TypeError:  # fields that cannot be hashed (lists): framed without the memo
            reason = reason_phrase(status) if reason is None else reason
            self.start(status, reason, _str_fields(fields), body_length)
            memoized = None
        else:
            if memoized is None or memoized[0] != second:
                memoized = self._render_head(key, second, status, reason, fields, body_length)
            else:
                _, framing, head, self.remaining = memoized
                self.framing = framing
                self.keep_alive = framing.keep_alive
                self.head_sent = True
                if conn.transport is not None:
                    self.record_answer(head)
        if memoized is None:  # (framed without the memo, or the connection is gone)
            if body:
                self.write(body)
            if end:
                self.end()
            return
        head = memoized[2]
        if body:
            # (remaining is -1 unless framed by this Content-Length; a large body goes apart)
            if self.remaining == len(body) <= LARGE_WRITE:
                # The usual small response: one piece to write, and (end) nothing left to frame.
                self.remaining = 0
                conn.write(head + body)
                if end:
                    self.finished = True
                    listener = self.done_listener
                    if listener is not None:
                        self.done_listener = None
                        listener()
                    conn.exchange_finished(self)
                return
            conn.write(head)
            self.write(body)
        else:
            conn.write(head)
        if end:
            self.end()

    def _render_head(  # noqa: PLR0917 - start_memoized's arguments, passed on
        self,
        key: tuple[object, ...],
        second: int,
        status: int,
        reason: str | None,
        fields: tuple[tuple[bytes, bytes], ...] | tuple[tuple[str, str], ...],
        body_length: int | None,
    ) -> tuple[int, Framing, bytes, int] | None:
        """:meth:`start`, with the head kept in the memo of heads under ``key``, not written.

        Returns the memo's entry, or ``None`` if the connection is gone (nothing is kept then).
        """
        conn = self.conn
        out, conn._out = conn._out, []
        try:
            self.start(
                status,
                reason_phrase(status) if reason is None else reason,
                _str_fields(fields),
                body_length,
            )
            head = b"".join(conn._out)
        finally:
            conn._out = out
        framing = self.framing
        if framing is None or not head:
            return None
        if len(_HEADS) > 64:
            _HEADS.clear()
        memoized = _HEADS[key] = (second, framing, head, self.remaining)
        return memoized

    def write(self, data: bytes) -> None:
        """Send a piece of the body (framed as the head decided).

        With a declared Content-Length, bytes beyond it are not sent: they would be read as the
        start of the next response.
        """
        framing = self.framing
        if framing is None or self.finished or not data:
            return
        mode = framing.mode
        if mode is _CHUNKED:
            self.conn.write(encode_chunk(data))
        elif mode is _LENGTH:
            remaining = self.remaining
            if len(data) > remaining:
                data = data[:remaining]
            self.remaining = remaining - len(data)
            if data:
                self.conn.write(data)
        elif mode is _CLOSE:
            self.conn.write(data)

    def end(self) -> None:
        """Finish the response and let the connection go on to the next request.

        A body shorter than its declared Content-Length ends the connection, which tells the
        client that the response is incomplete (RFC 9112 §8).
        """
        if self.finished:
            return
        framing = self.framing
        if framing is not None:
            if framing.mode is _CHUNKED:
                self.conn.write(LAST_CHUNK)
            elif self.remaining > 0:
                self.keep_alive = False
        self.finished = True
        listener = self.done_listener
        if listener is not None:
            self.done_listener = None
            listener()
        self.conn.exchange_finished(self)

    def abort(self) -> None:
        """End the connection: the response cannot be completed (an app failed mid-body).

        What was sent is delivered, then the connection closes: the client sees a chunked body
        without its last chunk, or fewer bytes than the Content-Length, so it knows the
        response is incomplete (RFC 9112 §8). A close-delimited body would look complete after
        a close, so it, and a response not begun, end with a reset instead.
        """
        self.finished = True
        self.notify_done()
        framing = self.framing
        if framing is not None and framing.mode in (_CHUNKED, _LENGTH):
            self.keep_alive = False
            self.conn.close()
        else:
            self.conn.abort()

    def send_error(self, status: int, message: str, *, close: bool = False) -> None:
        """Send a plain-text error response (the message and a newline), if not too late."""
        if self.head_sent:
            self.abort()
            return
        if close:
            self.keep_alive = False
        self.send(Response(status, message + "\n"))

    async def drain(self) -> None:
        """Wait until the transport's write buffer is below its high-water mark."""
        await self.conn.drain()
