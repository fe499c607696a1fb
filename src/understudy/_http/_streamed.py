"""A streamed response body at stop(): one waiting for its next chunk is ended, not waited for.

``stop()`` waits for handlers, never for slowness, and a body waiting between chunks (an event
stream waiting for its next event: endless by nature) is slowness. Each body being sent is in
:attr:`Site.inflight <._site.Site.inflight>` under a :class:`StreamedBody`, which names it in
stop()'s timeout report and is how ``_stopping.stop_serving`` ends it
(:func:`stop_streamed_bodies`, at once and at each of its looks):

- an **async** body (a task on the loop) is suspended at an ``await``: waiting for its next
  chunk, it is cancelled there (its ``finally`` runs, the exchange is aborted); waiting for the
  client to take a chunk, it is asked for no chunk more once that is sent;
- a **sync** body (iterated in a worker) is asked for no chunk more; inside ``next()`` it may be
  blocked (waiting) or computing, which only its thread's CPU clock tells: once that has not
  moved for ``_BLOCKED`` seconds the body is cut off (the exchange aborted, its future given
  up: stop() waits for it no longer), and its worker closes the iterator when ``next()``
  returns. One computing still counts as running, as a handler does; where the platform has no
  per-thread CPU clock (Windows, macOS), every sync body inside ``next()`` does.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._site import Exchange

__all__ = ["StreamedBody", "stop_streamed_bodies"]

#: Seconds a sync body's thread must spend inside ``next()`` without using the CPU (more than
#: ``_IDLE_CPU`` seconds of it) to count as blocked, at stop.
_BLOCKED = 0.1
_IDLE_CPU = 0.002

#: The CPU clock of a thread by id (``threading.get_ident``); absent on Windows and macOS.
_cpu_clock: Callable[[int], int] | None = getattr(time, "pthread_getcpuclockid", None)


class StreamedBody:
    """A response body being streamed: called, it names itself in stop()'s timeout report.

    The sender sets :attr:`waiting` around each wait for a chunk and reads :attr:`stopped`
    before asking for the next one (a sync body's worker too: a stale read means one chunk more).
    """

    __slots__ = ("_since", "exchange", "future", "stopped", "sync", "thread", "waiting")

    def __init__(self, exchange: Exchange, *, sync: bool) -> None:
        self.exchange = exchange
        #: Iterated in a worker (else a task on the loop).
        self.sync = sync
        #: The task or worker future sending it (set once made).
        self.future: asyncio.Future[Any] | None = None
        #: stop() began: the body is asked for no chunk more.
        self.stopped = False
        #: Waiting for the body's next chunk (async: in ``__anext__``; sync: inside ``next()``).
        self.waiting = False
        #: A sync body: the thread of the worker iterating it, once it has begun.
        self.thread: int | None = None
        #: A sync body inside ``next()`` at stop: its thread's CPU time, and the loop time, when
        #: it was last seen to use the CPU (or first seen inside ``next()``).
        self._since: tuple[float, float] | None = None

    def __call__(self) -> str:
        return "a response body"

    def stop(self, now: float) -> None:
        """stop() began, or looks again (``now``, loop time): ask for no chunk more; end the
        body if it waits for one (an async one at once, a sync one once seen blocked)."""
        self.stopped = True
        future = self.future
        if future is None or future.done() or not self.waiting:
            self._since = None
        elif not self.sync:
            future.cancel()  # (at its await: _send_async_iterable aborts the exchange)
        elif self.thread is not None:
            self._look(now, self.thread, future)

    def _look(self, now: float, thread: int, future: asyncio.Future[Any]) -> None:
        """A sync body inside ``next()``: cut it off once blocked there for ``_BLOCKED``."""
        cpu = _cpu_time(thread)
        if cpu is None:  # (the platform cannot tell: waited for, as a handler is)
            return
        since = self._since
        if since is None or cpu - since[0] > _IDLE_CPU:
            self._since = (cpu, now)  # computing (or just seen): look again
        elif now - since[1] >= _BLOCKED:
            if not self.exchange.finished:
                self.exchange.abort()  # the client sees the stream cut now
            future.cancel()  # (its worker closes the iterator once next() returns)


def stop_streamed_bodies(inflight: dict[asyncio.Future[Any], Any], now: float) -> None:
    """On stop, at once and at each look: end the streamed bodies of ``inflight`` (those begun
    since too) that wait for their next chunk, as the module says."""
    for description in list(inflight.values()):
        if isinstance(description, StreamedBody):
            description.stop(now)


def _cpu_time(thread: int) -> float | None:
    """Seconds of CPU ``thread`` has used; ``None`` where the platform cannot say."""
    if _cpu_clock is None:
        return None
    try:
        return time.clock_gettime(_cpu_clock(thread))
    except OSError:
        return None
