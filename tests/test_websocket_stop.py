"""stop() with many WebSockets open: every one gets 1001, the answers are awaited together.

And the reads behind it: every session reads into one buffer shared by the loop, so two
connections' bytes must never mix (plain and TLS, large messages arriving in many reads).
Clients: websockets (asyncio and sync), aiohttp's ``ws_connect``, websocket-client.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from typing import Any

import aiohttp
import pytest
import websocket as websocket_client
import websockets.asyncio.client
import websockets.sync.client
from websockets.exceptions import ConnectionClosed

import understudy
import understudy.tls
from ws_apps import echo_app


def _closes(server: understudy.HTTPServer) -> list[tuple[int, str, bool]]:
    closes: list[tuple[int, str, bool]] = []
    for connection in server.websockets:
        assert connection.close is not None, f"connection #{connection.number} is not closed"
        closes.append((connection.close.code, connection.close.by, connection.close.clean))
    return closes


@pytest.mark.asyncio
@pytest.mark.parametrize("app", [True, False], ids=["asgi", "stub"])
async def test_stop_closes_every_open_websocket_with_1001_and_each_answer_is_clean(
    app: bool,
) -> None:
    server = understudy.HTTPServer(asgi=echo_app) if app else understudy.HTTPServer()
    if not app:
        server.expect_websocket("/").echo()
    await server.start_async()
    url = server.ws_url + "/"
    # Four clients of three libraries, each reading when stop() begins (so each answers).
    ws_clients = [await websockets.asyncio.client.connect(url) for _ in range(3)]
    async with aiohttp.ClientSession() as session:
        aio = await session.ws_connect(url)
        aio_reading = asyncio.ensure_future(aio.receive())
        sync_client = websocket_client.create_connection(url, timeout=5)
        sync_frames: list[Any] = []
        sync_reading = threading.Thread(
            target=lambda: sync_frames.append(sync_client.recv_data_frame(control_frame=True))
        )
        sync_reading.start()
        await server.wait_for_websockets_async(5)
        await server.stop_async(timeout=5.0)
        # Every connection ended before stop() returned, each with the client's answer.
        assert _closes(server) == [(1001, "server", True)] * 5
        for client in ws_clients:
            with pytest.raises(ConnectionClosed) as closed:
                await client.recv()
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == 1001
            assert closed.value.sent is not None  # (its answer)
        message = await aio_reading
        assert message.type is aiohttp.WSMsgType.CLOSE
        assert message.data == 1001
        await aio.close()
    sync_reading.join(5.0)
    [(_opcode, frame)] = sync_frames
    assert frame.data[:2] == (1001).to_bytes(2, "big")
    sync_client.shutdown()  # type: ignore[no-untyped-call] # (it answered: close() would not)
    server.check()


def test_a_client_that_never_answers_does_not_spoil_the_others_clean_closes() -> None:
    server = understudy.HTTPServer()
    server.expect_websocket("/e").echo()
    server.start()
    stack = contextlib.ExitStack()
    answering = [
        stack.enter_context(websockets.sync.client.connect(server.ws_url + "/e")) for _ in range(3)
    ]
    # websocket-client answers a close frame only when the test reads: this one never does.
    silent = websocket_client.create_connection(server.ws_url + "/e", timeout=5)
    try:
        server.wait_for_websockets(4)
        server.stop(timeout=1.0)  # (the silent client's bound; the others answer at once)
        by_number = {c.number: c.close for c in server.websockets}
        assert all(close is not None for close in by_number.values())
        closes = sorted(
            (close.code, close.by, close.clean) for close in by_number.values() if close is not None
        )
        assert closes == [(1001, "server", False)] + [(1001, "server", True)] * 3
        for client in answering:
            with pytest.raises(ConnectionClosed) as closed:
                client.recv(timeout=5)
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == 1001
    finally:
        stack.close()
        silent.shutdown()  # type: ignore[no-untyped-call] # (its socket, without a close)


@pytest.mark.asyncio
@pytest.mark.parametrize("tls", [False, True], ids=["ws", "wss"])
async def test_large_messages_on_several_connections_at_once_never_mix(tls: bool) -> None:
    server = understudy.HTTPServer(tls=tls)
    server.expect_websocket("/e").echo()
    async with server:
        context = understudy.tls.client_context() if tls else None
        payloads = [os.urandom(3 * 1024 * 1024 + number) for number in range(4)]

        async def round_trip(payload: bytes) -> bytes:
            async with websockets.asyncio.client.connect(
                server.ws_url + "/e", ssl=context, max_size=None, compression=None
            ) as client:
                await client.send(payload)
                echoed = await client.recv()
                assert isinstance(echoed, bytes)
                return echoed

        echoed = await asyncio.gather(*(round_trip(payload) for payload in payloads))
        assert echoed == payloads
        received = await server.wait_for_websocket_messages_async(
            4, match=lambda m: m.direction == "received", timeout=10.0
        )
        assert sorted(m.data for m in received) == sorted(payloads)
