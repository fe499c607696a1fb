"""The WebSocket journal's times and waits, and the near-miss report on headers and subprotocols.

Clients: websocket-client, websockets (sync and asyncio).
"""

from __future__ import annotations

import pytest
import websocket as websocket_client
import websockets.asyncio.client
import websockets.sync.client
from websockets.typing import Subprotocol

import understudy
from ws_apps import refused_handshake


def test_each_message_is_timed_within_its_connections_life() -> None:
    with understudy.HTTPServer() as server:
        server.expect_websocket("/t").echo()
        client = websocket_client.create_connection(server.ws_url + "/t", timeout=5)
        try:
            for text in ("a", "b", "c"):
                client.send(text)
                assert client.recv() == text
        finally:
            client.close()
        [connection] = server.wait_for_websockets(1, match=lambda c: c.closed)
    times = [message.at for message in connection.messages]
    assert len(times) == 6
    assert times == sorted(times)  # (in the order they passed, each when it passed)
    assert connection.closed_at is not None
    assert connection.opened_at <= times[0]
    assert times[-1] <= connection.closed_at
    assert {message.connection for message in connection.messages} == {connection.number}


def test_a_wait_for_messages_that_times_out_lists_what_arrived() -> None:
    with understudy.HTTPServer() as server:
        server.expect_websocket("/w").echo()
        with websockets.sync.client.connect(server.ws_url + "/w") as client:
            client.send("only one")
            assert client.recv(timeout=5) == "only one"
            with pytest.raises(understudy.WaitTimeout) as waited:
                server.wait_for_websocket_messages(
                    3, match=lambda m: m.direction == "received", timeout=0.05
                )
    text = str(waited.value)
    assert text.startswith("waited 0.05 s for 3 WebSocket messages")
    assert "data='only one'" in text


@pytest.mark.asyncio
async def test_an_async_wait_for_websockets_that_times_out_lists_what_arrived() -> None:
    with understudy.HTTPServer() as server:
        server.expect_websocket("/w").echo()
        async with websockets.asyncio.client.connect(server.ws_url + "/w") as client:
            await client.send("x")
            assert await client.recv() == "x"
            with pytest.raises(understudy.WaitTimeout) as waited:
                await server.wait_for_websockets_async(1, match=lambda c: c.closed, timeout=0.05)
    text = str(waited.value)
    assert "1 arrived, 0 of them matching" in text
    assert "WebSocketConnection #1 /w open" in text


@pytest.mark.parametrize(
    ("headers", "subprotocols", "difference"),
    [
        ({"X-Token": "u"}, ["chat"], "header x-token: 'u', expected 't'"),
        ({}, ["chat"], "header x-token: nothing, expected 't'"),
        ({"X-Token": "t"}, ["other"], "subprotocol 'chat' not offered ('other')"),
    ],
    ids=["wrong-header", "no-header", "wrong-subprotocol"],
)
def test_the_near_miss_report_names_a_header_or_subprotocol_that_differed(
    headers: dict[str, str], subprotocols: list[str], difference: str
) -> None:
    server = understudy.HTTPServer()
    server.expect_websocket("/e", headers={"X-Token": "t"}, subprotocol="chat")
    body, unexpected, _ = refused_handshake(
        server,
        "/e",
        additional_headers=headers,
        subprotocols=[Subprotocol(name) for name in subprotocols],
    )
    assert difference in body
    assert difference in str(unexpected)
