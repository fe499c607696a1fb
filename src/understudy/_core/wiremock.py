"""WireMock stub mappings as plain values: parsing, request matching, JSON comparison, JSON paths.

Pure: a mapping is a ``dict`` as loaded from a WireMock ``mappings/*.json`` file (or posted to
``/__admin/mappings``); :func:`parse_mapping` checks every field and returns a
:class:`StubMapping`, and :class:`RequestPattern` says how a request (given as plain values)
differs from it, as :class:`~understudy._core.matching.Difference` values, so the near-miss
report reads the same as for ``server.expect(...)``.

The format is WireMock's (https://wiremock.org/docs/stubbing/ and
https://wiremock.org/docs/request-matching/). A field understudy does not know, or knows but
does not implement, is an error naming the field: a stub that silently ignored a matcher would
accept requests it should refuse.
"""

from __future__ import annotations

import base64
import binascii
import json as _json
import re
import uuid as _uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from .matching import Difference

__all__ = [
    "DEFAULT_PRIORITY",
    "STARTED",
    "MappingError",
    "RequestPattern",
    "ResponseDefinition",
    "Scenarios",
    "StubMapping",
    "ValuePattern",
    "json_equal",
    "json_path",
    "parse_mapping",
    "parse_mappings_document",
    "parse_request_pattern",
    "parse_response_definition",
    "parse_value_pattern",
]

#: The state every scenario starts in (WireMock's ``Scenario.STARTED``).
STARTED: Final = "Started"

#: WireMock's default stub priority: 1 is the highest, larger numbers are lower.
DEFAULT_PRIORITY: Final = 5


class MappingError(ValueError):
    """A mapping that is not valid WireMock JSON, or uses a field understudy does not support.

    The message starts with the path of the field (``request.bodyPatterns[0].equalsTo``).
    """


# -- value patterns (WireMock's StringValuePattern family) --------------------------------------

_VALUE_OPERATORS: Final = (
    "equalTo",
    "contains",
    "doesNotContain",
    "matches",
    "doesNotMatch",
    "absent",
    "equalToJson",
    "matchesJsonPath",
)
_VALUE_OPTIONS: Final = {
    "equalTo": {"caseInsensitive"},
    "equalToJson": {"ignoreArrayOrder", "ignoreExtraElements"},
}
_UNSUPPORTED_OPERATORS: Final = {
    "equalToXml",
    "matchesXPath",
    "binaryEqualTo",
    "before",
    "after",
    "equalToDateTime",
    "and",
    "or",
    "not",
    "hasExactly",
    "includes",
    "matchesJsonSchema",
}


@dataclass(frozen=True)
class ValuePattern:
    """One WireMock value pattern, such as ``{"contains": "abc"}``.

    Attributes:
        operator: the pattern's name (``equalTo``, ``contains``, ``doesNotContain``,
            ``matches``, ``doesNotMatch``, ``absent``, ``equalToJson``, ``matchesJsonPath``).
        operand: its value (a string; a JSON value for ``equalToJson``).
        options: the flags given beside it (``caseInsensitive``, ``ignoreArrayOrder``,
            ``ignoreExtraElements``).
        sub: for ``matchesJsonPath`` given as an object, the pattern the selected value must
            match.
        source: the JSON it was parsed from (for the admin API and reports).
    """

    operator: str
    operand: Any
    options: Mapping[str, bool] = field(default_factory=dict)
    sub: ValuePattern | None = None
    source: Mapping[str, Any] = field(default_factory=dict)

    def matches(self, value: str | None) -> bool:
        """Whether ``value`` (``None``: the field is absent) satisfies the pattern."""
        operator = self.operator
        if operator == "absent":
            return value is None
        if value is None:
            return False
        if operator == "equalTo":
            if self.options.get("caseInsensitive"):
                return value.casefold() == str(self.operand).casefold()
            return bool(value == self.operand)
        if operator == "contains":
            return str(self.operand) in value
        if operator == "doesNotContain":
            return str(self.operand) not in value
        if operator == "matches":
            return re.fullmatch(self.operand, value, re.DOTALL) is not None
        if operator == "doesNotMatch":
            return re.fullmatch(self.operand, value, re.DOTALL) is None
        if operator == "equalToJson":
            try:
                received = _json.loads(value)
            except ValueError:
                return False
            return json_equal(
                received,
                self.operand,
                ignore_array_order=bool(self.options.get("ignoreArrayOrder")),
                ignore_extra_elements=bool(self.options.get("ignoreExtraElements")),
            )
        # matchesJsonPath
        try:
            document = _json.loads(value)
        except ValueError:
            return False
        found = json_path(self.operand, document)
        if self.sub is None:
            return any(item is not None and item != [] for item in found)
        return any(self.sub.matches(_as_text(item)) for item in found)

    def describe(self) -> str:
        """The pattern as WireMock JSON, for reports: ``{"contains": "abc"}``."""
        return _json.dumps(dict(self.source), sort_keys=False)


def _as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return _json.dumps(value)


def parse_value_pattern(where: str, raw: object) -> ValuePattern:
    """A :class:`ValuePattern` from its JSON, or :class:`MappingError` naming ``where``."""
    if not isinstance(raw, Mapping):
        raise MappingError(f'{where}: a value pattern is an object such as {{"equalTo": ...}}')
    operators = [key for key in raw if key in _VALUE_OPERATORS]
    for key in raw:
        if key in _UNSUPPORTED_OPERATORS:
            raise MappingError(f"{where}.{key}: this WireMock matcher is not supported")
    if len(operators) != 1:
        raise MappingError(
            f"{where}: give exactly one of {', '.join(_VALUE_OPERATORS)}; got "
            f"{', '.join(map(str, raw)) or 'none'}"
        )
    [operator] = operators
    allowed = _VALUE_OPTIONS.get(operator, set())
    options: dict[str, bool] = {}
    for key, value in raw.items():
        if key == operator:
            continue
        if key not in allowed:
            raise MappingError(f"{where}.{key}: unknown field beside {operator!r}")
        if not isinstance(value, bool):
            raise MappingError(f"{where}.{key}: must be true or false, not {value!r}")
        options[key] = value
    operand, sub = _parse_operand(where, operator, raw[operator])
    return ValuePattern(operator, operand, options, sub, dict(raw))


def _parse_operand(where: str, operator: str, operand: Any) -> tuple[Any, ValuePattern | None]:
    sub = None
    if operator == "absent":
        if operand is not True:
            raise MappingError(f'{where}.absent: write "absent": true')
    elif operator == "equalToJson":
        if isinstance(operand, str):
            try:
                operand = _json.loads(operand)
            except ValueError as error:
                raise MappingError(f"{where}.equalToJson: not JSON: {error}") from None
    elif operator == "matchesJsonPath":
        if isinstance(operand, Mapping):
            rest = {k: v for k, v in operand.items() if k != "expression"}
            expression = operand.get("expression")
            if not isinstance(expression, str):
                raise MappingError(f"{where}.matchesJsonPath.expression: a JSON path string")
            sub = parse_value_pattern(f"{where}.matchesJsonPath", rest)
            operand = expression
        if not isinstance(operand, str):
            raise MappingError(f"{where}.matchesJsonPath: a JSON path string such as '$.id'")
        try:
            _compile_path(operand)
        except MappingError as error:
            raise MappingError(f"{where}.matchesJsonPath: {error}") from None
    else:
        if not isinstance(operand, str):
            raise MappingError(f"{where}.{operator}: a string, not {operand!r}")
        if operator in ("matches", "doesNotMatch"):
            try:
                re.compile(operand)
            except re.error as error:
                raise MappingError(
                    f"{where}.{operator}: not a regular expression: {error}"
                ) from None
    return operand, sub


# -- JSON equality (equalToJson) -----------------------------------------------------------------


def json_equal(
    received: Any,
    expected: Any,
    *,
    ignore_array_order: bool = False,
    ignore_extra_elements: bool = False,
) -> bool:
    """Whether two JSON values are equal as WireMock's ``equalToJson`` compares them.

    Args:
        received: the parsed request body.
        expected: the parsed value of the pattern.
        ignore_array_order: arrays are equal when they hold the same items in any order.
        ignore_extra_elements: objects of ``received`` may hold keys ``expected`` does not.
    """

    def equal(got: Any, want: Any) -> bool:
        if isinstance(want, dict):
            if not isinstance(got, dict):
                return False
            if not ignore_extra_elements and got.keys() != want.keys():
                return False
            return all(key in got and equal(got[key], value) for key, value in want.items())
        if isinstance(want, list):
            if not isinstance(got, list) or len(got) != len(want):
                return False
            if not ignore_array_order:
                return all(equal(g, w) for g, w in zip(got, want, strict=True))
            return _match_unordered(got, want, equal)
        if isinstance(got, bool) or isinstance(want, bool):
            return type(got) is type(want) and got == want
        if isinstance(got, dict | list):
            return False
        return bool(got == want)

    return equal(received, expected)


def _match_unordered(got: list[Any], want: list[Any], equal: Any) -> bool:
    """Whether each item of ``want`` pairs with a distinct equal item of ``got`` (backtracking)."""
    used = [False] * len(got)

    def place(index: int) -> bool:
        if index == len(want):
            return True
        for position, item in enumerate(got):
            if not used[position] and equal(item, want[index]):
                used[position] = True
                if place(index + 1):
                    return True
                used[position] = False
        return False

    return place(0)


# -- JSON paths (matchesJsonPath) ------------------------------------------------------------------

_PATH_TOKEN = re.compile(
    r"""
      \.\.(?P<deep>[A-Za-z_$][\w$-]*|\*)             # ..name, ..*
    | \.(?P<name>[A-Za-z_$][\w$-]*|\*)               # .name, .*
    | \[\s*(?P<index>-?\d+)\s*\]                     # [0], [-1]
    | \[\s*(?P<quoted>'[^']*'|"[^"]*")\s*\]          # ['name']
    | \[\s*\*\s*\](?P<star>)                         # [*]
    | \[\s*\?\s*\(\s*@\.(?P<field>[\w$-]+)\s*
        (?:(?P<op>==|!=|<=|>=|<|>)\s*(?P<literal>'[^']*'|"[^"]*"|-?\d+(?:\.\d+)?|true|false|null))?
        \s*\)\s*\]                                   # [?(@.a == 'b')], [?(@.a)]
    """,
    re.VERBOSE,
)


def _compile_path(expression: str) -> list[tuple[str, Any]]:
    """The steps of a simple JSON path (``$.a.b[0]``, ``$..id``, ``$.items[?(@.n > 1)]``)."""
    if not expression.startswith("$"):
        raise MappingError(f"a JSON path starts with '$': {expression!r}")
    steps: list[tuple[str, Any]] = []
    position = 1
    while position < len(expression):
        found = _PATH_TOKEN.match(expression, position)
        if found is None:
            raise MappingError(
                f"understudy reads simple JSON paths ($.a.b, $['a'], $.a[0], $.a[*], $..a, "
                f"$.a[?(@.b == 'c')]); cannot read {expression!r} from {expression[position:]!r}"
            )
        groups = found.groupdict()
        if groups["deep"] is not None:
            steps.append(("deep", groups["deep"]))
        elif groups["name"] is not None:
            steps.append(("child", groups["name"]))
        elif groups["index"] is not None:
            steps.append(("index", int(groups["index"])))
        elif groups["quoted"] is not None:
            steps.append(("child", groups["quoted"][1:-1]))
        elif groups["star"] is not None:
            steps.append(("child", "*"))
        else:
            literal = groups["literal"]
            value: Any = None
            if literal is not None:
                value = literal[1:-1] if literal[0] in "'\"" else _json.loads(literal)
            steps.append(("filter", (groups["field"], groups["op"], value)))
        position = found.end()
    return steps


def json_path(expression: str, document: Any) -> list[Any]:
    """The values a simple JSON path selects from ``document`` (``[]``: none).

    A filter (``[?(...)]``) selects a list of the items that pass, as Jayway JsonPath does, so
    ``$.items[?(@.id == 7)]`` matches when that list is not empty.

    Raises:
        MappingError: the path uses syntax understudy does not read.
    """
    current: list[Any] = [document]
    for kind, argument in _compile_path(expression):
        following: list[Any] = []
        for node in current:
            if kind == "child":
                following += _children(node, argument)
            elif kind == "index":
                if isinstance(node, list) and -len(node) <= argument < len(node):
                    following.append(node[argument])
            elif kind == "deep":
                for item in _descendants(node):
                    following += _children(item, argument)
            else:
                items = node if isinstance(node, list) else [node]
                following.append([item for item in items if _passes(item, *argument)])
        current = following
    return current


def _children(node: Any, name: str) -> list[Any]:
    if name == "*":
        if isinstance(node, dict):
            return list(node.values())
        return list(node) if isinstance(node, list) else []
    if isinstance(node, dict) and name in node:
        return [node[name]]
    return []


def _descendants(node: Any) -> Iterable[Any]:
    yield node
    children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
    for child in children:
        yield from _descendants(child)


def _passes(item: Any, name: str, operator: str | None, literal: Any) -> bool:
    if not isinstance(item, dict) or name not in item:
        return False
    value = item[name]
    if operator is None:
        return True
    if operator == "==":
        return bool(value == literal)
    if operator == "!=":
        return bool(value != literal)
    try:
        if operator == "<":
            return bool(value < literal)
        if operator == "<=":
            return bool(value <= literal)
        if operator == ">":
            return bool(value > literal)
        return bool(value >= literal)
    except TypeError:
        return False


# -- request patterns ------------------------------------------------------------------------------

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
                ok = re.fullmatch(wanted, subject) is not None
                shown = f"a match for /{wanted}/"
            if not ok:
                found.append(Difference(kind, shown, repr(subject)))
        pairs = list(query)
        for name, pattern in self.query.items():
            values = [value for key, value in pairs if key == name]
            found += _value_differences(f"query {name}", pattern, values)
        fields = list(headers)
        for name, pattern in self.headers.items():
            values = [value for key, value in fields if key.lower() == name.lower()]
            found += _value_differences(f"header {name}", pattern, values)
        if self.body:
            text = body.decode("utf-8", "replace")
            for pattern in self.body:
                if not pattern.matches(text):
                    shown = repr(text[:80]) + (
                        f" ... ({len(body)} bytes)" if len(text) > 80 else ""
                    )
                    found.append(Difference("body", pattern.describe(), shown or "an empty body"))
        return found

    def describe(self) -> str:
        """The pattern as WireMock JSON, for reports."""
        return _json.dumps(dict(self.source))


def _value_differences(what: str, pattern: ValuePattern, values: list[str]) -> list[Difference]:
    if pattern.operator == "absent":
        if values:
            return [Difference(what, "absent", ", ".join(repr(v) for v in values))]
        return []
    if any(pattern.matches(value) for value in values):
        return []
    got = ", ".join(repr(v) for v in values) if values else "nothing"
    return [Difference(what, pattern.describe(), got)]


def _without_nulls(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The object without its ``null`` members (WireMock reads them as absent)."""
    return {key: value for key, value in raw.items() if value is not None}


def parse_request_pattern(where: str, raw: object) -> RequestPattern:
    """A :class:`RequestPattern` from its JSON, or :class:`MappingError` naming the field."""
    if not isinstance(raw, Mapping):
        raise MappingError(f"{where}: must be an object")
    raw = _without_nulls(raw)
    for key in raw:
        if key in _UNSUPPORTED_REQUEST_KEYS:
            raise MappingError(f"{where}.{key}: this WireMock field is not supported by understudy")
        if key not in _REQUEST_KEYS:
            raise MappingError(f"{where}.{key}: unknown field")
    method = raw.get("method")
    if method is not None and not isinstance(method, str):
        raise MappingError(f'{where}.method: a string such as "GET", not {method!r}')
    if method == "ANY":
        method = None
    urls = [key for key in _URL_KEYS if key in raw]
    if len(urls) > 1:
        raise MappingError(f"{where}: give one of {', '.join(_URL_KEYS)}, not {', '.join(urls)}")
    url = None
    if urls:
        [kind] = urls
        value = raw[kind]
        if not isinstance(value, str):
            raise MappingError(f"{where}.{kind}: a string, not {value!r}")
        if kind.endswith("Pattern"):
            try:
                re.compile(value)
            except re.error as error:
                raise MappingError(f"{where}.{kind}: not a regular expression: {error}") from None
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
    return RequestPattern(method, url, query, headers, body, dict(raw))


def _parse_named_patterns(where: str, raw: object) -> dict[str, ValuePattern]:
    if not isinstance(raw, Mapping):
        raise MappingError(f"{where}: an object of name to value pattern")
    return {str(name): parse_value_pattern(f"{where}.{name}", value) for name, value in raw.items()}


# -- response definitions --------------------------------------------------------------------------

_RESPONSE_KEYS: Final = {
    "status",
    "statusMessage",
    "headers",
    "body",
    "jsonBody",
    "base64Body",
    "bodyFileName",
    "fixedDelayMilliseconds",
    "fault",
    "delayDistribution",
    "chunkedDribbleDelay",
}
_UNSUPPORTED_RESPONSE_KEYS: Final = {
    "transformers",
    "transformerParameters",
    "proxyBaseUrl",
    "additionalProxyRequestHeaders",
    "removeProxyRequestHeaders",
    "proxyUrlPrefixToRemove",
}


@dataclass(frozen=True)
class ResponseDefinition:
    """The response half of a mapping.

    Attributes:
        status: the status code (200 by default).
        reason: ``statusMessage``, or ``None`` for the registered reason phrase.
        headers: the fields, in order (a list value in the JSON gives the field once per item).
        body: the body bytes from ``body``, ``jsonBody`` or ``base64Body`` (``b""`` if none).
        body_file: ``bodyFileName``: a path relative to the ``__files`` directory.
        delay: ``fixedDelayMilliseconds`` as seconds, or ``None``.
        fault: ``fault`` as written (``CONNECTION_RESET_BY_PEER``...), or ``None``.
        delay_distribution: ``delayDistribution`` as written, or ``None``.
        dribble: ``chunkedDribbleDelay`` as written, or ``None``.
    """

    status: int = 200
    reason: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    body_file: str | None = None
    delay: float | None = None
    fault: str | None = None
    delay_distribution: Mapping[str, Any] | None = None
    dribble: Mapping[str, Any] | None = None


def _parse_body(where: str, raw: Mapping[str, Any]) -> tuple[bytes, str | None]:
    """The body bytes, or the name of the file in ``__files`` that holds them."""
    bodies = [key for key in ("body", "jsonBody", "base64Body", "bodyFileName") if key in raw]
    if len(bodies) > 1:
        raise MappingError(f"{where}: give one of body, jsonBody, base64Body, bodyFileName")
    body = b""
    body_file = None
    if "body" in raw:
        if not isinstance(raw["body"], str):
            raise MappingError(f"{where}.body: a string (for JSON write jsonBody)")
        body = raw["body"].encode()
    elif "jsonBody" in raw:
        body = _json.dumps(raw["jsonBody"]).encode()
    elif "base64Body" in raw:
        try:
            body = base64.b64decode(str(raw["base64Body"]), validate=True)
        except (binascii.Error, ValueError):
            raise MappingError(f"{where}.base64Body: not base64") from None
    elif "bodyFileName" in raw:
        body_file = raw["bodyFileName"]
        if not isinstance(body_file, str) or not body_file:
            raise MappingError(f"{where}.bodyFileName: a path under __files")
    return body, body_file


def parse_response_definition(where: str, raw: object) -> ResponseDefinition:
    """A :class:`ResponseDefinition` from its JSON, or :class:`MappingError` naming the field."""
    if not isinstance(raw, Mapping):
        raise MappingError(f"{where}: must be an object")
    raw = _without_nulls(raw)
    for key in raw:
        if key in _UNSUPPORTED_RESPONSE_KEYS:
            raise MappingError(f"{where}.{key}: this WireMock field is not supported by understudy")
        if key not in _RESPONSE_KEYS:
            raise MappingError(f"{where}.{key}: unknown field")
    status = raw.get("status", 200)
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        raise MappingError(f"{where}.status: an int from 100 to 599, not {status!r}")
    reason = raw.get("statusMessage")
    if reason is not None and not isinstance(reason, str):
        raise MappingError(f"{where}.statusMessage: a string, not {reason!r}")
    headers: list[tuple[str, str]] = []
    raw_headers = raw.get("headers", {})
    if not isinstance(raw_headers, Mapping):
        raise MappingError(f"{where}.headers: an object of field name to value")
    for name, value in raw_headers.items():
        values = value if isinstance(value, list) else [value]
        for item in values:
            if not isinstance(item, str | int | float) or isinstance(item, bool):
                raise MappingError(f"{where}.headers.{name}: a string or list of strings")
            headers.append((str(name), str(item)))
    body, body_file = _parse_body(where, raw)
    delay = None
    if "fixedDelayMilliseconds" in raw:
        millis = raw["fixedDelayMilliseconds"]
        if not isinstance(millis, int | float) or isinstance(millis, bool) or millis < 0:
            raise MappingError(f"{where}.fixedDelayMilliseconds: milliseconds >= 0, not {millis!r}")
        delay = millis / 1000
    fault = raw.get("fault")
    if fault is not None and not isinstance(fault, str):
        raise MappingError(f'{where}.fault: a string such as "CONNECTION_RESET_BY_PEER"')
    return ResponseDefinition(
        status=status,
        reason=reason,
        headers=tuple(headers),
        body=body,
        body_file=body_file,
        delay=delay,
        fault=fault,
        delay_distribution=raw.get("delayDistribution"),
        dribble=raw.get("chunkedDribbleDelay"),
    )


# -- mappings --------------------------------------------------------------------------------------

_MAPPING_KEYS: Final = {
    "id",
    "uuid",
    "name",
    "request",
    "response",
    "priority",
    "persistent",
    "metadata",
    "scenarioName",
    "requiredScenarioState",
    "newScenarioState",
    "insertionIndex",
}
_UNSUPPORTED_MAPPING_KEYS: Final = {"postServeActions", "serveEventListeners"}


@dataclass(frozen=True)
class StubMapping:
    """One WireMock stub mapping.

    Attributes:
        id: the mapping's UUID (made up when the JSON has none).
        name: its ``name``, or ``None``.
        priority: 1 is the highest; ``None`` when not given (WireMock's default, 5, applies).
        request: what it matches.
        response: how it answers.
        scenario: ``scenarioName``, or ``None``.
        required_state: ``requiredScenarioState``: it matches only in that state.
        new_state: ``newScenarioState``: the scenario's state after it answered.
        source: the JSON, with ``id`` filled in (what the admin API returns).
    """

    id: str
    name: str | None
    priority: int | None
    request: RequestPattern
    response: ResponseDefinition
    scenario: str | None = None
    required_state: str | None = None
    new_state: str | None = None
    source: Mapping[str, Any] = field(default_factory=dict)


def parse_mapping(raw: object, *, where: str = "mapping") -> StubMapping:
    """A :class:`StubMapping` from WireMock JSON (one mapping).

    Raises:
        MappingError: a field that is unknown, unsupported or of the wrong type, named by its
            path from ``where``.
    """
    if not isinstance(raw, Mapping):
        raise MappingError(f"{where}: a mapping is an object with request and response")
    raw = _without_nulls(raw)
    for key in raw:
        if key in _UNSUPPORTED_MAPPING_KEYS:
            raise MappingError(f"{where}.{key}: this WireMock field is not supported by understudy")
        if key not in _MAPPING_KEYS:
            raise MappingError(f"{where}.{key}: unknown field")
    ident = raw.get("id", raw.get("uuid"))
    if ident is None:
        ident = str(_uuid.uuid4())
    elif not isinstance(ident, str):
        raise MappingError(f"{where}.id: a UUID string, not {ident!r}")
    name = raw.get("name")
    if name is not None and not isinstance(name, str):
        raise MappingError(f"{where}.name: a string")
    priority = raw.get("priority")
    if priority is not None and (
        not isinstance(priority, int) or isinstance(priority, bool) or priority < 1
    ):
        raise MappingError(f"{where}.priority: a positive int (1 is the highest), not {priority!r}")
    request = parse_request_pattern(f"{where}.request", raw.get("request", {}))
    response = parse_response_definition(f"{where}.response", raw.get("response", {}))
    scenario = raw.get("scenarioName")
    states = {key: raw.get(key) for key in ("requiredScenarioState", "newScenarioState")}
    for key, value in {"scenarioName": scenario, **states}.items():
        if value is not None and not isinstance(value, str):
            raise MappingError(f"{where}.{key}: a string, not {value!r}")
    if scenario is None and any(value is not None for value in states.values()):
        raise MappingError(f"{where}: requiredScenarioState/newScenarioState need a scenarioName")
    source = {
        "id": ident,
        "uuid": ident,
        **{k: v for k, v in raw.items() if k not in ("id", "uuid")},
    }
    return StubMapping(
        id=ident,
        name=name,
        priority=priority,
        request=request,
        response=response,
        scenario=scenario,
        required_state=states["requiredScenarioState"],
        new_state=states["newScenarioState"],
        source=source,
    )


def parse_mappings_document(raw: object, *, where: str = "mapping") -> list[StubMapping]:
    """The mappings of one file: a single mapping, or ``{"mappings": [...]}``.

    Raises:
        MappingError: as :func:`parse_mapping`, naming the item (``mappings[2].request``).
    """
    if isinstance(raw, Mapping) and "mappings" in raw:
        extra = [key for key in raw if key not in ("mappings", "meta")]
        if extra:
            raise MappingError(f"{where}.{extra[0]}: unknown field beside 'mappings'")
        items = raw["mappings"]
        if not isinstance(items, list):
            raise MappingError(f"{where}.mappings: a list of mappings")
        return [
            parse_mapping(item, where=f"{where}.mappings[{index}]")
            for index, item in enumerate(items)
        ]
    return [parse_mapping(raw, where=where)]


class Scenarios:
    """The state of each scenario (``"Started"`` until a mapping moves it)."""

    def __init__(self) -> None:
        self._states: dict[str, str] = {}

    def state(self, name: str) -> str:
        return self._states.get(name, STARTED)

    def set(self, name: str, state: str) -> None:
        self._states[name] = state

    def reset(self) -> None:
        self._states.clear()

    def snapshot(self, names: Iterable[str]) -> dict[str, str]:
        """Every named scenario's state."""
        return {name: self.state(name) for name in names}
