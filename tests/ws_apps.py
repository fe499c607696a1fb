"""The ASGI WebSocket apps the WebSocket tests host, and what they read of a closed connection."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

import httpx
import pytest
import websockets.sync.client
from httpx_ws import WebSocketDisconnect, WebSocketSession, connect_ws
from websockets.exceptions import InvalidStatus

import understudy

Scope = MutableMapping[str, Any]


async def echo_app(scope: Scope, receive: Any, send: Any) -> None:
    """Echoes each message; ``/close/CODE`` closes with CODE after the first message;
    ``/deny`` answers the handshake 418 (the denial-response extension); ``/forbid`` closes
    before accepting; ``/raise`` raises after accepting; a subprotocol offered is chosen."""
    if scope["type"] != "websocket":
        return
    assert (await receive())["type"] == "websocket.connect"
    path = scope["path"]
    if path == "/deny":
        await send(
            {
                "type": "websocket.http.response.start",
                "status": 418,
                "headers": [(b"content-type", b"text/plain"), (b"x-why", b"teapot")],
            }
        )
        await send({"type": "websocket.http.response.body", "body": b"no tea"})
        return
    if path == "/forbid":
        await send({"type": "websocket.close"})
        return
    offered = scope["subprotocols"]
    await send(
        {
            "type": "websocket.accept",
            "subprotocol": offered[-1] if offered else None,
            "headers": [(b"x-accepted", b"yes")],
        }
    )
    if path == "/raise":
        raise RuntimeError("the app failed after accepting")
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return
        await send({"type": "websocket.send", "text": message["text"], "bytes": message["bytes"]})
        if path.startswith("/close/"):
            await send({"type": "websocket.close", "code": int(path[7:]), "reason": "bye"})
            return


def closed_connection(server: understudy.HTTPServer) -> understudy.WebSocketConnection:
    """The one WebSocket connection ``server`` journaled, once it has ended (its close recorded)."""
    [connection] = server.wait_for_websockets(1, match=lambda c: c.closed)
    assert connection.close is not None
    return connection


def close_of(connection: understudy.WebSocketConnection) -> tuple[int, str, str, bool]:
    """``(code, reason, by, clean)`` of how ``connection`` ended."""
    close = connection.close
    assert close is not None
    return (close.code, close.reason, close.by, close.clean)


def httpx_ws_disconnect(url: str) -> WebSocketDisconnect:
    """What httpx-ws's sync client raises reading a text message from ``url``, whose server
    ends the connection instead (its code and reason, as httpx-ws reports them)."""
    ws: WebSocketSession  # (connect_ws's return type is not declared)
    with httpx.Client() as client, connect_ws(url, client) as ws:
        try:
            ws.receive_text(timeout=5)
        except WebSocketDisconnect as ended:
            return ended
    raise AssertionError(f"httpx-ws read a message from {url}: the server did not end it")


def refused_handshake(
    server: understudy.HTTPServer, target: str, **connect: Any
) -> tuple[str, understudy.UnexpectedRequest, understudy.UnmetExpectation]:
    """Start ``server`` (with one WebSocket expectation a handshake to ``target`` misses),
    connect a websockets client there with ``connect``'s options, stop: the near-miss answer's
    body (the status is checked: 404), and the two errors ``check()`` raises for it."""
    server.start()
    try:
        with pytest.raises(InvalidStatus) as refused:
            websockets.sync.client.connect(server.ws_url + target, **connect)
        assert refused.value.response.status_code == 404
        body = refused.value.response.body.decode()
    finally:
        server.stop()
    with pytest.raises(ExceptionGroup) as failed:
        server.check()
    unexpected, unmet = failed.value.exceptions
    assert isinstance(unexpected, understudy.UnexpectedRequest)
    assert isinstance(unmet, understudy.UnmetExpectation)
    return body, unexpected, unmet
