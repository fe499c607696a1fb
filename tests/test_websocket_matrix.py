"""The holes of the fault-by-client matrix: each ``expect_websocket`` fault as httpx-ws and
websocket-client see it, and what the journal recorded of it.

(``test_websocket_stubs.py`` has each fault with websockets; ``test_websocket_faults.py`` adds
aiohttp, websocket-client and httpx-ws where these do not.) httpx-ws speaks through wsproto:
its views differ from the others' in ways pinned below.
"""

from __future__ import annotations

import itertools
import threading
import time

import httpx
import pytest
import websocket as websocket_client
import wsproto.events
from httpx_ws import (
    AsyncWebSocketSession,
    WebSocketDisconnect,
    WebSocketSession,
    aconnect_ws,
    connect_ws,
)

import understudy
from ws_apps import close_of, closed_connection, httpx_ws_disconnect

# -- httpx-ws: send_invalid --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "code", "what"),
    [
        ("utf8", 1007, "can't decode byte 0xff"),
        ("opcode", 1002, "Invalid opcode 0x3"),
        ("masked", 1002, "unexpected masked frame"),
    ],
)
def test_httpx_ws_refuses_each_invalid_frame(kind: str, code: int, what: str) -> None:
    with understudy.HTTPServer() as server:
        server.expect_websocket("/bad").send_invalid(kind)
        refused = httpx_ws_disconnect(server.url + "/bad")
        # Unlike aiohttp and websocket-client, it refuses a masked frame too (RFC 6455 §5.1).
        assert refused.code == code
        assert what in str(refused.reason)
        # Surprising: wsproto reports the failure to its caller as if the server had closed
        # with ``code``, but sends no close frame of its own (RFC 6455 §7.1.7 says it should
        # send ``code``); the frame the server gets is httpx-ws's context exit: 1000.
        assert close_of(closed_connection(server)) == (1000, "", "client", True)


# -- httpx-ws: fragment ------------------------------------------------------------------------


def test_httpx_ws_joins_the_fragments_of_each_message() -> None:
    messages: list[str | bytes] = ["abcdefghij", b"\x00\x01" * 5, "é" * 5]
    with understudy.HTTPServer() as server:
        stub = server.expect_websocket("/f").fragment(3)
        for message in messages:
            stub.send(message)
        ws: WebSocketSession
        with httpx.Client() as client, connect_ws(server.url + "/f", client) as ws:
            assert ws.receive_text(timeout=5) == "abcdefghij"
            assert ws.receive_bytes(timeout=5) == b"\x00\x01" * 5
            # (10 bytes in 3 frames: a fragment ends inside a UTF-8 sequence, as RFC 6455 allows)
            assert ws.receive_text(timeout=5) == "é" * 5
        connection = closed_connection(server)
        # The journal has the messages whole, as sent (the frames are not messages).
        assert [(m.text, m.data) for m in connection.sent] == [
            (True, "abcdefghij"),
            (False, b"\x00\x01" * 5),
            (True, "é" * 5),
        ]
        assert close_of(connection) == (1000, "", "client", True)


# -- httpx-ws: ignore_close --------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize("ignored", [True, False], ids=["ignored", "answered"])
async def test_httpx_ws_waits_in_vain_for_the_answer_to_its_close(ignored: bool) -> None:
    # The async client: the sync one's reader thread stays blocked in recv() on its socket
    # after close(), so its TCP connection stays open until the server ends it (stop()), and
    # the journal would never see the end. Surprising too: httpx-ws's own close() never
    # waits for the server's close frame, so only a close sent as a wsproto event, then a
    # read, shows whether the server answered.
    with understudy.HTTPServer() as server:
        stub = server.expect_websocket("/i").echo()
        if ignored:
            stub.ignore_close()
        ws: AsyncWebSocketSession  # (aconnect_ws's return type is not declared)
        async with httpx.AsyncClient() as client, aconnect_ws(server.url + "/i", client) as ws:
            await ws.send_text("before")
            assert await ws.receive_text(timeout=5) == "before"
            await ws.send(wsproto.events.CloseConnection(4001, "bye"))
            if ignored:
                with pytest.raises(TimeoutError):
                    await ws.receive(timeout=0.2)
            else:
                with pytest.raises(WebSocketDisconnect) as answered:
                    await ws.receive(timeout=5)
                assert answered.value.code == 4001  # (the server echoes the code, §5.5.1)
        connection = await server.wait_for_websockets_async(1, match=lambda c: c.closed)
        # Ignored: the client's close arrived, no close frame went back (not clean).
        assert close_of(connection[0]) == (4001, "bye", "client", not ignored)
        assert [m.data for m in connection[0].received] == ["before"]


# -- httpx-ws: ignore_pings --------------------------------------------------------------------


@pytest.mark.parametrize("ignored", [True, False], ids=["ignored", "answered"])
def test_httpx_ws_gets_a_pong_only_when_pings_are_answered(ignored: bool) -> None:
    with understudy.HTTPServer() as server:
        stub = server.expect_websocket("/n").echo()
        if ignored:
            stub.ignore_pings()
        ws: WebSocketSession
        with httpx.Client() as client, connect_ws(server.url + "/n", client) as ws:
            pong: threading.Event = ws.ping(b"hello?")
            ws.send_text("after the ping")
            # Frames come back in order, and httpx-ws's reader marks a pong before it queues
            # a later message: when the echo is read, a pong would have been seen.
            assert ws.receive_text(timeout=5) == "after the ping"
            assert pong.is_set() is not ignored
        connection = closed_connection(server)
        # The journal keeps messages, not the client's pings: the echo went on all the same.
        assert [(m.direction, m.data) for m in connection.messages] == [
            ("received", "after the ping"),
            ("sent", "after the ping"),
        ]
        assert close_of(connection) == (1000, "", "client", True)


# -- websocket-client: drop --------------------------------------------------------------------


@pytest.mark.parametrize("after", [0, 2])
def test_websocket_client_sees_a_dropped_connection(after: int) -> None:
    with understudy.HTTPServer() as server:
        server.expect_websocket("/d").echo().drop(after=after)
        client = websocket_client.create_connection(server.ws_url + "/d", timeout=5)
        try:
            for number in range(after):
                client.send(str(number))
                assert client.recv() == str(number)
            # No close frame: the stream ended (the client's 1006, RFC 6455 §7.1.5).
            with pytest.raises(
                websocket_client.WebSocketConnectionClosedException, match="remote host was lost"
            ):
                client.recv()
        finally:
            client.close()
            client.shutdown()  # type: ignore[no-untyped-call] # (its socket, if left open)
        connection = closed_connection(server)
        assert close_of(connection) == (1006, "", "transport", False)
        assert [m.data for m in connection.received] == [str(n) for n in range(after)]
        assert [m.data for m in connection.sent] == [str(n) for n in range(after)]


# -- websocket-client: ignore_close ------------------------------------------------------------


@pytest.mark.parametrize("ignored", [True, False], ids=["ignored", "answered"])
def test_websocket_client_waits_in_vain_for_the_answer_to_its_close(ignored: bool) -> None:
    # (its close() swallows the timeout and shuts the socket down: send_close() and a read
    # show what came back)
    with understudy.HTTPServer() as server:
        stub = server.expect_websocket("/i")
        if ignored:
            stub.ignore_close()
        client = websocket_client.create_connection(server.ws_url + "/i", timeout=5)
        try:
            client.send_close(4000, b"done")
            client.settimeout(0.2 if ignored else 5)
            if ignored:
                with pytest.raises(websocket_client.WebSocketTimeoutException):
                    client.recv_data_frame(control_frame=True)
                # The server has the close frame but neither answered nor ended the TCP stream.
                assert server.websockets[0].close is None
            else:
                opcode, frame = client.recv_data_frame(control_frame=True)
                assert opcode == websocket_client.ABNF.OPCODE_CLOSE
                assert frame.data[:2] == (4000).to_bytes(2, "big")
        finally:
            client.shutdown()  # type: ignore[no-untyped-call] # (the TCP connection ends here)
        assert close_of(closed_connection(server)) == (4000, "done", "client", not ignored)


# -- websocket-client: delay -------------------------------------------------------------------

DELAY = 0.05
CLOCK = 0.001  # (the journal's times are wall-clock: a margin for the clock's steps)


def test_websocket_client_gets_each_delayed_message_late_and_in_order() -> None:
    with understudy.HTTPServer() as server:
        server.expect_websocket("/slow").delay(DELAY).send("hello").echo()
        client = websocket_client.create_connection(server.ws_url + "/slow", timeout=5)
        try:
            assert client.recv() == "hello"
            sent = time.monotonic()
            for text in ("1", "2", "3"):
                client.send(text)
            assert [client.recv() for _ in range(3)] == ["1", "2", "3"]
            # Each reply waits DELAY after the one before: the third comes 3 delays later.
            assert time.monotonic() - sent >= 3 * DELAY
        finally:
            client.close()
        connection = closed_connection(server)
        hello, *echoes = connection.sent
        assert hello.at - connection.opened_at >= DELAY - CLOCK  # (a message sent on open too)
        for received, echo in zip(connection.received, echoes, strict=True):
            assert echo.data == received.data
            assert echo.at - received.at >= DELAY - CLOCK
        for earlier, later in itertools.pairwise(echoes):
            assert later.at - earlier.at >= DELAY - CLOCK
        assert close_of(connection) == (1000, "", "client", True)
