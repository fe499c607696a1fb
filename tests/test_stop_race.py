"""stop() right after a client connects: the connection accepted in that moment is closed too.

asyncio makes an accepted connection's transport in a task; closing a listener between the accept
and that task used to leave the socket open, its client waiting, until garbage collection. Every
stream server closes its listeners so that such a connection is made and then closed by stop().
"""

from __future__ import annotations

import socket
from collections.abc import Callable

import pytest

import understudy

TIMEOUT = 5.0
ROUNDS = 25

KINDS: dict[str, Callable[[], understudy.Server]] = {
    "http": understudy.HTTPServer,
    "smtp": understudy.SMTPServer,
    "tcp": understudy.TCPServer,
    "syslog over tcp": lambda: understudy.SyslogServer(transport="tcp"),
    "log records over tcp": lambda: understudy.LogRecordServer(transport="tcp"),
}


def connect(server: understudy.Server) -> socket.socket:
    return socket.create_connection(server.address, TIMEOUT)


def ends(client: socket.socket) -> bool:
    """Whether the server ended the connection (EOF or reset) instead of leaving it open."""
    try:
        while client.recv(4096):  # a greeting (SMTP) may come first
            pass
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False
    return True


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_stop_right_after_a_connect_closes_that_connection(kind: str) -> None:
    for _ in range(ROUNDS):
        server = KINDS[kind]().start()
        with connect(server) as client:
            server.stop()
            assert ends(client), f"{kind}: a connection made just before stop() stayed open"


def test_a_proxy_stopped_right_after_a_connect_closes_that_connection() -> None:
    with understudy.TCPServer(echo=True) as upstream:
        for _ in range(ROUNDS):
            proxy = understudy.Proxy(upstream=upstream.address).start()
            with connect(proxy) as client:
                proxy.stop()
                assert ends(client)


def test_a_unix_server_stopped_right_after_a_connect_closes_that_connection() -> None:
    for _ in range(ROUNDS):
        server = understudy.UnixStreamServer().start()
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.settimeout(TIMEOUT)
            client.connect(server.path)
            server.stop()
            assert ends(client)
