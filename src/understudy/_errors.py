"""The error tree: every error understudy raises derives from :class:`UnderstudyError`.

Each class also derives from the builtin a caller would naturally catch, so ``except ValueError``,
``except TimeoutError``, ``except OSError`` and pytest's treatment of ``AssertionError`` keep
working.
"""

from __future__ import annotations

import errno

__all__ = [
    "AddressInUse",
    "ConfigurationError",
    "ExpectationExceeded",
    "UnderstudyError",
    "UnexpectedRequest",
    "UnmetExpectation",
    "WaitTimeout",
]


class UnderstudyError(Exception):
    """The root of every error understudy raises itself.

    Exceptions raised by *your* handlers are not wrapped in it: they come back from
    ``check()`` (and from leaving a ``with`` block) as themselves.
    """


class ConfigurationError(UnderstudyError, ValueError):
    """A server or helper was given an argument it cannot use.

    Raised at construction (never later, on a request), with a message saying what to write
    instead. Differs from :class:`WaitTimeout` and the assertion errors in that it is a mistake in
    the test's code, not an observation about the client.
    """


class WaitTimeout(UnderstudyError, TimeoutError):
    """A wait ran out of time.

    Raised by every ``wait_for_*`` method and by ``stop()`` when a handler is still running at its
    timeout. The message names what was awaited, for how long (seconds), and what did arrive;
    a wait on a server that was not running adds that nothing can arrive until ``start()``.
    """


class AddressInUse(UnderstudyError, OSError):
    """``start()`` could not bind because the address is taken.

    Carries ``errno.EADDRINUSE`` like the ``OSError`` it replaces, and names the host and port.
    Pass ``port=0`` to let the kernel pick a free port.

    Attributes:
        host (str): the host the server was to listen on, as given.
        port (int): the port that was taken.
    """

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        super().__init__(
            errno.EADDRINUSE,
            f"cannot listen on {host} port {port}: the address is already in use; "
            "pass port=0 to let the kernel choose a free port",
        )

    def __str__(self) -> str:
        return str(self.args[1])


class UnexpectedRequest(UnderstudyError, AssertionError):
    """A server received something that no expectation or host was ready for.

    Raised by ``check()`` and at fixture teardown, unless the server was made with
    ``allow_unmatched=True``. An ``AssertionError``, so pytest reports it as a test failure;
    differs from :class:`UnmetExpectation`, which is about what did *not* come.
    """


class ExpectationExceeded(UnexpectedRequest):
    """An expectation was met more often than it allows: the extra requests were not expected.

    Raised by ``check()`` and at fixture teardown when requests of an expectation's shape came
    after its limit (``times(n)``, ``once()``, a sequence's last limited step) was used up, and by
    ``assert_requested(..., times=n)`` when more than ``n`` came. The message says the counts
    ("expected at most 1, got 3") and lists the extra requests. A kind of
    :class:`UnexpectedRequest`; differs from :class:`UnmetExpectation`, which is about too *few*
    requests, and from a plain :class:`UnexpectedRequest`, a request no expectation fits at all.
    ``allow_unmatched=True`` does not excuse it: the limit was the test's own.

    .. versionadded:: 0.1
    """


class UnmetExpectation(UnderstudyError, AssertionError):
    """Something the test expected the client to send never came (or came too few times).

    Raised by ``check()``, at fixture teardown and by ``assert_*`` helpers. Differs from
    :class:`ExpectationExceeded`, raised when a request came too *many* times.
    """
