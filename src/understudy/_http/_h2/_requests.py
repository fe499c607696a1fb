"""An HTTP/2 request as the journal keeps it: pseudo-header fields read, packed, refused."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Protocol

from .._fields import field_pairs
from .._request import PackedRequest, Request

if TYPE_CHECKING:
    from ..._tls import TLSInfo
    from ._stream import H2Exchange

__all__ = ["malformed", "pack", "read_head", "refused"]

_PSEUDO = frozenset({b":method", b":scheme", b":path", b":authority", b":protocol"})
#: Fields HTTP/2 forbids (RFC 9113 §8.2.2); ``te`` is allowed with ``trailers`` only.
_CONNECTION_SPECIFIC = frozenset(
    {b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"upgrade"}
)

#: What a field name may hold (RFC 9113 §8.2.1: a token, RFC 9110 §5.6.2, in lower case).
_NAME_CHARS = b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz"
#: What a request-target must not hold (RFC 9112 §3.2): space and the controls.
_TARGET_CTL = bytes([*range(0x21), 0x7F])

_time = time.time


class H2Peer(Protocol):
    """What a journal entry takes of the connection (``H2Connection``)."""

    peer: tuple[str, int] | None
    peer_fields: tuple[str | None, int | None]
    scheme: str
    tls: TLSInfo | None
    tls_fields: tuple[str, str, str | None, str | None] | None


def read_head(exchange: H2Exchange, headers: Iterable[tuple[bytes, bytes]]) -> None:
    """Set ``exchange``'s method, target and fields from a HEADERS frame's field block.

    ``:method`` and ``:path`` become the method and target, ``:authority`` the ``host`` field
    (first, as HTTP/1.1 clients send it) when there is none (RFC 9113 §8.3.1); the field lines
    keep the order and the lower-case names they came with.
    """
    raw = exchange.raw_fields
    method = path = authority = b""
    has_host = False
    for name, value in headers:
        if name[:1] == b":":
            if name == b":method":
                method = bytes(value)
            elif name == b":path":
                path = bytes(value)
            elif name == b":authority":
                authority = bytes(value)
            continue
        raw += (bytes(name), bytes(value))
        if name == b"content-length":
            exchange.content_length = bytes(value)
        elif name == b"host":
            has_host = True
    if authority and not has_host:
        raw[0:0] = (b"host", authority)
    exchange.method = method.decode("ascii", "replace")
    exchange.target = (path or authority).decode("latin-1")


def pack(conn: H2Peer, exchange: H2Exchange) -> PackedRequest:
    """The complete request as the journal keeps it (a PackedRequest), version ``"2"``."""
    parts = exchange.body_parts
    host, port = conn.peer_fields
    return (
        exchange.method,
        exchange.target,
        (parts[0] if len(parts) == 1 else b"".join(parts)) if parts else b"",
        "2",
        host,
        port,
        _time(),
        conn.scheme,
        conn.tls_fields,
        *exchange.raw_fields,
    )


def refused(conn: H2Peer, exchange: H2Exchange, reason: str) -> Request:
    """The request as journaled when refused (over a limit), with ``error`` set to ``reason``."""
    return Request(
        method=exchange.method,
        target=exchange.target,
        headers=field_pairs(exchange.raw_fields),
        body=exchange.body,
        peer=conn.peer,
        received_at=_time(),
        scheme=conn.scheme,
        tls=conn.tls,
        error=reason,
        http_version="2",
    )


def malformed(headers: Iterable[tuple[bytes, bytes]], raw_fields: list[bytes]) -> str | None:
    """Why a request's field block is malformed (RFC 9113 §8.2, §8.3.1), or ``None``;
    ``raw_fields`` are its regular field lines as :func:`read_head` kept them.

    A malformed request is a stream error (PROTOCOL_ERROR, §8.1.1): its stream is reset, the
    connection goes on.
    """
    seen: set[bytes] = set()
    regular = False
    for name, value in headers:
        if name[:1] == b":":
            if regular:
                return f"the pseudo-header {name!r} after a regular field (RFC 9113 §8.3)"
            if name not in _PSEUDO:
                return f"an unknown or response pseudo-header {name!r} (RFC 9113 §8.3)"
            if name in seen:
                return f"the pseudo-header {name!r} twice (RFC 9113 §8.3)"
            seen.add(name)
            if name == b":path" and (not value or _bad_target(value)):
                return f"an empty :path or one with a space or control ({value!r}, RFC 9113 §8.3.1)"
            continue
        regular = True
        if name in _CONNECTION_SPECIFIC or (name == b"te" and value != b"trailers"):
            return f"the connection-specific field {name!r} (RFC 9113 §8.2.2)"
    if b":method" not in seen:
        return "no :method (RFC 9113 §8.3.1)"
    problem = _bad_field(raw_fields)
    if problem is not None:
        return problem
    if seen == {b":method", b":authority"} and dict(headers)[b":method"] == b"CONNECT":
        return None  # CONNECT (§8.5) has only :method and :authority
    missing = [name.decode() for name in (b":scheme", b":path") if name not in seen]
    if missing:
        return f"no {' or '.join(missing)} (RFC 9113 §8.3.1)"
    return None


def _bad_target(path: bytes) -> bool:
    """Whether ``:path`` holds what no request-target may (RFC 9112 §3.2: no space, no CTL)."""
    return bool(path.translate(None, _TARGET_CTL) != path)


def _bad_field(raw: list[bytes]) -> str | None:
    """The field line of ``raw`` (flat: name, value...) that RFC 9113 §8.2.1 forbids, told.

    The names, then the values, are joined by a line feed and looked at in one pass each: a
    name that is not a lower-case token; a value with NUL, CR or LF, or that begins or ends
    with a space or a tab.
    """
    if not raw:
        return None
    lines = len(raw) // 2
    names = b"\n".join(raw[::2])
    values = b"\n".join(raw[1::2])
    if not (
        len(names.translate(None, _NAME_CHARS)) != lines - 1  # (all but the line feeds joining)
        or 13 in values  # CR
        or 0 in values  # NUL
        or values.count(b"\n") != lines - 1  # LF
        or b"\n " in values
        or b" \n" in values
        or (9 in values and (b"\n\t" in values or b"\t\n" in values))  # HTAB
        or values.strip(b" \t") != values
    ):
        return None
    for name, value in zip(raw[::2], raw[1::2], strict=True):  # (which: only when one is)
        if not name or name.translate(None, _NAME_CHARS):
            return f"the field name {name!r}: not a lower-case token (RFC 9113 §8.2.1)"
        if value.strip(b" \t") != value or value.translate(None, b"\0\r\n") != value:
            return f"the field value {value!r} of {name!r} (RFC 9113 §8.2.1)"
    return None
