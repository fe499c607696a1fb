"""Sending responses whose body is not ready bytes: iterables, async iterables, and from threads."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import AsyncIterable, Iterable, Iterator
from typing import TYPE_CHECKING

from ._response import Response
from ._streamed import StreamedBody

if TYPE_CHECKING:
    from ._site import Exchange, Site

__all__ = ["ThreadResponder", "gone", "send_response"]

#: Bytes a worker thread may hand to the loop before it waits for the transport to drain.
_UNACKED_LIMIT = 256 * 1024


def send_response(site: Site, exchange: Exchange, response: Response) -> None:
    """On the loop: send ``response``; a streamed body is sent by a task (or a worker) tracked
    by the server, as a :class:`~._streamed.StreamedBody` that stop() ends."""
    body = response.body
    if isinstance(body, bytes):
        exchange.send(response)
        return
    exchange.start(response.status_code, response.reason, response.headers, None)
    future: asyncio.Future[None]
    if isinstance(body, AsyncIterable):
        streamed = StreamedBody(exchange, sync=False)
        future = site.loop.create_task(_send_async_iterable(exchange, body, streamed))
    else:  # (an iterable: Response refuses a body of another type)
        streamed = StreamedBody(exchange, sync=True)
        future = site.runtime.run_in_worker(_send_iterable, site, exchange, body, streamed)
    streamed.future = future
    site.track(future, streamed)


def gone(exchange: Exchange) -> bool:
    """Whether nobody is listening any more: the client went away, or the response was cut.

    (Read from a worker thread too: a stale answer only means one chunk more.)
    """
    return exchange.finished or not exchange.connected


async def _send_async_iterable(
    exchange: Exchange, body: AsyncIterable[bytes], streamed: StreamedBody
) -> None:
    """Send the chunks as the body yields them; stop, closing it, once the client has gone,
    or cut it once stop() began (which cancels it while it waits for a chunk: _streamed).

    An endless body (an event stream) would otherwise run on, written to nobody, until stop()
    gave up waiting for it.
    """
    iterator = aiter(body)
    streamed.waiting = True
    try:
        async for chunk in iterator:
            streamed.waiting = False
            if gone(exchange):
                break
            exchange.write(bytes(chunk))
            await exchange.drain()
            if streamed.stopped:  # (stop() began while the client took it: no chunk more)
                exchange.abort()
                break
            streamed.waiting = True
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


def _send_iterable(
    site: Site, exchange: Exchange, body: Iterable[bytes], streamed: StreamedBody
) -> None:
    """In a worker: send the chunks; stop, closing the iterator, once the client has gone,
    or cut it once stop() began (which may have cut it off inside ``next()``: _streamed)."""
    responder = ThreadResponder(site, exchange)
    streamed.thread = threading.get_ident()
    iterator: Iterator[bytes] = iter(body)
    try:
        while True:
            if streamed.stopped:  # (stop() began: no chunk more is asked of it)
                responder.cut()
                return
            streamed.waiting = True
            try:
                chunk = next(iterator)
            except StopIteration:
                break
            finally:
                streamed.waiting = False
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

    def cut(self) -> None:
        """Abort the response unless it is finished already (stop() may have cut it)."""
        self._loop.call_soon_threadsafe(_cut, self._exchange)

    def send(self, response: Response) -> None:
        self._loop.call_soon_threadsafe(self._exchange.send, response)

    def send_error(self, status: int, message: str) -> None:
        self._loop.call_soon_threadsafe(self._exchange.send_error, status, message)


def _cut(exchange: Exchange) -> None:
    if not exchange.finished:
        exchange.abort()
