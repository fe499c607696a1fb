"""What every HTTP/1.1 response head shares: the Date (once a second), the memo of rendered
heads, and the size beyond which a body is written apart from its head.
"""

from __future__ import annotations

import time

from .._core.framing import Framing, field_name_problem, field_value_problem, imf_fixdate

__all__ = ["HEADS", "LARGE_WRITE", "http_date", "str_fields"]

_time = time.time

#: Bytes beyond which a body is written apart from its head, never copied into one piece with
#: it, and handed to the transport in slices of this size as the client reads (see
#: HTTPConnection.flush): a body a client does not read then costs its connection one slice,
#: and a canned body stays one object however many clients are slow to read it.
LARGE_WRITE = 256 * 1024

_date_cache: tuple[int, str] = (0, "")


def http_date() -> str:
    """The current time as an IMF-fixdate (RFC 9110 §5.6.7), computed once a second."""
    global _date_cache  # noqa: PLW0603 - a per-second cache shared by every connection
    now = int(_time())
    if _date_cache[0] != now:
        _date_cache = (now, imf_fixdate(now))
    return _date_cache[1]


#: Rendered response heads, by what they depend on (see Exchange.start_memoized); shared by
#: every server, as all run on the runtime's one loop.
#: Each is (the second it was rendered in, the framing, the head, the Content-Length it declares
#: or -1 when the body is not framed by one).
HEADS: dict[tuple[object, ...], tuple[int, Framing, bytes, int]] = {}


def str_fields(
    fields: tuple[tuple[bytes, bytes], ...] | tuple[tuple[str, str], ...],
) -> list[tuple[str, str]]:
    """Fields as str pairs (bytes ones decoded as Latin-1, RFC 9110 §5.5), checked.

    A head is rendered from them, and an ASGI app's fields are checked nowhere else (a
    ``Response``'s were when it was made). Fields sent again and again are checked once: over
    HTTP/1.1 a rendered head is kept (this runs once a second for it), and fields that passed
    are remembered (:data:`_CHECKED`: HTTP/2 renders no head to keep).

    Raises:
        ValueError: a name is not a token, or a value holds a line break or another control
            (RFC 9110 §5.1, §5.5): either would end the field where the client reads one of
            the sender's making.
    """
    pairs = [
        (
            name if isinstance(name, str) else bytes(name).decode("latin-1"),
            value if isinstance(value, str) else bytes(value).decode("latin-1"),
        )
        for name, value in fields
    ]
    try:
        if fields in _CHECKED:
            return pairs
    except TypeError:  # (pairs given as lists: checked every time)
        fields = ()
    for name, value in pairs:
        problem = field_name_problem(name)
        if problem is None and (value_problem := field_value_problem(value)) is not None:
            problem = f"the response field {name!r}: {value_problem}"
        if problem is not None:
            raise ValueError(problem)
    if fields:
        if len(_CHECKED) > 64:  # (as the memo of heads: a few heads are sent again and again)
            _CHECKED.clear()
        _CHECKED.add(fields)
    return pairs


#: Field tuples :func:`str_fields` found fit (shared by every server, as :data:`HEADS`).
_CHECKED: set[object] = set()
