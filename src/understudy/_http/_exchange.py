"""One request and its response on an HTTP/1.1 connection, made by the connection per request;
hosts answer through it (the ``_site.Exchange`` protocol). It frames the body (Content-Length,
chunked or close-delimited, RFC 9112 §6) and hands the bytes to its connection.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from .._core.framing import (
    LAST_CHUNK,
    BodyMode,
    Framing,
    encode_chunk,
    encode_head,
    plan_framing,
    reason_phrase,
)
from ._heads import HEADS, LARGE_WRITE, http_date, str_fields
from ._received import Peer, ReceivedRequest
from ._request import with_answer
from ._response import Response, memo_of

if TYPE_CHECKING:
    from .._core.faults import Ending
    from ._routing import Router
    from ._site import AnsweredBy, Site

__all__ = ["HTTP1Exchange", "Wire"]

_time = time.time

# The body modes as module globals: reading an Enum member off its class costs ten times more.
_LENGTH, _CHUNKED, _CLOSE, _NONE = BodyMode.LENGTH, BodyMode.CHUNKED, BodyMode.CLOSE, BodyMode.NONE


class Wire(Peer, Protocol):
    """What an :class:`HTTP1Exchange` uses of its connection (``HTTPConnection``)."""

    site: Site
    router: Router
    closing: bool
    #: The bytes queued in this loop iteration (see ``HTTPConnection.write``).
    out: list[bytes]

    def write(self, data: bytes) -> None: ...
    def close(self) -> None: ...
    def abort(self) -> None: ...
    async def drain(self) -> None: ...
    def exchange_finished(self, exchange: HTTP1Exchange) -> None: ...
    def cut(self, data: bytes, ending: Ending) -> None: ...


class HTTP1Exchange(ReceivedRequest):
    """One request and its response on an HTTP/1.1 connection: the :class:`~._site.Exchange`
    every host sees. Loop-side only unless noted. The request side is :class:`ReceivedRequest`."""

    __slots__ = (
        "answered_by",
        "dispatched",
        "done_listener",
        "finished",
        "framing",
        "head_sent",
        "number",
        "remaining",
        "sent",
    )

    conn: Wire

    def __init__(self, conn: Wire) -> None:
        super().__init__(conn)
        #: The journal entry's number while its answer is to be recorded (0: none, or done).
        self.number = 0
        #: What answers, when routing chose it; ``None``: the server's host of behaviour.
        self.answered_by: AnsweredBy | None = None
        #: What was sent before the request was journaled (a streaming host's early answer).
        self.sent: bytes | str | None = None
        self.dispatched = False
        self.head_sent = False
        self.finished = False
        self.framing: Framing | None = None
        #: Body bytes still to send when the head declared a Content-Length (-1: not so framed).
        self.remaining = -1
        self.done_listener: Callable[[], None] | None = None  # (once: response done or lost)

    def record_answer(self, sent: bytes | str | None, *, keep: bool = False) -> None:
        """Record in the request's journal entry what answered it (``keep``: in :attr:`request`
        too): ``sent`` is the response's head as written (or the fault's name), and this comes
        before its bytes are written, so once the client has the response the journal has it
        too. Once per exchange. Before the request is journaled (a streaming host may answer
        before the body is complete), ``sent`` is kept, and the connection records it then."""
        if sent is None:
            return
        number = self.number
        if not number:
            self.sent = sent
            return
        self.number = 0
        conn = self.conn
        by = self.answered_by or conn.router.host.answered_by
        request = self.request if keep else None  # (a WebSocket handshake's record keeps it)
        if request is not None:
            self._request = with_answer(request, (sent, *by))
        packed = self.packed
        if packed is not None:
            conn.site.journal.replace(number, (*packed, sent, *by))
        elif self.refused is not None:
            conn.site.journal.replace(number, with_answer(self.refused, (sent, *by)))

    def notify_done(self) -> None:
        listener, self.done_listener = self.done_listener, None
        if listener is not None:
            listener()

    def cut(self, data: bytes, ending: Ending) -> None:
        """A fault: finish, write ``data``, end the connection as ``ending`` says; nothing
        queued behind this exchange is answered (see ``_faults.apply_fault``)."""
        self.finished = True
        self.keep_alive = False
        self.notify_done()
        self.conn.cut(data, ending)

    @property
    def sends_body(self) -> bool:
        """The response begun has a body to send (not HEAD, 204, 304)."""
        framing = self.framing
        return framing is not None and framing.mode is not _NONE

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
        cache = memo_of(response)
        rendered = cache.get(key)
        if rendered is None or rendered[0] != second:
            conn = self.conn
            out, conn.out = conn.out, []
            try:
                fields = tuple(response.headers)
                self.start_memoized(response.status_code, response.reason, fields, len(body))
                head = b"".join(conn.out)  # (kept to record the answers the wire is sent as)
                if len(body) <= LARGE_WRITE:
                    self.write(body)  # (a large body is written apart, below: not copied)
                wire = b"".join(conn.out)
            finally:
                conn.out = out
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
            memoized = HEADS.get(key)
        except TypeError:  # fields that cannot be hashed (lists): framed without the memo
            reason = reason_phrase(status) if reason is None else reason
            self.start(status, reason, str_fields(fields), body_length)
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
        self._write_head(memoized[2], body, end=end)

    def _write_head(self, head: bytes, body: bytes | None, *, end: bool) -> None:
        """:meth:`start_memoized`'s end: write ``head`` (and ``body``), then end if asked."""
        conn = self.conn
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
        out, conn.out = conn.out, []
        try:
            self.start(
                status,
                reason_phrase(status) if reason is None else reason,
                str_fields(fields),
                body_length,
            )
            head = b"".join(conn.out)
        finally:
            conn.out = out
        framing = self.framing
        if framing is None or not head:
            return None
        if len(HEADS) > 64:
            HEADS.clear()
        memoized = HEADS[key] = (second, framing, head, self.remaining)
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
        self.send(Response(status, body=message + "\n"))

    async def drain(self) -> None:
        """Wait until the transport's write buffer is below its high-water mark."""
        await self.conn.drain()
