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
from collections.abc import Iterator

import pytest
from hyperframe.frame import (
    DataFrame,
    Frame,
    GoAwayFrame,
    HeadersFrame,
    RstStreamFrame,
    WindowUpdateFrame,
)

from h2_client import H2Client
from understudy import HTTPServer, Request, Response, WaitTimeout

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


# -- bodies held back by the client's flow-control windows ------------------------------------

BIG = 1024 * 1024


def _window_update(stream_id: int, increment: int) -> bytes:
    frame = WindowUpdateFrame(stream_id)
    frame.window_increment = increment
    return bytes(frame.serialize())


def _stop_collecting(server: HTTPServer, timeout: float, errors: list[BaseException]) -> None:
    try:
        server.stop(timeout=timeout)
    except BaseException as error:
        errors.append(error)


def test_stop_delivers_a_body_the_window_held_back_once_the_client_opens_it() -> None:
    """A client still reading gets the whole body, over HTTP/2 as over HTTP/1.1: stop() sends
    what the stream's window held back as the client opens it, instead of cutting it off."""
    server = HTTPServer(response=Response(200, body=b"x" * BIG), http_versions=BOTH).start()
    errors: list[BaseException] = []
    stopping = threading.Thread(target=_stop_collecting, args=(server, TIMEOUT, errors))
    with H2Client(server) as client:
        stream = client.request("GET", "/big")
        client.unread.add(stream)  # its window is opened once stop() has begun
        reply = client.replies[stream]
        while len(reply.body) < 65_535:  # the default window: the rest is held back
            client.read()
        stopping.start()
        client.frames_until(GoAwayFrame.type)  # stop() has begun
        client.sock.sendall(_window_update(stream, BIG) + _window_update(0, BIG))
        frames = _frames_until_closed(client)
        stopping.join(TIMEOUT * 2)
    body = reply.body + b"".join(
        bytes(f.data) for f in frames if isinstance(f, DataFrame) and f.stream_id == stream
    )
    assert len(body) == BIG
    assert "END_STREAM" in [f for f in frames if isinstance(f, DataFrame)][-1].flags
    assert not errors
    assert not stopping.is_alive()


def test_stop_cuts_off_an_http2_client_that_stopped_opening_the_window() -> None:
    """A client that stops reading over HTTP/2 leaves the stream's window shut (its transport
    never fills): stop() resets that stream, so the body being produced for it ends, and stop()
    returns without waiting out its timeout or reporting the body as still running."""
    closed = threading.Event()

    def endless() -> Iterator[bytes]:
        try:
            while True:
                yield b"x" * 16_384
        finally:
            closed.set()

    server = HTTPServer(handler=lambda r: Response(200, body=endless()), http_versions=BOTH)
    server.start()
    errors: list[BaseException] = []
    # A timeout far longer than the join's: stop() returns only because the stream is cut off.
    stopping = threading.Thread(target=_stop_collecting, args=(server, 600.0, errors), daemon=True)
    with H2Client(server) as client:
        stream = client.request("GET", "/events")
        client.unread.add(stream)  # the client reads on, but never opens this stream's window
        while len(client.replies[stream].body) < 65_535:
            client.read()
        stopping.start()
        stopping.join(10)
        assert not stopping.is_alive(), "stop() waited for a client that stopped reading"
        frames = _frames_until_closed(client)
    assert not errors
    assert closed.is_set()
    assert any(isinstance(f, RstStreamFrame) and f.stream_id == stream for f in frames)
