"""The opening handshake (RFC 6455 §4.2) on an HTTP/1.1 exchange, with websockets' checks.

A request that offers ``Upgrade: websocket`` reaches a WebSocket host as an ordinary
:class:`~understudy._http._exchange.Exchange`; :func:`check_handshake` validates it (websockets'
``ServerProtocol.accept``: key, upgrade fields, extensions) and answers a bad one through the
exchange, as any HTTP response, so it is journaled with its status. :func:`switch` sends the 101
and hands the connection's transport to a :class:`~understudy._ws._session.WebSocketSession`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import cast

from websockets.datastructures import Headers as WsHeaders
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory
from websockets.http11 import Request as WsRequest
from websockets.http11 import Response as WsResponse
from websockets.server import ServerProtocol

from .._core.targets import origin_form
from ._records import WebSocketConnection
from ._session import WebSocketSession
from ._site import websocket_site
from ._types import AnyExchange, Exchange, HTTPConnection, Site, answer

__all__ = [
    "DEFAULT_MAX_MESSAGE_SIZE",
    "Handshake",
    "WebSocketUpgrade",
    "check_handshake",
    "check_message_size",
    "offers_websocket",
    "switch",
    "upgrade_for",
]

#: Bytes a received message may have (after inflation) unless said otherwise; more: close 1009.
DEFAULT_MAX_MESSAGE_SIZE = 64 * 1024 * 1024
_VERSION = b"13"


def check_message_size(size: object) -> int | None:
    """``size``, a stub's ``max_message_size``: bytes (an int >= 1) or ``None`` (no limit).

    Raises:
        ConfigurationError: anything else.
    """
    if size is None or (isinstance(size, int) and not isinstance(size, bool) and size >= 1):
        return size
    from .._errors import ConfigurationError  # noqa: PLC0415 - only for a wrong one

    raise ConfigurationError(
        "max_message_size must be a positive int of bytes (1024 * 1024 for 1 MiB) or None (no "
        f"limit), not {size!r}"
    )


def offers_websocket(exchange: AnyExchange) -> bool:
    """Whether ``exchange``'s request is an opening handshake (RFC 6455 §4.2.1): an HTTP/1.1
    GET with ``websocket`` in ``Upgrade`` and a ``Sec-WebSocket-Key``. (``Connection: upgrade``
    is llhttp's condition for asking.) Anything less is plain HTTP, its ``Upgrade`` ignored
    (RFC 9110 §7.8); a handshake with a bad key or version is refused by
    :func:`check_handshake`."""
    if exchange.method != "GET" or exchange.http_version != "1.1":
        return False
    upgrade = exchange.header(b"upgrade")
    return (
        upgrade is not None
        and b"websocket" in upgrade.lower()
        and exchange.header(b"sec-websocket-key") is not None
    )


class WebSocketUpgrade:
    """What ``Router.upgrade`` returns for a WebSocket handshake (``_http/_site.Upgrade``).

    The connection only asks whether there is one: the exchange then goes to its host (an
    ASGI app may accept later, from its own task), which answers it through the exchange or
    sends the 101 and hands the transport over itself (:func:`switch`).
    """

    __slots__ = ()

    def accept(self, site: Site, exchange: AnyExchange) -> bool:
        """Whether ``exchange`` is a handshake a host will answer (it is: see above)."""
        return offers_websocket(exchange)


_UPGRADE = WebSocketUpgrade()


def upgrade_for(exchange: AnyExchange) -> WebSocketUpgrade | None:
    """The upgrade for ``exchange`` if it is an opening handshake, else ``None``."""
    return _UPGRADE if offers_websocket(exchange) else None


class Handshake:
    """A valid opening handshake, not yet answered: the protocol state and the 101 to send."""

    __slots__ = ("exchange", "offered", "protocol", "response")

    def __init__(
        self,
        exchange: Exchange,
        protocol: ServerProtocol,
        response: WsResponse,
        offered: tuple[str, ...],
    ) -> None:
        self.exchange = exchange
        self.protocol = protocol
        self.response = response
        #: The subprotocols the client offered (``Sec-WebSocket-Protocol``), in its order.
        self.offered = offered


def _offered_subprotocols(exchange: Exchange) -> tuple[str, ...]:
    raw = exchange.raw_fields
    offered: list[str] = []
    for index in range(0, len(raw), 2):
        if raw[index].lower() == b"sec-websocket-protocol":
            offered += [
                token.strip() for token in raw[index + 1].decode("latin-1").split(",") if token
            ]
    return tuple(token for token in offered if token)


def check_handshake(
    exchange: Exchange, *, max_message_size: int | None = DEFAULT_MAX_MESSAGE_SIZE
) -> Handshake | None:
    """Validate ``exchange`` as an opening handshake; answer a bad one and return ``None``.

    A ``Sec-WebSocket-Version`` other than 13 gets 426 Upgrade Required with
    ``Sec-WebSocket-Version: 13`` (RFC 6455 §4.4); any other fault (no or bad
    ``Sec-WebSocket-Key``, ``Connection`` without ``upgrade``) gets 400 with the reason.
    permessage-deflate (RFC 7692) is agreed to when offered.
    """
    version = exchange.header(b"sec-websocket-version")
    if version is None or version.strip() != _VERSION:
        said = (
            "no Sec-WebSocket-Version" if version is None else f"Sec-WebSocket-Version {version!r}"
        )
        exchange.answered_by = ("websocket", "handshake refused")
        answer(
            exchange,
            426,
            f"understudy: {said} in the WebSocket handshake; this server speaks version 13 "
            "(RFC 6455 §4.4)\n".encode(),
            [("Sec-WebSocket-Version", "13"), ("Connection", "close")],
        )
        return None
    raw = exchange.raw_fields
    headers = WsHeaders()
    for index in range(0, len(raw), 2):
        headers[raw[index].decode("latin-1")] = raw[index + 1].decode("latin-1")
    target = exchange.target
    request = WsRequest(target if target[:1] == "/" else origin_form(target), headers)
    protocol = ServerProtocol(
        extensions=[ServerPerMessageDeflateFactory()],
        select_subprotocol=lambda _protocol, _offered: None,  # the app or stub chooses later
        max_size=max_message_size,
    )
    response = protocol.accept(request)
    if response.status_code != 101:
        reason = response.body.decode("utf-8", "replace").strip()
        exchange.answered_by = ("websocket", "handshake refused")
        answer(
            exchange,
            400 if response.status_code >= 500 else response.status_code,
            f"understudy: {reason} (RFC 6455 §4.2.1)\n".encode(),
            [
                (name, value)
                for name, value in response.headers.raw_items()
                if name.lower() in ("upgrade", "allow")
            ],
        )
        return None
    return Handshake(exchange, protocol, response, _offered_subprotocols(exchange))


def switch(
    site: Site,
    handshake: Handshake,
    *,
    subprotocol: str | None = None,
    headers: Sequence[tuple[str, str]] = (),
) -> WebSocketSession:
    """Send the 101 (with ``subprotocol`` and extra ``headers``) and start the session."""
    exchange = handshake.exchange
    protocol = handshake.protocol
    response = handshake.response
    if subprotocol is not None:
        response.headers["Sec-WebSocket-Protocol"] = subprotocol
    for name, value in headers:
        response.headers[name] = value
    # The protocol that checked the handshake goes on: send_response() opens it (websockets'
    # state), and its parser, still waiting for the request llhttp parsed, starts over on
    # frames (``parse()`` in the OPEN state reads frames only).
    protocol.send_response(response)
    head = b"".join(protocol.data_to_send())
    protocol.subprotocol = subprotocol  # type: ignore[assignment] # (a str is a Subprotocol)
    protocol.parser = protocol.parse()
    next(protocol.parser)
    request = exchange.request
    assert request is not None
    ws_site = websocket_site(site)
    record = WebSocketConnection(
        ws_site.next_number(),
        request,
        subprotocol=subprotocol,
        extensions=tuple(extension.name for extension in protocol.extensions),
        tls=cast("HTTPConnection", exchange.conn).tls,
        opened_at=time.time(),
    )
    exchange.answered_by = exchange.answered_by or ("websocket", "accepted")
    session = WebSocketSession(ws_site, cast("HTTPConnection", exchange.conn), protocol, record)
    ws_site.opened(session)
    _hand_over(exchange, head, session)
    return session


def _hand_over(exchange: Exchange, head: bytes, session: WebSocketSession) -> None:
    """Send ``head`` (the 101, RFC 9110 §15.2.2) and hand the transport to ``session``.

    ``exchange`` is finished and leaves its connection's queue; ``session`` gets the bytes the
    client sent after the request's head (the connection ``held`` them). The connection stays
    in no set: the session takes its place among the site's connections (stop() closes it
    with 1001) and calls the connection's ``connection_lost`` when the transport ends. A client
    gone before the switch (an ASGI app accepts late) ends the session at once: 1006.
    """
    conn = cast("HTTPConnection", exchange.conn)
    exchange.head_sent = exchange.finished = True
    exchange.record_answer(head, keep=True)
    session.record.request = exchange.request  # (with its 101 now)
    if conn.queue and conn.queue[0] is exchange:
        conn.queue.popleft()
    conn.waiting = None
    if conn.timer is not None:
        conn.timer.cancel()
        conn.timer = None
    transport = conn.transport
    if transport is None or transport.is_closing():
        session.connection_lost(None)  # (reset, or closed: no transport to hand over)
        return
    conn.write(head)
    conn.flush()
    # The session is the connection stop() reaches from now on (_http/_site.Connection).
    connections = conn.site.connections
    connections.pop(conn, None)
    connections[session] = None
    transport.set_protocol(session)
    session.connection_made(transport)
    held, conn.held = conn.held, None
    if held:
        session.data_received(b"".join(held))
    if conn.peer_closed:  # (its FIN came before the switch: the session's, as if after it)
        session.eof_received()
