"""The waits on a journal of connections (stream servers, the proxy), built once for each pair.

A connection record changes after it is journaled (bytes arrive, it closes), so its server calls
the journal's ``changed()`` on each change, and these waits look again. Their timeout says how
many connections arrived and lists them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from .._errors import ConfigurationError, WaitTimeout
from .._journal import Journal
from .._waits import Wait, check_count, timed_out

__all__ = ["bytes_test", "connections_wait", "first_wait"]

R = TypeVar("R")


def connections_wait(
    journal: Journal[R], count: int, match: Callable[[R], bool] | None, timeout: float
) -> Wait[list[R]]:
    """The wait for ``count`` connections of ``journal`` satisfying ``match`` (if given)."""
    journal.check_waitable("nothing")
    check_count(count)

    def look() -> list[R] | None:
        records = journal.snapshot()
        if match is not None:
            records = [record for record in records if match(record)]
        return records[:count] if len(records) >= count else None

    what = f"{count} connection{'s' if count != 1 else ''}"
    if match is not None:
        what += f" matching {getattr(match, '__name__', repr(match))}"
    return Wait(look, lambda: _timed_out(journal, f"waited {timeout:g} s for {what}"))


def first_wait(
    journal: Journal[R], satisfied: Callable[[R], bool], what: str, timeout: float
) -> Wait[R]:
    """The wait for the first connection of ``journal`` (oldest first) that ``satisfied``
    accepts; ``what`` names it in the timeout message."""
    journal.check_waitable("nothing")

    def look() -> R | None:
        for record in journal.snapshot():
            if satisfied(record):
                return record
        return None

    return Wait(look, lambda: _timed_out(journal, f"waited {timeout:g} s for {what}"))


def bytes_test(
    expected: bytes | int, data: Callable[[R], bytes], size: Callable[[R], int]
) -> tuple[Callable[[R], bool], str]:
    """The test of a record for ``wait_for_bytes(expected)``, and how a message shows it.

    ``expected``: bytes to find anywhere in ``data(record)`` (however the client split its
    writes), or an int: at least that many bytes, by ``size(record)``.

    Raises:
        ConfigurationError: empty bytes, or neither bytes nor a positive int.
    """
    if isinstance(expected, bytes | bytearray | memoryview):
        needle = bytes(expected)
        if not needle:
            raise ConfigurationError("expected must not be empty bytes")
        return (lambda record: needle in data(record)), repr(needle[:60])
    if isinstance(expected, int) and not isinstance(expected, bool) and expected > 0:
        count = expected
        return (lambda record: size(record) >= count), f"{count} bytes"
    raise ConfigurationError(
        f"expected must be bytes to find, or a positive int of bytes, not {expected!r}"
    )


def _timed_out(journal: Journal[R], head: str) -> WaitTimeout:
    records = journal.snapshot()
    arrived = journal.arrived(len(records))  # ("N arrived", maybe with how many it kept)
    count, _, rest = arrived.partition(" ")
    noun = "connection" if count == "1" else "connections"
    return timed_out(f"{head}; {count} {noun} {rest}", records, journal)
