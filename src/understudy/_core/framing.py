"""HTTP/1.1 response framing (RFC 9112): the status line, the fields, and how the body is delimited.

Pure: no sockets, clocks or threads. The connection decides *what* to answer; this module decides
how the answer is framed on the wire, from the status code, the request method, the response's
fields, the body length when known, and the request's HTTP version and persistence.
"""

from __future__ import annotations

import enum
import re
import time
from collections.abc import Sequence

__all__ = [
    "HUGE",
    "LAST_CHUNK",
    "BodyMode",
    "Framing",
    "encode_chunk",
    "encode_head",
    "field_name_problem",
    "field_value_problem",
    "fit_reason",
    "imf_fixdate",
    "parse_digits",
    "plan_framing",
    "reason_phrase",
    "reason_problem",
    "sanitize_field_value",
]

#: The last-chunk and empty trailer section that end a chunked body (RFC 9112 §7.1).
LAST_CHUNK = b"0\r\n\r\n"

#: The reason phrase of each registered status code (RFC 9110 §15 and the IANA HTTP Status Code
#: Registry): ``http.HTTPStatus``'s phrases as of Python 3.13, written out so that a server loads
#: neither the ``http`` package nor its enum, and answers alike on every Python (3.11 and 3.12
#: still say "Request Entity Too Large", "Request-URI Too Long", "Requested Range Not
#: Satisfiable" and "Unprocessable Entity", RFC 7231's and RFC 4918's names).
_REASONS = {
    100: "Continue",
    101: "Switching Protocols",
    102: "Processing",
    103: "Early Hints",
    200: "OK",
    201: "Created",
    202: "Accepted",
    203: "Non-Authoritative Information",
    204: "No Content",
    205: "Reset Content",
    206: "Partial Content",
    207: "Multi-Status",
    208: "Already Reported",
    226: "IM Used",
    300: "Multiple Choices",
    301: "Moved Permanently",
    302: "Found",
    303: "See Other",
    304: "Not Modified",
    305: "Use Proxy",
    307: "Temporary Redirect",
    308: "Permanent Redirect",
    400: "Bad Request",
    401: "Unauthorized",
    402: "Payment Required",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    407: "Proxy Authentication Required",
    408: "Request Timeout",
    409: "Conflict",
    410: "Gone",
    411: "Length Required",
    412: "Precondition Failed",
    413: "Content Too Large",
    414: "URI Too Long",
    415: "Unsupported Media Type",
    416: "Range Not Satisfiable",
    417: "Expectation Failed",
    418: "I'm a Teapot",
    421: "Misdirected Request",
    422: "Unprocessable Content",
    423: "Locked",
    424: "Failed Dependency",
    425: "Too Early",
    426: "Upgrade Required",
    428: "Precondition Required",
    429: "Too Many Requests",
    431: "Request Header Fields Too Large",
    451: "Unavailable For Legal Reasons",
    500: "Internal Server Error",
    501: "Not Implemented",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
    505: "HTTP Version Not Supported",
    506: "Variant Also Negotiates",
    507: "Insufficient Storage",
    508: "Loop Detected",
    510: "Not Extended",
    511: "Network Authentication Required",
}
#: IMF-fixdate's names (RFC 9110 §5.6.7), in English whatever the locale (``time.strftime``'s
#: ``%a`` and ``%b`` follow ``LC_TIME``).
_DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class BodyMode(enum.Enum):
    """How the response body is delimited (RFC 9112 §6.3)."""

    NONE = "none"  # no content: HEAD, 1xx, 204, 304
    LENGTH = "length"  # Content-Length
    CHUNKED = "chunked"  # Transfer-Encoding: chunked (HTTP/1.1 only)
    CLOSE = "close"  # read until the connection closes (HTTP/1.0 with no length)


class Framing:
    """The framing decided for one response: extra fields, body mode, persistence."""

    __slots__ = ("extra_fields", "keep_alive", "length", "mode")

    def __init__(
        self,
        mode: BodyMode,
        length: int | None,
        keep_alive: bool,
        extra_fields: list[tuple[str, str]],
    ) -> None:
        self.mode = mode
        self.length = length
        self.keep_alive = keep_alive
        self.extra_fields = extra_fields

    def __repr__(self) -> str:
        return (
            f"Framing(mode={self.mode.name}, length={self.length}, keep_alive={self.keep_alive}, "
            f"extra_fields={self.extra_fields})"
        )


def reason_phrase(status: int) -> str:
    """The registered reason phrase for ``status`` ("" for an unregistered code)."""
    return _REASONS.get(status, "")


def imf_fixdate(seconds: float) -> str:
    """``seconds`` since the epoch as an HTTP date, ``"Sun, 06 Nov 1994 08:49:37 GMT"``: the
    preferred format, IMF-fixdate (RFC 9110 §5.6.7), in UTC, the fraction of a second dropped.
    (What ``email.utils.formatdate(seconds, usegmt=True)`` gives, without loading ``email``.)"""
    t = time.gmtime(seconds)
    return (
        f"{_DAY_NAMES[t.tm_wday]}, {t.tm_mday:02d} {_MONTH_NAMES[t.tm_mon - 1]} {t.tm_year:04d} "
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} GMT"
    )


#: What a reason phrase may not hold: ``reason-phrase = *( HTAB / SP / VCHAR / obs-text )``
#: (RFC 9112 §4), so controls other than HTAB, DEL, and anything outside Latin-1 (one octet).
_BAD_REASON_CHAR = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]|[^\x00-\xff]")
#: What a field value may not hold: ``field-vchar = VCHAR / obs-text``, with SP and HTAB
#: between (RFC 9110 §5.5): controls other than HTAB, and DEL.
_BAD_VALUE_CHAR = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
#: A field name: ``token`` (RFC 9110 §5.6.2).
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


#: What parse_digits gives for a number longer than any length or position can be.
HUGE = 10**30
_DIGITS = re.compile(r"[0-9]+")


def parse_digits(text: str) -> int | None:
    """The number that ``text`` (ASCII digits ``0-9`` only) writes, or ``None`` if it is not one.

    Every field parsed as a number (Content-Length, Range positions...) is read through this:
    ``str.isdigit()`` also takes ``"²"`` and ``"٣"``, which ``int()`` then refuses, and ``int()``
    refuses more than 4,300 digits. A number over 30 digits is :data:`HUGE`: larger than any
    length, which is all a caller compares it with.
    """
    if not _DIGITS.fullmatch(text):
        return None
    text = text.lstrip("0") or "0"
    return HUGE if len(text) > 30 else int(text)


def _shown(char: str) -> str:
    if char in "\r\n":
        return f"U+{ord(char):04X} (a line break, which would end the line)"
    return repr(char) if char.isprintable() else f"U+{ord(char):04X}"


def reason_problem(reason: str) -> str | None:
    """What makes ``reason`` unfit for a status line, or ``None`` if it is fit.

    A reason phrase is ``*( HTAB / SP / VCHAR / obs-text )`` (RFC 9112 §4): no CR or LF (which
    would end the status line and start a field of the client's choosing), no other control,
    and nothing outside Latin-1, which one octet per character cannot carry.
    """
    bad = _BAD_REASON_CHAR.search(reason)
    if bad is None:
        return None
    char = bad.group()
    if ord(char) > 0xFF:
        return (
            f"the reason phrase {reason!r} holds {_shown(char)}, outside Latin-1 (a status line "
            "carries one octet per character, RFC 9112 §4); write it in ASCII"
        )
    return (
        f"the reason phrase {reason!r} holds the control character {_shown(char)}; a reason "
        "phrase is tabs, spaces and visible characters only (RFC 9112 §4)"
    )


def fit_reason(text: str) -> str:
    """``text`` made fit for a status line: each character :func:`reason_problem` refuses is
    written as its Python escape (``\\n``, ``\\x00``, ``\\u2603``).

    For a reason phrase that carries what a client sent (the fake PyPI's messages, as
    warehouse's do), which may hold anything.
    """
    return _BAD_REASON_CHAR.sub(lambda bad: bad.group().encode("unicode_escape").decode(), text)


def field_name_problem(name: str) -> str | None:
    """What makes ``name`` unfit for a field name, or ``None`` if it is fit.

    A field name is a token (RFC 9110 §5.1, §5.6.2): a space, a colon or a line break would end
    it where the client reads a value, or a field, of the sender's making.
    """
    if _TOKEN.fullmatch(name):
        return None
    return (
        f"the field name {name!r} is not a token (RFC 9110 §5.1: letters, digits and "
        "!#$%&'*+-.^_`|~, with no spaces or colons, controls or line breaks)"
    )


def field_value_problem(value: str) -> str | None:
    """What makes ``value`` unfit for a field value, or ``None`` if it is fit.

    A field value holds visible characters, spaces and tabs (RFC 9110 §5.5): a CR or LF would
    end the field, and NUL, other controls and DEL are sent raw by nobody who means well.
    """
    bad = _BAD_VALUE_CHAR.search(value)
    if bad is None:
        return None
    return (
        f"the field value {value!r} holds the control character {_shown(bad.group())}; a field "
        "value is visible characters, spaces and tabs only (RFC 9110 §5.5)"
    )


def sanitize_field_value(value: str) -> tuple[str, bool]:
    """``value`` with each control character (HTAB aside) and DEL replaced by SP, and whether
    any was: what a recipient relaying a field value with them in it does (RFC 9110 §5.5)."""
    cleaned, count = _BAD_VALUE_CHAR.subn(" ", value)
    return cleaned, bool(count)


def _field(fields: Sequence[tuple[str, str]], name: str) -> str | None:
    for key, value in fields:
        if key.lower() == name:
            return value
    return None


def _has_token(value: str, token: str) -> bool:
    """Whether the comma-separated list ``value`` holds ``token`` (RFC 9110 §5.6.1)."""
    return any(item.strip().lower() == token for item in value.split(","))


def plan_framing(
    status: int,
    fields: Sequence[tuple[str, str]],
    *,
    body_length: int | None,
    request_method: str,
    http_version: str,
    keep_alive: bool,
) -> Framing:
    """Decide how to frame a response (RFC 9112 §6.1-6.3, §9.3, §9.6).

    Args:
        status: the status code.
        fields: the response's own fields. A ``Content-Length`` there is honoured (the body is
            sent as given, unframed); a ``Transfer-Encoding`` there makes the body chunked; a
            ``Connection`` field there is sent as it is, and if it holds ``close`` the connection
            ends after the response.
        body_length: the body's length in bytes when known in advance, ``None`` for a streamed
            body.
        request_method: the request's method (the response to ``HEAD`` has no content, RFC 9110
            §9.3.2, but keeps the fields that describe the content, Content-Length included).
        http_version: the request's version, ``"1.1"`` or ``"1.0"``.
        keep_alive: whether the request allows the connection to persist (RFC 9112 §9.3).

    Returns:
        The :class:`Framing`: the fields to add (Content-Length, Transfer-Encoding, Connection),
        the body mode, the length (``None`` unless :attr:`BodyMode.LENGTH`), and whether the
        connection persists after this response. A streamed body without a declared length is
        chunked to an HTTP/1.1 client and delimited by closing the connection to an HTTP/1.0
        one (RFC 9112 §6.3, point 8).
    """
    extra: list[tuple[str, str]] = []
    connection = _field(fields, "connection")
    if connection is not None and _has_token(connection, "close"):
        keep_alive = False
    is_head = request_method == "HEAD"
    mode, length, field, closes = _body_framing(status, fields, body_length, http_version, is_head)
    if field is not None:
        extra.append(field)
    if closes:
        keep_alive = False
    if is_head:
        # The fields describe the GET response; no content follows (RFC 9110 §9.3.2).
        mode, length = BodyMode.NONE, None
    if connection is None:
        if not keep_alive:
            extra.append(("Connection", "close"))
        elif http_version == "1.0":
            extra.append(("Connection", "keep-alive"))
    return Framing(mode, length, keep_alive, extra)


def _body_framing(
    status: int,
    fields: Sequence[tuple[str, str]],
    body_length: int | None,
    http_version: str,
    is_head: bool,
) -> tuple[BodyMode, int | None, tuple[str, str] | None, bool]:
    """How the body is delimited (RFC 9112 §6.1-6.3): the mode, the length, the framing field
    to add (``None``: none), and whether the connection must close after the response."""
    declared = _field(fields, "content-length")
    declared_length = None
    if declared is not None:
        declared_length = parse_digits(declared.strip())
    if 100 <= status < 200 or status in (204, 304):  # (no content)
        return BodyMode.NONE, None, None, False
    if declared_length is not None:
        return BodyMode.LENGTH, declared_length, None, False
    if _field(fields, "transfer-encoding") is not None:
        # Given by the response: chunked to 1.1; to 1.0, which has no transfer codings, the end
        # of the connection delimits the body (RFC 9112 §6.1).
        if http_version == "1.1":
            return BodyMode.CHUNKED, None, None, False
        return BodyMode.CLOSE, None, None, not is_head
    if body_length is not None:
        return BodyMode.LENGTH, body_length, ("Content-Length", str(body_length)), False
    if http_version == "1.1":
        return BodyMode.CHUNKED, None, ("Transfer-Encoding", "chunked"), False
    if is_head:
        # No content follows, so the end of the connection need not delimit it.
        return BodyMode.NONE, None, None, False
    return BodyMode.CLOSE, None, None, True


def encode_head(
    status: int,
    reason: str,
    fields: Sequence[tuple[str, str]],
    extra_fields: Sequence[tuple[str, str]] = (),
) -> bytes:
    """The status line and field section, ending with the empty line (RFC 9112 §4, §5).

    Field names and values are encoded as Latin-1 (RFC 9110 §5.5); a character outside it is
    replaced, never sent raw.
    """
    lines = [f"HTTP/1.1 {status} {reason}"]
    lines += [f"{name}: {value}" for name, value in fields]
    lines += [f"{name}: {value}" for name, value in extra_fields]
    lines.append("\r\n")
    return "\r\n".join(lines).encode("latin-1", "replace")


def encode_chunk(data: bytes) -> bytes:
    """One chunk of a chunked body (RFC 9112 §7.1).

    Empty data gives nothing: an empty chunk would be read as the last chunk.
    """
    if not data:
        return b""
    return b"%x\r\n%b\r\n" % (len(data), data)
