"""The end of a stop: what connections hold goes out to clients still reading, then they close.

Every stream server's ``stop()`` ends with :func:`finish_connections` (HTTP's included): each
connection is closed once what was written to it is sent (:func:`close_transport`; over TLS,
close_notify last, the client's not awaited, RFC 8446 §6.1), a connection whose client has taken
nothing for a while is aborted (:class:`StalledReaders`), and what is left at the deadline is
aborted too. So nothing is sent, nor any socket left open, after ``stop()`` returns.

Rule: transports in, nothing of a server kept. Below ``_server`` and every protocol module.
"""

from __future__ import annotations

import asyncio
import struct
import sys
from collections.abc import Callable, Collection

__all__ = ["StalledReaders", "close_transport", "finish_connections", "unsent_bytes"]


async def finish_connections(
    open_transports: Callable[[], Collection[asyncio.BaseTransport]], deadline: float
) -> None:
    """On stop: let connections send what they hold to clients still reading, then close.

    Each transport is closed (:func:`close_transport`: what was written goes
    out, then close_notify over TLS, without waiting for the client's), and this returns once
    ``open_transports()`` is empty, that is once every one has handed its last bytes to the
    kernel and been closed. A transport whose client has taken nothing for ``_STALLED``
    seconds (it stopped reading) is aborted then, and what is left at ``deadline`` (loop
    time) is aborted too. So a response still being sent to a client reading it is delivered
    whole if it can be within ``stop()``'s timeout, a client that stopped reading does not
    hold ``stop()`` up, and nothing is sent, nor any socket open, after ``stop()`` returns.

    Args:
        open_transports: the server's stream transports not yet lost (``connection_lost``
            removes each); called again after each wait.
        deadline: the loop time at which waiting ends.
    """
    loop = asyncio.get_running_loop()
    for transport in list(open_transports()):
        close_transport(transport)
    # A transport with nothing left to send closes in a callback already queued.
    await asyncio.sleep(0)
    # asyncio tells a transport's protocol when it is closed, but nobody else: look again
    # at a short, growing interval (only while a transfer is still going out at stop).
    interval = _FINISH_INTERVAL
    stalled = StalledReaders()
    while open_transports() and (remaining := deadline - loop.time()) > 0:
        await asyncio.sleep(min(interval, remaining))
        interval = min(interval * 2, _FINISH_INTERVAL_MAX)
        stalled.abort(open_transports(), loop.time())
    left = list(open_transports())
    for transport in left:
        if isinstance(transport, asyncio.WriteTransport):
            transport.abort()
        else:
            transport.close()
    if left:
        await asyncio.sleep(0)  # aborted transports close their sockets in a callback


class StalledReaders:
    """Which of the transports being sent to at stop have a client that stopped reading.

    A transport whose unsent bytes (its own buffer and, on Linux, the kernel's send queue) have
    not gone down for ``_STALLED`` seconds, looking at each :meth:`abort` call, is aborted.
    """

    def __init__(self) -> None:
        self._progress: dict[asyncio.BaseTransport, tuple[int, float]] = {}

    def abort(self, transports: Collection[asyncio.BaseTransport], now: float) -> None:
        """Abort those of ``transports`` that have taken nothing for ``_STALLED`` s (loop time)."""
        progress = self._progress
        for transport in list(transports):
            unsent = unsent_bytes(transport)
            last = progress.get(transport)
            if last is None or unsent < last[0]:
                progress[transport] = (unsent, now)
            elif (
                unsent
                and now - last[1] >= _STALLED
                and isinstance(transport, asyncio.WriteTransport)
            ):
                transport.abort()  # the client stopped reading


#: Seconds between looks at the connections still sending at stop: the first, and the most.
_FINISH_INTERVAL = 0.001
_FINISH_INTERVAL_MAX = 0.05
#: Seconds without a byte taken after which a client being sent a response at stop is deemed
#: to have stopped reading.
_STALLED = 0.2


def close_transport(transport: asyncio.BaseTransport) -> None:
    """Close a connection once what was written to it is sent; over TLS, then close_notify.

    asyncio's TLS transport, closed, sends close_notify after the data it holds, then keeps the
    socket open until the client answers with its own close_notify, for up to
    ``ssl_shutdown_timeout`` (30 s), and drops what it has not sent if that expires. Most
    clients never answer (RFC 8446 §6.1 does not require them to), so the TCP transport
    beneath is closed as well: it sends everything it holds, close_notify last, then FIN, and
    the socket is closed as soon as the kernel has taken the bytes. A plain transport is
    simply closed. Idempotent.
    """
    tcp = _tcp_transport(transport)
    # Never twice: asyncio's TLS transport, closed again, drops its link to the TCP transport,
    # after which even abort() does nothing.
    if not transport.is_closing():
        transport.close()  # TLS: close_notify is queued behind the data
    if tcp is not None and not tcp.is_closing():
        tcp.close()


def unsent_bytes(transport: asyncio.BaseTransport) -> int:
    """How many bytes written to ``transport`` it still holds (over TLS, with the TCP ones).

    0 for a transport that cannot say (a datagram one, or a TLS one already closed).
    """
    total = 0
    tcp = _tcp_transport(transport)
    for layer in (transport, tcp):
        if isinstance(layer, asyncio.WriteTransport):
            try:
                total += layer.get_write_buffer_size()
            except (AttributeError, RuntimeError):  # a closed TLS transport has no buffer
                pass
    return total + _kernel_unsent(tcp or transport)


try:
    import fcntl
    import termios
except ImportError:  # Windows
    _SIOCOUTQ: int | None = None
else:
    #: The ioctl telling how many bytes a socket's send queue holds (Linux: SIOCOUTQ).
    _SIOCOUTQ = getattr(termios, "TIOCOUTQ", None) if sys.platform == "linux" else None


def _kernel_unsent(transport: asyncio.BaseTransport) -> int:
    """Bytes the kernel holds in the socket's send queue, not yet taken by the peer.

    asyncio's own buffer moves only when the kernel frees a third of the send buffer, which
    on loopback (buffers of megabytes) takes a client reading at a few MB/s longer than
    finish_connections' stall window; the kernel's queue shrinks with every read the client
    makes. 0 where the kernel cannot say.
    """
    if _SIOCOUTQ is None:
        return 0
    sock = transport.get_extra_info("socket")
    if sock is None:
        return 0
    try:
        queued: int = struct.unpack("i", fcntl.ioctl(sock.fileno(), _SIOCOUTQ, b"\0\0\0\0"))[0]
    except (OSError, ValueError):
        return 0
    return queued


def _tcp_transport(transport: asyncio.BaseTransport) -> asyncio.Transport | None:
    """The TCP transport beneath one of asyncio's TLS transports; None for any other.

    asyncio offers no public way to it; ``_SSLProtocolTransport._ssl_protocol._transport`` is
    the same from Python 3.11 to 3.13, and anything else found there is ignored.
    """
    protocol = getattr(transport, "_ssl_protocol", None)
    tcp = getattr(protocol, "_transport", None)
    return tcp if isinstance(tcp, asyncio.Transport) else None
