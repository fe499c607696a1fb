"""The relay under :class:`~understudy.Proxy`: each client's connection, its own connection to
the upstream, and the :class:`ProxyConnection` record of the bytes relayed each way.

Bytes are relayed unchanged, with flow control: a slow reader on one side pauses reading on the
other; bytes a client sends before the upstream connection is up are kept, up to a limit.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any, Literal

from ._journal import Journal
from ._resets import linger_zero

__all__ = ["ClientSide", "ProxyConnection", "relayed_size"]

#: Bytes buffered towards one side before reading from the other pauses.
_HIGH_WATER = 64 * 1024


class ProxyConnection:
    """One client connection through a :class:`Proxy`, and every byte relayed each way.

    Read it from the test's thread at any time: the byte counts grow as traffic flows.

    Attributes:
        peer (tuple[str, int]): the client's address (``(host, port)``).
        opened_at (float): ``time.time()`` when the client's connection was accepted (seconds).
        closed_at (float | None): ``time.time()`` when the client's side closed, or ``None``
            while open.
        error (str | None): why the upstream connection failed (refused, timed out, or reset
            while open: ``"ConnectionRefusedError: ..."``, ``"ConnectionResetError: ..."``),
            or ``None``. The client's connection is then reset; the failure is kept here and
            not raised by ``check()``: a refused upstream is a network condition, not a bug.

    .. versionadded:: 0.1
    """

    __slots__ = ("_downstream", "_lock", "_upstream", "closed_at", "error", "opened_at", "peer")

    def __init__(self, peer: Any, opened_at: float) -> None:
        self.peer = peer
        self.opened_at = opened_at
        self.closed_at: float | None = None
        self.error: str | None = None
        self._upstream = bytearray()
        self._downstream = bytearray()
        self._lock = threading.Lock()

    @property
    def upstream(self) -> bytes:
        """Every byte relayed from the client to the upstream server so far."""
        with self._lock:
            return bytes(self._upstream)

    @property
    def downstream(self) -> bytes:
        """Every byte relayed from the upstream server to the client so far."""
        with self._lock:
            return bytes(self._downstream)

    @property
    def closed(self) -> bool:
        """Whether the client's side of the connection has closed."""
        return self.closed_at is not None

    def _add(self, direction: Literal["upstream", "downstream"], data: bytes) -> None:
        with self._lock:
            (self._upstream if direction == "upstream" else self._downstream).extend(data)

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        error = f" error={self.error!r}" if self.error else ""
        return (
            f"<understudy.ProxyConnection peer={self.peer!r} {state} "
            f"upstream={len(self._upstream)} bytes downstream={len(self._downstream)} bytes"
            f"{error}>"
        )


def relayed_size(record: ProxyConnection, direction: Literal["upstream", "downstream"]) -> int:
    """How many bytes ``record`` relayed in ``direction`` so far (without copying them)."""
    return len(record._upstream if direction == "upstream" else record._downstream)


class ClientSide(asyncio.Protocol):
    """The client's connection to the proxy; opens and feeds the upstream connection.

    Args:
        journal: where the connection's record goes (changed as bytes pass, and at the close).
        pairs: the proxy's open connections; this one is in it while open (aborted at stop).
        upstream: ``(host, port)`` to relay to.
        connect_timeout: seconds to wait for the upstream connection.
    """

    def __init__(
        self,
        journal: Journal[ProxyConnection],
        pairs: set[ClientSide],
        upstream: tuple[str, int],
        connect_timeout: float,
    ) -> None:
        self._journal = journal
        self._pairs = pairs
        self._upstream_address = upstream
        self._connect_timeout = connect_timeout
        self._client: asyncio.Transport | None = None
        self._upstream: asyncio.Transport | None = None
        self._pending: list[bytes] = []
        self._client_eof = False
        self._upstream_eof = False
        self._connecting: asyncio.Task[None] | None = None
        self.record = ProxyConnection(None, 0.0)

    # -- the client's side ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._client = transport
        self.record = ProxyConnection(transport.get_extra_info("peername"), time.time())
        self._pairs.add(self)
        self._journal.append(self.record)
        self._connecting = asyncio.get_running_loop().create_task(self._connect())

    async def _connect(self) -> None:
        loop = asyncio.get_running_loop()
        host, port = self._upstream_address
        try:
            transport, _ = await asyncio.wait_for(
                loop.create_connection(lambda: _UpstreamSide(self), host, port),
                self._connect_timeout,
            )
        except (OSError, TimeoutError) as error:
            what = "timed out" if isinstance(error, TimeoutError) else str(error)
            self.record.error = f"{type(error).__name__}: connecting to {host}:{port}: {what}"
            self._journal.changed()
            self._reset_client()
            return
        if self._client is None or self._client.is_closing():
            transport.close()
            return
        self._upstream = transport
        for data in self._pending:
            transport.write(data)
        self._pending.clear()
        if self._client_eof and transport.can_write_eof():
            transport.write_eof()
        self._client.resume_reading()  # paused while the pending bytes grew too many

    def data_received(self, data: bytes) -> None:
        self.record._add("upstream", data)
        self._journal.changed()
        if self._upstream is None:
            self._pending.append(data)
            if sum(map(len, self._pending)) > _HIGH_WATER and self._client is not None:
                self._client.pause_reading()  # resumed once connected (_connect)
        else:
            self._upstream.write(data)

    def eof_received(self) -> bool:
        self._client_eof = True
        upstream = self._upstream
        if upstream is not None and not upstream.is_closing() and upstream.can_write_eof():
            upstream.write_eof()
        return not self._upstream_eof  # both sides done: close

    def connection_lost(self, exc: Exception | None) -> None:
        self.record.closed_at = time.time()
        self._pairs.discard(self)
        self._journal.changed()
        if self._connecting is not None and not self._connecting.done():
            self._connecting.cancel()
        if self._upstream is not None:
            if exc is None:
                self._upstream.close()
            else:
                _reset(self._upstream)  # (the client reset its connection: so does the proxy)

    def pause_writing(self) -> None:
        if self._upstream is not None:
            self._upstream.pause_reading()

    def resume_writing(self) -> None:
        if self._upstream is not None and not self._upstream.is_closing():
            self._upstream.resume_reading()

    def _reset_client(self) -> None:
        if self._client is not None:
            _reset(self._client)

    def abort(self) -> None:
        if self._connecting is not None:
            self._connecting.cancel()
        for transport in (self._client, self._upstream):
            if transport is not None:
                transport.abort()

    # -- from the upstream side ---------------------------------------------------------------

    def upstream_data(self, data: bytes) -> None:
        self.record._add("downstream", data)
        self._journal.changed()
        if self._client is not None and not self._client.is_closing():
            self._client.write(data)

    def upstream_eof(self) -> bool:
        self._upstream_eof = True
        client = self._client
        if client is not None and not client.is_closing() and client.can_write_eof():
            client.write_eof()
        if self._client_eof and client is not None:
            client.close()
            return False
        return True

    def upstream_lost(self, exc: Exception | None) -> None:
        if exc is not None and self.record.error is None:
            host, port = self._upstream_address
            self.record.error = f"{type(exc).__name__}: relaying to {host}:{port}: {exc}"
            self._journal.changed()
            self._reset_client()  # (a reset, relayed as one)
        elif self._client is not None:
            self._client.close()  # after what is buffered for the client

    def upstream_pause_writing(self) -> None:
        if self._client is not None:
            self._client.pause_reading()

    def upstream_resume_writing(self) -> None:
        if self._client is not None and not self._client.is_closing():
            self._client.resume_reading()


class _UpstreamSide(asyncio.Protocol):
    """The proxy's connection to the upstream server."""

    def __init__(self, pair: ClientSide) -> None:
        self._pair = pair

    def data_received(self, data: bytes) -> None:
        self._pair.upstream_data(data)

    def eof_received(self) -> bool:
        return self._pair.upstream_eof()

    def connection_lost(self, exc: Exception | None) -> None:
        self._pair.upstream_lost(exc)

    def pause_writing(self) -> None:
        self._pair.upstream_pause_writing()

    def resume_writing(self) -> None:
        self._pair.upstream_resume_writing()


def _reset(transport: asyncio.Transport) -> None:
    """Reset ``transport``'s connection (RST: close with ``SO_LINGER`` 0), unless it is closing."""
    if not transport.is_closing():
        linger_zero(transport)
        transport.abort()
