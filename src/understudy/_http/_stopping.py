"""How an HTTP server stops serving: no new connection, the handlers given until the deadline,
what is being sent delivered to clients still reading, then every connection closed.

Over a :class:`~._site.Site`'s open connections and in-flight registry, whatever protocol each
connection speaks (see ``_site.Connection``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from .._drain import StalledReaders, finish_connections
from .._waits import until_done
from ._site import Connection, Site
from ._streamed import stop_streamed_bodies

__all__ = ["stop_serving"]

#: Seconds between looks, while stop() waits for handlers, for clients that stopped reading.
_LOOK_INTERVAL = 0.05


async def stop_serving(
    site: Site,
    listeners: list[asyncio.AbstractServer],
    close_listeners: Callable[[list[asyncio.AbstractServer]], Awaitable[None]],
    timeout: float,
) -> tuple[list[str], float]:
    """Stop ``site``'s connections within ``timeout`` seconds of the listeners' closing.

    Returns the names of the handlers still running at the deadline (cancelled), sorted, and
    the deadline (loop time).
    """
    loop = asyncio.get_running_loop()
    connections, inflight = site.connections, site.inflight
    for conn in connections:
        conn.closing = True  # a response finished from now on says Connection: close
    # WebSocket sessions are told first (each 1001 goes out now, and the clients answer while
    # the listeners close); then every other connection, those made while the listeners closed
    # (accepted before close_listeners stopped accepting, before it yielded) among them.
    websocket = site.websocket
    told: dict[Connection, None] = websocket.going_away() if websocket is not None else {}
    await close_listeners(listeners)
    for conn in list(connections):
        if conn not in told:
            conn.shutdown()
    del told  # (a session is freed as it ends, not all of them at the end of stop)
    deadline = loop.time() + timeout

    def open_transports() -> list[asyncio.BaseTransport]:
        return [conn.transport for conn in connections if conn.transport is not None]

    # A streamed body waiting for its next chunk (an event stream) is slowness, not a handler:
    # it is ended, now or once seen blocked (those begun meanwhile too: at each look).
    stop_streamed_bodies(inflight, loop.time())
    stalled = StalledReaders()
    while inflight and (remaining := deadline - loop.time()) > 0:
        await _settle(site, min(remaining, _LOOK_INTERVAL))
        # A body still being produced for a client that stopped reading would hold stop()
        # up to its timeout: cut that client off (the body is then closed, see _send).
        stalled.abort(open_transports(), loop.time())
        stop_streamed_bodies(inflight, loop.time())
    still_running = sorted(
        {name if isinstance(name, str) else name() for name in inflight.values()}
    )
    for future in list(inflight):
        future.cancel()
    if site.websocket is not None:  # (WebSocket clients answer the 1001: clean closes)
        await site.websocket.closing_handshakes(deadline)
    # What is being sent goes out to clients reading it (TLS: then close_notify; the client's
    # is not awaited, RFC 8446 §6.1); nothing is sent after stop() returns. What a large
    # body's connection still holds back is handed over; an HTTP/2 body held back by the
    # client's windows is awaited (it goes as they open, or is cut if they stay shut).
    held = [sent for conn in list(connections) if (sent := conn.hand_over()) is not None]
    if held and (remaining := deadline - loop.time()) > 0:
        await asyncio.wait(held, timeout=remaining)
    for conn in list(connections):
        if conn.busy:
            conn.abort()  # its handler (or the client reading its body) ran out of time
    if connections:
        await finish_connections(open_transports, deadline)
    return still_running, deadline


async def _settle(site: Site, timeout: float) -> None:
    """Return once nothing is in flight (``Site.release`` ends :attr:`Site.settled` when the
    last held future goes), or after ``timeout`` seconds (see ``_waits.until_done``)."""
    loop = site.loop
    site.settled = loop.create_future()
    try:
        await until_done(site.settled, loop.time() + timeout)
    finally:
        site.settled = None
