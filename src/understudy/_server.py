"""The lifecycle every understudy server shares: bind, start, ready, stop, check, ``with``.

``start()`` binds and listens in the caller's thread, so the port is known and the kernel already
queues connections when it returns (no readiness probe), then hands the sockets to the runtime's
loop and waits until they are served (a server whose serving cannot fail, such as an HTTP server
without an ASGI app, does not wait: ``_serving.Serving._serve_posted``). ``stop()`` closes the
listeners and every connection, waits for in-flight handlers, and is idempotent. Exceptions
raised by handlers are kept and re-raised by ``check()`` and by leaving the ``with`` block.
"""

from __future__ import annotations

import os
import threading
import weakref
from typing import TYPE_CHECKING, Any, ClassVar, Self

from ._errors import WaitTimeout
from ._failures import HandlerFailures, describe_handler
from ._keywords import checked_keywords
from ._serving import Serving

# Naming a server class loads this module and its bases, not what a made or started server
# needs (issue 20): the conditions and address checks are imported in `__init__`, the runtime
# (asyncio, the worker pool) and binding in `start()`.
if TYPE_CHECKING:
    import random
    import socket

    from ._conditions import Conditions
    from ._runtime import Runtime

__all__ = ["Server", "describe_handler"]

#: How long ``start()`` waits for the loop to take the sockets over (seconds). Generous: it is
#: only approached on a machine so loaded that the loop thread is not scheduled. Longer than an
#: ASGI app's lifespan startup may take (10 s), so that startup's own error says what was slow.
_START_TIMEOUT = 15.0
#: Servers whose stop() ran out of time on a held loop, or whose stop_async() was cancelled,
#: with the event their stop on the loop sets once it has run: the next start() waits for
#: that. (Not an attribute: an idle server is kept to 29 of them, see tests/test_server.py.)
_PENDING_STOPS: weakref.WeakKeyDictionary[Server, threading.Event] = weakref.WeakKeyDictionary()


class Server(Serving, HandlerFailures):
    """Base of every understudy server: the lifecycle and repr (its conditions and TLS from
    ``_serving.Serving``, its handler errors and ``check()`` from ``_failures.HandlerFailures``).

    Subclasses provide ``_serve`` (take the bound sockets over on the loop) and ``_shutdown``
    (close connections and wait for in-flight handlers, on the loop), and may override ``_bind``.

    Args:
        host: the address to listen on. ``"127.0.0.1"`` by default; ``"::1"`` for IPv6;
            ``"localhost"`` listens on both 127.0.0.1 and ::1 on one port, so a client reaches it
            whichever address it resolves first. All interfaces only when named
            (``"0.0.0.0"`` or ``"::"``).
        port: the TCP/UDP port; ``0`` (the default) lets the kernel choose a free one, readable
            from :attr:`port` once started.
        conditions: network conditions for every connection (latency, bandwidth, resets,
            refusal...: :class:`understudy.Conditions`); ``None`` (default): none. Stream
            servers only; change them while running with :meth:`set_conditions`.
        seed: seeds :attr:`random`, the source of every random choice the server makes
            (jitter, probabilities), so a failing run can be replayed; ``None``: a fresh seed.
    """

    #: The kind shown in reprs and messages ("HTTP server").
    kind: ClassVar[str] = "server"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Every server class's own ``__init__`` turns a wrong keyword into a
        :class:`ConfigurationError` naming the closest valid one (see :mod:`._keywords`)."""
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")
        if init is not None:
            cls.__init__ = checked_keywords(init)  # type: ignore[method-assign]

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        conditions: Conditions | None = None,
        seed: int | None = None,
    ) -> None:
        # (absolute imports: a relative one in a function costs a microsecond a call)
        import understudy._conditions as conditions_  # noqa: PLC0415 - loaded when one is made
        import understudy._listeners as listeners  # noqa: PLC0415

        listeners.check_address(host, port)
        self._host = host
        self._requested_port = port
        self._bound_port: int | None = None
        self._served = False
        self._ready: threading.Event | None = None  # made on first use: idle servers stay small
        self._lifecycle_lock = threading.Lock()
        self._runtime: Runtime | None = None
        self._sockets: list[socket.socket] = []
        self._errors: list[BaseException] = []
        self._errors_lock = threading.Lock()
        self._seed = conditions_.check_seed(seed)
        self._random: random.Random | None = None  # made on first use: idle servers stay small
        self._shaper = conditions_.Shaper(conditions_.check_conditions(conditions))

    # -- addresses ---------------------------------------------------------------------------

    @property
    def host(self) -> str:
        """The host as given (``"127.0.0.1"``, ``"::1"``, ``"localhost"``, ...)."""
        return self._host

    @property
    def port(self) -> int:
        """The port listened on: chosen by the kernel at ``start()`` when 0 was given.

        Raises:
            RuntimeError: if port 0 was given and the server was never started.
        """
        if self._bound_port is not None:
            return self._bound_port
        if self._requested_port:
            return self._requested_port
        raise RuntimeError(
            f"{self!r} has no port yet: the kernel chooses it at start(); call start() first "
            "or use the server in a `with` block"
        )

    @property
    def address(self) -> tuple[str, int]:
        """``(host, port)``, ready for ``socket.create_connection``."""
        return (self._host, self.port)

    @property
    def ready(self) -> threading.Event:
        """A ``threading.Event`` set while the server is served (``start()`` returned and
        ``stop()`` has not begun), for code that waits on readiness from another thread."""
        with self._errors_lock:
            if self._ready is None:
                self._ready = threading.Event()
                if self._served:
                    self._ready.set()
            return self._ready

    def _set_served(self, served: bool) -> None:
        with self._errors_lock:
            self._served = served
            if self._ready is not None:
                if served:
                    self._ready.set()
                else:
                    self._ready.clear()

    @property
    def running(self) -> bool:
        """Whether the server is being served in this process."""
        runtime = self._runtime
        return runtime is not None and runtime.pid == os.getpid() and self._served

    def _url_host(self) -> str:
        return f"[{self._host}]" if ":" in self._host else self._host

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Self:
        """Bind, listen and serve; return ``self`` once a client may connect.

        The sockets listen when it returns, so a client's connection is queued by the kernel
        and answered once the loop serves them: at once, or at the loop's next turn for a
        server that does not wait for it (an HTTP server without an ASGI app, whose serving
        cannot fail; anything asked of it after ``start()`` comes after that turn).

        Idempotent: on a running server it returns at once. After ``stop()`` it starts again
        (on the same port when one was given; on a newly chosen one for ``port=0``).

        Raises:
            AddressInUse: the port is taken (also an ``OSError`` with ``errno.EADDRINUSE``).
            OSError: the address cannot be bound for another reason (it is not local, ...).
            RuntimeError: called from an ``async def`` handler; use ``await start_async()``.
        """
        with self._lifecycle_lock:
            if self.running:
                return self
            runtime, sockets = self._prepare_start()
            if not self._start_waits() and not runtime.in_loop_thread:
                self._set_served(True)  # (the loop takes the sockets over in turn: see below)
                runtime.post(self._serve_posted(runtime, sockets))
                return self
            try:
                runtime.call(
                    self._serve_sockets(runtime, sockets),
                    _START_TIMEOUT,
                    twin="start_async",
                    what=lambda: f"start() of {self!r}",
                )
            except BaseException:
                self._close_sockets()
                raise
            return self

    async def start_async(self) -> Self:
        """The awaitable twin of :meth:`start`, for async tests."""
        if self.running:
            return self
        runtime, sockets = self._prepare_start()
        try:
            await runtime.call_async(self._serve_sockets(runtime, sockets))
        except BaseException:
            self._close_sockets()
            raise
        return self

    def _prepare_start(self) -> tuple[Runtime, list[socket.socket]]:
        pending = _PENDING_STOPS.pop(self, None)
        if pending is not None and not pending.wait(_START_TIMEOUT):
            _PENDING_STOPS[self] = pending
            raise WaitTimeout(
                f"start() of {self!r} waited {_START_TIMEOUT:g} s for its previous stop(), "
                "which understudy's event loop has not run yet: its thread is held"
            )
        from ._runtime import get_runtime  # noqa: PLC0415 - loaded when first started

        runtime = get_runtime()
        self._runtime = runtime
        self._load_for_serving()
        self._sockets = self._bind()
        return runtime, self._sockets

    async def _serve_sockets(self, runtime: Runtime, sockets: list[socket.socket]) -> None:
        await self._serve(sockets)
        runtime.servers.add(self)
        self._set_served(True)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving: close the listeners and every connection, wait for in-flight handlers.

        A client holding an idle keep-alive connection gets EOF; a request being handled is
        answered (with ``Connection: close``) if its handler finishes within ``timeout``; nothing
        is served after ``stop()`` returns. Idempotent. A streamed HTTP response body waiting
        for its next chunk is cut, not waited for (see :func:`~understudy.event_stream`).

        Args:
            timeout: seconds to wait for handlers still running.

        Raises:
            WaitTimeout: a handler was still running at the timeout (its connection is aborted
                all the same; a sync handler's thread finishes on its own).
            RuntimeError: called in an ``async def`` handler (nothing stops): use ``stop_async``.
        """
        if (runtime := self._runtime) is not None:  # (before the lock and any change)
            runtime.refuse_on_loop("stop_async")
        with self._lifecycle_lock:
            runtime = self._stop_begin()
            if runtime is None:
                return
            done = threading.Event()
            try:
                still_running = runtime.call(
                    self._stop_on_loop(runtime, timeout, list(self._sockets), done),
                    timeout + 5.0,
                    twin="stop_async",
                    what=lambda: f"stop() of {self!r}",
                    cancel=False,  # (it runs when the loop is free, and closes the sockets)
                )
            except WaitTimeout:
                _PENDING_STOPS[self] = done  # (a start() waits for it)
                raise
            except BaseException:
                self._close_sockets()
                raise
            self._close_sockets()
            self._raise_if_still_running(still_running, timeout)

    async def stop_async(self, timeout: float = 5.0) -> None:
        """The awaitable twin of :meth:`stop`. Cancelled, it stops waiting, and the server
        stops all the same (a ``start()`` meanwhile waits for that)."""
        runtime = self._stop_begin()
        if runtime is None:
            return
        done = threading.Event()
        stopping = self._stop_on_loop(runtime, timeout, list(self._sockets), done)
        try:
            still_running = await runtime.call_async(stopping, cancel=False)
        except BaseException:
            _PENDING_STOPS[self] = done  # (the loop closes the sockets once it has stopped)
            raise
        self._close_sockets()
        self._raise_if_still_running(still_running, timeout)

    def _stop_begin(self) -> Runtime | None:
        runtime = self._runtime
        if runtime is None or not self._served:
            return None
        self._set_served(False)
        if runtime.pid != os.getpid():
            # A forked child holds copies of the parent's sockets, served by no loop here.
            self._close_sockets()
            self._runtime = None
            return None
        return runtime

    async def _stop_on_loop(
        self,
        runtime: Runtime,
        timeout: float,
        sockets: list[socket.socket],
        done: threading.Event | None = None,
    ) -> list[str]:
        """Stop on the loop, then close ``sockets`` (this run's, taken when stop() was called:
        a stop that runs late, once a held loop is free, must not close the next run's), then
        set ``done``."""
        await self._until_served()
        runtime.servers.discard(self)
        self._shaper.stop()  # a throttled or delayed transfer ends now, not at its pace
        try:
            return await self._shutdown(timeout)
        finally:
            for sock in sockets:
                sock.close()
            if done is not None:
                done.set()

    def _raise_if_still_running(self, still_running: list[str], timeout: float) -> None:
        if still_running:
            raise WaitTimeout(
                f"stop() waited {timeout:g} s for handlers of {self!r} to finish; still running: "
                + ", ".join(still_running)
            )

    def _close_sockets(self) -> None:
        for sock in self._sockets:
            sock.close()
        self._sockets = []

    def _abort_at_exit(self) -> None:
        """On the loop, at interpreter exit: drop everything without waiting."""
        self._set_served(False)
        self._shaper.stop()
        self._abort()
        self._close_sockets()  # (those of a serving not begun yet: no listener's)

    # -- hooks for subclasses ----------------------------------------------------------------

    def _start_waits(self) -> bool:
        """Whether ``start()`` waits for the loop to take the bound sockets over (``True``).

        A server whose ``_serve`` cannot fail and awaits nothing but the loop (an HTTP server
        without an ASGI app) returns ``False``: ``start()`` then returns once its sockets
        listen (the kernel queues connections), and the loop serves them at its next turn,
        before anything else asked of it after ``start()``. One hop to the loop less."""
        return True

    def _load_for_serving(self) -> None:
        """In the caller's thread, at start: import what serving will need, so that the loop
        does not. (Under pytest, which rewrites the modules of its plugins' packages, an
        import parses the module with ``ast``, which CPython 3.11 does not make safe against
        another thread doing the same: gh-106905, a ``SystemError``.)"""
        if self._shaper.conditions is not None:
            from ._conditions import _connection  # noqa: F401, PLC0415 - shapes connections
        if self._tls is not None:
            from . import _handshake  # noqa: F401, PLC0415 - TLS handshakes

    def _bind(self) -> list[socket.socket]:
        """In the caller's thread: bound, listening sockets to serve (TCP, by default)."""
        import socket  # noqa: PLC0415 - loaded when first started

        from ._listeners import bind_inet  # noqa: PLC0415 - (loaded by __init__)

        sockets = bind_inet(self._host, self._requested_port, socket.SOCK_STREAM)
        self._bound_port = sockets[0].getsockname()[1]
        return sockets

    async def _serve(self, sockets: list[socket.socket]) -> None:
        """On the loop: start serving the bound sockets."""
        raise NotImplementedError

    async def _shutdown(self, timeout: float) -> list[str]:
        """On the loop: close everything; return descriptions of handlers still running."""
        raise NotImplementedError

    def _abort(self) -> None:
        """On the loop: close everything at once."""

    # -- context managers (leaving one: HandlerFailures) -----------------------------------

    def __enter__(self) -> Self:
        return self.start()

    async def __aenter__(self) -> Self:
        return await self.start_async()

    # -- repr --------------------------------------------------------------------------------

    def _describe_address(self) -> str:
        port = self._bound_port if self._bound_port is not None else self._requested_port
        return f"{self._url_host()}:{port or '?'}"

    def __repr__(self) -> str:
        state = "running" if self.running else "not started" if self._runtime is None else "stopped"
        name = f"{type(self).__module__}.{type(self).__qualname__}"
        return f"<{name} {self._describe_address()} {state}>"
