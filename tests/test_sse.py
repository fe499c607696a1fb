"""Server-sent events: the pure framing, and a stream read by a real client as it is produced."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator

import pytest

import understudy
from understudy import ServerSentEvent, event_stream
from versions import Version


@pytest.mark.parametrize(
    ("event", "encoded"),
    [
        (ServerSentEvent("hello"), b"data: hello\n\n"),
        (ServerSentEvent(""), b"data: \n\n"),
        (ServerSentEvent("a\nb\r\nc\rd"), b"data: a\ndata: b\ndata: c\ndata: d\n\n"),
        (
            ServerSentEvent("x", event="tick", id="7", retry=1.5),
            b"event: tick\nid: 7\nretry: 1500\ndata: x\n\n",
        ),
        (ServerSentEvent(comment="keep-alive"), b": keep-alive\ndata: \n\n"),
        (ServerSentEvent("é"), "data: é\n\n".encode()),
    ],
)
def test_encoding(event: ServerSentEvent, encoded: bytes) -> None:
    assert event.encode() == encoded


@pytest.mark.parametrize(
    "kwargs",
    [{"event": "a\nb"}, {"id": "1\r2"}, {"id": "a\0b"}, {"retry": -1.0}, {"retry": float("nan")}],
)
def test_bad_fields_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"server-sent event|retry"):
        ServerSentEvent("x", **kwargs)  # type: ignore[arg-type]


def test_events_reach_the_client_as_they_are_produced(http: Version) -> None:
    # The second event is produced only after the client has read the first: proof of streaming.
    first_read = threading.Event()

    def events(request: understudy.Request) -> understudy.Response:
        def produce() -> Iterator[ServerSentEvent | str]:
            yield ServerSentEvent("one", event="tick", id="1")
            assert first_read.wait(5), "the client never read the first event"
            yield "two"

        return event_stream(produce())

    with (
        http.server(handler=events) as server,
        http.client() as client,
        client.stream("GET", server.url + "/events") as reply,
    ):
        assert reply.headers["content-type"] == "text/event-stream"
        if http.name == "1.1":  # (HTTP/2 frames the body itself, RFC 9113 §8.2.2)
            assert reply.headers["transfer-encoding"] == "chunked"
        lines = reply.iter_lines()
        assert [next(lines) for _ in range(4)] == ["event: tick", "id: 1", "data: one", ""]
        first_read.set()
        assert list(lines) == ["data: two", ""]


@pytest.mark.asyncio
async def test_an_async_iterable_of_events(http: Version) -> None:
    async def produce() -> AsyncIterator[str]:
        for n in range(3):
            yield f"event {n}"

    with http.server() as server:
        server.expect("GET", "/events").respond_with(lambda request: event_stream(produce()))
        async with http.async_client() as client:
            reply = await client.get(server.url + "/events")
    assert reply.http_version == ("HTTP/2" if http.name == "2" else "HTTP/1.1")
    assert reply.text == "data: event 0\n\ndata: event 1\n\ndata: event 2\n\n"
