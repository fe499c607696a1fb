"""Listening sockets: binding them, and closing listeners without losing accepted connections.

The address a server is given, checked (:func:`check_address`); what ``Server.start()`` binds in
the caller's thread (:func:`bind_inet`: a host's address, or
127.0.0.1 and ::1 on one port for ``"localhost"``), and what refusing connections binds again.
Rule: no server state, and no import above ``_errors``: sockets and asyncio servers in and out.
Below ``_server`` and ``_conditions``, which both use it.
"""

from __future__ import annotations

import asyncio
import errno
import socket
from collections.abc import Callable
from typing import Any

from ._errors import AddressInUse, ConfigurationError

__all__ = ["bind_inet", "bind_socket", "check_address", "close_listeners"]

#: The listen() backlog of a stream socket.
BACKLOG = 4096
#: Attempts at finding a port free on both 127.0.0.1 and ::1 for host="localhost".
_LOCALHOST_ATTEMPTS = 20


def check_address(host: object, port: object) -> None:
    """Check a server's ``host=`` and ``port=`` as given, before anything is bound.

    Raises:
        ConfigurationError: ``host`` is not a non-empty string, or ``port`` not an int from
            0 to 65535; the message says what to write.
    """
    if not isinstance(host, str) or not host:
        raise ConfigurationError(
            f"host must be an address such as '127.0.0.1', '::1' or 'localhost', not "
            f"{host!r}; to listen on every interface write host='0.0.0.0' explicitly"
        )
    if not isinstance(port, int) or isinstance(port, bool) or not 0 <= port <= 65535:
        raise ConfigurationError(
            f"port must be an int from 0 to 65535 (0: the kernel chooses), not {port!r}"
        )


def bind_socket(
    family: int, kind: socket.SocketKind, address: Any, *, in_use: Callable[[], OSError]
) -> socket.socket:
    """A non-blocking socket bound to ``address`` and, for a stream, listening.

    A TCP socket gets ``IPPROTO_TCP`` (so asyncio sets ``TCP_NODELAY`` on the connections it
    accepts) and ``SO_REUSEADDR`` (a restarted server takes its port back while old connections
    sit in ``TIME_WAIT``); an IPv6 socket is IPv6 only. The socket is closed if a step fails.

    Args:
        family: ``AF_INET``, ``AF_INET6`` or ``AF_UNIX``.
        kind: ``SOCK_STREAM`` or ``SOCK_DGRAM``.
        address: what ``bind()`` takes for ``family``: ``(host, port)`` or a path.
        in_use: makes the error to raise when the address is taken, saying what to do.

    Raises:
        OSError: ``in_use()`` when the address is taken (``EADDRINUSE``); any other error as
            the kernel gave it.
    """
    inet_stream = family != socket.AF_UNIX and kind == socket.SOCK_STREAM
    # With proto IPPROTO_TCP, asyncio sets TCP_NODELAY on every accepted connection; with 0 it
    # does not, and a reply written in two pieces waits ~40 ms for the client's delayed ACK.
    sock = socket.socket(family, kind, socket.IPPROTO_TCP if inet_stream else 0)
    try:
        if inet_stream:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(address)
        if kind == socket.SOCK_STREAM:
            sock.listen(BACKLOG)
        sock.setblocking(False)
    except OSError as error:
        sock.close()
        if error.errno == errno.EADDRINUSE:
            raise in_use() from None
        raise
    return sock


def bind_inet(host: str, port: int, kind: socket.SocketKind) -> list[socket.socket]:
    """Bound (and for streams, listening) sockets on ``host``: one, or for ``"localhost"`` one
    on 127.0.0.1 and one on ::1 on the same port (the kernel's choice for ``port=0``, tried again
    while ::1 has it taken).

    Raises:
        AddressInUse: the port is taken.
        OSError: ``host`` does not resolve, or cannot be bound for another reason.
    """
    if host == "localhost":
        return _bind_localhost(port, kind)
    try:
        infos = socket.getaddrinfo(host, port, type=kind, flags=socket.AI_PASSIVE)
    except socket.gaierror as error:
        raise OSError(
            error.errno, f"cannot listen on {host!r}: it does not resolve ({error.strerror})"
        ) from None
    family, _, _, _, sockaddr = infos[0]
    return [_bind_one(family, kind, sockaddr, host, port)]


def _bind_localhost(port: int, kind: socket.SocketKind) -> list[socket.socket]:
    for _ in range(_LOCALHOST_ATTEMPTS):
        v4 = _bind_one(socket.AF_INET, kind, ("127.0.0.1", port), "localhost", port)
        chosen = v4.getsockname()[1]
        try:
            v6 = _bind_one(socket.AF_INET6, kind, ("::1", chosen), "localhost", chosen)
        except AddressInUse:
            v4.close()
            if port:
                raise
            continue  # the kernel's choice for 127.0.0.1 is taken on ::1: choose again
        except OSError as error:
            if error.errno in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT):
                return [v4]  # no IPv6 loopback on this machine
            v4.close()
            raise
        return [v4, v6]
    raise AddressInUse("localhost", port)


def _bind_one(
    family: int, kind: socket.SocketKind, sockaddr: Any, host: str, port: int
) -> socket.socket:
    return bind_socket(family, kind, sockaddr, in_use=lambda: AddressInUse(host, port))


async def close_listeners(listeners: list[asyncio.AbstractServer]) -> None:
    """Stop accepting, let connections already accepted be made, then close the listeners.

    ``asyncio.Server.close()`` alone loses a connection that was accepted but whose protocol is
    not yet made (that step runs in a task): the task fails, and the accepted socket is left
    open with its client waiting, until garbage collection. Removing the listening sockets'
    readers first, then yielding one loop iteration, lets those tasks attach their transports,
    so that the server's shutdown finds those connections with the others and closes them.
    Every server's ``stop()`` closes its listeners through this, and so does refusing
    connections (``Conditions(refuse=True)``).
    """
    loop = asyncio.get_running_loop()
    for listener in listeners:
        if isinstance(listener, asyncio.Server):
            for sock in listener.sockets:
                loop.remove_reader(sock.fileno())
    # Two iterations: in the first the accepting task makes the transport, which calls its
    # protocol's connection_made in the next.
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    for listener in listeners:
        listener.close()
