"""The server side of a TLS handshake: the alert on failure, and a record of each failure.

Every TLS connection a server accepts (``loop.create_server`` on a plain socket, with
:class:`Handshakes` as the outer protocol factory) and every SMTP STARTTLS upgrade goes through
:class:`ServerTLSProtocol`, asyncio's own TLS protocol (``asyncio.sslproto.SSLProtocol``, the
one ``create_server(ssl=...)`` makes) with two changes:

- When OpenSSL fails a handshake it writes a fatal alert saying why (RFC 8446 §6.2:
  ``certificate_required``, ``protocol_version``, ``handshake_failure``...) for the peer, and
  asyncio (3.11 to 3.13) aborts the connection without sending it (CPython gh-98078, fixed
  upstream by calling ``_process_outgoing()`` first, as done here): the client saw a bare
  disconnect ("unexpected EOF"). The alert now goes out before the connection is closed.
- A handshake that does not complete, for whatever reason (OpenSSL's error, the client
  closing or resetting, the handshake timeout), is appended to the server's journal of
  :class:`~understudy.TLSFailure` records, unless ``stop()`` ended it.

It also tracks the handshakes in progress, which no server's protocol sees yet: each listener's
:class:`Handshakes`, found again by :func:`close_handshakes` at ``stop()``. Rules: it holds no
server (a listener's :class:`Handshakes` reaches the journal through :func:`held_weakly`, so a
listener never keeps its server alive), and nothing here imports a server module.

It relies on asyncio's private ``SSLProtocol`` members ``_do_handshake``, ``_sslobj``,
``_process_outgoing`` and ``_ssl_buffer_view``, the same from Python 3.11 to 3.13
(tests/test_tls_failures.py fails if they change).
"""

from __future__ import annotations

import asyncio
import ssl
import time
import weakref
from asyncio import sslproto
from collections.abc import Callable, Iterable
from typing import Any

from ._core.tlsinfo import TLSFailure, offered_version
from ._journal import Journal

__all__ = ["Handshakes", "ServerTLSProtocol", "close_handshakes", "held_weakly"]

#: The most bytes of what a client sends first that are kept to read its ClientHello from (a
#: TLS record holds at most 2**14 bytes, RFC 8446 §5.1, after its 5-byte header).
_HELLO_KEPT = 5 + 2**14


class Handshakes:
    """A TLS listener's outer protocol factory, and the handshakes of its connections in progress.

    Called with the server's protocol for a new connection (shaped, if conditions are set), it
    returns the :class:`ServerTLSProtocol` that wraps it. A connection reaches the server's
    protocol only once its handshake is done, so ``stop()`` would not find one still in it:
    :meth:`close` ends those. A slotted object: it lives as long as its listener.

    Args:
        context: the server-side ``ssl.SSLContext``.
        handshake_timeout: seconds a client has to finish the handshake.
        journal: makes (on the first failure) and returns the journal failures are recorded
            in; ``None`` once its server is gone. (Not the journal itself: a server that never
            sees a failure never makes one; and not the server: this lives with a listener,
            which the server keeps.)
    """

    __slots__ = ("closed", "context", "handshake_timeout", "in_progress", "journal")

    def __init__(
        self,
        context: ssl.SSLContext,
        handshake_timeout: float,
        journal: Callable[[], Journal[TLSFailure] | None],
    ) -> None:
        self.context = context
        self.handshake_timeout = handshake_timeout
        self.journal = journal
        #: The connections whose handshake is in progress.
        self.in_progress: set[ServerTLSProtocol] = set()
        #: Set by :meth:`close` (stop): handshakes ended from then on are not failures.
        self.closed = False

    def __call__(self, app_protocol: asyncio.BaseProtocol) -> ServerTLSProtocol:
        return ServerTLSProtocol(asyncio.get_running_loop(), app_protocol, self)

    def serve(self, listener: asyncio.AbstractServer) -> None:
        """Note that ``listener``'s connections go through this, for :func:`close_handshakes`."""
        _BY_LISTENER[listener] = self

    async def close(self) -> None:
        """On the loop (stop): close every connection whose handshake is in progress."""
        self.closed = True
        protocols = list(self.in_progress)
        for protocol in protocols:
            protocol.abort_handshake()
        if protocols:
            await asyncio.sleep(0)  # the aborted transports close their sockets in a callback


#: Each TLS listener's :class:`Handshakes` (weak keys: a listener's entry goes with it).
_BY_LISTENER: weakref.WeakKeyDictionary[asyncio.AbstractServer, Handshakes] = (
    weakref.WeakKeyDictionary()
)


async def close_handshakes(listeners: Iterable[asyncio.AbstractServer]) -> None:
    """On the loop, at stop, once ``listeners`` are closed: close the connections still in their
    handshake on them (a TLS connection reaches its server's protocol only once its handshake
    is done, so the server's shutdown does not find those). Plain listeners have none."""
    found = [handshakes for one in listeners if (handshakes := _BY_LISTENER.get(one))]
    for handshakes in dict.fromkeys(found):  # (listeners bound again share their first's)
        await handshakes.close()


def held_weakly(
    journal: Callable[[], Journal[TLSFailure]],
) -> Callable[[], Journal[TLSFailure] | None]:
    """``journal``, a server's bound method, held by a weak reference: what
    :class:`Handshakes` takes, which returns ``None`` once the server is gone."""
    method = weakref.WeakMethod(journal)

    def held() -> Journal[TLSFailure] | None:
        found = method()
        return None if found is None else found()

    return held


class ServerTLSProtocol(sslproto.SSLProtocol):
    """asyncio's server-side TLS protocol that sends the alert of a failed handshake and
    records the failure (see the module's docs).

    Args:
        loop: the running loop.
        app_protocol: the server's protocol, told ``connection_made`` once the handshake is done.
        handshakes: the listener's (or STARTTLS's) :class:`Handshakes`.
        waiter: a future set when the handshake is done or failed (STARTTLS awaits it).
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        app_protocol: asyncio.BaseProtocol,
        handshakes: Handshakes,
        waiter: asyncio.Future[Any] | None = None,
    ) -> None:
        super().__init__(
            loop,
            app_protocol,
            handshakes.context,
            waiter,  # type: ignore[arg-type]  # (asyncio takes None: no one waits)
            server_side=True,
            ssl_handshake_timeout=handshakes.handshake_timeout,  # type: ignore[arg-type]
        )
        self._handshakes = handshakes
        #: What the client sent first, until the handshake ends (its ClientHello).
        self._hello: bytearray | None = bytearray()
        self._peer: tuple[str, int] | None = None
        #: (reason, description) once the handshake has failed in a way that says why.
        self._failure: tuple[str, str] | None = None

    # -- the handshake ------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple) and len(peer) >= 2:
            self._peer = (str(peer[0]), int(peer[1]))
        self._handshakes.in_progress.add(self)
        super().connection_made(transport)  # (starts the handshake)

    def buffer_updated(self, nbytes: int) -> None:
        hello = self._hello
        if hello is not None and len(hello) < _HELLO_KEPT:
            view: memoryview = self._ssl_buffer_view  # type: ignore[attr-defined]
            hello += view[: min(nbytes, _HELLO_KEPT - len(hello))]
        super().buffer_updated(nbytes)

    def _do_handshake(self) -> None:
        # This overrides asyncio's SSLProtocol._do_handshake and reads its internals, _sslobj
        # and _process_outgoing, on purpose: on a failed handshake asyncio discards the alert
        # OpenSSL wrote (CPython gh-98078), and no public API reaches the SSLObject of an
        # SSLProtocol or flushes its outgoing buffer. Drop this once asyncio sends the alert.
        this: Any = self  # (asyncio's private members: not in typeshed)
        sslobj: ssl.SSLObject = this._sslobj
        try:
            sslobj.do_handshake()
        except sslproto.SSLAgainErrors:
            this._process_outgoing()
        except ssl.SSLError as error:
            # OpenSSL wrote the alert saying why; asyncio would drop it (CPython gh-98078).
            this._process_outgoing()
            reason = error.reason or type(error).__name__
            self._failure = (reason, _describe(reason))
            self._on_handshake_complete(error)
        else:
            self._on_handshake_complete(None)

    def _on_handshake_complete(self, handshake_exc: Any) -> None:
        # (asyncio passes ConnectionResetError, the class, when the client ends the stream)
        if handshake_exc is None:
            self._handshakes.in_progress.discard(self)
            self._hello = None
        elif self._failure is None and handshake_exc is ConnectionResetError:
            sent = "" if self._hello else ", having sent nothing"
            self._failure = (
                "CLOSED_BY_CLIENT",
                f"the client closed the connection before the handshake was done{sent}",
            )
        super()._on_handshake_complete(handshake_exc)

    def _check_handshake_timeout(self) -> None:
        if self in self._handshakes.in_progress and self._failure is None:
            seconds = self._handshakes.handshake_timeout
            why = f"the client did not finish the handshake within {seconds:g} s"
            self._failure = ("HANDSHAKE_TIMEOUT", f"{why} (TLS(handshake_timeout=...))")
        super()._check_handshake_timeout()

    def abort_handshake(self) -> None:
        """Close a connection still in its handshake (``stop()``): not recorded as a failure."""
        transport = self._transport
        self._handshakes.in_progress.discard(self)
        if isinstance(transport, asyncio.WriteTransport):
            transport.abort()

    def connection_lost(self, exc: BaseException | None) -> None:
        handshakes = self._handshakes
        if self in handshakes.in_progress:
            handshakes.in_progress.discard(self)
            journal = None if handshakes.closed else handshakes.journal()
            if journal is not None:
                journal.append(self._record(exc))
        self._hello = None
        super().connection_lost(exc)

    def _record(self, exc: BaseException | None) -> TLSFailure:
        failure = self._failure
        if failure is None:
            detail = f" ({exc})" if exc is not None else ""
            failure = ("CONNECTION_RESET", f"the connection was reset during the handshake{detail}")
        reason, description = failure
        hello = self._hello
        return TLSFailure(
            peer=self._peer,
            reason=reason,
            description=description,
            offered_version=offered_version(bytes(hello)) if hello else None,
            failed_at=time.time(),
        )


#: What understudy adds to OpenSSL's text for the failures a test provokes most.
_EXPLAINED = {
    "PEER_DID_NOT_RETURN_A_CERTIFICATE": (
        "the client sent no certificate, and the server requires one (TLS(client_cert='required'))"
    ),
    "UNSUPPORTED_PROTOCOL": (
        "the client offered only protocol versions the server does not speak "
        "(TLS(minimum_version=...), and OpenSSL's own minimum)"
    ),
    "WRONG_VERSION_NUMBER": "the client did not speak TLS (plain text to a TLS port?)",
    "HTTP_REQUEST": "the client sent a plain HTTP request to a TLS port (http:// for https://)",
}


def _describe(reason: str) -> str:
    """A sentence for OpenSSL's ``reason``: its own text (the code in lower case), explained."""
    text = reason.lower().replace("_", " ")
    explained = _EXPLAINED.get(reason)
    return f"{explained} (OpenSSL: {text})" if explained else f"OpenSSL: {text}"
