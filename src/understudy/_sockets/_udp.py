"""Datagram servers (UDP, and the base of the Unix one): record each datagram, maybe answer."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
import time
from collections.abc import Callable
from typing import Any, ClassVar, Literal, cast

from .._errors import ConfigurationError, UnderstudyError
from .._journal import Journal
from .._server import describe_handler
from ._base import SocketServer, is_async

DatagramHandler = Callable[["Datagram"], Any]

#: Whether asyncio's datagram transports send an empty datagram: before Python 3.13 their
#: ``sendto(b"")`` returns without sending (CPython gh-113812).
_TRANSPORT_SENDS_EMPTY = sys.version_info >= (3, 13)


class Datagram:
    """One datagram a server received.

    Attributes:
        data (bytes): its bytes, the whole datagram (a datagram is never split or joined).
        peer (tuple[str, int] | str | None): the sender's address (``(host, port)`` for UDP; a
            path, or ``None``/``""`` for an unbound Unix datagram socket, which cannot be
            answered).
        received_at (float): ``time.time()`` at arrival (seconds).
    """

    __slots__ = ("data", "peer", "received_at")

    def __init__(self, data: bytes, peer: Any, received_at: float) -> None:
        self.data = data
        self.peer = peer
        self.received_at = received_at

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Datagram):
            return NotImplemented
        return (self.data, self.peer, self.received_at) == (
            other.data,
            other.peer,
            other.received_at,
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        shown = repr(self.data[:60]) + ("..." if len(self.data) > 60 else "")
        return f"<understudy.Datagram peer={self.peer!r} {len(self.data)} bytes {shown}>"


class DatagramReceiver(asyncio.DatagramProtocol):
    """Calls ``receive(transport, data, peer)`` on the loop for each datagram."""

    def __init__(self, receive: Callable[[asyncio.DatagramTransport, bytes, Any], None]) -> None:
        self._receive = receive
        self._transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Not asyncio.DatagramTransport by inheritance on Python 3.11; it has the same methods.
        self._transport = cast("asyncio.DatagramTransport", transport)

    def datagram_received(self, data: bytes, addr: Any) -> None:
        if self._transport is not None:
            self._receive(self._transport, data, addr)

    def error_received(self, exc: Exception) -> None:
        # ICMP errors for earlier replies (the client went away): nothing to do.
        pass


class DatagramServer(SocketServer):
    """A datagram server (UDP or Unix) with a handler and a journal of datagrams."""

    def __init__(
        self,
        *,
        handler: DatagramHandler | None,
        journal_size: int | None,
        tls: object = None,
        **bind: Any,
    ) -> None:
        if tls is not None and tls is not False:
            raise ConfigurationError(
                f"a {self.kind} does not offer TLS: TLS needs a stream, and DTLS (RFC 9147) over "
                f"datagrams is not offered; for TLS write TCPServer(tls=...), or "
                f"SyslogServer(transport='tcp', tls=...) for syslog over TLS (RFC 5425)"
            )
        super().__init__(socket_kind=socket.SOCK_DGRAM, **bind)
        if handler is not None and not callable(handler):
            raise ConfigurationError(f"handler= must be callable, not {type(handler).__name__}")
        self._handler = handler
        self._handler_is_async = is_async(handler)
        self._journal: Journal[Datagram] = Journal("datagram", journal_size)
        self._journal.belongs_to(self)

    @property
    def datagrams(self) -> list[Datagram]:
        """The datagrams received so far (a snapshot list, oldest first)."""
        return self._journal.snapshot()

    def wait_for_datagrams(
        self,
        count: int = 1,
        *,
        match: Callable[[Datagram], bool] | None = None,
        timeout: float = 5.0,
    ) -> list[Datagram]:
        """Block until ``count`` datagrams (satisfying ``match``, if given) have been received.

        Returns:
            The first ``count`` such datagrams, oldest first.

        Raises:
            WaitTimeout: after ``timeout`` seconds; the message lists what did arrive.
        """
        __tracebackhide__ = True
        return self._journal.wait_for(count, match=match, timeout=timeout)

    async def wait_for_datagrams_async(
        self,
        count: int = 1,
        *,
        match: Callable[[Datagram], bool] | None = None,
        timeout: float = 5.0,
    ) -> list[Datagram]:
        """The awaitable twin of :meth:`wait_for_datagrams`."""
        __tracebackhide__ = True
        return await self._journal.wait_for_async(count, match=match, timeout=timeout)

    def clear(self) -> None:
        """Forget the datagrams received so far."""
        self._journal.clear()

    def _datagram_protocol(self) -> asyncio.DatagramProtocol:
        return DatagramReceiver(self._received)

    def _received(self, transport: asyncio.DatagramTransport, data: bytes, peer: Any) -> None:
        datagram = Datagram(data, peer, time.time())
        self._journal.append(datagram)
        handler = self._handler
        if handler is None:
            return
        future: asyncio.Future[Any]
        if self._handler_is_async:
            future = self._loop_runtime.loop.create_task(handler(datagram))
        else:
            future = self._loop_runtime.run_in_worker(handler, datagram)
        description = f"handler {describe_handler(handler)} for a datagram from {peer!r}"
        future.add_done_callback(lambda done: self._reply(transport, done, peer))
        self._track(future, description)

    def _reply(
        self, transport: asyncio.DatagramTransport, done: asyncio.Future[Any], peer: Any
    ) -> None:
        if done.cancelled() or done.exception() is not None:
            return
        reply = done.result()
        if reply is None:
            return
        if not isinstance(reply, bytes | bytearray | memoryview):
            self._record_error(
                TypeError(
                    f"a datagram handler returns bytes (the reply) or None, not "
                    f"{type(reply).__name__}: {reply!r:.60}"
                )
            )
            return
        if not peer:
            self._record_error(
                UnderstudyError(
                    "the datagram handler returned a reply, but the client's socket is not "
                    "bound to an address, so it cannot be answered; bind the client's socket"
                )
            )
            return
        if transport.is_closing():
            return
        if reply or _TRANSPORT_SENDS_EMPTY:
            transport.sendto(bytes(reply), peer)
        else:
            self._send_empty(transport, peer)

    def _send_empty(self, transport: asyncio.DatagramTransport, peer: Any) -> None:
        """Send an empty datagram to ``peer`` from ``transport``'s socket, which the transport
        itself would not send (see ``_TRANSPORT_SENDS_EMPTY``)."""
        fileno = transport.get_extra_info("socket").fileno()
        for sock, _ in self._datagram_endpoints:
            if sock.fileno() == fileno:
                with contextlib.suppress(OSError):  # (lost, as the transport loses a datagram)
                    sock.sendto(b"", peer)
                return


class UDPServer(DatagramServer):
    """A UDP server that records every datagram and answers with what your handler returns.

    Args:
        handler: ``handler(datagram) -> bytes | None``: given each :class:`Datagram`, return the
            reply to send back to its sender (``b""``: an empty datagram), or ``None`` for no
            reply. A plain function runs in the worker pool; an ``async def`` on the loop.
        host: address to listen on (see :class:`understudy.Server`): ``"127.0.0.1"`` by default.
        port: port to listen on; 0 (the default) lets the kernel choose.
        journal_size: keep only the last N datagrams (``None``: all).
        tls: not offered: only ``None`` or ``False``. TLS runs over a stream, and DTLS
            (RFC 9147, TLS for datagrams) is not offered, so anything else raises; for TLS use
            :class:`TCPServer` ``(tls=...)``, or :class:`SyslogServer` ``(transport="tcp",
            tls=...)`` for syslog over TLS (RFC 5425).

    Raises:
        ConfigurationError: a handler that is not callable, or ``tls`` other than ``None`` or
            ``False``.
    """

    kind: ClassVar[str] = "UDP server"

    def __init__(
        self,
        *,
        handler: DatagramHandler | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        journal_size: int | None = None,
        tls: Literal[False] | None = None,
    ) -> None:
        super().__init__(handler=handler, journal_size=journal_size, tls=tls, host=host, port=port)
