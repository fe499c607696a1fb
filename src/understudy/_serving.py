"""How a server's listeners serve connections: network conditions and TLS.

The part of :class:`understudy.Server` between its sockets and its protocol: every stream
server hands each listening socket to :meth:`Serving._listen`, so the connections it accepts get
the server's :class:`understudy.Conditions` and, with ``ssl=``, a TLS handshake whose failures
are recorded (:attr:`Serving.tls_failures`); and :meth:`Serving._close_listeners` closes them at
``stop()``. Nothing of the lifecycle is here: ``_server`` starts and stops, this serves (and
serves a ``start()`` that did not wait for the loop: :meth:`Serving._serve_posted`, with
:meth:`Serving._until_served` for what the loop is asked next).
"""

from __future__ import annotations

import sys
import threading
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

# A server class names this mixin; what it serves with (asyncio, conditions, TLS handshakes,
# the journal of failures) is imported where first used (issue 20).
if TYPE_CHECKING:
    import asyncio
    import random
    import socket
    import ssl

    from ._conditions import Conditions, Shaper
    from ._core.tlsinfo import TLSFailure
    from ._handshake import Handshakes
    from ._journal import Journal
    from ._runtime import Runtime
    from ._tls_settings import TLS

__all__ = ["Serving"]

#: On the loop: the task serving a server whose start() did not wait, until it has served.
_SERVING: weakref.WeakKeyDictionary[Serving, asyncio.Task[Any] | None] = weakref.WeakKeyDictionary()

#: How long ``set_conditions()`` waits for the loop (seconds), as ``start()`` does.
_CONDITIONS_TIMEOUT = 10.0


class Serving:
    """Mixin of :class:`understudy.Server`: network conditions and TLS on its listeners.

    It reads what ``Server.__init__`` sets (the host, the seed, the shaper, the runtime once
    started, the lock) and defines the public :attr:`random`, :attr:`conditions`,
    :meth:`set_conditions`, :attr:`tls_failures` and :meth:`wait_for_tls_failures`.
    """

    #: TLS settings of a subclass given ``tls=`` (set in its ``__init__``); None: plain.
    _tls: TLS | None = None
    #: Protocols advertised by ALPN (RFC 7301) on TLS connections.
    _alpn_protocols: ClassVar[tuple[str, ...]] = ()
    #: Failed TLS handshakes (see ``tls_failures``), made on first use: idle servers stay small.
    _tls_failures_journal: Journal[TLSFailure] | None = None

    # (set by Server.__init__ and start())
    _host: str
    _seed: int | None
    _random: random.Random | None
    _shaper: Shaper
    _runtime: Runtime | None
    _sockets: list[socket.socket]
    _errors_lock: threading.Lock

    if TYPE_CHECKING:

        @property
        def running(self) -> bool: ...

        async def _serve(self, sockets: list[socket.socket]) -> None: ...

        def _record_error(self, error: BaseException) -> None: ...

        def _abort_at_exit(self) -> None: ...

    # -- a start() that did not wait -----------------------------------------------------------

    async def _serve_posted(self, runtime: Runtime, sockets: list[socket.socket]) -> None:
        """``_serve`` for a ``start()`` that did not wait (``_start_waits()`` False): what it
        raises goes to :meth:`check` and leaving ``with``, as a handler's error does. Until
        it ends, the loop's next work for this server (a stop, new conditions) waits for it
        (:meth:`_until_served`): it may yield to the loop before its listeners are kept."""
        import asyncio  # noqa: PLC0415 - (loaded by then: the loop runs this)

        _SERVING[self] = asyncio.current_task()
        runtime.servers.add(self)  # (before it yields: an exit meanwhile aborts it too)
        try:
            await self._serve(sockets)
        except Exception as error:  # noqa: BLE001 - start() has returned: reported at check()
            self._record_error(error)
        finally:
            del _SERVING[self]

    def _serving_posted(self) -> bool:
        """On the loop: whether the serving a ``start()`` posted has yet to end."""
        return self in _SERVING

    async def _until_served(self) -> None:
        """On the loop: wait for the serving a ``start()`` posted to end, if it has not."""
        serving = _SERVING.get(self)
        if serving is not None:
            import asyncio  # noqa: PLC0415 - (loaded by then: the loop runs this)

            await asyncio.wait([serving])

    # -- network conditions ------------------------------------------------------------------

    @property
    def random(self) -> random.Random:
        """The source of the server's random choices (jitter, probabilities, fault delays, SMTP
        failures): a ``random.Random`` seeded by ``seed=``, so a failing run can be replayed.
        Made on first use, so an idle server does not carry its 2.5 KiB state."""
        if self._random is None:
            import random  # noqa: PLC0415 - made on first use

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
        from ._conditions import check_conditions  # noqa: PLC0415 - (loaded by Server())

        checked = check_conditions(conditions)
        if checked is not None:
            from ._conditions import _connection  # noqa: F401, PLC0415 - (see _load_for_serving)
        runtime = self._runtime
        if not self.running or runtime is None:
            self._shaper.conditions = checked
            return
        runtime.call(
            self._set_conditions(checked),
            _CONDITIONS_TIMEOUT,
            twin="set_conditions_async",
            what=f"set_conditions() of {self!r}",
        )

    async def set_conditions_async(self, conditions: Conditions | None) -> None:
        """The awaitable twin of :meth:`set_conditions`."""
        from ._conditions import check_conditions  # noqa: PLC0415 - (loaded by Server())

        checked = check_conditions(conditions)
        runtime = self._runtime
        if not self.running or runtime is None:
            self._shaper.conditions = checked
            return
        await runtime.call_async(self._set_conditions(checked))

    async def _set_conditions(self, conditions: Conditions | None) -> None:
        await self._until_served()  # (the listeners of a start() that did not wait)
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
        from ._listeners import close_listeners  # noqa: PLC0415

        await close_listeners(listeners)
        # (only a server that served TLS has handshakes to close: it has loaded _handshake)
        handshakes = getattr(sys.modules.get(f"{__package__}._handshake"), "close_handshakes", None)
        if handshakes is not None:
            await handshakes(listeners)

    def _handshakes(self, context: ssl.SSLContext) -> Handshakes:
        """The :class:`~understudy._handshake.Handshakes` for TLS connections with ``context``
        (a new one per listener and STARTTLS: each is closed at ``stop()``)."""
        from ._handshake import Handshakes, held_weakly  # noqa: PLC0415 - loaded when first used
        from ._tls_settings import DEFAULT_HANDSHAKE_TIMEOUT  # noqa: PLC0415

        tls = self._tls
        timeout = DEFAULT_HANDSHAKE_TIMEOUT if tls is None else tls.handshake_timeout
        return Handshakes(context, timeout, held_weakly(self._tls_journal))

    def _tls_journal(self) -> Journal[TLSFailure]:
        """The journal of failed handshakes, made on first use (most servers never need it)."""
        from ._journal import Journal  # noqa: PLC0415 - loaded when first used

        with self._errors_lock:
            journal = self._tls_failures_journal
            if journal is None:
                journal = self._tls_failures_journal = Journal("failed TLS handshake")
                journal.belongs_to(self)
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

    def _ssl_context(self) -> ssl.SSLContext | None:
        """The server-side context for ``tls=`` (made once per settings, shared), or None."""
        tls = self._tls
        if tls is None:
            return None
        from ._tls import server_context  # noqa: PLC0415 - loaded when first used

        return server_context(tls, self._host, self._alpn_protocols)
