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
from ._base import SocketServer, _is_async
from ._changes import _Changes
from ._connection import ConnectionRecord, StreamConnection

#: StreamReader buffer limit per connection (bytes): reading pauses at twice this much unread.
_STREAM_LIMIT = 64 * 1024
#: How many connections a timeout message shows.
_SHOWN_IN_TIMEOUT = 5

StreamHandler = (
    Callable[["StreamConnection"], Any]
    | Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[Any]]
)


class _StreamProtocol(asyncio.StreamReaderProtocol):
    """One accepted connection: records its bytes, then echoes or feeds the handler's streams."""

    def __init__(self, server: _StreamServer) -> None:
        loop = server.runtime.loop
        self._server = server
        #: Whether bytes go on to a handler's StreamReader (else: recorded, maybe echoed).
        self._feeds = server._handler is not None
        self._reader = asyncio.StreamReader(limit=_STREAM_LIMIT, loop=loop)
        super().__init__(self._reader, self._connected if self._feeds else None, loop=loop)
        self._transport_: asyncio.Transport | None = None
        self.record = ConnectionRecord(None, 0.0)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        server = self._server
        assert isinstance(transport, asyncio.Transport)
        self._transport_ = transport
        self.record = ConnectionRecord(
            transport.get_extra_info("peername"), time.time(), tls_info(transport)
        )
        server._transports.add(transport)
        server._journal.append(self.record)
        server._changes.notify()
        super().connection_made(transport)

    def _connected(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._server._start_handler(reader, writer, self.record)

    def data_received(self, data: bytes) -> None:
        self.record._received(data)
        self._server._changes.notify()
        if self._feeds:
            super().data_received(data)
        elif self._server._echo and self._transport_ is not None:
            self._transport_.write(data)

    def eof_received(self) -> bool:
        if self._feeds:
            return bool(super().eof_received())
        return False  # no handler: the client is done, so close

    def connection_lost(self, exc: Exception | None) -> None:
        self.record.closed_at = time.time()
        if self._transport_ is not None:
            self._server._transports.discard(self._transport_)
        self._server._changes.notify()
        super().connection_lost(exc)


class _StreamServer(SocketServer):
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
        self._handler_is_async = _is_async(handler)
        self._echo = bool(echo)
        self._journal: Journal[ConnectionRecord] = Journal("connection", journal_size)
        self._changes = _Changes()

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
        found, why = self._connections_waited(count, match, timeout)
        return self._changes.wait(found, timeout, why)

    async def wait_for_connections_async(
        self,
        count: int = 1,
        *,
        match: Callable[[ConnectionRecord], bool] | None = None,
        timeout: float = 5.0,
    ) -> list[ConnectionRecord]:
        """The awaitable twin of :meth:`wait_for_connections`."""
        __tracebackhide__ = True
        found, why = self._connections_waited(count, match, timeout)
        return await self._changes.wait_async(found, timeout, why)

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
        found, why = self._bytes_waited(expected, timeout)
        return self._changes.wait(found, timeout, why)

    async def wait_for_bytes_async(
        self, expected: bytes | int, *, timeout: float = 5.0
    ) -> ConnectionRecord:
        """The awaitable twin of :meth:`wait_for_bytes`."""
        __tracebackhide__ = True
        found, why = self._bytes_waited(expected, timeout)
        return await self._changes.wait_async(found, timeout, why)

    def clear(self) -> None:
        """Forget the connections recorded so far (open ones go on; their bytes are not kept)."""
        self._journal.clear()

    def _connections_waited(
        self, count: int, match: Callable[[ConnectionRecord], bool] | None, timeout: float
    ) -> tuple[Callable[[], list[ConnectionRecord] | None], Callable[[], str]]:
        self._check_journal()
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise ConfigurationError(f"count must be a positive int, not {count!r}")

        def found() -> list[ConnectionRecord] | None:
            records = self._journal.snapshot()
            if match is not None:
                records = [record for record in records if match(record)]
            return records[:count] if len(records) >= count else None

        def why() -> str:
            what = f"{count} connection{'s' if count != 1 else ''}"
            if match is not None:
                what += f" matching {getattr(match, '__name__', repr(match))}"
            return self._timeout_message(f"waited {timeout:g} s for {what}")

        return found, why

    def _bytes_waited(
        self, expected: bytes | int, timeout: float
    ) -> tuple[Callable[[], ConnectionRecord | None], Callable[[], str]]:
        self._check_journal()
        if isinstance(expected, bytes | bytearray | memoryview):
            needle = bytes(expected)
            if not needle:
                raise ConfigurationError("expected must not be empty bytes")

            def satisfied(record: ConnectionRecord) -> bool:
                return needle in record.data

            what = f"a connection to receive {needle[:60]!r}"
        elif isinstance(expected, int) and not isinstance(expected, bool) and expected > 0:
            count = expected

            def satisfied(record: ConnectionRecord) -> bool:
                return record._size() >= count

            what = f"a connection to receive {count} bytes"
        else:
            raise ConfigurationError(
                f"expected must be bytes to find, or a positive int of bytes, not {expected!r}"
            )

        def found() -> ConnectionRecord | None:
            for record in self._journal.snapshot():
                if satisfied(record):
                    return record
            return None

        def why() -> str:
            return self._timeout_message(f"waited {timeout:g} s for {what}")

        return found, why

    def _timeout_message(self, head: str) -> str:
        records = self._journal.snapshot()
        lines = [f"{head}; {len(records)} connection{'s' if len(records) != 1 else ''} arrived"]
        lines += [f"  {record!r}" for record in records[:_SHOWN_IN_TIMEOUT]]
        if len(records) > _SHOWN_IN_TIMEOUT:
            lines.append(f"  ... and {len(records) - _SHOWN_IN_TIMEOUT} more")
        return "\n".join(lines)

    def _check_journal(self) -> None:
        if self._journal.size == 0:
            raise ConfigurationError(
                "this server keeps no journal (journal_size=0), so nothing can be waited for; "
                "pass journal_size=None (keep all) or a positive number"
            )

    # -- on the loop -------------------------------------------------------------------------

    def _stream_protocol(self) -> asyncio.BaseProtocol:
        return _StreamProtocol(self)

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
            future = self.runtime.loop.create_task(self._run_async(async_handler, reader, writer))
        else:
            connection = StreamConnection(reader, writer, self.runtime.loop, record)
            sync_handler = cast("Callable[[StreamConnection], Any]", handler)
            future = self.runtime.run_in_worker(self._run_sync, sync_handler, connection)
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


class TCPServer(_StreamServer):
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
