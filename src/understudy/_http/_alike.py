"""The memos of rendered wire bytes that responses alike share (see ``memo_of`` in
``_response``, and HTTP1Exchange.send, which renders them)."""

from __future__ import annotations

from typing import Any

__all__ = ["memo_alike"]

#: The memos of rendered wire bytes (see HTTP1Exchange.send) that responses alike share: same
#: status, reason, fields and body of bytes (of at most ``_ALIKE_BODY``), by those. A test that
#: makes its response anew (``expect(...).respond(...)`` in every test) finds it rendered by
#: the test before, as a server's fixed response is. Shared by every server, as ``_heads.HEADS``.
_ALIKE: dict[tuple[object, ...], dict[Any, Any]] = {}
_ALIKE_BODY = 1024


def memo_alike(
    status: int, reason: str, fields: list[tuple[str, str]], body: bytes, memo: dict[Any, Any]
) -> dict[Any, Any]:
    """The memo that responses like this one share; ``memo`` (a new response's own, empty)
    when it is the first of them, or its body is too large to be kept."""
    if len(body) > _ALIKE_BODY:
        return memo
    key = (status, reason, tuple(fields), body)
    found = _ALIKE.get(key)
    if found is not None:
        return found
    if len(_ALIKE) >= 64:
        _ALIKE.clear()
    _ALIKE[key] = memo
    return memo
