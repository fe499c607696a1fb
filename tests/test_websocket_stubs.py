"""WebSocket stubs without an app: scripted conversations, handlers, faults, unmatched handshakes.

Real clients over real sockets: websockets (sync and asyncio), websocket-client, aiohttp.
"""

from __future__ import annotations

import math
import re
import socket
from collections.abc import MutableMapping
from typing import Any

import aiohttp
import pytest
import websocket as websocket_client
import websockets.asyncio.client
import websockets.sync.client
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Subprotocol

import understudy
from ws_apps import close_of, refused_handshake


def test_a_scripted_conversation() -> None:
    with understudy.HTTPServer() as server:
        (
            server.expect_websocket("/feed")
            .send({"hello": 1})
            .reply("ping", "pong")
            .reply(re.compile(r"^n"), lambda payload: payload.upper())
            .reply({"op": "sum", "args": [1, 2]}, {"result": 3})
            .reply(lambda payload: payload == b"\x00", b"\x01")
            .echo()
            .close(4000, "enough", after=5)
        )
        with websockets.sync.client.connect(server.ws_url + "/feed") as client:
            assert client.recv(timeout=5) == '{"hello": 1}'
            client.send("ping")
            assert client.recv(timeout=5) == "pong"
            client.send("nope")
            assert client.recv(timeout=5) == "NOPE"
            client.send('{"args": [1, 2], "op": "sum"}')
            assert client.recv(timeout=5) == '{"result": 3}'
            client.send(b"\x00")
            assert client.recv(timeout=5) == b"\x01"
            client.send("echo me")
            assert client.recv(timeout=5) == "echo me"
            with pytest.raises(ConnectionClosed) as closed:
                client.recv(timeout=5)
        assert closed.value.rcvd is not None
        assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4000, "enough")
        [connection] = server.wait_for_websockets(1, match=lambda c: c.closed)
        assert len(connection.received) == 5
        assert connection.close is not None
        assert (connection.close.code, connection.close.by) == (4000, "server")


def test_the_handshake_is_matched_on_query_headers_and_subprotocol() -> None:
    with understudy.HTTPServer() as server:
        server.expect_websocket(
            "/q", query={"room": "a"}, headers={"X-Token": "t"}, subprotocol="chat"
        ).send("matched")
        with websockets.sync.client.connect(
            server.ws_url + "/q?room=a",
            additional_headers={"X-Token": "t"},
            subprotocols=[Subprotocol("chat")],
        ) as client:
            assert client.subprotocol == "chat"
            assert client.recv(timeout=5) == "matched"


def test_an_unmatched_handshake_gets_the_near_miss_report_and_fails_the_test() -> None:
    server = understudy.HTTPServer()
    server.expect_websocket("/feed", query={"room": "a"})
    # The handshake that missed, and the expectation it missed (never reached).
    body, unexpected, unmet = refused_handshake(server, "/feed?room=b")
    assert "query room='b', expected 'a'" in body
    assert "no WebSocket expectation matched" in str(unexpected)
    assert "expect_websocket('/feed')" in str(unmet)


def test_allow_unmatched_still_answers_404_without_failing() -> None:
    with understudy.HTTPServer(allow_unmatched=True) as server:
        server.expect_websocket("/feed")
        with pytest.raises(InvalidStatus) as refused:
            websockets.sync.client.connect(server.ws_url + "/other")
        assert refused.value.response.status_code == 404
        with websockets.sync.client.connect(server.ws_url + "/feed"):
            pass  # (met, so that only the unmatched handshake could fail the test)


def test_a_sync_handler_gets_a_blocking_session() -> None:
    def handler(ws: understudy.WebSocket) -> None:
        ws.send(f"hello {ws.record.request.path}")
        while (message := ws.receive()) is not None:
            if message == "quit":
                ws.close(4001, "asked to")
            else:
                ws.send(message * 2)

    with understudy.HTTPServer() as server:
        server.expect_websocket("/h", handler=handler)
        client = websocket_client.create_connection(server.ws_url + "/h", timeout=5)
        try:
            assert client.recv() == "hello /h"
            client.send("ab")
            assert client.recv() == "abab"
            client.send("quit")
            opcode, frame = client.recv_data_frame(control_frame=True)
            assert opcode == websocket_client.ABNF.OPCODE_CLOSE
            assert frame.data[:2] == (4001).to_bytes(2, "big")
            assert frame.data[2:] == b"asked to"
        finally:
            client.close()
            client.shutdown()  # type: ignore[no-untyped-call] # (close() leaves the socket)


def test_a_sync_receive_that_times_out_loses_no_message() -> None:
    """``receive(timeout)`` polled in a loop: each of 3000 messages is received once. (Timed in
    the handler's thread, a message the loop took as the wait ran out was lost: ~3% of them.)"""
    received: list[str | bytes] = []
    timeouts: list[str] = []

    def handler(ws: understudy.WebSocket) -> None:
        try:
            ws.receive(timeout=0.01)  # (the client waits for "ready": this one times out)
        except TimeoutError as error:
            timeouts.append(str(error))
        ws.send("ready")
        while True:
            try:
                message = ws.receive(timeout=0.0002)
            except TimeoutError:
                continue
            if message is None or message == "end":
                ws.send(str(len(received)))
                return
            received.append(message)

    with understudy.HTTPServer() as server:
        server.expect_websocket("/r", handler=handler)
        with websockets.sync.client.connect(server.ws_url + "/r") as client:
            assert client.recv(timeout=5) == "ready"
            for number in range(3000):
                client.send(str(number))
            client.send("end")
            assert client.recv(timeout=10) == "3000"
    assert received == [str(number) for number in range(3000)]
    assert timeouts == ["receive(timeout=0.01): no message from the WebSocket client in that time"]


@pytest.mark.asyncio
async def test_an_async_handler_gets_an_awaitable_session() -> None:
    async def handler(ws: understudy.AsyncWebSocket) -> None:
        message = await ws.receive()
        assert isinstance(message, bytes)
        await ws.send(b"got " + message)
        await ws.close(1000, "done")

    with understudy.HTTPServer() as server:
        server.expect_websocket("/a", handler=handler)
        async with websockets.asyncio.client.connect(server.ws_url + "/a") as client:
            await client.send(b"data")
            assert await client.recv() == b"got data"
            with pytest.raises(ConnectionClosed):
                await client.recv()


def test_a_handlers_exception_reaches_the_test() -> None:
    def handler(ws: understudy.WebSocket) -> None:
        ws.receive()
        raise ValueError("the handler broke")

    server = understudy.HTTPServer()
    server.expect_websocket("/boom", handler=handler)
    server.start()
    try:
        with websockets.sync.client.connect(server.ws_url + "/boom") as client:
            client.send("x")
    finally:
        server.stop()
    with pytest.raises(ValueError, match="the handler broke"):
        server.check()


def test_stop_closes_a_stub_websocket_with_1001_and_ends_its_handler() -> None:
    def handler(ws: understudy.WebSocket) -> None:
        while ws.receive() is not None:
            pass

    server = understudy.HTTPServer()
    server.expect_websocket("/s", handler=handler)
    server.start()
    with websockets.sync.client.connect(server.ws_url + "/s") as client:
        server.stop(timeout=5.0)
        with pytest.raises(ConnectionClosed) as closed:
            client.recv(timeout=5)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1001
    server.check()


# -- faults ------------------------------------------------------------------------------------


def test_drop_ends_without_a_close_frame() -> None:
    with understudy.HTTPServer() as server:
        server.expect_websocket("/d").echo().drop(after=1)
        with websockets.sync.client.connect(server.ws_url + "/d") as client:
            client.send("one")
            assert client.recv(timeout=5) == "one"
            with pytest.raises(ConnectionClosed) as closed:
                client.recv(timeout=5)
        assert closed.value.rcvd is None  # no close frame came (1006 for the client)
        [connection] = server.wait_for_websockets(1, match=lambda c: c.closed)
        assert connection.close is not None
        assert (connection.close.code, connection.close.by, connection.close.clean) == (
            1006,
            "transport",
            False,
        )


@pytest.mark.asyncio
async def test_aiohttp_sees_a_dropped_connection() -> None:
    with understudy.HTTPServer() as server:
        server.expect_websocket("/d").drop()
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(server.ws_url + "/d") as ws,
        ):
            message = await ws.receive(timeout=5)
            assert message.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR)
            assert ws.close_code == 1006


def test_ignore_close_leaves_the_clients_close_unanswered() -> None:
    with understudy.HTTPServer() as server:
        server.expect_websocket("/i").ignore_close()
        with websockets.sync.client.connect(server.ws_url + "/i", close_timeout=0.2) as client:
            client.close(1000)
            # The client gave up waiting for the server's close frame.
            assert client.close_code == 1006  # (websockets' code for "no close frame received")
        [connection] = server.wait_for_websockets(1, match=lambda c: c.closed)
        assert connection.close is not None
        assert (connection.close.by, connection.close.clean) == ("client", False)
        assert connection.close.reply_code is None


@pytest.mark.parametrize("delay", [0.0, 0.01], ids=["no-delay", "delay"])
def test_ignore_close_still_ends_a_closing_handshake_the_server_began(delay: float) -> None:
    """``ignore_close`` leaves the client's close unanswered; a close frame of the client's
    that answers the server's (a script's ``close``, stop()'s 1001) ends the connection as
    usual. (The server used to keep the TCP connection open then: the connection lasted until
    an abort 10 s later, and stop() waited out its timeout for the script, raising
    ``WaitTimeout``.)"""
    with understudy.HTTPServer() as server:
        server.expect_websocket("/i").delay(delay).ignore_close().echo().close(4000, after=1)
        server.expect_websocket("/s").delay(delay).ignore_close().echo()
        with (
            websockets.sync.client.connect(server.ws_url + "/i", close_timeout=30) as closed,
            websockets.sync.client.connect(server.ws_url + "/s", close_timeout=30) as stopped,
        ):
            closed.send("a")
            stopped.send("b")
            assert (closed.recv(timeout=5), stopped.recv(timeout=5)) == ("a", "b")
            [first] = server.wait_for_websockets(1, match=lambda c: c.closed)
            server.stop(timeout=3)
    assert close_of(first) == (4000, "", "server", True)  # (before stop())
    assert [close_of(connection) for connection in server.websockets] == [
        (4000, "", "server", True),
        (1001, "the server is stopping", "server", True),
    ]


def _client_frame(opcode: int, payload: bytes) -> bytes:
    """A client's whole frame (RFC 6455 §5.2: masked, a payload under 126 bytes)."""
    key = b"\x01\x02\x03\x04"
    masked = bytes(byte ^ key[index % 4] for index, byte in enumerate(payload))
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + key + masked


@pytest.mark.parametrize(
    ("fault", "frames", "expected"),
    [
        ("ignore_pings", [(0x1, b"a"), (0x9, b"p")], b"\x81\x01a"),
        ("ignore_close", [(0x9, b"p"), (0x8, b"\x03\xe8")], b"\x8a\x01p"),
    ],
)
def test_a_fault_leaves_out_its_own_frame_only(
    fault: str, frames: list[tuple[int, bytes]], expected: bytes
) -> None:
    """A read that brings a ping (or a close) with other frames: ``ignore_pings`` leaves out
    the pong, ``ignore_close`` the close, and what the others made is sent (an echo, a pong).
    (Everything the read had made was dropped: an echo journaled as sent was never written.)"""
    with understudy.HTTPServer() as server:
        getattr(server.expect_websocket("/f").echo(), fault)()
        with socket.create_connection((server.host, server.port), timeout=5) as sock:
            sock.sendall(
                b"GET /f HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            )
            answer = b""
            while b"\r\n\r\n" not in answer:
                answer += sock.recv(4096)
            sock.sendall(b"".join(_client_frame(*frame) for frame in frames))  # (one read)
            answer = answer.partition(b"\r\n\r\n")[2]
            while len(answer) < len(expected):
                answer += sock.recv(4096)
        assert answer == expected


def test_fragment_sends_each_message_in_n_frames() -> None:
    with understudy.HTTPServer() as server:
        server.expect_websocket("/f").fragment(3).send("abcdefghi").send(b"123")
        # websocket-client's low-level recv_data_frame shows the frames as they came.
        client = websocket_client.create_connection(server.ws_url + "/f", timeout=5)
        try:
            frames = [client.recv_data_frame(control_frame=True)[1] for _ in range(2)]
        finally:
            client.close()
        # recv_data_frame joins continuation frames: the whole messages came through.
        assert [frame.data for frame in frames] == [b"abcdefghi", b"123"]
    with understudy.HTTPServer() as server:
        server.expect_websocket("/f").fragment(3).send("abcdefghi")
        sock = websocket_client.create_connection(server.ws_url + "/f", timeout=5)
        try:
            raw = sock.sock
            assert raw is not None
            seen = b""
            while len(seen) < 3 * 2 + 9:
                seen += raw.recv(4096)
        finally:
            sock.close()
        # Three frames: text (FIN clear), continuation (FIN clear), continuation (FIN set).
        assert seen == b"\x01\x03abc\x00\x03def\x80\x03ghi"


def test_a_message_over_max_message_size_closes_1009() -> None:
    with understudy.HTTPServer() as server:
        server.expect_websocket("/m", max_message_size=1024).echo()
        with websockets.sync.client.connect(server.ws_url + "/m", compression=None) as client:
            client.send("small")
            assert client.recv(timeout=5) == "small"
            client.send("x" * 2000)
            with pytest.raises(ConnectionClosed) as closed:
                client.recv(timeout=5)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1009
        [connection] = server.wait_for_websockets(1, match=lambda c: c.closed)
        assert connection.close is not None
        assert (connection.close.code, connection.close.by) == (1009, "server")


@pytest.mark.parametrize("size", [0, -1, True, "1k", 1024.0])
def test_a_max_message_size_not_a_positive_int_nor_none_is_refused(size: Any) -> None:
    server = understudy.HTTPServer()
    with pytest.raises(understudy.ConfigurationError, match=r"max_message_size must be a posi"):
        server.expect_websocket("/m", max_message_size=size)


def test_a_stub_without_a_message_limit_takes_a_message_over_the_default() -> None:
    # (None: no limit; what proves it is a message the 64 MiB default would refuse)
    big = b"x" * (64 * 1024 * 1024 + 1)
    with understudy.HTTPServer() as server:
        server.expect_websocket("/m", max_message_size=None).reply(lambda m: True, "got it")
        with websockets.sync.client.connect(server.ws_url + "/m", compression=None) as client:
            client.send(big)
            assert client.recv(timeout=30) == "got it"


def test_the_stubs_and_an_asgi_app_share_the_port() -> None:
    async def app(scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "websocket":
            await receive()
            await send({"type": "websocket.accept"})
            await send({"type": "websocket.send", "text": "from the app"})
            await send({"type": "websocket.close"})

    with understudy.HTTPServer(asgi=app) as server:
        server.expect_websocket("/stub").send("from the stub")
        with websockets.sync.client.connect(server.ws_url + "/stub") as client:
            assert client.recv(timeout=5) == "from the stub"
        with websockets.sync.client.connect(server.ws_url + "/anything") as client:
            assert client.recv(timeout=5) == "from the app"


def test_server_pings_are_answered_and_the_pongs_recorded() -> None:
    with understudy.HTTPServer() as server:
        server.expect_websocket("/p").ping_every(0.01)
        with websockets.sync.client.connect(server.ws_url + "/p") as client:
            [connection] = server.wait_for_websockets(
                1, match=lambda c: len(c.pongs) >= 2, timeout=5
            )
            assert connection.pings >= 2
            client.close()


def test_ignore_pings_leaves_the_clients_ping_unanswered() -> None:
    with understudy.HTTPServer() as server:
        server.expect_websocket("/n").ignore_pings().echo()
        with websockets.sync.client.connect(server.ws_url + "/n", ping_interval=None) as client:
            pong = client.ping(b"hello?")
            client.send("still echoes")
            assert client.recv(timeout=5) == "still echoes"
            # The server answers frames in order: a pong would have come before this echo.
            assert not pong.is_set()


def test_an_expectation_no_handshake_reached_fails_the_test() -> None:
    server = understudy.HTTPServer()
    server.expect_websocket("/never")
    server.expect_websocket("/used").echo()
    server.start()
    with websockets.sync.client.connect(server.ws_url + "/used") as client:
        client.send("x")
        assert client.recv(timeout=5) == "x"
    server.stop()
    with pytest.raises(understudy.UnmetExpectation, match=r"expect_websocket\('/never'\)") as unmet:
        server.check()
    assert "/used" not in str(unmet.value)


@pytest.mark.parametrize(("kind", "code"), [("utf8", 1007), ("opcode", 1002), ("masked", 1002)])
def test_an_invalid_frame_from_the_server_is_refused_by_the_client(kind: str, code: int) -> None:
    with understudy.HTTPServer() as server:
        server.expect_websocket("/bad").send_invalid(kind)
        with (
            websockets.sync.client.connect(server.ws_url + "/bad") as client,
            pytest.raises(ConnectionClosed) as closed,
        ):
            client.recv(timeout=5)
        assert closed.value.sent is not None
        assert closed.value.sent.code == code  # (the client's close frame)
        [connection] = server.wait_for_websockets(1, match=lambda c: c.closed)
        assert connection.close is not None
        assert (connection.close.code, connection.close.by) == (code, "client")


def test_send_invalid_names_the_kinds_it_knows() -> None:
    server = understudy.HTTPServer()
    with pytest.raises(understudy.ConfigurationError, match="'utf8', 'opcode', 'masked'"):
        server.expect_websocket("/x").send_invalid("bogus")


@pytest.mark.parametrize(
    ("method", "value", "message"),
    [
        ("fragment", True, r"fragment\(\) takes a positive int, not True"),
        ("fragment", 0, r"fragment\(\) takes a positive int, not 0"),
        ("delay", True, r"delay\(\) takes seconds >= 0 \(a finite float\), not True"),
        ("delay", math.nan, r"delay\(\) takes seconds >= 0 \(a finite float\), not nan"),
        ("delay", -0.5, r"delay\(\) takes seconds >= 0"),
        ("ping_every", True, r"ping_every\(\) takes seconds > 0 \(a finite float\), not True"),
        ("ping_every", math.inf, r"ping_every\(\) takes seconds > 0 \(a finite float\), not inf"),
        ("ping_every", 0, r"ping_every\(\) takes seconds > 0"),
    ],
)
def test_a_script_refuses_a_count_or_seconds_it_cannot_use(
    method: str, value: object, message: str
) -> None:
    stub = understudy.HTTPServer().expect_websocket("/x")
    with pytest.raises(understudy.ConfigurationError, match=message):
        getattr(stub, method)(value)


@pytest.mark.parametrize("second", ["close", "drop", "stall"])
def test_a_script_ends_once(second: str) -> None:
    stub = understudy.HTTPServer().expect_websocket("/x").close(4000, after=2)
    with pytest.raises(
        understudy.ConfigurationError,
        match=rf"{second}\(\): this script already ends with close\(\) after 2 messages; a "
        r"script ends once: keep one of close\(\), drop\(\) and stall\(\)",
    ):
        getattr(stub, second)()


def test_the_http_server_fixture_has_a_ws_url(http_server: understudy.HTTPServer) -> None:
    http_server.expect_websocket("/live").send("from the fixture")
    assert http_server.ws_url == "ws" + http_server.url[4:]
    with websockets.sync.client.connect(http_server.ws_url + "/live") as client:
        assert client.recv(timeout=5) == "from the fixture"


def test_messages_sent_right_behind_the_handshake_are_answered() -> None:
    # (a client need not wait for the 101: its first frames may come in the handshake's read)
    key = b"\x01\x02\x03\x04"
    frames = b"".join(
        bytes([0x81, 0x80 | len(word)]) + key + bytes(b ^ key[i % 4] for i, b in enumerate(word))
        for word in (b"one", b"two")
    )
    with understudy.HTTPServer() as server:
        server.expect_websocket("/").echo()
        with socket.create_connection((server.host, server.port), timeout=5) as sock:
            sock.sendall(
                f"GET / HTTP/1.1\r\nHost: {server.host}\r\nUpgrade: websocket\r\n"
                "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n".encode()
                + frames
            )
            data = b""
            while data.count(b"\x81\x03") < 2:
                chunk = sock.recv(4096)
                assert chunk, data
                data += chunk
        assert data.endswith(b"\x81\x03one\x81\x03two")
        [connection] = server.wait_for_websockets(1, match=lambda c: c.closed)
        for direction in ("received", "sent"):
            assert [m.data for m in connection.messages if m.direction == direction] == [
                "one",
                "two",
            ]
