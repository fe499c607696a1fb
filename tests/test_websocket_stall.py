"""The ``stall`` fault of a WebSocket stub: after N messages the server sends nothing more, and
the connection stays open (read, journaled, its pings and its close answered).

What proves that nothing was sent is the order of frames on one connection, not a wait: a reply
to a message would be written before the pong (or the 1001) that answers what came after it.
Real clients: websockets (sync), aiohttp, websocket-client.
"""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp
import pytest
import websocket as websocket_client
import websockets.sync.client

import understudy
from ws_apps import close_of, closed_connection


def _nothing_buffered(client: websockets.sync.client.ClientConnection) -> bool:
    """Whether no message has reached ``client`` (after a pong that came behind any reply)."""
    try:
        client.recv(timeout=0)
    except TimeoutError:
        return True
    return False


def test_a_stalled_script_answers_nothing_more_but_pings_and_the_close() -> None:
    with understudy.HTTPServer() as server:
        server.expect_websocket("/s").echo().stall(after=2)
        with websockets.sync.client.connect(server.ws_url + "/s") as client:
            for message in ("one", "two"):
                client.send(message)
                assert client.recv(timeout=5) == message
            client.send("three")
            client.send("four")
            assert client.ping().wait(timeout=5)  # (the pong comes behind any echo of them)
            assert _nothing_buffered(client)
        connection = closed_connection(server)
        assert [m.data for m in connection.received] == ["one", "two", "three", "four"]
        assert [m.data for m in connection.sent] == ["one", "two"]
        assert close_of(connection) == (1000, "", "client", True)


def test_stall_after_0_sends_only_what_is_sent_on_open() -> None:
    with understudy.HTTPServer() as server:
        server.expect_websocket("/s").send("hello").echo().stall()
        with websockets.sync.client.connect(server.ws_url + "/s") as client:
            assert client.recv(timeout=5) == "hello"
            client.send("anyone?")
            assert client.ping().wait(timeout=5)
            assert _nothing_buffered(client)
        messages = server.wait_for_websocket_messages(2)
        assert [(m.direction, m.data) for m in messages] == [
            ("sent", "hello"),
            ("received", "anyone?"),
        ]


def test_a_stall_with_a_delay_sends_nothing_more_either() -> None:
    with understudy.HTTPServer() as server:
        server.expect_websocket("/s").echo().delay(0.01).stall(after=1)
        ws = websocket_client.create_connection(server.ws_url + "/s", timeout=5)
        try:
            ws.send("one")
            assert ws.recv() == "one"
            ws.send("two")
            # (a delayed script's echo comes after its delay, not in turn with the pong: the
            # journal is given fifty times the delay to show one)
            with pytest.raises(understudy.WaitTimeout):
                server.wait_for_websocket_messages(4, timeout=0.5)
            ws.ping("p")
            opcode, frame = ws.recv_data_frame(control_frame=True)
            assert (opcode, frame.data) == (websocket_client.ABNF.OPCODE_PONG, b"p")
        finally:
            ws.close()
        connection = closed_connection(server)
        assert [m.data for m in connection.received] == ["one", "two"]
        assert [m.data for m in connection.sent] == ["one"]


@pytest.mark.asyncio
async def test_stop_closes_a_stalled_websocket_with_1001_for_aiohttp() -> None:
    server = understudy.HTTPServer()
    await server.start_async()
    try:
        server.expect_websocket("/s").echo().stall()
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(server.ws_url + "/s", autoclose=False) as ws,
        ):
            await ws.send_str("hello?")
            await server.wait_for_websocket_messages_async(1)
            await server.stop_async()
            message = await ws.receive(timeout=5)  # (an echo would come before the close)
            assert (message.type, message.data) == (aiohttp.WSMsgType.CLOSE, 1001)
    finally:
        await server.stop_async()
    [connection] = server.websockets
    assert connection.close is not None
    assert (connection.close.code, connection.close.by) == (1001, "server")


def test_a_mapping_file_declares_a_stall(tmp_path: Path) -> None:
    mapping = {"request": {"urlPath": "/s"}, "websocket": {"echo": True, "stall": {"after": 1}}}
    (tmp_path / "mappings").mkdir()
    (tmp_path / "mappings" / "stall.json").write_text(json.dumps(mapping))
    with (
        understudy.HTTPServer(mappings=tmp_path) as server,
        websockets.sync.client.connect(server.ws_url + "/s") as client,
    ):
        client.send("one")
        assert client.recv(timeout=5) == "one"
        client.send("two")
        assert client.ping().wait(timeout=5)
        assert _nothing_buffered(client)


def test_a_mapping_files_stall_takes_only_after(tmp_path: Path) -> None:
    mapping = {"request": {"urlPath": "/s"}, "websocket": {"stall": {"afterr": 1}}}
    (tmp_path / "mappings").mkdir()
    (tmp_path / "mappings" / "stall.json").write_text(json.dumps(mapping))
    with pytest.raises(understudy.ConfigurationError, match=r"stall.*afterr"):
        understudy.HTTPServer(mappings=tmp_path)


@pytest.mark.parametrize("end", ["close", "drop", "stall"])
@pytest.mark.parametrize("after", [-1, 1.5, "2", True])
def test_after_is_a_count_of_messages(end: str, after: object) -> None:
    stub = understudy.HTTPServer().expect_websocket("/s")
    with pytest.raises(understudy.ConfigurationError, match=r"after= counts received messages"):
        getattr(stub, end)(after=after)
