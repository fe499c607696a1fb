"""HTTP faults and slowness, proven from the client side with real clients over real sockets."""

from __future__ import annotations

import asyncio
import http.client
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

import understudy.tls
from understudy import (
    ConfigurationError,
    Delay,
    Dribble,
    Fault,
    HTTP2Fault,
    HTTPServer,
    Request,
    Response,
)


@pytest.fixture
def server() -> Iterator[HTTPServer]:
    with HTTPServer() as server:
        yield server


def raw_get(server: HTTPServer, path: str = "/x") -> socket.socket:
    """A connected socket that has sent ``GET path``."""
    client = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    client.sendall(f"GET {path} HTTP/1.1\r\nHost: test\r\n\r\n".encode())
    return client


def read_all(client: socket.socket) -> bytes:
    """Everything until the server ends its side."""
    parts = []
    while chunk := client.recv(65536):
        parts.append(chunk)
    return b"".join(parts)


def read_head(client: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = client.recv(65536)
        assert chunk, f"the connection ended before the head was complete: {data!r}"
        data += chunk
    return data


# -- each fault, from requests and httpx -----------------------------------------------------

#: kind -> (what requests raises, what httpx raises)
CLIENT_ERRORS: dict[Fault, tuple[type[Exception], type[Exception]]] = {
    Fault.CONNECTION_RESET: (requests.ConnectionError, httpx.ReadError),
    Fault.CLOSE: (requests.ConnectionError, httpx.RemoteProtocolError),
    Fault.EMPTY_RESPONSE: (requests.ConnectionError, httpx.RemoteProtocolError),
    Fault.RANDOM_DATA_THEN_CLOSE: (requests.ConnectionError, httpx.RemoteProtocolError),
    Fault.MALFORMED_STATUS_LINE: (requests.ConnectionError, httpx.RemoteProtocolError),
    Fault.MALFORMED_CHUNK: (requests.exceptions.ChunkedEncodingError, httpx.RemoteProtocolError),
    Fault.TRUNCATED_BODY: (requests.exceptions.ChunkedEncodingError, httpx.RemoteProtocolError),
    Fault.MALFORMED_CONTENT_CODING: (requests.exceptions.ContentDecodingError, httpx.DecodingError),
    # The HTTP/2 faults on HTTP/1.1: a reset and closes (tests/test_h2.py has them on HTTP/2).
    Fault.STREAM_RESET: (requests.ConnectionError, httpx.ReadError),
    Fault.REFUSED_STREAM: (requests.ConnectionError, httpx.RemoteProtocolError),
    Fault.GOAWAY: (requests.ConnectionError, httpx.RemoteProtocolError),
}


def test_every_fault_but_the_stall_is_tested_here() -> None:
    assert set(CLIENT_ERRORS) == set(Fault) - {Fault.STALL}


@pytest.mark.parametrize("kind", list(CLIENT_ERRORS), ids=lambda kind: kind.name)
def test_requests_sees_the_fault(server: HTTPServer, kind: Fault) -> None:
    expectation = server.expect("GET", "/x").fault(kind)
    with pytest.raises(CLIENT_ERRORS[kind][0]):
        requests.get(server.url + "/x", timeout=5)
    # The faulted request is recorded and counted.
    [request] = server.wait_for_requests(1)
    assert request.path == "/x"
    assert request.error is None
    assert expectation.calls == 1


@pytest.mark.parametrize("kind", list(CLIENT_ERRORS), ids=lambda kind: kind.name)
def test_httpx_sees_the_fault(server: HTTPServer, kind: Fault) -> None:
    server.expect("GET", "/x").fault(kind)
    with pytest.raises(CLIENT_ERRORS[kind][1]):
        httpx.get(server.url + "/x", timeout=5)


def test_a_truncated_body_is_shorter_than_its_content_length(server: HTTPServer) -> None:
    server.expect("GET", "/x").fault(Fault.TRUNCATED_BODY)
    with raw_get(server) as client:
        data = read_all(client)
    head, _, body = data.partition(b"\r\n\r\n")
    declared = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
    assert 0 < len(body) < declared


def test_a_reset_is_a_reset(server: HTTPServer) -> None:
    server.expect("GET", "/x").fault(Fault.CONNECTION_RESET)
    with raw_get(server) as client, pytest.raises(ConnectionResetError):
        client.recv(1024)


@pytest.mark.parametrize("kind", [Fault.CLOSE, Fault.EMPTY_RESPONSE])
def test_a_close_sends_nothing_then_ends(server: HTTPServer, kind: Fault) -> None:
    server.expect("GET", "/x").fault(kind)
    with raw_get(server) as client:
        assert client.recv(1024) == b""


@pytest.mark.parametrize("kind", list(CLIENT_ERRORS), ids=lambda kind: kind.name)
def test_requests_and_httpx_see_the_fault_over_tls(kind: Fault) -> None:
    # (TLS cannot half-close: EMPTY_RESPONSE, a FIN on plain TCP, must still end the response.
    # httpx may read a reset under TLS as the end of the stream: ssl's suppress_ragged_eofs.)
    requests_error, httpx_error = CLIENT_ERRORS[kind]
    with HTTPServer(tls=True) as server:
        server.expect("GET", "/x").fault(kind)
        with pytest.raises(requests_error):
            requests.get(server.url + "/x", verify=understudy.tls.ca_bundle(), timeout=5)
        with pytest.raises((httpx_error, httpx.RemoteProtocolError)):
            httpx.get(server.url + "/x", verify=understudy.tls.client_context(), timeout=5)
        assert [request.path for request in server.wait_for_requests(2)] == ["/x", "/x"]


def test_requests_pipelined_behind_a_fault_are_recorded_but_not_answered(
    server: HTTPServer,
) -> None:
    server.expect("GET", "/x").fault(Fault.CLOSE)
    server.expect("GET", "/y").respond(200, body="never")
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as client:
        client.sendall(b"GET /x HTTP/1.1\r\nHost: t\r\n\r\nGET /y HTTP/1.1\r\nHost: t\r\n\r\n")
        assert read_all(client) == b""
    assert server.wait_for_requests(1)[0].path == "/x"


def test_random_data_comes_from_the_servers_random() -> None:
    received = []
    for _ in range(2):
        with HTTPServer() as server:
            server.random.seed(1234)
            server.expect("GET", "/x").fault(Fault.RANDOM_DATA_THEN_CLOSE)
            with raw_get(server) as client:
                received.append(read_all(client))
    assert received[0] == received[1]
    assert received[0]
    assert not received[0].startswith(b"HTTP/")


# -- faults of the body, on HEAD -------------------------------------------------------------

#: The faults that break a response's body, which a HEAD response does not have.
BODY_FAULTS = [Fault.TRUNCATED_BODY, Fault.MALFORMED_CHUNK, Fault.MALFORMED_CONTENT_CODING]


def raw_head(server: HTTPServer) -> socket.socket:
    client = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    client.sendall(b"HEAD /x HTTP/1.1\r\nHost: test\r\n\r\n")
    return client


@pytest.mark.parametrize("kind", BODY_FAULTS, ids=lambda kind: kind.name)
def test_a_body_fault_on_head_cuts_the_head_short(server: HTTPServer, kind: Fault) -> None:
    server.expect("HEAD", "/x").fault(kind)
    with raw_head(server) as client:
        data = read_all(client)
    assert data == b"HTTP/1.1 20"  # cut inside the status code, then closed


@pytest.mark.parametrize("kind", BODY_FAULTS, ids=lambda kind: kind.name)
def test_http_client_sees_a_body_fault_on_head(server: HTTPServer, kind: Fault) -> None:
    expectation = server.expect("HEAD", "/x").fault(kind)
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        connection.request("HEAD", "/x")
        with pytest.raises(http.client.BadStatusLine, match=r"HTTP/1\.1 20"):
            connection.getresponse()
    finally:
        connection.close()
    [request] = server.wait_for_requests(1)
    assert (request.method, request.error, expectation.calls) == ("HEAD", None, 1)


@pytest.mark.parametrize("kind", BODY_FAULTS, ids=lambda kind: kind.name)
def test_requests_and_httpx_see_a_body_fault_on_head(server: HTTPServer, kind: Fault) -> None:
    server.expect("HEAD", "/x").fault(kind)
    with pytest.raises(requests.ConnectionError):
        requests.head(server.url + "/x", timeout=5)
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.head(server.url + "/x", timeout=5)


def test_a_stall_on_head_stalls_inside_the_head(server: HTTPServer) -> None:
    server.expect("HEAD", "/x").fault(Fault.STALL)
    with raw_head(server) as client:
        assert client.recv(1024) == b"HTTP/1.1 20"
        client.settimeout(0.2)
        with pytest.raises(TimeoutError):
            client.recv(1024)
    # http.client (under requests) waits for the rest of the status line: a read timeout
    with pytest.raises(requests.ReadTimeout):
        requests.head(server.url + "/x", timeout=0.2)
    with pytest.raises(httpx.ReadTimeout):
        httpx.head(server.url + "/x", timeout=0.2)
    assert len(server.wait_for_requests(3)) == 3


# -- the stall -------------------------------------------------------------------------------


def test_a_stall_times_the_clients_out(server: HTTPServer) -> None:
    server.expect("GET", "/x").fault(Fault.STALL)
    # requests gets the head, then its read of the body times out (a ConnectionError wrapping
    # urllib3's ReadTimeoutError: requests raises ReadTimeout only before the head).
    with pytest.raises(requests.ConnectionError, match="Read timed out"):
        requests.get(server.url + "/x", timeout=0.2)
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(server.url + "/x", timeout=0.2)
    assert len(server.wait_for_requests(2)) == 2


def test_stop_ends_a_stall_and_the_client_reads_end_of_stream() -> None:
    server = HTTPServer().start()
    try:
        server.expect("GET", "/x").fault(Fault.STALL)
        with raw_get(server) as client:
            assert read_head(client).startswith(b"HTTP/1.1 200 OK\r\n")
            server.stop()
            assert client.recv(1024) == b""
    finally:
        server.stop()


@pytest.mark.parametrize("kind", [Fault.STALL, HTTP2Fault.window(0)], ids=["STALL", "window"])
def test_a_client_that_half_closes_after_its_request_is_stalled_too(kind: Any) -> None:
    # (a half-close is no giving up: the client still reads, as it does a delayed answer)
    server = HTTPServer().start()
    try:
        server.expect("GET", "/x").fault(kind)
        with raw_get(server) as client:
            client.shutdown(socket.SHUT_WR)
            if kind is Fault.STALL:
                assert read_head(client).startswith(b"HTTP/1.1 200 OK\r\n")
            client.settimeout(0.2)
            with pytest.raises(TimeoutError):
                client.recv(1024)
            server.stop()
            client.settimeout(5)
            assert client.recv(1024) == b""
    finally:
        server.stop()


def test_leaving_the_block_during_a_stall_reports_nothing_running() -> None:
    with HTTPServer() as server:
        server.expect("GET", "/x").fault(Fault.STALL)
        client = raw_get(server)
        read_head(client)
    with client:
        assert client.recv(1024) == b""


# -- sequences and retries -------------------------------------------------------------------


def test_urllib3_retries_through_two_resets(server: HTTPServer) -> None:
    expectation = (
        server.expect("GET", "/x")
        .fault(Fault.CONNECTION_RESET)
        .times(2)
        .then.respond(200, json={"ok": True})
    )
    with urllib3.HTTPConnectionPool(
        "127.0.0.1", server.port, retries=Retry(total=3, backoff_factor=0)
    ) as pool:
        response = pool.request("GET", "/x")
    assert response.status == 200
    assert response.json() == {"ok": True}
    assert expectation.calls == 3
    assert len(server.requests) == 3
    server.check()  # the sequence reached its last step


def test_requests_with_a_retrying_adapter_gets_through_a_close_and_a_reset(
    server: HTTPServer,
) -> None:
    (
        server.expect("GET", "/x")
        .fault(Fault.CLOSE)
        .then.fault(Fault.CONNECTION_RESET)
        .then.respond(200, body="third time")
    )
    with requests.Session() as session:
        session.mount("http://", HTTPAdapter(max_retries=Retry(total=3, backoff_factor=0)))
        assert session.get(server.url + "/x", timeout=5).text == "third time"
    assert len(server.requests) == 3


def test_without_retries_the_first_reset_fails_the_call(server: HTTPServer) -> None:
    server.expect("GET", "/x").fault(Fault.CONNECTION_RESET).once().then.respond(200)
    with urllib3.HTTPConnectionPool("127.0.0.1", server.port, retries=False) as pool:
        with pytest.raises(urllib3.exceptions.ProtocolError):
            pool.request("GET", "/x")
        assert pool.request("GET", "/x").status == 200


# -- handlers that return a fault ------------------------------------------------------------


def test_a_handler_returns_a_fault() -> None:
    def handler(request: Request) -> Any:
        return Fault.CONNECTION_RESET if request.path == "/bad" else "fine"

    with HTTPServer(handler=handler) as server:
        with pytest.raises(requests.ConnectionError):
            requests.get(server.url + "/bad", timeout=5)
        assert requests.get(server.url + "/good", timeout=5).text == "fine"


def test_an_async_handler_returns_a_fault() -> None:
    async def handler(request: Request) -> Any:
        await asyncio.sleep(0)
        return Fault.MALFORMED_CHUNK

    with HTTPServer(handler=handler) as server:
        with pytest.raises(httpx.RemoteProtocolError):
            httpx.get(server.url + "/x", timeout=5)
        server.check()  # a fault is an answer, not an error


def test_respond_with_a_handler_that_fails_every_other_call(server: HTTPServer) -> None:
    calls = []

    def flaky(request: Request) -> Any:
        calls.append(request)
        return Fault.CLOSE if len(calls) % 2 else Response(200, body="ok")

    server.expect("GET", "/x").respond_with(flaky)
    with pytest.raises(requests.ConnectionError):
        requests.get(server.url + "/x", timeout=5)
    assert requests.get(server.url + "/x", timeout=5).text == "ok"


# -- delays ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "delay",
    [0.1, Delay.fixed(0.1), Delay.uniform(0.1, 0.15)],
    ids=["seconds", "fixed", "uniform"],
)
def test_a_delayed_response_comes_no_sooner_than_its_delay(
    server: HTTPServer, delay: float | Delay
) -> None:
    server.expect("GET", "/x").respond(200, body="late", delay=delay)
    started = time.monotonic()
    assert requests.get(server.url + "/x", timeout=5).text == "late"
    assert time.monotonic() - started >= 0.1


@pytest.mark.parametrize(
    "delay", [Delay.uniform(30, 60), Delay.lognormal(60, 0.1)], ids=["uniform", "lognormal"]
)
def test_a_client_times_out_on_a_long_random_delay(server: HTTPServer, delay: Delay) -> None:
    server.expect("GET", "/x").respond(200, delay=delay)
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.get(server.url + "/x", timeout=0.2)
    server.wait_for_requests(1)


def test_a_delayed_answer_lets_a_prompt_one_go_first(server: HTTPServer) -> None:
    server.expect("GET", "/slow").respond(200, body="slow", delay=Delay.uniform(0.3, 0.4))
    server.expect("GET", "/fast").respond(200, body="fast")
    finished: list[str] = []

    def get(path: str) -> None:
        finished.append(requests.get(server.url + path, timeout=5).text)

    with ThreadPoolExecutor(2) as pool:
        slow = pool.submit(get, "/slow")
        server.wait_for_requests(1, match=lambda request: request.path == "/slow")
        pool.submit(get, "/fast").result(timeout=5)
        slow.result(timeout=5)
    assert finished == ["fast", "slow"]


def test_a_delayed_fault_and_a_delayed_handler(server: HTTPServer) -> None:
    server.expect("GET", "/fault").fault(Fault.CLOSE, delay=Delay.fixed(0.01))
    server.expect("GET", "/handler").respond_with(lambda request: "hi", delay=Delay.fixed(0.01))
    with pytest.raises(requests.ConnectionError):
        requests.get(server.url + "/fault", timeout=5)
    assert requests.get(server.url + "/handler", timeout=5).text == "hi"


# -- dribble ---------------------------------------------------------------------------------


def test_a_dribbled_body_arrives_whole_and_no_sooner_than_its_duration(
    server: HTTPServer,
) -> None:
    body = bytes(range(256)) * 4
    server.expect("GET", "/x").respond(
        200,
        body=body,
        content_type="application/octet-stream",
        dribble=Dribble(chunks=5, duration=0.2),
    )
    started = time.monotonic()
    response = httpx.get(server.url + "/x", timeout=5)
    assert time.monotonic() - started >= 0.2
    assert response.content == body
    assert response.headers["content-length"] == str(len(body))


def test_a_dribble_and_a_delay_compose(server: HTTPServer) -> None:
    server.expect("GET", "/x").respond(
        200, body="abcdef", delay=0.05, dribble=Dribble(chunks=3, duration=0.05)
    )
    started = time.monotonic()
    assert requests.get(server.url + "/x", timeout=5).text == "abcdef"
    assert time.monotonic() - started >= 0.1


def test_a_dribble_slower_than_the_clients_timeout_times_it_out(server: HTTPServer) -> None:
    server.expect("GET", "/x").respond(200, body="abcdef", dribble=Dribble(chunks=2, duration=60))
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(server.url + "/x", timeout=0.2)


def test_stop_ends_a_dribble() -> None:
    server = HTTPServer().start()
    try:
        server.expect("GET", "/x").respond(
            200, body="abcdef", dribble=Dribble(chunks=2, duration=60)
        )
        with raw_get(server) as client:
            assert read_head(client).startswith(b"HTTP/1.1 200 OK\r\n")
            server.stop()
            try:
                assert client.recv(1024) == b""
            except ConnectionResetError:
                pass  # a busy connection is aborted by stop()
    finally:
        server.stop()


def test_a_dribbled_keep_alive_connection_answers_the_next_request(server: HTTPServer) -> None:
    server.expect("GET", "/x").respond(200, body="abc", dribble=Dribble(chunks=3, duration=0.03))
    with requests.Session() as session:
        assert session.get(server.url + "/x", timeout=5).text == "abc"
        assert session.get(server.url + "/x", timeout=5).text == "abc"
    assert {request.peer for request in server.requests} == {server.requests[0].peer}


def test_a_dribbled_answer_to_head_has_no_body_to_wait_for(server: HTTPServer) -> None:
    server.expect("HEAD", "/x").respond(200, body="abc", dribble=Dribble(chunks=3, duration=60))
    server.expect("GET", "/y").respond(200, body="next")
    with requests.Session() as session:
        response = session.head(server.url + "/x", timeout=5)
        assert (response.status_code, response.headers["content-length"]) == (200, "3")
        # the same connection answers the next request: the dribble did not hold it
        assert session.get(server.url + "/y", timeout=5).text == "next"


# -- wrong arguments -------------------------------------------------------------------------


def test_fault_takes_a_fault(server: HTTPServer) -> None:
    with pytest.raises(ConfigurationError, match=r"Fault.CONNECTION_RESET"):
        server.expect().fault("reset")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fault", "written"),
    [
        (Fault.STALL, "Fault.STALL"),
        (HTTP2Fault.rst_stream("CANCEL"), "understudy.HTTP2Fault.rst_stream('CANCEL')"),
    ],
)
def test_a_fault_given_as_the_servers_response_says_how_to_fail_requests(
    fault: Any, written: str
) -> None:
    with pytest.raises(ConfigurationError) as raised:
        HTTPServer(response=fault)
    message = str(raised.value)
    assert f"handler=lambda request: {written}, or some with" in message
    assert "body=" not in message  # (not "write response=Response(200, body=<Fault...>)")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Delay.fixed(-1), r"Delay.fixed\(...\): a delay is a finite number"),
        (lambda: Delay.uniform(2, 1), r"swap them"),
        (lambda: Delay.lognormal(0, 1), r"median is a finite number of seconds > 0"),
        (lambda: Dribble(chunks=0, duration=1), r"chunks=...\) takes a positive int"),
        (lambda: Dribble(chunks=2, duration=-1), r"duration=...\) takes finite seconds"),
        (lambda: Delay.fixed(1e300), r"a delay is at most 3600 seconds \(one hour\), not 1e\+300"),
        (lambda: Delay.uniform(0, 3601), r"the bounds are at most 3600 seconds"),
        (lambda: Delay.lognormal(1e305, 1), r"the median is at most 3600 seconds"),
        (lambda: Dribble(chunks=2, duration=1e300), r"duration=...\) takes finite seconds"),
    ],
)
def test_bad_delays_and_dribbles_are_refused(make: Any, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        make()


@pytest.mark.parametrize("arguments", [("fixed", 1), (0.5, 1), ("uniform", 0.1, 0.5)])
def test_a_delay_made_directly_says_which_classmethod_to_call(arguments: tuple[Any, ...]) -> None:
    with pytest.raises(ConfigurationError) as raised:
        Delay(*arguments)
    message = str(raised.value)
    assert "Delay.fixed(seconds)" in message
    assert "Delay.uniform(lower, upper)" in message
    assert "Delay.lognormal(median, sigma)" in message


def test_a_delay_must_be_seconds_or_a_delay(server: HTTPServer) -> None:
    with pytest.raises(ConfigurationError, match=r"or give an understudy.Delay"):
        server.expect().respond(delay="soon")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match=r"delay must be seconds >= 0"):
        server.expect().fault(Fault.CLOSE, delay=-1)


def test_a_dribble_needs_a_dribble_and_a_body_of_bytes(server: HTTPServer) -> None:
    with pytest.raises(ConfigurationError, match=r"understudy.Dribble\(chunks=..., duration"):
        server.expect().respond(dribble=3)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match=r"not a streamed one"):
        server.expect().respond(body=[b"a", b"b"], dribble=Dribble(chunks=2, duration=0))


def test_delays_and_dribbles_are_values() -> None:
    assert Delay.fixed(1) == Delay.fixed(1.0)
    assert Delay.uniform(0.1, 0.2) != Delay.uniform(0.1, 0.3)
    assert len({Delay.lognormal(0.2, 0.5), Delay.lognormal(0.2, 0.5)}) == 1
    assert repr(Delay.uniform(0.1, 0.2)) == "understudy.Delay.uniform(0.1, 0.2)"
    assert repr(Dribble(chunks=3, duration=1)) == "understudy.Dribble(chunks=3, duration=1.0)"
    assert Dribble(chunks=3, duration=1) == Dribble(chunks=3, duration=1.0)
    with pytest.raises(AttributeError, match="immutable"):
        Delay.fixed(1)._first = 2
    assert repr(Fault.STALL) == "<Fault.STALL: 'stall'>"
