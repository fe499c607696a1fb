"""Listeners parked between tests, on the loop's side: what holds one while no server owns it,
what it does with a connection meanwhile, and the pool of them (see ``_parking``).

Parking looks at sockets from the test's thread, and on Linux it does so with
``getsockopt(TCP_INFO)``, which CPython calls without letting go of the GIL: a ``poll()``
lets go of it, and the loop's thread, woken by the client's close, takes it and runs a whole
turn that the test's thread then waits for (a tenth of a millisecond a test, more than
everything else parking does).
"""

from __future__ import annotations

import asyncio
import os
import select
import socket
import sys
import threading
from typing import TYPE_CHECKING

from .._conditions import Shaper
from .._listeners import close_listeners

if TYPE_CHECKING:
    import random

    from .._runtime import Runtime
    from ._site import Connection, Site

__all__ = [
    "Dropped",
    "Parked",
    "close",
    "close_idle",
    "drop_backlog",
    "give",
    "quiet",
    "sockets",
    "take",
]

#: Seconds closing a parked listener waits for the loop.
_CLOSE_TIMEOUT = 5.0
#: Listeners kept at most (the newest; one per host).
_KEEP = 2


class Parked:
    """A listener between two tests: its sockets and asyncio servers, served by a shaper of
    its own while no server owns it. The runtime closes it at exit (``_abort_at_exit``)."""

    __slots__ = (
        "__weakref__",
        "host",
        "listeners",
        "port",
        "runtime",
        "shaper",
        "sockets",
        "waiting",
    )

    def __init__(
        self,
        runtime: Runtime,
        sockets: list[socket.socket],
        listeners: tuple[asyncio.AbstractServer, ...],
        host: str,
        port: int,
    ) -> None:
        self.runtime = runtime
        self.sockets = sockets
        self.listeners = listeners
        self.host = host
        self.port = port
        self.shaper = Shaper(None)
        #: Where TCP_INFO is not (see the module's docstring): the listening sockets, to poll
        #: for connections the kernel has made (a look first: a failed accept() raises).
        self.waiting: select.poll | None = None
        if _TCP_INFO is None:
            self.waiting = select.poll()
            for sock in sockets:
                self.waiting.register(sock, select.POLLIN)

    @property
    def random(self) -> random.Random:
        """(What a shaper may ask of its server when it shapes a connection: never here.)"""
        raise AssertionError("a parked listener shapes no connection")

    def _abort_at_exit(self) -> None:
        """On the loop, at interpreter exit: close the listener."""
        for listener in self.listeners:
            listener.close()
        for sock in self.sockets:
            sock.close()


class Dropped(asyncio.Protocol):
    """The protocol of a connection a parked listener accepts: dropped at once, so that a
    client of the test that ended never reaches the next test's server."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)  # (a stream listener's)
        transport.abort()


def drop_backlog(parked: Parked) -> None:
    """Close the connections waiting in the listening sockets' accept queues (the kernel made
    them before the listener was parked, for a client of the test that ended)."""
    if parked.waiting is None:
        for sock in parked.sockets:
            if _accept_queue(sock):
                _drop_queued(sock)
        return
    ready = {fd for fd, _ in parked.waiting.poll(0)}
    for sock in parked.sockets:
        if sock.fileno() in ready:
            _drop_queued(sock)


def _drop_queued(sock: socket.socket) -> None:
    while True:
        try:
            conn, _ = sock.accept()
        except OSError:  # (BlockingIOError: none left)
            return
        conn.close()


def closed_by_clients(connections: list[Connection]) -> bool:
    """Whether the client of each of ``connections`` has closed it (TCP's CLOSE_WAIT: its FIN
    came in): the loop closes each as it reads that end, and nothing need be asked of it.
    ``False`` where TCP_INFO is not, or for a connection whose state cannot be read."""
    if _TCP_INFO is None:
        return False
    for conn in connections:
        transport = conn.transport
        sock = None if transport is None else transport.get_extra_info("socket")
        if sock is None:
            return False
        try:
            state = sock.getsockopt(socket.IPPROTO_TCP, _TCP_INFO, 1)
        except OSError:
            return False
        if state[0] != _CLOSE_WAIT:
            return False
    return True


#: Linux's TCP_INFO, ``None`` elsewhere: ``struct tcp_info`` begins with ``tcpi_state``; for a
#: listening socket, ``tcpi_unacked`` (bytes 24 to 28) is its accept queue's length.
_TCP_INFO: int | None = getattr(socket, "TCP_INFO", None) if sys.platform == "linux" else None
_CLOSE_WAIT = 8  # (TCP_CLOSE_WAIT of the kernel's tcp_states.h)


def _accept_queue(sock: socket.socket) -> int:
    """How many connections the kernel holds for the listening ``sock`` (TCP_INFO)."""
    assert _TCP_INFO is not None
    info = sock.getsockopt(socket.IPPROTO_TCP, _TCP_INFO, 32)
    return int.from_bytes(info[24:28], sys.byteorder)


def close_idle(connections: list[Connection]) -> None:
    """On the loop: close ``connections`` (idle: ``quiet`` found none answering), as
    ``stop()`` closes an idle keep-alive connection (its client gets EOF)."""
    for conn in connections:
        conn.closing = True
        conn.shutdown()


def quiet(site: Site) -> bool:
    """Whether nothing is going on: no handler running, no WebSocket opened, no connection
    answering a request, receiving one that its closing would still answer (an HTTP/2
    stream: ``H2Connection.receiving``) or with bytes still to send."""
    if site.inflight or site.websocket is not None:
        return False
    for conn in site.connections:  # noqa: SIM110 - (a loop: no generator to make)
        if _busy(conn):
            return False
    return True


def _busy(conn: Connection) -> bool:
    transport = conn.transport
    return (
        conn.busy
        or getattr(conn, "receiving", False)  # (HTTP/2's: see quiet)
        or (transport is not None and transport.get_write_buffer_size() > 0)
    )


# -- the pool: one per process (each pytest-xdist worker has its own) ------------------------

_pool: list[Parked] = []
_lock = threading.Lock()


def take(host: str) -> Parked | None:
    """A parked listener on ``host`` (the newest), out of the pool; ``None`` if there is none."""
    pid = os.getpid()
    with _lock:
        for index, parked in enumerate(_pool):
            if parked.host == host and parked.runtime.pid == pid:
                return _pool.pop(index)
    return None


def give(parked: Parked) -> None:
    """Keep ``parked`` for the next server on its host; close those it outnumbers."""
    with _lock:
        if not _pool:  # (as between the tests of a run: the next test took the one there was)
            _pool.append(parked)
            return
        evicted = [old for old in _pool if old.host == parked.host]
        kept = [old for old in _pool if old.host != parked.host]
        _pool[:] = [parked, *kept[: _KEEP - 1]]
        evicted += kept[_KEEP - 1 :]
    if evicted:
        close(evicted)


def sockets() -> list[socket.socket]:
    """The listening sockets parked now (they outlive the test that bound them, by design)."""
    with _lock:
        return [sock for parked in _pool for sock in parked.sockets]


def close(parked: list[Parked] | None = None) -> None:
    """Close ``parked`` (by default every parked listener of the process, out of the pool)."""
    if parked is None:
        with _lock:
            parked, _pool[:] = list(_pool), []
    pid = os.getpid()
    for each in parked:
        if each.runtime.pid != pid:  # (a forked child's copy: served by no loop here)
            _close_sockets(each)
            continue
        each.runtime.call(_close_on_loop(each), _CLOSE_TIMEOUT, twin="stop_async")


async def _close_on_loop(parked: Parked) -> None:
    parked.runtime.servers.discard(parked)
    await close_listeners(list(parked.listeners))
    _close_sockets(parked)


def _close_sockets(parked: Parked) -> None:
    for sock in parked.sockets:
        sock.close()
