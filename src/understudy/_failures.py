"""What went wrong in a server's handlers: kept as it happens, raised at ``check()`` and exit.

Handlers run on the loop or in worker threads; what they raise is kept here (thread-safe) and
raised in the test's thread, one exception as itself, several as an ``ExceptionGroup``, beside
what a subclass adds at verification (an HTTP server's unmet expectations).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING

from ._errors import WaitTimeout

__all__ = ["HandlerFailures", "describe_handler"]


class HandlerFailures:
    """Mixin of :class:`understudy.Server`: handler errors, :meth:`check`, and leaving a
    ``with`` block (stop, then raise what was recorded).

    It uses what ``Server.__init__`` sets (``_errors`` and ``_errors_lock``) and its ``stop``.
    """

    _errors: list[BaseException]
    _errors_lock: threading.Lock

    if TYPE_CHECKING:

        def stop(self, timeout: float = 5.0) -> None: ...

        async def stop_async(self, timeout: float = 5.0) -> None: ...

    # -- errors raised in handlers -----------------------------------------------------------

    def _record_error(self, error: BaseException) -> None:
        """Keep an exception raised by user code, for ``check()``. Thread-safe."""
        with self._errors_lock:
            self._errors.append(error)

    def _take_failures(self) -> list[BaseException]:
        """Handler errors (and, in subclasses, verification failures), forgotten once taken."""
        with self._errors_lock:
            errors, self._errors = self._errors, []
        return errors

    def check(self) -> None:
        """Re-raise what went wrong in handlers since the last check, then forget it.

        One exception is raised as itself, with its traceback; several as an
        ``ExceptionGroup``. Does nothing when all went well.
        """
        __tracebackhide__ = True
        self._raise(self._take_failures())

    # -- leaving a `with` block ---------------------------------------------------------------

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        __tracebackhide__ = True
        self._exit(exc, stop_error=_stop_error_of(self.stop))

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        __tracebackhide__ = True
        try:
            await self.stop_async()
        except WaitTimeout as error:
            stop_error: WaitTimeout | None = error
        else:
            stop_error = None
        self._exit(exc, stop_error=stop_error)

    def _exit(self, exc: BaseException | None, *, stop_error: WaitTimeout | None) -> None:
        __tracebackhide__ = True
        failures = self._take_failures()
        if stop_error is not None:
            failures.append(stop_error)
        if exc is not None:
            # Never mask the test's own exception; say what else happened beside it.
            for failure in failures:
                exc.add_note(
                    f"understudy: {self!r} also recorded {type(failure).__name__}: {failure}"
                )
            return
        self._raise(failures)

    def _raise(self, failures: list[BaseException]) -> None:
        """Raise one failure as itself, several as an ``ExceptionGroup``, none: nothing."""
        __tracebackhide__ = True
        if len(failures) == 1:
            raise failures[0]
        if failures:
            raise BaseExceptionGroup(
                f"{len(failures)} errors were raised in handlers of {self!r}", failures
            )


def _stop_error_of(stop: Callable[[], object]) -> WaitTimeout | None:
    """Call ``stop()``; return the :class:`WaitTimeout` it raised, if it did (for ``_exit``)."""
    try:
        stop()
    except WaitTimeout as error:
        return error
    return None


def describe_handler(handler: object) -> str:
    """A short name for a user's callable, for messages."""
    name = getattr(handler, "__qualname__", None) or getattr(handler, "__name__", None)
    module = getattr(handler, "__module__", None)
    if name is None:
        return repr(handler)
    return f"{module}.{name}" if module else str(name)
