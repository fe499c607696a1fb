"""WireMock's JSON comparison (``equalToJson``) and simple JSON paths (``matchesJsonPath``).

Pure. The value patterns of ``wiremock_values`` rely on them.
"""

from __future__ import annotations

import functools
import json as _json
import re
from collections.abc import Iterable
from typing import Any

from .regexes import LinearRegex, RegexError, compile_linear
from .wiremock_errors import MappingError

__all__ = ["check_placeholders", "compile_json_path", "is_definite", "json_equal", "json_path"]


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
        ignore_extra_elements: objects of ``received`` may hold keys ``expected`` does not,
            and its arrays items after those ``expected`` lists (or, with
            ``ignore_array_order``, besides them), as WireMock's ``IGNORING_EXTRA_FIELDS`` and
            ``IGNORING_EXTRA_ARRAY_ITEMS``.

    A string of ``expected`` that is one of JsonUnit's placeholders, which WireMock reads,
    stands for a kind of value: ``${json-unit.ignore}`` (any), ``${json-unit.any-string}``,
    ``${json-unit.any-number}``, ``${json-unit.any-boolean}``, ``${json-unit.any-array}``,
    ``${json-unit.regex}EXPRESSION`` (a string it wholly matches, RE2), and as members that
    may also be missing ``${json-unit.ignore-element}`` and ``${json-unit.missing-or-null}``
    (see :func:`check_placeholders`).
    """

    def equal(got: Any, want: Any) -> bool:
        if isinstance(want, str) and want[1:12] == "{json-unit.":
            placeholder = _PLACEHOLDER.fullmatch(want)
            if placeholder is not None:
                return _placeholder_matches(placeholder[1], placeholder[2], got)
        if isinstance(want, dict):
            if not isinstance(got, dict):
                return False
            if not ignore_extra_elements and not got.keys() <= want.keys():
                return False
            return all(
                equal(got[key], value) if key in got else _may_be_missing(value)
                for key, value in want.items()
            )
        if isinstance(want, list):
            if not isinstance(got, list) or len(got) < len(want):
                return False
            if not ignore_extra_elements and len(got) != len(want):
                return False
            if not ignore_array_order:
                return all(equal(g, w) for g, w in zip(got, want, strict=False))
            return _match_unordered(got, want, equal)
        if isinstance(got, bool) or isinstance(want, bool):
            return type(got) is type(want) and got == want
        if isinstance(got, dict | list):
            return False
        return bool(got == want)

    return equal(received, expected)


#: JsonUnit's placeholders, which WireMock's ``equalToJson`` reads in the expected JSON: a string
#: ``${json-unit.NAME}`` (or ``#{...}``) stands for any value of a kind; ``regex`` is followed
#: by the regular expression the whole string must match.
_PLACEHOLDER = re.compile(r"[$#]\{json-unit\.([a-z-]+)\}(.*)", re.DOTALL)
_PLACEHOLDERS = {
    "ignore": "any value",
    "ignore-element": "any value, or none",
    "any-string": "a string",
    "any-number": "a number",
    "any-boolean": "a boolean",
    "any-array": "an array",
    "missing-or-null": "null, or no value",
    "regex": "a string the regular expression after it matches",
}


def check_placeholders(expected: Any) -> None:
    """Check the JsonUnit placeholders in an ``equalToJson`` value (see :data:`_PLACEHOLDER`).

    Raises:
        MappingError: a placeholder understudy does not know (naming those it does), or a
            ``regex`` one whose expression RE2 cannot compile.
    """
    if isinstance(expected, dict):
        for value in expected.values():
            check_placeholders(value)
    elif isinstance(expected, list):
        for value in expected:
            check_placeholders(value)
    elif isinstance(expected, str) and expected[1:12] == "{json-unit.":
        found = _PLACEHOLDER.fullmatch(expected)
        if found is None or found[1] not in _PLACEHOLDERS or (found[2] and found[1] != "regex"):
            known = ", ".join(f"${{json-unit.{name}}}" for name in _PLACEHOLDERS)
            raise MappingError(f"{expected!r} is not a placeholder understudy reads ({known})")
        if found[1] == "regex":
            try:
                _regex(found[2])
            except RegexError as error:
                raise MappingError(f"{expected!r}: {error}") from None


@functools.lru_cache(maxsize=256)
def _regex(pattern: str) -> LinearRegex:
    return compile_linear(pattern)


def _placeholder_matches(name: str, pattern: str, got: Any) -> bool:
    """Whether the received value ``got`` is what the placeholder ``name`` stands for."""
    if name in ("ignore", "ignore-element"):
        return True
    if name == "any-number":
        return isinstance(got, int | float) and not isinstance(got, bool)
    if name == "any-boolean":
        return isinstance(got, bool)
    if name == "any-array":
        return isinstance(got, list)
    if name == "missing-or-null":
        return got is None
    if not isinstance(got, str):
        return False
    return name == "any-string" or _regex(pattern).fullmatch(got)


def _may_be_missing(want: Any) -> bool:
    """Whether an expected member may be missing from the received object: its value is the
    placeholder ``${json-unit.ignore-element}`` or ``${json-unit.missing-or-null}``."""
    return isinstance(want, str) and want in (
        "${json-unit.ignore-element}",
        "${json-unit.missing-or-null}",
        "#{json-unit.missing-or-null}",
    )


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


def compile_json_path(expression: str) -> list[tuple[str, Any]]:
    """The steps of a simple JSON path (``$.a.b[0]``, ``$..id``, ``$.items[?(@.n > 1)]``).

    Raises:
        MappingError: the path uses syntax understudy does not read.
    """
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
    """The values a simple JSON path selects from ``document`` (``[]``: none), in order.

    A filter (``[?(...)]``) selects the items of a list that pass (or an object that passes),
    and the steps after it go on from each, as Jayway JsonPath (WireMock's) reads them:
    ``$.items[?(@.id == 7)].name`` is the name of each item whose id is 7.

    Raises:
        MappingError: the path uses syntax understudy does not read.
    """
    current: list[Any] = [document]
    for kind, argument in compile_json_path(expression):
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
                following += [item for item in items if _passes(item, *argument)]
        current = following
    return current


def is_definite(expression: str) -> bool:
    """Whether a JSON path selects one value at most: only names and indexes, no ``*``,
    ``..`` or filter (Jayway's "definite" path, read as that value rather than a list).

    Raises:
        MappingError: the path uses syntax understudy does not read.
    """
    return all(
        kind == "index" or (kind == "child" and argument != "*")
        for kind, argument in compile_json_path(expression)
    )


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
