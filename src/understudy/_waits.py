"""The one wait engine under every ``wait_for_*`` and ``wait_for_*_async``: waits that never poll.

A state changes on the runtime's loop thread (a journal gets an entry, a connection receives
bytes) and is waited on from the test's thread or the test's own event loop. A blocking wait
sleeps on a condition; an async one on a future of its own loop, set through
``call_soon_threadsafe``. Every change wakes both kinds, so a wait returns as soon as what it
looks for holds, and raises :class:`~understudy.WaitTimeout` built by its :class:`Wait` if it
does not hold by its timeout.

The rule it keeps: a change takes no lock unless a wait is under way, and a wait never holds
the lock while it looks. A waiter counts itself in ``_waiting`` (under the lock) before it
looks; the changer changes, counts the change (``_version()``), then reads ``_waiting``. So
under the GIL either the waiter sees the change (or, checked under the lock before it sleeps,
that the version moved while it looked: it looks again), or the changer sees the waiter and
wakes it under the lock. Held by tests/test_journal.py and tests/test_waits.py.
"""

from __future__ import annotations

import _thread
import sys
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from ._errors import ConfigurationError, WaitTimeout

if TYPE_CHECKING:
    import asyncio

__all__ = ["Wait", "Waitable", "check_count", "check_timeout", "timed_out"]

R = TypeVar("R")

#: How many of the entries looked at a timeout message lists before summarising the rest.
_SHOWN_IN_TIMEOUT = 5


class Wait(Generic[R]):
    """What one wait looks for, built once and run blocking or async by a :class:`Waitable`.

    Args:
        look: returns what the wait waits for, or ``None`` while it does not hold. Called
            without the lock (it may run the test's ``match``), on the waiting thread.
        fail: the error to raise when the timeout passes (after a last look).
    """

    __slots__ = ("fail", "look")

    def __init__(self, look: Callable[[], R | None], fail: Callable[[], WaitTimeout]) -> None:
        self.look = look
        self.fail = fail


class Waitable:
    """A state that one thread changes and any thread (or event loop) may wait on.

    The changer calls :meth:`changed` after each change, or, as the journal does on its hot
    path, counts the change in what :meth:`_version` returns and calls :meth:`_wake` only when
    ``_waiting`` is not 0. Changes come from one thread only (the loop's).
    """

    __slots__ = ("_async_waiters", "_changes", "_cond", "_lock", "_owner", "_waiting")

    def __init__(self) -> None:
        # Re-entrant: an async wait abandoned with its loop (never cancelled) ends when the cyclic
        # GC collects it, which may happen on a thread holding the lock, and takes it then.
        self._lock = _thread.RLock()  # (threading.RLock's own: one call less)
        # Made on the first blocking wait, so an idle server stays small.
        self._cond: threading.Condition | None = None
        #: Waits under way (sync and async): a change takes the lock only when there are any.
        self._waiting = 0
        self._async_waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
        #: How many times :meth:`changed` was called: a wait looks again when it moves.
        self._changes = 0
        #: The server whose state this is, held weakly (see :meth:`belongs_to`); ``None``: no
        #: server's. Asked only when a wait times out.
        self._owner: weakref.ref[Any] | None = None

    def belongs_to(self, server: Any) -> None:
        """Say ``server`` (anything with a ``running`` bool) is the one whose state this is, so
        that a wait's timeout message says when it was not running (see :func:`timed_out`).
        Held weakly: ``weakref.ref`` gives the one plain reference an object has, so a server
        that holds one already (an HTTP server's ``Site``) costs nothing more."""
        self._owner = weakref.ref(server)

    def shares_server_of(self, other: Waitable) -> None:
        """Say this is the state of the server ``other`` is the state of (see
        :meth:`belongs_to`)."""
        self._owner = other._owner

    def stopped_note(self) -> str:
        """What a timeout message adds when the server whose state this is does not run:
        ``"; the server is stopped: ..."``, else ``""``. Not for a wait's fast path."""
        owner = None if self._owner is None else self._owner()
        if owner is None or owner.running:
            return ""
        return "; the server is stopped: nothing can arrive until start()"

    def changed(self) -> None:
        """Wake every wait: what they look at may have changed. On the changing thread only."""
        self._changes += 1
        if self._waiting:
            self._wake()

    def _version(self) -> int:
        """A number that moves on every change (a subclass adds what it counts itself)."""
        return self._changes

    def _wake(self) -> None:
        with self._lock:
            if self._cond is not None:
                self._cond.notify_all()
            waiters, self._async_waiters = self._async_waiters, []
        for loop, future in waiters:
            try:
                loop.call_soon_threadsafe(_wake, future)
            except RuntimeError:  # its loop is closed: nobody awaits that future any more
                pass

    def wait(self, wait: Wait[R], timeout: float) -> R:
        """Block until ``wait.look()`` returns something; return it.

        Raises:
            ConfigurationError: ``timeout`` is not a non-negative number of seconds.
            WaitTimeout: ``wait.fail()``, after ``timeout`` seconds.
        """
        check_timeout(timeout)
        deadline = time.monotonic() + timeout
        with self._lock:
            if self._cond is None:
                self._cond = threading.Condition(self._lock)
            cond = self._cond
            self._waiting += 1  # (before looking: see the module's rule)
        try:
            while True:
                seen = self._version()
                # Looked at without the lock: a change on the loop's thread never waits for
                # the look (the test's ``match``) to run.
                found = wait.look()
                if found is not None:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise wait.fail()
                _refuse_on_loop()
                with self._lock:
                    if self._version() == seen:  # (else it changed while it looked: look again)
                        cond.wait(remaining)
        finally:
            with self._lock:
                self._waiting -= 1

    async def wait_async(self, wait: Wait[R], timeout: float) -> R:
        """The awaitable twin of :meth:`wait`, for the test's own event loop."""
        import asyncio  # noqa: PLC0415 - (loaded by then: the test's loop runs this)

        check_timeout(timeout)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        with self._lock:
            self._waiting += 1  # (before looking: see the module's rule)
        waiter: tuple[asyncio.AbstractEventLoop, asyncio.Future[None]] | None = None
        try:
            while True:
                seen = self._version()
                found = wait.look()  # (without the lock: see wait)
                if found is not None:
                    return found
                with self._lock:
                    if self._version() != seen:
                        continue  # it changed while it looked: look again
                    waiter = (loop, loop.create_future())
                    self._async_waiters.append(waiter)
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise wait.fail()
                try:
                    await asyncio.wait_for(waiter[1], remaining)
                except TimeoutError:
                    found = wait.look()
                    if found is not None:
                        return found
                    raise wait.fail() from None
        finally:
            with self._lock:
                self._waiting -= 1
                # Not woken (it timed out or was cancelled): its loop may close, so no change
                # must find it.
                if waiter is not None and waiter in self._async_waiters:
                    self._async_waiters.remove(waiter)


def _refuse_on_loop() -> None:
    """Raise ``RuntimeError`` naming the awaitable twin of the wait called, if on the loop's
    thread (an ``async def`` handler): every change a wait looks for is made there, so a
    blocking wait would hold every server for its whole timeout and see nothing arrive."""
    runtimes = sys.modules.get("understudy._runtime")  # (not loaded: no loop runs yet)
    runtime = None if runtimes is None else runtimes.running_runtime()
    if runtime is None or not runtime.in_loop_thread:  # (and a wait makes no loop thread)
        return
    import inspect  # noqa: PLC0415 - only for a mistake

    called, frame = "wait_for_...", inspect.currentframe()
    while frame is not None and frame.f_globals.get("__name__", "").startswith("understudy."):
        called, frame = frame.f_code.co_name, frame.f_back  # (the outermost: the public one)
    runtime.refuse_on_loop(f"{called}_async")


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def check_timeout(timeout: float) -> None:
    """Refuse a ``timeout`` that is not a non-negative, finite number of seconds (NaN, which
    no comparison holds for, would make a wait sleep for ever; more than a lock can wait,
    ``threading.TIMEOUT_MAX``, would make it raise ``OverflowError``)."""
    if (
        not isinstance(timeout, int | float)
        or isinstance(timeout, bool)
        or not 0 <= timeout <= threading.TIMEOUT_MAX
    ):
        raise ConfigurationError(
            f"timeout must be seconds as a non-negative float such as 5.0 (at most "
            f"threading.TIMEOUT_MAX), not {timeout!r}"
        )


def check_count(count: int) -> None:
    """Refuse a ``count`` that is not a positive int."""
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise ConfigurationError(f"count must be a positive int, not {count!r}")


def timed_out(head: str, entries: Sequence[Any], waited_on: Waitable | None = None) -> WaitTimeout:
    """The error of a wait that timed out: ``head`` (what it waited for, how long, what
    arrived), with what :meth:`Waitable.stopped_note` of ``waited_on`` adds (when its
    server is stopped), then the first of ``entries`` (what arrived), one a line."""
    if waited_on is not None:
        head += waited_on.stopped_note()
    lines = [head]
    lines += [f"  {entry!r}" for entry in entries[:_SHOWN_IN_TIMEOUT]]
    if len(entries) > _SHOWN_IN_TIMEOUT:
        lines.append(f"  ... and {len(entries) - _SHOWN_IN_TIMEOUT} more")
    return WaitTimeout("\n".join(lines))


async def until_done(waiter: asyncio.Future[None], deadline: float) -> None:
    """Await ``waiter`` until it is done (whoever it waits for ends it with :func:`end`) or
    the loop's clock reaches ``deadline``: one future and one timer however many things it
    stands for, where ``asyncio.wait`` adds a callback to each and wakes once per end."""
    timer = waiter.get_loop().call_at(deadline, end, waiter)
    try:
        await waiter
    finally:
        timer.cancel()


def end(waiter: asyncio.Future[None]) -> None:
    """Make ``waiter`` done, unless it is already."""
    if not waiter.done():
        waiter.set_result(None)
