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
from collections.abc import Callable
from typing import ClassVar, Literal

from ._conditions import Conditions
from ._errors import ConfigurationError
from ._journal import Journal
from ._relay import ClientSide, ProxyConnection, relayed_size
from ._server import Server
from ._sockets._connection_waits import bytes_test, connections_wait, first_wait
from ._waits import Wait

__all__ = ["Proxy", "ProxyConnection"]


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

    An upstream that refuses, times out or resets the connection resets the client's connection
    and is recorded in :attr:`ProxyConnection.error`; it is not raised by :meth:`check`. A
    client that resets its connection has the upstream connection reset too.

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
        self._journal.belongs_to(self)
        self._pairs: set[ClientSide] = set()
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

        satisfied, shown = bytes_test(expected, data, lambda record: relayed_size(record, side))
        what = f"a connection to relay {shown} {side}"
        return first_wait(self._journal, satisfied, what, timeout)

    # -- lifecycle hooks ---------------------------------------------------------------------

    async def _serve(self, sockets: list[socket.socket]) -> None:
        def relay() -> ClientSide:
            return ClientSide(self._journal, self._pairs, self.upstream, self.connect_timeout)

        self._listeners = [await self._listen(relay, sock) for sock in sockets]

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
