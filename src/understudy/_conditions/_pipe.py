"""One direction of a shaped connection: its queue, schedule and byte budget.

Bytes (and the markers below) wait in a :class:`Pipe` until the time its
:class:`~understudy._core.conditions.Schedule` plans for them.
"""

from __future__ import annotations

import asyncio
import collections
import random
from typing import Final

from .._core.conditions import Budget, Schedule
from ._options import Direction

__all__ = ["CLOSE", "EOF", "HIGH_WATER", "LOW_WATER", "RESET", "SLOW_CLOSE", "Pipe"]

#: Queued bytes above which the side that produces them is paused (and below which resumed).
HIGH_WATER: Final = 64 * 1024
LOW_WATER: Final = 16 * 1024

# Markers in a direction's queue, delivered after the bytes queued before them.
EOF: Final = "eof"
CLOSE: Final = "close"
RESET: Final = "reset"
SLOW_CLOSE: Final = "slow close"


class Pipe:
    """One direction of a shaped connection: its schedule, limit and queue."""

    __slots__ = ("budget", "queue", "queued", "schedule", "timer")

    def __init__(self, direction: Direction, rng: random.Random) -> None:
        self.queue: collections.deque[tuple[float, bytes | str]] = collections.deque()
        self.queued = 0
        self.timer: asyncio.TimerHandle | None = None
        self.schedule = Schedule(rng=rng)
        self.budget = Budget(None)
        self.reconfigure(direction, rng)

    def reconfigure(self, direction: Direction, rng: random.Random) -> None:
        """New conditions from now on; what is queued keeps its times, and order holds."""
        self.schedule = Schedule(
            latency=direction.latency,
            jitter=direction.jitter,
            bandwidth=direction.bandwidth,
            rng=rng,
            not_before=self.schedule.last,
        )
        self.budget = Budget(direction.limit_data)

    @property
    def passthrough(self) -> bool:
        return self.schedule.idle and self.budget.limit is None and not self.queue

    def cancel(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.queue.clear()
        self.queued = 0
