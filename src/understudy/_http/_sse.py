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

    An event stream is endless by nature: ``stop()`` (and leaving a ``with`` block) does not
    wait for one, nor for any streamed body (``Response(body=<iterable>)``). It asks for no
    event more, and one waiting for its next event is ended: an async iterable is cancelled at
    its ``await`` (its ``finally`` runs); a sync one blocked between events is cut off, and
    closed once its current ``next()`` returns. The client sees the stream cut (HTTP/1.1: no
    last chunk; HTTP/2: RST_STREAM). A sync iterable computing its next event is waited for up
    to ``stop()``'s timeout, as a handler is; so is a blocked one where Python has no
    ``time.pthread_getcpuclockid`` (Windows, macOS), which tells the two apart.

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
