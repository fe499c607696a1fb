"""The request criteria, typed once: what ``expect``, ``expect_in_order`` and
``assert_requested`` take besides the method and path (PEP 692 ``**criteria: Unpack[...]``)."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from typing import TYPE_CHECKING, Any, TypedDict

from .._core.matching import (
    MISSING,
    Matcher,
    RequestShape,
    check_str_pattern,
    check_value_matcher,
)
from .._errors import ConfigurationError
from .._keywords import unknown_keyword

if TYPE_CHECKING:
    from ._request import Request

__all__ = ["CRITERIA", "RequestCriteria", "line_shape", "make_shape"]


class RequestCriteria(TypedDict, total=False):
    """The criteria a request is matched by, besides its method and path: the keyword
    arguments of :meth:`~understudy.HTTPServer.expect`,
    :meth:`~understudy.HTTPServer.expect_in_order` and
    :meth:`~understudy.HTTPServer.assert_requested`.

    Every criterion left out accepts anything, as does one given as ``None`` (but ``json``,
    where ``None`` is JSON's ``null``). A matcher is an exact ``str``, a compiled ``re.Pattern``
    (which must match the whole value), or a predicate on the value. Annotate a helper that
    passes them on with ``**criteria: Unpack[understudy.RequestCriteria]`` (PEP 692), and a
    type checker catches a misspelt one.

    Attributes:
        query (Mapping[str, Matcher] | None): parameter name → matcher; each named parameter
            must have a matching value.
        headers (Mapping[str, Matcher] | None): field name (any case) → matcher; some value of
            the field must match.
        body (bytes | str | re.Pattern[str] | Callable[[bytes], bool] | None): exact bytes or
            str, a pattern over the text, or a predicate on the bytes.
        json (Any): the body parsed as JSON must equal it; ``understudy.Subset(...)`` (also
            nested) accepts a body that contains at least the given keys and items.
        form (Mapping[str, Matcher] | None): name → matcher over an
            ``application/x-www-form-urlencoded`` body.
        match (Callable[[Request], bool] | None): any predicate on the
            :class:`~understudy.Request`.

    .. versionadded:: 0.1
    """

    query: Mapping[str, Matcher] | None
    headers: Mapping[str, Matcher] | None
    body: bytes | str | re.Pattern[str] | Callable[[bytes], bool] | None
    json: Any
    form: Mapping[str, Matcher] | None
    match: Callable[[Request], bool] | None


#: The names of the criteria, for the check of a call's keywords.
CRITERIA: frozenset[str] = frozenset(RequestCriteria.__annotations__)


#: A method is a token (RFC 9110 §9.1, §5.6.2): ``M-SEARCH`` is one, ``GET /x`` is not.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
#: The methods of RFC 9110 §9, tokens all (checked without the pattern).
_METHODS = frozenset(
    ("GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH")
)


def make_shape(
    method: str | None,
    path: Matcher | None,
    criteria: RequestCriteria,
    *,
    what: str,
    takes: Collection[str] = (),
) -> RequestShape:
    """Check the arguments of ``expect``/``assert_requested`` and build the shape.

    Args:
        what: how messages name the call (``"expect()"``).
        takes: the call's own keywords besides the criteria (for the closest name).

    Raises:
        ConfigurationError: a keyword that is not a criterion (naming the closest one), or an
            argument of the wrong type, saying what is accepted.
    """
    if not criteria:  # (the common case: a method and a path, checked as below)
        try:
            _check_method_and_path(method, path)
        except TypeError as error:
            raise ConfigurationError(str(error)) from None
        return line_shape(method, path)
    if not CRITERIA.issuperset(criteria):
        wrong = unknown_keyword(what, criteria, CRITERIA | {"method", "path", *takes})
        assert wrong is not None
        raise wrong
    query = criteria.get("query")
    headers = criteria.get("headers")
    body = criteria.get("body")
    json = criteria.get("json", MISSING)
    form = criteria.get("form")
    match = criteria.get("match")
    try:
        _check_shape_arguments(
            method, path, query=query, headers=headers, body=body, json=json, form=form, match=match
        )
    except TypeError as error:
        raise ConfigurationError(str(error)) from None
    return RequestShape(
        method=method,
        path=path,
        query=query,
        headers=headers,
        body=body,
        json=json,
        form=form,
        predicate=match,
    )


def line_shape(method: str | None, path: Matcher | None) -> RequestShape:
    """``RequestShape(method=method, path=path)``, made without the dataclass's ``__init__``,
    which sets each of a frozen shape's eight fields through ``object.__setattr__`` (most of
    the two microseconds it takes): the other six keep their class defaults, and the shape
    compares, hashes and reads alike (``tests/test_fresh_server_shortcuts.py``)."""
    shape = object.__new__(RequestShape)
    shape.__dict__.update(method=method, path=path)
    return shape


def _check_method_and_path(method: object, path: object) -> None:
    """Raise ``TypeError`` saying what is accepted, for a method or path of a wrong type."""
    if (
        method is not None
        and (type(method) is not str or method not in _METHODS)  # (those need no pattern)
        and (not isinstance(method, str) or not _TOKEN.fullmatch(method))
    ):
        raise TypeError(f"method must be a str such as 'GET', not {method!r}")
    if path is not None:
        if type(path) is not str:  # (a str is one, as check_value_matcher would say)
            check_value_matcher("path", path)
        if isinstance(path, str) and not path.startswith("/"):
            raise TypeError(f"path must start with '/' (it is the decoded path), not {path!r}")
        if isinstance(path, str) and "?" in path:
            raise TypeError(
                f"path {path!r} holds a query: write path={path.partition('?')[0]!r}, query={{...}}"
            )


def _check_shape_arguments(
    method: object,
    path: object,
    *,
    query: object,
    headers: object,
    body: object,
    json: object,
    form: object,
    match: object,
) -> None:
    """Raise ``TypeError`` saying what is accepted, for the first argument of a wrong type."""
    _check_method_and_path(method, path)
    for name, mapping in (("query", query), ("headers", headers), ("form", form)):
        if mapping is None:
            continue
        if not isinstance(mapping, Mapping):
            raise TypeError(
                f"{name} must be a mapping of name to matcher, not {type(mapping).__name__}"
            )
        for key, matcher in mapping.items():
            check_value_matcher(f"{name}[{key!r}]", matcher)
    if body is not None and not isinstance(body, bytes | str | re.Pattern) and not callable(body):
        raise TypeError(
            "body must be bytes or str (exact), a compiled re.Pattern (whole text) or a "
            f"predicate taking the bytes, not {type(body).__name__}"
        )
    check_str_pattern("body", body)
    if match is not None and not callable(match):
        raise TypeError(f"match must be a predicate taking the Request, not {match!r}")
    if body is not None and json is not MISSING:
        raise TypeError("give body= or json=, not both")
