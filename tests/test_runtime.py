"""The runtime: one loop thread per process, fresh after fork, clean at interpreter exit."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import re
import socket
import subprocess
import sys
import textwrap
import threading
import urllib.error
import urllib.request
import warnings
from multiprocessing.connection import Connection
from typing import Any

import pytest

import understudy
from understudy._runtime import get_runtime


def serve_and_fetch(pipe: Connection) -> None:
    response = understudy.Response(200, body=f"pid {os.getpid()}")
    with (
        understudy.HTTPServer(response=response) as server,
        urllib.request.urlopen(server.url, timeout=5) as reply,
    ):
        pipe.send((reply.read().decode(), get_runtime().pid))
    pipe.close()


# The spawn method starts multiprocessing's resource tracker, whose pipe stays open for the life
# of the process by design: not a leak of understudy's.
@pytest.mark.allow_leaks
@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_a_child_process_gets_a_working_runtime_of_its_own(method: str) -> None:
    with understudy.HTTPServer(response=understudy.Response(204)):  # the parent's runtime runs
        context: Any = multiprocessing.get_context(method)
        parent_end, child_end = context.Pipe()
        with warnings.catch_warnings():
            # Python 3.12+ warns that fork() in a threaded process may deadlock; the runtime
            # re-creates its lock and loop in the child, which is what this test proves.
            warnings.simplefilter("ignore", DeprecationWarning)
            child = context.Process(target=serve_and_fetch, args=(child_end,))
            child.start()
        try:
            assert parent_end.poll(30), "the child did not answer within 30 s"
            body, runtime_pid = parent_end.recv()
        finally:
            child.join(30)
            parent_end.close()
            child_end.close()
        assert child.exitcode == 0
        assert body == f"pid {child.pid}"
        assert runtime_pid == child.pid


_SLOW_CALLBACK = re.compile(r"Executing <.*> took [0-9.]+ seconds")


def test_interpreter_exit_with_a_running_server_is_clean() -> None:
    code = textwrap.dedent(
        """
        import urllib.request, understudy
        server = understudy.HTTPServer(response=understudy.Response(200, body="up")).start()
        with urllib.request.urlopen(server.url, timeout=5) as reply:
            assert reply.read() == b"up"
        print("served", flush=True)
        """
    )
    done = subprocess.run(
        [sys.executable, "-X", "dev", "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "served\n"
    # -X dev turns on asyncio's debug mode, which reports callbacks slower than 0.1 s: a loaded
    # machine makes those, and they say nothing about a clean exit.
    said = [line for line in done.stderr.splitlines() if not _SLOW_CALLBACK.fullmatch(line)]
    assert said == []


def test_a_wait_on_a_server_never_started_starts_no_loop_thread() -> None:
    """A wait asks whether it is on the loop's thread without making the loop (in a process of
    its own: in this one the loop runs already)."""
    code = textwrap.dedent(
        """
        import threading, understudy
        server = understudy.HTTPServer()
        try:
            server.wait_for_requests(1, timeout=0.01)
        except understudy.WaitTimeout:
            print(sorted(thread.name for thread in threading.enumerate()), flush=True)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "['MainThread']\n"


def test_a_blocking_call_from_the_loop_thread_says_to_use_the_async_twin() -> None:
    async def handler(request: understudy.Request) -> str:
        understudy.HTTPServer().start()  # blocking, on the loop: refused
        return "unreachable"

    with understudy.HTTPServer(handler=handler) as server:
        with pytest.raises(urllib.error.HTTPError) as reply:
            urllib.request.urlopen(server.url, timeout=5)
        reply.value.close()
        with pytest.raises(RuntimeError, match="start_async"):
            server.check()


def test_a_blocking_stop_from_the_loop_thread_is_refused_and_leaves_the_server_serving() -> None:
    servers: list[understudy.HTTPServer] = []

    async def handler(request: understudy.Request) -> str:
        if request.path == "/stop":
            servers[0].stop()  # blocking, on the loop: refused, and nothing stopped
        return "still served"

    server = understudy.HTTPServer(handler=handler)
    servers.append(server)
    with server:
        _refused_in_the_handler(server, "/stop", match="stop_async")
        assert server.running
        with urllib.request.urlopen(server.url, timeout=5) as again:
            assert again.read() == b"still served"
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(server.address, timeout=5).close()


def test_a_blocking_wait_from_the_loop_thread_says_to_await_its_twin() -> None:
    """Every change a wait looks for is made on the loop: a blocking wait there (in an ``async
    def`` handler) would hold every server for its whole timeout, then say nothing arrived.
    Refused at once, naming the awaitable twin; a wait that already holds still returns."""
    servers: list[understudy.HTTPServer] = []

    async def handler(request: understudy.Request) -> str:
        if request.path == "/held":  # (the journal has this request: it holds)
            return str(len(servers[0].wait_for_requests(1, timeout=10.0)))
        servers[0].wait_for_requests(5, timeout=10.0)  # would block the loop: refused
        return "unreachable"

    server = understudy.HTTPServer(handler=handler)
    servers.append(server)
    with server:
        _refused_in_the_handler(server, "/wait", match=r"await \.\.\.\.wait_for_requests_async\(")
        with urllib.request.urlopen(server.url + "/held", timeout=5) as held:
            assert held.read() == b"1"


def _refused_in_the_handler(server: understudy.HTTPServer, path: str, *, match: str) -> None:
    """GET ``path``, whose async handler made a blocking call: the client gets a 500, and
    ``check()`` raises the ``RuntimeError`` that refused it (``match``: what it names)."""
    with pytest.raises(urllib.error.HTTPError) as reply:
        urllib.request.urlopen(server.url + path, timeout=5)
    assert reply.value.code == 500
    reply.value.close()
    with pytest.raises(RuntimeError, match=match):
        server.check()


# -- a held loop: waits say so ------------------------------------------------------------------


def _hold_the_loop() -> tuple[threading.Event, threading.Event]:
    """Make the loop's thread block (as a blocking call in an async def handler would) until
    the returned ``release`` is set; ``held`` is set once it blocks."""
    held, release = threading.Event(), threading.Event()

    def blocking_call() -> None:
        held.set()
        release.wait(30.0)

    get_runtime().loop.call_soon_threadsafe(blocking_call)
    assert held.wait(5.0)
    return held, release


async def _nothing() -> None:
    pass


def test_a_wait_on_a_held_loop_raises_wait_timeout_naming_it_and_where_the_loop_is() -> None:
    _, release = _hold_the_loop()
    try:
        with pytest.raises(understudy.WaitTimeout) as raised:
            get_runtime().call(_nothing(), 0.2, twin="nothing_async", what="the test's call")
    finally:
        release.set()
    message = str(raised.value)
    assert message.startswith(
        "waiting for the test's call: understudy's event loop did not get to it within 0.2 s"
    )
    assert "blocking_call" in message  # where the loop's thread is held
    assert isinstance(raised.value, TimeoutError)


def test_stop_on_a_held_loop_raises_wait_timeout_and_the_server_stops_once_it_is_free() -> None:
    server = understudy.HTTPServer(response=understudy.Response(204)).start()
    _, release = _hold_the_loop()
    try:
        with pytest.raises(understudy.WaitTimeout, match=r"stop\(\) of <understudy.HTTPServer"):
            server.stop(timeout=0.1)  # (waits 5.1 s: the loop's grace beyond the timeout)
    finally:
        release.set()
    # The stop runs once the loop is free, and the next start() waits for it to have run
    # (or raises WaitTimeout saying it has not).
    with server, urllib.request.urlopen(server.url, timeout=5) as reply:
        assert reply.status == 204


def test_a_stop_async_cancelled_on_a_held_loop_still_stops_the_server_once_it_is_free() -> None:
    """A cancelled ``await stop_async()`` (an anyio cancel scope around ``async with``, an
    ``asyncio.timeout``) stops waiting; the server stops all the same."""
    server = understudy.HTTPServer(response=understudy.Response(204)).start()
    client = socket.create_connection(server.address, timeout=5)
    client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert client.recv(65536).startswith(b"HTTP/1.1 204 ")  # (accepted: a keep-alive client)

    async def cancel_stop_async() -> None:
        stopping = asyncio.ensure_future(server.stop_async())
        await asyncio.sleep(0)  # (one turn of this loop: it now waits for understudy's)
        stopping.cancel()
        with pytest.raises(asyncio.CancelledError):
            await stopping

    _, release = _hold_the_loop()
    try:
        asyncio.run(cancel_stop_async())
    finally:
        release.set()
    with client:
        assert client.recv(65536) == b""  # the stop ran once the loop was free
    with server, urllib.request.urlopen(server.url, timeout=5) as reply:
        assert reply.status == 204


def test_start_on_a_held_loop_returns_and_the_queued_request_is_answered_once_it_is_free() -> None:
    """An HTTP server without an ASGI app does not wait for the loop in start() (its serving
    cannot fail): its socket listens, so a connection made while the loop is held is queued
    by the kernel and answered once the loop is free. A held loop is then said by stop()
    (above), not start()."""
    _, release = _hold_the_loop()
    try:
        server = understudy.HTTPServer(response=understudy.Response(204)).start()
        assert server.running
        client = socket.create_connection(server.address, timeout=10)
        client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    finally:
        release.set()
    with client, server:
        assert client.recv(65536).startswith(b"HTTP/1.1 204 ")
    assert [request.path for request in server.requests] == ["/"]


def test_a_handler_s_timed_read_on_a_held_loop_raises_wait_timeout_naming_it() -> None:
    started, go, done = threading.Event(), threading.Event(), threading.Event()
    caught: list[BaseException] = []

    def handler(connection: understudy.StreamConnection) -> None:
        started.set()
        go.wait(5.0)
        try:
            connection.recv(timeout=0.1)  # the loop times the read: held, it cannot
        except understudy.WaitTimeout as error:
            caught.append(error)
        finally:
            done.set()

    with (
        understudy.TCPServer(handler=handler) as server,
        socket.create_connection(server.address, timeout=5),
    ):
        assert started.wait(5.0)
        _, release = _hold_the_loop()
        try:
            go.set()
            assert done.wait(10.0)
        finally:
            release.set()
    [error] = caught
    assert str(error).startswith("waiting for any data (up to 65536 bytes) from ('127.0.0.1', ")
    assert "blocking_call" in str(error)


def test_call_function_runs_on_the_loop_and_hands_back_its_result_or_its_error() -> None:
    runtime = get_runtime()
    assert runtime.call_function(threading.get_ident, 5.0, what=str) == runtime.thread.ident

    def fails() -> None:
        raise LookupError("from the loop")

    with pytest.raises(LookupError, match="from the loop"):
        runtime.call_function(fails, 5.0, what=str)


def test_call_function_on_a_held_loop_raises_wait_timeout_and_never_runs_the_function() -> None:
    ran = threading.Event()
    _, release = _hold_the_loop()
    try:
        with pytest.raises(understudy.WaitTimeout) as raised:
            get_runtime().call_function(ran.set, 0.2, what=lambda: "the test's function")
    finally:
        release.set()
    assert str(raised.value).startswith("waiting for the test's function: understudy's event loop")
    # (whatever the loop runs next runs after the skipped function would have)
    get_runtime().call_function(lambda: None, 5.0, what=str)
    assert not ran.is_set()
