"""stop() and a streamed response body still open: one waiting for its next chunk is ended.

An event stream is endless by nature: a test that subscribes, reads an event and leaves its
``with`` block used to wait out stop()'s whole timeout, then fail with ``WaitTimeout`` ("still
running: a response body"). A body waiting between chunks is slowness, not a handler at work:
stop() cancels an async one at its ``await`` and cuts a sync one off (asked for nothing more,
closed once its ``next()`` returns); the client sees the stream end, cut. A sync body computing
inside ``next()`` still counts as running, as a handler does.

Real clients (httpx, a scripted h2c client, http.client over plain and TLS); events and
timeouts only: no sleeps, no timing asserts. stop() is given a timeout (``STOP_TIMEOUT``) the
tests' own waits are far shorter than, so returning without ``WaitTimeout`` is the proof.
"""

from __future__ import annotations

import asyncio
import http.client
import threading
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from hyperframe.frame import RstStreamFrame

import understudy.tls
from h2_client import H2Client
from understudy import HTTPServer, Request, Response, WaitTimeout, event_stream

TIMEOUT = 5.0
#: stop()'s timeout: far longer than any wait of these tests, had stop() waited for the body.
STOP_TIMEOUT = 10.0
BOTH = ("1.1", "2")

needs_thread_cpu_clock = pytest.mark.skipif(
    not hasattr(time, "pthread_getcpuclockid"),
    reason="stop() tells a blocked sync body from a computing one by its thread's CPU clock",
)


class Subscriber:
    """A client of ``/events`` over HTTP/1.1 (httpx) or h2c (scripted, tests/h2_client.py: h2's
    own client takes no frame after a GOAWAY) that reads the first event, then, once stop() has
    returned, what else comes: the stream must have ended cut."""

    def __init__(self, server: HTTPServer, version: str) -> None:
        self.version = version
        if version == "1.1":
            self.client = httpx.Client(http1=True, http2=False, timeout=TIMEOUT)
            request = self.client.build_request("GET", server.url + "/events")
            self.reply = self.client.send(request, stream=True)
            self.lines = self.reply.iter_lines()
        else:
            self.h2 = H2Client(server)
            self.stream = self.h2.request("GET", "/events")

    def first(self) -> str:
        if self.version == "1.1":
            return next(self.lines)
        while not self.h2.replies[self.stream].body:
            self.h2.read()
        return self.h2.replies[self.stream].body.decode().split("\n")[0]

    def assert_cut(self) -> None:
        """The rest of the stream: it ends without its end (HTTP/1.1: no last chunk, so the
        client knows it is incomplete; HTTP/2: RST_STREAM, no END_STREAM)."""
        if self.version == "1.1":
            with pytest.raises(httpx.RemoteProtocolError):
                list(self.lines)
            return
        frames = [f for f in self.h2.frames_until_closed() if f[1] == self.stream]
        assert RstStreamFrame.type in [kind for kind, *_ in frames]
        assert not any("END_STREAM" in flags for *_, flags in frames)

    def close(self) -> None:
        if self.version == "1.1":
            self.reply.close()
            self.client.close()
        else:
            self.h2.close()


@pytest.mark.parametrize("version", ["1.1", "2"], ids=["http1.1", "http2"])
def test_an_async_event_stream_waiting_for_its_next_event_is_cancelled_at_stop(
    version: str,
) -> None:
    closed = threading.Event()

    async def events() -> AsyncIterator[str]:
        try:
            yield "first"
            await asyncio.sleep(3600)  # an endless stream, waiting for its next event
            yield "never"
        finally:
            closed.set()

    with HTTPServer(http_versions=BOTH) as server:  # (leaving it: stop(), then check())
        server.expect("GET", "/events").respond_with(lambda request: event_stream(events()))
        subscriber = Subscriber(server, version)
        try:
            assert subscriber.first() == "data: first"
            server.stop(timeout=STOP_TIMEOUT)
            assert closed.is_set()  # cancelled at its await: its finally ran
            subscriber.assert_cut()
        finally:
            subscriber.close()
    server.check()  # nothing was recorded as a handler error


@needs_thread_cpu_clock
@pytest.mark.parametrize("version", ["1.1", "2"], ids=["http1.1", "http2"])
def test_a_sync_event_stream_blocked_for_its_next_event_is_cut_off_at_stop(version: str) -> None:
    gate, asked_more, closed = threading.Event(), threading.Event(), threading.Event()

    def events(request: Request) -> Response:
        def produce() -> Iterator[str]:
            try:
                yield "first"
                gate.wait(STOP_TIMEOUT * 3)  # blocked inside next(): waiting, not computing
                yield "second"
                asked_more.set()
                yield "third"
            finally:
                closed.set()

        return event_stream(produce())

    server = HTTPServer(handler=events, http_versions=BOTH)
    try:
        with server:
            subscriber = Subscriber(server, version)
            try:
                assert subscriber.first() == "data: first"
                server.stop(timeout=STOP_TIMEOUT)
                subscriber.assert_cut()  # cut at stop, before its next() returned
            finally:
                subscriber.close()
    finally:
        gate.set()
    # The iterator is closed once its current next() returns, and asked for nothing more.
    assert closed.wait(TIMEOUT)
    assert not asked_more.is_set()
    server.check()  # nothing was recorded as a handler error


@needs_thread_cpu_clock
def test_a_sync_body_computing_its_next_chunk_still_counts_as_running() -> None:
    started, release = threading.Event(), threading.Event()

    def chunks() -> Iterator[bytes]:
        yield b"first"
        started.set()
        while not release.is_set():  # a CPU loop inside next(): work, not waiting
            pass
        yield b"second"

    server = HTTPServer(handler=lambda request: Response(200, body=chunks())).start()
    conn = http.client.HTTPConnection(server.host, server.port, timeout=TIMEOUT)
    try:
        conn.request("GET", "/")
        reply = conn.getresponse()
        assert reply.read(5) == b"first"
        assert started.wait(TIMEOUT)
        with pytest.raises(WaitTimeout, match="still running: a response body"):
            server.stop(timeout=0.5)
    finally:
        release.set()
        conn.close()


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
def test_an_async_body_waiting_for_its_next_chunk_is_cut_at_stop(tls: bool) -> None:
    closed = threading.Event()

    async def body() -> AsyncIterator[bytes]:
        try:
            yield b"first"
            await asyncio.Event().wait()  # waits for ever
            yield b"never"
        finally:
            closed.set()

    server = HTTPServer(handler=lambda request: Response(200, body=body()), tls=tls).start()
    if tls:
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            server.host, server.port, timeout=TIMEOUT, context=understudy.tls.client_context()
        )
    else:
        conn = http.client.HTTPConnection(server.host, server.port, timeout=TIMEOUT)
    try:
        conn.request("GET", "/")
        reply = conn.getresponse()
        assert reply.read(5) == b"first"
        server.stop(timeout=STOP_TIMEOUT)
        assert closed.is_set()
        with pytest.raises(http.client.IncompleteRead):
            reply.read()  # no last chunk: the client knows the body was cut
    finally:
        conn.close()
    server.check()
