"""What every argument check that takes a number of seconds (or bytes, or milliseconds) asks
first. Pure."""

from __future__ import annotations

import math
from typing import TypeGuard

__all__ = ["finite_number"]


def finite_number(value: object) -> TypeGuard[int | float]:
    """Whether ``value`` is an int or float that is finite: not ``True``/``False`` (a bool is
    an int, never meant as one here), not NaN (which no bound would refuse) and not infinite."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
