"""Proxy: relaying clients to a server unchanged, with conditions, recording bytes each way."""

from __future__ import annotations

import smtplib
import socket
import struct
import time

import httpx
import pytest
import requests

from understudy import (
    Conditions,
    ConfigurationError,
    Direction,
    HTTPServer,
    Proxy,
    ProxyConnection,
    Response,
    SMTPServer,
    TCPServer,
    WaitTimeout,
)


def closed_port() -> int:
    """A port on 127.0.0.1 with nothing listening (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def recv_exactly(client: socket.socket, size: int) -> bytes:
    got = b""
    while len(got) < size:
        chunk = client.recv(65536)
        assert chunk, f"closed after {len(got)} bytes"
        got += chunk
    return got


# -- configuration ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "upstream", [None, "127.0.0.1:80", ("127.0.0.1",), ("127.0.0.1", 0), (80, "127.0.0.1")]
)
def test_upstream_must_be_host_and_port(upstream: object) -> None:
    with pytest.raises(ConfigurationError, match=r"upstream= takes \(host, port\)"):
        Proxy(upstream=upstream)  # type: ignore[arg-type]


def test_connect_timeout_must_be_positive() -> None:
    with pytest.raises(ConfigurationError, match="connect_timeout must be seconds > 0"):
        Proxy(upstream=("127.0.0.1", 1), connect_timeout=0)


# -- relaying unchanged ----------------------------------------------------------------------


def test_a_requests_session_passes_through_unchanged() -> None:
    with (
        HTTPServer(response=Response(json={"hello": "world"}, headers={"X-Id": "7"})) as server,
        Proxy(upstream=server.address) as proxy,
        requests.Session() as session,
    ):
        base = f"http://{proxy.host}:{proxy.port}"
        direct = requests.get(server.url + "/direct", timeout=10)
        for index in range(3):
            response = session.post(f"{base}/item/{index}", json={"n": index}, timeout=10)
            assert response.status_code == direct.status_code == 200
            assert response.json() == direct.json() == {"hello": "world"}
            assert response.headers["X-Id"] == "7"
        received = server.wait_for_requests(4)
        [connection] = proxy.connections  # the session kept one connection alive
    assert [r.path for r in received[1:]] == ["/item/0", "/item/1", "/item/2"]
    assert [r.json() for r in received[1:]] == [{"n": 0}, {"n": 1}, {"n": 2}]
    assert connection.upstream.count(b"POST /item/") == 3
    assert connection.downstream.count(b"HTTP/1.1 200 OK") == 3


def test_bytes_are_recorded_each_way() -> None:
    with TCPServer(echo=True) as server, Proxy(upstream=server.address) as proxy:
        with socket.create_connection(proxy.address) as client:
            client.sendall(b"hello through the proxy")
            assert recv_exactly(client, 23) == b"hello through the proxy"
            record = proxy.wait_for_bytes(b"through", direction="downstream")
        closed = proxy.wait_for_connections(1, match=lambda c: c.closed)
    assert record is closed[0]
    assert record.upstream == record.downstream == b"hello through the proxy"
    assert record.error is None
    assert isinstance(record, ProxyConnection)
    assert "upstream=23 bytes downstream=23 bytes" in repr(record)
    assert server.received == b"hello through the proxy"


def test_a_large_transfer_keeps_every_byte_in_order() -> None:
    payload = bytes(range(256)) * 4096  # 1 MiB
    with TCPServer(echo=True) as server, Proxy(upstream=server.address) as proxy:
        with socket.create_connection(proxy.address) as client:
            client.sendall(payload)
            assert recv_exactly(client, len(payload)) == payload
        proxy.wait_for_bytes(len(payload), direction="downstream")


def test_half_close_reaches_the_server() -> None:
    with TCPServer() as server, Proxy(upstream=server.address) as proxy:
        with socket.create_connection(proxy.address) as client:
            client.sendall(b"done")
            client.shutdown(socket.SHUT_WR)
            assert client.recv(10) == b""  # the server closed in turn
        [record] = server.wait_for_connections(1, match=lambda c: c.closed)
    assert record.data == b"done"


def test_smtp_through_the_proxy() -> None:
    with SMTPServer() as server, Proxy(upstream=server.address) as proxy:
        with smtplib.SMTP(proxy.host, proxy.port, timeout=10) as client:
            client.sendmail("a@example.com", ["b@example.com"], "Subject: via proxy\r\n\r\nhi")
        [message] = server.wait_for_messages(1)
    assert message["Subject"] == "via proxy"


# -- conditions ------------------------------------------------------------------------------


def test_latency_through_the_proxy() -> None:
    with (
        TCPServer(echo=True) as server,
        Proxy(upstream=server.address, conditions=Conditions(latency=0.04)) as proxy,
        socket.create_connection(proxy.address) as client,
    ):
        started = time.monotonic()
        client.sendall(b"ping")
        assert recv_exactly(client, 4) == b"ping"
        assert time.monotonic() - started >= 0.08


def test_bandwidth_through_the_proxy_with_httpx() -> None:
    body = b"q" * 20_000
    conditions = Conditions(downstream=Direction(bandwidth=100_000))
    with (
        HTTPServer(response=Response(body=body)) as server,
        Proxy(upstream=server.address, conditions=conditions) as proxy,
    ):
        started = time.monotonic()
        response = httpx.get(f"http://{proxy.host}:{proxy.port}/", timeout=10)
        elapsed = time.monotonic() - started
    assert response.content == body
    assert elapsed >= (20_000 - 2000) / 100_000


def test_limit_data_through_the_proxy_cuts_the_response() -> None:
    with (
        HTTPServer(response=Response(body=b"x" * 5000)) as server,
        Proxy(upstream=server.address, conditions=Conditions(limit_data=100)) as proxy,
        pytest.raises(requests.RequestException),
    ):
        requests.get(f"http://{proxy.host}:{proxy.port}/", timeout=10)


def test_refuse_and_reopen_the_proxy() -> None:
    with (
        TCPServer(echo=True) as server,
        Proxy(upstream=server.address, conditions=Conditions(refuse=True)) as proxy,
    ):
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(proxy.address, timeout=10)
        proxy.set_conditions(None)
        with socket.create_connection(proxy.address, timeout=10) as client:
            client.sendall(b"back")
            assert recv_exactly(client, 4) == b"back"


def test_stop_during_a_throttled_transfer_through_the_proxy_is_prompt() -> None:
    with TCPServer(echo=True) as server:
        proxy = Proxy(upstream=server.address, conditions=Conditions(bandwidth=100))
        with proxy, socket.create_connection(proxy.address) as client:
            client.sendall(b"z" * 10_000)  # 100 s at 100 bytes/s
            proxy.wait_for_connections(1)
            started = time.monotonic()
            proxy.stop()
            assert time.monotonic() - started < 3.0


# -- upstream failures -----------------------------------------------------------------------


def test_refused_upstream_resets_the_client_and_is_recorded_not_raised() -> None:
    port = closed_port()
    with Proxy(upstream=("127.0.0.1", port)) as proxy:
        with socket.create_connection(proxy.address) as client:
            client.settimeout(10)
            with pytest.raises(ConnectionResetError):
                client.recv(10)
        [record] = proxy.wait_for_connections(1, match=lambda c: c.error is not None)
    # leaving the block raised nothing: the refusal is a condition of the network
    assert record.error is not None
    assert record.error.startswith("ConnectionRefusedError: connecting to 127.0.0.1:")


def test_refused_upstream_is_a_connection_error_for_requests() -> None:
    with (
        Proxy(upstream=("127.0.0.1", closed_port())) as proxy,
        pytest.raises(requests.ConnectionError),
    ):
        requests.get(f"http://{proxy.host}:{proxy.port}/", timeout=10)


def reset(sock: socket.socket) -> None:
    """Close ``sock`` with a reset (RST): ``SO_LINGER`` 0."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def test_an_upstream_reset_resets_the_client_and_is_recorded() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(10)
        with Proxy(upstream=listener.getsockname()[:2]) as proxy:
            with socket.create_connection(proxy.address, timeout=10) as client:
                client.sendall(b"ping")
                upstream, _ = listener.accept()
                with upstream:
                    assert recv_exactly(upstream, 4) == b"ping"
                    reset(upstream)
                with pytest.raises(ConnectionResetError):
                    client.recv(10)
            [record] = proxy.wait_for_connections(1, match=lambda c: c.error is not None)
    assert record.error is not None
    assert record.error.startswith("ConnectionResetError: relaying to 127.0.0.1:")


def test_a_client_reset_resets_the_upstream_connection() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(10)
        with Proxy(upstream=listener.getsockname()[:2]) as proxy:
            client = socket.create_connection(proxy.address, timeout=10)
            client.sendall(b"ping")
            upstream, _ = listener.accept()
            with upstream:
                upstream.settimeout(10)
                assert recv_exactly(upstream, 4) == b"ping"
                reset(client)
                with pytest.raises(ConnectionResetError):
                    upstream.recv(10)
            [record] = proxy.wait_for_connections(1, match=lambda c: c.closed)
    assert record.error is None  # (the client's doing, not an upstream failure)


# -- waiting ---------------------------------------------------------------------------------


def test_waits_time_out_with_what_arrived() -> None:
    with (
        TCPServer(echo=True) as server,
        Proxy(upstream=server.address) as proxy,
        socket.create_connection(proxy.address) as client,
    ):
        client.sendall(b"abc")
        recv_exactly(client, 3)
        with pytest.raises(WaitTimeout, match=r"waited 0.1 s for a connection to relay b'xyz'"):
            proxy.wait_for_bytes(b"xyz", timeout=0.1)
        with pytest.raises(WaitTimeout, match="1 connection arrived"):
            proxy.wait_for_connections(2, timeout=0.1)
    with pytest.raises(ConfigurationError, match="direction must be 'upstream'"):
        proxy.wait_for_bytes(b"a", direction="sideways")  # type: ignore[arg-type]
    proxy.clear()
    assert proxy.connections == []


@pytest.mark.asyncio
async def test_async_waits() -> None:
    async with TCPServer(echo=True) as server, Proxy(upstream=server.address) as proxy:
        with socket.create_connection(proxy.address) as client:
            client.sendall(b"async")
            record = await proxy.wait_for_bytes_async(5, direction="downstream")
            [same] = await proxy.wait_for_connections_async(1)
    assert record is same


def test_make_proxy_fixture(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(
        """
        import socket

        def test_through(make_tcp_server, make_proxy):
            server = make_tcp_server(echo=True)
            proxy = make_proxy(upstream=server.address)
            with socket.create_connection(proxy.address) as client:
                client.sendall(b"fixture")
                assert client.recv(7) == b"fixture"
            assert proxy.running
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)
