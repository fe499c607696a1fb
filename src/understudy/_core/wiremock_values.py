"""WireMock value patterns, and the JSON comparison and JSON paths two of them rely on.

Pure. A value pattern (``{"contains": "abc"}``, ``{"equalToJson": ...}``,
``{"matchesJsonPath": "$.id"}``) is what every other part of a mapping matches a single value
with: a query parameter, a header field, the body. Also here, because every part of a mapping
raises it: :class:`MappingError`.

The format is WireMock's (https://wiremock.org/docs/request-matching/). A pattern understudy does
not know or does not implement is an error naming it.
"""

from __future__ import annotations

import json as _json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from .distance import string_distance
from .regexes import LinearRegex, RegexError, compile_linear

__all__ = [
    "MappingError",
    "ValuePattern",
    "json_equal",
    "json_path",
    "known_fields",
    "parse_value_pattern",
]


class MappingError(ValueError):
    """A mapping that is not valid WireMock JSON, or uses a field understudy does not support.

    The message starts with the path of the field (``request.bodyPatterns[0].equalsTo``).
    """


def known_fields(
    where: str,
    raw: object,
    known: Iterable[str],
    unsupported: Iterable[str],
    *,
    shape: str = "must be an object",
) -> dict[str, Any]:
    """A JSON object's members without its ``null`` ones (WireMock reads them as absent).

    Raises:
        MappingError: ``raw`` is not an object (the message says ``shape``), or it has a member
            that is not in ``known``, or one in ``unsupported`` (WireMock's, not understudy's).
    """
    if not isinstance(raw, Mapping):
        raise MappingError(f"{where}: {shape}")
    fields = {key: value for key, value in raw.items() if value is not None}
    for key in fields:
        if key in unsupported:
            raise MappingError(f"{where}.{key}: this WireMock field is not supported by understudy")
        if key not in known:
            raise MappingError(f"{where}.{key}: unknown field")
    return fields


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
        regex: for ``matches`` and ``doesNotMatch``, the operand compiled with RE2 (matched in
            linear time: a mapping is data, see ``regexes.py``).
    """

    operator: str
    operand: Any
    options: Mapping[str, bool] = field(default_factory=dict)
    sub: ValuePattern | None = None
    source: Mapping[str, Any] = field(default_factory=dict)
    regex: LinearRegex | None = field(default=None, compare=False, repr=False)

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
        if operator in ("matches", "doesNotMatch"):
            regex = self.regex or compile_linear(self.operand, dotall=True)
            return regex.fullmatch(value) is (operator == "matches")
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

    def distance(self, value: str | None) -> float:
        """How far ``value`` is from the pattern, from 0.0 (it matches) to 1.0: for
        ``equalTo``, the string distance (``distance.string_distance``, case folded with
        ``caseInsensitive``), as WireMock's; for ``equalToJson``, the string distance between
        both written as canonical JSON; for any other pattern 0.0 or 1.0."""
        if value is None:
            return 0.0 if self.operator == "absent" else 1.0
        if self.operator == "equalTo":  # (0.0 when equal: no second comparison)
            wanted = str(self.operand)
            if self.options.get("caseInsensitive"):
                return string_distance(wanted.casefold(), value.casefold())
            return string_distance(wanted, value)
        if self.operator == "equalToJson":
            try:
                received = _json.loads(value)
            except ValueError:
                return 1.0
            if self.matches(value):
                return 0.0
            return string_distance(
                _json.dumps(self.operand, sort_keys=True), _json.dumps(received, sort_keys=True)
            )
        return 0.0 if self.matches(value) else 1.0

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
    regex = None
    if operator in ("matches", "doesNotMatch"):
        try:
            regex = compile_linear(operand, dotall=True)
        except RegexError as error:
            raise MappingError(f"{where}.{operator}: {error}") from None
    return ValuePattern(operator, operand, options, sub, dict(raw), regex)


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
    elif not isinstance(operand, str):
        raise MappingError(f"{where}.{operator}: a string, not {operand!r}")
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
