"""HTTPServer(handler=fn): sync in the worker pool, async on the loop; return shapes; errors."""

from __future__ import annotations

import asyncio
import functools
import http.client
import socket
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest
import requests

from understudy import ConfigurationError, HTTPServer, Request, Response
from versions import Version

TIMEOUT = 5.0


def _sync_returning(value: Any) -> Callable[[Request], Any]:
    def handler(request: Request) -> Any:
        return value

    return handler


def _async_returning(value: Any) -> Callable[[Request], Any]:
    async def handler(request: Request) -> Any:
        await asyncio.sleep(0)
        return value

    return handler


RETURNS: list[tuple[str, Any, int, bytes, str | None]] = [
    ("Response", Response(201, body="made", headers={"X-A": "1"}), 201, b"made", "text/plain"),
    ("str", "h\u00e9llo", 200, "h\u00e9llo".encode(), "text/plain; charset=utf-8"),
    ("bytes", b"\x00raw", 200, b"\x00raw", None),
    ("dict", {"a": 1}, 200, b'{"a": 1}', "application/json"),
    ("list", [1, "x"], 200, b'[1, "x"]', "application/json"),
    ("(status, str)", (404, "nope"), 404, b"nope", "text/plain; charset=utf-8"),
    ("(status, bytes)", (202, b""), 202, b"", None),
    ("(status, dict)", (422, {"error": "bad"}), 422, b'{"error": "bad"}', "application/json"),
    ("(status, Response)", (409, Response(200, body=b"conflict")), 409, b"conflict", None),
]


@pytest.mark.parametrize("kind", ["sync", "async"])
@pytest.mark.parametrize(
    ("value", "status", "body", "content_type"),
    [case[1:] for case in RETURNS],
    ids=[case[0] for case in RETURNS],
)
def test_every_return_shape(
    http: Version, kind: str, value: Any, status: int, body: bytes, content_type: str | None
) -> None:
    handler = _sync_returning(value) if kind == "sync" else _async_returning(value)
    with http.server(handler=handler) as server:
        reply = http.get(server.url + "/r", timeout=TIMEOUT)
    assert reply.status_code == status
    assert reply.content == body
    if content_type is not None:
        assert reply.headers["Content-Type"].startswith(content_type)
    else:
        assert "Content-Type" not in reply.headers


def test_a_sync_handler_runs_in_the_worker_pool_and_sees_the_request() -> None:
    seen: list[tuple[str, Request]] = []

    def handler(request: Request) -> str:
        seen.append((threading.current_thread().name, request))
        return request.text.upper()

    with HTTPServer(handler=handler) as server:
        reply = requests.post(server.url + "/up?x=1", data=b"shout", timeout=TIMEOUT)
    assert reply.text == "SHOUT"
    [(thread, request)] = seen
    assert thread.startswith("understudy-worker")
    assert request.path == "/up"
    assert request.query["x"] == "1"


def test_an_async_handler_runs_on_the_loop() -> None:
    threads: list[str] = []

    async def handler(request: Request) -> str:
        threads.append(threading.current_thread().name)
        await asyncio.sleep(0)
        return "async"

    with HTTPServer(handler=handler) as server:
        assert requests.get(server.url, timeout=TIMEOUT).text == "async"
    assert threads == ["understudy-loop"]


def test_an_instance_with_an_async_call_is_awaited(http: Version) -> None:
    class Handler:
        async def __call__(self, request: Request) -> str:
            return "instance"

    with http.server(handler=Handler()) as server:
        assert http.get(server.url, timeout=TIMEOUT).text == "instance"


def test_a_plain_callable_returning_a_coroutine_is_awaited(http: Version) -> None:
    async def answer(request: Request, word: str) -> str:
        return word

    def handler(request: Request) -> Any:
        return answer(request, "wrapped")  # a lambda-style wrapper around an async function

    with http.server(handler=handler) as server:
        assert http.get(server.url, timeout=TIMEOUT).text == "wrapped"
    with http.server(handler=functools.partial(answer, word="partial")) as server:
        assert http.get(server.url, timeout=TIMEOUT).text == "partial"


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_handler_raising_gets_500_and_check_reraises_it(http: Version, kind: str) -> None:
    class Boom(Exception):
        pass

    def sync_handler(request: Request) -> str:
        raise Boom("in the handler")

    async def async_handler(request: Request) -> str:
        raise Boom("in the handler")

    server = http.server(handler=sync_handler if kind == "sync" else async_handler)

    def session() -> None:
        with server:
            reply = http.get(server.url + "/x", timeout=TIMEOUT)
            assert reply.status_code == 500
            assert "the handler raised Boom (see check())" in reply.text
            [request] = server.wait_for_requests(1)
            assert request.error is None

    with pytest.raises(Boom, match="in the handler") as caught:
        session()
    # raised as itself, with the handler's frame in its traceback
    assert caught.traceback[-1].name == f"{kind}_handler"


async def _awaits_a_future_cancelled_elsewhere(request: Request) -> str:
    lookup = asyncio.get_running_loop().create_future()
    lookup.cancel()  # (a future the handler shares, cancelled by whoever else waited on it)
    await lookup  # raises CancelledError, though nobody cancelled the handler's task
    return "never"


@pytest.mark.parametrize("kind", ["async", "returned coroutine"])
def test_a_cancellation_of_the_handlers_own_gets_500_and_check_raises(
    http: Version, kind: str
) -> None:
    def wrapper(request: Request) -> Any:
        return _awaits_a_future_cancelled_elsewhere(request)  # (a plain callable's coroutine)

    handler = _awaits_a_future_cancelled_elsewhere if kind == "async" else wrapper
    with pytest.raises(RuntimeError, match="raised CancelledError, but its task was not cancelled"):
        http.answered_500(http.server(handler=handler))


def test_check_raises_once_then_forgets(http: Version) -> None:
    def handler(request: Request) -> str:
        raise KeyError(request.path)

    with http.server(handler=handler) as server:
        http.get(server.url + "/k", timeout=TIMEOUT)
        with pytest.raises(KeyError, match="/k"):
            server.check()
        server.check()  # forgotten once raised
        assert http.get(server.url + "/again", timeout=TIMEOUT).status_code == 500
        with pytest.raises(KeyError, match="/again"):
            server.check()


def test_several_handler_errors_come_back_as_an_exception_group(http: Version) -> None:
    def handler(request: Request) -> str:
        if request.path == "/a":
            raise ValueError("a")
        raise LookupError("b")

    server = http.server(handler=handler)

    def session() -> None:
        with server:
            http.get(server.url + "/a", timeout=TIMEOUT)
            http.get(server.url + "/b", timeout=TIMEOUT)

    with pytest.raises(ExceptionGroup) as caught:
        session()
    assert caught.group_contains(ValueError, match="^a$")
    assert caught.group_contains(LookupError, match="^b$")
    assert len(caught.value.exceptions) == 2


def test_an_assertion_in_a_handler_fails_the_test_at_exit(http: Version) -> None:
    def handler(request: Request) -> str:
        assert request.headers["x-token"] == "secret", "wrong token"
        return "ok"

    server = http.server(handler=handler)

    def session() -> None:
        with server:
            reply = http.get(server.url, headers={"X-Token": "guess"}, timeout=TIMEOUT)
            assert reply.status_code == 500

    with pytest.raises(AssertionError, match="wrong token"):
        session()


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_bad_return_type_gets_500_and_type_error_at_check(http: Version, kind: str) -> None:
    handler = _sync_returning(object()) if kind == "sync" else _async_returning(3.5)
    with http.server(handler=handler) as server:
        reply = http.get(server.url, timeout=TIMEOUT)
        assert reply.status_code == 500
        with pytest.raises(TypeError, match=r"the handler returned .*; return a understudy"):
            server.check()


def test_a_bad_status_in_a_returned_tuple_gets_500_and_is_reported(http: Version) -> None:
    with http.server(handler=_sync_returning((700, "x"))) as server:
        assert http.get(server.url, timeout=TIMEOUT).status_code == 500
        with pytest.raises(ConfigurationError, match="not 700"):
            server.check()


def test_a_streamed_body_from_a_generator() -> None:
    closed = threading.Event()

    def handler(request: Request) -> Response:
        def body() -> Iterator[bytes]:
            try:
                for index in range(3):
                    yield f"part {index}\n".encode()
            finally:
                closed.set()

        return Response(200, body=body(), content_type="text/plain")

    with (
        HTTPServer(handler=handler) as server,
        requests.get(server.url, stream=True, timeout=TIMEOUT) as reply,
    ):
        assert reply.headers["Transfer-Encoding"] == "chunked"
        lines = list(reply.iter_lines())
    assert lines == [b"part 0", b"part 1", b"part 2"]
    assert closed.is_set()


def test_a_streamed_body_from_an_async_generator() -> None:
    async def handler(request: Request) -> Response:
        async def body() -> AsyncIterator[bytes]:
            for index in range(3):
                await asyncio.sleep(0)
                yield b"%d," % index

        return Response(200, body=body())

    with HTTPServer(handler=handler) as server, httpx.Client() as client:
        with client.stream("GET", server.url) as reply:
            chunks = b"".join(reply.iter_bytes())
        assert reply.headers["transfer-encoding"] == "chunked"
    assert chunks == b"0,1,2,"


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_streamed_body_failing_midway_drops_the_connection_and_is_reported(kind: str) -> None:
    def body() -> Iterator[bytes]:
        yield b"start"
        raise RuntimeError("generator broke")

    async def abody() -> AsyncIterator[bytes]:
        yield b"start"
        raise RuntimeError("generator broke")

    def handler(request: Request) -> Response:
        return Response(200, body=body() if kind == "sync" else abody())

    with pytest.raises(RuntimeError, match="generator broke"):
        _cut_short(HTTPServer(handler=handler))


def _cut_short(server: HTTPServer) -> None:
    """Run ``server`` (``with``: its ``check()`` raises at the end) for one GET, whose 200's
    chunked body never ends: the client sees it incomplete, rather than waiting on."""
    with server:
        conn = http.client.HTTPConnection(server.host, server.port, timeout=TIMEOUT)
        try:
            conn.request("GET", "/")
            reply = conn.getresponse()
            assert reply.status == 200
            with pytest.raises(http.client.IncompleteRead):
                reply.read()
        finally:
            conn.close()


def test_a_streamed_body_raising_a_cancellation_of_its_own_is_cut_and_reported() -> None:
    async def body() -> AsyncIterator[bytes]:
        yield b"start"
        lookup = asyncio.get_running_loop().create_future()
        lookup.cancel()  # (cancelled by whoever else waited on it)
        await lookup  # raises CancelledError, though nobody cancelled the body's task
        yield b"never"

    with pytest.raises(RuntimeError, match="raised CancelledError, but its task was not cancelled"):
        _cut_short(HTTPServer(handler=lambda request: Response(200, body=body())))


def test_a_handler_can_be_slow_while_another_server_answers() -> None:
    release = threading.Event()

    def slow(request: Request) -> str:
        assert release.wait(TIMEOUT)
        return "slow"

    with (
        HTTPServer(handler=slow) as slow_server,
        HTTPServer(response=Response(200, body="quick")) as quick,
    ):
        result: list[str] = []
        thread = threading.Thread(
            target=lambda: result.append(requests.get(slow_server.url, timeout=TIMEOUT).text)
        )
        thread.start()
        slow_server.wait_for_requests(1)
        assert requests.get(quick.url, timeout=TIMEOUT).text == "quick"
        release.set()
        thread.join(TIMEOUT)
    assert result == ["slow"]


def test_handler_must_be_callable() -> None:
    with pytest.raises(ConfigurationError, match="handler= must be callable, not str"):
        HTTPServer(handler="index.html")  # type: ignore[arg-type]


def endless_async_body(closed: threading.Event) -> Callable[[Request], Response]:
    async def events() -> AsyncIterator[bytes]:
        try:
            while True:
                yield b"data: tick\n\n"
                await asyncio.sleep(0.01)  # the stream's own pace
        finally:
            closed.set()

    return lambda request: Response(200, body=events(), content_type="text/event-stream")


def endless_sync_body(closed: threading.Event) -> Callable[[Request], Response]:
    def events() -> Iterator[bytes]:
        try:
            while True:
                yield b"data: tick\n\n"
                closed.wait(0.01)  # the stream's own pace
        finally:
            closed.set()

    return lambda request: Response(200, body=events(), content_type="text/event-stream")


@pytest.mark.parametrize("make_handler", [endless_async_body, endless_sync_body])
def test_an_endless_body_is_closed_once_its_client_has_gone(
    make_handler: Callable[[threading.Event], Callable[[Request], Response]],
) -> None:
    closed = threading.Event()
    server = HTTPServer(handler=make_handler(closed)).start()
    try:
        with requests.get(server.url + "/events", stream=True, timeout=5) as reply:
            assert next(reply.iter_lines()) == b"data: tick"
        # The client went away: the body is closed (its finally ran) ...
        assert closed.wait(5), "the body went on after its client had gone"
    finally:
        server.stop()  # ... so stop() finds nothing still running (no WaitTimeout)


def test_stop_cuts_off_a_client_that_stopped_reading_an_endless_body() -> None:
    closed = threading.Event()
    server = HTTPServer(handler=endless_async_body(closed)).start()
    with socket.create_connection(server.address, timeout=5) as client:
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        client.sendall(b"GET /events HTTP/1.1\r\nHost: t\r\n\r\n")
        assert client.recv(64).startswith(b"HTTP/1.1 200 ")
        # The client reads nothing more, but stays. A timeout far longer than the join's: stop()
        # returns only because that client is cut off, and then nothing is left running.
        errors: list[BaseException] = []
        stopping = threading.Thread(target=lambda: _stop_collecting(server, 600.0, errors))
        stopping.start()
        stopping.join(10)
        assert not stopping.is_alive(), "stop() waited for a client that stopped reading"
    assert not errors
    assert closed.is_set()


def _stop_collecting(server: HTTPServer, timeout: float, errors: list[BaseException]) -> None:
    try:
        server.stop(timeout)
    except BaseException as error:
        errors.append(error)
