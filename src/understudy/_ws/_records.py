"""What the journal keeps of WebSocket connections: the handshake, each message, each close."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from collections.abc import Callable

    from .._core.tlsinfo import TLSInfo
    from ._types import Request

__all__ = [
    "Packed",
    "WebSocketClose",
    "WebSocketConnection",
    "WebSocketMessage",
    "add_pong",
    "message_log",
    "unpack_message",
]

#: A message as the loop records it: ``WebSocketMessage``'s fields in order, in a plain tuple
#: (cheaper to make than the frozen dataclass, and untracked by the cyclic collector); readers
#: get :class:`WebSocketMessage` objects.
Packed = tuple[str, bool, "str | bytes", float, int]


@dataclass(frozen=True, slots=True)
class WebSocketMessage:
    """One whole WebSocket message (RFC 6455 §6), as received or sent, fragments joined.

    Attributes:
        direction (str): ``"received"`` (from the client) or ``"sent"`` (to the client).
        text (bool): ``True`` for a text message (opcode 0x1), ``False`` for binary (0x2).
        data (str | bytes): the payload: ``str`` for text, ``bytes`` for binary (after
            permessage-deflate, RFC 7692, if negotiated).
        at (float): ``time.time()`` when the message was complete (received) or handed to the
            transport (sent), in seconds.
        connection (int): the number of its connection, :attr:`WebSocketConnection.number`.
    """

    direction: Literal["received", "sent"]
    text: bool
    data: str | bytes
    at: float
    connection: int

    def json(self) -> object:
        """The payload parsed as JSON (RFC 8259).

        Raises:
            ValueError: the payload is not JSON (``json.JSONDecodeError`` is one).
        """
        import json  # noqa: PLC0415 - most tests never parse a message

        return json.loads(self.data)


@dataclass(frozen=True, slots=True)
class WebSocketClose:
    """The end of a WebSocket connection (RFC 6455 §7).

    Attributes:
        code (int): the close code received in the client's close frame (when ``by`` is
            ``"client"``) or sent in the server's (``"server"``); 1005 when a close frame had no
            code, 1006 when the connection ended without any close frame (RFC 6455 §7.1.5).
        reason (str): the close frame's reason, ``""`` if none.
        by (str): who closed first: ``"client"``, ``"server"`` (the handler, the app, a limit
            or a protocol error, ``stop()`` with 1001), or ``"transport"`` (the TCP connection
            ended without a close frame).
        clean (bool): whether both close frames were exchanged before the TCP connection ended
            (RFC 6455 §7.1.1's "cleanly").
        closed_at (float): ``time.time()`` when the connection ended (seconds).
        reply_code (int | None): the code of the close frame that answered the first one (the
            client's when ``by`` is ``"server"``, the server's when ``"client"``): the same code
            echoed (RFC 6455 §5.5.1), or another, such as the 1002 of a client refusing a code
            no close frame may carry; ``None`` when no close frame answered (``clean`` is
            false).
    """

    code: int
    reason: str
    by: Literal["client", "server", "transport"]
    clean: bool
    closed_at: float
    reply_code: int | None = None


class WebSocketConnection:
    """One WebSocket connection the server accepted: its handshake, messages, and end.

    Read it from the test's thread at any time: :attr:`messages` grows as messages pass, and
    :attr:`close` is set when the connection ends.

    Attributes:
        number (int): its number among the server's WebSocket connections, from 1.
        request (Request): the opening handshake request (RFC 6455 §4.2.1) as journaled, its
            ``response`` the 101 (RFC 9110 §15.2.2).
        subprotocol (str | None): the subprotocol agreed on (``Sec-WebSocket-Protocol``),
            ``None`` if none.
        extensions (tuple[str, ...]): the extensions agreed on, by name
            (``("permessage-deflate",)`` when RFC 7692 compression was negotiated).
        tls (TLSInfo | None): on a ``tls=`` server, what the TLS handshake agreed on,
            including the client certificate's subject under mutual TLS; else ``None``.
        opened_at (float): ``time.time()`` when the 101 response was sent (seconds).
        close (WebSocketClose | None): how it ended, ``None`` while open.
        pings (int): how many pings the server sent (``expect_websocket(...).ping_every``).
    """

    __slots__ = (
        "_lock",
        "_messages",
        "_pongs",
        "close",
        "extensions",
        "number",
        "opened_at",
        "pings",
        "request",
        "subprotocol",
        "tls",
    )

    def __init__(
        self,
        number: int,
        request: Request,
        *,
        subprotocol: str | None,
        extensions: tuple[str, ...],
        tls: TLSInfo | None,
        opened_at: float,
    ) -> None:
        self.number = number
        self.request = request
        self.subprotocol = subprotocol
        self.extensions = extensions
        self.tls = tls
        self.opened_at = opened_at
        self.close: WebSocketClose | None = None
        self.pings = 0
        self._pongs: list[float] = []
        #: Packed tuples as the loop appends them, made WebSocketMessages by the first read.
        self._messages: list[WebSocketMessage | Packed] = []
        self._lock = threading.Lock()

    @property
    def messages(self) -> list[WebSocketMessage]:
        """The messages received and sent so far, in the order they passed (a snapshot)."""
        with self._lock:  # (between readers: the loop appends without it, see message_log)
            entries = self._messages
            snapshot = entries[:]
            for index in range(self._unpacked(snapshot), len(snapshot)):
                snapshot[index] = entries[index] = unpack_message(snapshot[index])
            return snapshot  # type: ignore[return-value] # (each unpacked above)

    @staticmethod
    def _unpacked(entries: list[WebSocketMessage | Packed]) -> int:
        """How many leading entries are already WebSocketMessages."""
        index = len(entries)
        while index and isinstance(entries[index - 1], tuple):
            index -= 1
        return index

    @property
    def received(self) -> list[WebSocketMessage]:
        """The messages received from the client so far, oldest first (a snapshot)."""
        return [message for message in self.messages if message.direction == "received"]

    @property
    def sent(self) -> list[WebSocketMessage]:
        """The messages sent to the client so far, oldest first (a snapshot)."""
        return [message for message in self.messages if message.direction == "sent"]

    @property
    def pongs(self) -> list[float]:
        """``time.time()`` of each pong received from the client (RFC 6455 §5.5.3), oldest
        first (a snapshot)."""
        with self._lock:
            return self._pongs[:]

    @property
    def peer(self) -> tuple[str, int] | None:
        """The client's ``(host, port)``, as on the other records (its handshake's
        :attr:`~understudy.Request.peer`)."""
        peer: tuple[str, int] | None = self.request.peer
        return peer

    @property
    def closed(self) -> bool:
        """Whether the connection has ended."""
        return self.close is not None

    @property
    def closed_at(self) -> float | None:
        """``time.time()`` when the connection ended (seconds), as on the other connection
        records; ``None`` while open."""
        close = self.close
        return None if close is None else close.closed_at

    def __repr__(self) -> str:
        state = "open" if self.close is None else f"closed {self.close.code} by {self.close.by}"
        return (
            f"<understudy.WebSocketConnection #{self.number} {self.request.target} {state}, "
            f"{len(self._messages)} messages>"
        )


def add_pong(record: WebSocketConnection, at: float) -> None:
    """Add the time of a pong to ``record`` (on the loop)."""
    with record._lock:
        record._pongs.append(at)


def message_log(record: WebSocketConnection) -> Callable[[Packed], None]:
    """What adds a packed message to ``record`` (on the loop). No lock: ``list.append`` is
    atomic, and a reader copies the list before unpacking what it copied (its own entries
    only)."""
    return record._messages.append


def unpack_message(entry: WebSocketMessage | Packed) -> WebSocketMessage:
    """The :class:`WebSocketMessage` of a packed entry (one already made: itself)."""
    if isinstance(entry, WebSocketMessage):
        return entry
    return WebSocketMessage(*entry)  # type: ignore[arg-type] # (direction: a Literal)
