"""The lifecycle every server shares, shown on HTTPServer: bind, start, ready, stop, check, with."""

from __future__ import annotations

import errno
import http.client
import pathlib
import socket
import threading
import urllib.error
import urllib.request
import weakref
from typing import Any

import pytest
import requests

import understudy
import understudy.tls
from gc_tools import cyclic_gc_off, holders
from understudy import AddressInUse, ConfigurationError, HTTPServer, Response, WaitTimeout

OK = Response(200, body="ok")


def get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=5) as reply:
        body: bytes = reply.read()
        return body


def test_start_returns_self_with_the_port_known_and_connections_accepted_at_once() -> None:
    server = HTTPServer(response=OK)
    try:
        assert server.start() is server
        assert server.port > 0
        states = [server.ready.is_set(), server.running]
        # No probe request: the very first connection is served.
        assert get(server.url) == b"ok"
        assert len(server.requests) == 1
    finally:
        server.stop()
    states += [server.ready.is_set(), server.running]
    assert states == [True, True, False, False]


def test_start_on_a_running_server_returns_it_unchanged() -> None:
    with HTTPServer(response=OK) as server:
        port = server.port
        assert server.start() is server
        assert server.port == port


def test_start_again_after_stop_serves_again_and_keeps_the_journal() -> None:
    server = HTTPServer(response=OK)
    with server:
        get(server.url)
    with server:
        assert get(server.url) == b"ok"
    assert len(server.requests) == 2


def test_a_given_port_is_kept_across_restarts() -> None:
    with HTTPServer(response=OK) as first:
        port = first.port
    server = HTTPServer(response=OK, port=port)
    with server:
        assert server.port == port
        get(server.url)
    with server:
        assert server.port == port
        assert get(server.url) == b"ok"


def test_a_busy_port_raises_address_in_use_naming_it() -> None:
    with HTTPServer(response=OK) as holder, pytest.raises(AddressInUse) as raised:
        HTTPServer(port=holder.port).start()
    error = raised.value
    assert isinstance(error, OSError)
    assert error.errno == errno.EADDRINUSE
    assert str(holder.port) in str(error)
    assert "port=0" in str(error)


def test_stop_is_idempotent_and_harmless_before_start() -> None:
    server = HTTPServer(response=OK)
    server.stop()
    server.start()
    server.stop()
    server.stop()
    assert not server.running


def test_after_stop_nothing_is_served() -> None:
    server = HTTPServer(response=OK).start()
    address = ("127.0.0.1", server.port)
    server.stop()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(address, timeout=5).close()


def test_stop_gives_an_idle_keep_alive_client_eof() -> None:
    server = HTTPServer(response=OK).start()
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        connection.request("GET", "/")
        assert connection.getresponse().read() == b"ok"
        server.stop()
        assert connection.sock is not None
        assert connection.sock.recv(1) == b""  # EOF, not a hang
    finally:
        connection.close()


def test_stop_times_out_naming_a_handler_still_running() -> None:
    release = threading.Event()

    def stuck(request: understudy.Request) -> str:
        release.wait(10)
        return "late"

    server = HTTPServer(handler=stuck).start()
    client = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    try:
        client.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
        server.wait_for_requests(1)
        with pytest.raises(WaitTimeout, match=r"stuck for GET /slow"):
            server.stop(timeout=0.05)
        assert client.recv(1) == b""  # aborted, not left hanging
    finally:
        release.set()
        client.close()


def test_localhost_listens_on_ipv4_and_ipv6_on_one_port() -> None:
    with HTTPServer(response=OK, host="localhost") as server:
        assert server.url == f"http://localhost:{server.port}"
        assert get(f"http://127.0.0.1:{server.port}/") == b"ok"
        if socket.has_ipv6:
            try:
                body = get(f"http://[::1]:{server.port}/")
            except OSError as error:  # pragma: no cover - a machine without IPv6 loopback
                pytest.skip(f"no IPv6 loopback here: {error}")
            assert body == b"ok"


def test_ipv6_loopback_gets_a_bracketed_url() -> None:
    try:
        server = HTTPServer(response=OK, host="::1").start()
    except OSError as error:  # pragma: no cover - a machine without IPv6 loopback
        pytest.skip(f"no IPv6 loopback here: {error}")
    with server:
        assert server.url == f"http://[::1]:{server.port}"
        assert get(server.url) == b"ok"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"host": ""}, "host='0.0.0.0' explicitly"),
        ({"port": -1}, "port must be an int from 0 to 65535"),
        ({"port": 70000}, "port must be an int from 0 to 65535"),
        ({"port": "80"}, "port must be an int"),
        ({"journal_size": -1}, "journal_size"),
        ({"max_body_size": 0}, "max_body_size must be a positive int"),
        ({"handler": print, "wsgi": print}, "at most one of"),
        ({"handler": 42}, "handler= must be callable"),
        ({"response": "hi"}, "response=Response"),
    ],
)
def test_wrong_arguments_raise_at_construction_saying_what_to_write(
    kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message) as raised:
        HTTPServer(**kwargs)  # type: ignore[arg-type]
    assert isinstance(raised.value, ValueError)


def test_the_port_of_a_server_never_started_is_an_error_that_says_why() -> None:
    with pytest.raises(RuntimeError, match="call start"):
        _ = HTTPServer().port


def test_repr_shows_kind_address_and_state() -> None:
    server = HTTPServer(response=OK)
    assert repr(server) == "<understudy.HTTPServer http://127.0.0.1:? not started>"
    with server:
        assert repr(server) == f"<understudy.HTTPServer {server.url} running>"
    assert repr(server) == f"<understudy.HTTPServer {server.url} stopped>"


def failing(request: understudy.Request) -> str:
    raise ValueError(f"bad {request.path}")


def test_check_reraises_one_handler_error_as_itself_and_forgets_it() -> None:
    with HTTPServer(handler=failing) as server:
        with pytest.raises(urllib.error.HTTPError) as reply:
            get(server.url + "/one")
        assert reply.value.code == 500
        reply.value.close()
        with pytest.raises(ValueError, match="bad /one") as raised:
            server.check()
        assert raised.value.__traceback__ is not None
        server.check()  # forgotten


def test_check_raises_several_errors_as_an_exception_group() -> None:
    with HTTPServer(handler=failing) as server:
        for path in ("/a", "/b"):
            with pytest.raises(urllib.error.HTTPError) as reply:
                get(server.url + path)
            reply.value.close()
        with pytest.raises(ExceptionGroup) as raised:
            server.check()
    assert sorted(str(error) for error in raised.value.exceptions) == ["bad /a", "bad /b"]


def get_500(url: str) -> None:
    with pytest.raises(urllib.error.HTTPError) as reply:
        get(url)
    assert reply.value.code == 500
    reply.value.close()


def use_failing_server(then_raise: BaseException | None = None) -> HTTPServer:
    with HTTPServer(handler=failing) as server:
        get_500(server.url + "/x")
        if then_raise is not None:
            raise then_raise
    return server


def test_leaving_the_with_block_reraises_a_handler_error() -> None:
    with pytest.raises(ValueError, match="bad /x"):
        use_failing_server()


def test_an_exception_already_propagating_is_not_masked_but_annotated() -> None:
    with pytest.raises(KeyError) as raised:
        use_failing_server(then_raise=KeyError("the test's own error"))
    notes = getattr(raised.value, "__notes__", [])
    assert any("ValueError: bad /x" in note for note in notes)


@pytest.mark.asyncio
async def test_async_with_starts_and_stops() -> None:
    async with HTTPServer(response=OK) as server:
        assert server.running
        reader, writer = await __import__("asyncio").open_connection("127.0.0.1", server.port)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        reply = await reader.read()
        writer.close()
        await writer.wait_closed()
        assert reply.endswith(b"\r\n\r\nok")
        [request] = await server.wait_for_requests_async(1)
        assert request.method == "GET"
    assert not server.running


def test_servers_share_one_loop_thread() -> None:
    with HTTPServer(response=OK):
        before = threading.active_count()
        servers = [HTTPServer(response=OK).start() for _ in range(20)]
        try:
            assert threading.active_count() == before
        finally:
            for server in servers:
                server.stop()


async def _asgi_reading_the_body(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


def _wsgi_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [environ["wsgi.input"].read()]


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"response": Response(200, body="ok")},
        {"handler": lambda request: Response(200, body=request.body)},
        {"asgi": _asgi_reading_the_body},
        {"wsgi": _wsgi_app},
        {"response": Response(200, body="ok"), "tls": True},
        {"response": Response(200, body="ok"), "conditions": understudy.Conditions(latency=0.001)},
        {"response": Response(200, body="ok"), "admin": True},
        {"mappings": pathlib.Path(__file__).parent / "data" / "wiremock"},
    ],
    ids=[
        "nothing",
        "response",
        "handler",
        "asgi",
        "wsgi",
        "tls",
        "conditions",
        "admin",
        "mappings",
    ],
)
def test_a_stopped_server_the_test_drops_is_freed_at_once(options: dict[str, Any]) -> None:
    """No reference cycle holds a stopped server: its journal (which the cyclic GC has no reason
    to look at) goes as soon as the test lets go of it, not whenever the GC next runs."""
    server = HTTPServer(**options).start()
    server.expect("GET", "/expected").respond(204)
    verify = understudy.tls.ca_bundle() if options.get("tls") else True
    with requests.Session() as session:  # (kept alive: the server closes it at stop)
        for path in ("/one", "/two"):
            session.post(server.url + path, data=b"body", verify=verify, timeout=5)
        assert session.get(server.url + "/expected", verify=verify, timeout=5).status_code == 204
        server.stop()
    try:
        server.check()
    except Exception:
        pass
    assert len(server.requests) == 3
    with cyclic_gc_off():
        freed = weakref.ref(server)
        del server
        assert freed() is None, holders(freed)


def test_a_server_never_started_the_test_drops_is_freed_at_once() -> None:
    server = HTTPServer(response=Response(200))
    server.expect("GET", "/").respond(204)
    server.serve_directory("/files", ".")
    with cyclic_gc_off():
        freed = weakref.ref(server)
        del server
        assert freed() is None, holders(freed)
