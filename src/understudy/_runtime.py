"""The process-wide runtime: one daemon thread running one asyncio loop that hosts every server.

Starting a server creates no thread and stopping one polls nothing: each server is a listener
handed to this loop. Sync user code (handler callables, WSGI apps) runs in a bounded worker pool,
so a slow handler never stalls the loop or another server; ``async def`` code runs on the loop.

A child made by ``os.fork()`` gets a fresh runtime on first use (the parent's loop thread does
not exist there), and the runtime shuts down at interpreter exit, closing whatever still runs.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import os
import selectors
import sys
import threading
import traceback
import weakref
from collections.abc import Callable, Coroutine
from typing import Any, Generic, Protocol, TypeVar

from ._errors import WaitTimeout
from ._workers import WorkerPool

__all__ = ["Runtime", "get_runtime", "running_runtime"]

T = TypeVar("T")

#: Upper bound on threads running sync user code at once, across every server of the process.
MAX_WORKERS = 32


class _Closeable(Protocol):
    def _abort_at_exit(self) -> None: ...


class Runtime:
    """One asyncio loop on one daemon thread, plus a bounded pool for sync user code."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self._selector = _Selector()
        self.loop: asyncio.AbstractEventLoop = asyncio.SelectorEventLoop(self._selector)
        self.workers = WorkerPool(self.loop, MAX_WORKERS, "understudy-worker")
        self.servers: weakref.WeakSet[_Closeable] = weakref.WeakSet()
        self._posted: set[asyncio.Task[None]] = set()
        self._running = threading.Event()
        self.thread = threading.Thread(target=self._run, name="understudy-loop", daemon=True)
        self.thread.start()
        self._running.wait()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.call_soon(self._running.set)
        try:
            self.loop.run_forever()
        finally:
            self._cancel_leftovers()
            self.loop.close()

    def _cancel_leftovers(self) -> None:
        tasks = asyncio.all_tasks(self.loop)
        for task in tasks:
            task.cancel()
        if tasks:
            self.loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
        self.loop.run_until_complete(self.loop.shutdown_asyncgens())

    @property
    def idle(self) -> bool:
        """Whether the loop waits for I/O or a timer with nothing else to run (read from
        another thread, which holds the GIL: then no callback of the loop is under way, and
        whatever it runs next comes after what that thread posts now, see ``_Selector``)."""
        return self._selector.waiting

    @property
    def in_loop_thread(self) -> bool:
        """Whether the calling thread is the loop's own thread."""
        return threading.get_ident() == self.thread.ident

    def call(
        self,
        coro: Coroutine[Any, Any, T],
        timeout: float | None,
        *,
        twin: str,
        what: str | Callable[[], str] | None = None,
        cancel: bool = True,
    ) -> T:
        """Run ``coro`` on the loop and block the calling thread for its result.

        ``twin`` names the awaitable twin of the blocking method, and ``what`` the wait
        (``"stop() of <understudy.HTTPServer ...>"``, or a callable making it, called only
        for an error; the coroutine's name by default), for the error messages. ``cancel``:
        whether a coroutine that ran out of time is cancelled (``stop()`` lets its run when
        the loop comes back, so the server still closes).

        Raises:
            RuntimeError: if called from the loop thread itself (an ``async def`` handler), where
                blocking would deadlock; use the ``async`` twin of the method instead.
            WaitTimeout: if ``timeout`` (seconds) passes first: the message names ``what``
                and where the loop's thread was (something held it: a blocking call in an
                ``async def`` handler...).
        """
        if self.in_loop_thread:
            coro.close()
            self.refuse_on_loop(twin)
        hop = _Hop(coro)
        self.loop.call_soon_threadsafe(hop.begin, self.loop)
        if hop.finished.acquire(timeout=-1 if timeout is None else timeout):
            return hop.outcome()
        if hop.finished.acquire(blocking=False):  # (it finished as the wait ran out)
            return hop.outcome()
        if cancel:
            self.loop.call_soon_threadsafe(hop.cancel)
        if callable(what):
            what = what()
        what = what or f"{getattr(coro, '__qualname__', 'a call')}()"
        raise self.held_loop_timeout(what, timeout)

    def refuse_on_loop(self, twin: str) -> None:
        """Raise ``RuntimeError`` naming ``twin``, the awaitable method to write instead, if
        called from the loop's thread, where a blocking call would deadlock (see :meth:`call`)."""
        if self.in_loop_thread:
            raise RuntimeError(
                "a blocking understudy call was made on understudy's own event loop (from an "
                f"async handler), where it would deadlock; write `await ....{twin}(...)` instead"
            )

    def call_function(
        self,
        function: Callable[[], T],
        timeout: float,
        *,
        what: Callable[[], str],
        settle: bool = False,
    ) -> T:
        """Run ``function()`` on the loop, as a callback, and block the calling thread for
        its result (:meth:`call` for what needs no await: no task, one loop turn less).

        ``settle``: return only once the callbacks ``function`` scheduled have run too (the
        loop's next turn, at once: a transport it closed has closed its socket), so that
        they do not contend with the calling thread for the GIL once it goes on.

        Raises:
            RuntimeError: called from the loop thread (see :meth:`call`).
            WaitTimeout: the loop did not run it within ``timeout`` seconds (then it never
                does); the message names ``what`` and where the loop's thread was.
            BaseException: what ``function`` raised.
        """
        if self.in_loop_thread:
            raise RuntimeError("a blocking understudy call was made on understudy's own loop")
        call = _Call(function, self.loop if settle else None)
        self.loop.call_soon_threadsafe(call.run)
        if call.finished.acquire(timeout=timeout) or not call.skip():
            return call.outcome()
        raise self.held_loop_timeout(what(), timeout)

    def held_loop_timeout(self, what: str, timeout: float | None) -> WaitTimeout:
        """The error for a wait on the loop that ran out because the loop did not get to it:
        it names ``what`` was awaited, for how long, and where the loop's thread is."""
        return WaitTimeout(self._held(what, timeout))

    def _held(self, what: str, timeout: float | None) -> str:
        """The message for a wait on the loop that ran out: what, how long, where the loop is."""
        frame = sys._current_frames().get(self.thread.ident or -1)  # (for the report)
        where = "".join(traceback.format_stack(frame)[-3:]) if frame is not None else ""
        return (
            f"waiting for {what}: understudy's event loop did not get to it within {timeout:g} s; "
            "its thread is held (a blocking call in an async def handler or ASGI app, or a "
            "long computation on the loop). The loop's thread is at:\n" + where.rstrip()
        )

    def post(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run ``coro`` on the loop without waiting for it: it runs after whatever was posted
        or called before, and before whatever is after (``call_soon_threadsafe`` keeps order).
        ``coro`` handles its own errors; one it lets through is logged by asyncio.

        Raises:
            RuntimeError: the loop is closed (at interpreter exit).
        """
        try:
            self.loop.call_soon_threadsafe(self._begin_posted, coro)
        except BaseException:
            coro.close()
            raise

    def _begin_posted(self, coro: Coroutine[Any, Any, None]) -> None:
        self._posted.add(self.loop.create_task(self._run_posted(coro)))

    async def _run_posted(self, coro: Coroutine[Any, Any, None]) -> None:
        try:
            await coro
        finally:
            # (the loop holds tasks weakly: the set keeps a posted one until it ends)
            self._posted.discard(asyncio.current_task())

    async def call_async(self, coro: Coroutine[Any, Any, T], *, cancel: bool = True) -> T:
        """Run ``coro`` on the runtime's loop and await it from the caller's own loop.

        ``cancel``: whether cancelling the caller cancels ``coro`` too (``stop_async()`` lets
        it run to its end, so that the server still closes)."""
        if self.in_loop_thread:
            return await coro
        future = asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self.loop))
        return await (future if cancel else asyncio.shield(future))

    def run_in_worker(self, fn: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        """From the loop: run ``fn(*args)`` in the worker pool, keeping the caller's context."""
        return self.workers.submit(fn, *args)

    def close(self) -> None:
        """Abort every server still running, stop the loop and join its thread."""
        if not self.thread.is_alive():
            return
        try:
            aborted = asyncio.run_coroutine_threadsafe(_abort_all(self.servers), self.loop)
            aborted.result(timeout=_ABORT_TIMEOUT)
        except (RuntimeError, concurrent.futures.TimeoutError):  # the loop is closed or stuck
            pass
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5.0)
        self.workers.close()


class _Outcome(Generic[T]):
    """What a call onto the loop ended with, for the caller's thread: a result, or an error."""

    __slots__ = ("error", "result")

    result: T | None
    error: BaseException | None

    def outcome(self) -> T:
        """In the caller's thread, once the call has ended: the result, or raise."""
        error = self.error
        if error is not None:
            self.error = None  # (no cycle through the traceback's frames)
            raise error
        return self.result  # type: ignore[return-value] # (set: the call returned)


class _Hop(_Outcome[T]):
    """One blocking call onto the loop: a task for ``coro``, made by a callback the caller
    schedules, whose end releases :attr:`finished` (held until then) directly.

    Leaner than ``asyncio.run_coroutine_threadsafe`` and ``concurrent.futures.Future``: no
    future chained to the task, so the caller wakes in the loop iteration the coroutine ends
    in, not one later, and waits on a bare lock rather than a condition. Every ``start()`` and
    ``stop()`` makes one (see ``Runtime.call``).
    """

    __slots__ = ("began", "coro", "finished", "task")

    def __init__(self, coro: Coroutine[Any, Any, T]) -> None:
        self.coro = coro
        self.task: asyncio.Task[None] | None = None
        self.began = False
        self.result: T | None = None
        self.error: BaseException | None = None
        self.finished = threading.Lock()
        self.finished.acquire()

    def begin(self, loop: asyncio.AbstractEventLoop) -> None:
        """On the loop: start the task (a callback from ``call_soon_threadsafe``)."""
        self.task = loop.create_task(self._run())

    async def _run(self) -> None:
        self.began = True
        try:
            self.result = await self.coro
        except BaseException as error:  # noqa: BLE001 - handed to the caller's thread
            self.error = error
        finally:
            self.finished.release()

    def cancel(self) -> None:
        """On the loop: cancel the task (the caller stopped waiting)."""
        if self.task is not None:
            self.task.cancel()
        if not self.began:
            self.coro.close()  # (its task ends before running it: it would warn "never awaited")


class _Selector(selectors.DefaultSelector):
    """The loop's selector, noting while the loop waits with nothing ready to run.

    The loop computes a wait of 0 when callbacks are ready, so :attr:`waiting` is true only
    from just before a wait with nothing ready to just after it. A thread that reads it true
    while holding the GIL knows the loop is not in a callback; events the wait returns are
    queued after any callback that thread posts meanwhile (``call_soon_threadsafe``).
    """

    waiting = False

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        self.waiting = timeout is None or timeout > 0
        try:
            return super().select(timeout)
        finally:
            self.waiting = False


class _Call(_Outcome[T]):
    """One blocking call of a plain function on the loop (see ``Runtime.call_function``)."""

    __slots__ = ("finished", "function", "guard", "settle", "skipped", "taken")

    def __init__(self, function: Callable[[], T], settle: asyncio.AbstractEventLoop | None) -> None:
        self.function = function
        self.settle = settle
        self.result: T | None = None
        self.error: BaseException | None = None
        self.guard = threading.Lock()
        self.taken = self.skipped = False
        self.finished = threading.Lock()
        self.finished.acquire()

    def run(self) -> None:
        """On the loop: call the function, unless the caller gave up waiting."""
        with self.guard:
            if self.skipped:
                return
            self.taken = True
        try:
            self.result = self.function()
        except BaseException as error:  # noqa: BLE001 - handed to the caller's thread
            self.error = error
        finally:
            if self.settle is None:
                self.finished.release()
            else:  # (after what the function scheduled: call_soon keeps order)
                self.settle.call_soon(self.finished.release)

    def skip(self) -> bool:
        """In the caller's thread, having waited in vain: ``True`` if the function will now
        never run; ``False`` once it has run (it had begun: this waits for its end)."""
        with self.guard:
            if not self.taken:
                self.skipped = True
                return True
        self.finished.acquire()
        return False


#: Seconds ``close()`` gives the loop to abort the servers at interpreter exit.
_ABORT_TIMEOUT = 2.0
#: Loop iterations an accept task takes to attach its transport (make it, connection_made, the
#: waiter): a connection accepted as the interpreter exits is then closed, not half-made.
_ACCEPT_ITERATIONS = 3


async def _abort_all(servers: weakref.WeakSet[_Closeable]) -> None:
    for _ in range(_ACCEPT_ITERATIONS):
        await asyncio.sleep(0)
    # (read on the loop, after those iterations: a server whose start() did not wait is in
    # the set once the loop has begun serving it, see Serving._serve_posted)
    for server in list(servers):
        server._abort_at_exit()


_lock = threading.Lock()
_runtime: Runtime | None = None


def get_runtime() -> Runtime:
    """Return the process's runtime, creating it (and its loop thread) on first use."""
    global _runtime  # noqa: PLW0603 - the one process-wide runtime is the design
    runtime = running_runtime()
    if runtime is None:
        with _lock:
            runtime = _runtime = running_runtime() or Runtime()
    return runtime


def running_runtime() -> Runtime | None:
    """The process's runtime if one was made in this process, else ``None`` (it never makes
    one: for a question asked where no server may have started)."""
    runtime = _runtime
    return runtime if runtime is not None and runtime.pid == os.getpid() else None


def _forget_after_fork() -> None:
    # The parent's loop thread, and any thread holding the lock, is gone: start afresh.
    global _runtime, _lock  # noqa: PLW0603
    _runtime = None
    _lock = threading.Lock()


def _close_at_exit() -> None:
    runtime = running_runtime()
    if runtime is not None:
        runtime.close()


os.register_at_fork(after_in_child=_forget_after_fork)
atexit.register(_close_at_exit)
