"""The journal: a thread-safe record of what a server received, with waits that never sleep.

Entries are appended on the runtime's loop thread and read from the test's thread (or the test's
own event loop). A wait blocks on a condition that each append notifies, so it returns as soon as
what it waits for has arrived, and raises :class:`~understudy.WaitTimeout` naming what it waited
for, for how long, and what did arrive.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

from ._errors import ConfigurationError, WaitTimeout

__all__ = ["Journal"]

T = TypeVar("T")

#: How many of the received entries a timeout message lists before summarising the rest.
_SHOWN_IN_TIMEOUT = 5


class Journal(Generic[T]):
    """A bounded, thread-safe list of received entries (requests, messages, datagrams...).

    Args:
        noun: what an entry is called in messages, singular ("request", "message").
        size: keep at most the last ``size`` entries; ``None`` keeps all, ``0`` keeps none (for
            load tests: waits then raise :class:`~understudy.ConfigurationError`; ``total`` still
            counts).
        unpack: makes the entry a reader sees of what was appended, on every read. An appender
            that keeps entries packed (a plain tuple of strings, bytes and numbers, which the
            cyclic garbage collector stops tracking once it has seen it) saves a long journal
            the collector's time; the reader still gets the objects. ``None``: entries are
            read as appended.
    """

    __slots__ = (
        "_async_waiters",
        "_cond",
        "_entries",
        "_lock",
        "_noun",
        "_replaced",
        "_size",
        "_unpack",
        "_waiting",
        "total",
    )

    def __init__(
        self, noun: str, size: int | None = None, *, unpack: Callable[[Any], T] | None = None
    ) -> None:
        if size is not None and (not isinstance(size, int) or size < 0):
            raise ConfigurationError(
                f"journal_size must be None (keep all), 0 (keep none) or a positive int, "
                f"not {size!r}"
            )
        self._noun = noun
        self._size = size
        self._unpack = unpack
        # The deque and the condition are made on first use, so an idle server stays small.
        self._entries: deque[Any] | None = None  # (as appended: see unpack)
        # Re-entrant: an async wait abandoned with its loop (never cancelled) ends when the cyclic
        # GC collects it, which may happen on a thread holding the lock, and takes it then.
        self._lock = threading.RLock()
        self._cond: threading.Condition | None = None
        #: Waits under way (sync and async): an append takes the lock only when there are any.
        self._waiting = 0
        self._async_waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
        #: How many entries were ever appended (not reset by a bounded journal dropping old ones).
        self.total = 0
        #: How many times an entry was replaced (see replace): a wait looks again when it changes.
        self._replaced = 0

    def append(self, entry: T | tuple[Any, ...]) -> int:
        """Record ``entry`` and wake every wait. On the loop's thread only (the one appender).

        ``entry`` is a ``T``, or what ``unpack`` makes one of. Returns its number (``total``
        after it: 1 for the first ever appended), by which :meth:`replace` finds it.

        No lock unless someone waits: a waiter counts itself in ``_waiting`` (under the lock)
        before it looks at the entries, and this looks at ``_waiting`` after appending and
        counting, so either the waiter sees the entry (or, under the lock before it sleeps, the
        count changed while it looked) or this sees the waiter and wakes it under the lock (the
        GIL orders the two threads' steps).
        """
        entries = self._entries
        if entries is None:
            entries = self._entries = deque(maxlen=self._size)
        entries.append(entry)
        self.total = total = self.total + 1
        if self._waiting:
            self._wake()
        return total

    def replace(self, number: int, entry: T | tuple[Any, ...]) -> None:
        """Put ``entry`` in the place of the entry numbered ``number``, and wake every wait.

        On the loop's thread only, as :meth:`append`. An entry no longer kept (dropped by a
        bounded journal, or cleared) is not replaced. Used to complete an entry recorded before
        all was known of it (the response sent to a request): a reader sees the entry before
        or after, never a mix, and a wait whose ``match`` looks at what was added is woken.
        """
        entries = self._entries
        back = self.total - number + 1  # (1: the last appended; the deque keeps the newest)
        if entries is None or not 0 < back <= len(entries):
            return
        entries[-back] = entry
        self._replaced += 1
        if self._waiting:
            self._wake()

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

    @property
    def size(self) -> int | None:
        """How many entries are kept at most (``None``: all)."""
        return self._size

    def snapshot(self) -> list[T]:
        """A list copy of the entries kept, oldest first."""
        return self._read(self._copy())

    def _read(self, entries: list[Any]) -> list[T]:
        """The entries a reader sees of ``entries`` (a copy of some of ``_entries``)."""
        unpack = self._unpack
        if unpack is None:
            return entries
        return [unpack(entry) for entry in entries]

    def clear(self) -> None:
        """Forget every entry kept so far."""
        with self._lock:
            if self._entries is not None:
                self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries or ())

    def __iter__(self) -> Iterator[T]:
        return iter(self.snapshot())

    def wait_for(
        self,
        count: int,
        *,
        match: Callable[[T], bool] | None,
        timeout: float,
    ) -> list[T]:
        """Block until ``count`` entries satisfying ``match`` are kept; return the first ``count``.

        Raises:
            WaitTimeout: after ``timeout`` seconds, listing what did arrive.
        """
        self._check_wait_args(count, timeout)
        deadline = time.monotonic() + timeout
        with self._lock:
            if self._cond is None:
                self._cond = threading.Condition(self._lock)
            cond = self._cond
            self._waiting += 1  # (before looking: see append)
        try:
            while True:
                seen = self.total, self._replaced
                # Looked at without the lock: an append on the loop's thread never waits for
                # the entries to be unpacked, nor for ``match`` (the test's code), to run.
                entries = self._copy()
                found = self._matching(entries, count, match)
                if found is not None:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise self._timeout(entries, count, match, timeout)
                with self._lock:
                    # (else one came, or was replaced, while it looked: look again)
                    if (self.total, self._replaced) == seen:
                        cond.wait(remaining)
        finally:
            with self._lock:
                self._waiting -= 1

    async def wait_for_async(
        self, count: int, *, match: Callable[[T], bool] | None, timeout: float
    ) -> list[T]:
        """The awaitable twin of :meth:`wait_for`, for the test's own event loop."""
        self._check_wait_args(count, timeout)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        with self._lock:
            self._waiting += 1  # (before looking: see append)
        waiter: tuple[asyncio.AbstractEventLoop, asyncio.Future[None]] | None = None
        try:
            while True:
                seen = self.total, self._replaced
                entries = self._copy()  # (looked at without the lock: see wait_for)
                found = self._matching(entries, count, match)
                if found is not None:
                    return found
                with self._lock:
                    if (self.total, self._replaced) != seen:
                        continue  # one came (or was replaced) while it looked: look again
                    waiter = (loop, loop.create_future())
                    self._async_waiters.append(waiter)
                future = waiter[1]
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise self._timeout(entries, count, match, timeout)
                try:
                    await asyncio.wait_for(future, remaining)
                except TimeoutError:
                    entries = self._copy()
                    found = self._matching(entries, count, match)
                    if found is not None:
                        return found
                    raise self._timeout(entries, count, match, timeout) from None
        finally:
            with self._lock:
                self._waiting -= 1
                # Not woken (it timed out or was cancelled): its loop may close, so no append
                # must find it.
                if waiter is not None and waiter in self._async_waiters:
                    self._async_waiters.remove(waiter)

    def _copy(self) -> list[Any]:
        """The entries as appended, copied in one step under the GIL (an append takes no lock,
        so it may come while a wait looks at them, and a deque changed under an iteration
        raises)."""
        return list(self._entries or ())

    def _matching(
        self, entries: list[Any], count: int, match: Callable[[T], bool] | None
    ) -> list[T] | None:
        """The first ``count`` of ``entries`` (a copy) satisfying ``match``, or ``None``."""
        if match is None:
            return self._read(entries[:count]) if len(entries) >= count else None
        found = [entry for entry in self._read(entries) if match(entry)]
        return found[:count] if len(found) >= count else None

    def _timeout(
        self, looked_at: list[Any], count: int, match: Callable[[T], bool] | None, timeout: float
    ) -> WaitTimeout:
        """The error for a wait that timed out, saying what arrived (what it last looked at)."""
        entries = self._read(looked_at)
        what = f"{count} {self._noun}{'s' if count != 1 else ''}"
        if match is not None:
            what += f" matching {getattr(match, '__name__', repr(match))}"
            matching = sum(1 for entry in entries if match(entry))
            got = f"{len(entries)} arrived, {matching} of them matching"
        else:
            got = f"{len(entries)} arrived"
        lines = [f"waited {timeout:g} s for {what}; {got}"]
        lines += [f"  {entry!r}" for entry in entries[:_SHOWN_IN_TIMEOUT]]
        if len(entries) > _SHOWN_IN_TIMEOUT:
            lines.append(f"  ... and {len(entries) - _SHOWN_IN_TIMEOUT} more")
        return WaitTimeout("\n".join(lines))

    def _check_wait_args(self, count: int, timeout: float) -> None:
        if self._size == 0:
            raise ConfigurationError(
                f"this server keeps no journal (journal_size=0), so no {self._noun} can be waited "
                "for; pass journal_size=None (keep all) or a positive number"
            )
        if not isinstance(count, int) or count < 1:
            raise ConfigurationError(f"count must be a positive int, not {count!r}")
        if not isinstance(timeout, int | float) or timeout < 0:
            raise ConfigurationError(
                f"timeout must be seconds as a non-negative float, not {timeout!r}"
            )


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
