"""What an ASGI app sees of a WebSocket (ASGI WebSocket spec 2.4): the scope, the client's close
as ``websocket.disconnect``, an error on sending after it, a denial response sent in parts, and
the largest message the server lets it receive (``websocket_max_message_size=``).

Clients: websockets (asyncio and sync), aiohttp's ``ws_connect``.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import MutableMapping
from typing import Any

import aiohttp
import httpx
import pytest
import websockets.asyncio.client
import websockets.sync.client
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Subprotocol

import understudy
import understudy.tls
from understudy._http import _lifespan
from understudy._ws._handshake import DEFAULT_MAX_MESSAGE_SIZE
from ws_apps import close_of, closed_connection, echo_app


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


# -- websocket_max_message_size ----------------------------------------------------------------

#: A small limit, so that a message over it is quick to send (the default is 64 MiB).
_LIMIT = 1024


@pytest.mark.parametrize("compression", [None, "deflate"], ids=["plain", "deflated"])
def test_websockets_gets_1009_for_a_message_over_the_apps_limit(compression: str | None) -> None:
    # Deflated, the message is a few bytes on the wire: the limit holds after inflation.
    with understudy.HTTPServer(asgi=echo_app, websocket_max_message_size=_LIMIT) as server:
        with websockets.sync.client.connect(server.ws_url + "/", compression=compression) as client:
            client.send("x" * _LIMIT)  # (exactly the limit: the app gets it)
            assert client.recv(timeout=5) == "x" * _LIMIT
            client.send(b"x" * (_LIMIT + 1))
            with pytest.raises(ConnectionClosed) as closed:
                client.recv(timeout=5)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1009
        connection = closed_connection(server)
        code, reason, by, _ = close_of(connection)
        assert (code, by) == (1009, "server")
        assert f"exceeds limit of {_LIMIT} bytes" in reason
        assert [m.data for m in connection.received] == ["x" * _LIMIT]


@pytest.mark.asyncio
async def test_aiohttp_gets_1009_for_a_message_over_the_apps_limit() -> None:
    with understudy.HTTPServer(asgi=echo_app, websocket_max_message_size=_LIMIT) as server:
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(server.ws_url + "/") as ws,
        ):
            await ws.send_bytes(b"x" * _LIMIT)
            echoed = await ws.receive(timeout=5)
            assert (echoed.type, echoed.data) == (aiohttp.WSMsgType.BINARY, b"x" * _LIMIT)
            await ws.send_str("x" * (_LIMIT + 1))
            message = await ws.receive(timeout=5)
            assert (message.type, message.data) == (aiohttp.WSMsgType.CLOSE, 1009)
        [connection] = await server.wait_for_websockets_async(1, match=lambda c: c.closed)
        code, _, by, _ = close_of(connection)
        assert (code, by) == (1009, "server")
        assert [m.data for m in connection.received] == [b"x" * _LIMIT]
        assert connection.request.response is not None  # (the handshake, answered by the app)
        assert connection.request.response.status_code == 101
        assert connection.request.response.answered_by == "asgi"


def test_the_limit_reads_back_and_its_default_is_a_stubs() -> None:
    # (the default applies as a given limit does: it is the same field, read by the handshake)
    default = understudy.HTTPServer().websocket_max_message_size
    assert default == DEFAULT_MAX_MESSAGE_SIZE == 64 * 1024 * 1024
    server = understudy.HTTPServer(websocket_max_message_size=None)
    assert server.websocket_max_message_size is None  # (no limit)


def test_a_stub_keeps_its_own_limit_on_a_server_that_sets_one() -> None:
    with understudy.HTTPServer(websocket_max_message_size=_LIMIT) as server:
        server.expect_websocket("/stub").echo()  # (64 MiB, expect_websocket's default)
        with websockets.sync.client.connect(server.ws_url + "/stub") as client:
            client.send("x" * (_LIMIT + 1))
            assert client.recv(timeout=5) == "x" * (_LIMIT + 1)


@pytest.mark.parametrize("size", [0, -1, True, "1k", 1024.0])
def test_a_wrong_websocket_max_message_size_says_what_to_write(size: object) -> None:
    with pytest.raises(understudy.ConfigurationError) as raised:
        understudy.HTTPServer(websocket_max_message_size=size)  # type: ignore[arg-type]
    assert str(raised.value) == (
        "websocket_max_message_size must be a positive int of bytes (1024 * 1024 for 1 MiB) "
        f"or None (no limit), not {size!r}"
    )


def test_an_app_written_for_websocket_alone_is_served_without_a_lifespan(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An app that answers every scope as a WebSocket sends ``websocket.accept`` in the
    lifespan scope: refused there (ASGI lifespan spec), the app is served without a lifespan, as
    uvicorn's default ("auto") serves it, and nothing fails the test. (It used to wait out the
    lifespan startup's timeout, shortened here so that a hang fails fast.)"""
    monkeypatch.setattr(_lifespan, "_LIFESPAN_TIMEOUT", 1.0)
    seen: list[str] = []

    async def app(scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        seen.append(scope["type"])
        await receive()  # (websocket.connect; in the lifespan scope, lifespan.startup)
        await send({"type": "websocket.accept"})
        message = await receive()
        await send({"type": "websocket.send", "text": message.get("text")})

    with understudy.HTTPServer(asgi=app) as server:
        with websockets.sync.client.connect(server.ws_url + "/") as client:
            client.send("hello")
            assert client.recv(timeout=5) == "hello"
        server.wait_for_websockets(1, match=lambda c: c.closed)
    server.check()
    assert seen == ["lifespan", "websocket"]


_HANDSHAKE = (
    b"GET /late HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)


@pytest.mark.parametrize("reset", [False, True], ids=["fin", "rst"])
def test_a_client_gone_before_the_app_accepts_ends_its_connection_with_1006(reset: bool) -> None:
    """The client closes (FIN) or resets its connection while the app has not accepted yet:
    when the app accepts, the connection ends at once as one that ended without a close frame,
    and the app's receive() says so. (The session used to stay open: its app waited in
    receive() until stop(), which ran out of time after a reset.)"""
    gate = asyncio.Event()
    received: list[MutableMapping[str, Any]] = []

    async def app(scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":  # (a second connection's: the first one's end came before)
            gate.set()
            await send({"type": "http.response.start", "status": 204, "headers": []})
            await send({"type": "http.response.body", "body": b""})
        elif scope["type"] == "websocket":
            await receive()
            await gate.wait()
            await send({"type": "websocket.accept"})
            received.append(await receive())

    with understudy.HTTPServer(asgi=app) as server:
        client = socket.create_connection((server.host, server.port))
        client.sendall(_HANDSHAKE)
        server.wait_for_requests(1)
        if reset:
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        client.close()
        assert httpx.get(server.url + "/after", timeout=5).status_code == 204
        assert close_of(closed_connection(server)) == (1006, "", "transport", False)
    assert received == [{"type": "websocket.disconnect", "code": 1006, "reason": ""}]


@pytest.mark.parametrize(
    "message",
    [{"text": "t", "bytes": b"b"}, {}, {"text": None, "bytes": None}, {"text": b"t"}],
    ids=["both", "neither", "both-none", "text-as-bytes"],
)
def test_a_send_without_exactly_one_payload_fails_in_the_app(message: dict[str, Any]) -> None:
    """``websocket.send`` carries exactly one of ``text`` (a str) and ``bytes`` (ASGI WebSocket
    spec): anything else raises in the app, which fails the test, and nothing is sent. (It
    used to send the text alone, or an empty binary message, or the bytes as binary.)"""

    async def app(scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "websocket":
            await receive()
            await send({"type": "websocket.accept"})
            await send({"type": "websocket.send", **message})

    with understudy.HTTPServer(asgi=app) as server:
        with websockets.sync.client.connect(server.ws_url + "/") as client:
            with pytest.raises(ConnectionClosed) as closed:
                client.recv(timeout=5)
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == 1011
        server.stop()
        with pytest.raises(RuntimeError, match=r"exactly one of text \(a str\) and bytes"):
            server.check()
        assert server.websocket_messages == []


def test_accepting_with_a_subprotocol_the_client_did_not_offer_fails_in_the_app() -> None:
    """RFC 6455 §4.2.2: the server picks a subprotocol the client offered, or none. An app that
    picks another is told so in ``check()``, and the client gets a 500, not a 101 it would
    refuse as a bad handshake."""

    async def app(scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "websocket":
            await receive()
            await send({"type": "websocket.accept", "subprotocol": "graphql-ws"})

    with understudy.HTTPServer(asgi=app) as server:
        with pytest.raises(InvalidStatus) as refused:
            websockets.sync.client.connect(
                server.ws_url + "/", subprotocols=[Subprotocol("chat")], open_timeout=5
            )
        assert refused.value.response.status_code == 500
        server.stop()
        with pytest.raises(
            RuntimeError,
            match=r"accepted with subprotocol 'graphql-ws', which the client did not offer "
            r"\(it offered \['chat'\]",
        ):
            server.check()
        [request] = server.requests
        assert request.response is not None
        assert request.response.status_code == 500
