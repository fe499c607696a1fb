"""stop() over HTTP/2 with many streams in flight: nothing is served after it returns.

The guarantee of ``Server.stop`` (README, "The lifecycle every server shares"): a handler still
running at the timeout is reported by ``WaitTimeout`` and its connection aborted, so whatever
it answers later goes nowhere. Over HTTP/2 a connection carries many streams; these tests hold
several per connection past a short stop timeout, let their handlers finish only afterwards
(a sync handler released once stop() has returned; an async one that answers anyway when
cancelled at the timeout), and read every frame the server still sends until it closes: no
HEADERS or DATA frame on those streams. Events and timeouts only; no sleeps, no timing asserts.
"""

from __future__ import annotations

import asyncio
import threading

import pytest
from hyperframe.frame import DataFrame, Frame, GoAwayFrame, HeadersFrame

from h2_client import H2Client
from understudy import HTTPServer, Request, WaitTimeout

BOTH = ("1.1", "2")
TIMEOUT = 5.0
#: stop()'s timeout here: the blocked handlers outlast it whatever it is.
STOP_TIMEOUT = 0.2


def _frames_until_closed(client: H2Client) -> list[Frame]:
    """Every frame the server sends until it closes (or resets) the connection, raw (h2's
    client state machine takes nothing after a GOAWAY)."""
    data = b""
    try:
        while chunk := client.sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        pass
    frames = []
    view = memoryview(data)
    while len(view) >= 9:
        frame, length = Frame.parse_frame_header(view[:9])
        frame.parse_body(view[9 : 9 + length])
        frames.append(frame)
        view = view[9 + length :]
    return frames


def _answered(frames: list[Frame]) -> set[int]:
    """The streams a HEADERS or DATA frame of ``frames`` answered."""
    return {frame.stream_id for frame in frames if isinstance(frame, HeadersFrame | DataFrame)}


def _open_streams(
    server: HTTPServer, connections: int, streams: int
) -> list[tuple[H2Client, set[int]]]:
    """``connections`` h2c clients, each with one stream answered in full (``/done``) and then
    ``streams`` streams (``/block``) whose handlers are still running; all journaled."""
    opened = []
    for index in range(connections):
        client = H2Client(server)
        reply = client.response(client.request("GET", f"/done/{index}"))
        assert reply.body == b"ok"
        blocked = {client.request("GET", f"/block/{index}/{n}") for n in range(streams)}
        opened.append((client, blocked))
    server.wait_for_requests(connections * (streams + 1), timeout=TIMEOUT)
    return opened


def test_a_sync_handler_finishing_after_stop_returned_answers_no_stream() -> None:
    release = threading.Event()
    begun, finished = threading.Semaphore(0), threading.Semaphore(0)

    def handler(request: Request) -> bytes:
        if not request.path.startswith("/block"):
            return b"ok"
        begun.release()
        try:
            release.wait(TIMEOUT)
            return b"late"
        finally:
            finished.release()

    connections, streams = 2, 8  # (16 threads: within the worker pool)
    server = HTTPServer(handler=handler, http_versions=BOTH).start()
    try:
        opened = _open_streams(server, connections, streams)
        for _ in range(connections * streams):  # (each on a thread of its own by then)
            assert begun.acquire(timeout=TIMEOUT)
        with pytest.raises(WaitTimeout) as raised:
            server.stop(timeout=STOP_TIMEOUT)
        assert str(raised.value).count("/block/") == connections * streams
        release.set()  # every blocked handler now returns its answer...
        for _ in range(connections * streams):
            assert finished.acquire(timeout=TIMEOUT)
        for client, blocked in opened:  # ... and none of them is sent
            with client:
                frames = _frames_until_closed(client)
            assert not _answered(frames) & blocked
            assert any(isinstance(frame, GoAwayFrame) for frame in frames)
    finally:
        release.set()
        server.stop()


def test_an_async_handler_answering_once_cancelled_at_the_timeout_answers_no_stream() -> None:
    cancelled = threading.Semaphore(0)

    async def handler(request: Request) -> bytes:
        if not request.path.startswith("/block"):
            return b"ok"
        try:
            await asyncio.sleep(TIMEOUT * 4)
        except asyncio.CancelledError:
            # stop() cancels it at its timeout, after which its connection is aborted: the
            # answer it makes now, while stop() is still closing, goes nowhere.
            cancelled.release()
            return b"late"
        return b"not cancelled"

    connections, streams = 4, 10
    server = HTTPServer(handler=handler, http_versions=BOTH).start()
    try:
        opened = _open_streams(server, connections, streams)
        with pytest.raises(WaitTimeout) as raised:
            server.stop(timeout=STOP_TIMEOUT)
        assert str(raised.value).count("/block/") == connections * streams
        for _ in range(connections * streams):
            assert cancelled.acquire(timeout=TIMEOUT)
        for client, blocked in opened:
            with client:
                frames = _frames_until_closed(client)
            assert not _answered(frames) & blocked
    finally:
        server.stop()
