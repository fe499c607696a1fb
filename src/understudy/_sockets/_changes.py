"""Waiting on a state that changes: wake blocking and async waits whenever it may have changed."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from .._errors import ConfigurationError, WaitTimeout

T = TypeVar("T")


class _Changes:
    """Wakes waits whenever the state they look at may have changed (thread-safe)."""

    __slots__ = ("_async_waiters", "_cond")

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._async_waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []

    def notify(self) -> None:
        with self._cond:
            self._cond.notify_all()
            waiters, self._async_waiters = self._async_waiters, []
        for loop, future in waiters:
            try:
                loop.call_soon_threadsafe(_wake, future)
            except RuntimeError:  # that loop is closed: nobody waits any more
                pass

    def wait(self, found: Callable[[], T | None], timeout: float, why: Callable[[], str]) -> T:
        """Block until ``found()`` returns something other than None; return it."""
        _check_timeout(timeout)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                result = found()
                if result is not None:
                    return result
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise WaitTimeout(why())
                self._cond.wait(remaining)

    async def wait_async(
        self, found: Callable[[], T | None], timeout: float, why: Callable[[], str]
    ) -> T:
        """The awaitable twin of :meth:`wait`."""
        _check_timeout(timeout)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            with self._cond:
                result = found()
                if result is not None:
                    return result
                future: asyncio.Future[None] = loop.create_future()
                self._async_waiters.append((loop, future))
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise WaitTimeout(why())
            try:
                await asyncio.wait_for(future, remaining)
            except TimeoutError:
                with self._cond:
                    result = found()
                if result is not None:
                    return result
                raise WaitTimeout(why()) from None


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _check_timeout(timeout: float) -> None:
    if not isinstance(timeout, int | float) or isinstance(timeout, bool) or timeout < 0:
        raise ConfigurationError(
            f"timeout must be seconds as a non-negative float, not {timeout!r}"
        )
