"""The ASGI WebSocket apps the WebSocket tests host."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

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
