"""Conditional requests and byte ranges: which answer the validators and Range call for.

Pure: RFC 9110 §13 (preconditions, evaluated in the order of §13.2.2) and §14 (a single byte
range, and If-Range, §13.1.5), over the request's fields and the ETag and Last-Modified the
response would carry. A served directory answers with them (``_http/_file_response.py``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Literal

from .framing import parse_digits

__all__ = ["evaluate_preconditions", "select_range"]

#: One entity tag of a list field (RFC 9110 §8.8.3): weak mark, quoted or unquoted opaque tag.
_ENTITY_TAG = re.compile(r'(W/)?(?:"([^"]*)"|([^,\s"]+))')


def evaluate_preconditions(
    method: str, headers: Mapping[str, str], etag: str | None, last_modified: str | None
) -> Literal[304, 412] | None:
    """Evaluate the conditional fields of a request, in the order of RFC 9110 §13.2.2.

    Args:
        method: the request method.
        headers: the request's fields, a mapping whose lookups ignore case (a
            :class:`~understudy.Headers`).
        etag: the ETag the response would carry (``None``: none).
        last_modified: the Last-Modified the response would carry (``None``: none).

    Returns:
        412 when If-Match or If-Unmodified-Since is false, 304 when If-None-Match or
        If-Modified-Since is false for a GET or HEAD (412 for other methods), ``None`` when
        the request is to be answered as if unconditional.
    """
    if "if-match" in headers:
        if not _match_list(headers["if-match"], etag, weak=False):
            return 412
    elif "if-unmodified-since" in headers:
        since = _http_date(headers["if-unmodified-since"])
        modified = _http_date(last_modified)
        if since is not None and modified is not None and modified > since:
            return 412
    safe = method in ("GET", "HEAD")
    if "if-none-match" in headers:
        if _match_list(headers["if-none-match"], etag, weak=True):
            return 304 if safe else 412
    elif safe and "if-modified-since" in headers and last_modified is not None:
        given = headers["if-modified-since"]
        since = _http_date(given)
        modified = _http_date(last_modified)
        if since is not None and modified is not None:
            if modified <= since:
                return 304
        elif given.strip() == last_modified.strip():
            return 304
    return None


def select_range(
    range_value: str,
    if_range: str | None,
    etag: str | None,
    last_modified: str | None,
    length: int,
) -> tuple[int, int] | Literal["unsatisfiable"] | None:
    """Choose the byte range to send for a Range field (RFC 9110 §14.2, §13.1.5).

    Args:
        range_value: the Range field's value.
        if_range: the If-Range field's value, if sent.
        etag: the representation's ETag (``None``: none).
        last_modified: the representation's Last-Modified (``None``: none).
        length: the representation's length in bytes.

    Returns:
        ``(first, last)`` (inclusive byte positions) for a single satisfiable range,
        ``"unsatisfiable"`` for a single range that selects no byte, or ``None`` to ignore the
        Range and send the whole representation: a unit other than ``bytes``, a malformed
        value, several ranges, or an If-Range that does not match (a weak or different
        entity tag, or a date not exactly the Last-Modified).
    """
    if if_range is not None and not _if_range_matches(if_range.strip(), etag, last_modified):
        return None
    unit, equals, spec = range_value.partition("=")
    if not equals or unit.strip().lower() != "bytes" or "," in spec:
        return None
    first_text, dash, last_text = spec.strip().partition("-")
    first_text, last_text = first_text.strip(), last_text.strip()
    if not dash or not (first_text or last_text):
        return None
    first_pos = parse_digits(first_text) if first_text else -1
    last_pos = parse_digits(last_text) if last_text else -1
    if first_pos is None or last_pos is None:  # (not ASCII digits: "²" passes isdigit())
        return None
    if first_pos < 0:  # a suffix range: the last N bytes
        if last_pos == 0 or length == 0:
            return "unsatisfiable"
        return max(length - last_pos, 0), length - 1
    if 0 <= last_pos < first_pos:
        return None
    if first_pos >= length:
        return "unsatisfiable"
    return first_pos, min(last_pos, length - 1) if last_pos >= 0 else length - 1


def _if_range_matches(value: str, etag: str | None, last_modified: str | None) -> bool:
    if value.startswith(('"', "W/")):
        return _match_list(value, etag, weak=False)
    given = _http_date(value)
    modified = _http_date(last_modified)
    return given is not None and given == modified


def _entity_tags(value: str) -> list[tuple[bool, str]]:
    """The ``(weak, opaque)`` entity tags of a list field (RFC 9110 §8.8.3), leniently.

    Unquoted tags (as some hand-written directives have) are taken as they are.
    """
    return [
        (bool(match[1]), match[2] if match[2] is not None else match[3])
        for match in _ENTITY_TAG.finditer(value)
    ]


def _match_list(value: str, etag: str | None, *, weak: bool) -> bool:
    """Whether the If-Match/If-None-Match/If-Range ``value`` matches ``etag``.

    ``weak`` selects the weak comparison (RFC 9110 §8.8.3.2); ``*`` matches any current
    representation, with or without an entity tag (§13.1.1, §13.1.2).
    """
    if value.strip() == "*":  # the file exists: it has a current representation
        return True
    if etag is None:
        return False
    [(mine_weak, mine)] = _entity_tags(etag)[:1] or [(False, etag)]
    for their_weak, theirs in _entity_tags(value):
        if theirs != mine:
            continue
        if weak or not (their_weak or mine_weak):
            return True
    return False


def _http_date(value: str | None) -> float | None:
    """An HTTP-date (IMF-fixdate, RFC 850 or asctime, RFC 9110 §5.6.7) as a timestamp."""
    if not value:
        return None
    try:
        return parsedate_to_datetime(value.strip()).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):  # (year 10000000000: overflow)
        return None
