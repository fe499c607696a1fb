"""Close codes a script, a handler or an ASGI app may send (RFC 6455 §7.4), as clients see them.

A code a close frame may carry reaches the client with its reason, and the client's echo is
journaled as the reply. A script or a handler may also send a code no close frame may carry
(1004-1006, 1015, 1016-2999), as a fault: each client refuses it with 1002, journaled as the
reply. Any other code (outside 1000-4999; for an ASGI app, any a close frame may not carry) or
a reason over 123 bytes is refused before anything is sent: at ``close()`` for a script, in the
handler or app for the others (so the error reaches the test).
A handler's end closes its connection: 1000 when it returns, 1011 when it raises.
Clients: websockets (sync), httpx-ws (sync and async), aiohttp, websocket-client.
"""

from __future__ import annotations

import json
from collections.abc import MutableMapping
from typing import Any

import aiohttp
import httpx
import pytest
import websocket as websocket_client
import websockets.sync.client
from httpx_ws import (
    AsyncWebSocketSession,
    WebSocketDisconnect,
    aconnect_ws,
)
from websockets.exceptions import ConnectionClosed

import understudy
from ws_apps import close_of, closed_connection, httpx_ws_disconnect

SENDABLE = [1000, 1001, 1003, 1007, 1011, 1012, 1014, 3000, 3999, 4000, 4999]
#: Codes no close frame may carry: a script or a handler sends them as a fault.
FAULTS = [1004, 1005, 1006, 1015, 1016, 2999]
NEVER: list[object] = [0, 999, 5000, 65535, "4000", True, 1000.0]


@pytest.mark.parametrize("code", SENDABLE)
def test_websockets_sees_each_sendable_close_code_and_its_reason(code: int) -> None:
    with understudy.HTTPServer() as server:
        server.expect_websocket("/c").echo().close(code, f"closing {code}", after=1)
        with websockets.sync.client.connect(server.ws_url + "/c") as client:
            client.send("one")
            assert client.recv(timeout=5) == "one"
            with pytest.raises(ConnectionClosed) as closed:
                client.recv(timeout=5)
        assert closed.value.rcvd is not None
        assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (code, f"closing {code}")
        connection = closed_connection(server)
        assert close_of(connection) == (code, f"closing {code}", "server", True)
        assert connection.close is not None
        assert connection.close.reply_code == code  # (the client echoed it, RFC 6455 §5.5.1)
        # (plain ints, as a record's data is: websockets has a CloseCode for the codes it knows)
        assert type(connection.close.code) is int
        assert type(connection.close.reply_code) is int


@pytest.mark.parametrize("code", [1000, 1011, 3000, 4999])
def test_httpx_ws_sees_a_scripted_close_code_and_reason(code: int) -> None:
    with understudy.HTTPServer() as server:
        server.expect_websocket("/c").close(code, "bye")
        closed = httpx_ws_disconnect(server.url + "/c")
        assert (closed.code, closed.reason) == (code, "bye")
        assert close_of(closed_connection(server))[0] == code


def test_httpx_ws_refuses_1014_which_its_wsproto_does_not_know() -> None:
    # (1012-1014 joined the IANA registry after RFC 6455; wsproto still calls them reserved)
    with understudy.HTTPServer() as server:
        server.expect_websocket("/c").close(1014, "bad gateway")
        assert httpx_ws_disconnect(server.url + "/c").code == 1002  # (a protocol error, its own)
        assert close_of(closed_connection(server))[0] == 1014


@pytest.mark.asyncio
async def test_async_httpx_ws_sees_the_longest_reason_whole() -> None:
    reason = "é" * 61 + "x"  # (123 bytes of UTF-8: a close frame's payload is at most 125)
    with understudy.HTTPServer() as server:
        server.expect_websocket("/c").close(4000, reason)
        ws: AsyncWebSocketSession
        async with httpx.AsyncClient() as client, aconnect_ws(server.url + "/c", client) as ws:
            with pytest.raises(WebSocketDisconnect) as closed:
                await ws.receive_text(timeout=5)
        assert (closed.value.code, closed.value.reason) == (4000, reason)


@pytest.mark.parametrize("code", NEVER)
def test_a_script_refuses_a_code_outside_1000_to_4999(code: Any) -> None:
    server = understudy.HTTPServer()
    with pytest.raises(understudy.ConfigurationError, match=r"an int in 1000-4999, not"):
        server.expect_websocket("/c").close(code)


# -- a code no close frame may carry, sent as a fault ------------------------------------------


def _fault_closed(server: understudy.HTTPServer, code: int, reply: int = 1002) -> None:
    """Check the connection a fault close with ``code`` ended: closed first by the server, with
    its code and reason, answered by the client's 1002 (a protocol error, RFC 6455 §7.4.1)."""
    connection = closed_connection(server)
    assert close_of(connection) == (code, "odd", "server", True)
    assert connection.close is not None
    assert connection.close.reply_code == reply


def _refused_by_websockets(server: understudy.HTTPServer, path: str, code: int) -> None:
    """A websockets client of ``path``, whose server closes with ``code`` (a fault), answers
    1002; check both sides."""
    with (
        websockets.sync.client.connect(server.ws_url + path) as client,
        pytest.raises(ConnectionClosed) as closed,
    ):
        client.recv(timeout=5)
    assert closed.value.sent is not None
    assert closed.value.sent.code == 1002
    _fault_closed(server, code)


@pytest.mark.parametrize("code", FAULTS)
def test_websockets_refuses_a_code_no_close_frame_may_carry(code: int) -> None:
    with understudy.HTTPServer() as server:
        server.expect_websocket("/c").echo().close(code, "odd", after=1)
        with websockets.sync.client.connect(server.ws_url + "/c") as client:
            client.send("one")
            assert client.recv(timeout=5) == "one"
            with pytest.raises(ConnectionClosed) as closed:
                client.recv(timeout=5)
        assert closed.value.rcvd is None  # (the frame it got was no close frame to it)
        assert closed.value.sent is not None
        assert closed.value.sent.code == 1002
        assert closed.value.sent.reason == "invalid status code"
        _fault_closed(server, code)


@pytest.mark.parametrize("code", [1005, 1015, 2999])
@pytest.mark.asyncio
async def test_aiohttp_refuses_a_code_no_close_frame_may_carry(code: int) -> None:
    with understudy.HTTPServer() as server:
        server.expect_websocket("/c").close(code, "odd")
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(server.ws_url + "/c") as ws,
        ):
            message = await ws.receive(timeout=5)
            assert message.type is aiohttp.WSMsgType.ERROR
            assert f"Invalid close code: {code}" in str(message.data)
            assert ws.close_code == 1002
        await server.wait_for_websockets_async(1, match=lambda c: c.closed)
        _fault_closed(server, code)


@pytest.mark.parametrize("code", [1004, 1006])
def test_websocket_client_refuses_a_code_no_close_frame_may_carry(code: int) -> None:
    with understudy.HTTPServer() as server:
        server.expect_websocket("/c").close(code, "odd")
        client = websocket_client.create_connection(server.ws_url + "/c", timeout=5)
        try:
            with pytest.raises(websocket_client.WebSocketProtocolException, match=str(code)):
                client.recv()
        finally:
            client.close(websocket_client.STATUS_PROTOCOL_ERROR)
        _fault_closed(server, code)


def test_httpx_ws_refuses_a_code_no_close_frame_may_carry() -> None:
    with understudy.HTTPServer() as server:
        server.expect_websocket("/c").close(1016, "odd")
        assert httpx_ws_disconnect(server.url + "/c").code == 1002  # (what it raises)
        _fault_closed(server, 1016, reply=1000)  # (what it sends: its close on leaving)


def test_a_handler_sends_a_code_no_close_frame_may_carry() -> None:
    async def handler(ws: understudy.AsyncWebSocket) -> None:
        await ws.close(1015, "odd")

    with understudy.HTTPServer() as server:
        server.expect_websocket("/h", handler=handler)
        _refused_by_websockets(server, "/h", 1015)


def test_a_mapping_file_sends_a_code_no_close_frame_may_carry(tmp_path: Any) -> None:
    mapping = {
        "request": {"urlPath": "/m"},
        "websocket": {"close": {"code": 1005, "reason": "odd"}},
    }
    (tmp_path / "m.json").write_text(json.dumps(mapping))
    with understudy.HTTPServer(mappings=tmp_path) as server:
        _refused_by_websockets(server, "/m", 1005)


def test_a_script_refuses_a_reason_over_123_bytes() -> None:
    server = understudy.HTTPServer()
    with pytest.raises(understudy.ConfigurationError, match="at most 123 bytes"):
        server.expect_websocket("/c").close(4000, "é" * 62)


def _serve_then_check(server: understudy.HTTPServer, path: str) -> pytest.ExceptionInfo[Any]:
    """Connect a websockets client to ``path``, send one message, stop; what check() raises."""
    server.start()
    try:
        with websockets.sync.client.connect(server.ws_url + path) as client:
            client.send("close, please")
            with pytest.raises(ConnectionClosed) as closed:
                client.recv(timeout=5)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1011  # (what failed is the handler's or app's)
    finally:
        server.stop()
    with pytest.raises(understudy.ConfigurationError) as failed:
        server.check()
    return failed


def test_a_sync_handlers_bad_close_code_reaches_the_test() -> None:
    def handler(ws: understudy.WebSocket) -> None:
        ws.receive()
        ws.close(999, "no such code")

    server = understudy.HTTPServer()
    server.expect_websocket("/h", handler=handler)
    failed = _serve_then_check(server, "/h")
    assert "not 999" in str(failed.value)


def test_an_async_handlers_bad_close_code_reaches_the_test() -> None:
    async def handler(ws: understudy.AsyncWebSocket) -> None:
        await ws.receive()
        await ws.close(5000)

    server = understudy.HTTPServer()
    server.expect_websocket("/a", handler=handler)
    failed = _serve_then_check(server, "/a")
    assert "not 5000" in str(failed.value)


def test_an_asgi_apps_bad_close_code_reaches_the_test() -> None:
    async def app(scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "websocket"
        await receive()
        await send({"type": "websocket.accept"})
        await receive()
        await send({"type": "websocket.close", "code": 1006})

    failed = _serve_then_check(understudy.HTTPServer(asgi=app), "/")
    assert "not 1006" in str(failed.value)


@pytest.mark.parametrize("delay", [0.0, 0.01], ids=["no-delay", "delay"])
def test_a_scripts_failing_reply_closes_1011_and_reaches_the_test(delay: float) -> None:
    """A reply callable that fails (here: it makes no message) closes the connection with 1011,
    with a ``delay()`` too. (With one, the script's task ended and left the connection open:
    the client waited for an answer until stop().)"""
    server = understudy.HTTPServer()
    server.expect_websocket("/r").delay(delay).reply("close, please", lambda payload: 42)
    failed = _serve_then_check(server, "/r")
    assert "not int" in str(failed.value)


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
        assert close_of(closed_connection(server)) == (code, "", "server", True)
    finally:
        server.stop()
    if code == 1000:
        server.check()
    else:
        with pytest.raises(LookupError, match="the handler broke"):
            server.check()
