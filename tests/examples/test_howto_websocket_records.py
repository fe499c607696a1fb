"""How to read what an HTTPServer journaled of its WebSocket connections.

``server.wait_for_websockets(...)`` (or ``server.websockets``) gives
:class:`understudy.WebSocketConnection` records: what the handshake agreed on (``subprotocol``,
``extensions``, ``tls``), when it opened and closed (``opened_at``, ``closed_at``: ``time.time()``
seconds), every message each way (:class:`understudy.WebSocketMessage`: ``direction``, ``text``,
``data``, ``at``), the pongs that answered the server's pings, and how it ended
(:class:`understudy.WebSocketClose`: who closed first, the code and reason, whether both close
frames were exchanged, and the code of the one that answered). Wait for ``match=lambda c:
c.closed`` before reading ``close``: a record is filled in while the connection lives.

Reference (built by ``make docs`` into site/; every attribute, with its type): the WebSocket
records: docs/reference/http.md (its WebSocket section).
"""

from __future__ import annotations

import time

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect
from websockets.typing import Subprotocol

import understudy
import understudy.tls


def closed_connection(server: understudy.HTTPServer) -> understudy.WebSocketConnection:
    """The server's one WebSocket connection, once it has ended."""
    [connection] = server.wait_for_websockets(1, match=lambda c: c.closed)
    return connection


def test_the_handshake_records_the_subprotocol_and_extensions_agreed_on() -> None:
    """``subprotocol`` is the one agreed; ``extensions`` lists permessage-deflate if agreed."""
    with understudy.HTTPServer() as server:
        server.expect_websocket("/chat", subprotocol="chat.v2").echo()
        offered = [Subprotocol("chat.v1"), Subprotocol("chat.v2")]
        with connect(server.ws_url + "/chat", subprotocols=offered) as client:
            assert client.subprotocol == "chat.v2"
        with connect(server.ws_url + "/chat", subprotocols=offered, compression=None):
            pass

        deflated, plain = server.wait_for_websockets(2, match=lambda c: c.closed)
    assert deflated.subprotocol == "chat.v2"
    assert deflated.extensions == ("permessage-deflate",)  # RFC 7692, websockets' default
    assert plain.extensions == ()  # the client offered no compression
    assert deflated.request.target == "/chat"  # the handshake, an HTTP request
    assert deflated.request.headers["sec-websocket-protocol"] == "chat.v1, chat.v2"
    assert deflated.peer is not None
    assert deflated.peer[0] == "127.0.0.1"
    assert deflated.tls is None  # ws://, not wss://
    handshake = deflated.request  # the handshake as journaled, with the 101 it got
    assert handshake == server.requests[0]
    assert handshake.response is not None
    assert (handshake.response.status_code, handshake.response.answered_by) == (101, "websocket")
    assert handshake.response.detail == "expect_websocket('/chat')"


def test_each_message_is_journaled_with_its_direction_type_and_time() -> None:
    """``messages`` holds both ways, in order: ``direction``, ``text``, ``data`` and ``at``."""
    with understudy.HTTPServer() as server:
        server.expect_websocket("/feed").send({"hello": 1}).echo()
        before = time.time()
        with connect(server.ws_url + "/feed") as client:
            assert client.recv(timeout=5) == '{"hello": 1}'
            client.send(b"\x00\xff")
            assert client.recv(timeout=5) == b"\x00\xff"
        connection = closed_connection(server)

    welcome, received, echoed = connection.messages
    assert (welcome.direction, welcome.text, welcome.data) == ("sent", True, '{"hello": 1}')
    assert welcome.json() == {"hello": 1}
    assert (received.direction, received.text, received.data) == ("received", False, b"\x00\xff")
    assert (echoed.direction, echoed.data) == ("sent", b"\x00\xff")
    assert connection.received == [received]  # one direction only
    # Times are time.time() floats, in seconds, in the order things happened.
    assert connection.closed_at is not None
    assert before <= connection.opened_at <= welcome.at <= received.at <= echoed.at
    assert echoed.at <= connection.closed_at


def test_a_close_by_the_client_records_its_code_reason_and_the_echo() -> None:
    """``close``: ``by`` the client, its code and reason, ``clean``, and the server's echo."""
    with understudy.HTTPServer() as server:
        server.expect_websocket("/jobs").echo()
        with connect(server.ws_url + "/jobs") as client:
            client.close(4001, "job done")
        connection = closed_connection(server)

    close = connection.close
    assert close is not None
    assert (close.by, close.code, close.reason) == ("client", 4001, "job done")
    assert close.clean  # both close frames, then the TCP connection ended (RFC 6455 §7.1.1)
    assert close.reply_code == 4001  # the server echoed the client's code (RFC 6455 §5.5.1)
    assert close.closed_at == connection.closed_at
    assert connection.opened_at <= close.closed_at


def test_a_close_by_the_server_records_the_clients_answer() -> None:
    """A stub's ``.close(code, reason)``: ``by`` the server; ``reply_code`` is the client's."""
    with understudy.HTTPServer() as server:
        server.expect_websocket("/feed").close(4000, "maintenance", after=1)
        with connect(server.ws_url + "/feed") as client:
            client.send("subscribe")
            with pytest.raises(ConnectionClosed) as closed:
                client.recv(timeout=5)
        assert closed.value.rcvd is not None
        assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4000, "maintenance")
        connection = closed_connection(server)

    close = connection.close
    assert close is not None
    assert (close.by, close.code, close.reason) == ("server", 4000, "maintenance")
    assert (close.clean, close.reply_code) == (True, 4000)  # the client echoed it


def test_a_client_that_refuses_a_close_code_answers_1002() -> None:
    """``reply_code`` shows how the client took a close code no close frame may carry."""
    with understudy.HTTPServer() as server:
        server.expect_websocket("/odd").close(1005)  # reserved (RFC 6455 §7.4.1): a fault
        with connect(server.ws_url + "/odd") as client, pytest.raises(ConnectionClosed):
            client.recv(timeout=5)
        connection = closed_connection(server)

    close = connection.close
    assert close is not None
    assert (close.by, close.code) == ("server", 1005)  # as sent
    assert close.reply_code == 1002  # protocol error: the client refused it
    assert close.clean  # close frames both ways all the same


def test_a_connection_that_ends_without_a_close_frame_is_not_clean() -> None:
    """No close frame either way (here the stub drops the TCP connection): 1006, unclean."""
    with understudy.HTTPServer() as server:
        server.expect_websocket("/drop").drop(after=1)
        with connect(server.ws_url + "/drop") as client:
            client.send("hello")
            with pytest.raises(ConnectionClosed):
                client.recv(timeout=5)
        connection = closed_connection(server)

    close = connection.close
    assert close is not None
    assert (close.by, close.code, close.reason) == ("transport", 1006, "")
    assert (close.clean, close.reply_code) == (False, None)


def test_pings_from_the_server_and_the_pongs_that_answered_them() -> None:
    """``ping_every(seconds)`` pings while open; ``pongs`` holds when each answer came."""
    with understudy.HTTPServer() as server:
        server.expect_websocket("/live").ping_every(0.01)
        with connect(server.ws_url + "/live"):  # the client answers pings by itself
            [connection] = server.wait_for_websockets(1, match=lambda c: len(c.pongs) >= 2)

    first, second, *_ = connection.pongs  # time.time() of each pong, oldest first
    assert connection.opened_at <= first <= second
    assert connection.pings >= 2


def test_a_wss_connection_records_its_tls() -> None:
    """On a ``tls=True`` server (``wss://``), ``tls`` says what the TLS handshake agreed on."""
    context = understudy.tls.client_context()
    with understudy.HTTPServer(tls=True) as server:
        server.expect_websocket("/secure").echo()
        with connect(server.ws_url + "/secure", ssl=context) as client:
            client.send("hi")
            assert client.recv(timeout=5) == "hi"
        connection = closed_connection(server)

    assert server.ws_url.startswith("wss://")
    assert connection.tls is not None
    assert connection.tls.version in ("TLSv1.2", "TLSv1.3")
    assert connection.tls.alpn_protocol is None  # websockets offers no ALPN
