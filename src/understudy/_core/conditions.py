"""Network conditions, the pure part: when each piece of a stream may be delivered.

A :class:`Schedule` turns "``size`` bytes arrived at ``now``" into pieces ``(deliver_at, size)``
under a one-way latency (with jitter) and a bandwidth limit; a :class:`Budget` counts bytes
against a limit; :func:`chosen` and :func:`draw_latency` are the random draws, always from a
``random.Random`` the caller passes (seeded by the server, so a failing run can be replayed).

No clock is read here: times are plain floats the shell passes in (the loop's clock), so every
rule is tested with tables and Hypothesis, without sockets.

Guarantees a :class:`Schedule` keeps (and its tests check):

- order: delivery times never decrease, so bytes are delivered in the order they arrived;
- nothing lost or duplicated: the pieces of one call sum to its ``size``;
- latency: no piece is delivered before ``arrival + latency - jitter``;
- rate: the bytes delivered at or before any time ``t`` since the first piece (at ``t0``) are at
  most ``bandwidth * (t - t0) + slice_size``: one slice of burst, never more.
"""

from __future__ import annotations

import random

__all__ = ["Budget", "Schedule", "chosen", "draw_latency", "slice_size"]

#: A bandwidth-limited direction sends slices of about this many seconds' worth of bytes.
_SLICE_SECONDS = 0.02
#: Bounds of a slice (bytes): at least 1, at most what one write sensibly carries.
_MAX_SLICE = 64 * 1024


def slice_size(bandwidth: float) -> int:
    """The largest piece (bytes) a direction limited to ``bandwidth`` bytes/s sends at once:
    20 ms worth, from 1 byte to 64 KiB."""
    return max(1, min(_MAX_SLICE, int(bandwidth * _SLICE_SECONDS)))


def chosen(rng: random.Random, probability: float) -> bool:
    """Whether a condition with ``probability`` (0.0 to 1.0) applies this time.

    ``1.0`` draws nothing (so a seeded sequence is not consumed when no chance is involved);
    ``0.0`` never applies.
    """
    if probability >= 1.0:
        return True
    if probability <= 0.0:
        return False
    return rng.random() < probability


def draw_latency(rng: random.Random, latency: float, jitter: float) -> float:
    """One delay (seconds): ``latency`` plus a uniform draw in ``[-jitter, +jitter]``, never
    below 0. No draw is made when ``jitter`` is 0."""
    if jitter <= 0.0:
        return max(0.0, latency)
    return max(0.0, latency + rng.uniform(-jitter, jitter))


class Schedule:
    """When the bytes of one direction of one connection may be delivered.

    Args:
        latency: one-way delay added to each arriving chunk (seconds).
        jitter: each chunk's delay varies uniformly by up to this much either way (seconds).
        bandwidth: bytes per second, or ``None`` for no limit.
        rng: where jitter is drawn from.
        not_before: no piece is delivered before this time (keeps order across a change of
            conditions: the new schedule starts where the old one ended).
    """

    __slots__ = ("_free_at", "_last", "_rng", "bandwidth", "jitter", "latency", "slice")

    def __init__(
        self,
        *,
        latency: float = 0.0,
        jitter: float = 0.0,
        bandwidth: float | None = None,
        rng: random.Random,
        not_before: float = float("-inf"),
    ) -> None:
        self.latency = latency
        self.jitter = jitter
        self.bandwidth = bandwidth
        self.slice = slice_size(bandwidth) if bandwidth is not None else 0
        self._rng = rng
        self._last = not_before
        self._free_at = not_before

    @property
    def idle(self) -> bool:
        """Whether this schedule changes nothing (no latency, jitter or bandwidth limit)."""
        return self.latency <= 0.0 and self.jitter <= 0.0 and self.bandwidth is None

    @property
    def last(self) -> float:
        """The latest delivery time planned so far (``-inf`` before any)."""
        return self._last

    def plan(self, now: float, size: int) -> list[tuple[float, int]]:
        """Pieces ``(deliver_at, size)`` for ``size`` bytes that arrived at ``now``.

        The pieces are in order, their sizes sum to ``size``, and their times never go below
        those of pieces planned before. ``size`` 0 plans one empty piece: a marker (end of
        stream, close) delivered after everything before it.
        """
        ready = max(now + draw_latency(self._rng, self.latency, self.jitter), self._last)
        if self.bandwidth is None or size == 0:
            self._last = ready
            return [(ready, size)]
        pieces: list[tuple[float, int]] = []
        remaining = size
        free_at = self._free_at
        while remaining:
            piece = min(self.slice, remaining)
            start = max(ready, free_at)
            pieces.append((start, piece))
            free_at = start + piece / self.bandwidth
            remaining -= piece
        self._free_at = free_at
        self._last = pieces[-1][0]
        return pieces


class Budget:
    """Bytes allowed through before a limit is reached (``limit_data``, ``reset_after_bytes``).

    Args:
        limit: bytes allowed in all, or ``None`` for no limit.
    """

    __slots__ = ("limit", "used")

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.used = 0

    @property
    def exhausted(self) -> bool:
        """Whether the limit has been reached (never, without one)."""
        return self.limit is not None and self.used >= self.limit

    def take(self, size: int) -> int:
        """Count up to ``size`` more bytes; return how many may pass (``size`` without a limit)."""
        if self.limit is None:
            self.used += size
            return size
        allowed = max(0, min(size, self.limit - self.used))
        self.used += allowed
        return allowed
