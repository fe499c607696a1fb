"""How to test a client on a bad network: ``conditions=`` on any server, and ``understudy.Proxy``.

``understudy.Conditions`` shapes every connection of a stream server (HTTP, SMTP, TCP, Unix,
syslog and log records over TCP): latency with jitter, a bandwidth limit, each per direction;
closing after N bytes, a slow close, a reset; refusing connections; accepting and never reading.
``server.set_conditions(...)`` changes them while the server runs. Random choices (jitter,
``probability``) come from the server's ``random``, seeded by ``seed=`` so a run can be replayed.

``understudy.Proxy(upstream=(host, port))`` puts the same conditions in front of any TCP server,
one of understudy's or a real local service, and records the bytes each way.

Reference (built by ``make docs`` into site/; every attribute, with its type): ``Conditions`` and
``Direction``: docs/reference/faults.md; ``Proxy`` and the ``ProxyConnection`` records it keeps:
docs/reference/sockets.md.
"""

import socket

import pytest
import requests

import understudy


def test_a_client_times_out_on_a_slow_link() -> None:
    slow = understudy.Conditions(latency=0.2)  # each way: a round trip takes 0.4 s
    with (
        understudy.HTTPServer(response=understudy.Response(json={}), conditions=slow) as server,
        pytest.raises(requests.exceptions.ReadTimeout),
    ):
        requests.get(server.url, timeout=0.1)


def test_a_download_cut_short() -> None:
    body = b"x" * 10_000
    # The server's bytes towards the client stop after 1,000, then the connection closes.
    cut = understudy.Conditions(downstream=understudy.Direction(limit_data=1000))
    with (
        understudy.HTTPServer(response=understudy.Response(body=body), conditions=cut) as server,
        pytest.raises(requests.exceptions.ChunkedEncodingError),
    ):
        requests.get(server.url, timeout=5.0).content  # noqa: B018 - reading is the test


def test_a_server_that_goes_away_and_comes_back() -> None:
    with understudy.HTTPServer(response=understudy.Response(body=b"up")) as server:
        server.set_conditions(understudy.Conditions(refuse=True))  # the port is closed
        with pytest.raises(requests.ConnectionError):
            requests.get(server.url, timeout=5.0)
        server.set_conditions(None)  # listening again, on the same port
        assert requests.get(server.url, timeout=5.0).text == "up"


def test_a_flaky_network_replayed_by_its_seed() -> None:
    # Half the connections are reset as soon as they are accepted; seed=7 picks the same ones
    # every run.
    flaky = understudy.Conditions(reset_after=0.0, probability=0.5)
    with understudy.TCPServer(echo=True, conditions=flaky, seed=7) as server:
        outcomes = []
        for _ in range(8):
            with socket.create_connection(server.address) as client:
                try:
                    client.sendall(b"hi")
                    outcomes.append(client.recv(2))
                except ConnectionResetError:
                    outcomes.append(b"reset")
        assert b"reset" in outcomes
        assert b"hi" in outcomes


def test_a_proxy_in_front_of_any_server() -> None:
    conditions = understudy.Conditions(latency=0.01, bandwidth=100_000)
    with (
        understudy.TCPServer(echo=True) as server,  # or a real local service: ("127.0.0.1", 5432)
        understudy.Proxy(upstream=server.address, conditions=conditions) as proxy,
        socket.create_connection(proxy.address) as client,
    ):
        client.sendall(b"ping")
        assert client.recv(4) == b"ping"
        connection = proxy.wait_for_bytes(b"ping", direction="downstream")
        assert connection.upstream == b"ping"  # what the client sent on to the server
        assert connection.downstream == b"ping"  # what the server sent back to the client


def test_a_proxy_whose_upstream_refuses_resets_the_client_and_says_why() -> None:
    with socket.socket() as closed_port:
        closed_port.bind(("127.0.0.1", 0))  # a port of our own, never listened on: refused
        with understudy.Proxy(upstream=closed_port.getsockname()) as proxy:
            with (
                pytest.raises(ConnectionResetError),  # as it connects, or at its first read
                socket.create_connection(proxy.address, timeout=5) as client,
            ):
                client.recv(1)
            [connection] = proxy.wait_for_connections(1, match=lambda c: c.closed)
    assert connection.error is not None
    assert connection.error.startswith("ConnectionRefusedError: ")  # kept, not raised
    assert connection.closed_at is not None
    assert connection.opened_at <= connection.closed_at
    assert connection.downstream == b""
