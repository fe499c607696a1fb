"""The expectations a request nothing answered came nearest, for its near-miss report
(``Router.answer_unmatched``; loaded with the first such request)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._core.matching import Difference
from ._report import differences, nearness

if TYPE_CHECKING:
    from ._expect import Expectation, Expectations
    from ._request import Request

__all__ = ["nearest"]

#: Expectations a near-miss report names at most.
_NEAREST = 3


def nearest(
    expectations: Expectations, request: Request
) -> list[tuple[Expectation, list[Difference]]]:
    """Up to 3 of ``expectations`` closest to ``request``, with how each differed: ordered by
    :func:`nearness` (``/hellp`` is nearer ``/hello`` than ``/dyn``), then as
    ``Expectations.select`` looks at them (the next ordered one, then the newest first)."""
    with expectations.lock:
        everything = [*expectations.ordered, *reversed(expectations.unordered)]
    scored = []
    for position, expectation in enumerate(everything):
        found = differences(expectation.shape, request)
        if not found and expectation.exhausted:
            got = expectation.calls + len(expectation.extra) + 1
            found = [Difference("times", f"at most {expectation.required}", f"{got}")]
        elif not found and expectation.ordered:
            found = [Difference("order", "an earlier expect_in_order first", "this one")]
        scored.append((nearness(expectation.shape, found), position, expectation, found))
    scored.sort(key=lambda item: (item[0], item[1]))
    return [(expectation, found) for _, _, expectation, found in scored[:_NEAREST]]
