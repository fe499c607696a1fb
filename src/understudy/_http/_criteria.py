"""The request criteria, typed once: what ``expect``, ``expect_in_order`` and
``assert_requested`` take besides the method and path (PEP 692 ``**criteria: Unpack[...]``)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypedDict

from .._core.matching import Matcher

if TYPE_CHECKING:
    from ._request import Request

__all__ = ["CRITERIA", "RequestCriteria"]


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
