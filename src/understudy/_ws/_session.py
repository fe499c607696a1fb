"""One WebSocket connection after its handshake: websockets' sans-IO protocol on our loop.

The session is the transport's protocol once the HTTP/1.1 connection has switched (RFC 6455
§4.2.2). Frames are parsed and made by ``websockets``' ``ServerProtocol`` (masking, control
frames, automatic pong, close handshake, permessage-deflate, the size limit: 1009, protocol
errors: 1002); this module joins fragments, checks text is UTF-8 (1007), journals every message
and close, and hands messages to whatever serves the connection (an ASGI app, a handler, a
stub) through :meth:`WebSocketSession.receive`.
"""

from __future__ import annotations

import asyncio
import codecs
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal

from websockets.frames import Close, CloseCode, Frame, Opcode
from websockets.protocol import State

from .._reads import BufferedReads
from ._closes import send_close
from ._records import WebSocketClose, WebSocketConnection, add_pong, message_log
from ._types import HTTPConnection

if TYPE_CHECKING:
    from websockets.server import ServerProtocol

    from ._site import WebSocketSite

__all__ = ["CLOSE_TIMEOUT", "WebSocketSession"]

#: Seconds the server waits for the client's close frame after sending its own (then aborts).
CLOSE_TIMEOUT = 10.0
_TEXT, _BINARY, _CONT = Opcode.TEXT, Opcode.BINARY, Opcode.CONT
_CLOSE, _PING, _PONG = Opcode.CLOSE, Opcode.PING, Opcode.PONG
_OPEN = State.OPEN
_PONG_, _ENDS = b"\x8a", (b"\x88", b"")  # (a pong's first byte; a close's, b"": end of stream)


class WebSocketSession(BufferedReads):
    """The asyncio protocol of one open WebSocket connection (loop-side only): a buffered
    protocol, reading into the loop's one buffer (see :mod:`understudy._reads`)."""

    def __init__(
        self,
        site: WebSocketSite,
        conn: HTTPConnection,
        protocol: ServerProtocol,
        record: WebSocketConnection,
    ) -> None:
        self.site = site
        self.conn = conn
        self.protocol = protocol
        self.record = record
        self._number = record.number
        #: Each message, packed, goes to the connection's record and to the site's journal.
        self._log = message_log(record)
        self._journal = site.messages.append
        self.loop = conn.loop
        self.transport: asyncio.Transport | None = None
        #: What the consumer has not taken yet: messages, then the close at the end.
        self.inbox: deque[str | bytes | WebSocketClose] = deque()
        self._waiter: asyncio.Future[None] | None = None
        #: While the transport's buffer is full (``pause_writing``): a future, done on resume.
        self.paused: asyncio.Future[None] | None = None
        self._fragments: list[bytes] = []
        self._failed = False  # (the server failed the connection: nothing more is read)
        self._fragment_text = False
        self._decoder: codecs.IncrementalDecoder | None = None
        self._close_timer: asyncio.TimerHandle | None = None
        #: Who sent the first close frame ("client" or "server"), if any was sent.
        self.closed_first: str | None = None
        self.ended: WebSocketClose | None = None
        #: Faults: each message sent in this many frames; the client's close never answered.
        self.frames_per_message = 1
        self.ignore_close = False
        self.close_discarded = False
        self.ignore_pings = False
        #: Called with each message received instead of queueing it (a script without delay).
        self.on_message: Callable[[str | bytes], None] | None = None
        self._reading = False  # (in data_received: its end writes what was sent)
        self._unwritten = False  # (something the protocol made while reading is to be sent)
        self.done = self.loop.create_future()

    # -- asyncio.Protocol --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def answer_with(self, answer: Callable[[str | bytes], None]) -> None:
        """From now on hand each received message to ``answer`` as it is read, instead of
        queueing it; first the messages already queued (a client may send its first ones
        right behind its handshake, in the same read, before a stub's script is set)."""
        self.on_message = answer
        inbox = self.inbox
        while inbox and not isinstance(inbox[0], WebSocketClose):
            self._answer(answer, inbox.popleft())  # type: ignore[arg-type] # (not a close)

    def _answer(self, answer: Callable[[str | bytes], None], payload: str | bytes) -> None:
        try:
            answer(payload)
        except Exception as error:  # noqa: BLE001 - a reply callable's: for check()
            self.site.record_error(error)
            self._fail(CloseCode.INTERNAL_ERROR, "the stub's reply raised")

    def data_received(self, data: bytes) -> None:
        # What the frames of ``data`` make the protocol send (replies, pongs, a close) goes
        # out in one write at the end, not one per message. A read of data frames that were
        # not answered within it (an app's task answers later) leaves nothing to write.
        self._reading = True
        try:
            protocol = self.protocol
            protocol.receive_data(data)
            for frame in protocol.events_received():
                if self._failed:  # (frames of the same read after invalid UTF-8, say)
                    break
                if not isinstance(frame, Frame):
                    continue  # (no HTTP: the protocol starts open)
                opcode = frame.opcode
                if opcode is _TEXT or opcode is _BINARY:
                    text = self._fragment_text = opcode is _TEXT
                    if not frame.fin:  # (the first of a fragmented message)
                        self._decoder = codecs.getincrementaldecoder("utf-8")() if text else None
                        self._fragment(bytes(frame.data), False)
                        continue
                    payload = bytes(frame.data)  # (a whole message, the usual case)
                    if not text:
                        self._deliver(payload)
                        continue
                    try:
                        message = payload.decode("utf-8")
                    except UnicodeDecodeError as error:
                        self._invalid_utf8(error)
                        continue
                    self._deliver(message)
                elif opcode is _CONT:
                    self._fragment(bytes(frame.data), frame.fin)
                elif opcode is _PONG:
                    add_pong(self.record, time.time())
                    self.site.connections.changed()
                elif opcode is _PING:
                    if self.ignore_pings:  # (a fault: the read's pongs, not what else it made)
                        protocol.writes = [w for w in protocol.writes if w[:1] != _PONG_]
                    else:
                        self._unwritten = True  # (the automatic pong)
                elif opcode is _CLOSE:
                    if self.closed_first is None:
                        self.closed_first = "client"
                    if self.ignore_close and self.closed_first == "client":  # (not an answer)
                        protocol.writes = [w for w in protocol.writes if w[:1] not in _ENDS]
                        self.close_discarded = True  # (a fault: no close frame, no TCP close)
                        break
        finally:
            self._reading = False
        if self._unwritten or protocol.state is not _OPEN:  # (a close; an error: 1002...)
            self._unwritten = False
            self.flush()

    def eof_received(self) -> bool:
        self.protocol.receive_eof()
        self.flush()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if self._close_timer is not None:
            self._close_timer.cancel()
            self._close_timer = None
        protocol = self.protocol
        if protocol.state is not State.CLOSED:
            protocol.receive_eof()
            protocol.data_to_send()  # (nothing can be sent now)
        received, sent = protocol.close_rcvd, protocol.close_sent
        by: Literal["client", "server", "transport"]
        if self.closed_first == "client" and received is not None:
            first, by, answer = received, "client", None if self.close_discarded else sent
        elif self.closed_first == "server" and sent is not None:
            first, by, answer = sent, "server", received
        else:  # (1006: no close frame, RFC 6455 §7.1.5)
            first, by, answer = Close(CloseCode.ABNORMAL_CLOSURE, ""), "transport", None
        # (plain ints in the record: websockets gives a CloseCode for a code it knows)
        reply = None if answer is None else int(answer.code)
        ended = WebSocketClose(
            int(first.code), first.reason, by, reply is not None, time.time(), reply
        )
        self.ended = ended
        self.record.close = ended
        self.transport = None
        self.inbox.append(ended)
        self._wake()
        if self.paused is not None and not self.paused.done():
            self.paused.set_result(None)
        if not self.done.done():
            self.done.set_result(None)
        self.site.closed(self)
        self.conn.site.connections.pop(self, None)
        self.conn.connection_lost(exc)

    def pause_writing(self) -> None:
        if self.paused is None or self.paused.done():
            self.paused = self.loop.create_future()

    def resume_writing(self) -> None:
        if self.paused is not None and not self.paused.done():
            self.paused.set_result(None)

    # -- receiving ---------------------------------------------------------------------------

    def _fragment(self, data: bytes, fin: bool) -> None:
        """One frame of a fragmented message (RFC 6455 §5.4): text is checked as it comes."""
        decoder = self._decoder
        if decoder is not None:
            try:
                decoder.decode(data, final=fin)
            except UnicodeDecodeError as error:
                self._fragments.clear()
                self._invalid_utf8(error)
                return
        self._fragments.append(data)
        if fin:
            data = b"".join(self._fragments)
            self._fragments.clear()
            self._deliver(data.decode("utf-8") if self._fragment_text else data)

    def _invalid_utf8(self, error: UnicodeDecodeError) -> None:
        self._decoder = None
        self._fail(CloseCode.INVALID_DATA, f"invalid UTF-8 in a text message: {error.reason}")

    def _deliver(self, payload: str | bytes) -> None:
        """Journal a whole received message and hand it to its consumer."""
        packed = ("received", self._fragment_text, payload, time.time(), self._number)
        self._log(packed)
        self._journal(packed)
        answer = self.on_message
        if answer is not None:
            self._answer(answer, payload)  # (a script with no delay: no task to wake)
            return
        self.inbox.append(payload)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def arrival(self) -> asyncio.Future[None]:
        """A future done when the next message or the end arrives in :attr:`inbox` (for a
        consumer that found it empty; one consumer at a time)."""
        waiter: asyncio.Future[None] = self.loop.create_future()
        self._waiter = waiter
        return waiter

    async def receive(self) -> str | bytes | WebSocketClose:
        """The next message's payload from the client (``str``: text), or how the connection
        ended (then again)."""
        inbox = self.inbox
        while not inbox:
            await self.arrival()
        event = inbox[0]
        if not isinstance(event, WebSocketClose):
            inbox.popleft()
        return event

    # -- sending -----------------------------------------------------------------------------

    @property
    def open(self) -> bool:
        transport = self.transport
        return (
            self.protocol.state is State.OPEN
            and transport is not None
            and not transport.is_closing()
        )

    def send(self, data: str | bytes) -> bool:
        """Send one message (text for ``str``); ``False`` if the connection is not open."""
        protocol = self.protocol
        transport = self.transport
        if protocol.state is not _OPEN or transport is None or transport.is_closing():
            return False
        if isinstance(data, str):
            text, payload = True, data.encode("utf-8")
        else:
            text, payload = False, data
        frames = self.frames_per_message
        if frames > 1 and len(payload) >= frames:
            # (exactly ``frames`` frames, none empty; a fragment may split a UTF-8 sequence:
            # RFC 6455 §5.6 checks text only once the message is whole)
            size = len(payload)
            cuts = [size * index // frames for index in range(frames + 1)]
            first = protocol.send_text if text else protocol.send_binary
            first(payload[: cuts[1]], fin=False)
            for index in range(1, frames):
                protocol.send_continuation(
                    payload[cuts[index] : cuts[index + 1]], fin=index == frames - 1
                )
        elif text:
            protocol.send_text(payload)
        else:
            protocol.send_binary(payload)
        packed = ("sent", text, data, time.time(), self._number)
        self._log(packed)
        self._journal(packed)
        if self._reading:  # (data_received writes it, with the rest of the read)
            self._unwritten = True
        else:  # (open, checked above: nothing of a close to write)
            transport.write(b"".join(protocol.data_to_send()))
        return True

    async def drain(self) -> None:
        writable = self.paused
        if writable is not None and not writable.done():
            await writable

    def close(
        self, code: int = CloseCode.NORMAL_CLOSURE, reason: str = "", *, wait: bool = True
    ) -> None:
        """Start the closing handshake (RFC 6455 §7.1.2); the client's answer ends it, or an
        abort after ``CLOSE_TIMEOUT`` s (``wait=False``: no timer, the caller bounds it)."""
        if not self.open:
            return
        if self.closed_first is None:
            self.closed_first = "server"
        send_close(self.protocol, code, reason)
        self.flush()
        if wait and self.transport is not None and self._close_timer is None:
            self._close_timer = self.loop.call_later(CLOSE_TIMEOUT, self.abort)

    def write_raw(self, data: bytes) -> None:
        """Fault: write ``data`` as it is, past the protocol (a frame a client must refuse)."""
        if self.transport is not None and self.open:
            self.flush()  # (what was sent before it goes first)
            self.transport.write(data)

    def ping(self) -> None:
        """Send a ping (RFC 6455 §5.5.2) whose payload is its number; the pong is recorded."""
        if not self.open:
            return
        self.record.pings += 1
        self.protocol.send_ping(str(self.record.pings).encode("ascii"))
        self.flush()

    def _fail(self, code: int, reason: str) -> None:
        self._failed = True
        if self.closed_first is None:
            self.closed_first = "server"
        self.protocol.fail(code, reason)
        self.flush()

    def shutdown(self) -> None:
        """On stop(): close with 1001 Going Away (RFC 6455 §7.4.1); see :meth:`going_away`."""
        if self.going_away():
            self.flush()

    def going_away(self) -> bool:
        """Make the 1001, not written yet: whether there is one for :meth:`flush` to write (and
        to mark the server as the side that closed first). A connection already closing (a close
        frame unanswered either way) ends now. stop()'s deadline bounds the wait for the
        client's close frame (``WebSocketSite.closing_handshakes``)."""
        if self.open:
            self.protocol.send_close(CloseCode.GOING_AWAY, "the server is stopping")
            return True
        if self.transport is not None:
            self.transport.close()
        return False

    @property
    def busy(self) -> bool:
        """Never: what a WebSocket handler does is in flight apart (``Site.inflight``)."""
        return False

    def hand_over(self) -> None:
        """Nothing is held back: each frame is written to the transport as it is made."""

    def abort(self) -> None:
        """End the TCP connection now, without a close frame (what was sent is written)."""
        if self.transport is not None:
            self.flush()
            if self.transport is not None:
                self.transport.abort()

    def flush(self) -> None:
        """Write what the protocol has to send; an empty piece means: close the TCP side."""
        transport = self.transport
        pieces = self.protocol.data_to_send()
        if transport is None or not pieces or transport.is_closing():
            return
        if self.protocol.close_sent is not None and self.closed_first is None:
            self.closed_first = "server"  # (a limit or protocol error made websockets fail)
        end = pieces[-1] == b""
        data = pieces[0] if len(pieces) == 1 else b"".join(pieces)
        if data:
            transport.write(data)
        if end:
            transport.close()
