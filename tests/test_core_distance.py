"""The near-miss distance: normalised Levenshtein per value, WireMock's weighting per part."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from understudy._core.distance import (
    CELL_BUDGET,
    PART_WEIGHTS,
    levenshtein,
    request_distance,
    string_distance,
)
from understudy._core.matching import Difference, RequestShape
from understudy._core.wiremock import parse_request_pattern

TOTAL = sum(PART_WEIGHTS.values())  # 18: url 10, method 3, five parts of 1


@pytest.mark.parametrize(
    ("a", "b", "distance"),
    [
        ("", "", 0),
        ("abc", "abc", 0),
        ("", "abc", 3),
        ("kitten", "sitting", 3),
        ("/hello", "/hellp", 1),
        ("/hello", "/dyn", 5),
        ("flaw", "lawn", 2),
        ("ab" * 50 + "X" + "cd" * 50, "ab" * 50 + "Y" + "cd" * 50, 1),  # prefix and suffix
        ("é/ü", "e/u", 2),
    ],
)
def test_levenshtein(a: str, b: str, distance: int) -> None:
    assert levenshtein(a, b) == distance
    assert levenshtein(b, a) == distance


def test_levenshtein_over_the_budget_is_the_upper_bound() -> None:
    side = int(CELL_BUDGET**0.5) + 1
    a, b = "x" + "a" * side + "x", "x" + "a" * (side + 3) + "x"
    assert levenshtein(a, b) == len(b)  # (exactly: 3) the longer length
    within = "a" * (side - 2)
    assert levenshtein(within, within[:-1] + "b") == 1  # large, but within: exact


@given(st.text(max_size=30), st.text(max_size=30), st.text(max_size=30))
def test_levenshtein_is_a_metric(a: str, b: str, c: str) -> None:
    assert levenshtein(a, b) == levenshtein(b, a)
    assert (levenshtein(a, b) == 0) == (a == b)
    assert levenshtein(a, c) <= levenshtein(a, b) + levenshtein(b, c)
    assert abs(len(a) - len(b)) <= levenshtein(a, b) <= max(len(a), len(b))


@pytest.mark.parametrize(
    ("expected", "received", "distance"),
    [
        ("", "", 0.0),
        ("/hello", "/hello", 0.0),
        ("/hello", "/hellp", 1 / 6),
        ("/hello", "/dyn", 5 / 6),
        ("abc", "", 1.0),
        ("abc", "xyz", 1.0),
    ],
)
def test_string_distance_is_normalised_by_the_longer_length(
    expected: str, received: str, distance: float
) -> None:
    assert string_distance(expected, received) == pytest.approx(distance)


@pytest.mark.parametrize(
    ("differences", "criteria", "distance"),
    [
        ([], {}, 0.0),
        ([Difference("path", "", "", "url", 0.5)], {"url": 1}, 5 / TOTAL),
        ([Difference("method", "", "")], {"method": 1}, 3 / TOTAL),
        # one header of two, half off: the headers part is a quarter off
        ([Difference("header A", "", "", "headers", 0.5)], {"headers": 2}, 0.25 / TOTAL),
        # a part WireMock does not have counts 1 where it applies
        ([Difference("match", "", "")], {"match": 1}, 1 / (TOTAL + 1)),
        ([], {"match": 1}, 0.0),
        ([Difference("times", "", "")], {}, 1 / (TOTAL + 1)),
        # everything off
        (
            [
                Difference("url", "", "", "url"),
                Difference("method", "", ""),
                *(Difference(part, "", "", part) for part in PART_WEIGHTS if part not in "url"),
            ],
            {},
            1.0,
        ),
    ],
)
def test_request_distance_weighs_the_parts_as_wiremock(
    differences: list[Difference], criteria: dict[str, int], distance: float
) -> None:
    assert request_distance(differences, criteria) == pytest.approx(distance)


def _shape_distance(shape: RequestShape, method: str, path: str) -> float:
    found = shape.differences(
        method=method, path=path, query=[], headers=[], body=b"", form=list, request=None
    )
    return request_distance(found, shape.criteria())


def test_a_path_one_letter_off_is_nearer_than_another_path() -> None:
    hello = _shape_distance(RequestShape("GET", "/hello"), "GET", "/hellp")
    dyn = _shape_distance(RequestShape("GET", "/dyn"), "GET", "/hellp")
    wrong_method = _shape_distance(RequestShape("POST", "/hellp"), "GET", "/hellp")
    assert hello == pytest.approx(10 * (1 / 6) / TOTAL)
    assert hello < wrong_method < dyn  # a letter of six off weighs 10/6; a method, 3


def test_a_mapping_distance_uses_each_value_pattern() -> None:
    pattern = parse_request_pattern(
        "request",
        {
            "method": "GET",
            "urlPath": "/hello",
            "headers": {"Accept": {"equalTo": "text/plain"}, "X-Id": {"matches": "[0-9]+"}},
        },
    )
    found = pattern.differences(
        method="GET",
        target="/hellp",
        query=[],
        headers=[("accept", "text/plainx"), ("X-Id", "abc")],
        body=b"",
    )
    headers = (1 / 11 + 1.0) / 2  # one letter of 11, and a regex that does not match
    assert request_distance(found, pattern.criteria()) == pytest.approx(
        (10 * (1 / 6) + headers) / TOTAL
    )
