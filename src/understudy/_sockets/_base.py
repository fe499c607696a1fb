"""The shell shared by the socket servers: binding (TCP/UDP or Unix), serving and stopping.

Also the pieces shared with the syslog and log-record servers: binding a Unix socket in a
private temporary directory, tracking in-flight handlers, and a protocol that feeds a
connection's bytes through a sans-IO decoder.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import shutil
import socket
import tempfile
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from .._conditions import Conditions
from .._drain import close_transport, finish_connections
from .._errors import ConfigurationError
from .._listeners import bind_inet
from .._runtime import Runtime
from .._server import Server
from .._tls import TLSInfo, tls_info
from ._unix_paths import bind_unix, file_id

E = TypeVar("E")
E_co = TypeVar("E_co", covariant=True)


def is_async(handler: object) -> bool:
    """Whether ``handler`` is an ``async def`` function, or an object with an async
    ``__call__`` (it then runs on the loop; any other callable runs in the worker pool)."""
    return inspect.iscoroutinefunction(handler) or inspect.iscoroutinefunction(
        getattr(handler, "__call__", None)  # noqa: B004 - an instance with async __call__
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
        conditions: Conditions | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__(host=host, port=port, conditions=conditions, seed=seed)
        if conditions is not None and socket_kind != socket.SOCK_STREAM:
            raise ConfigurationError(
                f"conditions= shape stream connections; a {self.kind} on datagrams has none"
            )
        if path is not None and not unix:
            raise ConfigurationError(
                f"path= is for Unix sockets only; {self.kind} takes host=/port="
            )
        if path is not None and not isinstance(path, str | os.PathLike):
            raise ConfigurationError(f"path must be a str or os.PathLike, not {path!r}")
        if path is not None and not os.fspath(path):
            # (Bound, "" is Linux's autobind: an abstract name no client finds by the path "".)
            raise ConfigurationError(
                "path= must name the socket's file, not ''; pass no path= to let understudy "
                "choose one in a private directory"
            )
        self._unix = unix
        self._socket_kind = socket_kind
        self._given_path = os.fspath(path) if path is not None else None
        self._path: str | None = self._given_path
        self._tempdir: str | None = None
        #: The bound socket file's (st_dev, st_ino): stop() removes the file only while it is
        #: still this one (not one bound or put at the path since).
        self._bound_file: tuple[int, int] | None = None
        self._listeners: list[asyncio.AbstractServer] = []
        self._transports: set[asyncio.BaseTransport] = set()
        #: Each datagram socket served, with its protocol: what stop() reads the last of.
        self._datagram_endpoints: list[tuple[socket.socket, asyncio.DatagramProtocol]] = []
        self._inflight: dict[asyncio.Future[Any], str] = {}
        self._stopping = False

    # -- addresses ---------------------------------------------------------------------------

    @property
    def path(self) -> str:
        """The Unix socket's path: as given (made absolute at ``start()``, so that a test that
        changes directory still finds it), or chosen in a private directory at ``start()``.

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
            if self._path is not None and self._path.startswith("\0"):
                return "@" + self._path[1:]  # (an abstract name, shown as ss(8) shows it)
            return self._path or "unix:?"
        return super()._describe_address()

    # -- used on the loop --------------------------------------------------------------------

    @property
    def _loop_runtime(self) -> Runtime:
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
            sockets = bind_inet(self._host, self._requested_port, self._socket_kind)
            self._bound_port = sockets[0].getsockname()[1]
            if self._socket_kind == socket.SOCK_DGRAM:
                for sock in sockets:
                    _widen_receive_buffer(sock)
            return sockets
        if self._given_path is None:
            self._tempdir = tempfile.mkdtemp(prefix="understudy-")  # mode 0700
            self._path = os.path.join(self._tempdir, "socket")
        elif self._given_path.startswith("\0"):
            self._path = self._given_path  # (an abstract name: no file, no directory)
        else:
            self._path = os.path.abspath(self._given_path)
        try:
            # (bound by the path as given: a relative one short enough for a socket address
            # may be too long made absolute, in a deep working directory)
            sock = bind_unix(self._given_path or self._path, self._socket_kind)
        except BaseException:
            self._remove_path(bound=False)
            raise
        with contextlib.suppress(OSError):  # (else removed at once: stop() has none to remove)
            self._bound_file = file_id(self._path)
        return [sock]

    def _decoding_protocol(
        self, decoder: _Decoder[E], deliver: Callable[[Sequence[E], Any], None]
    ) -> DecodingProtocol[E]:
        """A connection whose bytes go through ``decoder`` to ``deliver`` (see
        :class:`DecodingProtocol`), tracked until closed; what ``deliver`` raises goes to
        ``check()``."""
        return DecodingProtocol(decoder, deliver, self._transports, self._record_error)

    async def _serve(self, sockets: list[socket.socket]) -> None:
        loop = asyncio.get_running_loop()
        context = self._ssl_context()
        for sock in sockets:
            if sock.type == socket.SOCK_STREAM:
                self._listeners.append(await self._listen(self._stream_protocol, sock, ssl=context))
            else:
                transport, protocol = await loop.create_datagram_endpoint(
                    self._datagram_protocol, sock=sock
                )
                self._transports.add(transport)
                self._datagram_endpoints.append((sock, protocol))

    def _stream_protocol(self) -> asyncio.BaseProtocol:
        raise NotImplementedError

    def _datagram_protocol(self) -> asyncio.DatagramProtocol:
        raise NotImplementedError

    async def _shutdown(self, timeout: float) -> list[str]:
        loop = asyncio.get_running_loop()
        self._stopping = True
        listeners, self._listeners = self._listeners, []
        await self._close_listeners(listeners)
        endpoints, self._datagram_endpoints = self._datagram_endpoints, []
        for sock, protocol in endpoints:
            receive_queued(sock, protocol)
        for transport in list(self._transports):
            close_transport(transport)
        await asyncio.sleep(0)  # let connection_lost run, so records say closed
        deadline = loop.time() + timeout
        while self._inflight and (remaining := deadline - loop.time()) > 0:
            await asyncio.wait(list(self._inflight), timeout=remaining)
        still_running = sorted(set(self._inflight.values()))
        for future in list(self._inflight):
            future.cancel()
        # What handlers wrote is still going out to a slow reader: until the deadline.
        await finish_connections(self._streams, deadline)
        self._abort()
        return still_running

    def _streams(self) -> list[asyncio.BaseTransport]:
        # Not the datagram endpoints, which stay in _transports until _abort().
        return [
            transport
            for transport in self._transports
            if getattr(transport.get_extra_info("socket"), "type", None) == socket.SOCK_STREAM
        ]

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
        self._datagram_endpoints = []
        self._remove_path(bound=True)

    def _remove_path(self, *, bound: bool) -> None:
        """Remove the socket file this server bound, if it is still there (a file bound or put
        at its path since is left), and the private directory it made."""
        if not self._unix:
            return
        bound_file, self._bound_file = self._bound_file, None
        # (A Linux abstract name, which begins with NUL, is no file: it has no bound_file.)
        if bound and self._path is not None and bound_file is not None:
            with contextlib.suppress(FileNotFoundError):
                if file_id(self._path) == bound_file:
                    os.unlink(self._path)
        if self._tempdir is not None:
            shutil.rmtree(self._tempdir, ignore_errors=True)
            self._tempdir = None


#: The receive buffer a UDP socket asks for (bytes; the kernel caps it at net.core.rmem_max).
_UDP_RECEIVE_BUFFER = 4 * 1024 * 1024


def _widen_receive_buffer(sock: socket.socket) -> None:
    """Let a UDP socket queue a burst: what does not fit in its receive buffer is dropped.

    A client that sends in a loop (a logger, a metrics client) outruns the loop that reads,
    which asyncio does one datagram per turn; the default buffer (``net.core.rmem_default``,
    208 KiB on Linux) holds about 250 small datagrams. A Unix datagram socket needs none of
    this: its sender waits while the queue is full.
    """
    with contextlib.suppress(OSError):  # (a smaller buffer still works)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _UDP_RECEIVE_BUFFER)


#: Bytes a datagram counts for in :func:`receive_queued`'s budget beyond its payload (so that
#: empty datagrams, too, use it up).
_DATAGRAM_OVERHEAD = 256
#: The largest datagram read (as asyncio's datagram transport reads them).
_MAX_DATAGRAM = 256 * 1024


def receive_queued(sock: socket.socket, protocol: asyncio.DatagramProtocol) -> None:
    """Hand ``protocol`` the datagrams queued on ``sock``, at stop, before it is closed.

    asyncio's transport reads one datagram per turn of the loop, so those the kernel had
    queued when ``stop()`` began (sent, and on loopback delivered, before it) would be closed
    away unread, where a stream server reads every byte it was sent. Reading ends when the
    queue is empty, or after about a receive buffer's worth (``SO_RCVBUF``), so that a sender
    that goes on sending cannot hold ``stop()`` up.
    """
    budget = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
    while budget > 0:
        budget -= _DATAGRAM_OVERHEAD
        try:
            data, peer = sock.recvfrom(_MAX_DATAGRAM)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as error:  # (an ICMP error for an earlier reply, as asyncio passes on)
            protocol.error_received(error)
            continue
        budget -= len(data)
        protocol.datagram_received(data, peer)


class _Decoder(Protocol[E_co]):
    def feed(self, data: bytes) -> Sequence[E_co]: ...
    def close(self) -> Sequence[E_co]: ...


class DecodingProtocol(asyncio.Protocol, Generic[E]):
    """A connection whose bytes go through a sans-IO decoder; what it yields is delivered.

    ``deliver(items, peer)`` is called on the loop with each batch the decoder completes, and
    with what ``decoder.close()`` returns when the stream ends. :attr:`tls` is what the
    connection's TLS agreed on (``None`` when plain), for ``deliver`` to record. The
    transport is in ``transports`` while open; what ``deliver`` raises goes to
    ``record_error``. Make one with ``SocketServer._decoding_protocol``.
    """

    def __init__(
        self,
        decoder: _Decoder[E],
        deliver: Callable[[Sequence[E], Any], None],
        transports: set[asyncio.BaseTransport],
        record_error: Callable[[BaseException], None],
    ) -> None:
        self._transports = transports
        self._record_error = record_error
        self._decoder = decoder
        self._deliver = deliver
        self._transport: asyncio.BaseTransport | None = None
        self._peer: Any = None
        self._ended = False
        self.tls: TLSInfo | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport
        self._peer = transport.get_extra_info("peername")
        self.tls = tls_info(transport)  # over TLS, asyncio calls this after the handshake
        self._transports.add(transport)

    def data_received(self, data: bytes) -> None:
        self._hand_over(self._decoder.feed(data))

    def eof_received(self) -> bool:
        self._end()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._end()
        if self._transport is not None:
            self._transports.discard(self._transport)

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
            self._record_error(error)
