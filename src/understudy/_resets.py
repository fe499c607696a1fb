"""Resetting a TCP connection: RST rather than FIN, what is unsent dropped.

What a reset fault (``Fault.CONNECTION_RESET``, ``HTTP2Fault.reset``), the ``reset`` conditions
and the proxy relaying a reset all do: ``SO_LINGER`` 0 on the socket, then the transport's
``abort()``, whose close then sends RST (RFC 9293 §3.10.7.1, "ABORT").
"""

from __future__ import annotations

import asyncio
import socket
import struct

__all__ = ["linger_zero"]

_LINGER_ZERO = struct.pack("ii", 1, 0)


def linger_zero(transport: asyncio.BaseTransport) -> None:
    """Make ``transport``'s next close (its ``abort()``) send RST: ``SO_LINGER`` 0 on its TCP
    socket. A Unix socket has no RST and is left as it is, as is a socket already closed."""
    sock = transport.get_extra_info("socket")
    if sock is None or sock.family == socket.AF_UNIX:
        return
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_ZERO)
    except OSError:
        pass
