"""How long an HTTP/2 connection waits for its client, and what it journals when it gives up.

The three limits of HTTP/1.1 (``_http/_timeouts.py``), per connection, checked lazily by one
timer that fires at least once every shortest timeout:

- ``header_timeout``: a frame begun and not finished for that long (a HEADERS frame sent
  slowly, as a slowloris sends its header section), or a header block whose CONTINUATION
  frames stop coming before END_HEADERS (RFC 9113 §6.10: nothing else may come meanwhile, so
  the connection is stuck): journaled with ``error`` set, then GOAWAY PROTOCOL_ERROR and a
  close.
- ``idle_timeout``: no byte for that long. A stream whose body is being received is answered
  408 on its stream and journaled with ``error`` (the body stalled, RFC 9110 §15.5.9); with no
  stream open, the connection closes (GOAWAY NO_ERROR, as an idle HTTP/1.1 one closes).
- ``send_timeout``: the transport's buffer full (the client reads nothing) for that long: the
  connection is journaled with ``error`` set and aborted.

And one more, only while ``stop()`` runs (:meth:`Timers.watch_stalls`): a stream whose body the
client's flow-control window holds back and that has taken nothing for ``_STALLED`` seconds is
reset (CANCEL). A client that stops reading over HTTP/2 stops opening the window rather than
filling the transport's buffer, so it is cut off as ``stop()`` cuts off an HTTP/1.1 one.

A connection error (h2's ``ProtocolError``: a bad frame, a header list over ``max_header_size``,
an HPACK bomb) is journaled too, with the GOAWAY code sent (:func:`connection_error`); so is a
header block whose frames carry more than ``max_header_size`` bytes before END_HEADERS (a
CONTINUATION flood, RFC 9113 §10.5: GOAWAY ENHANCE_YOUR_CALM before h2 buffers more of it).
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

import h2.errors

from ..._waits import end
from .._request import Request
from ._output import Output
from ._requests import refused

if TYPE_CHECKING:
    import h2.exceptions

    from ..._tls import TLSInfo
    from .._limits import Limits
    from .._site import Site
    from ._stream import H2Exchange

__all__ = ["Timers", "connection_error"]

#: Frame types (RFC 9113 §6.2, §6.10) and the flag that ends a header block.
_HEADERS, _CONTINUATION, _END_HEADERS = 0x1, 0x9, 0x4
#: GOAWAY and RST_STREAM codes (RFC 9113 §7).
PROTOCOL_ERROR, CANCEL, ENHANCE_YOUR_CALM = 0x1, 0x8, 0xB
#: On stop: seconds a stream's held-back body may take nothing (as ``_drain``'s transports),
#: and seconds between looks.
_STALLED, _LOOK = 0.2, 0.05


class Timers(Output):
    """The timers of ``H2Connection``: call :meth:`timers_made` once the transport is made."""

    site: Site
    limits: Limits
    scheme: str
    peer: tuple[str, int] | None
    peer_fields: tuple[str | None, int | None]
    tls: TLSInfo | None
    tls_fields: tuple[str, str, str | None, str | None] | None
    streams: dict[int, H2Exchange]
    broken: bool

    def timers_made(self) -> None:
        self.clock = time.monotonic
        #: When the client last sent a byte; when bytes began that completed no frame event.
        self.last_read = self.clock()
        self.partial_since = 0.0
        #: The bytes of the frame being received still to come, and its header's so far.
        self.frame_left, self.frame_head = 24, b""  # (the preface first: RFC 9113 §3.4)
        #: The payload bytes of a header block begun without END_HEADERS (``-1``: none open).
        self.block_size = -1
        self.paused_at = 0.0
        self.timer: asyncio.TimerHandle | None = None
        #: On stop: the stall watch's timer, each held-back stream's (bytes held, since when),
        #: and what ``hand_over`` returned (done once no body is held back).
        self.stall_timer: asyncio.TimerHandle | None = None
        self.held: dict[H2Exchange, tuple[int, float]] = {}
        self.sent_all: asyncio.Future[None] | None = None
        if self.limits.shortest_timeout:
            self.timer = self.loop.call_later(self.limits.shortest_timeout, self.on_timer)

    def read(self, data: bytes) -> bool:
        """``data`` came: note when, and whether it ends inside a frame or a header block (RFC
        9113 §4.1: a 9-byte header whose first 3 bytes are the payload's length, then its type
        and flags; the connection preface, 24 bytes, comes first). Called before h2 reads
        ``data``; ``False`` when a header block's frames exceed max_header_size before its
        END_HEADERS (then the connection has been journaled and closed, and h2 is not fed)."""
        self.last_read = now = self.clock()
        left, head, block = self.frame_left, self.frame_head, self.block_size
        index, size = 0, len(data)
        while index < size:
            if left:
                taken = min(left, size - index)
                left -= taken
                index += taken
                continue
            need = 9 - len(head)
            head += data[index : index + need]
            index += need
            if len(head) == 9:
                left = int.from_bytes(head[:3])
                kind = head[3]
                if kind == _HEADERS or (kind == _CONTINUATION and block >= 0):
                    if head[4] & _END_HEADERS:
                        block = -1  # (the whole block: h2 decodes it and checks its size)
                    else:
                        block = left + (block if kind == _CONTINUATION else 0)
                        if block > self.limits.max_header_size:
                            self.flooded(block)
                            return False
                head = b""
        self.frame_left, self.frame_head, self.block_size = left, head, block
        if not (left or head) and block < 0:
            self.partial_since = 0.0
        elif not self.partial_since:
            self.partial_since = now
        return True

    def flooded(self, size: int) -> None:
        """A header block grew past max_header_size without END_HEADERS (CONTINUATION frames
        that never end): a connection error ENHANCE_YOUR_CALM, which RFC 9113 §10.5 lets an
        endpoint use for a peer whose use of CONTINUATION looks like an attack."""
        limit = self.limits.max_header_size
        self.journal_error(
            f"HTTP/2 connection error: a header block of {size} bytes and no END_HEADERS yet, "
            f"over max_header_size ({limit} bytes) (GOAWAY ENHANCE_YOUR_CALM, RFC 9113 §10.5)"
        )
        self.close(ENHANCE_YOUR_CALM)
        self.broken = True  # (after the GOAWAY: read nothing more)

    def pause_writing(self) -> None:
        super().pause_writing()
        self.paused_at = self.clock()

    def resume_writing(self) -> None:
        super().resume_writing()
        self.paused_at = 0.0

    def stop_timers(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.stall_timer is not None:
            self.stall_timer.cancel()
            self.stall_timer = None
        self.held.clear()
        if self.sent_all is not None:
            end(self.sent_all)

    def watch_stalls(self) -> None:
        """On stop, every ``_LOOK`` s: reset (CANCEL) each stream whose body has waited for the
        client's window for ``_STALLED`` s without a byte taken; a body being produced for it
        (a task or a worker waiting in ``drain``) then ends, and so does ``stop()``'s wait."""
        self.stall_timer = None
        if self.transport is None:
            return
        now, held = self.clock(), self.held
        for exchange in list(self.streams.values()):
            size = exchange.pending_size
            last = held.get(exchange)
            if not size:
                held.pop(exchange, None)
            elif last is None or size < last[0]:
                held[exchange] = (size, now)
            elif now - last[1] >= _STALLED:
                del held[exchange]
                self.reset_stream(exchange, CANCEL)
        self.all_sent()
        self.stall_timer = self.loop.call_later(_LOOK, self.watch_stalls)

    def all_sent(self) -> None:
        """End :attr:`sent_all` once no stream's body is held back (sent, or reset)."""
        sent_all = self.sent_all
        if sent_all is not None and not any(s.ending for s in self.streams.values()):
            end(sent_all)

    def on_timer(self) -> None:
        self.timer = None
        if self.transport is None or self.broken:
            return
        limits, now = self.limits, self.clock()
        send, header, idle = limits.send_timeout, limits.header_timeout, limits.idle_timeout
        if send and self.paused_at and now - self.paused_at >= send:
            self.journal_error(
                f"the client did not read the responses within send_timeout ({send:g} s); "
                "the connection was aborted"
            )
            self.abort()
            return
        if header and self.partial_since and now - self.partial_since >= header:
            self.journal_error(
                f"a frame or header block was begun and not finished within header_timeout "
                f"({header:g} s); GOAWAY PROTOCOL_ERROR, then the connection was closed"
            )
            # PROTOCOL_ERROR: the framing layer cannot go on (RFC 9113 §6.10: a header block
            # is contiguous, so while one is open no other frame may come; §5.4.1: a
            # connection error is ended with GOAWAY). NO_ERROR would announce a graceful
            # shutdown (§6.8) and hide that the client broke off; nginx sends the same on a
            # client read timeout.
            self.close(PROTOCOL_ERROR)
            self.broken = True  # (after the GOAWAY: read nothing more)
            return
        if idle and now - self.last_read >= idle:
            self.idle(idle)
            if self.transport is None or self.closing:
                return
        self.timer = self.loop.call_later(limits.shortest_timeout, self.on_timer)

    def idle(self, idle: float) -> None:
        """No byte for ``idle`` seconds: 408 the bodies stalled, or close if nothing is open."""
        receiving = [
            stream
            for stream in self.streams.values()
            if not stream.complete and stream.refused is None
        ]
        for stream in receiving:
            self.refuse(
                stream, 408, f"the request body stalled: no bytes for idle_timeout ({idle:g} s)"
            )
        if not receiving and not any(not s.finished or s.ending for s in self.streams.values()):
            self.close()  # (RFC 9113 §9.1: a server may close an idle connection)

    def refuse(self, exchange: H2Exchange, status: int, reason: str) -> None:
        """Journal the request with ``error`` set (``reason``), answer ``status`` on its stream."""
        exchange.refused = refused(self, exchange, reason)
        exchange.number = self.site.record(exchange.refused)
        exchange.answered_by = ("refused", reason)
        listener, exchange.body_listener = exchange.body_listener, None
        if listener is not None:
            listener(None)
        exchange.dispatched = True
        exchange.send_error(status, reason)

    def journal_error(self, error: str) -> None:
        """Journal what the connection ended with (no request: method and target empty)."""
        self.site.record(
            Request(
                method="",
                target="",
                http_version="2",
                peer=self.peer,
                received_at=time.time(),
                scheme=self.scheme,
                tls=self.tls,
                error=error,
            )
        )

    # (H2Connection's)
    closing: bool

    def close(self, error_code: int = 0) -> None:
        raise NotImplementedError

    def abort(self) -> None:
        raise NotImplementedError

    def reset_stream(self, exchange: H2Exchange, error_code: int) -> None:
        raise NotImplementedError


def connection_error(error: h2.exceptions.ProtocolError) -> str:
    """The journal's text for a connection error h2 raised (and answered with GOAWAY)."""
    code = getattr(error, "error_code", h2.errors.ErrorCodes.PROTOCOL_ERROR)
    name = getattr(code, "name", str(code))
    return f"HTTP/2 connection error: {error} (GOAWAY {name}, RFC 9113 §5.4.1)"
