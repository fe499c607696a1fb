"""The shaping shell, one per server: its listeners, and the connections it shapes.

The ``Server`` base serves every listening socket through its :class:`Shaper`, whose protocol
factory wraps each connection accepted while conditions are set in a
:class:`~._connection.ShapedProtocol`. Refusing closes the listening sockets, and binds them
again on the same address when refusal ends: :meth:`Shaper.set` returns the sockets it bound,
for the server to close at stop. The shaper knows its server only as :class:`Seeded` (no
import of ``_server``, and no reference kept but the listeners' factories).

A server without conditions loads none of the shaping of connections: ``_connection`` (and
``_pipe``) is imported when a connection is first shaped.
"""

from __future__ import annotations

import asyncio
import errno
import os
import random
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from .._listeners import bind_socket, close_listeners
from ._options import Conditions

if TYPE_CHECKING:
    from ._connection import ShapedProtocol

__all__ = ["Seeded", "Shaper"]


class Seeded(Protocol):
    """What the shaper needs of its server: the seeded source each connection's draws come
    from (read per connection, so a server that never shapes one never makes it)."""

    @property
    def random(self) -> random.Random: ...


#: The protocol that wraps the server's (shaped) one, outermost: TLS (``_handshake.Handshakes``).
_Outer = Callable[[Any], Any] | None
_Listener = tuple[
    asyncio.AbstractServer, Callable[[], Any], socket.socket, dict[str, Any], _Outer, "_Factory"
]


class Shaper:
    """Applies a server's :class:`Conditions` to its listeners and connections, on the loop."""

    __slots__ = (
        "_closed",
        "_listeners",
        "_refusing",
        "_reopened",
        "conditions",
        "connections",
    )

    # (It does not keep its server: a server dropped by the test is then freed at once, not
    # when the cyclic GC comes round.)
    def __init__(self, conditions: Conditions | None) -> None:
        self.conditions = conditions
        #: Connections wrapped so far and still open (a dict: smaller than a set when empty).
        self.connections: dict[ShapedProtocol, None] = {}
        #: (listener, protocol factory, listening socket, create_server options, outer protocol,
        #: the listener's own factory) per socket.
        self._listeners: list[_Listener] = []
        #: While refusing: (protocol factory, family, address, options, outer) of each listener
        #: closed.
        self._closed: list[tuple[Callable[[], Any], int, Any, dict[str, Any], _Outer]] = []
        self._refusing = False
        self._reopened = False

    async def listen(
        self,
        make: Callable[[], Any],
        sock: socket.socket,
        options: dict[str, Any],
        server: Seeded,
        outer: _Outer = None,
    ) -> asyncio.AbstractServer:
        loop = asyncio.get_running_loop()
        factory = _Factory(self, make, server, outer)
        listener = await loop.create_server(factory, sock=sock, **options)
        self._listeners.append((listener, make, sock, options, outer, factory))
        if self.conditions is not None and self.conditions.refuse:
            await self._refuse()
        return listener

    async def set(self, conditions: Conditions | None, server: Seeded) -> list[socket.socket]:
        """On the loop: apply ``conditions`` to new connections, open shaped ones and listeners
        (``server``'s).

        Returns:
            The listening sockets bound again, when ``conditions`` end a refusal (the server's
            to close at stop); otherwise ``[]``.

        Raises:
            OSError: ending a refusal, another socket took the address meanwhile.
        """
        self.conditions = conditions
        for connection in list(self.connections):
            connection.update(conditions)
        if conditions is not None and conditions.refuse:
            await self._refuse()
        elif self._refusing:
            return await self._reopen(server)
        return []

    async def _refuse(self) -> None:
        if self._refusing:
            return
        self._refusing = True
        self._closed = [
            (make, sock.family, sock.getsockname(), options, outer)
            for _, make, sock, options, outer, _ in self._listeners
        ]
        await close_listeners([entry[0] for entry in self._listeners])

    async def _reopen(self, server: Seeded) -> list[socket.socket]:
        self._refusing = False
        self._reopened = True
        loop = asyncio.get_running_loop()
        closed, self._closed = self._closed, []
        self._listeners = []
        sockets = []
        for make, family, address, options, outer in closed:
            sock = _bind_again(family, address)
            sockets.append(sock)
            factory = _Factory(self, make, server, outer)
            listener = await loop.create_server(factory, sock=sock, **options)
            self._listeners.append((listener, make, sock, options, outer, factory))
        return sockets

    @property
    def plain(self) -> bool:
        """No conditions, and none were ever set on its listeners: they are as bound."""
        return self.conditions is None and not (self._refusing or self._reopened)

    def hand_over(self, heir: Shaper, make: Callable[[], Any], server: Seeded) -> None:
        """On the loop: ``heir`` serves this shaper's listeners from now on, each connection's
        protocol made by ``make`` for ``server`` (the listeners' factories are re-pointed, so
        the sockets go on accepting without a pause). Both must be :attr:`plain` (the
        caller's to check: a listener shaped or refused is not handed over); the connections
        already shaped stay this shaper's."""
        for listener, _, sock, options, outer, factory in self._listeners:
            factory.shaper, factory.make, factory.server = heir, make, server
            heir._listeners.append((listener, make, sock, options, outer, factory))
        self._listeners = []

    def stop(self) -> None:
        """On the loop, before the server's own shutdown: close listeners bound again, and abort
        every shaped connection, so a throttled transfer or a delayed delivery ends at once."""
        if self._reopened or self._refusing:
            # Listeners the server's own shutdown does not know of (bound again after a refusal).
            for entry in self._listeners:
                entry[0].close()
        self._listeners = []
        self._closed = []
        self._refusing = self._reopened = False
        for connection in list(self.connections):
            connection.abort()


class _Factory:
    """A listener's protocol factory: each connection accepted while conditions are set is
    shaped (with a random source drawn from ``server``'s), then given to ``outer`` (if not
    None), whose protocol is the connection's: conditions shape what the server's protocol
    reads and writes, inside TLS. (A slotted object: it lives as long as the listener, so it
    is kept smaller than a closure; :meth:`Shaper.hand_over` re-points it.)"""

    __slots__ = ("make", "outer", "server", "shaper")

    def __init__(
        self, shaper: Shaper, make: Callable[[], Any], server: Seeded, outer: _Outer
    ) -> None:
        self.shaper = shaper
        self.make = make
        self.server = server  # (until the listener is closed: then the shaper lets go of it)
        self.outer = outer

    def __call__(self) -> Any:
        protocol = self.make()
        conditions = self.shaper.conditions
        if conditions is not None:
            from ._connection import ShapedProtocol  # noqa: PLC0415 - only with conditions

            rng = random.Random(self.server.random.getrandbits(64))  # noqa: S311 - test data
            shaped = ShapedProtocol(self.shaper.connections, protocol, conditions, rng)
            if shaped.unserved:
                return shaped  # (not even a TLS handshake: the server never answers)
            protocol = shaped
        # (no conditions: the server's own protocol, at full speed)
        outer = self.outer
        return protocol if outer is None else outer(protocol)


def _bind_again(family: int, address: Any) -> socket.socket:
    if family == socket.AF_UNIX:
        try:
            os.unlink(address)
        except FileNotFoundError:
            pass
    return bind_socket(
        family,
        socket.SOCK_STREAM,
        address,
        in_use=lambda: OSError(
            errno.EADDRINUSE,
            f"cannot listen again on {address!r} after refusing connections: another "
            "socket took the address meanwhile",
        ),
    )
