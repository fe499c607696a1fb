"""The ``http_server`` fixture's listening socket, kept from one test's server to the next's.

Every test that asks for ``http_server`` gets a new :class:`~understudy.HTTPServer` made from
its own options: its journal, expectations, directories, mappings, errors and connections are
its own. What it shares with the test before it is the listening socket: binding one, handing
it to the loop and closing it again is most of what a fresh server costs (issue 20), so after
the test the socket is *parked* rather than closed, and the next test's server adopts it, on
the same port.

After the test (:func:`park`, one hop to the loop, in place of ``stop()``): when the server is
quiet (no handler running, nothing left to send, no WebSocket opened) its connections are
closed as ``stop()`` closes them (a keep-alive client gets EOF), the server is stopped as far
as the test can tell (``running`` is false, ``stop()`` does nothing, ``start()`` binds anew),
and the listener drops every connection it accepts while parked: a client of the test that
ended never reaches the next one. A server that is not quiet is stopped as usual instead.

Only plain servers park: ``port=0``, no ``tls=``, no ``conditions``, no ASGI app (its lifespan
runs at each start). A test that needs a listener of its own uses ``make_http_server``. The
pool keeps one listener per host and closes it at the end of the pytest session, or at
interpreter exit with the runtime.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Self

if TYPE_CHECKING:
    import asyncio
    import random
    import socket

    from .._conditions import Shaper
    from .._runtime import Runtime
    from .._tls import TLS
    from ._parked import Parked
    from ._routing import Router
    from ._site import Site

__all__ = ["Parking", "park", "start_fresh"]

#: Seconds parking waits for the loop (as long as a start: the loop is normally free).
_PARK_TIMEOUT = 5.0


class Parking:
    """The part of :class:`~understudy.HTTPServer` that parks and adopts listeners (what it
    needs is imported when a listener is first parked: ``_parked``)."""

    if TYPE_CHECKING:  # (what it reads of the server, which sets each of these)
        _site: Site
        _router: Router
        _shaper: Shaper
        _runtime: Runtime | None
        _sockets: list[socket.socket]
        _listeners: tuple[asyncio.AbstractServer, ...]
        _bound_port: int | None
        _requested_port: int
        _host: str
        _tls: TLS | None
        _lifecycle_lock: threading.Lock

        @property
        def running(self) -> bool: ...
        @property
        def port(self) -> int: ...
        def start(self) -> Self: ...
        def _set_served(self, served: bool) -> None: ...
        def _serving_posted(self) -> bool: ...
        def _start_waits(self) -> bool: ...
        def _abort_at_exit(self) -> None: ...
        @property
        def random(self) -> random.Random: ...

    def _parks(self) -> bool:
        """Whether its listener may be parked: a plain server (see the module's docstring)."""
        return (
            self._requested_port == 0
            and self._tls is None
            and self._shaper.plain
            and not self._start_waits()
        )

    def _park(self) -> Parked | None:
        """Stop serving and keep the listener; ``None`` (and nothing done) when the server is
        not running, not plain, or not quiet.

        Raises:
            WaitTimeout: the loop did not get to it (its thread is held).
        """
        with self._lifecycle_lock:
            runtime = self._runtime
            if runtime is None or not self.running or not self._parks():
                return None
            parked = runtime.call_function(
                lambda: self._park_on_loop(runtime),
                _PARK_TIMEOUT,
                what=lambda: f"parking the listener of {self!r}",
            )
            if parked is not None:
                self._set_served(False)
                self._sockets, self._listeners = [], ()
            return parked

    def _park_on_loop(self, runtime: Runtime) -> Parked | None:
        """On the loop (one callback: what the test's clients sent before is all read)."""
        from ._parked import Dropped, Parked, drop_backlog, quiet  # noqa: PLC0415

        site = self._site
        # (a start() that did not wait: its serving may not have begun, or not have ended)
        if not self._listeners or self._serving_posted() or not quiet(site):
            return None
        parked = Parked(runtime, self._sockets, self._listeners, self._host, self.port)
        self._shaper.hand_over(parked.shaper, Dropped, parked)
        drop_backlog(parked)  # (connections the kernel has made that the loop has not taken)
        for conn in list(site.connections):
            conn.closing = True
            conn.shutdown()  # (idle, as quiet() found it: closed now)
        runtime.servers.discard(self)
        runtime.servers.add(parked)
        return parked

    def _adopt(self, parked: Parked) -> None:
        """Serve on ``parked``'s listener from now on, as ``start()`` serves a new one.

        Done in the calling thread, without waking the loop: the listener's protocol factory
        is re-pointed (attribute writes, which the loop sees whole), so every connection the
        loop accepts from now on is this server's; this site is new, and nothing on the
        loop holds it yet.
        """
        from ._serving import connections  # noqa: PLC0415 - (loaded by then)

        with self._lifecycle_lock:
            runtime, site = parked.runtime, self._site
            site.runtime, site.loop = runtime, runtime.loop
            self._runtime = runtime
            self._sockets, self._listeners = parked.sockets, parked.listeners
            self._bound_port = parked.port
            parked.shaper.hand_over(self._shaper, connections(site, self._router), self)
            runtime.servers.discard(parked)
            runtime.servers.add(self)
            self._set_served(True)


def start_fresh(server: Parking) -> None:
    """Start ``server`` (just made, for the ``http_server`` fixture): on a parked listener of
    its host when there is one, else with ``start()``."""
    if server._parks():
        from . import _parked  # noqa: PLC0415 - loaded when first parked

        parked = _parked.take(server._host)
        if parked is not None:
            server._adopt(parked)
            return
    server.start()


def park(server: Parking) -> None:
    """After the test: park ``server``'s listener if it may be parked, else leave it to
    ``stop()`` (a held loop, too: ``stop()`` reports it)."""
    from .._errors import WaitTimeout  # noqa: PLC0415 - (loaded with the runtime)
    from ._parked import give  # noqa: PLC0415 - loaded when first parked

    try:
        parked = server._park()
    except WaitTimeout:
        return
    if parked is not None:
        give(parked)
