"""WireMock value patterns: how every part of a mapping matches a single value.

Pure. A value pattern (``{"contains": "abc"}``, ``{"equalToJson": ...}``,
``{"matchesJsonPath": "$.id"}``) is what every other part of a mapping matches a single value
with: a query parameter, a header field, the body. The JSON comparison and JSON paths two of
them rely on are in ``wiremock_json``.

The format is WireMock's (https://wiremock.org/docs/request-matching/). A pattern understudy does
not know or does not implement is an error naming it.
"""

from __future__ import annotations

import json as _json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from .distance import string_distance
from .regexes import LinearRegex, RegexError, compile_linear
from .wiremock_errors import MappingError
from .wiremock_json import (
    check_placeholders,
    compile_json_path,
    is_definite,
    json_equal,
    json_path,
)

__all__ = ["ValuePattern", "parse_value_pattern"]


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
        try:
            return self._json_matches(value)
        except RecursionError:  # (JSON nested deeper than Python reads: not what was wanted)
            return False

    def _json_matches(self, value: str) -> bool:
        """Whether ``value`` satisfies ``equalToJson`` or ``matchesJsonPath``.

        Raises:
            RecursionError: ``value`` is JSON nested too deeply to read or walk.
        """
        try:
            document = _json.loads(value)
        except ValueError:
            return False
        if self.operator == "equalToJson":
            return json_equal(
                document,
                self.operand,
                ignore_array_order=bool(self.options.get("ignoreArrayOrder")),
                ignore_extra_elements=bool(self.options.get("ignoreExtraElements")),
            )
        found = json_path(self.operand, document)
        definite = is_definite(self.operand)
        if self.sub is None:
            # (as WireMock: a definite path matches a value that is there and not null, an
            # empty list or object too; another path matches when it selects anything)
            return found[0] is not None if definite and found else bool(found)
        return any(self.sub.matches(text) for text in self._sub_values(found, definite=definite))

    def _sub_values(self, found: list[Any], *, definite: bool) -> list[str | None]:
        """What the pattern given beside a ``matchesJsonPath`` expression is matched against,
        as WireMock reads the values the path selected (``found``): the JSON text of an
        object, or of a list for ``equalToJson``; each item of a list (a definite path's
        list, or what another path selected) as a string; a string, number or boolean as
        its text; and for ``absent``, ``None`` when nothing (or null) was selected."""
        assert self.sub is not None
        selected: Any = (found[0] if found else None) if definite else found
        values: list[str | None]
        if isinstance(selected, dict) or (
            isinstance(selected, list) and self.sub.operator == "equalToJson"
        ):
            values = [_json.dumps(selected)]
        elif isinstance(selected, list):
            values = [_item_text(item) for item in selected]
        elif selected is not None:
            values = [_as_text(selected)]
        else:
            values = []
        if not values and self.sub.operator == "absent":
            values = [None]
        return values

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
            if self.matches(value):
                return 0.0
            try:
                received = _json.dumps(_json.loads(value), sort_keys=True)
            except (ValueError, RecursionError):  # (not JSON, or nested too deeply to read)
                return 1.0
            return string_distance(_json.dumps(self.operand, sort_keys=True), received)
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


def _item_text(value: Any) -> str:
    """An item of a list a JSON path selected, as WireMock makes it a string (Java's
    ``String.valueOf`` of Jayway's value): a string as it is, ``null``, and anything else
    as compact JSON."""
    if isinstance(value, str):
        return value
    return _json.dumps(value, separators=(",", ":"))


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
        try:
            check_placeholders(operand)
        except MappingError as error:
            raise MappingError(f"{where}.equalToJson: {error}") from None
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
            compile_json_path(operand)
        except MappingError as error:
            raise MappingError(f"{where}.matchesJsonPath: {error}") from None
    elif not isinstance(operand, str):
        raise MappingError(f"{where}.{operator}: a string, not {operand!r}")
    return operand, sub
