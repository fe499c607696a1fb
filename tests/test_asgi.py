"""HTTPServer(asgi=app): the ASGI 3 ``http`` scope (spec 2.3) and ``lifespan``, over real clients.

Spec: https://asgi.readthedocs.io/en/latest/specs/www.html and .../specs/lifespan.html.
"""

from __future__ import annotations

import asyncio
import contextvars
import http.client
import re
import socket
import sys
import threading
import types
import urllib.request
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import aiohttp
import anyio
import httpx
import pytest
import requests

from understudy import HTTPServer, Response, UnderstudyError, WaitTimeout
from understudy._http import _asgi, _lifespan, _server
from understudy._runtime import get_runtime
from versions import Version

TIMEOUT = 5.0

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


async def read_body(receive: Receive) -> bytes:
    body = b""
    while True:
        message = await receive()
        assert message["type"] == "http.request"
        body += bytes(message.get("body", b""))
        if not message.get("more_body", False):
            return body


async def respond(
    send: Send,
    status: int = 200,
    body: bytes = b"",
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": headers or [(b"content-type", b"text/plain")],
        }
    )
    await send({"type": "http.response.body", "body": body})


def refuse_lifespan(scope: Scope) -> None:
    if scope["type"] != "http":
        raise ValueError(f"only http, not {scope['type']}")


def scope_recorder(scopes: list[Scope]) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    """An app that keeps each http scope and answers ``ok``."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        refuse_lifespan(scope)
        scopes.append(scope)
        await respond(send, body=b"ok")

    return app


def raw_get(server: HTTPServer, target: bytes, version: bytes = b"HTTP/1.1") -> bytes:
    """GET ``target`` as sent, on a connection of its own; the response body."""
    with socket.create_connection(server.address, TIMEOUT) as sock:
        sock.sendall(b"GET " + target + b" " + version + b"\r\nHost: t\r\n\r\n")
        reply = http.client.HTTPResponse(sock)
        reply.begin()
        return reply.read()


# -- the http scope --------------------------------------------------------------------------


def test_http_scope_keys(http: Version) -> None:
    scopes: list[Scope] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        refuse_lifespan(scope)
        scopes.append(scope)
        await respond(send, body=await read_body(receive))

    with http.server(asgi=app) as server:
        reply = http.post(
            server.url + "/caf%C3%A9/x%2Fy?q=1&r=%20",
            data=b"payload",
            headers={"X-Mixed-Case": "V", "Accept": "a"},
            timeout=TIMEOUT,
        )
        assert reply.content == b"payload"
    [scope] = scopes
    assert scope["type"] == "http"
    assert scope["asgi"]["version"] == "3.0"
    assert scope["asgi"]["spec_version"] in ("2.3", "2.4")
    assert scope["http_version"] == http.name
    assert scope["method"] == "POST"
    assert scope["scheme"] == "http"
    assert scope["path"] == "/caf\u00e9/x/y"
    assert scope["raw_path"] == b"/caf%C3%A9/x%2Fy"
    assert scope["query_string"] == b"q=1&r=%20"
    assert scope["root_path"] == ""
    headers = scope["headers"]
    assert all(isinstance(name, bytes) and isinstance(value, bytes) for name, value in headers)
    assert (b"x-mixed-case", b"V") in headers
    assert (b"host", f"127.0.0.1:{server.port}".encode()) in headers
    assert (b"content-length", b"7") in headers
    client_host, client_port = scope["client"]
    assert client_host == "127.0.0.1"
    assert isinstance(client_port, int)
    assert scope["server"] == ("127.0.0.1", server.port)
    assert scope["state"] == {}


def test_http_1_0_and_absolute_form_in_the_scope() -> None:
    scopes: list[Scope] = []
    with HTTPServer(asgi=scope_recorder(scopes)) as server:
        assert raw_get(server, b"http://example.test/p?x=1", b"HTTP/1.0") == b"ok"
    [scope] = scopes
    assert scope["http_version"] == "1.0"
    assert scope["path"] == "/p"
    assert scope["query_string"] == b"x=1"


def test_the_scope_is_right_for_targets_asked_again_and_for_more_than_are_remembered() -> None:
    """Each target's path, raw_path and query_string are worked out once and remembered (a
    bounded memo, shared by every server): repeats and a full memo must not change them."""
    scopes: list[Scope] = []
    targets = [f"/n/{number}%20x?q={number}" for number in range(300)]
    with HTTPServer(asgi=scope_recorder(scopes)) as server, requests.Session() as session:
        for target in [*targets, *targets[:3], *targets[-3:]]:
            assert session.get(server.url + target, timeout=TIMEOUT).text == "ok"
        assert raw_get(server, b"http://example.test/n/0%20x?q=0") == b"ok"
    expected = [
        (f"/n/{number} x", f"/n/{number}%20x".encode(), f"q={number}".encode())
        for number in [*range(300), 0, 1, 2, 297, 298, 299, 0]
    ]
    assert [(scope["path"], scope["raw_path"], scope["query_string"]) for scope in scopes] == (
        expected
    )


def test_a_fragment_sent_in_the_target_is_in_neither_path_nor_query_string() -> None:
    scopes: list[Scope] = []
    with HTTPServer(asgi=scope_recorder(scopes)) as server:
        for target in (b"/a?y=1#frag", b"/b#c?d"):
            assert raw_get(server, target) == b"ok"
        [first, second] = server.requests
    assert [(scope["path"], scope["raw_path"], scope["query_string"]) for scope in scopes] == [
        ("/a", b"/a", b"y=1"),
        ("/b", b"/b", b""),
    ]
    assert [(first.path, first.query_string), (second.path, second.query_string)] == [
        ("/a", "y=1"),
        ("/b", ""),
    ]


def test_a_long_target_gets_its_scope_without_being_kept(http: Version) -> None:
    """Long targets (up to max_header_size each) are not remembered: 256 of them would keep
    megabytes alive for the life of the process."""
    scopes: list[Scope] = []
    target = "/" + "a" * 5000
    with http.server(asgi=scope_recorder(scopes)) as server:
        for _ in range(2):
            assert http.get(server.url + target, timeout=TIMEOUT).text == "ok"
    assert [scope["path"] for scope in scopes] == [target, target]
    assert target not in _asgi._TARGETS


def test_a_streamed_request_body_arrives_in_parts() -> None:
    messages: list[Message] = []
    first = threading.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        refuse_lifespan(scope)
        while True:
            message = await receive()
            messages.append(message)
            first.set()
            if not message["more_body"]:
                break
        await respond(send, body=b"|".join(m["body"] for m in messages))

    with HTTPServer(asgi=app) as server, socket.create_connection(server.address, TIMEOUT) as sock:
        sock.sendall(b"PUT / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\none\r\n")
        assert first.wait(TIMEOUT)  # the app has the first part while the rest is unsent
        sock.sendall(b"3\r\ntwo\r\n0\r\n\r\n")
        reply = http.client.HTTPResponse(sock)
        reply.begin()
        body = reply.read()
    assert messages[0] == {"type": "http.request", "body": b"one", "more_body": True}
    assert messages[-1]["more_body"] is False
    assert body.replace(b"|", b"") == b"onetwo"


def test_a_streamed_response() -> None:
    first_read = threading.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        refuse_lifespan(scope)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"first\n", "more_body": True})
        await asyncio.get_running_loop().run_in_executor(None, first_read.wait, TIMEOUT)
        await send({"type": "http.response.body", "body": b"second\n", "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    with (
        HTTPServer(asgi=app) as server,
        requests.get(server.url, stream=True, timeout=TIMEOUT) as reply,
    ):
        assert reply.headers["Transfer-Encoding"] == "chunked"
        lines = reply.iter_lines()
        assert next(lines) == b"first"
        first_read.set()
        assert list(lines) == [b"second"]


def test_an_app_content_length_and_head() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        refuse_lifespan(scope)
        headers = [(b"content-length", b"6"), (b"content-type", b"text/plain")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"abc", "more_body": True})
        await send({"type": "http.response.body", "body": b"def"})

    with HTTPServer(asgi=app) as server, requests.Session() as session:
        reply = session.get(server.url, timeout=TIMEOUT)
        head = session.head(server.url, timeout=TIMEOUT)
        again = session.get(server.url, timeout=TIMEOUT)
    assert reply.content == again.content == b"abcdef"
    assert "Transfer-Encoding" not in reply.headers
    assert head.headers["Content-Length"] == "6"
    assert head.content == b""


def test_http_disconnect_comes_after_the_response() -> None:
    events: list[str] = []
    done = threading.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        refuse_lifespan(scope)
        await read_body(receive)
        await respond(send, body=b"bye")
        events.append((await receive())["type"])
        events.append((await receive())["type"])  # asked again: still disconnected
        done.set()

    with HTTPServer(asgi=app) as server:
        assert requests.get(server.url, timeout=TIMEOUT).content == b"bye"
        assert done.wait(TIMEOUT)
    assert events == ["http.disconnect", "http.disconnect"]


def test_a_disconnect_watcher_beside_the_response(http: Version) -> None:
    """Like Starlette's StreamingResponse: one task waits for disconnect while another sends."""
    watched: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        refuse_lifespan(scope)
        await read_body(receive)

        async def watch() -> None:
            watched.append((await receive())["type"])

        async def stream() -> None:
            await send({"type": "http.response.start", "status": 200, "headers": []})
            for part in (b"a", b"b", b""):
                await send({"type": "http.response.body", "body": part, "more_body": bool(part)})

        await asyncio.gather(watch(), watch(), stream())

    with http.server(asgi=app) as server:
        assert http.get(server.url, timeout=TIMEOUT).content == b"ab"
        server.stop()
    assert watched == ["http.disconnect", "http.disconnect"]


def test_a_client_going_away_mid_body_is_a_disconnect() -> None:
    received: list[Message] = []
    done = threading.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        refuse_lifespan(scope)
        while True:
            message = await receive()
            received.append(message)
            if message["type"] == "http.disconnect" or not message["more_body"]:
                break
        done.set()  # returns without answering: nobody is listening, and that is not an error

    with HTTPServer(asgi=app) as server:
        with socket.create_connection(server.address, TIMEOUT) as sock:
            sock.sendall(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nabc")
        assert done.wait(TIMEOUT)
        [request] = server.wait_for_requests(1)
    assert received[-1] == {"type": "http.disconnect"}
    assert all(m.get("body", b"") in (b"", b"abc") for m in received)
    assert request.error == "the client closed before the request was complete"


def test_an_upload_over_max_body_size_while_the_app_receives() -> None:
    received: list[str] = []
    receiving = threading.Event()
    done = threading.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        refuse_lifespan(scope)
        while True:
            message = await receive()
            received.append(message["type"])
            receiving.set()
            if message["type"] == "http.disconnect" or not message.get("more_body"):
                break
        done.set()

    with (
        HTTPServer(asgi=app, max_body_size=10) as server,
        socket.create_connection(server.address, TIMEOUT) as sock,
    ):
        sock.sendall(
            b"POST /big HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n12345678\r\n"
        )
        assert receiving.wait(TIMEOUT)  # the app is reading the body when it goes over
        sock.sendall(b"8\r\n12345678\r\n0\r\n\r\n")
        reply = http.client.HTTPResponse(sock)
        reply.begin()
        assert reply.status == 413
        assert done.wait(TIMEOUT)
        [request] = server.wait_for_requests(1)
    assert request.error is not None
    assert received[-1] == "http.disconnect"


# -- errors ----------------------------------------------------------------------------------


def test_an_app_raising_gets_500_and_check_reraises(http: Version) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        refuse_lifespan(scope)
        raise KeyError("missing route")

    server = http.server(asgi=app)

    def session() -> None:
        with server:
            reply = http.get(server.url, timeout=TIMEOUT)
            assert reply.status_code == 500
            assert "the ASGI app raised" in reply.text

    with pytest.raises(KeyError, match="missing route"):
        session()


def test_an_app_raising_mid_body_ends_the_response_incomplete() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        refuse_lifespan(scope)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"part", "more_body": True})
        raise RuntimeError("mid body")

    server = HTTPServer(asgi=app)

    def session() -> None:
        with server:
            conn = http.client.HTTPConnection(server.host, server.port, timeout=TIMEOUT)
            try:
                conn.request("GET", "/")
                reply = conn.getresponse()
                with pytest.raises(http.client.IncompleteRead) as incomplete:
                    reply.read()
                assert incomplete.value.partial == b"part"
            finally:
                conn.close()

    with pytest.raises(RuntimeError, match="mid body"):
        session()


@pytest.mark.parametrize("where", ["first step", "after a wait"])
def test_a_cancellation_of_the_apps_own_gets_500_and_check_raises(
    http: Version, where: str
) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        refuse_lifespan(scope)
        lookup = asyncio.get_running_loop().create_future()
        lookup.cancel()  # (a future the app shares, cancelled by whoever else waited on it)
        if where == "after a wait":
            await asyncio.sleep(0)
        await lookup  # raises CancelledError, though nobody cancelled the app's task

    with pytest.raises(RuntimeError, match="raised CancelledError, but its task was not cancelled"):
        http.answered_500(http.server(asgi=app))


@pytest.mark.parametrize(
    ("sends", "message"),
    [
        ([], "returned without sending a response"),
        ([{"type": "http.response.start", "status": 200}], "without sending http.response.body"),
        (
            [
                {"type": "http.response.start", "status": 200},
                {"type": "http.response.body", "body": b"x", "more_body": True},
            ],
            "returned before its response was complete",
        ),
    ],
    ids=["nothing", "start only", "more_body never ended"],
)
def test_an_app_returning_without_a_complete_response(sends: list[Message], message: str) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        refuse_lifespan(scope)
        for item in sends:
            await send(item)

    server = HTTPServer(asgi=app)

    def session() -> None:
        with server:
            conn = http.client.HTTPConnection(server.host, server.port, timeout=TIMEOUT)
            try:
                conn.request("GET", "/")
                reply = conn.getresponse()
                if len(sends) > 1:
                    assert reply.status == 200
                    with pytest.raises(http.client.IncompleteRead):
                        reply.read()
                else:
                    assert reply.status == 500
                    assert b"sent no response" in reply.read()
            finally:
                conn.close()

    with pytest.raises(RuntimeError, match=message):
        session()


@pytest.mark.parametrize(
    ("sends", "message"),
    [
        ([{"type": "http.response.body", "body": b"x"}], "before http.response.start"),
        (
            [{"type": "http.response.start", "status": 200}] * 2,
            "sent http.response.start twice",
        ),
        ([{"type": "http.response.bogus"}], "unknown message type 'http.response.bogus'"),
        (
            [
                {"type": "http.response.start", "status": 200},
                {"type": "http.response.body", "body": b"x"},
                {"type": "http.response.body", "body": b"y"},
            ],
            "after its response was complete",
        ),
    ],
    ids=["body first", "start twice", "unknown type", "body after the end"],
)
def test_protocol_errors_of_the_app(http: Version, sends: list[Message], message: str) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        refuse_lifespan(scope)
        for item in sends:
            await send(item)

    server = http.server(asgi=app)

    def session() -> None:
        with server:
            http.get(server.url, timeout=TIMEOUT)

    with pytest.raises(RuntimeError, match=message):
        session()


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ([(b"x-a", b"1\r\nSet-Cookie: evil=1")], "U\\+000D"),
        ([[b"x-a", b"1\nSet-Cookie: evil=1"]], "U\\+000A"),  # (pairs as lists: no memo)
        ([(b"set-cookie: evil=1\r\nx-a", b"1")], "is not a token"),
        ([(b"set-cookie evil", b"1")], "is not a token"),
    ],
    ids=["CR LF in a value", "LF in a value, lists", "CR LF in a name", "space in a name"],
)
@pytest.mark.parametrize("more_body", [False, True], ids=["whole", "streamed"])
def test_a_response_field_that_would_break_the_head_gets_500_and_check_raises(
    headers: list[Any], message: str, more_body: bool
) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        refuse_lifespan(scope)
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"ok", "more_body": more_body})
        await send({"type": "http.response.body", "body": b""})

    server = HTTPServer(asgi=app)

    def session() -> None:
        with server:
            with socket.create_connection(server.address, TIMEOUT) as sock:
                sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
                received = b""
                while chunk := sock.recv(65536):
                    received += chunk
            assert received.startswith(b"HTTP/1.1 500 ")
            assert b"evil" not in received  # (no field of the app's making reached the client)
            [request] = server.requests
            assert request.response is not None
            assert request.response.status_code == 500

    with pytest.raises(ValueError, match=message):
        session()


# -- lifespan --------------------------------------------------------------------------------


class LifespanApp:
    """An app that speaks lifespan, keeping a log of what happened."""

    def __init__(self, *, fail_startup: bool = False, fail_shutdown: bool = False) -> None:
        self.log: list[str] = []
        self.fail_startup = fail_startup
        self.fail_shutdown = fail_shutdown

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                self.log.append(message["type"])
                if message["type"] == "lifespan.startup":
                    if self.fail_startup:
                        await send({"type": "lifespan.startup.failed", "message": "no database"})
                        return
                    scope["state"]["db"] = "connected"
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    if self.fail_shutdown:
                        await send({"type": "lifespan.shutdown.failed", "message": "stuck"})
                    else:
                        await send({"type": "lifespan.shutdown.complete"})
                    return
        self.log.append(f"http {scope['path']} state={scope['state']}")
        scope["state"]["db"] = "changed by a request"  # a shallow copy: not seen by the next
        await respond(send, body=b"ok")


def test_lifespan_startup_and_shutdown_run_at_start_and_stop(http: Version) -> None:
    app = LifespanApp()
    server = http.server(asgi=app)
    assert app.log == []
    with server:
        assert app.log == ["lifespan.startup"]
        http.get(server.url + "/a", timeout=TIMEOUT)
        http.get(server.url + "/b", timeout=TIMEOUT)
    assert app.log == [
        "lifespan.startup",
        "http /a state={'db': 'connected'}",
        "http /b state={'db': 'connected'}",
        "lifespan.shutdown",
    ]
    app.log.clear()
    with server:  # started again: a fresh lifespan
        pass
    assert app.log == ["lifespan.startup", "lifespan.shutdown"]


def test_an_app_without_lifespan_support_still_serves(http: Version) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        refuse_lifespan(scope)
        await respond(send, body=b"served")

    with http.server(asgi=app) as server:
        assert http.get(server.url, timeout=TIMEOUT).content == b"served"
    server.check()  # the refused lifespan scope is not an error


def test_lifespan_startup_failed_makes_start_raise() -> None:
    app = LifespanApp(fail_startup=True)
    server = HTTPServer(asgi=app)
    with pytest.raises(UnderstudyError, match="lifespan startup failed: no database"):
        server.start()
    assert not server.running
    server.stop()  # nothing to stop


def test_an_app_that_waits_on_after_its_startup_failed_is_cancelled() -> None:
    ended = threading.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await receive()
            await send({"type": "lifespan.startup.failed", "message": "no database"})
            await receive()  # (no lifespan.shutdown comes after a failed startup)
        finally:
            ended.set()  # (its cleanup: closing what startup had opened)

    with pytest.raises(UnderstudyError, match="lifespan startup failed: no database"):
        HTTPServer(asgi=app).start()
    assert ended.wait(TIMEOUT), "the app's lifespan task was left waiting on the loop"


def test_lifespan_startup_raising_makes_start_raise() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        raise ConnectionRefusedError("cache down")

    with pytest.raises(UnderstudyError, match="ConnectionRefusedError: cache down"):
        HTTPServer(asgi=app).start()


def test_a_lifespan_startup_that_never_ends_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_lifespan, "_LIFESPAN_TIMEOUT", 0.2)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await asyncio.Event().wait()  # (never completes startup)

    with pytest.raises(WaitTimeout, match=r"lifespan startup did not complete within 0\.2 s"):
        HTTPServer(asgi=app).start()


def test_lifespan_shutdown_failed_is_reported_at_exit(http: Version) -> None:
    app = LifespanApp(fail_shutdown=True)
    server = http.server(asgi=app)

    def session() -> None:
        with server:
            http.get(server.url, timeout=TIMEOUT)

    with pytest.raises(UnderstudyError, match="lifespan shutdown failed: stuck"):
        session()


# -- async clients ---------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_httpx_async_client_against_an_asgi_app() -> None:
    app = LifespanApp()
    async with HTTPServer(asgi=app) as server, httpx.AsyncClient(base_url=server.url) as client:
        replies = await asyncio.gather(*(client.get(f"/{index}") for index in range(5)))
        received = await server.wait_for_requests_async(5)
    assert [reply.text for reply in replies] == ["ok"] * 5
    assert sorted(request.path for request in received) == [f"/{index}" for index in range(5)]
    assert app.log[-1] == "lifespan.shutdown"


@pytest.mark.asyncio
async def test_aiohttp_streams_an_upload_to_an_asgi_app() -> None:
    sizes: list[int] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        refuse_lifespan(scope)
        total = 0
        while True:
            message = await receive()
            total += len(message["body"])
            sizes.append(len(message["body"]))
            if not message["more_body"]:
                break
        await respond(send, body=str(total).encode())

    async def upload() -> Any:
        for _ in range(16):
            yield b"x" * 65536

    async with (
        HTTPServer(asgi=app) as server,
        aiohttp.ClientSession() as session,
        session.post(server.url + "/upload", data=upload()) as reply,
    ):
        assert await reply.text() == str(16 * 65536)
    assert len(sizes) > 1  # delivered in parts as it arrived, not in one piece


@pytest.mark.parametrize(
    "headers",
    [
        [[b"x-kind", b"lists"], [b"content-type", b"text/plain"]],  # lists: cannot be hashed
        [(bytearray(b"x-kind"), bytearray(b"bytearray")), (b"content-type", b"text/plain")],
    ],
    ids=["lists", "bytearray"],
)
def test_response_fields_as_lists_or_bytearrays_are_sent_twice_alike(headers: Any) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        refuse_lifespan(scope)
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"ok"})

    with HTTPServer(asgi=app) as server, requests.Session() as session:
        replies = [session.get(server.url, timeout=TIMEOUT) for _ in range(2)]
    for reply in replies:  # the second from the memo of rendered heads, where it can be kept
        assert (reply.status_code, reply.text) == (200, "ok")
        assert reply.headers["x-kind"] == bytes(headers[0][1]).decode()
        assert reply.headers["content-type"] == "text/plain"


async def app_with_a_timeout(scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
    """An app as many are written: its first await is inside ``asyncio.timeout()``, which (as
    anyio's cancel scopes, hence Starlette and FastAPI) needs the task running it."""
    if scope["type"] != "http":
        return
    async with asyncio.timeout(TIMEOUT):
        message = await receive()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"got " + message["body"]})


def test_an_asgi_app_runs_in_a_task_from_its_first_line() -> None:
    with HTTPServer(asgi=app_with_a_timeout) as server:
        request = urllib.request.Request(server.url + "/", data=b"hi", method="POST")
        with urllib.request.urlopen(request, timeout=TIMEOUT) as reply:
            assert reply.status == 200
            assert reply.read() == b"got hi"


async def app_with_an_anyio_task_group(
    scope: MutableMapping[str, Any], receive: Any, send: Any
) -> None:
    """What Starlette's middleware does: an anyio task group (a cancel scope) around the app."""
    if scope["type"] != "http":
        return
    async with anyio.create_task_group() as group:
        group.start_soon(anyio.sleep, 0)
        message = await receive()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"got " + message["body"]})


def test_an_asgi_app_can_open_an_anyio_task_group_at_once(http: Version) -> None:
    with http.server(asgi=app_with_an_anyio_task_group) as server:
        assert http.post(server.url + "/", content=b"hi", timeout=TIMEOUT).text == "got hi"


# -- pipelined requests: each app starts anew ------------------------------------------------

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="none")


def pipelined(server: HTTPServer, paths: list[str]) -> list[bytes]:
    """Send GETs for ``paths`` in one write on one connection; the responses' status lines
    (the bodies must not hold one)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as client:
        client.sendall(
            b"".join(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path.encode() for path in paths)
        )
        received = b""
        while received.count(b"HTTP/1.1 ") < len(paths):
            chunk = client.recv(65536)
            if not chunk:
                break
            received += chunk
    return re.findall(rb"HTTP/1\.1 \d{3} [^\r]*", received)


def test_pipelined_requests_each_start_in_a_context_of_their_own() -> None:
    seen: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        refuse_lifespan(scope)
        seen.append(request_id.get())
        request_id.set(scope["path"])  # (as a logging middleware would)
        if scope["path"] == "/first":
            await asyncio.sleep(0)  # the others are started as its response ends, in its task
        await respond(send, body=b"ok")

    with HTTPServer(asgi=app) as server:
        assert pipelined(server, ["/first", "/second", "/third"]) == [b"HTTP/1.1 200 OK"] * 3
        server.check()
    assert seen == ["none"] * 3


def test_a_long_pipeline_behind_an_app_that_waits_is_answered_in_full() -> None:
    count = 400  # each answered as the one before it ends: they must not nest

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        refuse_lifespan(scope)
        if scope["path"] == "/0":
            await asyncio.sleep(0)
        await respond(send, body=b"ok")

    with HTTPServer(asgi=app) as server:
        statuses = pipelined(server, [f"/{index}" for index in range(count)])
        server.check()
    assert statuses == [b"HTTP/1.1 200 OK"] * count


def test_stop_leaves_no_task_of_an_asgi_app_running() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        refuse_lifespan(scope)
        if scope["path"] == "/stuck":
            await asyncio.Event().wait()  # cancelled at stop()'s timeout
        if scope["path"] == "/waits":
            await asyncio.sleep(0)
        await respond(send, body=b"ok")

    async def tasks_of_apps() -> list[str]:
        return [
            repr(task)
            for task in asyncio.all_tasks()
            if "_Standby" in repr(task) or "_ASGICall" in repr(task)
        ]

    runtime = get_runtime()
    server = HTTPServer(asgi=app).start()
    try:
        assert pipelined(server, ["/at-once", "/waits", "/at-once"]) == [b"HTTP/1.1 200 OK"] * 3
        with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as client:
            client.sendall(b"GET /stuck HTTP/1.1\r\nHost: x\r\n\r\n")
            server.wait_for_requests(4)
            with pytest.raises(WaitTimeout, match="GET /stuck"):
                server.stop(timeout=0.05)
    finally:
        server.stop()
    assert runtime.call(tasks_of_apps(), TIMEOUT, twin="-") == []


def test_an_asgi_host_is_told_apart_by_what_it_says_not_by_the_module(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Hosts say whether they run an ASGI app (``ASGIHost.runs_asgi``), so a server asks no
    module for it: a thread once found the ASGI module half-made in ``sys.modules`` (another
    thread importing it, before ``ASGIHost`` was defined) and failed on the loop with an
    AttributeError (seen once, serving HTTP/2 in bench (l))."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("not called")

    def handler(request: Any) -> Response:
        raise AssertionError("not called")

    servers = [HTTPServer(asgi=app), HTTPServer(), HTTPServer(handler=handler)]
    half_made = types.ModuleType("understudy._http._asgi")
    monkeypatch.setitem(sys.modules, "understudy._http._asgi", half_made)
    assert [_server._is_asgi(each._router.host) for each in servers] == [True, False, False]
