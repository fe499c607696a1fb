"""The ``http_server`` fixture parks its listener between tests (``_http/_parking.py``): each
test gets a new server, possibly on the port of the test before it, and nothing else of it."""

from __future__ import annotations

import socket
import textwrap
import threading
import time
import urllib.request
from typing import Any

import pytest

import understudy
import understudy.tls
from understudy._http import _parked
from understudy._http._parking import park, start_fresh
from understudy._runtime import get_runtime

pytest_plugins = ["pytester"]


@pytest.fixture(autouse=True, scope="module")
def _loaded() -> None:
    """Load what a started server loads before the first inner run: pytester drops the modules
    first imported during one, and the next import would make a second copy of each."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})

    for given in ({"tls": True}, {"conditions": understudy.Conditions(latency=0.001)}, {}):
        understudy.HTTPServer(response=understudy.Response(204), **given).start().stop()
    understudy.HTTPServer(asgi=app).start().stop()
    understudy.tls.issue_client_cert("loaded")
    assert _parked.sockets() is not None


pytestmark = pytest.mark.usefixtures("inner_ini")


#: An inner test file's start: a test whose server is served, so that its listener parks.
_WITH_A_TEST_THAT_PARKS = """
import socket, urllib.request
ports = []

def test_parks(http_server):
    http_server.expect("GET", "/").respond(204)
    urllib.request.urlopen(http_server.url, timeout=5).close()  # (served: it parks)
    ports.append(http_server.port)
"""


def test_consecutive_tests_share_the_port_and_nothing_else(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import urllib.request, urllib.error
        seen = []

        def test_first(http_server):
            http_server.expect("GET", "/a").respond(200, body="a")
            with urllib.request.urlopen(http_server.url + "/a", timeout=5) as reply:
                assert reply.read() == b"a"
            seen.append(http_server)

        def test_second(http_server):
            first = seen[0]
            assert not first.running and http_server.running and http_server is not first
            assert http_server.port == first.port  # the listener was kept
            assert http_server.requests == [] and len(first.requests) == 1
            try:  # the first test's expectation is not this server's
                urllib.request.urlopen(http_server.url + "/a", timeout=5)
            except urllib.error.HTTPError as error:
                assert error.code == 404
                error.close()
            first.stop()  # (a no-op: the first server is stopped already)

        def test_third(http_server):
            assert http_server.port == seen[0].port and http_server.requests == []
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=2, failed=1)
    # (the request the second test made was its server's: unexpected there, not in the third)
    result.stdout.fnmatch_lines(["*UnexpectedRequest: No expectation*", "FAILED *::test_second*"])


def test_a_keep_alive_connection_of_a_test_is_closed_after_it(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import http.client
        import pytest
        import understudy
        kept = []

        @pytest.mark.understudy(response=understudy.Response(204))
        def test_keeps_a_connection(http_server):
            conn = http.client.HTTPConnection("127.0.0.1", http_server.port, timeout=5)
            conn.request("GET", "/")
            assert conn.getresponse().read() == b""
            kept.append((conn, http_server.port))

        def test_the_connection_does_not_reach_this_server(http_server):
            conn, port = kept[0]
            assert http_server.port == port
            with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
                conn.request("GET", "/")  # (the server closed it: EOF, or a reset)
                conn.getresponse()
            conn.close()
            assert http_server.requests == []
        """
    )
    pytester.runpytest().assert_outcomes(passed=2)


def test_a_session_client_of_every_test_reconnects_to_the_port(pytester: pytest.Pytester) -> None:
    """A client kept for the session (a ``requests.Session``, the code under test's own)
    holds the keep-alive connection of the test before: closed by parking, it must be seen
    closed by the next test's client (EOF in, before it asks the port again), which then
    connects anew instead of sending its request down the closed connection."""
    pytester.makepyfile(
        """
        import pytest, requests
        session, ports = requests.Session(), []

        @pytest.mark.parametrize("n", range(20))
        def test_get(http_server, n):
            ports.append(http_server.port)
            assert ports[0] == http_server.port  # (the listener was parked: the same port)
            http_server.expect("GET", "/").respond(200, body="ok")
            assert session.get(http_server.url, timeout=5).text == "ok"

        def test_close():
            session.close()
        """
    )
    pytester.runpytest().assert_outcomes(passed=21)


def test_a_connection_made_while_the_listener_is_parked_is_dropped(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        _WITH_A_TEST_THAT_PARKS
        + textwrap.dedent(
            """

        def test_between(tmp_path):
            with socket.create_connection(("127.0.0.1", ports[0]), timeout=5) as client:
                client.sendall(b"GET /stray HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")
                try:
                    assert client.recv(1024) == b""  # dropped, unanswered
                except ConnectionResetError:
                    pass

        def test_adopts(http_server):
            assert http_server.port == ports[0]
            assert http_server.requests == []
        """
        )
    )
    pytester.runpytest().assert_outcomes(passed=3)


def test_nothing_answers_on_the_port_of_a_test_that_ended(pytester: pytest.Pytester) -> None:
    """Whether the server had begun to serve when its test ended (a test that makes no request
    may end first: then it is stopped, not parked) or not, a connection to its port after the
    test is refused or dropped, never answered."""
    pytester.makepyfile(
        """
        import socket
        import pytest
        ports = []

        @pytest.mark.parametrize("n", range(20))
        def test_ends_at_once(http_server, n):
            ports.append(http_server.port)

        @pytest.mark.parametrize("n", range(20))
        def test_nothing_answers(n):
            try:
                client = socket.create_connection(("127.0.0.1", ports[n]), timeout=5)
            except ConnectionRefusedError:
                return
            with client:
                client.sendall(b"GET / HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")
                try:
                    assert client.recv(1024) == b""
                except ConnectionResetError:
                    pass
        """
    )
    pytester.runpytest().assert_outcomes(passed=40)


@pytest.mark.parametrize(
    "marker",
    [
        "tls=True",
        "conditions=understudy.Conditions(latency=0.001)",
        "asgi=app",
    ],
)
def test_a_server_that_is_not_plain_is_stopped_not_parked(
    pytester: pytest.Pytester, marker: str
) -> None:
    pytester.makepyfile(
        f"""
        import socket
        import pytest
        import understudy
        ports = []

        async def app(scope, receive, send):
            if scope["type"] == "lifespan":
                while (await receive())["type"] != "lifespan.shutdown":
                    await send({{"type": "lifespan.startup.complete"}})
                await send({{"type": "lifespan.shutdown.complete"}})

        @pytest.mark.understudy({marker})
        def test_serves(http_server):
            ports.append(http_server.port)

        def test_port_is_closed():
            with pytest.raises(ConnectionRefusedError):
                socket.create_connection(("127.0.0.1", ports[0]), timeout=5)
        """
    )
    pytester.runpytest().assert_outcomes(passed=2)


def test_a_server_still_answering_after_its_test_is_stopped_not_parked(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        import socket, threading, urllib.request
        import pytest
        import understudy
        ports, answered, clients = [], [], []
        arrived, never = threading.Event(), threading.Event()

        def slow(request):
            arrived.set()
            never.wait(1.0)  # (a handler that takes a second: in flight when its test ends)
            return understudy.Response(200, body="late")

        @pytest.mark.understudy(handler=slow)
        def test_leaves_a_request_in_flight(http_server):
            ports.append(http_server.port)
            def fetch():
                with urllib.request.urlopen(http_server.url, timeout=5) as reply:
                    answered.append(reply.read())
            clients.append(threading.Thread(target=fetch))
            clients[0].start()
            assert arrived.wait(5)

        def test_it_was_answered_and_the_port_closed():
            clients[0].join(5)
            assert answered == [b"late"]
            with pytest.raises(ConnectionRefusedError):
                socket.create_connection(("127.0.0.1", ports[0]), timeout=5)
        """
    )
    pytester.runpytest().assert_outcomes(passed=2)


def test_an_http2_stream_still_being_sent_is_cut_when_its_test_ends(
    pytester: pytest.Pytester,
) -> None:
    """A stream whose request an HTTP/2 client of a test was still sending when the test ended
    is cut with its connection, as ``stop()`` cuts it (that server is stopped, not parked): it
    is not answered, and journaled, by that test's server during the next test (where its
    errors would fail nothing)."""
    pytester.makepyfile(
        """
        import h2.events, pytest
        from hyperframe.frame import DataFrame
        from h2_client import H2Client
        kept = []

        @pytest.mark.understudy(http_versions=("1.1", "2"))
        def test_starts_an_upload(http_server):
            client = H2Client(http_server)
            fields = [(b":method", b"POST"), (b":path", b"/"), (b":scheme", b"http"),
                      (b":authority", client.authority)]
            client.conn.send_headers(1, fields, end_stream=False)
            client.conn.send_data(1, b"the first half", end_stream=False)
            client.conn.ping(b"12345678")
            client.flush()
            assert client.until(h2.events.PingAckReceived)  # (the server has the stream)
            kept.append((client, http_server))

        def test_the_stream_is_not_answered(http_server):
            client, first = kept[0]
            assert client.until(h2.events.ConnectionTerminated)  # (the GOAWAY of its end)
            rest = DataFrame(1, b" and the second")
            rest.flags.add("END_STREAM")
            try:
                client.send_raw(rest.serialize())
                frames = client.frames_until_closed()
            except ConnectionError:  # (a reset: the connection was closed)
                frames = []
            client.close()
            assert frames == []
            assert first.requests == [] and http_server.requests == []
        """
    )
    pytester.runpytest().assert_outcomes(passed=2)


def test_conditions_set_on_a_server_on_a_parked_listener_apply(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        _WITH_A_TEST_THAT_PARKS
        + textwrap.dedent(
            """
        import pytest
        import understudy

        def test_refuses_then_serves(http_server):
            assert http_server.port == ports[0]
            http_server.expect("GET", "/").respond(204)
            http_server.set_conditions(understudy.Conditions(refuse=True))
            with pytest.raises(ConnectionRefusedError):
                socket.create_connection(http_server.address, timeout=5)
            http_server.set_conditions(None)
            with urllib.request.urlopen(http_server.url, timeout=5) as reply:
                assert reply.status == 204

        def test_a_server_that_had_conditions_was_not_parked(http_server):
            assert http_server.port != ports[0]
            ports.append(http_server.port)
        """
        )
    )
    pytester.runpytest().assert_outcomes(passed=3)


def test_the_parked_listener_is_closed_at_the_end_of_the_session(
    pytester: pytest.Pytester,
) -> None:
    port_file = pytester.path / "port"
    pytester.makepyfile(
        f"""
        import urllib.request
        ports = []

        def test_serves(http_server):
            http_server.expect("GET", "/").respond(204)
            urllib.request.urlopen(http_server.url, timeout=5).close()
            ports.append(http_server.port)

        def test_parks(http_server):
            assert http_server.port == ports[0]  # (the first one's listener was parked)
            http_server.expect("GET", "/").respond(204)
            urllib.request.urlopen(http_server.url, timeout=5).close()
            with open({str(port_file)!r}, "w") as out:
                out.write(str(http_server.port))
        """
    )
    pytester.runpytest().assert_outcomes(passed=2)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", int(port_file.read_text())), timeout=5)


def test_a_server_whose_serving_has_not_begun_is_parked_once_it_is_served() -> None:
    """A ``start()`` that does not wait posts its serving to the loop; parking can come
    first (here: both wait on a held loop, in that order). It must park the listener once
    the serving has made it, not the bare sockets (which nothing would accept on), and not
    leave that serving to answer for the stopped server."""
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        held.set()
        release.wait(30.0)

    loop = get_runtime().loop
    loop.call_soon_threadsafe(hold)
    assert held.wait(5.0)
    try:
        server = understudy.HTTPServer(response=understudy.Response(500)).start()
        port = server.port
        parking = threading.Thread(target=park, args=(server,))
        parking.start()
        deadline = time.monotonic() + 5.0
        # (both wait on the held loop, in this order: its serving, then the parking)
        while len(loop._ready) < 2 and time.monotonic() < deadline:  # type: ignore[attr-defined]
            pass
    finally:
        release.set()
    parking.join(5.0)
    assert not server.running
    successor = understudy.HTTPServer(response=understudy.Response(204))
    start_fresh(successor)
    with successor:
        assert successor.port == port  # (it adopted the parked listener)
        with urllib.request.urlopen(successor.url, timeout=5) as reply:
            assert reply.status == 204
    assert server.requests == []


@pytest.mark.parametrize("look", ["tcp_info", "poll"])
def test_connections_the_kernel_queued_for_a_parked_listener_are_dropped(
    look: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client of the test that ended may have connected before the listener was parked and
    not been accepted yet: parking drops what the kernel holds in the accept queue, found by
    TCP_INFO (Linux: read without letting go of the GIL) or, elsewhere, by a poll."""
    if look == "tcp_info" and _parked._TCP_INFO is None:
        pytest.skip("TCP_INFO is Linux's")
    if look == "poll":
        monkeypatch.setattr(_parked, "_TCP_INFO", None)
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.setblocking(False)
        address = listener.getsockname()
        parked = _parked.Parked(get_runtime(), [listener], (), "127.0.0.1", address[1])
        clients = [socket.create_connection(address, timeout=5) for _ in range(3)]
        _parked.drop_backlog(parked)
        for client in clients:
            with client:
                try:
                    assert client.recv(1) == b""  # (closed by the server, unanswered)
                except ConnectionResetError:
                    pass
        with pytest.raises(BlockingIOError):  # (nothing left in the queue)
            listener.accept()


def test_only_a_connection_whose_client_closed_it_is_left_to_the_loop() -> None:
    """Parking asks the loop to close the connections left open, unless every client has
    closed its own (TCP's CLOSE_WAIT): the loop then closes each as it reads that end."""
    if _parked._TCP_INFO is None:
        pytest.skip("TCP_INFO is Linux's")
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname(), timeout=5)
        accepted, _ = listener.accept()
        with accepted:

            class Transport:  # (what parking reads of a connection's transport)
                def get_extra_info(self, name: str) -> object:
                    return accepted if name == "socket" else None

            class Connection:
                transport = Transport()

            connections: list[Any] = [Connection()]
            assert not _parked.closed_by_clients(connections)  # (its client is connected)
            client.close()
            accepted.settimeout(5)
            assert accepted.recv(1, socket.MSG_PEEK) == b""  # (the client's end has come)
            assert _parked.closed_by_clients(connections)
