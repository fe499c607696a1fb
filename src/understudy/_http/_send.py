"""Sending responses whose body is not ready bytes: iterables, async iterables, and from threads."""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import AsyncIterable, Iterable, Iterator
from typing import TYPE_CHECKING

from ._response import Response

if TYPE_CHECKING:
    from ._site import Exchange, Site

__all__ = ["ThreadResponder", "gone", "send_response"]

#: Bytes a worker thread may hand to the loop before it waits for the transport to drain.
_UNACKED_LIMIT = 256 * 1024


def send_response(site: Site, exchange: Exchange, response: Response) -> None:
    """On the loop: send ``response``; a streamed body is sent by a task tracked by the server."""
    body = response.body
    if isinstance(body, bytes):
        exchange.send(response)
        return
    exchange.start(response.status_code, response.reason, response.headers, None)
    if isinstance(body, AsyncIterable):
        site.track(site.loop.create_task(_send_async_iterable(exchange, body)), "a response body")
    elif isinstance(body, Iterable):
        site.track(
            site.runtime.run_in_worker(_send_iterable, site, exchange, body), "a response body"
        )


def gone(exchange: Exchange) -> bool:
    """Whether nobody is listening any more: the client went away, or the response was cut.

    (Read from a worker thread too: a stale answer only means one chunk more.)
    """
    return exchange.finished or not exchange.connected


async def _send_async_iterable(exchange: Exchange, body: AsyncIterable[bytes]) -> None:
    """Send the chunks as the body yields them; stop, closing it, once the client has gone.

    An endless body (an event stream) would otherwise run on, written to nobody, until stop()
    gave up waiting for it.
    """
    iterator = aiter(body)
    try:
        async for chunk in iterator:
            if gone(exchange):
                break
            exchange.write(bytes(chunk))
            await exchange.drain()
    except asyncio.CancelledError as cancelled:
        exchange.abort()
        task = asyncio.current_task()
        if task is None or task.cancelling():  # stop() gave up on it
            raise
        raise RuntimeError(  # (the body's own, from a future cancelled elsewhere: check())
            "a streamed response body raised CancelledError, but its task was not cancelled "
            "(a future or task it awaited was cancelled by someone else)"
        ) from cancelled
    except Exception:
        exchange.abort()
        raise
    finally:
        close = getattr(iterator, "aclose", None)
        if close is not None:
            await close()  # (a generator's finally blocks run now, not when it is collected)
    exchange.end()


def _send_iterable(site: Site, exchange: Exchange, body: Iterable[bytes]) -> None:
    """In a worker: send the chunks; stop, closing the iterator, once the client has gone."""
    responder = ThreadResponder(site, exchange)
    iterator: Iterator[bytes] = iter(body)
    try:
        for chunk in iterator:
            if gone(exchange):
                break
            responder.write(bytes(chunk))
    except Exception:
        responder.abort()
        raise
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            close()
    responder.end()


class ThreadResponder:
    """Sends a response from a worker thread: every call hops to the loop, in order.

    Writes are handed over without waiting, except that after each ``_UNACKED_LIMIT`` bytes the
    thread waits for the transport to drain, so a fast producer cannot fill memory.
    """

    __slots__ = ("_exchange", "_loop", "_unacked")

    def __init__(self, site: Site, exchange: Exchange) -> None:
        self._exchange = exchange
        self._loop = site.loop
        self._unacked = 0

    def start(
        self, status: int, reason: str, fields: list[tuple[str, str]], length: int | None
    ) -> None:
        self._loop.call_soon_threadsafe(self._exchange.start, status, reason, fields, length)

    def write(self, data: bytes) -> None:
        if not data:
            return
        self._loop.call_soon_threadsafe(self._exchange.write, data)
        self._unacked += len(data)
        if self._unacked >= _UNACKED_LIMIT:
            self._unacked = 0
            future = asyncio.run_coroutine_threadsafe(self._exchange.drain(), self._loop)
            try:
                future.result()
            except concurrent.futures.CancelledError:  # the loop is shutting down
                pass

    def end(self) -> None:
        self._loop.call_soon_threadsafe(self._exchange.end)

    def abort(self) -> None:
        self._loop.call_soon_threadsafe(self._exchange.abort)

    def send(self, response: Response) -> None:
        self._loop.call_soon_threadsafe(self._exchange.send, response)

    def send_error(self, status: int, message: str) -> None:
        self._loop.call_soon_threadsafe(self._exchange.send_error, status, message)
