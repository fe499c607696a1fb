"""WireMock request patterns: the request half of a stub mapping, and how a request differs.

Pure: :func:`parse_request_pattern` checks every field of the JSON and returns a
:class:`RequestPattern`, which says how a request (given as plain values) differs from it, as
:class:`~understudy._core.matching.Difference` values, so the near-miss report reads the same as
for ``server.expect(...)``.

The format is WireMock's (https://wiremock.org/docs/request-matching/). A field understudy does
not know, or knows but does not implement, is an error naming the field: a stub that silently
ignored a matcher would accept requests it should refuse.
"""

from __future__ import annotations

import json as _json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from .distance import string_distance
from .matching import Difference
from .regexes import LinearRegex, RegexError, compile_linear
from .wiremock_errors import MappingError, known_fields
from .wiremock_values import ValuePattern, parse_value_pattern

__all__ = ["RequestPattern", "parse_request_pattern"]


_URL_KEYS: Final = ("url", "urlPattern", "urlPath", "urlPathPattern")
_REQUEST_KEYS: Final = {"method", *_URL_KEYS, "queryParameters", "headers", "bodyPatterns"}
_UNSUPPORTED_REQUEST_KEYS: Final = {
    "cookies",
    "basicAuthCredentials",
    "multipartPatterns",
    "customMatcher",
    "host",
    "port",
    "scheme",
    "formParameters",
    "pathParameters",
    "clientIp",
}


@dataclass(frozen=True)
class RequestPattern:
    """The request half of a mapping (or the body of ``/__admin/requests/count``).

    Attributes:
        method: the method, or ``None`` for any (WireMock's ``"ANY"`` or no method).
        url: ``(kind, value)``: ``url`` (path and query, exact), ``urlPattern`` (regex over
            path and query), ``urlPath`` (path, exact) or ``urlPathPattern``; ``None``: any.
        url_regex: for ``urlPattern`` and ``urlPathPattern``, the value compiled with RE2
            (matched in linear time: a mapping is data, see ``regexes.py``).
        query: parameter name → pattern (some value must match; ``absent``: none sent).
        headers: field name (any case) → pattern.
        body: patterns the body text must all match.
        source: the JSON it was parsed from.
    """

    method: str | None = None
    url: tuple[str, str] | None = None
    query: Mapping[str, ValuePattern] = field(default_factory=dict)
    headers: Mapping[str, ValuePattern] = field(default_factory=dict)
    body: tuple[ValuePattern, ...] = ()
    source: Mapping[str, Any] = field(default_factory=dict)
    url_regex: LinearRegex | None = field(default=None, compare=False, repr=False)

    def differences(
        self,
        *,
        method: str,
        target: str,
        query: Iterable[tuple[str, str]],
        headers: Iterable[tuple[str, str]],
        body: bytes,
    ) -> list[Difference]:
        """Every way the request differs (``[]``: it matches).

        Args:
            method: the method as sent.
            target: the request target in origin form, as sent (``/a%20b?x=1``).
            query: the decoded query parameters.
            headers: the header fields.
            body: the body bytes (matched as UTF-8 text).
        """
        found: list[Difference] = []
        if self.method is not None and method.upper() != self.method.upper():
            found.append(Difference("method", repr(self.method.upper()), repr(method)))
        if self.url is not None:
            kind, wanted = self.url
            path = target.partition("?")[0]
            subject = target if kind in ("url", "urlPattern") else path
            if kind in ("url", "urlPath"):
                ok = subject == wanted
                shown = repr(wanted)
            else:
                regex = self.url_regex or compile_linear(wanted)
                ok = regex.fullmatch(subject)
                shown = f"a match for /{wanted}/"
            if not ok:
                distance = string_distance(wanted, subject) if kind in ("url", "urlPath") else 1.0
                found.append(Difference(kind, shown, repr(subject), "url", distance))
        pairs = list(query)
        for name, pattern in self.query.items():
            values = [value for key, value in pairs if key == name]
            found += _value_differences(f"query {name}", "query", pattern, values)
        fields = list(headers)
        for name, pattern in self.headers.items():
            values = [value for key, value in fields if key.lower() == name.lower()]
            found += _value_differences(f"header {name}", "headers", pattern, values)
        if self.body:
            text = body.decode("utf-8", "replace")
            for pattern in self.body:
                if not pattern.matches(text):
                    shown = repr(text[:80]) + (
                        f" ... ({len(body)} bytes)" if len(text) > 80 else ""
                    )
                    found.append(
                        Difference(
                            "body",
                            pattern.describe(),
                            shown or "an empty body",
                            "body",
                            pattern.distance(text),
                        )
                    )
        return found

    def criteria(self) -> Counter[str]:
        """How many criteria the pattern has in each part of a request (``{"headers": 2}``),
        for ``distance.request_distance``."""
        counts: Counter[str] = Counter()
        counts["method"] = int(self.method is not None)
        counts["url"] = int(self.url is not None)
        counts["query"] = len(self.query)
        counts["headers"] = len(self.headers)
        counts["body"] = len(self.body)
        return counts

    def describe(self) -> str:
        """The pattern as WireMock JSON, for reports."""
        return _json.dumps(dict(self.source))


def _value_differences(
    what: str, part: str, pattern: ValuePattern, values: list[str]
) -> list[Difference]:
    if pattern.operator == "absent":
        if values:
            return [Difference(what, "absent", ", ".join(repr(v) for v in values), part)]
        return []
    if any(pattern.matches(value) for value in values):
        return []
    got = ", ".join(repr(v) for v in values) if values else "nothing"
    distance = min((pattern.distance(value) for value in values), default=1.0)
    return [Difference(what, pattern.describe(), got, part, distance)]


def parse_request_pattern(where: str, raw: object) -> RequestPattern:
    """A :class:`RequestPattern` from its JSON, or :class:`MappingError` naming the field."""
    raw = known_fields(where, raw, _REQUEST_KEYS, _UNSUPPORTED_REQUEST_KEYS)
    method = raw.get("method")
    if method is not None and not isinstance(method, str):
        raise MappingError(f'{where}.method: a string such as "GET", not {method!r}')
    if method == "ANY":
        method = None
    urls = [key for key in _URL_KEYS if key in raw]
    if len(urls) > 1:
        raise MappingError(f"{where}: give one of {', '.join(_URL_KEYS)}, not {', '.join(urls)}")
    url = None
    url_regex = None
    if urls:
        [kind] = urls
        value = raw[kind]
        if not isinstance(value, str):
            raise MappingError(f"{where}.{kind}: a string, not {value!r}")
        if kind.endswith("Pattern"):
            try:
                url_regex = compile_linear(value)
            except RegexError as error:
                raise MappingError(f"{where}.{kind}: {error}") from None
        url = (kind, value)
    query = _parse_named_patterns(f"{where}.queryParameters", raw.get("queryParameters", {}))
    headers = _parse_named_patterns(f"{where}.headers", raw.get("headers", {}))
    bodies = raw.get("bodyPatterns", [])
    if not isinstance(bodies, list):
        raise MappingError(f"{where}.bodyPatterns: a list of value patterns")
    body = tuple(
        parse_value_pattern(f"{where}.bodyPatterns[{index}]", pattern)
        for index, pattern in enumerate(bodies)
    )
    return RequestPattern(method, url, query, headers, body, dict(raw), url_regex)


def _parse_named_patterns(where: str, raw: object) -> dict[str, ValuePattern]:
    if not isinstance(raw, Mapping):
        raise MappingError(f"{where}: an object of name to value pattern")
    return {str(name): parse_value_pattern(f"{where}.{name}", value) for name, value in raw.items()}
