"""Raw socket servers: TCP, UDP, Unix stream and Unix datagram, on the shared runtime.

A stream server records, per connection, every byte received in order (a
:class:`ConnectionRecord`), and hands each connection to a handler: a plain function gets a
blocking :class:`StreamConnection` and runs in the worker pool; an ``async def`` gets asyncio's
``(StreamReader, StreamWriter)`` and runs on the loop; with no handler the server records and
keeps the connection open until the client closes it (or echoes, with ``echo=True``). A datagram
server records each :class:`Datagram` and may answer it with what its handler returns.

The pieces shared with the syslog and log-record servers live here too: binding a Unix socket in
a private temporary directory, tracking in-flight handlers, and waiting on a changing state.
"""

from __future__ import annotations

import asyncio
import errno
import inspect
import os
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, ClassVar, Generic, Protocol, TypeVar, cast

from ._errors import ConfigurationError, UnderstudyError, WaitTimeout
from ._journal import Journal
from ._runtime import Runtime
from ._server import Server, _bind_inet, describe_handler

__all__ = [
    "ConnectionRecord",
    "Datagram",
    "DatagramHandler",
    "StreamConnection",
    "StreamHandler",
    "TCPServer",
    "UDPServer",
    "UnixDatagramServer",
    "UnixStreamServer",
]

T = TypeVar("T")
E = TypeVar("E")
E_co = TypeVar("E_co", covariant=True)

#: StreamReader buffer limit per connection (bytes): reading pauses at twice this much unread.
_STREAM_LIMIT = 64 * 1024
#: How many connections a timeout message shows.
_SHOWN_IN_TIMEOUT = 5

StreamHandler = (
    Callable[["StreamConnection"], Any]
    | Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[Any]]
)
DatagramHandler = Callable[["Datagram"], Any]


def _is_async(handler: object) -> bool:
    return inspect.iscoroutinefunction(handler) or inspect.iscoroutinefunction(
        getattr(handler, "__call__", None)  # noqa: B004 - an instance with async __call__
    )


# -- waiting on a state that changes -----------------------------------------------------------


class _Changes:
    """Wakes waits whenever the state they look at may have changed (thread-safe)."""

    __slots__ = ("_async_waiters", "_cond")

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._async_waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []

    def notify(self) -> None:
        with self._cond:
            self._cond.notify_all()
            waiters, self._async_waiters = self._async_waiters, []
        for loop, future in waiters:
            try:
                loop.call_soon_threadsafe(_wake, future)
            except RuntimeError:  # that loop is closed: nobody waits any more
                pass

    def wait(self, found: Callable[[], T | None], timeout: float, why: Callable[[], str]) -> T:
        """Block until ``found()`` returns something other than None; return it."""
        _check_timeout(timeout)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                result = found()
                if result is not None:
                    return result
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise WaitTimeout(why())
                self._cond.wait(remaining)

    async def wait_async(
        self, found: Callable[[], T | None], timeout: float, why: Callable[[], str]
    ) -> T:
        """The awaitable twin of :meth:`wait`."""
        _check_timeout(timeout)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            with self._cond:
                result = found()
                if result is not None:
                    return result
                future: asyncio.Future[None] = loop.create_future()
                self._async_waiters.append((loop, future))
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise WaitTimeout(why())
            try:
                await asyncio.wait_for(future, remaining)
            except TimeoutError:
                with self._cond:
                    result = found()
                if result is not None:
                    return result
                raise WaitTimeout(why()) from None


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _check_timeout(timeout: float) -> None:
    if not isinstance(timeout, int | float) or isinstance(timeout, bool) or timeout < 0:
        raise ConfigurationError(
            f"timeout must be seconds as a non-negative float, not {timeout!r}"
        )


# -- the shared server shell -------------------------------------------------------------------


class SocketServer(Server):
    """Binding (TCP/UDP or Unix), serving and stopping shared by the socket servers.

    Subclasses give ``_stream_protocol()`` and/or ``_datagram_protocol()`` factories.
    """

    kind: ClassVar[str] = "socket server"

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        path: str | os.PathLike[str] | None = None,
        unix: bool = False,
        socket_kind: socket.SocketKind = socket.SOCK_STREAM,
    ) -> None:
        super().__init__(host=host, port=port)
        if path is not None and not unix:
            raise ConfigurationError(
                f"path= is for Unix sockets only; {self.kind} takes host=/port="
            )
        if path is not None and not isinstance(path, str | os.PathLike):
            raise ConfigurationError(f"path must be a str or os.PathLike, not {path!r}")
        self._unix = unix
        self._socket_kind = socket_kind
        self._given_path = os.fspath(path) if path is not None else None
        self._path: str | None = self._given_path
        self._tempdir: str | None = None
        self._listeners: list[asyncio.AbstractServer] = []
        self._transports: set[asyncio.BaseTransport] = set()
        self._inflight: dict[asyncio.Future[Any], str] = {}
        self._stopping = False

    # -- addresses ---------------------------------------------------------------------------

    @property
    def path(self) -> str:
        """The Unix socket's path: as given, or chosen in a private directory at ``start()``.

        Raises:
            AttributeError: on a TCP/UDP server.
            RuntimeError: no path was given and the server was never started.
        """
        if not self._unix:
            raise AttributeError(f"{self!r} listens on host and port, not on a Unix socket path")
        if self._path is None:
            raise RuntimeError(
                f"{self!r} has no path yet: one is chosen at start(); call start() first or use "
                "the server in a `with` block"
            )
        return self._path

    @property
    def port(self) -> int:
        """The port listened on (see :attr:`understudy.Server.port`).

        Raises:
            AttributeError: on a Unix socket server (use :attr:`path`).
        """
        if self._unix:
            raise AttributeError(f"{self!r} listens on a Unix socket: use .path, not .port")
        return super().port

    @property
    def address(self) -> Any:
        """``(host, port)`` for TCP/UDP, the path (str) for Unix sockets: what ``connect`` takes."""
        if self._unix:
            return self.path
        return super().address

    def _describe_address(self) -> str:
        if self._unix:
            return self._path or "unix:?"
        return super()._describe_address()

    # -- used on the loop --------------------------------------------------------------------

    @property
    def runtime(self) -> Runtime:
        runtime = self._runtime
        if runtime is None:  # pragma: no cover - only reached while serving
            raise RuntimeError("server not started")
        return runtime

    def _track(self, future: asyncio.Future[Any], description: str) -> None:
        """Count ``future`` as an in-flight handler until done; record what it raises."""
        self._inflight[future] = description
        future.add_done_callback(self._untrack)

    def _untrack(self, future: asyncio.Future[Any]) -> None:
        self._inflight.pop(future, None)
        if future.cancelled():
            return
        error = future.exception()
        if error is None:
            return
        if self._stopping and isinstance(error, ConnectionError):
            return  # the connection was closed by stop(), not by the handler's fault
        self._record_error(error)

    # -- lifecycle hooks ---------------------------------------------------------------------

    def _bind(self) -> list[socket.socket]:
        self._stopping = False
        if not self._unix:
            sockets = _bind_inet(self._host, self._requested_port, self._socket_kind)
            self._bound_port = sockets[0].getsockname()[1]
            return sockets
        if self._given_path is None:
            self._tempdir = tempfile.mkdtemp(prefix="understudy-")  # mode 0700
            self._path = os.path.join(self._tempdir, "socket")
        else:
            self._path = self._given_path
        try:
            return [_bind_unix(self._path, self._socket_kind)]
        except BaseException:
            self._remove_path(bound=False)
            raise

    async def _serve(self, sockets: list[socket.socket]) -> None:
        loop = asyncio.get_running_loop()
        for sock in sockets:
            if sock.type == socket.SOCK_STREAM:
                self._listeners.append(await loop.create_server(self._stream_protocol, sock=sock))
            else:
                transport, _ = await loop.create_datagram_endpoint(
                    self._datagram_protocol, sock=sock
                )
                self._transports.add(transport)

    def _stream_protocol(self) -> asyncio.BaseProtocol:
        raise NotImplementedError

    def _datagram_protocol(self) -> asyncio.BaseProtocol:
        raise NotImplementedError

    async def _shutdown(self, timeout: float) -> list[str]:
        loop = asyncio.get_running_loop()
        self._stopping = True
        for listener in self._listeners:
            listener.close()
        self._listeners = []
        for transport in list(self._transports):
            transport.close()
        await asyncio.sleep(0)  # let connection_lost run, so records say closed
        deadline = loop.time() + timeout
        while self._inflight and (remaining := deadline - loop.time()) > 0:
            await asyncio.wait(list(self._inflight), timeout=remaining)
        still_running = sorted(set(self._inflight.values()))
        for future in list(self._inflight):
            future.cancel()
        self._abort()
        return still_running

    def _abort(self) -> None:
        self._stopping = True
        for listener in self._listeners:
            listener.close()
        self._listeners = []
        for transport in list(self._transports):
            abort = getattr(transport, "abort", None)
            if abort is not None:
                abort()
            else:
                transport.close()
        self._transports.clear()
        self._remove_path(bound=True)

    def _remove_path(self, *, bound: bool) -> None:
        """Remove the socket file this server bound, and the private directory it made."""
        if not self._unix:
            return
        if bound and self._path is not None:
            try:
                os.unlink(self._path)
            except FileNotFoundError:
                pass
        if self._tempdir is not None:
            shutil.rmtree(self._tempdir, ignore_errors=True)
            self._tempdir = None


def _bind_unix(path: str, kind: socket.SocketKind) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, kind)
    try:
        sock.bind(path)
        if kind == socket.SOCK_STREAM:
            sock.listen(4096)
        sock.setblocking(False)
    except OSError as error:
        sock.close()
        if error.errno == errno.EADDRINUSE:
            raise OSError(
                errno.EADDRINUSE,
                f"cannot listen on the Unix socket {path!r}: a file exists there; remove it, or "
                "pass no path= to let understudy choose one in a private directory",
            ) from None
        raise
    return sock


class _Decoder(Protocol[E_co]):
    def feed(self, data: bytes) -> Sequence[E_co]: ...
    def close(self) -> Sequence[E_co]: ...


class DecodingProtocol(asyncio.Protocol, Generic[E]):
    """A connection whose bytes go through a sans-IO decoder; what it yields is delivered.

    ``deliver(items, peer)`` is called on the loop with each batch the decoder completes, and
    with what ``decoder.close()`` returns when the stream ends.
    """

    def __init__(
        self,
        server: SocketServer,
        decoder: _Decoder[E],
        deliver: Callable[[Sequence[E], Any], None],
    ) -> None:
        self._server = server
        self._decoder = decoder
        self._deliver = deliver
        self._transport: asyncio.BaseTransport | None = None
        self._peer: Any = None
        self._ended = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport
        self._peer = transport.get_extra_info("peername")
        self._server._transports.add(transport)

    def data_received(self, data: bytes) -> None:
        self._hand_over(self._decoder.feed(data))

    def eof_received(self) -> bool:
        self._end()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._end()
        if self._transport is not None:
            self._server._transports.discard(self._transport)

    def _end(self) -> None:
        if not self._ended:
            self._ended = True
            self._hand_over(self._decoder.close())

    def _hand_over(self, items: Sequence[E]) -> None:
        if not items:
            return
        try:
            self._deliver(items, self._peer)
        except Exception as error:  # noqa: BLE001 - a bug of ours, surfaced by check()
            self._server._record_error(error)


# -- stream servers ----------------------------------------------------------------------------


class ConnectionRecord:
    """One connection a stream server accepted, and every byte received on it, in order.

    Read it from the test's thread at any time: :attr:`data` grows as bytes arrive.

    Attributes:
        peer: the client's address as the socket reports it (``(host, port)`` for TCP; a path,
            often ``""``, for a Unix stream socket).
        opened_at: ``time.time()`` when accepted (seconds).
        closed_at: ``time.time()`` when closed by either side, or ``None`` while open.
    """

    __slots__ = ("_data", "_lock", "closed_at", "opened_at", "peer")

    def __init__(self, peer: Any, opened_at: float) -> None:
        self.peer = peer
        self.opened_at = opened_at
        self.closed_at: float | None = None
        self._data = bytearray()
        self._lock = threading.Lock()

    @property
    def data(self) -> bytes:
        """Every byte received on this connection so far."""
        with self._lock:
            return bytes(self._data)

    @property
    def closed(self) -> bool:
        """Whether the connection has been closed (by the client, the handler or ``stop()``)."""
        return self.closed_at is not None

    def _received(self, data: bytes) -> None:
        with self._lock:
            self._data += data

    def _size(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        data = self.data
        state = "closed" if self.closed else "open"
        shown = repr(data[:60]) + ("..." if len(data) > 60 else "")
        return f"<understudy.ConnectionRecord peer={self.peer!r} {state} {len(data)} bytes {shown}>"


class StreamConnection:
    """A connection as a plain (sync) handler sees it: blocking reads and writes.

    Each method blocks the handler's worker thread, never the server's loop. ``timeout`` is in
    seconds; ``None`` (the default) waits until data comes or the connection closes (``stop()``
    closes it, so a handler waiting here returns).

    Raises (from every read):
        TimeoutError: nothing suitable arrived within ``timeout``.
    """

    __slots__ = ("_loop", "_reader", "_writer", "peer", "record")

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        loop: asyncio.AbstractEventLoop,
        record: ConnectionRecord,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._loop = loop
        #: The client's address (as :attr:`ConnectionRecord.peer`).
        self.peer: Any = record.peer
        #: The journal's record of this connection.
        self.record = record

    def recv(self, size: int = 65536, *, timeout: float | None = None) -> bytes:
        """Up to ``size`` bytes, as soon as any are available; ``b""`` once the client closed."""
        return self._call(self._reader.read(size), timeout, f"any data (up to {size} bytes)")

    def recv_exactly(self, size: int, *, timeout: float | None = None) -> bytes:
        """Exactly ``size`` bytes.

        Raises:
            asyncio.IncompleteReadError: (an ``EOFError``) the client closed first; its
                ``partial`` attribute holds what did arrive.
        """
        return self._call(self._reader.readexactly(size), timeout, f"{size} bytes")

    def readline(self, *, timeout: float | None = None) -> bytes:
        """Bytes up to and including the next LF; what is left (maybe ``b""``) at EOF.

        Raises:
            ValueError: the line is longer than 64 KiB.
        """
        return self._call(self._reader.readline(), timeout, "a line")

    def sendall(self, data: bytes, *, timeout: float | None = None) -> None:
        """Send all of ``data``; return once the kernel has taken it (flow control respected).

        Raises:
            ConnectionError: the connection is closed.
        """
        self._call(self._send(bytes(data)), timeout, f"sending {len(data)} bytes")

    async def _send(self, data: bytes) -> None:
        if self._writer.is_closing():
            raise ConnectionResetError("the connection is closed")
        self._writer.write(data)
        await self._writer.drain()

    def close(self) -> None:
        """Close the connection (idempotent). The server closes it when the handler returns."""
        self._call(self._close(), None, "closing")

    async def _close(self) -> None:
        self._writer.close()

    def _call(self, coro: Coroutine[Any, Any, T], timeout: float | None, what: str) -> T:
        if _running_loop() is self._loop:
            coro.close()
            raise RuntimeError(
                "StreamConnection methods block; they are for plain (sync) handlers. An "
                "async def handler gets (reader, writer) streams instead"
            )
        if timeout is not None:
            _check_timeout(timeout)
            coro = asyncio.wait_for(coro, timeout)
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result()
        except TimeoutError:
            raise TimeoutError(
                f"waited {timeout:g} s for {what} from {self.peer!r}; it did not come"
            ) from None

    def __repr__(self) -> str:
        return f"<understudy.StreamConnection peer={self.peer!r}>"


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


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
        self.record = ConnectionRecord(transport.get_extra_info("peername"), time.time())
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

    Raises:
        ConfigurationError: a handler that is not callable, or both ``handler`` and ``echo``.

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
    ) -> None:
        super().__init__(
            handler=handler, echo=echo, journal_size=journal_size, host=host, port=port
        )


class UnixStreamServer(_StreamServer):
    """:class:`TCPServer` on a Unix stream socket (``AF_UNIX``, ``SOCK_STREAM``).

    Args:
        path: the socket's path. By default, a path in a private temporary directory (mode
            0700) created at ``start()``; the socket file (and that directory) is removed at
            ``stop()``. Read it from :attr:`path` (or :attr:`address`) once started.
        handler: as for :class:`TCPServer`.
        echo: as for :class:`TCPServer`.
        journal_size: as for :class:`TCPServer`.

    Raises:
        OSError: at ``start()``, ``errno.EADDRINUSE`` when a file already exists at ``path``.
    """

    kind: ClassVar[str] = "Unix stream server"

    def __init__(
        self,
        *,
        path: str | os.PathLike[str] | None = None,
        handler: StreamHandler | None = None,
        echo: bool = False,
        journal_size: int | None = None,
    ) -> None:
        super().__init__(
            handler=handler, echo=echo, journal_size=journal_size, path=path, unix=True
        )


# -- datagram servers --------------------------------------------------------------------------


class Datagram:
    """One datagram a server received.

    Attributes:
        data: its bytes.
        peer: the sender's address (``(host, port)`` for UDP; a path, or ``None``/``""`` for an
            unbound Unix datagram socket, which cannot be answered).
        received_at: ``time.time()`` at arrival (seconds).
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


class _DatagramServer(SocketServer):
    def __init__(
        self, *, handler: DatagramHandler | None, journal_size: int | None, **bind: Any
    ) -> None:
        super().__init__(socket_kind=socket.SOCK_DGRAM, **bind)
        if handler is not None and not callable(handler):
            raise ConfigurationError(f"handler= must be callable, not {type(handler).__name__}")
        self._handler = handler
        self._handler_is_async = _is_async(handler)
        self._journal: Journal[Datagram] = Journal("datagram", journal_size)

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

    def _datagram_protocol(self) -> asyncio.BaseProtocol:
        return DatagramReceiver(self._received)

    def _received(self, transport: asyncio.DatagramTransport, data: bytes, peer: Any) -> None:
        datagram = Datagram(data, peer, time.time())
        self._journal.append(datagram)
        handler = self._handler
        if handler is None:
            return
        future: asyncio.Future[Any]
        if self._handler_is_async:
            future = self.runtime.loop.create_task(handler(datagram))
        else:
            future = self.runtime.run_in_worker(handler, datagram)
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
        if not transport.is_closing():
            transport.sendto(bytes(reply), peer)


class UDPServer(_DatagramServer):
    """A UDP server that records every datagram and answers with what your handler returns.

    Args:
        handler: ``handler(datagram) -> bytes | None``: given each :class:`Datagram`, return the
            reply to send back to its sender, or ``None`` for no reply. A plain function runs
            in the worker pool; an ``async def`` on the loop.
        host: address to listen on (see :class:`understudy.Server`): ``"127.0.0.1"`` by default.
        port: port to listen on; 0 (the default) lets the kernel choose.
        journal_size: keep only the last N datagrams (``None``: all).

    Raises:
        ConfigurationError: a handler that is not callable.
    """

    kind: ClassVar[str] = "UDP server"

    def __init__(
        self,
        *,
        handler: DatagramHandler | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        journal_size: int | None = None,
    ) -> None:
        super().__init__(handler=handler, journal_size=journal_size, host=host, port=port)


class UnixDatagramServer(_DatagramServer):
    """:class:`UDPServer` on a Unix datagram socket (``AF_UNIX``, ``SOCK_DGRAM``, like /dev/log).

    Args:
        path: the socket's path; by default one in a private temporary directory (mode 0700)
            made at ``start()`` and removed, with the socket file, at ``stop()``.
        handler: as for :class:`UDPServer`; a reply reaches only a client whose socket is bound
            to a path.
        journal_size: keep only the last N datagrams (``None``: all).
    """

    kind: ClassVar[str] = "Unix datagram server"

    def __init__(
        self,
        *,
        path: str | os.PathLike[str] | None = None,
        handler: DatagramHandler | None = None,
        journal_size: int | None = None,
    ) -> None:
        super().__init__(handler=handler, journal_size=journal_size, path=path, unix=True)
