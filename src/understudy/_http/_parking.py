"""The ``http_server`` fixture's listening socket, kept from one test's server to the next's.

Every test that asks for ``http_server`` gets a new :class:`~understudy.HTTPServer` made from
its own options: its journal, expectations, directories, mappings, errors and connections are
its own. What it shares with the test before it is the listening socket: binding one, handing
it to the loop and closing it again is most of what a fresh server costs (issue 20), so after
the test the socket is *parked* rather than closed, and the next test's server adopts it, on
the same port.

After the test (:func:`park`, in place of ``stop()``; from the test's thread while the loop is
idle, else one hop to the loop): when the server is quiet (no handler running, nothing left to
send, no WebSocket opened, no HTTP/2 request still being received) its connections are closed
as ``stop()`` closes them (a keep-alive client gets EOF), the server is stopped as far as the
test can tell (``running`` is false, ``stop()`` does nothing, ``start()`` binds anew), and the
listener drops every connection it accepts while parked: a client of the test that ended never
reaches the next one. A server that is not quiet is stopped as usual instead.

Only plain servers park: ``port=0``, no ``tls=``, no ``conditions``, no ASGI app (its lifespan
runs at each start). A test that needs a listener of its own uses ``make_http_server``. The
pool keeps one listener per host and closes it at the end of the pytest session, or at
interpreter exit with the runtime.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Self

from .._errors import WaitTimeout

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


class _NotYet:
    """What parking says of a server whose posted serving has not ended: ask again once it
    has."""


_NOT_YET = _NotYet()
#: Times parking lets the loop finish its turn before it asks the loop to park instead.
_YIELDS = 3


class Parking:
    """The part of :class:`~understudy.HTTPServer` that parks and adopts listeners (what it
    needs is imported when a listener is first parked: ``_parked``)."""

    #: What holds the listener this server adopted, to hold it again when it is parked (one
    #: :class:`Parked` a listener, made when it is first parked).
    _parked_from: Parked | None = None

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
        async def _until_served(self) -> None: ...
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

        Done from the calling thread when the loop is idle (``Runtime.idle``: after letting it
        finish the turn it is in, which mostly waits for this thread's GIL; one hop to close
        the connections clients left open), else in one callback on the loop; with a task
        when the serving ``start()`` posted is still under way (a test that made no request
        may end that soon).

        Raises:
            WaitTimeout: the loop did not get to it (its thread is held).
        """
        with self._lifecycle_lock:
            runtime = self._runtime
            if runtime is None or not self.running:
                return None
            # (a server that adopted a listener was found to park then: only its conditions
            # may have changed since)
            if not (self._shaper.plain if self._parked_from is not None else self._parks()):
                return None
            what = lambda: f"parking the listener of {self!r}"  # noqa: E731
            if runtime.idle or _idle(runtime):
                parked = self._park_now(runtime)
            else:
                parked = runtime.call_function(
                    lambda: self._park_now(runtime), _PARK_TIMEOUT, what=what, settle=True
                )
            if isinstance(parked, _NotYet):
                parked = runtime.call(
                    self._park_once_served(runtime), _PARK_TIMEOUT, twin="stop_async", what=what
                )
            if parked is not None:
                self._set_served(False)
                self._sockets, self._listeners = [], ()
            return parked

    def _park_now(self, runtime: Runtime) -> Parked | _NotYet | None:
        """Park, if quiet: on the loop, or from another thread while the loop is idle (the
        connections left open are then closed on the loop, and that thread waits for it: a
        client kept for the next test, a ``requests.Session``, must find its connection
        closed before it asks the same port again; those their clients closed, the loop
        closes as it reads their end). ``_NOT_YET`` while a posted serving is under way.

        Raises:
            WaitTimeout: the loop did not close the connections left open (its thread is held).
        """
        # (absolute: a relative import in a function costs a microsecond a call)
        import understudy._http._parked as pool  # noqa: PLC0415 - loaded when first parked

        parked = self._parked_from
        if parked is None or parked.listeners is not self._listeners:  # (not those it adopted)
            parked = None
            if not self._listeners or self._serving_posted():
                return _NOT_YET
        site = self._site
        if not pool.quiet(site):
            return None
        self._parked_from = None
        if parked is None:  # (the first parking of its listeners)
            parked = pool.Parked(runtime, self._sockets, self._listeners, self._host, self.port)
            runtime.servers.add(parked)
        self._shaper.hand_over(parked.shaper, pool.Dropped, parked)
        pool.drop_backlog(parked)  # (connections the kernel has made that the loop has not taken)
        runtime.servers.discard(self)
        connections = list(site.connections)
        if not connections or pool.closed_by_clients(connections):
            pass  # (the loop closes each as it reads its client's end: nothing to ask of it)
        elif runtime.in_loop_thread:
            pool.close_idle(connections)  # (closed at the loop's next turn: see call_function)
        else:  # (one hop, only for connections left open: see the docstring)
            runtime.call_function(
                lambda: pool.close_idle(connections),
                _PARK_TIMEOUT,
                what=lambda: f"closing the connections of {self!r}",
                settle=True,  # (their sockets closed: the clients have their EOF)
            )
        return parked

    async def _park_once_served(self, runtime: Runtime) -> Parked | None:
        """On the loop: :meth:`_park_now` once the serving ``start()`` posted has ended."""
        import asyncio  # noqa: PLC0415 - (loaded by then: the loop runs this)

        await self._until_served()
        parked = self._park_now(runtime)
        if isinstance(parked, _NotYet):  # (its serving failed: nothing listens)
            return None
        await asyncio.sleep(0)  # (the connections it closed: their sockets closed)
        return parked

    def _adopt(self, parked: Parked) -> None:
        """Serve on ``parked``'s listener from now on, as ``start()`` serves a new one.

        Done in the calling thread, without waking the loop: the listener's protocol factory
        is re-pointed (attribute writes, which the loop sees whole), so every connection the
        loop accepts from now on is this server's; this site is new, and nothing on the
        loop holds it yet.
        """
        import understudy._http._serving as serving  # noqa: PLC0415 - (loaded by then)

        with self._lifecycle_lock:
            runtime, site = parked.runtime, self._site
            site.runtime, site.loop = runtime, runtime.loop
            self._runtime, self._parked_from = runtime, parked
            self._sockets, self._listeners = parked.sockets, parked.listeners
            self._bound_port = parked.port
            parked.shaper.hand_over(self._shaper, serving.connections(site, self._router), self)
            runtime.servers.add(self)
            self._set_served(True)


def _idle(runtime: Runtime) -> bool:
    """Whether the loop is idle, once it has had the GIL for the turn it may be finishing
    (the response it just sent, the client's close it just read)."""
    for _ in range(_YIELDS):
        if runtime.idle:
            return True
        time.sleep(0)  # (lets the loop's thread take the GIL and end its turn)
    return runtime.idle


def start_fresh(server: Parking) -> None:
    """Start ``server`` (just made, for the ``http_server`` fixture): on a parked listener of
    its host when there is one, else with ``start()``."""
    if server._parks():
        import understudy._http._parked as pool  # noqa: PLC0415 - loaded when first parked

        parked = pool.take(server._host)
        if parked is not None:
            server._adopt(parked)
            return
    server.start()


def park(server: Parking) -> None:
    """After the test: park ``server``'s listener if it may be parked, else leave it to
    ``stop()`` (a held loop, too: ``stop()`` reports it)."""
    import understudy._http._parked as pool  # noqa: PLC0415 - loaded when first parked

    try:
        parked = server._park()
    except WaitTimeout:
        return
    if parked is not None:
        pool.give(parked)
