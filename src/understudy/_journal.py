"""The journal: a thread-safe record of what a server received, with waits that never poll.

Entries are appended on the runtime's loop thread and read from the test's thread (or the test's
own event loop). A journal is a :class:`~understudy._waits.Waitable`: each append wakes the
waits under way, so a wait returns as soon as what it waits for has arrived, and raises
:class:`~understudy.WaitTimeout` naming what it waited for, for how long, and what did arrive.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeAlias, TypeVar

from ._errors import ConfigurationError, WaitTimeout
from ._waits import Wait, Waitable, check_count, timed_out

__all__ = ["Journal"]

T = TypeVar("T")

#: Told of each change to a journal, on the appending thread: see :meth:`Journal.follow`.
Listener: TypeAlias = Callable[[int, Any], None]


class Journal(Waitable, Generic[T]):
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

    __slots__ = ("_cleared", "_entries", "_listener", "_noun", "_size", "_unpack", "total")

    def __init__(
        self, noun: str, size: int | None = None, *, unpack: Callable[[Any], T] | None = None
    ) -> None:
        if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 0):
            raise ConfigurationError(
                f"journal_size must be None (keep all), 0 (keep none) or a positive int, "
                f"not {size!r}"
            )
        super().__init__()
        self._noun = noun
        self._size = size
        self._unpack = unpack
        # The deque is made on first use, so an idle server stays small.
        self._entries: deque[Any] | None = None  # (as appended: see unpack)
        self._listener: Listener | None = None
        #: How many entries were ever appended (not reset by a bounded journal dropping old ones).
        self.total = 0
        #: ``total`` at the last :meth:`clear` (what arrived since is ``total - _cleared``).
        self._cleared = 0

    def append(self, entry: T | tuple[Any, ...]) -> int:
        """Record ``entry`` and wake every wait. On the loop's thread only (the one appender).

        ``entry`` is a ``T``, or what ``unpack`` makes one of. Returns its number (``total``
        after it: 1 for the first ever appended), by which :meth:`replace` finds it.

        No lock unless someone waits (the rule of :mod:`understudy._waits`): this counts the
        entry in ``total`` (part of :meth:`_version`) after appending it, then looks at
        ``_waiting``.
        """
        entries = self._entries
        if entries is None:
            entries = self._entries = deque(maxlen=self._size)
        entries.append(entry)
        self.total = total = self.total + 1
        if self._listener is not None:
            self._listener(total, self._read([entry])[0])
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
        if self._listener is not None:
            self._listener(number, self._read([entry])[0])
        Waitable.changed(self)

    def changed(self) -> None:
        """Wake every wait, and tell the listener (``(0, None)``): an entry changed in place."""
        super().changed()
        if self._listener is not None:
            self._listener(0, None)

    def follow(self, listener: Listener | None) -> None:
        """Tell ``listener`` of every change from now on (``None``: stop telling).

        Package-internal (the ``understudy`` command reports what arrives with it). The
        listener is called on the appending thread (the loop's), so it must be quick and must
        not raise: ``listener(number, entry)`` after an entry is appended or replaced, with its
        number (as :meth:`append` returns it) and the entry as a reader sees it, and
        ``listener(0, None)`` after :meth:`changed` (an entry changed in place, as a TCP
        connection's record does as its bytes arrive). One listener at a time.
        """
        self._listener = listener

    def _version(self) -> int:
        # (both only grow, so the sum moves on every append and every change)
        return self.total + self._changes

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
            self._cleared = self.total

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
            ConfigurationError: a journal of size 0, a bad ``count`` or ``timeout``, or a
                ``count`` larger than the journal keeps (the wait could never end).
            WaitTimeout: after ``timeout`` seconds, listing what did arrive.
        """
        return self.wait(self._counted(count, match, timeout), timeout)

    async def wait_for_async(
        self, count: int, *, match: Callable[[T], bool] | None, timeout: float
    ) -> list[T]:
        """The awaitable twin of :meth:`wait_for`, for the test's own event loop."""
        return await self.wait_async(self._counted(count, match, timeout), timeout)

    def _counted(
        self, count: int, match: Callable[[T], bool] | None, timeout: float
    ) -> Wait[list[T]]:
        """The wait for ``count`` entries satisfying ``match``; its timeout lists what it last
        looked at."""
        self.check_waitable()
        check_count(count)
        size = self._size
        if size is not None and count > size:
            raise ConfigurationError(
                f"this server keeps only the last {size} {self._noun}s (journal_size={size}), "
                f"so a wait for {count} could never end; pass a count of at most {size}, or a "
                "larger journal_size"
            )
        looked_at: list[Any] = []

        def look() -> list[T] | None:
            nonlocal looked_at
            looked_at = self._copy()
            return self._matching(looked_at, count, match)

        def fail() -> WaitTimeout:
            return self._timeout(looked_at, count, match, timeout)

        return Wait(look, fail)

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
        got = self.arrived(len(entries))
        if match is not None:
            what += f" matching {getattr(match, '__name__', repr(match))}"
            matching = sum(1 for entry in entries if match(entry))
            got += f", {matching} of them matching"
        return timed_out(f"waited {timeout:g} s for {what}; {got}", entries, self)

    def arrived(self, kept: int) -> str:
        """What a timeout says arrived, when ``kept`` entries are kept: ``"3 arrived"``, or,
        once a bounded journal has dropped some, ``"7 arrived, the last 2 kept
        (journal_size=2)"`` (counted from the last :meth:`clear`)."""
        arrived = self.total - self._cleared
        if self._size is None or arrived <= kept:
            return f"{kept} arrived"
        return f"{arrived} arrived, the last {kept} kept (journal_size={self._size})"

    def check_waitable(self, what: str | None = None) -> None:
        """Refuse a wait on a journal that keeps nothing (size 0).

        ``what``: what the message says cannot be waited for (default: no entry, by its noun).
        """
        if self._size == 0:
            nothing = f"no {self._noun}" if what is None else what
            raise ConfigurationError(
                f"this server keeps no journal (journal_size=0), so {nothing} can be waited "
                "for; pass journal_size=None (keep all) or a positive number"
            )
