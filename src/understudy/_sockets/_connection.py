"""A stream connection as the test and a handler see it: its record, and blocking I/O on it."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from .._runtime import get_runtime
from .._tls import TLSInfo
from .._waits import check_timeout

#: Seconds beyond a wait's timeout that a handler's thread gives the loop to report it.
_LOOP_GRACE = 5.0

T = TypeVar("T")


class ConnectionRecord:
    """One connection a stream server accepted, and every byte received on it, in order.

    Read it from the test's thread at any time: :attr:`data` grows as bytes arrive.

    Attributes:
        peer (tuple[str, int] | str): the client's address as the socket reports it
            (``(host, port)`` for TCP; a path, often ``""``, for a Unix stream socket).
        opened_at (float): ``time.time()`` when accepted (seconds).
        closed_at (float | None): ``time.time()`` when closed by either side, or ``None`` while
            open.
        tls (TLSInfo | None): on a server given ``tls=``, what the handshake agreed on (version,
            cipher, the client certificate's subject) as a :class:`~understudy.TLSInfo`; else
            ``None``.
    """

    __slots__ = ("_data", "_lock", "closed_at", "opened_at", "peer", "tls")

    def __init__(self, peer: Any, opened_at: float, tls: TLSInfo | None = None) -> None:
        self.peer = peer
        self.opened_at = opened_at
        self.tls = tls
        self.closed_at: float | None = None
        self._data = bytearray()
        self._lock = threading.Lock()

    @property
    def data(self) -> bytes:
        """Every byte received on this connection so far."""
        with self._lock:
            return bytes(self._data)

    @property
    def closed(self) -> bool:
        """Whether the connection has been closed (by the client, the handler or ``stop()``)."""
        return self.closed_at is not None

    def __repr__(self) -> str:
        data = self.data
        state = "closed" if self.closed else "open"
        shown = repr(data[:60]) + ("..." if len(data) > 60 else "")
        return f"<understudy.ConnectionRecord peer={self.peer!r} {state} {len(data)} bytes {shown}>"


class StreamConnection:
    """A connection as a plain (sync) handler sees it: blocking reads and writes.

    Each method blocks the handler's worker thread, never the server's loop. ``timeout`` is in
    seconds; ``None`` (the default) waits until data comes or the connection closes (``stop()``
    closes it, so a handler waiting here returns).

    Raises (from every read):
        TimeoutError: nothing suitable arrived within ``timeout``.
    """

    __slots__ = ("_loop", "_reader", "_writer", "peer", "record")

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        loop: asyncio.AbstractEventLoop,
        record: ConnectionRecord,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._loop = loop
        #: The client's address (as :attr:`ConnectionRecord.peer`).
        self.peer: Any = record.peer
        #: The journal's record of this connection.
        self.record = record

    def recv(self, size: int = 65536, *, timeout: float | None = None) -> bytes:
        """Up to ``size`` bytes, as soon as any are available; ``b""`` once the client closed."""
        return self._call(self._reader.read(size), timeout, f"any data (up to {size} bytes)")

    def recv_exactly(self, size: int, *, timeout: float | None = None) -> bytes:
        """Exactly ``size`` bytes.

        Raises:
            asyncio.IncompleteReadError: (an ``EOFError``) the client closed first; its
                ``partial`` attribute holds what did arrive.
        """
        return self._call(self._reader.readexactly(size), timeout, f"{size} bytes")

    def readline(self, *, timeout: float | None = None) -> bytes:
        """Bytes up to and including the next LF; what is left (maybe ``b""``) at EOF.

        Raises:
            ValueError: the line is longer than 64 KiB.
        """
        return self._call(self._reader.readline(), timeout, "a line")

    def sendall(self, data: bytes, *, timeout: float | None = None) -> None:
        """Send all of ``data``; return once the kernel has taken it (flow control respected).

        Raises:
            ConnectionError: the connection is closed.
        """
        self._call(self._send(bytes(data)), timeout, f"sending {len(data)} bytes")

    async def _send(self, data: bytes) -> None:
        if self._writer.is_closing():
            raise ConnectionResetError("the connection is closed")
        self._writer.write(data)
        await self._writer.drain()

    def close(self) -> None:
        """Close the connection (idempotent). The server closes it when the handler returns."""
        self._call(self._close(), None, "closing")

    async def _close(self) -> None:
        self._writer.close()

    def _call(self, coro: Coroutine[Any, Any, T], timeout: float | None, what: str) -> T:
        if _running_loop() is self._loop:
            coro.close()
            raise RuntimeError(
                "StreamConnection methods block; they are for plain (sync) handlers. An "
                "async def handler gets (reader, writer) streams instead"
            )
        if timeout is not None:
            check_timeout(timeout)
            coro = asyncio.wait_for(coro, timeout)
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        # (The loop times the wait; this thread waits longer only if the loop is held.)
        patience = None if timeout is None else timeout + _LOOP_GRACE
        try:
            return future.result(patience)
        except TimeoutError:
            if not future.done():
                future.cancel()
                raise get_runtime().held_loop_timeout(
                    f"{what} from {self.peer!r}", patience
                ) from None
            raise TimeoutError(
                f"waited {timeout:g} s for {what} from {self.peer!r}; it did not come"
            ) from None

    def __repr__(self) -> str:
        return f"<understudy.StreamConnection peer={self.peer!r}>"


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def add_received(record: ConnectionRecord, data: bytes) -> None:
    """Add ``data`` to what ``record`` received (on the loop; the test's thread may read)."""
    with record._lock:
        record._data += data


def received_size(record: ConnectionRecord) -> int:
    """How many bytes ``record`` received so far (without copying them)."""
    return len(record._data)
