"""Request matching: what an expectation accepts, and how a near miss differed, field by field.

Pure: works on plain values (method, path, query pairs, header pairs, body bytes), so the same
rules serve HTTP expectations, ``assert_requested`` and, later, stub files.
"""

from __future__ import annotations

import json as _json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from .distance import string_distance

__all__ = [
    "MISSING",
    "Difference",
    "Matcher",
    "RequestShape",
    "Subset",
    "check_str_pattern",
    "check_value_matcher",
    "describe_matcher",
    "value_matches",
]


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final[Any] = _Missing()

#: What a field may be matched with: an exact value, a compiled regular expression (which must
#: match the whole value), or a predicate.
Matcher = str | re.Pattern[str] | Callable[[str], bool]


class Subset:
    """Matches a JSON value that contains at least the given one.

    A dict matches when every key given is present with a matching value (recursively); a list
    matches when each given item matches some item of the received list; anything else matches
    when equal. ``Subset({"user": {"id": 7}})`` accepts
    ``{"user": {"id": 7, "name": "x"}, "n": 1}``.
    """

    __slots__ = ("expected",)

    def __init__(self, expected: Any) -> None:
        self.expected = expected

    def matches(self, received: Any) -> bool:
        """Whether ``received`` holds what was expected (as ``==`` answers, see above)."""
        return _contains(received, self.expected)

    def __eq__(self, other: object) -> bool:
        return self.matches(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Subset({self.expected!r})"


def _contains(received: Any, expected: Any) -> bool:
    """Whether the JSON value ``received`` holds at least ``expected`` (:class:`Subset` rules)."""
    if isinstance(expected, Subset):
        return expected.matches(received)
    if isinstance(expected, dict):
        return isinstance(received, dict) and all(
            key in received and _contains(received[key], value) for key, value in expected.items()
        )
    if isinstance(expected, list | tuple):
        return isinstance(received, list) and all(
            any(_contains(item, want) for item in received) for want in expected
        )
    return _same_scalar(received, expected)


def _equal(received: Any, expected: Any) -> bool:
    """Whether the JSON value ``received`` equals ``expected``; a nested :class:`Subset` inside
    ``expected`` accepts at least its value."""
    if isinstance(expected, Subset):
        return expected.matches(received)
    if isinstance(expected, dict):
        return (
            isinstance(received, dict)
            and received.keys() == expected.keys()
            and all(_equal(received[key], value) for key, value in expected.items())
        )
    if isinstance(expected, list | tuple):
        return (
            isinstance(received, list)
            and len(received) == len(expected)
            and all(_equal(item, want) for item, want in zip(received, expected, strict=True))
        )
    return _same_scalar(received, expected)


def _same_scalar(received: Any, expected: Any) -> bool:
    # JSON true is not 1, though Python's True == 1.
    if isinstance(received, bool) or isinstance(expected, bool):
        return type(received) is type(expected) and received == expected
    return bool(received == expected)


def describe_matcher(matcher: object) -> str:
    """A short, readable form of a matcher for reports."""
    if isinstance(matcher, re.Pattern):
        return f"a match for /{matcher.pattern}/"
    if callable(matcher) and not isinstance(matcher, type):
        name = getattr(matcher, "__qualname__", None) or repr(matcher)
        return f"accepted by {name}"
    return repr(matcher)


def value_matches(matcher: Matcher, value: str) -> bool:
    """Whether ``value`` satisfies ``matcher`` (exact, whole-match pattern, or predicate)."""
    if isinstance(matcher, str):
        return value == matcher
    if isinstance(matcher, re.Pattern):
        return matcher.fullmatch(value) is not None
    return bool(matcher(value))


def check_value_matcher(what: str, matcher: object) -> None:
    """Raise ``TypeError`` saying what is accepted when ``matcher`` is not a :data:`Matcher`."""
    if not isinstance(matcher, str | re.Pattern) and not callable(matcher):
        raise TypeError(
            f"{what} must be a str (exact), a compiled re.Pattern (matching the whole value) or "
            f"a predicate taking the str, not {type(matcher).__name__} {matcher!r:.60}"
        )
    check_str_pattern(what, matcher)


def check_str_pattern(what: str, matcher: object) -> None:
    """Raise ``TypeError`` when ``matcher`` is a bytes pattern (values are matched as str)."""
    if isinstance(matcher, re.Pattern) and not isinstance(matcher.pattern, str):
        raise TypeError(
            f"{what} is matched as text: compile a str pattern, "
            f"re.compile({matcher.pattern.decode('latin-1')!r}), not {matcher!r:.60}"
        )


@dataclass(frozen=True)
class Difference:
    """How one field of a request differed from what an expectation wanted.

    Attributes:
        field: what differed, as the report names it (``header Accept``).
        expected: what was wanted, as the report shows it.
        received: what came, likewise.
        part: the part of the request it is about, for ranking near misses (``url``,
            ``method``, ``headers``, ``query``, ``body``; another name for a criterion
            WireMock does not have); ``field`` when not given.
        distance: how far off, from 0 to 1 (``distance.string_distance`` for an exact
            value, 1.0 otherwise).
    """

    field: str
    expected: str
    received: str
    part: str = ""
    distance: float = 1.0

    def __post_init__(self) -> None:
        if not self.part:
            object.__setattr__(self, "part", self.field)

    def __str__(self) -> str:
        return f"{self.field}: expected {self.expected}, got {self.received}"


@dataclass(frozen=True)
class RequestShape:
    """What an expectation accepts; every criterion left ``None`` accepts anything.

    Attributes:
        method: the method (case-insensitive).
        path: the decoded path: exact, whole-match pattern, or predicate.
        query: parameter name → matcher; every named parameter must have a matching value.
        headers: field name (case-insensitive) → matcher; some value of the field must match.
        body: exact bytes or str, a whole-match pattern (on the text), or a predicate on bytes.
        json: a value the body parsed as JSON must equal (use :class:`Subset` for "at least").
        form: name → matcher over the urlencoded body.
        predicate: any predicate on the request, given as ``(request) -> bool``.
    """

    method: str | None = None
    path: Matcher | None = None
    query: Mapping[str, Matcher] | None = None
    headers: Mapping[str, Matcher] | None = None
    body: bytes | str | re.Pattern[str] | Callable[[bytes], bool] | None = None
    json: Any = MISSING
    form: Mapping[str, Matcher] | None = None
    predicate: Callable[[Any], bool] | None = None

    def differences(
        self,
        *,
        method: str,
        path: str,
        query: Iterable[tuple[str, str]],
        headers: Iterable[tuple[str, str]],
        body: bytes,
        form: Callable[[], Iterable[tuple[str, str]]],
        request: Any,
    ) -> list[Difference]:
        """Every way the request differs from this shape (``[]``: it matches)."""
        found: list[Difference] = []
        if self.method is not None and method.upper() != self.method.upper():
            found.append(Difference("method", repr(self.method.upper()), repr(method)))
        if self.path is not None and not value_matches(self.path, path):
            found.append(
                Difference(
                    "path",
                    describe_matcher(self.path),
                    repr(path),
                    "url",
                    _matcher_distance(self.path, path),
                )
            )
        if self.query is not None:
            found += _pairs_differences("query", self.query, list(query), fold=False)
        if self.headers is not None:
            found += _pairs_differences("header", self.headers, list(headers), fold=True)
        if self.body is not None or self.json is not MISSING or self.form is not None:
            found += self._content_differences(body, form)
        if self.predicate is not None and not self.predicate(request):
            found.append(
                Difference("match", describe_matcher(self.predicate), "a request it rejected")
            )
        return found

    def _content_differences(
        self, body: bytes, form: Callable[[], Iterable[tuple[str, str]]]
    ) -> list[Difference]:
        """Every way the request's content differs from ``body``, ``json`` and ``form``."""
        found: list[Difference] = []
        if self.body is not None and not _body_matches(self.body, body):
            found.append(
                Difference(
                    "body",
                    describe_matcher(self.body),
                    _show_body(body),
                    "body",
                    _body_distance(self.body, body),
                )
            )
        if self.json is not MISSING:
            try:
                received = _json.loads(body)
            except (ValueError, RecursionError) as error:
                what = "not JSON" if isinstance(error, ValueError) else "JSON nested too deeply"
                found.append(
                    Difference("json", repr(self.json), f"{what}: {_show_body(body)}", "body")
                )
            else:
                if not _equal(received, self.json):
                    found.append(
                        Difference(
                            "json",
                            repr(self.json),
                            repr(received),
                            "body",
                            _json_distance(self.json, received),
                        )
                    )
        if self.form is not None:
            try:
                pairs = list(form())
            except ValueError as error:
                found.append(Difference("form", repr(dict(self.form)), str(error), "body"))
            else:
                found += _pairs_differences("form", self.form, pairs, fold=False)
        return found

    def criteria(self) -> Counter[str]:
        """How many criteria the shape has in each part of a request (``{"headers": 2}``),
        for ``distance.request_distance``."""
        counts: Counter[str] = Counter()
        if self.method is not None:
            counts["method"] += 1
        if self.path is not None:
            counts["url"] += 1
        counts["query"] += len(self.query or ())
        counts["headers"] += len(self.headers or ())
        counts["body"] += (self.body is not None) + (self.json is not MISSING)
        counts["body"] += len(self.form or ())
        if self.predicate is not None:
            counts["match"] += 1
        return counts

    def describe(self) -> str:
        """The shape as the call that made it, for reports: ``expect('GET', '/x', ...)``."""
        parts = []
        if self.method is not None:
            parts.append(repr(self.method.upper()))
        if self.path is not None:
            parts.append(_short(self.path))
        named = (
            ("query", self.query),
            ("headers", self.headers),
            ("body", self.body),
            ("form", self.form),
        )
        for name, value in named:  # (no getattr: this names a test's expectations)
            if value is not None:
                parts.append(f"{name}={_short(value)}")
        if self.json is not MISSING:
            parts.append(f"json={self.json!r}")
        if self.predicate is not None:
            parts.append(f"match={_short(self.predicate)}")
        return ", ".join(parts) or "any request"


def _short(value: object) -> str:
    if isinstance(value, str):  # (the usual: first, before the ABC's check below)
        return repr(value)
    if isinstance(value, re.Pattern):
        return f"re.compile({value.pattern!r})"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k!r}: {_short(v)}" for k, v in value.items()) + "}"
    if callable(value):
        return getattr(value, "__qualname__", None) or repr(value)
    return repr(value)


#: The part of a request (for ranking) that each kind of named criterion is about.
_PARTS: Final = {"query": "query", "header": "headers", "form": "body"}


def _pairs_differences(
    kind: str, wanted: Mapping[str, Matcher], pairs: list[tuple[str, str]], *, fold: bool
) -> list[Difference]:
    found = []
    for name, matcher in wanted.items():
        key = name.lower() if fold else name
        values = [value for n, value in pairs if (n.lower() if fold else n) == key]
        if not any(value_matches(matcher, value) for value in values):
            got = "nothing" if not values else ", ".join(repr(v) for v in values)
            distance = min((_matcher_distance(matcher, value) for value in values), default=1.0)
            found.append(
                Difference(f"{kind} {name}", describe_matcher(matcher), got, _PARTS[kind], distance)
            )
    return found


def _matcher_distance(matcher: object, value: str) -> float:
    """How far ``value`` is from what ``matcher`` wanted: the string distance from an exact
    value; 1.0 from a pattern or a predicate, which say only yes or no."""
    return string_distance(matcher, value) if isinstance(matcher, str) else 1.0


def _body_distance(matcher: object, body: bytes) -> float:
    if isinstance(matcher, bytes | str):
        expected = matcher.decode("utf-8", "replace") if isinstance(matcher, bytes) else matcher
        return string_distance(expected, body.decode("utf-8", "replace"))
    return 1.0


def _json_distance(expected: Any, received: Any) -> float:
    """The string distance between the two values written as canonical JSON; 1.0 when the
    expected one is not plain JSON (it holds a :class:`Subset`)."""
    try:
        wanted = _json.dumps(expected, sort_keys=True)
        got = _json.dumps(received, sort_keys=True)
    except (TypeError, ValueError, RecursionError):
        return 1.0
    return string_distance(wanted, got)


def _body_matches(
    matcher: bytes | str | re.Pattern[str] | Callable[[bytes], bool], body: bytes
) -> bool:
    if isinstance(matcher, bytes):
        return body == matcher
    if isinstance(matcher, str):
        return body == matcher.encode()
    if isinstance(matcher, re.Pattern):
        return matcher.fullmatch(body.decode("utf-8", "replace")) is not None
    return bool(matcher(body))


def _show_body(body: bytes, limit: int = 80) -> str:
    if not body:
        return "an empty body"
    shown = repr(body[:limit])
    return shown + (f" ... ({len(body)} bytes)" if len(body) > limit else "")
