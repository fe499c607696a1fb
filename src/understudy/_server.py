"""The lifecycle every understudy server shares: bind, start, ready, stop, check, ``with``.

``start()`` binds and listens in the caller's thread, so the port is known and the kernel already
queues connections when it returns (no readiness probe), then hands the sockets to the runtime's
loop and waits until they are served. ``stop()`` closes the listeners and every connection, waits
for in-flight handlers, and is idempotent. Exceptions raised by handlers are kept and re-raised by
``check()`` and by leaving the ``with`` block.
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
import ssl
import threading
import weakref
from collections.abc import Callable
from types import TracebackType
from typing import Any, ClassVar, Self

from ._conditions import Conditions, Shaper, check_conditions, check_seed
from ._core.tlsinfo import TLSFailure
from ._errors import ConfigurationError, WaitTimeout
from ._handshake import Handshakes, close_handshakes, held_weakly
from ._journal import Journal
from ._keywords import checked_keywords
from ._listeners import bind_inet, close_listeners
from ._runtime import Runtime, get_runtime
from ._tls import server_context
from ._tls_settings import DEFAULT_HANDSHAKE_TIMEOUT, TLS

__all__ = ["Server", "describe_handler"]

#: How long ``start()`` waits for the loop to take the sockets over (seconds). Generous: it is
#: only approached on a machine so loaded that the loop thread is not scheduled.
_START_TIMEOUT = 10.0
#: Servers whose stop() ran out of time because the loop was held, with the event its work
#: on the loop sets once the loop has run it: the next start() waits for that. (Not an
#: attribute: an idle server is kept to 29 of them, see tests/test_server.py.)
_PENDING_STOPS: weakref.WeakKeyDictionary[Server, threading.Event] = weakref.WeakKeyDictionary()


class Server:
    """Base of every understudy server: the lifecycle, error collection and repr.

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
    #: Socket type of the listeners made by the default ``_bind``.
    _socket_type: ClassVar[socket.SocketKind] = socket.SOCK_STREAM
    #: TLS settings of a subclass given ``tls=`` (set in its ``__init__``); None: plain.
    _tls: TLS | None = None
    #: Protocols advertised by ALPN (RFC 7301) on TLS connections.
    _alpn_protocols: ClassVar[tuple[str, ...]] = ()
    #: Failed TLS handshakes (see ``tls_failures``), made on first use: idle servers stay small.
    _tls_failures_journal: Journal[TLSFailure] | None = None

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
        if not isinstance(host, str) or not host:
            raise ConfigurationError(
                f"host must be an address such as '127.0.0.1', '::1' or 'localhost', not "
                f"{host!r}; to listen on every interface write host='0.0.0.0' explicitly"
            )
        if not isinstance(port, int) or isinstance(port, bool) or not 0 <= port <= 65535:
            raise ConfigurationError(
                f"port must be an int from 0 to 65535 (0: the kernel chooses), not {port!r}"
            )
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
        self._seed = check_seed(seed)
        self._random: random.Random | None = None  # made on first use: idle servers stay small
        self._shaper = Shaper(check_conditions(conditions))

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
            try:
                runtime.call(
                    self._serve_sockets(runtime, sockets),
                    _START_TIMEOUT,
                    twin="start_async",
                    what=f"start() of {self!r}",
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
        runtime = get_runtime()
        self._runtime = runtime
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
        is served after ``stop()`` returns. Idempotent.

        Args:
            timeout: seconds to wait for handlers still running.

        Raises:
            WaitTimeout: a handler was still running at the timeout (its connection is aborted
                all the same; a sync handler's thread finishes on its own).
        """
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
                    what=f"stop() of {self!r}",
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
        """The awaitable twin of :meth:`stop`."""
        runtime = self._stop_begin()
        if runtime is None:
            return
        try:
            still_running = await runtime.call_async(
                self._stop_on_loop(runtime, timeout, list(self._sockets))
            )
        finally:
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

    # -- network conditions ------------------------------------------------------------------

    @property
    def random(self) -> random.Random:
        """The source of the server's random choices (jitter, probabilities, fault delays, SMTP
        failures): a ``random.Random`` seeded by ``seed=``, so a failing run can be replayed.
        Made on first use, so an idle server does not carry its 2.5 KiB state."""
        if self._random is None:
            self._random = random.Random(self._seed)  # noqa: S311 - test data, not secrets
        return self._random

    @property
    def conditions(self) -> Conditions | None:
        """The :class:`understudy.Conditions` applied to new connections, or ``None``."""
        return self._shaper.conditions

    def set_conditions(self, conditions: Conditions | None) -> None:
        """Apply ``conditions`` from now on: to new connections, and to open connections that
        were accepted while conditions were set (those accepted with none stay unshaped).

        ``Conditions(refuse=True)`` closes the listening sockets at once; conditions without
        it bind them again on the same address. ``None`` lifts every condition.

        Args:
            conditions: an :class:`understudy.Conditions`, or ``None``.

        Raises:
            ConfigurationError: ``conditions`` is not a ``Conditions``.
            OSError: ending a refusal, the address was taken by another socket meanwhile.
        """
        checked = check_conditions(conditions)
        runtime = self._runtime
        if not self.running or runtime is None:
            self._shaper.conditions = checked
            return
        runtime.call(
            self._set_conditions(checked),
            _START_TIMEOUT,
            twin="set_conditions_async",
            what=f"set_conditions() of {self!r}",
        )

    async def set_conditions_async(self, conditions: Conditions | None) -> None:
        """The awaitable twin of :meth:`set_conditions`."""
        checked = check_conditions(conditions)
        runtime = self._runtime
        if not self.running or runtime is None:
            self._shaper.conditions = checked
            return
        await runtime.call_async(self._set_conditions(checked))

    async def _set_conditions(self, conditions: Conditions | None) -> None:
        # On the loop: the sockets of listeners bound again after a refusal are this run's.
        sockets = await self._shaper.set(conditions, self)
        self._sockets.extend(sockets)

    async def _listen(
        self, factory: Callable[[], asyncio.BaseProtocol], sock: socket.socket, **options: Any
    ) -> asyncio.AbstractServer:
        """On the loop: ``loop.create_server(factory, sock=sock, **options)`` with conditions
        applied (``options``: what else ``create_server`` takes, and ``ssl=``).

        Every stream server serves its listening sockets through this, so conditions reach
        every connection without protocol code of its own. With ``ssl=`` a context, the
        socket is served plain and each connection's protocol is a
        :class:`~understudy._handshake.ServerTLSProtocol` around the server's (asyncio's own,
        which sends the alert of a failed handshake and records the failure in
        :attr:`tls_failures`); the handshakes in progress are kept, for
        :meth:`_close_listeners` to end, and the handshake timeout is
        ``TLS(handshake_timeout=...)``.
        """
        context = options.pop("ssl", None)
        if context is None:
            return await self._shaper.listen(factory, sock, options, self)
        handshakes = self._handshakes(context)
        listener = await self._shaper.listen(factory, sock, options, self, handshakes)
        handshakes.serve(listener)
        return listener

    async def _close_listeners(self, listeners: list[asyncio.AbstractServer]) -> None:
        """On the loop, at stop: close ``listeners`` without losing a connection accepted
        meanwhile (:func:`understudy._listeners.close_listeners`), then the TLS connections
        still in their handshake on them (:func:`understudy._handshake.close_handshakes`).
        Every server's ``_shutdown`` closes its listeners through this."""
        await close_listeners(listeners)
        await close_handshakes(listeners)

    def _handshakes(self, context: ssl.SSLContext) -> Handshakes:
        """The :class:`~understudy._handshake.Handshakes` for TLS connections with ``context``
        (a new one per listener and STARTTLS: each is closed at ``stop()``)."""
        tls = self._tls
        timeout = DEFAULT_HANDSHAKE_TIMEOUT if tls is None else tls.handshake_timeout
        return Handshakes(context, timeout, held_weakly(self._tls_journal))

    def _tls_journal(self) -> Journal[TLSFailure]:
        """The journal of failed handshakes, made on first use (most servers never need it)."""
        with self._errors_lock:
            journal = self._tls_failures_journal
            if journal is None:
                journal = self._tls_failures_journal = Journal("failed TLS handshake")
            return journal

    # -- failed TLS handshakes -----------------------------------------------------------------

    @property
    def tls_failures(self) -> list[TLSFailure]:
        """The TLS handshakes that failed so far (a snapshot list of
        :class:`~understudy.TLSFailure`, oldest first); always empty on a plain server.

        Every TLS server records them (``tls=``, and SMTP's ``starttls=``): a client without a
        required certificate, offering only versions the server does not speak, refusing the
        server's certificate, speaking plain text, closing or resetting mid-handshake, or too
        slow (``TLS(handshake_timeout=...)``). Handshakes that ``stop()`` cut short are not
        failures. A failure does not make :meth:`check` raise: a test of a client often
        provokes one on purpose; assert ``server.tls_failures == []`` where none may happen.
        """
        return self._tls_journal().snapshot()

    def wait_for_tls_failures(
        self,
        count: int = 1,
        *,
        match: Callable[[TLSFailure], bool] | None = None,
        timeout: float = 5.0,
    ) -> list[TLSFailure]:
        """Block until ``count`` TLS handshakes (satisfying ``match``, if given) have failed.

        A client sees the failure (its alert, RFC 8446 §6.2) before the server has recorded
        it: wait, rather than read :attr:`tls_failures` at once.

        Args:
            count: how many to wait for.
            match: a predicate on :class:`~understudy.TLSFailure`; only those it accepts count.
            timeout: seconds to wait.

        Returns:
            The first ``count`` such failures, oldest first.

        Raises:
            WaitTimeout: after ``timeout`` seconds; the message lists what did arrive.
        """
        __tracebackhide__ = True
        return self._tls_journal().wait_for(count, match=match, timeout=timeout)

    async def wait_for_tls_failures_async(
        self,
        count: int = 1,
        *,
        match: Callable[[TLSFailure], bool] | None = None,
        timeout: float = 5.0,
    ) -> list[TLSFailure]:
        """The awaitable twin of :meth:`wait_for_tls_failures`, for async tests."""
        __tracebackhide__ = True
        return await self._tls_journal().wait_for_async(count, match=match, timeout=timeout)

    # -- hooks for subclasses ----------------------------------------------------------------

    def _ssl_context(self) -> ssl.SSLContext | None:
        """The server-side context for ``tls=`` (made once per settings, shared), or None."""
        tls = self._tls
        return None if tls is None else server_context(tls, self._host, self._alpn_protocols)

    def _bind(self) -> list[socket.socket]:
        """In the caller's thread: bound, listening (for streams) sockets to serve."""
        sockets = bind_inet(self._host, self._requested_port, self._socket_type)
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

    # -- errors raised in handlers -----------------------------------------------------------

    def _record_error(self, error: BaseException) -> None:
        """Keep an exception raised by user code, for ``check()``. Thread-safe."""
        with self._errors_lock:
            self._errors.append(error)

    def _take_failures(self) -> list[BaseException]:
        """Handler errors (and, in subclasses, verification failures), forgotten once taken."""
        with self._errors_lock:
            errors, self._errors = self._errors, []
        return errors

    def check(self) -> None:
        """Re-raise what went wrong in handlers since the last check, then forget it.

        One exception is raised as itself, with its traceback; several as an
        ``ExceptionGroup``. Does nothing when all went well.
        """
        __tracebackhide__ = True
        self._raise(self._take_failures())

    # -- context managers --------------------------------------------------------------------

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        __tracebackhide__ = True
        self._exit(exc, stop_error=_capture(self.stop))

    async def __aenter__(self) -> Self:
        return await self.start_async()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        __tracebackhide__ = True
        try:
            await self.stop_async()
        except WaitTimeout as error:
            stop_error: WaitTimeout | None = error
        else:
            stop_error = None
        self._exit(exc, stop_error=stop_error)

    def _exit(self, exc: BaseException | None, *, stop_error: WaitTimeout | None) -> None:
        __tracebackhide__ = True
        failures = self._take_failures()
        if stop_error is not None:
            failures.append(stop_error)
        if exc is not None:
            # Never mask the test's own exception; say what else happened beside it.
            for failure in failures:
                exc.add_note(
                    f"understudy: {self!r} also recorded {type(failure).__name__}: {failure}"
                )
            return
        self._raise(failures)

    def _raise(self, failures: list[BaseException]) -> None:
        """Raise one failure as itself, several as an ``ExceptionGroup``, none: nothing."""
        __tracebackhide__ = True
        if len(failures) == 1:
            raise failures[0]
        if failures:
            raise BaseExceptionGroup(
                f"{len(failures)} errors were raised in handlers of {self!r}", failures
            )

    # -- repr --------------------------------------------------------------------------------

    def _describe_address(self) -> str:
        port = self._bound_port if self._bound_port is not None else self._requested_port
        return f"{self._url_host()}:{port or '?'}"

    def __repr__(self) -> str:
        if self.running:
            state = "running"
        elif self._runtime is None:
            state = "not started"
        else:
            state = "stopped"
        name = f"{type(self).__module__}.{type(self).__qualname__}"
        return f"<{name} {self._describe_address()} {state}>"


def _capture(stop: Any) -> WaitTimeout | None:
    try:
        stop()
    except WaitTimeout as error:
        return error
    return None


def describe_handler(handler: object) -> str:
    """A short name for a user's callable, for messages."""
    name = getattr(handler, "__qualname__", None) or getattr(handler, "__name__", None)
    module = getattr(handler, "__module__", None)
    if name is None:
        return repr(handler)
    return f"{module}.{name}" if module else str(name)
