"""A streamed ``text/event-stream`` response from an iterable of events."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator, Mapping

from .._core.sse import ServerSentEvent
from ._response import Response

__all__ = ["event_stream"]

Event = ServerSentEvent | str


def _encode(event: Event) -> bytes:
    return (event if isinstance(event, ServerSentEvent) else ServerSentEvent(event)).encode()


def event_stream(
    events: Iterable[Event] | AsyncIterable[Event],
    *,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """A response that streams server-sent events as they are produced (WHATWG HTML §9.2).

    Args:
        events: :class:`~understudy.ServerSentEvent` objects, or ``str`` as plain ``data``;
            an iterable (iterated in the worker pool, so it may block between events) or an
            async iterable (iterated on the loop). Each event is flushed as its own chunk.
        status_code: the status code (RFC 9110 §15).
        headers: extra fields; ``Content-Type: text/event-stream`` and ``Cache-Control:
            no-cache`` are set unless given.

    Returns:
        A :class:`~understudy.Response` to return from a handler or give ``respond_with``.
    """
    fields = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
    given = {name.lower() for name in headers or {}}
    merged = [(k, v) for k, v in fields.items() if k.lower() not in given]
    merged += list((headers or {}).items())
    if isinstance(events, AsyncIterable):
        return Response(status_code, body=_aencode(events), headers=merged)
    return Response(status_code, body=_sync_encode(events), headers=merged)


def _sync_encode(events: Iterable[Event]) -> Iterator[bytes]:
    for event in events:
        yield _encode(event)


async def _aencode(events: AsyncIterable[Event]) -> AsyncIterator[bytes]:
    async for event in events:
        yield _encode(event)
