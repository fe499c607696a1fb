"""The options of a served directory, checked: content codings, generated fields, suffix fields."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from .._core.coding import CodingError, check_codings
from .._core.directive_sources import directives_from_mapping
from .._core.directives import (
    GENERATED_FIELDS,
    CodingChoice,
    DirectiveError,
    Directives,
    parse_generated_fields,
)
from .._errors import ConfigurationError

__all__ = ["check_coding_options", "check_generated_fields", "check_suffix_headers"]


def check_coding_options(content_coding: object, content_codings: object) -> CodingChoice | None:
    """The ``content_coding=``/``content_codings=`` options as a :data:`CodingChoice`.

    Raises:
        ConfigurationError: both given, several codings in ``content_coding``, or a coding
            that is unknown or whose package is not installed (the message names it).
    """
    if content_coding is None and content_codings is None:
        return None
    if content_coding is not None and content_codings is not None:
        raise ConfigurationError(
            "give content_coding= (always that coding) or content_codings= (chosen per request "
            "by its Accept-Encoding), not both"
        )
    if isinstance(content_coding, list | tuple) or (
        isinstance(content_coding, str) and "," in content_coding
    ):
        raise ConfigurationError(
            f"content_coding= takes one coding, always applied, such as 'gzip'; to choose per "
            f"request among several write content_codings={content_coding!r}"
        )
    try:
        if content_coding is not None:
            return (True, check_codings([content_coding], name="content_coding"))
        return (False, check_codings(content_codings))
    except CodingError as error:
        raise ConfigurationError(str(error)) from None


def check_generated_fields(value: object) -> frozenset[str]:
    """The ``generated_fields=`` option as the names it selects.

    Raises:
        ConfigurationError: not a str or a collection of str, or a name the server does not
            generate (the message lists the ones it does).
    """
    if isinstance(value, str):
        text = value
    elif isinstance(value, Collection) and all(isinstance(name, str) for name in value):
        if not value:
            return frozenset()
        text = ", ".join(value)
    else:
        text = ","
    try:
        return parse_generated_fields(text)
    except DirectiveError:
        raise ConfigurationError(
            f"generated_fields must be 'all', 'none', or some of {', '.join(GENERATED_FIELDS)} "
            f"(a collection such as {{'Content-Type'}}, or a comma-separated str); not {value!r}"
        ) from None


def check_suffix_headers(
    table: Mapping[str, Mapping[str, str]] | None,
) -> dict[str, Directives]:
    if table is None:
        return {}
    example = 'suffix_headers={".gz": {"Content-Encoding": "gzip"}}'
    if not isinstance(table, Mapping):
        raise ConfigurationError(
            f"suffix_headers must be a mapping of suffix to fields, such as {example}; "
            f"not {type(table).__name__}"
        )
    checked = {}
    for suffix, fields in table.items():
        if not isinstance(suffix, str) or not suffix.startswith(".") or len(suffix) < 2:
            raise ConfigurationError(
                f"suffix_headers keys are file-name suffixes starting with '.', such as "
                f"'.gz'; not {suffix!r}"
            )
        if not isinstance(fields, Mapping):
            raise ConfigurationError(
                f"suffix_headers[{suffix!r}] must be a mapping of field names to values, as in "
                f"{example}; not {type(fields).__name__}"
            )
        try:
            checked[suffix] = directives_from_mapping(fields)
        except DirectiveError as error:
            raise ConfigurationError(f"suffix_headers[{suffix!r}]: {error}") from None
    return checked
