"""Request matching, pure: matchers, Subset, RequestShape's per-field differences and describe()."""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Iterable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from understudy import Subset
from understudy._core.matching import (
    MISSING,
    Difference,
    Matcher,
    RequestShape,
    check_value_matcher,
    describe_matcher,
    value_matches,
)


def is_even_length(value: str) -> bool:
    return len(value) % 2 == 0


def has_four_bytes(body: bytes) -> bool:
    return len(body) == 4


def differences(
    shape: RequestShape,
    *,
    method: str = "GET",
    path: str = "/",
    query: Iterable[tuple[str, str]] = (),
    headers: Iterable[tuple[str, str]] = (),
    body: bytes = b"",
    request: Any = None,
) -> list[Difference]:
    """``shape.differences`` for a request given by its parts; the form is parsed from ``body``."""

    def form() -> list[tuple[str, str]]:
        return urllib.parse.parse_qsl(body.decode(), keep_blank_values=True, strict_parsing=True)

    return shape.differences(
        method=method,
        path=path,
        query=query,
        headers=headers,
        body=body,
        form=form,
        request=request,
    )


def shown(found: list[Difference]) -> list[str]:
    return [str(difference) for difference in found]


def case_id(value: object) -> str:
    """Readable test ids: the shape as written, the request parts, and the verdict."""
    if isinstance(value, RequestShape):
        return value.describe()
    if isinstance(value, dict):
        return ",".join(f"{key}={part!r}" for key, part in value.items())
    if isinstance(value, list):
        return "differs" if value else "matches"
    return repr(value)


# -- value_matches --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("matcher", "value", "expected"),
    [
        ("abc", "abc", True),
        ("abc", "ABC", False),
        ("abc", "abcd", False),
        ("", "", True),
        (re.compile(r"a+"), "aaa", True),
        (re.compile(r"a+"), "aab", False),  # the whole value must match ...
        (re.compile(r"b"), "abc", False),  # ... a search would have found this one
        (re.compile(r"\d+|x"), "x", True),  # alternation inside fullmatch
        (re.compile(r"(?i)abc"), "ABC", True),
        (str.isdigit, "123", True),
        (str.isdigit, "12a", False),
        (is_even_length, "ab", True),
        (is_even_length, "abc", False),
        (lambda value: value, "truthy", True),  # a predicate's result is taken as a bool
        (lambda value: value, "", False),
    ],
)
def test_value_matches(matcher: Matcher, value: str, expected: bool) -> None:
    assert value_matches(matcher, value) is expected


@pytest.mark.parametrize("matcher", ["x", re.compile("x"), str.isdigit, is_even_length])
def test_check_value_matcher_accepts_the_three_kinds(matcher: Matcher) -> None:
    check_value_matcher("query['a']", matcher)


@pytest.mark.parametrize(
    ("matcher", "shown_as"),
    [(1, "int 1"), (b"x", "bytes b'x'"), (None, "NoneType None"), (["a"], "list ['a']")],
)
def test_check_value_matcher_says_what_is_accepted(matcher: object, shown_as: str) -> None:
    with pytest.raises(TypeError) as raised:
        check_value_matcher("query['a']", matcher)
    assert str(raised.value) == (
        "query['a'] must be a str (exact), a compiled re.Pattern (matching the whole value) or "
        f"a predicate taking the str, not {shown_as}"
    )


@pytest.mark.parametrize(
    ("matcher", "expected"),
    [
        ("/x", "'/x'"),
        (b"body", "b'body'"),
        (re.compile(r"/users/\d+"), r"a match for //users/\d+/"),
        (is_even_length, "accepted by is_even_length"),
        (str.isdigit, "accepted by str.isdigit"),
        (lambda value: True, "accepted by <lambda>"),
    ],
)
def test_describe_matcher(matcher: object, expected: str) -> None:
    assert describe_matcher(matcher) == expected


def test_describe_matcher_of_a_callable_instance_uses_its_repr() -> None:
    class Accept:
        def __call__(self, value: str) -> bool:
            return True

        def __repr__(self) -> str:
            return "Accept()"

    assert describe_matcher(Accept()) == "accepted by Accept()"


# -- Subset ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expected", "received", "matches"),
    [
        # dicts: every given key, with a matching value; other keys are ignored
        ({"a": 1}, {"a": 1, "b": 2}, True),
        ({"a": 1}, {"a": 2}, False),
        ({"a": 1}, {"b": 1}, False),
        ({}, {"anything": 1}, True),
        ({}, [], False),
        ({"a": None}, {"a": None}, True),
        ({"a": None}, {}, False),
        # nested dicts are subsets too
        ({"user": {"id": 7}}, {"user": {"id": 7, "name": "x"}, "n": 1}, True),
        ({"user": {"id": 7}}, {"user": {"id": 8, "name": "x"}}, False),
        ({"user": {"id": 7}}, {"user": 7}, False),
        # lists: each given item matches some received item, in any order
        ([1], [3, 2, 1], True),
        ([1, 2], [2], False),
        ([], [], True),
        ([], [1], True),
        ([1], {"1": 1}, False),
        ([{"id": 1}], [{"id": 2}, {"id": 1, "x": 0}], True),
        ([{"id": 3}], [{"id": 2}, {"id": 1, "x": 0}], False),
        ({"tags": ["b"]}, {"tags": ["a", "b", "c"]}, True),
        ({"tags": ["d"]}, {"tags": ["a", "b", "c"]}, False),
        ((1, 2), [2, 1, 0], True),  # a tuple is read as a list
        # scalars: equal; JSON true/false are not 1/0
        (1, 1, True),
        (1, 1.0, True),
        ("a", "a", True),
        ("1", 1, False),
        (True, True, True),
        (True, 1, False),
        (1, True, False),
        (False, 0, False),
        ({"ok": True}, {"ok": 1}, False),
        (None, None, True),
        (None, 0, False),
        # a Subset nested in a Subset
        ({"a": Subset({"b": 1})}, {"a": {"b": 1, "c": 2}}, True),
    ],
)
def test_subset(expected: Any, received: Any, matches: bool) -> None:
    assert Subset(expected).matches(received) is matches
    assert (Subset(expected) == received) is matches
    assert (received == Subset(expected)) is matches


def test_subset_is_unhashable_and_shows_what_it_holds() -> None:
    with pytest.raises(TypeError):
        hash(Subset({"a": 1}))
    assert repr(Subset({"a": [1]})) == "Subset({'a': [1]})"


# -- RequestShape.differences, field by field -----------------------------------------------


def test_an_empty_shape_accepts_anything() -> None:
    assert differences(RequestShape(), method="PATCH", path="/x", body=b"\xff") == []


@pytest.mark.parametrize(
    ("shape", "request_parts", "expected"),
    [
        # method: case-insensitive, reported upper-case
        (RequestShape(method="get"), {"method": "GET"}, []),
        (RequestShape(method="GET"), {"method": "get"}, []),
        (RequestShape(method="post"), {"method": "GET"}, ["method: expected 'POST', got 'GET'"]),
        # path: exact
        (RequestShape(path="/a/b"), {"path": "/a/b"}, []),
        (RequestShape(path="/a/b"), {"path": "/a/b/"}, ["path: expected '/a/b', got '/a/b/'"]),
        (RequestShape(path="/a"), {"path": "/A"}, ["path: expected '/a', got '/A'"]),
        # path: a pattern must match the whole path
        (RequestShape(path=re.compile(r"/users/\d+")), {"path": "/users/42"}, []),
        (
            RequestShape(path=re.compile(r"/users/\d+")),
            {"path": "/users/42/posts"},
            [r"path: expected a match for //users/\d+/, got '/users/42/posts'"],
        ),
        # path: a predicate
        (RequestShape(path=is_even_length), {"path": "/a"}, []),
        (
            RequestShape(path=is_even_length),
            {"path": "/ab"},
            ["path: expected accepted by is_even_length, got '/ab'"],
        ),
        # query: names are case-sensitive; some value of a repeated name must match
        (RequestShape(query={"page": "2"}), {"query": [("page", "1"), ("page", "2")]}, []),
        (
            RequestShape(query={"page": "2"}),
            {"query": [("page", "1"), ("page", "3")]},
            ["query page: expected '2', got '1', '3'"],
        ),
        (
            RequestShape(query={"page": "1"}),
            {"query": [("Page", "1")]},
            ["query page: expected '1', got nothing"],
        ),
        (RequestShape(query={"page": re.compile(r"\d+")}), {"query": [("page", "12")]}, []),
        (
            RequestShape(query={"a": "1", "b": "2"}),
            {"query": [("a", "1"), ("c", "3")]},
            ["query b: expected '2', got nothing"],
        ),
        (RequestShape(query={}), {"query": [("a", "1")]}, []),
        # headers: names are case-insensitive; some value of a repeated field must match
        (RequestShape(headers={"x-token": "k"}), {"headers": [("X-Token", "k")]}, []),
        (RequestShape(headers={"X-TOKEN": "k"}), {"headers": [("x-token", "k")]}, []),
        (
            RequestShape(headers={"Accept": "b"}),
            {"headers": [("Accept", "a"), ("accept", "b")]},
            [],
        ),
        (
            RequestShape(headers={"X-Token": "k"}),
            {"headers": [("x-token", "a"), ("X-Token", "c")]},
            ["header X-Token: expected 'k', got 'a', 'c'"],
        ),
        (
            RequestShape(headers={"Authorization": re.compile(r"Bearer \S+")}),
            {"headers": [("Authorization", "Basic eA==")]},
            [r"header Authorization: expected a match for /Bearer \S+/, got 'Basic eA=='"],
        ),
        (
            RequestShape(headers={"X-Token": "k"}),
            {"headers": []},
            ["header X-Token: expected 'k', got nothing"],
        ),
        # body: exact bytes, exact str (as UTF-8), whole-text pattern, predicate on bytes
        (RequestShape(body=b"\x00\x01"), {"body": b"\x00\x01"}, []),
        (RequestShape(body=b"ab"), {"body": b"abc"}, ["body: expected b'ab', got b'abc'"]),
        (RequestShape(body="h\u00e9"), {"body": b"h\xc3\xa9"}, []),
        (
            RequestShape(body="h\u00e9"),
            {"body": b"h\xe9"},
            ["body: expected 'h\u00e9', got b'h\\xe9'"],
        ),
        (RequestShape(body=re.compile(r"id=\d+")), {"body": b"id=12"}, []),
        (
            RequestShape(body=re.compile(r"id=\d+")),
            {"body": b"id=12&x=1"},
            [r"body: expected a match for /id=\d+/, got b'id=12&x=1'"],
        ),
        (RequestShape(body=has_four_bytes), {"body": b"1234"}, []),
        (
            RequestShape(body=has_four_bytes),
            {"body": b""},
            ["body: expected accepted by has_four_bytes, got an empty body"],
        ),
        (
            RequestShape(body=b"short"),
            {"body": b"x" * 100},
            [f"body: expected b'short', got {b'x' * 80!r} ... (100 bytes)"],
        ),
        # json: equal, unless a Subset says "at least"
        (RequestShape(json={"a": 1}), {"body": b'{"a": 1}'}, []),
        (
            RequestShape(json={"a": 1}),
            {"body": b'{"a": 1, "b": 2}'},
            ["json: expected {'a': 1}, got {'a': 1, 'b': 2}"],
        ),
        (RequestShape(json=[1, 2]), {"body": b"[2, 1]"}, ["json: expected [1, 2], got [2, 1]"]),
        (RequestShape(json=[1]), {"body": b"[1, 1]"}, ["json: expected [1], got [1, 1]"]),
        (RequestShape(json=1), {"body": b"true"}, ["json: expected 1, got True"]),
        (RequestShape(json=None), {"body": b"null"}, []),
        (RequestShape(json="x"), {"body": b'"x"'}, []),
        (RequestShape(json=Subset({"a": 1})), {"body": b'{"a": 1, "b": 2}'}, []),
        (
            RequestShape(json=Subset({"a": 1})),
            {"body": b'{"b": 1}'},
            ["json: expected Subset({'a': 1}), got {'b': 1}"],
        ),
        (
            RequestShape(json={"user": Subset({"id": 7}), "n": 1}),
            {"body": b'{"user": {"id": 7, "name": "x"}, "n": 1}'},
            [],
        ),
        (
            RequestShape(json={"user": Subset({"id": 7}), "n": 1}),
            {"body": b'{"user": {"id": 7}, "n": 1, "extra": 0}'},
            [
                (
                    "json: expected {'user': Subset({'id': 7}), 'n': 1}, "
                    "got {'user': {'id': 7}, 'n': 1, 'extra': 0}"
                )
            ],
        ),
        # json on a body that is not JSON
        (
            RequestShape(json={"a": 1}),
            {"body": b"<html>"},
            ["json: expected {'a': 1}, got not JSON: b'<html>'"],
        ),
        (
            RequestShape(json={"a": 1}),
            {"body": b""},
            ["json: expected {'a': 1}, got not JSON: an empty body"],
        ),
        (
            RequestShape(json={"a": 1}),
            {"body": b"\xff\xfe"},
            ["json: expected {'a': 1}, got not JSON: b'\\xff\\xfe'"],
        ),
        # form: name -> matcher over the urlencoded body
        (RequestShape(form={"user": "bob"}), {"body": b"user=bob&x=1"}, []),
        (RequestShape(form={"q": "a b"}), {"body": b"q=a+b"}, []),
        (
            RequestShape(form={"user": "bob"}),
            {"body": b"user=al"},
            ["form user: expected 'bob', got 'al'"],
        ),
        (
            RequestShape(form={"user": "bob"}),
            {"body": b"%%%"},
            ["form: expected {'user': 'bob'}, got bad query field: '%%%'"],
        ),
    ],
    ids=case_id,
)
def test_differences_per_field(
    shape: RequestShape, request_parts: dict[str, Any], expected: list[str]
) -> None:
    assert shown(differences(shape, **request_parts)) == expected


def test_the_predicate_gets_the_request_object() -> None:
    seen: list[object] = []

    def accept_yes(request: object) -> bool:
        seen.append(request)
        return request == "yes"

    shape = RequestShape(predicate=accept_yes)
    assert differences(shape, request="yes") == []
    assert shown(differences(shape, request="no")) == [
        (
            "match: expected accepted by test_the_predicate_gets_the_request_object.<locals>"
            ".accept_yes, got a request it rejected"
        )
    ]
    assert seen == ["yes", "no"]


def test_every_difference_is_reported_in_field_order() -> None:
    shape = RequestShape(
        method="POST",
        path="/users",
        query={"v": "2"},
        headers={"X-Token": "k"},
        json={"name": "x"},
        predicate=lambda request: False,
    )
    found = differences(shape, method="GET", path="/people", body=b"{}")
    assert [difference.field for difference in found] == [
        "method",
        "path",
        "query v",
        "header X-Token",
        "json",
        "match",
    ]


def test_difference_is_a_value() -> None:
    difference = Difference("path", "'/a'", "'/b'")
    assert str(difference) == "path: expected '/a', got '/b'"
    assert difference == Difference("path", "'/a'", "'/b'")


def test_a_raising_predicate_propagates_from_the_pure_core() -> None:
    # The HTTP shell turns this into a difference; the core does not hide it.
    shape = RequestShape(path=lambda path: 1 // 0 == 0)
    with pytest.raises(ZeroDivisionError):
        differences(shape)


# -- describe -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "expected"),
    [
        (RequestShape(), "any request"),
        (RequestShape(method="get"), "'GET'"),
        (RequestShape(path="/x"), "'/x'"),
        (RequestShape("post", "/x"), "'POST', '/x'"),
        (RequestShape(path=re.compile(r"/u/\d+")), r"re.compile('/u/\\d+')"),
        (RequestShape(path=is_even_length), "is_even_length"),
        (
            RequestShape("GET", "/s", query={"q": "a", "n": re.compile(r"\d")}),
            r"'GET', '/s', query={'q': 'a', 'n': re.compile('\\d')}",
        ),
        (RequestShape(headers={"X-Token": str.isalnum}), "headers={'X-Token': str.isalnum}"),
        (RequestShape(body=b"x"), "body=b'x'"),
        (RequestShape(body="x"), "body='x'"),
        (RequestShape(body=has_four_bytes), "body=has_four_bytes"),
        (RequestShape(json={"a": 1}), "json={'a': 1}"),
        (RequestShape(json=None), "json=None"),
        (RequestShape(json=Subset({"a": 1})), "json=Subset({'a': 1})"),
        (RequestShape(form={"u": "bob"}), "form={'u': 'bob'}"),
        (RequestShape(predicate=is_even_length), "match=is_even_length"),
        (
            RequestShape(
                "put",
                "/a",
                query={"q": "1"},
                headers={"H": "v"},
                body=b"b",
                form={"f": "1"},
                predicate=is_even_length,
            ),
            (
                "'PUT', '/a', query={'q': '1'}, headers={'H': 'v'}, body=b'b', form={'f': '1'}, "
                "match=is_even_length"
            ),
        ),
    ],
)
def test_describe(shape: RequestShape, expected: str) -> None:
    assert shape.describe() == expected


def test_json_left_out_is_missing_not_none() -> None:
    assert RequestShape().json is MISSING
    assert repr(MISSING) == "MISSING"
    assert differences(RequestShape(), body=b"not json") == []


# -- properties -----------------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=12,
)


@given(json_values)
def test_any_json_value_matches_itself_sent_as_json(value: Any) -> None:
    body = json.dumps(value).encode()
    assert differences(RequestShape(json=value), body=body) == []
    assert differences(RequestShape(json=Subset(value)), body=body) == []


@given(st.dictionaries(st.text(max_size=5), json_values, max_size=4), st.data())
def test_a_subset_of_the_keys_matches_as_subset(value: dict[str, Any], data: st.DataObject) -> None:
    keys = data.draw(
        st.lists(st.sampled_from(sorted(value)), unique=True) if value else st.just([])
    )
    part = {key: value[key] for key in keys}
    assert Subset(part).matches(value)


@given(json_values)
def test_a_value_with_an_extra_key_is_not_equal(value: Any) -> None:
    received = {"__extra__": 0, "v": value}
    body = json.dumps(received).encode()
    assert shown(differences(RequestShape(json={"v": value}), body=body)) == [
        f"json: expected {{'v': {value!r}}}, got {json.loads(body)!r}"
    ]
