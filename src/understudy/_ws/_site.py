"""What a WebSocket session uses of its server: the journals, the open sessions, the errors."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .._journal import Journal
from .._waits import end, until_done
from ._records import WebSocketConnection, WebSocketMessage, unpack_message

if TYPE_CHECKING:
    from ._types import Site

__all__ = ["WebSocketSite", "websocket_site"]


class WebSocketSite:
    """One per HTTP server that has served a WebSocket; made on first use.

    It holds no reference to the server: errors go through ``record_error`` (the server's
    ``record_error``, a bound method the server outlives only in a stopped test).
    """

    __slots__ = ("_all_closed", "connections", "messages", "open", "record_error")

    def __init__(
        self, record_error: Callable[[BaseException], None], journal_size: int | None
    ) -> None:
        self.record_error = record_error
        self.connections: Journal[WebSocketConnection] = Journal(
            "WebSocket connection", journal_size
        )
        self.messages: Journal[WebSocketMessage] = Journal(
            "WebSocket message", journal_size, unpack=unpack_message
        )
        #: The sessions still open (``WebSocketSession``s; a dict as an ordered set).
        self.open: dict[Any, None] = {}
        #: While stop() waits for the closing handshakes: done when the last session closes.
        self._all_closed: asyncio.Future[None] | None = None

    def next_number(self) -> int:
        return self.connections.total + 1

    def opened(self, session: Any) -> None:
        self.open[session] = None
        self.connections.append(session.record)

    def closed(self, session: Any) -> None:
        self.open.pop(session, None)
        self.connections.changed()  # (a wait on closes looks again)
        if self._all_closed is not None and not self.open:
            end(self._all_closed)

    def going_away(self) -> dict[Any, None]:
        """On stop(): send each open session its 1001 (as ``WebSocketSession.shutdown`` does for
        one); return the sessions told. The frames are all made first, then written back to
        back: a client woken by the first write is still reading when the next comes (on a
        virtual machine, waking a peer is most of what a small write to it costs)."""
        told = dict(self.open)
        for session in [session for session in told if session.going_away()]:
            session.flush()
        return told

    async def closing_handshakes(self, deadline: float) -> None:
        """On stop(), after each session was sent its 1001: wait until every client has
        answered with its close frame (RFC 6455 §7.1.2: the connection then ends cleanly), or
        until ``deadline`` (loop time); stop() then closes what is left.

        One future for them all, done by the last session's close, and one timer for the
        deadline: no callback per session."""
        if not self.open:
            return
        self._all_closed = asyncio.get_running_loop().create_future()
        try:
            await until_done(self._all_closed, deadline)
        finally:
            self._all_closed = None


def websocket_site(site: Site) -> WebSocketSite:
    """The WebSocket side of ``site`` (an HTTP server's), made on first use."""
    found = site.websocket
    if found is None:
        found = site.websocket = WebSocketSite(site.fail, site.journal.size)
        found.connections.shares_server_of(site.journal)
        found.messages.shares_server_of(site.journal)
    return found  # type: ignore[no-any-return]
