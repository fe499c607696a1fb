"""The public values that describe slowness: :class:`Delay` and :class:`Dribble`.

The arithmetic (draws, schedules) is pure and lives in ``_core/faults.py``; this module checks
the arguments (raising :class:`~understudy.ConfigurationError` with what to write instead) and
is what ``respond(delay=..., dribble=...)`` takes.
"""

from __future__ import annotations

import random
from typing import Self

from ._core.faults import DelayKind, Fault, delay_problem, draw_delay, dribble_schedule
from ._errors import ConfigurationError

__all__ = ["Delay", "Dribble", "Fault", "to_delay"]


class Delay:
    """How long to wait before answering: fixed, or drawn from a distribution per request.

    Make one with :meth:`fixed`, :meth:`uniform` or :meth:`lognormal` (WireMock's
    ``fixedDelayMilliseconds`` and ``delayDistribution``, in seconds). Wherever a ``delay=`` is
    taken, a plain float means :meth:`fixed`. Random draws come from the server's
    ``random.Random`` (``server.random``), so a seeded server replays the same delays.

    Equal delays compare equal; a delay is immutable and may be shared between expectations.

    .. versionadded:: 0.1
    """

    __slots__ = ("_first", "_kind", "_second")

    _kind: DelayKind
    _first: float
    _second: float

    def __init__(self, kind: DelayKind, first: float, second: float = 0.0) -> None:
        """Not for direct use: call :meth:`fixed`, :meth:`uniform` or :meth:`lognormal`.

        Raises:
            ConfigurationError: ``kind`` is not one of understudy's own (``Delay("fixed", 1)``
                is refused, with the classmethod to call instead), or the numbers make no
                delay of that kind.
        """
        if not isinstance(kind, DelayKind):
            raise ConfigurationError(
                f"Delay({kind!r}, ...) is not how a delay is made: write "
                "Delay.fixed(seconds), Delay.uniform(lower, upper) or "
                "Delay.lognormal(median, sigma) (seconds; sigma is the spread)"
            )
        problem = delay_problem(kind, first, second)
        if problem is not None:
            raise ConfigurationError(f"Delay.{kind.value}(...): {problem}")
        object.__setattr__(self, "_kind", kind)
        object.__setattr__(self, "_first", float(first))
        object.__setattr__(self, "_second", float(second))

    @classmethod
    def fixed(cls, seconds: float) -> Self:
        """Always ``seconds`` (float seconds, from 0 to 3600).

        Raises:
            ConfigurationError: ``seconds`` is negative, over 3600 (one hour: a longer delay
                is most often milliseconds given as seconds), or not a number.
        """
        return cls(DelayKind.FIXED, seconds)

    @classmethod
    def uniform(cls, lower: float, upper: float) -> Self:
        """A delay drawn uniformly between ``lower`` and ``upper`` seconds for each request.

        Raises:
            ConfigurationError: a bound negative, over 3600 seconds or not a number, or
                ``lower > upper``.
        """
        return cls(DelayKind.UNIFORM, lower, upper)

    @classmethod
    def lognormal(cls, median: float, sigma: float) -> Self:
        """A delay drawn from a log-normal distribution: ``median * exp(sigma * N(0, 1))``.

        The shape of real network latency: most draws near the median, a long tail above it
        (WireMock's ``lognormal`` distribution, with the median in seconds).

        Args:
            median: seconds, > 0 and at most 3600: half the draws are below it (a draw above
                3600 seconds waits 3600).
            sigma: the spread, >= 0 (0 gives the median every time; 0.1 is tight, 1 is wide).

        Raises:
            ConfigurationError: ``median`` not above 0 or over 3600, ``sigma`` negative, or
                either infinite.
        """
        return cls(DelayKind.LOGNORMAL, median, sigma)

    def draw(self, rng: random.Random) -> float:
        """One delay in seconds, drawn with ``rng`` (a fixed delay draws nothing)."""
        return draw_delay(self._kind, self._first, self._second, rng)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Delay is immutable: cannot set {name!r}")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Delay):
            return NotImplemented
        return (self._kind, self._first, self._second) == (
            other._kind,
            other._first,
            other._second,
        )

    def __hash__(self) -> int:
        return hash((self._kind, self._first, self._second))

    def __repr__(self) -> str:
        if self._kind is DelayKind.FIXED:
            arguments = f"{self._first}"
        else:
            arguments = f"{self._first}, {self._second}"
        return f"understudy.Delay.{self._kind.value}({arguments})"


def to_delay(value: object, *, where: str = "delay") -> Delay | None:
    """``delay=`` as given (seconds, a :class:`Delay` or ``None``) as a :class:`Delay` or None.

    Raises:
        ConfigurationError: anything else, or seconds negative or over 3600.
    """
    if value is None or isinstance(value, Delay):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        problem = delay_problem(DelayKind.FIXED, value, 0.0)
        if problem is None:
            return Delay.fixed(value)
    raise ConfigurationError(
        f"{where} must be seconds >= 0 and at most 3600, not {value!r}; or give an "
        "understudy.Delay such as Delay.uniform(0.1, 0.5) or Delay.lognormal(0.2, 0.5)"
    )


class Dribble:
    """Send a response body in pieces spread over time (WireMock's chunked dribble delay).

    The status line and fields go at once; the body is split into ``chunks`` pieces of equal
    size (within a byte), each sent ``duration / chunks`` seconds after the one before, so the
    last arrives ``duration`` seconds after the head. The body keeps its Content-Length: a
    client sees a slow but complete response.

    Args:
        chunks: how many pieces, >= 1 (a body shorter than that goes a byte at a time).
        duration: float seconds, from 0 to 3600, from the head to the last piece.

    Raises:
        ConfigurationError: ``chunks`` not a positive int, or ``duration`` negative or over
            3600 seconds.

    .. versionadded:: 0.1
    """

    __slots__ = ("chunks", "duration")

    chunks: int
    duration: float

    def __init__(self, *, chunks: int, duration: float) -> None:
        if not isinstance(chunks, int) or isinstance(chunks, bool) or chunks < 1:
            raise ConfigurationError(f"Dribble(chunks=...) takes a positive int, not {chunks!r}")
        if delay_problem(DelayKind.FIXED, duration, 0.0) is not None:
            raise ConfigurationError(
                f"Dribble(duration=...) takes finite seconds >= 0 and at most 3600, not "
                f"{duration!r}"
            )
        object.__setattr__(self, "chunks", chunks)
        object.__setattr__(self, "duration", float(duration))

    def schedule(self, body: bytes) -> list[tuple[float, bytes]]:
        """``(pause, piece)`` pairs for ``body``: see ``_core.faults.dribble_schedule``."""
        return dribble_schedule(body, self.chunks, self.duration)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Dribble is immutable: cannot set {name!r}")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Dribble):
            return NotImplemented
        return (self.chunks, self.duration) == (other.chunks, other.duration)

    def __hash__(self) -> int:
        return hash((self.chunks, self.duration))

    def __repr__(self) -> str:
        return f"understudy.Dribble(chunks={self.chunks}, duration={self.duration})"
