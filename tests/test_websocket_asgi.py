"""What an ASGI app sees of a WebSocket (ASGI WebSocket spec 2.4): the scope, the client's close
as ``websocket.disconnect``, an error on sending after it, and a denial response sent in parts.

Clients: websockets (asyncio), aiohttp's ``ws_connect``.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

import aiohttp
import pytest
import websockets.asyncio.client
from websockets.exceptions import InvalidStatus
from websockets.typing import Subprotocol

import understudy
import understudy.tls


class _Recorder:
    """An app that accepts, echoes one message, then records how the client left."""

    def __init__(self) -> None:
        self.scope: MutableMapping[str, Any] = {}
        self.events: list[MutableMapping[str, Any]] = []
        self.send_after_close: BaseException | None = None

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "websocket":
            return
        self.scope = scope
        self.events.append(await receive())
        await send({"type": "websocket.accept", "subprotocol": "b"})
        message = await receive()
        self.events.append(message)
        await send({"type": "websocket.send", "text": message["text"]})
        self.events.append(await receive())  # (the client's close)
        try:
            await send({"type": "websocket.send", "text": "too late"})
        except OSError as error:  # (the spec: an IOError-like error, once disconnected)
            self.send_after_close = error


@pytest.mark.asyncio
@pytest.mark.parametrize("tls", [False, True], ids=["ws", "wss"])
async def test_the_scope_and_the_clients_close_as_the_app_sees_them(tls: bool) -> None:
    app = _Recorder()
    with understudy.HTTPServer(asgi=app, tls=tls) as server:
        async with websockets.asyncio.client.connect(
            server.ws_url + "/room%20one?x=1&y=%C3%A9",
            subprotocols=[Subprotocol("a"), Subprotocol("b")],
            additional_headers={"X-Token": "secret"},
            ssl=understudy.tls.client_context() if tls else None,
        ) as client:
            assert client.subprotocol == "b"
            await client.send("hi")
            assert await client.recv() == "hi"
            await client.close(4010, "leaving")
        await server.wait_for_websockets_async(1, match=lambda c: c.closed)
        server.stop()  # (waits for the app to end)
    scope = app.scope
    assert scope["asgi"] == {"version": "3.0", "spec_version": "2.4"}
    assert scope["scheme"] == ("wss" if tls else "ws")
    assert (scope["path"], scope["raw_path"]) == ("/room one", b"/room%20one")
    assert scope["query_string"] == b"x=1&y=%C3%A9"
    assert scope["subprotocols"] == ["a", "b"]
    assert (b"x-token", b"secret") in scope["headers"]
    assert all(name == name.lower() for name, _ in scope["headers"])
    assert scope["server"] == (server.host, server.port)
    assert scope["client"][0] == "127.0.0.1"
    assert "websocket.http.response" in scope["extensions"]
    assert app.events == [
        {"type": "websocket.connect"},
        {"type": "websocket.receive", "text": "hi", "bytes": None},
        {"type": "websocket.disconnect", "code": 4010, "reason": "leaving"},
    ]
    assert isinstance(app.send_after_close, OSError)


async def _denying_app(scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "websocket":
        return
    await receive()
    start = {"type": "websocket.http.response.start", "status": 401}
    await send({**start, "headers": [(b"www-authenticate", b"Bearer")]})
    for part, more in ((b"log ", True), (b"in ", True), (b"first", False)):
        await send({"type": "websocket.http.response.body", "body": part, "more_body": more})


@pytest.mark.asyncio
async def test_a_denial_sent_in_parts_reaches_websockets_whole() -> None:
    with understudy.HTTPServer(asgi=_denying_app) as server:
        with pytest.raises(InvalidStatus) as refused:
            async with websockets.asyncio.client.connect(server.ws_url + "/private"):
                pass
        response = refused.value.response
        assert (response.status_code, response.body) == (401, b"log in first")
        assert response.headers["www-authenticate"] == "Bearer"
        assert server.websockets == []
        [request] = server.wait_for_requests(1, match=lambda r: r.response is not None)
        assert request.response is not None
        assert request.response.status_code == 401


@pytest.mark.asyncio
async def test_aiohttp_sees_the_denials_status() -> None:
    with understudy.HTTPServer(asgi=_denying_app) as server:
        async with aiohttp.ClientSession() as session:
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await session.ws_connect(server.ws_url + "/private")
        assert refused.value.status == 401
