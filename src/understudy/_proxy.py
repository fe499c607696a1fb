"""Proxy: a TCP proxy on the server lifecycle that applies network conditions and records bytes.

Each client connection gets its own connection to the upstream address; bytes are relayed both
ways unchanged (with flow control: a slow reader on one side pauses reading on the other) and
recorded in a :class:`ProxyConnection`. Conditions apply to the client's side of the proxy
through the same shaping every understudy server uses (``Server._listen``), so ``upstream`` /
``downstream`` keep their meaning: client to server, server to client.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
import time
from collections.abc import Callable
from typing import Any, ClassVar, Literal

from ._conditions import Conditions
from ._errors import ConfigurationError
from ._journal import Journal
from ._server import Server
from ._sockets._connection_waits import bytes_test, connections_wait, first_wait
from ._waits import Wait

__all__ = ["Proxy", "ProxyConnection"]

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
        error (str | None): why the upstream connection failed
            (``"ConnectionRefusedError: ..."``), or ``None``. The client's connection is then
            reset; the failure is kept here and not raised by ``check()``: a refused upstream
            is a network condition, not a bug.

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

    def _size(self, direction: Literal["upstream", "downstream"]) -> int:
        return len(self._upstream if direction == "upstream" else self._downstream)

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        error = f" error={self.error!r}" if self.error else ""
        return (
            f"<understudy.ProxyConnection peer={self.peer!r} {state} "
            f"upstream={len(self._upstream)} bytes downstream={len(self._downstream)} bytes"
            f"{error}>"
        )


class _ClientSide(asyncio.Protocol):
    """The client's connection to the proxy; opens and feeds the upstream connection."""

    def __init__(self, proxy: Proxy) -> None:
        self._proxy = proxy
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
        self._proxy._pairs.add(self)
        self._proxy._journal.append(self.record)
        self._connecting = asyncio.get_running_loop().create_task(self._connect())

    async def _connect(self) -> None:
        loop = asyncio.get_running_loop()
        host, port = self._proxy.upstream
        try:
            transport, _ = await asyncio.wait_for(
                loop.create_connection(lambda: _UpstreamSide(self), host, port),
                self._proxy.connect_timeout,
            )
        except (OSError, TimeoutError) as error:
            what = "timed out" if isinstance(error, TimeoutError) else str(error)
            self.record.error = f"{type(error).__name__}: connecting to {host}:{port}: {what}"
            self._proxy._journal.changed()
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
        self._proxy._journal.changed()
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
        self._proxy._pairs.discard(self)
        self._proxy._journal.changed()
        if self._connecting is not None and not self._connecting.done():
            self._connecting.cancel()
        if self._upstream is not None:
            self._upstream.close()

    def pause_writing(self) -> None:
        if self._upstream is not None:
            self._upstream.pause_reading()

    def resume_writing(self) -> None:
        if self._upstream is not None and not self._upstream.is_closing():
            self._upstream.resume_reading()

    def _reset_client(self) -> None:
        client = self._client
        if client is None or client.is_closing():
            return
        sock = client.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
        client.abort()

    def abort(self) -> None:
        if self._connecting is not None:
            self._connecting.cancel()
        for transport in (self._client, self._upstream):
            if transport is not None:
                transport.abort()

    # -- from the upstream side ---------------------------------------------------------------

    def upstream_data(self, data: bytes) -> None:
        self.record._add("downstream", data)
        self._proxy._journal.changed()
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

    def upstream_lost(self) -> None:
        if self._client is not None:
            self._client.close()  # after what is buffered for the client

    def upstream_pause_writing(self) -> None:
        if self._client is not None:
            self._client.pause_reading()

    def upstream_resume_writing(self) -> None:
        if self._client is not None and not self._client.is_closing():
            self._client.resume_reading()


class _UpstreamSide(asyncio.Protocol):
    """The proxy's connection to the upstream server."""

    def __init__(self, pair: _ClientSide) -> None:
        self._pair = pair

    def data_received(self, data: bytes) -> None:
        self._pair.upstream_data(data)

    def eof_received(self) -> bool:
        return self._pair.upstream_eof()

    def connection_lost(self, exc: Exception | None) -> None:
        self._pair.upstream_lost()

    def pause_writing(self) -> None:
        self._pair.upstream_pause_writing()

    def resume_writing(self) -> None:
        self._pair.upstream_resume_writing()


class Proxy(Server):
    """A TCP proxy that relays clients to ``upstream``, applying network conditions, and
    records the bytes each way.

    Put it between the client under test and any TCP server: one of understudy's, or a real
    local service (a database on loopback). With no conditions it relays bytes unchanged.

    Args:
        upstream: ``(host, port)`` of the server to relay to, e.g. ``server.address``.
        conditions: network conditions between client and proxy
            (:class:`understudy.Conditions`); ``None`` (default): none. Change them while
            running with :meth:`set_conditions`.
        host: address to listen on (see :class:`understudy.Server`): ``"127.0.0.1"``.
        port: port to listen on; 0 (the default) lets the kernel choose.
        seed: seeds the proxy's random choices (jitter, probabilities).
        connect_timeout: seconds to wait for the upstream connection (default 5.0).
        journal_size: keep only the last N connections (``None``: all).

    Raises:
        ConfigurationError: ``upstream`` is not a ``(host, port)`` pair, or a bad timeout.

    An upstream that refuses or times out resets the client's connection and is recorded in
    :attr:`ProxyConnection.error`; it is not raised by :meth:`check`.

    .. versionadded:: 0.1
    """

    kind: ClassVar[str] = "TCP proxy"

    def __init__(
        self,
        *,
        upstream: tuple[str, int],
        conditions: Conditions | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int | None = None,
        connect_timeout: float = 5.0,
        journal_size: int | None = None,
    ) -> None:
        super().__init__(host=host, port=port, conditions=conditions, seed=seed)
        if (
            not isinstance(upstream, tuple)
            or len(upstream) < 2
            or not isinstance(upstream[0], str)
            or not isinstance(upstream[1], int)
            or isinstance(upstream[1], bool)
            or not 0 < upstream[1] <= 65535
        ):
            raise ConfigurationError(
                "upstream= takes (host, port), e.g. upstream=server.address or "
                f"upstream=('127.0.0.1', 5432), not {upstream!r}"
            )
        if (
            not isinstance(connect_timeout, int | float)
            or isinstance(connect_timeout, bool)
            or connect_timeout <= 0
        ):
            raise ConfigurationError(
                f"connect_timeout must be seconds > 0 (float), not {connect_timeout!r}"
            )
        self.upstream: tuple[str, int] = (upstream[0], upstream[1])
        self.connect_timeout = float(connect_timeout)
        #: Connections as accepted; each change to one (bytes, an error, closing) calls its
        #: changed().
        self._journal: Journal[ProxyConnection] = Journal("connection", journal_size)
        self._pairs: set[_ClientSide] = set()
        self._listeners: list[asyncio.AbstractServer] = []

    # -- what the test reads -----------------------------------------------------------------

    @property
    def connections(self) -> list[ProxyConnection]:
        """The client connections so far (a snapshot list, oldest first), open or closed."""
        return self._journal.snapshot()

    def clear(self) -> None:
        """Forget the connections recorded so far (open ones go on relaying)."""
        self._journal.clear()

    def wait_for_connections(
        self,
        count: int = 1,
        *,
        match: Callable[[ProxyConnection], bool] | None = None,
        timeout: float = 5.0,
    ) -> list[ProxyConnection]:
        """Block until ``count`` connections (satisfying ``match``, if given) are recorded.

        ``match`` is asked again whenever a connection opens, relays bytes, fails or closes,
        so ``match=lambda c: c.closed`` waits for closed connections.

        Args:
            count: how many connections.
            match: a predicate on :class:`ProxyConnection`.
            timeout: seconds to wait.

        Returns:
            The first ``count`` such connections, oldest first.

        Raises:
            WaitTimeout: after ``timeout`` seconds; the message lists the connections there are.
        """
        __tracebackhide__ = True
        return self._journal.wait(connections_wait(self._journal, count, match, timeout), timeout)

    async def wait_for_connections_async(
        self,
        count: int = 1,
        *,
        match: Callable[[ProxyConnection], bool] | None = None,
        timeout: float = 5.0,
    ) -> list[ProxyConnection]:
        """The awaitable twin of :meth:`wait_for_connections`."""
        __tracebackhide__ = True
        wait = connections_wait(self._journal, count, match, timeout)
        return await self._journal.wait_async(wait, timeout)

    def wait_for_bytes(
        self,
        expected: bytes | int,
        *,
        direction: Literal["upstream", "downstream"] = "upstream",
        timeout: float = 5.0,
    ) -> ProxyConnection:
        """Block until one connection has relayed ``expected`` in ``direction``.

        Args:
            expected: ``bytes`` that must appear in what one connection relayed, or an ``int``:
                at least that many bytes.
            direction: ``"upstream"`` (client to server, the default) or ``"downstream"``.
            timeout: seconds to wait.

        Returns:
            The first connection (oldest first) that satisfies it.

        Raises:
            WaitTimeout: after ``timeout`` seconds; the message shows each connection's counts.
        """
        __tracebackhide__ = True
        return self._journal.wait(self._bytes_wait(expected, direction, timeout), timeout)

    async def wait_for_bytes_async(
        self,
        expected: bytes | int,
        *,
        direction: Literal["upstream", "downstream"] = "upstream",
        timeout: float = 5.0,
    ) -> ProxyConnection:
        """The awaitable twin of :meth:`wait_for_bytes`."""
        __tracebackhide__ = True
        wait = self._bytes_wait(expected, direction, timeout)
        return await self._journal.wait_async(wait, timeout)

    def _bytes_wait(
        self, expected: bytes | int, direction: str, timeout: float
    ) -> Wait[ProxyConnection]:
        if direction not in ("upstream", "downstream"):
            raise ConfigurationError(
                f"direction must be 'upstream' (client to server) or 'downstream', not "
                f"{direction!r}"
            )
        side: Literal["upstream", "downstream"] = (
            "upstream" if direction == "upstream" else "downstream"
        )

        def data(record: ProxyConnection) -> bytes:
            return record.upstream if side == "upstream" else record.downstream

        satisfied, shown = bytes_test(expected, data, lambda record: record._size(side))
        what = f"a connection to relay {shown} {side}"
        return first_wait(self._journal, satisfied, what, timeout)

    # -- lifecycle hooks ---------------------------------------------------------------------

    async def _serve(self, sockets: list[socket.socket]) -> None:
        self._listeners = [await self._listen(lambda: _ClientSide(self), sock) for sock in sockets]

    async def _shutdown(self, timeout: float) -> list[str]:
        listeners, self._listeners = self._listeners, []
        await self._close_listeners(listeners)
        self._abort()
        await asyncio.sleep(0)  # let connection_lost run, so records say closed
        return []

    def _abort(self) -> None:
        for listener in self._listeners:
            listener.close()
        self._listeners = []
        for pair in list(self._pairs):
            pair.abort()
