"""A WebSocket handler's end closes its connection (as the ASGI host and websockets' server do):
1000 when it returns, 1011 (RFC 6455 §7.4.1) when it raises, and the exception reaches the test.
Client: websockets (sync).
"""

from __future__ import annotations

from typing import Any

import pytest
import websockets.sync.client
from websockets.exceptions import ConnectionClosed

import understudy


def _closed(server: understudy.HTTPServer) -> understudy.WebSocketClose:
    [connection] = server.wait_for_websockets(1, match=lambda c: c.closed)
    assert connection.close is not None
    return connection.close


# -- a handler's end closes the connection -----------------------------------------------------


def _says_hi(ws: understudy.WebSocket) -> None:
    ws.send("hi")


def _says_hi_and_raises(ws: understudy.WebSocket) -> None:
    ws.send("hi")
    raise LookupError("the handler broke")


async def _says_hi_async(ws: understudy.AsyncWebSocket) -> None:
    await ws.send("hi")


async def _says_hi_and_raises_async(ws: understudy.AsyncWebSocket) -> None:
    await ws.send("hi")
    raise LookupError("the handler broke")


@pytest.mark.parametrize(
    ("handler", "code"),
    [
        (_says_hi, 1000),
        (_says_hi_and_raises, 1011),
        (_says_hi_async, 1000),
        (_says_hi_and_raises_async, 1011),
    ],
    ids=["sync-returns", "sync-raises", "async-returns", "async-raises"],
)
def test_a_handlers_end_closes_the_connection(handler: Any, code: int) -> None:
    server = understudy.HTTPServer()
    server.expect_websocket("/h", handler=handler)
    server.start()
    try:
        with websockets.sync.client.connect(server.ws_url + "/h") as client:
            assert client.recv(timeout=5) == "hi"
            with pytest.raises(ConnectionClosed) as closed:
                client.recv(timeout=5)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == code
        close = _closed(server)
        assert (close.code, close.by, close.clean) == (code, "server", True)
    finally:
        server.stop()
    if code == 1000:
        server.check()
    else:
        with pytest.raises(LookupError, match="the handler broke"):
            server.check()
