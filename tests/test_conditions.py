"""Network conditions on every stream server, proven from the client's side over real sockets.

Times are asserted only as lower bounds (a condition cannot make bytes arrive early), or as
bounds so generous that a loaded machine meets them; the precise figures are in ``make bench``.
"""

from __future__ import annotations

import logging
import logging.handlers
import smtplib
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from email.message import EmailMessage

import httpx
import pytest
import requests

import understudy
from understudy import (
    Conditions,
    ConfigurationError,
    Direction,
    HTTPServer,
    LogRecordServer,
    Response,
    SMTPServer,
    StreamConnection,
    SyslogServer,
    TCPServer,
    UDPServer,
    UnixStreamServer,
    tls,
)
from versions import Version


def round_trip(client: socket.socket, data: bytes = b"ping") -> float:
    """Send ``data`` to an echo server; seconds until all of it came back."""
    started = time.monotonic()
    client.sendall(data)
    got = b""
    while len(got) < len(data):
        chunk = client.recv(65536)
        assert chunk, "the connection closed"
        got += chunk
    assert got == data
    return time.monotonic() - started


def recv_all(client: socket.socket) -> bytes:
    chunks = []
    while chunk := client.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def read_into(client: socket.socket, buffer: bytearray) -> None:
    """Read until EOF into ``buffer`` (kept when the read fails)."""
    while chunk := client.recv(65536):
        buffer += chunk


def sender(payload: bytes) -> Callable[[StreamConnection], None]:
    """A handler that sends ``payload``; the connection cut under it (by a limit or a reset,
    as a real network would) is what the test expects, so that is not a handler failure."""

    def handler(connection: StreamConnection) -> None:
        try:
            connection.sendall(payload)
        except ConnectionError:
            pass

    return handler


@pytest.fixture
def client_threads() -> Iterator[list[threading.Thread]]:
    threads: list[threading.Thread] = []
    yield threads
    for thread in threads:
        thread.join(10.0)


# -- configuration ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"latency": -1.0}, "latency must be a number of seconds"),
        ({"jitter": float("nan")}, "jitter must be"),
        ({"bandwidth": 0}, "bandwidth must be a number of bytes per second >= 1"),
        ({"limit_data": 1.5}, "limit_data must be an int"),
        ({"probability": 1.5}, "probability must be a number from 0.0 to 1.0"),
        ({"reset_after": -0.1}, "reset_after must be"),
        ({"latency": 0.1, "upstream": Direction(latency=0.2)}, "not both"),
        ({"downstream": {"latency": 1}}, "downstream= takes understudy.Direction"),
        ({"refuse": True, "accept_but_never_read": True}, "choose one"),
    ],
)
def test_bad_conditions_say_what_to_write(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Conditions(**kwargs)  # type: ignore[arg-type]


def test_conditions_and_seed_are_checked_by_every_server() -> None:
    with pytest.raises(ConfigurationError, match=r"conditions= takes understudy.Conditions"):
        HTTPServer(conditions={"latency": 1})  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="seed must be an int"):
        TCPServer(seed="x")  # type: ignore[arg-type]


def test_datagram_servers_refuse_conditions() -> None:
    with pytest.raises(ConfigurationError, match="datagrams has none"):
        SyslogServer(transport="udp", conditions=Conditions(latency=0.1))
    with pytest.raises(ConfigurationError, match=r"UDPServer\(\) got an unexpected keyword "):
        UDPServer(conditions=Conditions())  # type: ignore[call-arg]


def test_directions_resolve() -> None:
    both = Conditions(latency=0.1, bandwidth=1000)
    assert both.up == both.down == Direction(latency=0.1, bandwidth=1000)
    one_way = Conditions(downstream=Direction(bandwidth=10))
    assert one_way.up == Direction()
    assert one_way.down == Direction(bandwidth=10)


def test_conditions_are_readable_and_settable_before_start() -> None:
    server = TCPServer(conditions=Conditions(latency=0.5))
    assert server.conditions == Conditions(latency=0.5)
    server.set_conditions(None)
    assert server.conditions is None


# -- latency ---------------------------------------------------------------------------------


def test_latency_delays_each_direction() -> None:
    latency = 0.05
    with (
        TCPServer(echo=True, conditions=Conditions(latency=latency)) as server,
        socket.create_connection(server.address) as client,
    ):
        assert round_trip(client) >= 2 * latency


@pytest.mark.parametrize("direction", ["upstream", "downstream"])
def test_latency_one_way(direction: str) -> None:
    conditions = Conditions(**{direction: Direction(latency=0.08)})  # type: ignore[arg-type]
    with (
        TCPServer(echo=True, conditions=conditions) as server,
        socket.create_connection(server.address) as client,
    ):
        assert round_trip(client) >= 0.08


def test_latency_on_a_unix_stream_server() -> None:
    with (
        UnixStreamServer(echo=True, conditions=Conditions(latency=0.03)) as server,
        socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client,
    ):
        client.connect(server.path)
        assert round_trip(client) >= 0.06


def test_jitter_keeps_bytes_in_order() -> None:
    payload = bytes(range(256)) * 40
    conditions = Conditions(latency=0.005, jitter=0.005)
    with (
        TCPServer(echo=True, conditions=conditions, seed=1) as server,
        socket.create_connection(server.address) as client,
    ):
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for start in range(0, len(payload), 97):
            client.sendall(payload[start : start + 97])
        got = b""
        while len(got) < len(payload):
            got += client.recv(65536)
    assert got == payload


def test_http_with_latency_answers_requests_and_httpx(http: Version) -> None:
    with http.server(
        response=Response(json={"ok": True}), conditions=Conditions(latency=0.02)
    ) as server:
        started = time.monotonic()
        assert http.get(server.url + "/a", timeout=10).json() == {"ok": True}
        assert time.monotonic() - started >= 0.04
        assert http.get(server.url + "/b", timeout=10).json() == {"ok": True}
        assert [r.path for r in server.wait_for_requests(2)] == ["/a", "/b"]


def test_smtp_with_latency_and_bandwidth_delivers_the_message() -> None:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "a@example.com", "b@example.com", "hi"
    message.set_content("x" * 3000)
    conditions = Conditions(latency=0.005, bandwidth=200_000)
    with SMTPServer(conditions=conditions) as server:
        with smtplib.SMTP(server.host, server.port, timeout=10) as client:
            client.send_message(message)
        [received] = server.wait_for_messages(1)
    assert received["Subject"] == "hi"
    assert received.text.strip() == "x" * 3000


def test_syslog_over_tcp_with_latency() -> None:
    with SyslogServer(transport="tcp", conditions=Conditions(latency=0.01)) as server:
        with socket.create_connection(server.address) as client:
            client.sendall(b"<14>1 2026-01-01T00:00:00Z host app 1 - - hello\n")
        [message] = server.wait_for_messages(1)
    assert message.msg == "hello"


def test_log_records_with_bandwidth() -> None:
    with LogRecordServer(conditions=Conditions(bandwidth=50_000)) as server:
        handler = logging.handlers.SocketHandler(server.host, server.port)
        logger = logging.getLogger("understudy.test.conditions")
        logger.addHandler(handler)
        try:
            logger.warning("slowly %s", "y" * 2000)
            [record] = server.wait_for_records(1)
        finally:
            logger.removeHandler(handler)
            handler.close()
    assert record.getMessage() == "slowly " + "y" * 2000


# -- bandwidth -------------------------------------------------------------------------------


def test_bandwidth_limits_a_download(http: Version) -> None:
    size, bandwidth = 30_000, 150_000
    body = b"z" * size
    with http.server(response=Response(body=body), conditions=Conditions(bandwidth=bandwidth)) as s:
        started = time.monotonic()
        response = http.get(s.url, timeout=10)
        elapsed = time.monotonic() - started
    assert response.content == body
    # at most one 20 ms slice ahead of the rate: never faster than this
    assert elapsed >= (size - bandwidth * 0.02) / bandwidth


def test_upstream_bandwidth_limits_an_upload() -> None:
    size, bandwidth = 20_000, 200_000
    conditions = Conditions(upstream=Direction(bandwidth=bandwidth))
    with (
        TCPServer(conditions=conditions) as server,
        socket.create_connection(server.address) as client,
    ):
        started = time.monotonic()
        client.sendall(b"u" * size)
        record = server.wait_for_bytes(size)
        elapsed = time.monotonic() - started
    assert record.data == b"u" * size
    assert elapsed >= (size - bandwidth * 0.02) / bandwidth


# -- limits, closes and resets ---------------------------------------------------------------


def test_limit_data_closes_after_that_many_bytes_downstream() -> None:
    conditions = Conditions(downstream=Direction(limit_data=1000))
    with (
        TCPServer(handler=sender(b"d" * 10_000), conditions=conditions) as server,
        socket.create_connection(server.address) as client,
    ):
        assert recv_all(client) == b"d" * 1000


def test_limit_data_closes_after_that_many_bytes_upstream() -> None:
    conditions = Conditions(upstream=Direction(limit_data=5))
    with (
        TCPServer(conditions=conditions) as server,
        socket.create_connection(server.address) as client,
    ):
        client.sendall(b"0123456789")
        assert recv_all(client) == b""  # closed by the proxy of conditions
        [record] = server.wait_for_connections(1, match=lambda c: c.closed)
    assert record.data == b"01234"


def test_limit_data_truncates_an_http_response_for_requests() -> None:
    conditions = Conditions(limit_data=300)
    with (
        HTTPServer(response=Response(body=b"b" * 10_000), conditions=conditions) as server,
        pytest.raises(requests.exceptions.RequestException),
    ):
        requests.get(server.url, timeout=10).content  # noqa: B018 - reading is the test


def test_slow_close_delays_the_close() -> None:
    with (
        TCPServer(handler=sender(b"bye"), conditions=Conditions(slow_close=0.2)) as server,
        socket.create_connection(server.address) as client,
    ):
        assert client.recv(10) == b"bye"
        started = time.monotonic()
        assert client.recv(10) == b""
        assert time.monotonic() - started >= 0.15


def test_reset_after_seconds_resets_the_connection() -> None:
    with (
        TCPServer(conditions=Conditions(reset_after=0.0)) as server,
        socket.create_connection(server.address) as client,
    ):
        client.settimeout(10)
        with pytest.raises(ConnectionResetError):
            client.recv(10)


def test_reset_after_zero_is_a_connection_error_for_requests_and_httpx() -> None:
    with HTTPServer(response=Response(body=b"ok"), conditions=Conditions(reset_after=0.0)) as s:
        with pytest.raises(requests.ConnectionError):
            requests.get(s.url, timeout=10)
        with pytest.raises(httpx.TransportError):
            httpx.get(s.url, timeout=10)


def test_reset_after_bytes_resets_mid_transfer() -> None:
    conditions = Conditions(reset_after_bytes=2000)
    with (
        TCPServer(handler=sender(b"r" * 50_000), conditions=conditions) as server,
        socket.create_connection(server.address) as client,
    ):
        client.settimeout(10)
        with pytest.raises(ConnectionResetError):
            read_into(client, got := bytearray())
    assert got == b"r" * len(got)
    assert len(got) <= 2000


# -- refusing and never reading --------------------------------------------------------------


def test_refuse_closes_the_listener_and_set_conditions_reopens_it_on_the_same_port() -> None:
    with SMTPServer(conditions=Conditions(refuse=True)) as server:
        port = server.port
        with pytest.raises(ConnectionRefusedError):
            smtplib.SMTP(server.host, port, timeout=10)
        server.set_conditions(None)
        assert server.port == port
        with smtplib.SMTP(server.host, port, timeout=10) as client:
            assert client.noop()[0] == 250
        server.set_conditions(Conditions(refuse=True))
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(server.address, timeout=10)


def test_refuse_on_a_unix_stream_server() -> None:
    with UnixStreamServer(echo=True, conditions=Conditions(refuse=True)) as server:
        with (
            socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client,
            pytest.raises(ConnectionRefusedError),
        ):
            client.connect(server.path)
        server.set_conditions(Conditions())
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.connect(server.path)
            round_trip(client)


def test_refuse_leaves_open_connections_alone() -> None:
    with (
        TCPServer(echo=True) as server,
        socket.create_connection(server.address) as client,
    ):
        server.wait_for_connections(1)
        server.set_conditions(Conditions(refuse=True))
        round_trip(client)
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(server.address, timeout=10)


def test_accept_but_never_read() -> None:
    with TCPServer(echo=True, conditions=Conditions(accept_but_never_read=True)) as server:
        with socket.create_connection(server.address) as client:
            client.sendall(b"anyone?")
            client.settimeout(0.2)
            with pytest.raises(TimeoutError):
                client.recv(10)
        assert server.connections == []


def test_accept_but_never_read_makes_requests_time_out() -> None:
    with HTTPServer(
        response=Response(body=b"ok"), conditions=Conditions(accept_but_never_read=True)
    ) as server:
        with pytest.raises(requests.exceptions.ReadTimeout):
            requests.get(server.url, timeout=0.2)
        assert server.requests == []


# -- probability and seeds -------------------------------------------------------------------


def reset_pattern(seed: int) -> list[bool]:
    conditions = Conditions(reset_after=0.0, probability=0.5)
    pattern = []
    with TCPServer(echo=True, conditions=conditions, seed=seed) as server:
        for _ in range(16):
            with socket.create_connection(server.address) as client:
                client.settimeout(10)
                try:
                    round_trip(client)
                except ConnectionResetError:
                    pattern.append(True)
                else:
                    pattern.append(False)
    return pattern


def test_probability_applies_to_some_connections_as_the_seed_says() -> None:
    first = reset_pattern(seed=1234)
    assert any(first)
    assert not all(first)
    assert reset_pattern(seed=1234) == first


def test_server_random_is_seeded() -> None:
    assert TCPServer(seed=5).random.random() == TCPServer(seed=5).random.random()


# -- changing conditions while running -------------------------------------------------------


def test_set_conditions_reaches_an_open_shaped_connection() -> None:
    with (
        TCPServer(echo=True, conditions=Conditions()) as server,
        socket.create_connection(server.address) as client,
    ):
        round_trip(client)
        server.set_conditions(Conditions(latency=0.05))
        assert round_trip(client) >= 0.1
        server.set_conditions(None)
        round_trip(client)  # lifted: passes again at once


@pytest.mark.asyncio
async def test_set_conditions_async() -> None:
    async with TCPServer(echo=True) as server:
        await server.set_conditions_async(Conditions(refuse=True))
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(server.address, timeout=10)
        await server.set_conditions_async(None)
        with socket.create_connection(server.address, timeout=10) as client:
            round_trip(client)


# -- stopping in the middle ------------------------------------------------------------------


def test_stop_during_a_throttled_transfer_returns_promptly(
    client_threads: list[threading.Thread],
) -> None:
    outcome: list[object] = []

    def download(url: str) -> None:
        try:
            outcome.append(len(requests.get(url, timeout=30).content))
        except requests.RequestException as error:
            outcome.append(error)

    server = HTTPServer(
        response=Response(body=b"s" * 1_000_000), conditions=Conditions(bandwidth=1000)
    )
    with server:
        thread = threading.Thread(target=download, args=(server.url,))
        client_threads.append(thread)
        thread.start()
        server.wait_for_requests(1)
        started = time.monotonic()
    # the transfer would take 1000 s; stopping cancels it
    assert time.monotonic() - started < 3.0
    thread.join(10.0)
    [result] = outcome
    assert result != 1_000_000  # cut short: an exception, or fewer bytes


def test_stop_during_delayed_delivery_returns_promptly() -> None:
    with TCPServer(echo=True, conditions=Conditions(latency=60.0)) as server:
        client = socket.create_connection(server.address)
        client.sendall(b"held for a minute")
        server.wait_for_connections(1)
        started = time.monotonic()
        server.stop()
        assert time.monotonic() - started < 3.0
        client.close()
    assert server.connections == [] or server.connections[0].data == b""


def test_repr_names_the_public_classes() -> None:
    assert repr(Conditions(latency=0.1)).startswith("Conditions(latency=0.1")
    assert understudy.Conditions is Conditions


# -- with TLS ------------------------------------------------------------------------------------


def test_https_with_bandwidth_shapes_the_decrypted_stream(http: Version) -> None:
    body = b"t" * 20_000
    conditions = Conditions(bandwidth=200_000)
    with http.server(tls=True, response=Response(body=body), conditions=conditions) as server:
        reply = http.get(server.url, verify=tls.client_context(), timeout=10)
        assert reply.content == body
        [request] = server.wait_for_requests(1)
    assert request.tls is not None


def test_smtp_starttls_under_latency() -> None:
    with SMTPServer(starttls=True, conditions=Conditions(latency=0.005)) as server:
        with smtplib.SMTP(server.host, server.port, timeout=10) as client:
            client.starttls(context=tls.client_context())
            client.sendmail("a@example.com", ["b@example.com"], "Subject: upgraded\r\n\r\nhi")
        [message] = server.wait_for_messages(1)
    assert message["Subject"] == "upgraded"


def test_a_tls_client_closing_under_conditions_makes_asyncio_warn_of_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """TLS cannot stay half-open: a shaped connection does not ask to (asyncio warns if it does)."""
    with (
        HTTPServer(
            response=Response(200, body="ok"), tls=True, conditions=Conditions(latency=0.001)
        ) as server,
        socket.create_connection(server.address, timeout=5) as raw,
    ):
        sock = tls.client_context().wrap_socket(raw, server_hostname="127.0.0.1")
        try:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            received = b""
            while not received.endswith(b"ok"):
                received += sock.recv(4096)
            plain = sock.unwrap()  # close_notify; returns once the server has sent its own
            assert plain.recv(16) == b""  # the server closed: its end-of-input was handled
        finally:
            sock.close()
    assert [record.getMessage() for record in caplog.records if record.name == "asyncio"] == []


def handshake(raw: socket.socket) -> None:
    """A TLS handshake over ``raw`` with the test CA (through memory BIOs: an ``SSLSocket``
    whose connection is reset before it is made stays unclosed, CPython's own leak)."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    client = tls.client_context().wrap_bio(incoming, outgoing, server_hostname="127.0.0.1")
    while True:
        try:
            client.do_handshake()
        except ssl.SSLWantReadError:
            raw.sendall(outgoing.read())
            received = raw.recv(65536)
            if not received:
                raise ConnectionError("the server closed the connection mid-handshake") from None
            incoming.write(received)
        else:
            return


def test_accept_but_never_read_over_tls_answers_no_handshake() -> None:
    conditions = Conditions(accept_but_never_read=True)
    with (
        TCPServer(tls=True, echo=True, conditions=conditions) as server,
        socket.create_connection(server.address, timeout=0.2) as raw,
        pytest.raises(TimeoutError),
    ):
        handshake(raw)
    assert server.connections == []
    assert server.tls_failures == []


def test_reset_after_zero_over_tls_resets_before_the_handshake() -> None:
    with (
        TCPServer(tls=True, echo=True, conditions=Conditions(reset_after=0.0)) as server,
        pytest.raises(ConnectionResetError),  # (as early as the connect, at times)
        socket.create_connection(server.address, timeout=10) as raw,
    ):
        handshake(raw)
    assert server.connections == []
    assert server.tls_failures == []
