"""Each ``expect_websocket`` fault as a second (and third) client library sees it, the
``Conditions`` reset on a WebSocket connection, and wss:// with the bad-certificate modes.

(``test_websocket_stubs.py`` shows each fault with websockets' sync client; these add aiohttp,
websocket-client and httpx-ws, whose views differ: neither aiohttp nor websocket-client refuses
a masked frame from the server, which RFC 6455 §5.1 says a client must.)
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from typing import Any, Literal

import aiohttp
import httpx
import pytest
import websocket as websocket_client
import websockets.sync.client
from httpx_ws import AsyncWebSocketSession, WebSocketNetworkError, aconnect_ws
from websockets.exceptions import ConnectionClosed

import understudy
import understudy.tls
from understudy import TLS

CertificateMode = Literal["expired", "not-yet-valid", "wrong-host", "self-signed", "untrusted-ca"]
BAD_CERTIFICATES: list[CertificateMode] = [
    "expired",
    "not-yet-valid",
    "wrong-host",
    "self-signed",
    "untrusted-ca",
]


def _closed(server: understudy.HTTPServer) -> Any:
    [connection] = server.wait_for_websockets(1, match=lambda c: c.closed)
    assert connection.close is not None
    return connection


# -- close(code, reason, after=N) --------------------------------------------------------------


@pytest.mark.asyncio
async def test_aiohttp_sees_a_scripted_close_code_and_reason() -> None:
    with understudy.HTTPServer() as server:
        server.expect_websocket("/c").echo().close(4001, "two is enough", after=2)
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(server.ws_url + "/c") as ws,
        ):
            for text in ("a", "b"):
                await ws.send_str(text)
                assert (await ws.receive(timeout=5)).data == text
            message = await ws.receive(timeout=5)
            assert message.type == aiohttp.WSMsgType.CLOSE
            assert (message.data, message.extra) == (4001, "two is enough")
        connection = _closed(server)
        assert (connection.close.code, connection.close.by, connection.close.clean) == (
            4001,
            "server",
            True,
        )


def test_websocket_client_sees_a_scripted_close_code() -> None:
    with understudy.HTTPServer() as server:
        server.expect_websocket("/c").close(4002, "at once")
        client = websocket_client.create_connection(server.ws_url + "/c", timeout=5)
        try:
            opcode, frame = client.recv_data_frame(control_frame=True)
        finally:
            client.close()
            client.shutdown()  # type: ignore[no-untyped-call] # (its socket, if left open)
        assert opcode == websocket_client.ABNF.OPCODE_CLOSE
        assert frame.data[:2] == (4002).to_bytes(2, "big")
        assert frame.data[2:] == b"at once"
        assert _closed(server).close.code == 4002


# -- drop: aiohttp and websockets are in test_websocket_stubs.py; httpx-ws ---------------------


@pytest.mark.asyncio
async def test_httpx_ws_sees_a_dropped_connection() -> None:
    with understudy.HTTPServer() as server:
        server.expect_websocket("/d").echo().drop(after=1)
        ws: AsyncWebSocketSession  # (aconnect_ws's return type is not declared)
        async with httpx.AsyncClient() as client, aconnect_ws(server.url + "/d", client) as ws:
            await ws.send_text("one")
            assert await ws.receive_text(timeout=5) == "one"
            with pytest.raises(WebSocketNetworkError):  # (no close frame, the stream ended)
                await ws.receive_text(timeout=5)
        connection = _closed(server)
        assert (connection.close.code, connection.close.by) == (1006, "transport")


# -- ignore_close ------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_aiohttp_gives_up_on_an_unanswered_close() -> None:
    with understudy.HTTPServer() as server:
        server.expect_websocket("/i").ignore_close()
        async with aiohttp.ClientSession() as session:
            ws = await session.ws_connect(
                server.ws_url + "/i", timeout=aiohttp.ClientWSTimeout(ws_close=0.2)
            )
            assert await ws.close(code=1000) is True
            # (aiohttp waited for the server's close frame, none came: it says 1006)
            assert ws.close_code == 1006
        connection = _closed(server)
        assert (connection.close.code, connection.close.by, connection.close.clean) == (
            1000,
            "client",
            False,
        )


# -- fragment ----------------------------------------------------------------------------------


def test_websockets_joins_the_fragments_of_each_message() -> None:
    with understudy.HTTPServer() as server:
        server.expect_websocket("/f").fragment(4).send("abcdefghij").send(b"\x00" * 9)
        with websockets.sync.client.connect(server.ws_url + "/f") as client:
            assert client.recv(timeout=5) == "abcdefghij"
            assert client.recv(timeout=5) == b"\x00" * 9
        assert [m.data for m in _closed(server).sent] == ["abcdefghij", b"\x00" * 9]


@pytest.mark.asyncio
async def test_aiohttp_joins_the_fragments_of_each_message() -> None:
    with understudy.HTTPServer() as server:
        server.expect_websocket("/f").fragment(3).send("é" * 5)
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(server.ws_url + "/f") as ws,
        ):
            # (10 bytes in 3 frames: a fragment ends inside a UTF-8 sequence, as RFC 6455 allows)
            assert await ws.receive_str(timeout=5) == "é" * 5


# -- send_invalid ------------------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("kind", "code", "what"),
    [("utf8", 1007, "Invalid UTF-8"), ("opcode", 1002, "Unexpected opcode")],
)
async def test_aiohttp_refuses_an_invalid_frame(kind: str, code: int, what: str) -> None:
    with understudy.HTTPServer() as server:
        server.expect_websocket("/bad").send_invalid(kind)
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(server.ws_url + "/bad") as ws,
        ):
            message = await ws.receive(timeout=5)
            assert message.type == aiohttp.WSMsgType.ERROR
            assert what in str(message.data)
            assert ws.close_code == code
        connection = _closed(server)
        assert (connection.close.code, connection.close.by) == (code, "client")


@pytest.mark.asyncio
async def test_aiohttp_accepts_a_masked_frame_from_the_server() -> None:
    with understudy.HTTPServer() as server:
        server.expect_websocket("/bad").send_invalid("masked")
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(server.ws_url + "/bad") as ws,
        ):
            assert await ws.receive_str(timeout=5) == "hi"  # (RFC 6455 §5.1: it should close 1002)


@pytest.mark.parametrize(
    ("kind", "error"),
    [
        ("utf8", websocket_client.WebSocketPayloadException),
        ("opcode", websocket_client.WebSocketProtocolException),
    ],
)
def test_websocket_client_raises_on_an_invalid_frame(kind: str, error: type[Exception]) -> None:
    with understudy.HTTPServer() as server:
        server.expect_websocket("/bad").send_invalid(kind)
        client = websocket_client.create_connection(server.ws_url + "/bad", timeout=5)
        try:
            with pytest.raises(error):
                client.recv()
        finally:
            client.close()
        assert _closed(server).close.by == "client"


def test_websocket_client_accepts_a_masked_frame_from_the_server() -> None:
    with understudy.HTTPServer() as server:
        server.expect_websocket("/bad").send_invalid("masked")
        client = websocket_client.create_connection(server.ws_url + "/bad", timeout=5)
        try:
            assert client.recv() == "hi"  # (RFC 6455 §5.1: it should fail the connection)
        finally:
            client.close()


# -- ignore_pings and ping_every ----------------------------------------------------------------


def test_websocket_client_gets_no_pong_when_pings_are_ignored() -> None:
    with understudy.HTTPServer() as server:
        server.expect_websocket("/n").ignore_pings().echo()
        client = websocket_client.create_connection(server.ws_url + "/n", timeout=5)
        try:
            client.ping(b"hello?")
            client.send("after the ping")
            # Frames come back in order: a pong would be the first.
            opcode, frame = client.recv_data_frame(control_frame=True)
        finally:
            client.close()
        assert (opcode, frame.data) == (websocket_client.ABNF.OPCODE_TEXT, b"after the ping")


def test_websocket_client_gets_a_pong_when_pings_are_answered() -> None:
    with understudy.HTTPServer() as server:
        server.expect_websocket("/n").echo()
        client = websocket_client.create_connection(server.ws_url + "/n", timeout=5)
        try:
            client.ping(b"hello?")
            opcode, frame = client.recv_data_frame(control_frame=True)
        finally:
            client.close()
        assert (opcode, frame.data) == (websocket_client.ABNF.OPCODE_PONG, b"hello?")


@pytest.mark.asyncio
async def test_aiohttp_answers_server_pings_and_the_pongs_are_recorded() -> None:
    with understudy.HTTPServer() as server:
        server.expect_websocket("/p").ping_every(0.01)
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(server.ws_url + "/p") as ws,
        ):
            # (aiohttp answers pings while it reads: it reads until the server has two pongs)
            reading = asyncio.ensure_future(ws.receive())
            [connection] = await asyncio.to_thread(
                server.wait_for_websockets, 1, match=lambda c: len(c.pongs) >= 2, timeout=5
            )
            reading.cancel()
        assert connection.pings >= len(connection.pongs) >= 2


# -- delay -------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_delayed_replies_keep_their_order_for_aiohttp_and_httpx_ws() -> None:
    with understudy.HTTPServer() as server:
        server.expect_websocket("/slow").delay(0.001).echo()
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(server.ws_url + "/slow") as ws,
        ):
            for text in ("1", "2", "3"):
                await ws.send_str(text)
            assert [await ws.receive_str(timeout=5) for _ in range(3)] == ["1", "2", "3"]
        hx: AsyncWebSocketSession
        async with httpx.AsyncClient() as client, aconnect_ws(server.url + "/slow", client) as hx:
            await hx.send_bytes(b"x")
            assert await hx.receive_bytes(timeout=5) == b"x"


# -- max_message_size --------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_aiohttp_sees_1009_for_a_message_over_the_limit() -> None:
    with understudy.HTTPServer() as server:
        server.expect_websocket("/m", max_message_size=100).echo()
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(server.ws_url + "/m", compress=0) as ws,
        ):
            await ws.send_str("x" * 101)
            message = await ws.receive(timeout=5)
            assert message.type == aiohttp.WSMsgType.CLOSE
            assert message.data == 1009
        connection = _closed(server)
        assert (connection.close.code, connection.close.by) == (1009, "server")


# -- Conditions(reset_after_bytes=...) ---------------------------------------------------------


def _reset_server() -> understudy.HTTPServer:
    # (the handshake is some 400 bytes both ways; echoes of 100 bytes then spend the rest)
    server = understudy.HTTPServer(conditions=understudy.Conditions(reset_after_bytes=2000))
    server.expect_websocket("/r").echo()
    return server


class _Echoed:
    def __init__(self) -> None:
        self.count = 0
        self.error: BaseException | None = None


def _echo_until_cut(
    send: Callable[[str], object],
    receive: Callable[[], object],
    cut: type[BaseException] | tuple[type[BaseException], ...],
) -> _Echoed:
    """Echo 100-byte messages until the connection is cut (``cut`` raised), at most 100."""
    echoed = _Echoed()
    for _ in range(100):
        try:
            send("x" * 100)
            receive()
        except cut as error:
            echoed.error = error
            break
        echoed.count += 1
    return echoed


def test_a_reset_condition_cuts_a_websocket_for_the_websockets_client() -> None:
    with _reset_server() as server:
        with websockets.sync.client.connect(server.ws_url + "/r", compression=None) as client:
            echoed = _echo_until_cut(client.send, lambda: client.recv(timeout=5), ConnectionClosed)
        assert echoed.error is not None
        assert isinstance(echoed.error, ConnectionClosed)
        assert echoed.error.rcvd is None  # (no close frame: the TCP connection was reset)
        assert 0 < echoed.count < 20
        connection = _closed(server)
        assert (connection.close.code, connection.close.by, connection.close.clean) == (
            1006,
            "transport",
            False,
        )


def test_a_reset_condition_cuts_a_websocket_for_websocket_client() -> None:
    with _reset_server() as server:
        client = websocket_client.create_connection(server.ws_url + "/r", timeout=5)
        try:
            echoed = _echo_until_cut(
                client.send,
                client.recv,
                (ConnectionError, websocket_client.WebSocketConnectionClosedException),
            )
        finally:
            client.close()
        assert echoed.error is not None
        assert 0 < echoed.count < 20
        assert _closed(server).close.by == "transport"


# -- wss:// with the bad-certificate modes --------------------------------------------------------


@pytest.mark.parametrize("mode", BAD_CERTIFICATES)
def test_websockets_refuses_a_bad_certificate_on_wss(mode: CertificateMode) -> None:
    with understudy.HTTPServer(tls=TLS(certificate=mode)) as server:
        with pytest.raises(ssl.SSLCertVerificationError):
            websockets.sync.client.connect(
                server.ws_url + "/s", ssl=understudy.tls.client_context(), open_timeout=5
            )
        [failure] = server.wait_for_tls_failures(1)
        assert failure is not None
        assert server.websockets == []


@pytest.mark.parametrize("mode", BAD_CERTIFICATES)
def test_websocket_client_refuses_a_bad_certificate_on_wss(mode: CertificateMode) -> None:
    with understudy.HTTPServer(tls=TLS(certificate=mode)) as server:
        with pytest.raises(ssl.SSLCertVerificationError):
            websocket_client.create_connection(
                server.ws_url + "/s",
                timeout=5,
                sslopt={"context": understudy.tls.client_context()},
            )
        [failure] = server.wait_for_tls_failures(1)
        assert failure is not None


# -- stop() and the closing handshake ------------------------------------------------------------


def test_stop_waits_for_the_clients_close_frame_so_the_close_is_clean() -> None:
    server = understudy.HTTPServer()
    server.expect_websocket("/e").echo()
    server.start()
    with websockets.sync.client.connect(server.ws_url + "/e") as client:
        client.send("x")
        assert client.recv(timeout=5) == "x"
        server.stop()
        with pytest.raises(ConnectionClosed) as closed:
            client.recv(timeout=5)
    assert closed.value.rcvd is not None
    assert closed.value.sent is not None  # (the client answered the 1001 before stop returned)
    [connection] = server.websockets
    assert connection.close is not None
    assert (connection.close.code, connection.close.by, connection.close.clean) == (
        1001,
        "server",
        True,
    )


def test_stop_gives_up_on_a_client_that_never_answers_the_close() -> None:
    server = understudy.HTTPServer()
    server.expect_websocket("/e").echo()
    server.start()
    # websocket-client answers a close frame only when the test reads: here it never does.
    client = websocket_client.create_connection(server.ws_url + "/e", timeout=5)
    try:
        server.wait_for_websockets(1)
        server.stop(timeout=0.05)
        [connection] = server.websockets
        assert connection.close is not None
        assert (connection.close.code, connection.close.clean) == (1001, False)
    finally:
        client.shutdown()  # type: ignore[no-untyped-call] # (its socket, without a close)
