"""A WebSocket connection as a plain handler sees it: receive, send, close.

A sync handler runs in the worker pool and gets a :class:`WebSocket` (its methods block the
handler's thread, never the loop); an ``async def`` handler runs on the loop and gets an
:class:`AsyncWebSocket`. Both are thin faces of the loop-side session.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from ._closes import check_close
from ._records import WebSocketClose, WebSocketConnection

if TYPE_CHECKING:
    from ._session import WebSocketSession

__all__ = ["AsyncWebSocket", "WebSocket"]


#: Seconds a sync ``receive(timeout)`` waits for the loop beyond ``timeout`` (a held loop).
_HELD_LOOP_GRACE = 5.0


async def _payload(session: WebSocketSession) -> str | bytes | None:
    event = await session.receive()
    return None if isinstance(event, WebSocketClose) else event


async def _payload_within(session: WebSocketSession, timeout: float) -> str | bytes | None:
    """:func:`_payload`, or TimeoutError after ``timeout`` seconds: timed on the loop, where a
    message is taken from the inbox in the same step that returns it, so a timeout never
    takes one (timed in the handler's thread, a message taken as the wait ran out was lost)."""
    async with asyncio.timeout(timeout):
        return await _payload(session)


class AsyncWebSocket:
    """One accepted WebSocket connection, for an ``async def`` handler (on the server's loop).

    Attributes:
        record (WebSocketConnection): the connection's journal record (handshake request,
            subprotocol, messages so far).
    """

    __slots__ = ("_session", "record")

    def __init__(self, session: WebSocketSession) -> None:
        self._session = session
        self.record: WebSocketConnection = session.record

    async def receive(self) -> str | bytes | None:
        """The next message from the client: ``str`` for text, ``bytes`` for binary;
        ``None`` once the connection has ended (RFC 6455 §7)."""
        return await _payload(self._session)

    async def send(self, message: str | bytes) -> None:
        """Send one message: text for ``str`` (UTF-8), binary for ``bytes``; waits while the
        transport's buffer is full. Does nothing once the connection is closing."""
        self._session.send(message)
        await self._session.drain()

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Start the closing handshake with ``code`` (1000-4999) and ``reason`` (at most 123
        bytes of UTF-8); the client's close frame ends it. A code RFC 6455 §7.4 lets no close
        frame carry (1004-1006, 1015, 1016-2999) is sent all the same, as a fault: a client
        that checks it fails the connection with 1002.

        Raises:
            ConfigurationError: a code outside 1000-4999, or a longer reason (nothing is sent).
        """
        check_close(code, reason, faults=True)
        self._session.close(code, reason)


class WebSocket:
    """One accepted WebSocket connection, for a plain (sync) handler in the worker pool.

    Each method blocks the handler's thread, never the server's loop; ``timeout`` is in
    seconds (``None``: until something comes or the connection ends; ``stop()`` ends it).

    Attributes:
        record (WebSocketConnection): the connection's journal record.
    """

    __slots__ = ("_loop", "_session", "record")

    def __init__(self, session: WebSocketSession) -> None:
        self._session = session
        self._loop = session.loop
        self.record: WebSocketConnection = session.record

    def receive(self, timeout: float | None = None) -> str | bytes | None:
        """The next message from the client (``str`` text, ``bytes`` binary), or ``None``
        once the connection has ended.

        Raises:
            TimeoutError: nothing came within ``timeout`` seconds.
        """
        if timeout is None:
            return asyncio.run_coroutine_threadsafe(_payload(self._session), self._loop).result()
        waiting = _payload_within(self._session, timeout)
        future = asyncio.run_coroutine_threadsafe(waiting, self._loop)
        try:
            return future.result(timeout + _HELD_LOOP_GRACE)
        except TimeoutError:
            future.cancel()  # (the loop's own timeout raised it, or the loop is held)
            raise TimeoutError(
                f"receive(timeout={timeout}): no message from the WebSocket client in that time"
            ) from None

    def send(self, message: str | bytes) -> None:
        """Send one message (text for ``str``, binary for ``bytes``), in the order called."""
        self._loop.call_soon_threadsafe(self._session.send, message)

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Start the closing handshake with ``code`` (1000-4999) and ``reason`` (at most 123
        bytes of UTF-8). A code RFC 6455 §7.4 lets no close frame carry (1004-1006, 1015,
        1016-2999) is sent all the same, as a fault: a client that checks it fails the
        connection with 1002.

        Raises:
            ConfigurationError: a code outside 1000-4999, or a longer reason (nothing is sent).
        """
        check_close(code, reason, faults=True)
        self._loop.call_soon_threadsafe(self._session.close, code, reason)
