"""Checking that what a test lets go of is freed at once, by reference counting alone."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["cyclic_gc_off", "holders"]


@contextmanager
def cyclic_gc_off() -> Iterator[None]:
    """The cyclic garbage collector off: what is freed meanwhile is freed by reference counts
    (an object held by a reference cycle stays)."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def holders(ref: weakref.ReferenceType[Any]) -> list[str]:
    """The types of what still refers to ``ref``'s object (for an assertion's message)."""
    held = ref()
    return [] if held is None else [type(holder).__name__ for holder in gc.get_referrers(held)]
