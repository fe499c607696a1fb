"""The worker pool that runs sync user code (handler callables, WSGI apps) off the loop.

Built for the hop that every such request makes, loop → worker → loop, to be cheap under load,
where its cost is mostly the hand-offs of the GIL between the loop's thread and the workers:

- Jobs submitted during one turn of the loop are handed to the threads together, at the end of
  the turn, through one ``queue.SimpleQueue``; a thread takes them one after the other.
- Finished jobs come back in a batch: a thread wakes the loop (``call_soon_threadsafe``) when it
  finds no job waiting, once for all that finished since the loop last took them. A
  ``ThreadPoolExecutor`` future costs a lock, a condition and a wake-up per job instead.
- Threads are as few as keep jobs moving: another is made only when jobs wait and none has been
  taken for ``GRACE`` seconds (every thread is busy with a slow or blocked call), up to
  ``max_workers``; they are then kept, so a test suite reuses them from server to server. While
  jobs are out, the loop looks every ``GRACE`` seconds, so a result never waits longer than that
  behind a slow job that the same thread took next.
"""

from __future__ import annotations

import asyncio
import contextvars
import queue
import threading
from collections import deque
from collections.abc import Callable
from typing import Any, Generic, TypeVar

__all__ = ["GRACE", "WorkerPool"]

T = TypeVar("T")

#: Seconds between the loop's looks at jobs that are out: waiting jobs none of which was taken
#: in that time get another thread. Twice the interpreter's switch interval (5 ms): under load the
#: GIL alone can keep a busy thread from taking the next job for that long, and more threads
#: would only fight over it.
GRACE = 0.01


class _Job(Generic[T]):
    __slots__ = ("args", "context", "error", "fn", "future", "result", "then")

    def __init__(
        self,
        fn: Callable[..., T],
        args: tuple[Any, ...],
        context: contextvars.Context,
        future: asyncio.Future[T],
        then: Callable[[asyncio.Future[T]], None] | None,
    ) -> None:
        self.fn = fn
        self.args = args
        self.context = context
        self.future = future
        self.then = then
        self.result: T | None = None
        self.error: BaseException | None = None


class WorkerPool:
    """Daemon threads running sync callables for the loop; at most ``max_workers`` at once."""

    def __init__(self, loop: asyncio.AbstractEventLoop, max_workers: int, name: str) -> None:
        self._loop = loop
        self._max_workers = max_workers
        self._name = name
        #: Submitted in this turn of the loop, handed over at its end (loop thread only).
        self._submitted: list[_Job[Any]] = []
        self._jobs: queue.SimpleQueue[_Job[Any] | None] = queue.SimpleQueue()
        self._finished: deque[_Job[Any]] = deque()
        self._wake_pending = False
        #: Jobs submitted and not yet delivered (loop thread only).
        self._out = 0
        #: Jobs taken by the threads so far (it moves while they keep up).
        self._taken = 0
        self._taken_at_last_look = 0
        self._looking: asyncio.TimerHandle | None = None
        self._threads: list[threading.Thread] = []
        self._closed = False

    def submit(self, fn: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        """From the loop: run ``fn(*args)`` on a worker in a copy of the caller's context.

        Returns an asyncio future of the loop that gets the result or the exception. Cancelling
        it does not interrupt a call under way (a thread cannot be): its outcome is then
        dropped; a call not yet taken by a thread is not made.

        Raises:
            RuntimeError: the pool is closed (the interpreter is exiting).
        """
        return self.submit_then(None, fn, *args)

    def submit_then(
        self,
        then: Callable[[asyncio.Future[T]], None] | None,
        fn: Callable[..., T],
        *args: Any,
    ) -> asyncio.Future[T]:
        """:meth:`submit`, and call ``then(future)`` as soon as the future is done.

        ``then`` runs when the loop takes the result, in the same turn, rather than one turn
        later as a done-callback would (one callback less per job, on the path every request
        to a sync handler takes). It is called for a cancelled future too.
        """
        if self._closed:
            raise RuntimeError("the worker pool is closed: the interpreter is exiting")
        future: asyncio.Future[T] = self._loop.create_future()
        submitted = self._submitted
        submitted.append(_Job(fn, args, contextvars.copy_context(), future, then))
        if len(submitted) == 1:
            self._loop.call_soon(self._hand_over)
        self._out += 1
        if not self._threads:
            self._spawn()
        if self._looking is None:
            self._taken_at_last_look = self._taken
            self._looking = self._loop.call_later(GRACE, self._look)
        return future

    def _hand_over(self) -> None:
        submitted, self._submitted = self._submitted, []
        put = self._jobs.put
        for job in submitted:
            put(job)

    def _spawn(self) -> None:
        thread = threading.Thread(
            target=self._work, name=f"{self._name}-{len(self._threads)}", daemon=True
        )
        self._threads.append(thread)
        thread.start()

    def _look(self) -> None:
        """Every ``GRACE`` while jobs are out: take what finished; add a thread if none moves."""
        self._looking = None
        if self._closed:
            return
        if self._finished:
            self._deliver()
        if not self._out:
            return
        taken = self._taken
        if (
            taken == self._taken_at_last_look
            and not self._jobs.empty()
            and len(self._threads) < self._max_workers
        ):
            self._spawn()
        self._taken_at_last_look = taken
        self._looking = self._loop.call_later(GRACE, self._look)

    def _work(self) -> None:
        jobs, finished = self._jobs, self._finished
        while True:
            job = jobs.get()
            if job is None:
                return
            self._taken += 1
            if job.future.cancelled():  # (given up before a thread took it: stop() timed out)
                finished.append(job)
                del job
                continue
            try:
                job.result = job.context.run(job.fn, *job.args)
            except BaseException as error:  # noqa: BLE001 - handed to the loop's future
                job.error = error
            finished.append(job)
            del job
            # Wake the loop once for all that finished, when no job waits to be run next (the
            # loop clears the flag before it takes them, so none is left behind).
            if not self._wake_pending and jobs.empty():
                self._wake_pending = True
                try:
                    self._loop.call_soon_threadsafe(self._deliver)
                except RuntimeError:  # the loop is closed: the interpreter is exiting
                    return

    def _deliver(self) -> None:
        self._wake_pending = False
        finished = self._finished
        while finished:
            job = finished.popleft()
            self._out -= 1
            future = job.future
            if not future.cancelled():
                if job.error is not None:
                    future.set_exception(job.error)
                else:
                    future.set_result(job.result)
            then = job.then
            if then is not None:
                try:
                    then(future)
                except Exception as error:  # noqa: BLE001 - reported as a done-callback's would be
                    self._loop.call_exception_handler(
                        {"message": "a worker job's continuation failed", "exception": error}
                    )

    def close(self) -> None:
        """Let every idle thread end; threads still running user code are left (daemons)."""
        self._closed = True
        if self._looking is not None:
            self._looking.cancel()
        for _ in self._threads:
            self._jobs.put(None)
