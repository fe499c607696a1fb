"""The write path of an HTTP/1.1 connection: what one loop iteration writes goes out in one send,
and a large body is handed to the transport a slice at a time as the client reads.
"""

from __future__ import annotations

import asyncio
import os
from collections import deque

from .._core.faults import Ending
from .._drain import close_transport
from .._reads import BufferedReads
from .._resets import linger_zero
from ._heads import LARGE_WRITE

__all__ = ["ResponseWriter"]

#: ``struct linger`` with l_onoff=1, l_linger=0: close() sends RST and discards unsent data.

#: Connections with bytes queued in this loop iteration (see HTTPConnection.write).
_UNFLUSHED: list[ResponseWriter] = []


def _flush_all() -> None:
    """Hand the bytes queued on every connection in this loop iteration to the transports."""
    unflushed = _UNFLUSHED[:]
    _UNFLUSHED.clear()
    for conn in unflushed:
        conn.flush()


# A child made by fork() has a runtime of its own: nothing of the parent's is to be flushed there.
os.register_at_fork(after_in_child=_UNFLUSHED.clear)


class ResponseWriter(BufferedReads):
    """The transport side of a connection: queueing, flushing, holding back, closing (it
    reads into the loop's one buffer: see :mod:`understudy._reads`)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        #: A response finished from now on closes the connection.
        self.closing = False
        self._writable: asyncio.Future[None] | None = None
        #: The bytes queued in this loop iteration (see :meth:`write`).
        self.out: list[bytes] = []
        #: The transport asked for no more bytes (pause_writing) and has not asked again.
        self.write_paused = False
        #: What flush holds back of large writes until the transport has room (see flush).
        self.backlog: deque[bytes | memoryview] | None = None
        #: close() was called with a backlog: the transport closes once it is handed over.
        self.close_when_sent = False
        #: A fault left the connection open, sending nothing more (``Ending.STALL``).
        self.stalled = False

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
        out = self.out
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
        out = self.out
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
        self.out.clear()
        self.backlog = None
        if self.transport is not None:
            self.transport.abort()

    def end_transport(self, data: bytes, ending: Ending) -> None:
        """A fault: write ``data``, then end the transport as ``ending`` says (RESET: RST,
        discarding unsent data; CLOSE; HALF_CLOSE: a FIN, then nothing, or over TLS, which
        asyncio cannot half-close, a CLOSE; STALL: nothing more, until stop() closes it)."""
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if ending is Ending.RESET:
            linger_zero(transport)
            self.abort()
            return
        if data:
            self.write(data)
        self.stalled = ending is Ending.STALL
        if ending is Ending.CLOSE:
            self.close()
            return
        if ending is Ending.HALF_CLOSE and not transport.can_write_eof():
            self.close()  # (TLS: close_notify, then FIN; left open, the client would wait)
            return
        self.flush()
        if ending is Ending.HALF_CLOSE:
            transport.write_eof()
