"""Review findings on the HTTP hot path and stop() (see the review report)."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import urllib.request
from collections.abc import MutableMapping
from typing import Any

import pytest

import understudy.tls
from understudy import HTTPServer, Response

TIMEOUT = 10.0
#: More than loopback's kernel buffers hold (about 4 MB), so that at stop() part of the
#: response is still in the server's own buffer.
BIG = 8 * 1024 * 1024
BODY = bytes(range(256)) * (BIG // 256)


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
def test_stop_delivers_the_rest_to_a_client_reading_steadily_at_a_few_mb_per_s(tls: bool) -> None:
    """A client reading steadily (about 1.6 MB/s, paced, never stopping) gets the whole body."""
    server = HTTPServer(response=Response(200, BODY), tls=tls).start()
    try:
        sock: socket.socket = socket.create_connection(server.address, TIMEOUT)
        if tls:
            sock = understudy.tls.client_context().wrap_socket(sock, server_hostname="127.0.0.1")
        sock.sendall(b"GET /big HTTP/1.1\r\nHost: t\r\n\r\n")
        received = sock.recv(65536)  # the response is being sent
        head, _, body = received.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 ")
        errors: list[BaseException] = []
        stopping = threading.Thread(target=lambda: _stop(server, errors))
        stopping.start()
        try:
            # Pacing, not synchronisation: a reader that keeps reading, slower than loopback.
            while len(body) < 1024 * 1024:
                chunk = sock.recv(16384)
                if not chunk:
                    break
                body += chunk
                time.sleep(0.01)
            while len(body) < BIG and (chunk := sock.recv(1024 * 1024)):
                body += chunk
        except ConnectionResetError:
            pass
        finally:
            stopping.join(TIMEOUT)
            sock.close()
        assert not errors
        assert len(body) == BIG
        assert body == BODY
    finally:
        server.stop()


def _stop(server: HTTPServer, errors: list[BaseException]) -> None:
    try:
        server.stop(TIMEOUT)
    except BaseException as error:
        errors.append(error)


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


def test_bytes_after_a_close_request_are_not_recorded_as_that_request() -> None:
    with HTTPServer(response=Response(200, "ok")) as server:
        with socket.create_connection(server.address, TIMEOUT) as sock:
            sock.sendall(
                b"GET /a HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
                b"POST /b HTTP/1.1\r\nHost: t\r\n\r\n"
            )
            while sock.recv(65536):
                pass
        first, second = server.wait_for_requests(2)
    assert (first.method, first.target, first.error) == ("GET", "/a", None)
    assert second.error is not None
    # Not parsed: its fields are empty (Request's contract), not the previous request's.
    assert (second.method, second.target) == ("", "")
