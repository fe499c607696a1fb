"""How far a request is from an expectation or a stub mapping: the order of a near-miss report.

Pure. WireMock ranks near misses by a distance from 0 (a match) to 1 (nothing alike), and so
does understudy, the same way (WireMock's ``RequestPattern`` and ``MatchResult``):

- each criterion's distance is from 0 to 1: an exact value (a path, a header value, a body)
  against the one received is the Levenshtein distance normalised by the longer length
  (:func:`string_distance`: ``/hellp`` is 0.2 from ``/hello``); any other criterion (a
  pattern, a predicate, the method) is 0 or 1;
- the criteria of one part (the headers, the query parameters, the body patterns) are averaged;
- the parts are averaged with weights: URL 10, method 3, and headers, query, cookies, body and
  multipart 1 each (the seven always count, a part with no criterion as a match), plus 1 for
  each further kind of criterion understudy has and WireMock does not (a predicate, a scenario
  state, a used-up expectation), only where it applies (:func:`request_distance`).

So a request that differs only in the URL by a letter is nearer than one whose URL matches no
part, and a wrong method weighs less than a wrong URL.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final, Protocol

__all__ = [
    "CELL_BUDGET",
    "PART_WEIGHTS",
    "levenshtein",
    "request_distance",
    "string_distance",
]

#: The weight of each part of a request that always counts (WireMock's): the URL (or path),
#: the method, and the header fields, query parameters, cookies, body and multipart parts.
PART_WEIGHTS: Final[Mapping[str, float]] = {
    "url": 10.0,
    "method": 3.0,
    "headers": 1.0,
    "query": 1.0,
    "cookies": 1.0,
    "body": 1.0,
    "multipart": 1.0,
}

#: The most cells (length times length of the two strings) :func:`levenshtein` computes
#: exactly; beyond it, they count as wholly different (the Levenshtein distance's upper bound,
#: the longer length), so a report on two large bodies costs no more than on two short ones.
#: rapidfuzz computes 64 cells a machine word: 4 million cells take well under a millisecond.
CELL_BUDGET: Final = 4_000_000


class _Scored(Protocol):
    """What :func:`request_distance` reads of a difference (``matching.Difference``)."""

    @property
    def part(self) -> str: ...

    @property
    def distance(self) -> float: ...


def levenshtein(a: str, b: str) -> int:
    """The Levenshtein distance: the fewest insertions, deletions and substitutions of one
    character that make ``a`` into ``b`` (rapidfuzz's, in C). Exact when ``len(a) * len(b)``
    is at most :data:`CELL_BUDGET`; above, the upper bound, the longer length."""
    if len(a) * len(b) > CELL_BUDGET:
        return max(len(a), len(b))
    # Imported at the first near miss (a report of what failed), not by every server: rapidfuzz
    # costs more to load than the rest of the HTTP server's matching.
    from rapidfuzz.distance import Levenshtein  # noqa: PLC0415

    return int(Levenshtein.distance(a, b))


def string_distance(expected: str, received: str) -> float:
    """How far ``received`` is from ``expected``, from 0.0 (equal) to 1.0: the Levenshtein
    distance divided by the longer length (WireMock's ``EqualToPattern``); two empty strings
    are 0.0."""
    longest = max(len(expected), len(received))
    if longest == 0:
        return 0.0
    return levenshtein(expected, received) / longest


def request_distance(differences: Iterable[_Scored], criteria: Mapping[str, int]) -> float:
    """How far a request is from what it was matched against, from 0.0 (a match) to 1.0.

    Args:
        differences: how it differed, each with the ``part`` of the request it is about
            (``url``, ``method``, ``headers``, ``query``, ``body``, or another name for a
            criterion WireMock does not have) and its ``distance`` (0 to 1).
        criteria: how many criteria each part has (``{"headers": 2}``: two header fields
            named); a part missing counts as one criterion.

    Returns:
        Each part's differences' distances summed and divided by its number of criteria (at
        most 1), then the parts averaged with :data:`PART_WEIGHTS` (1 for any other part).
        The parts of :data:`PART_WEIGHTS` always count; another part counts when it has a
        criterion or a difference.
    """
    found: dict[str, float] = {}
    for difference in differences:
        found[difference.part] = found.get(difference.part, 0.0) + difference.distance
    parts = dict.fromkeys(PART_WEIGHTS) | dict.fromkeys(criteria) | dict.fromkeys(found)
    total = 0.0
    weights = 0.0
    for part in parts:
        weight = PART_WEIGHTS.get(part, 1.0)
        count = max(criteria.get(part, 0), 1)
        total += weight * min(found.get(part, 0.0) / count, 1.0)
        weights += weight
    return total / weights
