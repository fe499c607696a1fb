"""Section: the ``websockets`` client against a WebSocket stub and an ASGI app on the HTTP port.

A handshake (``Upgrade: websocket``, RFC 6455) on the same port as HTTP goes to the WebSocket
side: first a scripted stub (``expect_websocket``: send on open, reply to a match, close), then a
plain ASGI app with the ``websocket`` scope, then a stub that drops the TCP connection without a
close frame. Each connection is in the journal with its messages in order and its close.
"""

from __future__ import annotations

import json
from collections.abc import MutableMapping
from typing import Any

from websockets.exceptions import ConnectionClosedError
from websockets.sync.client import connect

import understudy

from ._report import Report

TITLE = "websockets client -> WebSocket stubs and an ASGI app on the HTTP port (ws://)"


async def shout(scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
    """An ASGI app: over WebSocket, answer every text message in capitals; over HTTP, 200."""
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"use a WebSocket\n"})
        return
    if scope["type"] != "websocket":
        return  # (lifespan: nothing to set up)
    await receive()  # websocket.connect
    await send({"type": "websocket.accept"})
    while True:
        event = await receive()
        if event["type"] == "websocket.disconnect":
            return
        await send({"type": "websocket.send", "text": event["text"].upper()})


def _conversation(report: Report, connection: understudy.WebSocketConnection) -> None:
    for message in connection.messages:
        arrow = "->" if message.direction == "received" else "<-"
        report.line(f"{arrow} {message.data!r}", indent=3)
    close = connection.close
    if close is not None:
        report.line(f"closed by the {close.by}: {close.code} {close.reason!r}", indent=3)


def run(report: Report) -> None:
    """A scripted feed, an ASGI app, and a dropped connection, each seen by the client."""
    with understudy.HTTPServer() as server:
        report.server("HTTPServer()", server)
        feed = server.expect_websocket("/prices")
        feed.send({"symbol": "ACME", "price": 10}).reply("more", {"price": 11}).close(
            1000, "market closed", after=1
        )
        report.line()
        report.line('>>> connect(server.ws_url + "/prices"); recv(); send("more"); recv()')
        with connect(server.ws_url + "/prices") as client:
            first = json.loads(client.recv(timeout=5))
            client.send("more")
            second = json.loads(client.recv(timeout=5))
        [connection] = server.wait_for_websockets(1, match=lambda c: c.close is not None)
        report.line("server journal:", indent=2)
        _conversation(report, connection)
        report.check(first == {"symbol": "ACME", "price": 10}, "the quote sent on open")
        report.check(second == {"price": 11}, "the reply to 'more'")
        report.check(
            connection.close is not None and connection.close.code == 1000,
            "the stub to close with 1000 after one message",
        )

    with understudy.HTTPServer(asgi=shout) as server:
        report.line()
        report.server("HTTPServer(asgi=shout)  # an ASGI app", server)
        report.line()
        report.line('>>> connect(server.ws_url + "/"); send("hello"); recv()')
        with connect(server.ws_url + "/") as client:
            client.send("hello")
            answer = client.recv(timeout=5)
        [connection] = server.wait_for_websockets(1, match=lambda c: c.close is not None)
        report.line("server journal:", indent=2)
        _conversation(report, connection)
        report.check(answer == "HELLO", "the app's answer in capitals")

    with understudy.HTTPServer() as server:
        server.expect_websocket("/stream").send("tick").drop(after=0)
        report.line()
        report.line('>>> a stub that drops the connection: .send("tick").drop(after=0)')
        with connect(server.ws_url + "/stream") as client:
            tick = client.recv(timeout=5)
            try:
                client.recv(timeout=5)
            except ConnectionClosedError as error:
                seen = f"ConnectionClosedError: {error}"
            else:
                seen = "no error"
        report.line(f"client got: {tick!r}, then {seen}", indent=2)
        report.check(seen.startswith("ConnectionClosedError"), "the client to see no close frame")
