"""WebSocket (RFC 6455) on the HTTP port, hosted as ASGI, driven by real clients over sockets.

Clients: websockets (asyncio and sync), aiohttp's ``ws_connect``, websocket-client, httpx-ws.
"""

from __future__ import annotations

import asyncio
import base64
import http.client
import os
import socket
import struct
from typing import Any

import aiohttp
import httpx
import pytest
import websocket as websocket_client
import websockets.asyncio.client
import websockets.sync.client
from httpx_ws import AsyncWebSocketSession, aconnect_ws
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Subprotocol

import understudy
import understudy.tls
from ws_apps import echo_app


@pytest.fixture
def server() -> Any:
    with understudy.HTTPServer(asgi=echo_app) as started:
        yield started


# -- websockets (asyncio) ----------------------------------------------------------------------


@pytest.mark.asyncio
async def test_websockets_asyncio_echoes_text_and_bytes_and_journals_them(server: Any) -> None:
    async with websockets.asyncio.client.connect(server.ws_url + "/echo?x=1") as client:
        await client.send("hello")
        assert await client.recv() == "hello"
        await client.send(b"\x00\xff")
        assert await client.recv() == b"\x00\xff"
    [connection] = await server.wait_for_websockets_async(1, match=lambda c: c.closed)
    assert connection.request.target == "/echo?x=1"
    assert connection.request.headers["upgrade"].lower() == "websocket"
    assert [(m.direction, m.text, m.data) for m in connection.messages] == [
        ("received", True, "hello"),
        ("sent", True, "hello"),
        ("received", False, b"\x00\xff"),
        ("sent", False, b"\x00\xff"),
    ]
    assert connection.close is not None
    assert (connection.close.code, connection.close.by, connection.close.clean) == (
        1000,
        "client",
        True,
    )
    # The handshake is journaled as an HTTP request answered 101.
    [request] = server.requests
    assert request.response is not None
    assert request.response.status_code == 101


@pytest.mark.asyncio
async def test_websockets_asyncio_negotiates_permessage_deflate_and_subprotocol(
    server: Any,
) -> None:
    async with websockets.asyncio.client.connect(
        server.ws_url + "/", subprotocols=[Subprotocol("chat.v1"), Subprotocol("chat.v2")]
    ) as client:
        assert client.subprotocol == "chat.v2"
        response = client.response
        assert response is not None
        assert response.headers["x-accepted"] == "yes"
        assert "permessage-deflate" in response.headers["sec-websocket-extensions"]
        await client.send("x" * 10_000)
        assert await client.recv() == "x" * 10_000
    [connection] = await server.wait_for_websockets_async(1)
    assert connection.subprotocol == "chat.v2"
    assert connection.extensions == ("permessage-deflate",)


@pytest.mark.asyncio
async def test_a_16_mib_message_round_trips(server: Any) -> None:
    payload = os.urandom(16 * 1024 * 1024)
    async with websockets.asyncio.client.connect(
        server.ws_url + "/", max_size=None, compression=None
    ) as client:
        await client.send(payload)
        assert await client.recv() == payload
    [message] = await server.wait_for_websocket_messages_async(
        1, match=lambda m: m.direction == "sent", timeout=10.0
    )
    assert message.data == payload


@pytest.mark.asyncio
async def test_10000_small_messages_arrive_in_order(server: Any) -> None:
    count = 10_000
    async with websockets.asyncio.client.connect(server.ws_url + "/") as client:

        async def sender() -> None:
            for number in range(count):
                await client.send(str(number))

        sending = asyncio.ensure_future(sender())
        echoed = [await client.recv() for _ in range(count)]
        await sending
    assert echoed == [str(number) for number in range(count)]
    received = await server.wait_for_websocket_messages_async(
        count, match=lambda m: m.direction == "received", timeout=10.0
    )
    assert [m.data for m in received] == [str(number) for number in range(count)]


@pytest.mark.asyncio
async def test_a_close_code_from_the_client_is_recorded(server: Any) -> None:
    async with websockets.asyncio.client.connect(server.ws_url + "/") as client:
        await client.close(4001, "client done")
    [connection] = await server.wait_for_websockets_async(1, match=lambda c: c.closed)
    assert connection.close is not None
    assert (connection.close.code, connection.close.reason) == (4001, "client done")
    assert (connection.close.by, connection.close.clean) == ("client", True)
    assert connection.close.reply_code == 4001  # (the server echoed it, RFC 6455 §5.5.1)


@pytest.mark.asyncio
async def test_a_close_code_from_the_app_reaches_the_client(server: Any) -> None:
    async with websockets.asyncio.client.connect(server.ws_url + "/close/4002") as client:
        await client.send("one")
        assert await client.recv() == "one"
        with pytest.raises(ConnectionClosed) as closed:
            await client.recv()
    assert closed.value.rcvd is not None
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4002, "bye")
    [connection] = await server.wait_for_websockets_async(1, match=lambda c: c.closed)
    assert connection.close is not None
    assert (connection.close.code, connection.close.by, connection.close.clean) == (
        4002,
        "server",
        True,
    )


@pytest.mark.asyncio
async def test_a_denied_handshake_gets_the_apps_status(server: Any) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with websockets.asyncio.client.connect(server.ws_url + "/deny"):
            pass
    assert refused.value.response.status_code == 418
    assert refused.value.response.headers["x-why"] == "teapot"
    assert refused.value.response.body == b"no tea"
    assert server.websockets == []


@pytest.mark.asyncio
async def test_close_before_accept_is_403(server: Any) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with websockets.asyncio.client.connect(server.ws_url + "/forbid"):
            pass
    assert refused.value.response.status_code == 403


@pytest.mark.asyncio
async def test_an_app_that_raises_closes_1011_and_the_error_reaches_the_test() -> None:
    server = understudy.HTTPServer(asgi=echo_app)
    server.start()
    try:
        async with websockets.asyncio.client.connect(server.ws_url + "/raise") as client:
            with pytest.raises(ConnectionClosed) as closed:
                await client.recv()
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1011
    finally:
        server.stop()
    with pytest.raises(RuntimeError, match="failed after accepting"):
        server.check()


# -- websockets (sync) -------------------------------------------------------------------------


def test_websockets_sync_client_echoes(server: Any) -> None:
    with websockets.sync.client.connect(server.ws_url + "/") as client:
        client.send("sync")
        assert client.recv(timeout=5) == "sync"
    [message] = server.wait_for_websocket_messages(1, match=lambda m: m.direction == "sent")
    assert message.data == "sync"


def test_stop_closes_each_websocket_with_1001() -> None:
    server = understudy.HTTPServer(asgi=echo_app)
    server.start()
    with websockets.sync.client.connect(server.ws_url + "/") as client:
        client.send("before stop")
        assert client.recv(timeout=5) == "before stop"
        server.stop()
        with pytest.raises(ConnectionClosed) as closed:
            client.recv(timeout=5)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1001
    [connection] = server.websockets
    assert connection.close is not None
    assert (connection.close.code, connection.close.by) == (1001, "server")


def test_wss_with_the_test_ca() -> None:
    with understudy.HTTPServer(asgi=echo_app, tls=True) as server:
        assert server.ws_url.startswith("wss://")
        with websockets.sync.client.connect(
            server.ws_url + "/", ssl=understudy.tls.client_context()
        ) as client:
            client.send("secure")
            assert client.recv(timeout=5) == "secure"
        [connection] = server.wait_for_websockets(1)
        assert connection.tls is not None
        assert connection.tls.version.startswith("TLSv1")


# -- aiohttp -----------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_aiohttp_ws_connect_echoes_and_closes_with_a_code(server: Any) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(server.ws_url + "/", protocols=("graphql-ws",)) as ws,
    ):
        assert ws.protocol == "graphql-ws"
        await ws.send_str("from aiohttp")
        assert await ws.receive_str() == "from aiohttp"
        await ws.send_bytes(b"bytes")
        assert await ws.receive_bytes() == b"bytes"
        await ws.close(code=4003, message=b"aiohttp done")
    [connection] = await server.wait_for_websockets_async(1, match=lambda c: c.closed)
    assert connection.close is not None
    assert (connection.close.code, connection.close.reason) == (4003, "aiohttp done")
    assert connection.close.by == "client"


@pytest.mark.asyncio
async def test_aiohttp_sees_the_apps_close_code(server: Any) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(server.ws_url + "/close/4004") as ws,
    ):
        await ws.send_str("x")
        assert await ws.receive_str() == "x"
        closing = await ws.receive()
        assert closing.type is aiohttp.WSMsgType.CLOSE
        assert closing.data == 4004


# -- websocket-client --------------------------------------------------------------------------


def test_websocket_client_echoes_and_sees_a_custom_status_on_denial(server: Any) -> None:
    client = websocket_client.create_connection(server.ws_url + "/", timeout=5)
    try:
        client.send("from websocket-client")
        assert client.recv() == "from websocket-client"
        client.send_binary(b"\x01\x02")
        assert client.recv() == b"\x01\x02"
    finally:
        client.close(status=4005)
    with pytest.raises(websocket_client.WebSocketBadStatusException) as refused:
        websocket_client.create_connection(server.ws_url + "/deny", timeout=5)
    assert refused.value.status_code == 418
    closed = server.wait_for_websockets(1, match=lambda c: c.closed)
    assert closed[0].close is not None
    assert closed[0].close.code == 4005


# -- httpx-ws ----------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_httpx_ws_echoes(server: Any) -> None:
    ws: AsyncWebSocketSession  # (aconnect_ws's return type is not declared)
    async with httpx.AsyncClient() as http, aconnect_ws(server.url + "/", http) as ws:
        await ws.send_text("from httpx-ws")
        assert await ws.receive_text() == "from httpx-ws"
        await ws.send_bytes(b"raw")
        assert await ws.receive_bytes() == b"raw"
    [connection] = await server.wait_for_websockets_async(1, match=lambda c: c.closed)
    assert [m.data for m in connection.received] == ["from httpx-ws", b"raw"]


# -- Starlette ---------------------------------------------------------------------------------


def test_a_starlette_websocket_endpoint_works_unchanged() -> None:
    from starlette.applications import Starlette  # noqa: PLC0415 - this test's only
    from starlette.routing import WebSocketRoute  # noqa: PLC0415
    from starlette.websockets import WebSocket  # noqa: PLC0415

    async def endpoint(websocket: WebSocket) -> None:
        await websocket.accept(subprotocol="json")
        data = await websocket.receive_json()
        await websocket.send_json({"got": data, "path": websocket.url.path})
        await websocket.close(code=4100, reason="starlette done")

    app = Starlette(routes=[WebSocketRoute("/live", endpoint)])
    with understudy.HTTPServer(asgi=app) as server:
        with websockets.sync.client.connect(
            server.ws_url + "/live", subprotocols=[Subprotocol("json")]
        ) as client:
            client.send('{"a": 1}')
            assert client.recv(timeout=5) == '{"got":{"a":1},"path":"/live"}'
            with pytest.raises(ConnectionClosed) as closed:
                client.recv(timeout=5)
        assert closed.value.rcvd is not None
        assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4100, "starlette done")
        [message] = server.wait_for_websocket_messages(1, match=lambda m: m.direction == "sent")
        assert message.json() == {"got": {"a": 1}, "path": "/live"}


# -- handshake errors and bad frames (a raw client) --------------------------------------------


def _handshake_fields(version: str = "13", key: str | None = None) -> dict[str, str]:
    return {
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Key": key if key is not None else base64.b64encode(os.urandom(16)).decode(),
        "Sec-WebSocket-Version": version,
    }


def test_a_wrong_version_gets_426_with_the_version_spoken(server: Any) -> None:
    connection = http.client.HTTPConnection(server.host, server.port, timeout=5)
    connection.request("GET", "/", headers=_handshake_fields(version="8"))
    response = connection.getresponse()
    assert response.status == 426
    assert response.getheader("Sec-WebSocket-Version") == "13"
    assert b"version 13" in response.read()
    connection.close()
    [request] = server.wait_for_requests(1, match=lambda r: r.response is not None)
    assert request.response.status_code == 426


def test_a_bad_key_gets_400_with_the_reason(server: Any) -> None:
    connection = http.client.HTTPConnection(server.host, server.port, timeout=5)
    connection.request("GET", "/", headers=_handshake_fields(key="short"))
    response = connection.getresponse()
    assert response.status == 400
    assert b"Sec-WebSocket-Key" in response.read()
    connection.close()
    [request] = server.wait_for_requests(1, match=lambda r: r.response is not None)
    assert request.headers["sec-websocket-key"] == "short"
    assert request.response.status_code == 400
    assert (request.response.answered_by, request.response.detail) == (
        "websocket",
        "handshake refused",
    )
    assert server.websockets == []  # (refused before the app saw it: no connection)


def _raw_websocket(server: Any) -> socket.socket:
    sock = socket.create_connection((server.host, server.port), timeout=5)
    fields = "".join(f"{k}: {v}\r\n" for k, v in _handshake_fields().items())
    sock.sendall(f"GET / HTTP/1.1\r\nHost: {server.host}\r\n{fields}\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(4096)
    assert head.startswith(b"HTTP/1.1 101 ")
    return sock


def _read_close(sock: socket.socket) -> int:
    data = b""
    while True:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    assert data[0] == 0x88, data
    return int(struct.unpack("!H", data[2:4])[0])


def _masked(opcode: int, payload: bytes, *, mask: bool = True, fin: bool = True) -> bytes:
    key = b"\x11\x22\x33\x44"
    body = bytes(b ^ key[i % 4] for i, b in enumerate(payload)) if mask else payload
    head = bytes([(0x80 if fin else 0) | opcode, (0x80 if mask else 0) | len(payload)])
    return head + (key if mask else b"") + body


def test_invalid_utf8_in_text_closes_1007(server: Any) -> None:
    with _raw_websocket(server) as sock:
        sock.sendall(_masked(0x1, b"\xff\xfe"))
        assert _read_close(sock) == 1007
    [connection] = server.wait_for_websockets(1, match=lambda c: c.closed)
    assert connection.close is not None
    assert (connection.close.code, connection.close.by) == (1007, "server")


def test_nothing_is_read_after_invalid_utf8_in_the_same_read(server: Any) -> None:
    # The first fragment of a text message is not UTF-8; its last fragment and a whole message
    # come in the same read (found by make stress's fuzz: the fragment after the bad one was
    # decoded on its own, and its UnicodeDecodeError escaped into asyncio).
    with _raw_websocket(server) as sock:
        sock.sendall(
            _masked(0x1, b"\xff", fin=False) + _masked(0x0, b"\xfe") + _masked(0x1, b"after")
        )
        assert _read_close(sock) == 1007
    [connection] = server.wait_for_websockets(1, match=lambda c: c.closed)
    assert connection.close is not None
    assert (connection.close.code, connection.close.by) == (1007, "server")
    assert connection.received == []


def test_an_unmasked_client_frame_closes_1002(server: Any) -> None:
    with _raw_websocket(server) as sock:
        sock.sendall(_masked(0x1, b"plain", mask=False))
        assert _read_close(sock) == 1002
    [connection] = server.wait_for_websockets(1, match=lambda c: c.closed)
    assert connection.close is not None
    assert connection.close.code == 1002


def test_a_ping_is_answered_with_a_pong(server: Any) -> None:
    with _raw_websocket(server) as sock:
        sock.sendall(_masked(0x9, b"are you there"))
        pong = sock.recv(4096)
        assert pong == bytes([0x8A, 13]) + b"are you there"


def test_a_plain_http_request_to_an_asgi_server_stays_http(server: Any) -> None:
    # No Upgrade: the app's http scope (which answers nothing here: a 500 follows). The
    # point is that nothing switches.
    connection = http.client.HTTPConnection(server.host, server.port, timeout=5)
    connection.request("GET", "/")
    assert connection.getresponse().status == 500
    connection.close()
    with pytest.raises(RuntimeError, match="without sending a response"):
        server.check()


def test_a_server_without_websocket_hosts_answers_a_handshake_as_http() -> None:
    with understudy.HTTPServer(response=understudy.Response(200, body="plain")) as server:
        connection = http.client.HTTPConnection(server.host, server.port, timeout=5)
        connection.request("GET", "/", headers=_handshake_fields())
        response = connection.getresponse()
        assert (response.status, response.read()) == (200, b"plain")
        connection.close()


def test_mutual_tls_records_the_client_certificates_subject() -> None:
    cert = understudy.tls.issue_client_cert("alice")
    with understudy.HTTPServer(asgi=echo_app, tls=understudy.TLS(client_cert="required")) as server:
        context = understudy.tls.client_context(client_cert=cert)
        with websockets.sync.client.connect(server.ws_url + "/", ssl=context) as client:
            client.send("mtls")
            assert client.recv(timeout=5) == "mtls"
        [connection] = server.wait_for_websockets(1)
        assert connection.tls is not None
        assert connection.tls.peer_subject is not None
        assert "CN=alice" in connection.tls.peer_subject
