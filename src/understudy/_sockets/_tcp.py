"""Stream servers (TCP, and the base of the Unix one): record every byte, run a handler."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, cast

from .._conditions import Conditions
from .._errors import ConfigurationError
from .._journal import Journal
from .._server import describe_handler
from .._tls import TLS, resolve_tls, tls_info
from .._waits import Wait
from ._base import SocketServer, is_async
from ._connection import ConnectionRecord, StreamConnection, add_received, received_size
from ._connection_waits import bytes_test, connections_wait, first_wait

#: StreamReader buffer limit per connection (bytes): reading pauses at twice this much unread.
_STREAM_LIMIT = 64 * 1024

#: Starts a connection's handler: (its reader, its writer, its record).
_StartHandler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, ConnectionRecord], None]

StreamHandler = (
    Callable[["StreamConnection"], Any]
    | Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[Any]]
)


class _StreamProtocol(asyncio.StreamReaderProtocol):
    """One accepted connection: records its bytes, then echoes or feeds the handler's streams.

    Args:
        loop: the server's loop.
        journal: where the connection's record goes (changed on each byte and at the close).
        transports: the server's open transports; this one is in it while open.
        start_handler: called with the connection's streams and record once connected;
            ``None``: no handler (bytes are recorded, and echoed with ``echo``).
        echo: send every byte received straight back (no handler then).
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        journal: Journal[ConnectionRecord],
        transports: set[asyncio.BaseTransport],
        start_handler: _StartHandler | None,
        *,
        echo: bool,
    ) -> None:
        self._journal = journal
        self._transports = transports
        self._start_handler = start_handler
        self._echo = echo
        #: Whether bytes go on to a handler's StreamReader (else: recorded, maybe echoed).
        self._feeds = start_handler is not None
        self._reader = asyncio.StreamReader(limit=_STREAM_LIMIT, loop=loop)
        super().__init__(self._reader, self._connected if self._feeds else None, loop=loop)
        self._transport_: asyncio.Transport | None = None
        self.record = ConnectionRecord(None, 0.0)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport_ = transport
        self.record = ConnectionRecord(
            transport.get_extra_info("peername"), time.time(), tls_info(transport)
        )
        self._transports.add(transport)
        self._journal.append(self.record)
        super().connection_made(transport)

    def _connected(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        assert self._start_handler is not None
        self._start_handler(reader, writer, self.record)

    def data_received(self, data: bytes) -> None:
        add_received(self.record, data)
        self._journal.changed()
        if self._feeds:
            super().data_received(data)
        elif self._echo and self._transport_ is not None:
            self._transport_.write(data)

    def eof_received(self) -> bool:
        if self._feeds:
            return bool(super().eof_received())
        return False  # no handler: the client is done, so close

    def connection_lost(self, exc: Exception | None) -> None:
        self.record.closed_at = time.time()
        if self._transport_ is not None:
            self._transports.discard(self._transport_)
        self._journal.changed()
        super().connection_lost(exc)


def _data(record: ConnectionRecord) -> bytes:
    return record.data


class StreamServer(SocketServer):
    """A stream server (TCP or Unix) with a connection handler and a journal of connections."""

    def __init__(
        self,
        *,
        handler: StreamHandler | None,
        echo: bool,
        journal_size: int | None,
        **bind: Any,
    ) -> None:
        super().__init__(**bind)
        if handler is not None and not callable(handler):
            raise ConfigurationError(f"handler= must be callable, not {type(handler).__name__}")
        if handler is not None and echo:
            raise ConfigurationError(
                "give either handler= or echo=True, not both: a handler writes its own replies"
            )
        self._handler = handler
        self._handler_is_async = is_async(handler)
        self._echo = bool(echo)
        #: Connections as accepted; each change to one (bytes, closing) calls its changed().
        self._journal: Journal[ConnectionRecord] = Journal("connection", journal_size)
        self._journal.belongs_to(self)

    # -- what the test reads -----------------------------------------------------------------

    @property
    def connections(self) -> list[ConnectionRecord]:
        """The connections accepted so far (a snapshot list, oldest first), open or closed."""
        return self._journal.snapshot()

    @property
    def received(self) -> bytes:
        """Every byte received, connection after connection (oldest first)."""
        return b"".join(record.data for record in self._journal.snapshot())

    def wait_for_connections(
        self,
        count: int = 1,
        *,
        match: Callable[[ConnectionRecord], bool] | None = None,
        timeout: float = 5.0,
    ) -> list[ConnectionRecord]:
        """Block until ``count`` connections (satisfying ``match``, if given) are recorded.

        ``match`` is asked again whenever a connection opens, receives bytes or closes, so
        ``match=lambda c: c.closed`` waits for connections the client has closed.

        Args:
            count: how many connections.
            match: a predicate on :class:`ConnectionRecord`.
            timeout: seconds to wait.

        Returns:
            The first ``count`` such connections, oldest first.

        Raises:
            WaitTimeout: after ``timeout`` seconds; the message lists the connections there are.
        """
        __tracebackhide__ = True
        return self._journal.wait(connections_wait(self._journal, count, match, timeout), timeout)

    async def wait_for_connections_async(
        self,
        count: int = 1,
        *,
        match: Callable[[ConnectionRecord], bool] | None = None,
        timeout: float = 5.0,
    ) -> list[ConnectionRecord]:
        """The awaitable twin of :meth:`wait_for_connections`."""
        __tracebackhide__ = True
        wait = connections_wait(self._journal, count, match, timeout)
        return await self._journal.wait_async(wait, timeout)

    def wait_for_bytes(self, expected: bytes | int, *, timeout: float = 5.0) -> ConnectionRecord:
        """Block until one connection has received ``expected``.

        Args:
            expected: ``bytes`` that must appear in what one connection received (anywhere, so
                however the client split its writes), or an ``int``: at least that many bytes
                received on one connection.
            timeout: seconds to wait.

        Returns:
            The first connection (oldest first) that satisfies it.

        Raises:
            WaitTimeout: after ``timeout`` seconds; the message shows what each connection got.
        """
        __tracebackhide__ = True
        return self._journal.wait(self._bytes_wait(expected, timeout), timeout)

    async def wait_for_bytes_async(
        self, expected: bytes | int, *, timeout: float = 5.0
    ) -> ConnectionRecord:
        """The awaitable twin of :meth:`wait_for_bytes`."""
        __tracebackhide__ = True
        return await self._journal.wait_async(self._bytes_wait(expected, timeout), timeout)

    def clear(self) -> None:
        """Forget the connections recorded so far (open ones go on; their bytes are not kept)."""
        self._journal.clear()

    def _bytes_wait(self, expected: bytes | int, timeout: float) -> Wait[ConnectionRecord]:
        satisfied, shown = bytes_test(expected, _data, received_size)
        return first_wait(self._journal, satisfied, f"a connection to receive {shown}", timeout)

    # -- on the loop -------------------------------------------------------------------------

    def _stream_protocol(self) -> asyncio.BaseProtocol:
        start_handler = self._start_handler if self._handler is not None else None
        return _StreamProtocol(
            self._loop_runtime.loop, self._journal, self._transports, start_handler, echo=self._echo
        )

    def _start_handler(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        record: ConnectionRecord,
    ) -> None:
        handler = self._handler
        assert handler is not None
        description = f"handler {describe_handler(handler)} for the connection from {record.peer!r}"
        future: asyncio.Future[Any]
        if self._handler_is_async:
            async_handler = cast(
                "Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[Any]]", handler
            )
            future = self._loop_runtime.loop.create_task(
                self._run_async(async_handler, reader, writer)
            )
        else:
            connection = StreamConnection(reader, writer, self._loop_runtime.loop, record)
            sync_handler = cast("Callable[[StreamConnection], Any]", handler)
            future = self._loop_runtime.run_in_worker(self._run_sync, sync_handler, connection)
            future.add_done_callback(lambda _: writer.close())
        self._track(future, description)

    @staticmethod
    def _run_sync(handler: Callable[[StreamConnection], Any], connection: StreamConnection) -> None:
        handler(connection)

    @staticmethod
    async def _run_async(
        handler: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[Any]],
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        try:
            await handler(reader, writer)
        finally:
            writer.close()


class TCPServer(StreamServer):
    """A TCP server that records every byte each connection sends and runs your handler on it.

    Args:
        handler: what to do with each connection. A plain function ``handler(connection)`` gets
            a :class:`StreamConnection` (blocking ``recv``, ``recv_exactly``, ``readline``,
            ``sendall``, ``close``, ``peer``) and runs in the worker pool; an ``async def
            handler(reader, writer)`` gets asyncio streams and runs on the loop. The connection
            is closed when the handler returns. With no handler, the server records and keeps
            each connection open until the client closes it.
        echo: send every byte received straight back (no handler then).
        host: address to listen on (see :class:`understudy.Server`): ``"127.0.0.1"`` by default.
        port: port to listen on; 0 (the default) lets the kernel choose.
        journal_size: keep only the last N connections (``None``: all).
        tls: speak TLS on every connection: ``True``, or :class:`~understudy.TLS` settings. The
            handler and the journal see the decrypted bytes; each :class:`ConnectionRecord`
            records ``.tls``. Clients trust the test CA of :mod:`understudy.tls`.
        conditions: network conditions on every connection (:class:`understudy.Conditions`).
        seed: seeds the server's random choices (see :class:`understudy.Server`).

    Raises:
        ConfigurationError: a handler that is not callable, both ``handler`` and ``echo``, or
            a ``tls`` that is neither ``True`` nor ``TLS(...)``.

    Whatever a handler raises is re-raised by :meth:`check` and on leaving the ``with`` block.
    """

    kind: ClassVar[str] = "TCP server"

    def __init__(
        self,
        *,
        handler: StreamHandler | None = None,
        echo: bool = False,
        host: str = "127.0.0.1",
        port: int = 0,
        journal_size: int | None = None,
        tls: bool | TLS | None = None,
        conditions: Conditions | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__(
            handler=handler,
            echo=echo,
            journal_size=journal_size,
            host=host,
            port=port,
            conditions=conditions,
            seed=seed,
        )
        self._tls = resolve_tls(tls, self.kind)
        self._ssl_context()  # with tls=: the CA and certificate are made here, not on the loop


def connections_journal(server: StreamServer) -> Journal[ConnectionRecord]:
    """The journal of ``server``'s connections, for the package (the command follows it)."""
    return server._journal
