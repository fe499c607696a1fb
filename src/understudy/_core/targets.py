"""The forms of a request target (RFC 9112 §3.2). Pure."""

from __future__ import annotations

__all__ = ["origin_form"]


def origin_form(target: str) -> str:
    """The request target in origin form: the absolute form's scheme and authority removed.

    ``"http://example.com/a?b"`` gives ``"/a?b"`` and ``"http://example.com"`` gives ``"/"``
    (RFC 9112 §3.2.2, §3.3); the origin form (``"/a?b"``), the asterisk form (``"*"``) and the
    authority form (``"example.com:443"``) are returned unchanged.
    """
    if target[:1] == "/" or "://" not in target:
        return target
    rest = target.partition("://")[2]
    for index, char in enumerate(rest):
        if char in "/?#":
            rest = rest[index:]
            break
    else:
        return "/"
    return rest if rest[0] == "/" else "/" + rest
