"""HTTPServer(wsgi=app): PEP 3333 as wsgiref.validate checks it, over real clients.

Most apps are wrapped in ``wsgiref.validate.validator``, which asserts on our environ, on
``wsgi.input`` and ``start_response``, and on ``close()`` being called; its warnings are errors
under this suite's ``filterwarnings = error``, and what it raises reaches ``check()``.
"""

from __future__ import annotations

import http.client
import socket
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from wsgiref.simple_server import demo_app
from wsgiref.validate import validator

import pytest
import requests

from understudy import HTTPServer, Request
from versions import Version

TIMEOUT = 5.0

Environ = dict[str, Any]
StartResponse = Callable[..., Callable[[bytes], object]]
App = Callable[[Environ, StartResponse], Iterable[bytes]]


def serve(app: App, **options: Any) -> HTTPServer:
    return HTTPServer(wsgi=validator(app), **options)


def raw_exchange(server: HTTPServer, data: bytes) -> bytes:
    """Send ``data``, half-close, and read the whole answer until the server closes."""
    with socket.create_connection(server.address, timeout=TIMEOUT) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return received


# -- environ ---------------------------------------------------------------------------------


def test_environ_keys() -> None:
    seen: list[Environ] = []

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        seen.append(dict(environ))
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    with serve(app) as server:
        reply = requests.post(
            server.url + "/caf%C3%A9/x%2Fy?q=1&q=2",
            data=b"body",
            headers={"Content-Type": "text/plain", "X-Dup": "a", "x-custom": "b"},
            timeout=TIMEOUT,
        )
        assert reply.text == "ok"
    [environ] = seen
    assert environ["REQUEST_METHOD"] == "POST"
    assert environ["SCRIPT_NAME"] == ""
    # PEP 3333: native strings hold the bytes as Latin-1; %2F is decoded too (as in CGI).
    assert environ["PATH_INFO"] == "/caf\u00c3\u00a9/x/y"
    assert environ["PATH_INFO"].encode("latin-1").decode() == "/caf\u00e9/x/y"
    assert environ["QUERY_STRING"] == "q=1&q=2"
    assert environ["CONTENT_TYPE"] == "text/plain"
    assert environ["CONTENT_LENGTH"] == "4"
    assert "HTTP_CONTENT_TYPE" not in environ
    assert "HTTP_CONTENT_LENGTH" not in environ
    assert environ["HTTP_X_DUP"] == "a"
    assert environ["HTTP_X_CUSTOM"] == "b"
    assert environ["HTTP_HOST"] == f"127.0.0.1:{server.port}"
    assert environ["SERVER_NAME"] == "127.0.0.1"
    assert environ["SERVER_PORT"] == str(server.port)
    assert environ["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert environ["REMOTE_ADDR"] == "127.0.0.1"
    assert environ["REMOTE_PORT"].isdigit()
    assert environ["wsgi.version"] == (1, 0)
    assert environ["wsgi.url_scheme"] == "http"
    assert environ["wsgi.errors"].errors is sys.stderr  # inside the validator's wrapper
    assert environ["wsgi.multithread"] is True
    assert environ["wsgi.multiprocess"] is False
    assert environ["wsgi.run_once"] is False
    assert environ["wsgi.input_terminated"] is True


def environ_recorder(seen: list[Environ]) -> App:
    """An app that keeps a copy of each environ and answers 204."""

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        seen.append(dict(environ))
        start_response("204 No Content", [])
        return []

    return app


def test_repeated_fields_are_combined_and_http_1_0_is_reported() -> None:
    seen: list[Environ] = []
    with serve(environ_recorder(seen)) as server:
        raw_exchange(
            server,
            b"GET http://example.test/abs?x=1 HTTP/1.0\r\nAccept: a\r\nACCEPT: b\r\n\r\n",
        )
    [environ] = seen
    assert environ["HTTP_ACCEPT"] == "a,b"
    assert environ["SERVER_PROTOCOL"] == "HTTP/1.0"
    assert environ["PATH_INFO"] == "/abs"
    assert environ["QUERY_STRING"] == "x=1"
    assert "CONTENT_LENGTH" not in environ


def test_a_fragment_sent_in_the_target_is_in_neither_path_info_nor_query_string() -> None:
    seen: list[Environ] = []
    with serve(environ_recorder(seen)) as server:
        for target in (b"/a?y=1#frag", b"/b#c?d"):
            raw_exchange(server, b"GET " + target + b" HTTP/1.0\r\n\r\n")
    assert [(environ["PATH_INFO"], environ["QUERY_STRING"]) for environ in seen] == [
        ("/a", "y=1"),
        ("/b", ""),
    ]


def test_wsgiref_demo_app() -> None:
    with serve(demo_app) as server:
        reply = requests.get(server.url + "/demo?x=1", timeout=TIMEOUT)
    assert reply.status_code == 200
    assert reply.text.startswith("Hello world!")
    assert "PATH_INFO = '/demo'" in reply.text
    assert "QUERY_STRING = 'x=1'" in reply.text


# -- wsgi.input ------------------------------------------------------------------------------


def test_wsgi_input_streams_a_chunked_upload_as_it_arrives() -> None:
    got_first = threading.Event()
    parts: list[bytes] = []

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        stream = environ["wsgi.input"]
        parts.append(stream.read(5))  # returns once 5 bytes have arrived, before the rest
        got_first.set()
        parts.append(stream.read(100))  # up to the end of the body
        parts.append(stream.read(10))
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"|".join(parts)]

    with serve(app) as server, socket.create_connection(server.address, TIMEOUT) as sock:
        sock.sendall(
            b"POST /up HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n"
        )
        assert got_first.wait(TIMEOUT)  # the app read the first chunk; the rest is not sent
        sock.sendall(b"6\r\nsecond\r\n0\r\n\r\n")
        reply = http.client.HTTPResponse(sock)
        reply.begin()
        body = reply.read()
        [request] = server.wait_for_requests(1)
    assert body == b"first|second|"
    assert request.body == b"firstsecond"


def test_wsgi_input_readline_readlines_and_iteration() -> None:
    results: dict[str, Any] = {}

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        stream = environ["wsgi.input"]
        results["line"] = stream.readline()
        results["limited"] = stream.readline(3)
        results["rest_of_line"] = stream.readline()
        results["lines"] = stream.readlines(1)  # a hint: at least one line
        results["iterated"] = list(stream)
        results["eof"] = stream.read(1)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b""]

    with serve(app) as server:
        requests.post(
            server.url, data=iter([b"one\ntw", b"o\nthree\nfour\nfi", b"ve"]), timeout=TIMEOUT
        )
    assert results == {
        "line": b"one\n",
        "limited": b"two",
        "rest_of_line": b"\n",
        "lines": [b"three\n"],
        "iterated": [b"four\n", b"five"],
        "eof": b"",
    }


def test_wsgi_input_read_to_the_end_without_validator(http: Version) -> None:
    bodies: list[bytes] = []

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        stream = environ["wsgi.input"]
        bodies.append(stream.read())
        bodies.append(stream.read(None))
        start_response("200 OK", [])
        return []

    with http.server(wsgi=app) as server:
        http.post(server.url, data=b"x" * 100_000, timeout=TIMEOUT)
    assert bodies == [b"x" * 100_000, b""]


def test_an_upload_over_max_body_size_while_the_app_reads_it() -> None:
    reads: list[bytes] = []
    reading = threading.Event()
    done = threading.Event()

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        while chunk := environ["wsgi.input"].read(4):
            reads.append(chunk)
            reading.set()
        done.set()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"too late"]

    with serve(app, max_body_size=10) as server, socket.create_connection(server.address) as sock:
        sock.settimeout(TIMEOUT)
        sock.sendall(
            b"POST /big HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n12345678\r\n"
        )
        assert reading.wait(TIMEOUT)  # the app is reading the body when it goes over
        sock.sendall(b"8\r\n12345678\r\n0\r\n\r\n")
        reply = http.client.HTTPResponse(sock)
        reply.begin()
        answer = reply.read()
        assert done.wait(TIMEOUT)  # the app's read ended instead of blocking forever
        [request] = server.wait_for_requests(1)
    assert reply.status == 413
    assert b"too late" not in answer
    assert request.error is not None
    assert "max_body_size" in request.error


def test_an_app_answering_before_reading_the_body_closes_the_connection() -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("403 Forbidden", [("Content-Type", "text/plain")])
        return [b"no"]

    with serve(app) as server, socket.create_connection(server.address, TIMEOUT) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\npart")
        reply = http.client.HTTPResponse(sock)
        reply.begin()
        assert reply.status == 403
        assert reply.read() == b"no"
        # the unread body would be taken for the next request: the server closes instead
        assert reply.getheader("Connection") == "close"
        assert sock.recv(10) == b""


# -- the response ----------------------------------------------------------------------------


def test_a_list_body_gets_a_content_length(http: Version) -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"one ", b"two"]

    with http.server(wsgi=app) as server:  # the validator would hide the list in an iterator
        reply = http.get(server.url, timeout=TIMEOUT)
    assert reply.headers["Content-Length"] == "7"
    assert "Transfer-Encoding" not in reply.headers
    assert reply.text == "one two"


def test_a_generator_body_is_streamed_chunk_by_chunk() -> None:
    first_read = threading.Event()
    finished = threading.Event()

    def app(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield b"first\n"
        assert first_read.wait(TIMEOUT)  # the client got the first chunk before the second
        yield b""
        yield b"second\n"
        finished.set()

    with serve(app) as server, requests.get(server.url, stream=True, timeout=TIMEOUT) as reply:
        assert reply.headers["Transfer-Encoding"] == "chunked"
        lines = reply.iter_lines()
        assert next(lines) == b"first"
        first_read.set()
        assert list(lines) == [b"second"]
    assert finished.is_set()


def test_start_response_inside_the_generator(http: Version) -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        start_response("201 Created", [("Content-Type", "text/plain")])
        yield b"lazy"

    with http.server(wsgi=app) as server:
        reply = http.get(server.url, timeout=TIMEOUT)
    assert (reply.status_code, reply.text) == (201, "lazy")


class ClosingBody:
    """An iterable with close(), as PEP 3333 says the server must call."""

    def __init__(self, parts: list[bytes], fail_at: int | None = None) -> None:
        self.parts = parts
        self.fail_at = fail_at
        self.closed = threading.Event()

    def __iter__(self) -> Iterator[bytes]:
        for index, part in enumerate(self.parts):
            if index == self.fail_at:
                raise RuntimeError("body failed")
            yield part

    def close(self) -> None:
        self.closed.set()


def test_close_is_called_on_the_iterable() -> None:
    body = ClosingBody([b"a", b"b"])

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return body

    with serve(app) as server:
        assert requests.get(server.url, timeout=TIMEOUT).content == b"ab"
        assert body.closed.wait(TIMEOUT)


def test_close_is_called_when_the_iterable_fails() -> None:
    body = ClosingBody([b"a", b"b", b"c"], fail_at=2)

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [])
        return body

    server = HTTPServer(wsgi=app)

    def session() -> None:
        with server:
            conn = http.client.HTTPConnection(server.host, server.port, timeout=TIMEOUT)
            try:
                conn.request("GET", "/")
                reply = conn.getresponse()
                with pytest.raises(http.client.IncompleteRead):
                    reply.read()
            finally:
                conn.close()
            assert body.closed.wait(TIMEOUT)

    with pytest.raises(RuntimeError, match="body failed"):
        session()


def test_an_endless_body_is_closed_once_its_client_has_gone() -> None:
    closed = threading.Event()

    def app(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [("Content-Type", "text/event-stream")])

        def events() -> Iterator[bytes]:
            try:
                while not closed.is_set():  # (ends with the test, fixed or not)
                    yield b"data: tick\n\n"
                    closed.wait(0.01)  # the stream's own pace
            finally:
                closed.set()

        return events()

    server = serve(app).start()
    try:
        with requests.get(server.url + "/events", stream=True, timeout=TIMEOUT) as reply:
            assert next(reply.iter_lines()) == b"data: tick"
        # The client went away: the iterable is closed (its finally ran) ...
        assert closed.wait(TIMEOUT), "the WSGI body went on after its client had gone"
    finally:
        closed.set()
        server.stop()  # ... so stop() finds nothing still running (no WaitTimeout)


def test_the_write_callable() -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"written ")
        write(b"")
        write(b"then ")
        return [b"returned"]

    with serve(app) as server:
        reply = requests.get(server.url, timeout=TIMEOUT)
    assert reply.text == "written then returned"


def test_an_app_provided_content_length_is_used() -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [("Content-Length", "10"), ("Content-Type", "text/plain")])
        yield b"01234"
        yield b"56789"

    with serve(app) as server, socket.create_connection(server.address, TIMEOUT) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        reply = http.client.HTTPResponse(sock)
        reply.begin()
        assert reply.getheader("Content-Length") == "10"
        assert reply.getheader("Transfer-Encoding") is None
        assert reply.read() == b"0123456789"


def test_head_to_a_wsgi_app(http: Version) -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"the body"]

    with http.server(wsgi=app) as server:
        reply = http.head(server.url, timeout=TIMEOUT)
        again = http.get(server.url, timeout=TIMEOUT)
    assert reply.headers["Content-Length"] == "8"
    assert reply.content == b""
    assert again.text == "the body"


def test_a_generator_to_an_http_1_0_client_is_close_delimited() -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield b"old "
        yield b"school"

    with serve(app) as server:
        answer = raw_exchange(server, b"GET / HTTP/1.0\r\n\r\n")
    head, _, body = answer.partition(b"\r\n\r\n")
    assert b"Transfer-Encoding" not in head
    assert b"Connection: close" in head
    assert body == b"old school"


# -- start_response with exc_info, and apps that fail ----------------------------------------


def render() -> None:
    raise ValueError("while rendering")


def test_exc_info_before_the_headers_are_sent_replaces_the_status() -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        try:
            render()
        except ValueError:
            start_response(
                "500 Internal Server Error", [("Content-Type", "text/plain")], sys.exc_info()
            )
        return [b"rendered an error page"]

    with serve(app) as server:
        reply = requests.get(server.url, timeout=TIMEOUT)
        server.check()  # handled by the app: not an error of the test
    assert reply.status_code == 500
    assert reply.text == "rendered an error page"


def test_exc_info_after_the_headers_are_sent_reraises() -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield b"begun"
        try:
            render()
        except ValueError:
            start_response("500 Internal Server Error", [], sys.exc_info())
        yield b"never"

    server = HTTPServer(wsgi=app)

    def session() -> None:
        with server:
            conn = http.client.HTTPConnection(server.host, server.port, timeout=TIMEOUT)
            try:
                conn.request("GET", "/")
                reply = conn.getresponse()
                assert reply.status == 200
                with pytest.raises(http.client.IncompleteRead) as incomplete:
                    reply.read()
                assert incomplete.value.partial == b"begun"
            finally:
                conn.close()

    with pytest.raises(ValueError, match="while rendering"):
        session()


def test_start_response_twice_without_exc_info_is_an_error(http: Version) -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [])
        start_response("201 Created", [])
        return []

    server = http.server(wsgi=app)

    def session() -> None:
        with server:
            assert http.get(server.url, timeout=TIMEOUT).status_code == 500

    with pytest.raises(AssertionError, match="start_response was called twice"):
        session()


@pytest.mark.parametrize("where", ["call", "iteration"])
def test_an_app_raising_gets_500_and_check_reraises(http: Version, where: str) -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if where == "call":
            raise LookupError("no such thing")

        def body() -> Iterator[bytes]:
            if where == "iteration":
                raise LookupError("no such thing")
            yield b""

        return body()

    server = http.server(wsgi=app)

    def session() -> None:
        with server:
            reply = http.get(server.url + "/x", timeout=TIMEOUT)
            assert reply.status_code == 500
            assert "the WSGI app raised" in reply.text
            # the server goes on serving
            assert http.get(server.url + "/y", timeout=TIMEOUT).status_code == 500
            with pytest.raises(ExceptionGroup):
                server.check()
            http.get(server.url + "/z", timeout=TIMEOUT)

    with pytest.raises(LookupError, match="no such thing"):
        session()


def test_an_app_that_never_calls_start_response(http: Version) -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        return [b"body without status"]

    server = http.server(wsgi=app)

    def session() -> None:
        with server:
            assert http.get(server.url, timeout=TIMEOUT).status_code == 500

    with pytest.raises(AssertionError, match="before calling start_response"):
        session()


def test_a_validator_complaint_reaches_check() -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"text, not bytes".decode()]  # type: ignore[list-item]

    server = serve(app)

    def session() -> None:
        with server:
            requests.get(server.url, timeout=TIMEOUT)

    with pytest.raises(AssertionError, match="non-bytestring"):
        session()


@pytest.mark.parametrize("how", ["yield", "write"])
def test_a_str_body_chunk_gets_500_and_check_raises(how: str) -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        if how == "write":
            write("text, not bytes")  # type: ignore[arg-type]
        yield "text, not bytes"  # type: ignore[misc]

    server = HTTPServer(wsgi=app)  # (no validator: what the app's own mistake does)

    def session() -> None:
        with server:
            reply = requests.get(server.url, timeout=TIMEOUT)
            assert reply.status_code == 500
            assert "the WSGI app raised" in reply.text
            [request] = server.requests
            assert request.response is not None
            assert request.response.status_code == 500

    with pytest.raises(TypeError, match="PEP 3333"):
        session()


def test_keep_alive_and_the_journal_with_a_wsgi_app() -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        size = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(size)
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return [body[::-1]]

    with serve(app) as server, requests.Session() as session:
        replies = [
            session.post(server.url + f"/{index}", data=b"abc%d" % index, timeout=TIMEOUT)
            for index in range(3)
        ]
        requests_seen: list[Request] = server.wait_for_requests(3)
    assert [reply.content for reply in replies] == [b"0cba", b"1cba", b"2cba"]
    assert [request.body for request in requests_seen] == [b"abc0", b"abc1", b"abc2"]
    assert len({request.peer for request in requests_seen}) == 1


@pytest.mark.parametrize(
    ("status", "headers", "message"),
    [
        ("\u00b200 OK", [], r"must look like '200 OK'"),  # (str.isdigit() takes a superscript)
        ("200 OK\r\nX-Injected: 1", [], r"reason phrase .* line break"),
        ("200 OK", [("X-Nul", "a\x00b")], r"'X-Nul': .* control character U\+0000"),
    ],
)
def test_a_status_or_field_that_would_break_the_head_gets_500_and_check_raises(
    http: Version, status: str, headers: list[tuple[str, str]], message: str
) -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response(status, headers)
        return [b"body"]

    server = http.server(wsgi=app)

    def session() -> None:
        with server:
            reply = http.get(server.url, timeout=TIMEOUT)
            assert reply.status_code == 500
            assert "X-Injected" not in reply.headers

    with pytest.raises(ValueError, match=message):
        session()
