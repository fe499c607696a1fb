"""The request side of an HTTP/1.1 exchange: what the parser fills in, and what hosts read of it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from ._request import PackedRequest, Request, unpack_request

if TYPE_CHECKING:
    from .._tls import TLSInfo
    from ._refusal import Refused

__all__ = ["Peer", "ReceivedRequest"]


class Peer(Protocol):
    """What the request side reads of its connection."""

    peer: tuple[str, int] | None
    scheme: str
    tls: TLSInfo | None
    #: The transport; ``None`` once the connection is lost.
    transport: asyncio.Transport | None


class ReceivedRequest:
    """A request as the connection's parser received it (see ``HTTP1Exchange``)."""

    __slots__ = (
        "_request",
        "body_listener",
        "body_parts",
        "body_size",
        "complete",
        "conn",
        "content_length",
        "http_version",
        "keep_alive",
        "method",
        "packed",
        "raw_fields",
        "refusal",
        "refused",
        "target",
    )

    def __init__(self, conn: Peer) -> None:
        self.conn = conn
        self.method = ""
        self.target = ""
        #: The field lines as received, flat: name, value, name, value... (bytes).
        self.raw_fields: list[bytes] = []
        #: The request's Content-Length field value as sent (``None``: none).
        self.content_length: bytes | None = None
        self.http_version = "1.1"
        self.keep_alive = True
        self.body_parts: list[bytes] = []
        self.body_size = 0
        self.complete = False
        #: The request as the journal keeps it, once complete and well-formed.
        self.packed: PackedRequest | None = None
        self._request: Request | None = None
        self.refusal: Refused | None = None
        #: The request as journaled when it was refused (malformed or over a limit).
        self.refused: Request | None = None
        #: Called with each body chunk, then with ``None`` at the end (for streaming hosts).
        self.body_listener: Callable[[bytes | None], None] | None = None

    # -- what hosts read of the connection ----------------------------------------------------

    @property
    def connected(self) -> bool:
        """The connection can still carry bytes to the client."""
        return self.conn.transport is not None

    @property
    def peer(self) -> tuple[str, int] | None:
        """The client's address (host, port)."""
        return self.conn.peer

    @property
    def scheme(self) -> str:
        """``"http"`` or ``"https"``."""
        return self.conn.scheme

    # -- request side ------------------------------------------------------------------------

    @property
    def request(self) -> Request | None:
        """The request, once complete and well-formed (made on first use: most hosts need none)."""
        request = self._request
        if request is None and self.packed is not None:
            request = self._request = unpack_request(self.packed, self.conn.tls)
        return request

    @property
    def body(self) -> bytes:
        """The body received so far."""
        return b"".join(self.body_parts)

    def header(self, name: bytes) -> bytes | None:
        """The first value of a request field by lower-case name."""
        raw = self.raw_fields
        for index in range(0, len(raw), 2):
            if raw[index].lower() == name:
                return raw[index + 1]
        return None

    def listen_to_body(self, listener: Callable[[bytes | None], None]) -> None:
        """Feed ``listener`` every body chunk, those already received first, then ``None``."""
        for part in self.body_parts:
            listener(part)
        if self.complete:
            listener(None)
        else:
            self.body_listener = listener
