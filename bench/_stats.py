"""Percentiles of timing samples."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass

__all__ = ["Summary", "summarize"]


@dataclass(frozen=True)
class Summary:
    """Order statistics of a list of samples (same unit as the samples)."""

    n: int
    p50: float
    p90: float
    p99: float
    mean: float

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def _percentile(ordered: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default method)."""
    position = q * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summarize(samples: Sequence[float]) -> Summary:
    """p50/p90/p99 and mean of ``samples``; raises ``ValueError`` when there are none."""
    if not samples:
        raise ValueError("no samples to summarize")
    ordered = sorted(samples)
    return Summary(
        n=len(ordered),
        p50=_percentile(ordered, 0.50),
        p90=_percentile(ordered, 0.90),
        p99=_percentile(ordered, 0.99),
        mean=statistics.fmean(ordered),
    )
