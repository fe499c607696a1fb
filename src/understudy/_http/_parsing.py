"""What an HTTP/1.1 connection knows of the request grammar beyond llhttp, and how it finds
where a refused request began (llhttp does not say): pure helpers over bytes, and constants.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import httptools

from ._refusal import Refused

if TYPE_CHECKING:
    from ._exchange import HTTP1Exchange

__all__ = [
    "CONNECTION",
    "LOST",
    "METHODS",
    "NO_PARSER",
    "REPLAY_MAX",
    "STANDIN",
    "TOKEN",
    "UPGRADE",
    "VALID_HOSTS",
    "check_host",
    "first_line",
    "framing_head",
    "message_start",
]

#: The methods of RFC 9110 §9 (and PATCH), decoded once. Not CONNECT: see _other_method.
METHODS = {
    name.encode(): name
    for name in ("GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "TRACE", "PATCH")
}

#: HTTPConnection.connection_field: a Connection (or Proxy-Connection) field; an Upgrade field
#: or the CONNECT method (llhttp may end the request as an upgrade).
CONNECTION = 1
UPGRADE = 2


#: A Host field value: uri-host [ ":" port ] (RFC 9112 §3.2, RFC 3986 §3.2.2): an IP literal in
#: brackets, or a reg-name / IPv4 address (unreserved, sub-delims, percent-encodings); may be empty.
HOST = re.compile(
    rb"(?:\[[0-9A-Fa-f:.]+\]|\[v[0-9A-Fa-f]+\.[-A-Za-z0-9._~!$&'()*+,;=:]+\]"
    rb"|(?:[-A-Za-z0-9._~!$&'()*+,;=]+|%[0-9A-Fa-f]{2})*)(?::[0-9]*)?"
).fullmatch
#: A method: a token (RFC 9110 §9.1, §5.6.2).
TOKEN = re.compile(rb"[-!#$%&'*+.^_`|~0-9A-Za-z]+").fullmatch
#: A method llhttp knows, none of METHODS, framed as any other request, that stands in for one
#: it does not know (see HTTPConnection._unregistered_method).
STANDIN = b"PROPFIND"
#: The most bytes kept to find where a refused request began (see HTTPConnection.replay).
REPLAY_MAX = 64 * 1024
#: HTTPConnection.replay when more than REPLAY_MAX bytes came since it was last emptied.
LOST: list[bytes] = [b""]

#: Host field values found valid: a test's requests name the same few hosts, so checking one is
#: a set lookup (cleared when it grows past VALID_HOSTS_MAX).
VALID_HOSTS: set[bytes] = set()
VALID_HOSTS_MAX = 256


#: What a connection's parser becomes once it is lost (see connection_lost): fed nothing.
NO_PARSER = httptools.HttpRequestParser(object())


def check_host(value: bytes) -> None:
    """Refuse a Host field value that is not ``uri-host [":" port]`` (RFC 9112 §3.2)."""
    if HOST(value) is None:
        raise Refused(
            400,
            f"malformed request: the Host field {value.decode('latin-1')!r} is not host[:port] "
            "(RFC 9112 §3.2, RFC 3986 §3.2.2)",
        )
    if len(VALID_HOSTS) >= VALID_HOSTS_MAX:
        VALID_HOSTS.clear()
    VALID_HOSTS.add(value)


def framing_head(exchange: HTTP1Exchange) -> bytes:
    """A request head that frames a body as ``exchange``'s head did (its framing fields only).

    Fed to a new parser, it makes llhttp read the body that follows as it reads any body (RFC
    9112 §6.3), with every check of the framing fields; see :meth:`HTTPConnection._upgraded`.
    """
    lines = [b"PUT / HTTP/" + exchange.http_version.encode("ascii")]
    raw = exchange.raw_fields
    lines.extend(
        name + b": " + value
        for name, value in zip(raw[::2], raw[1::2], strict=True)
        if name.lower() in (b"content-length", b"transfer-encoding")
    )
    # (A Connection field takes on_headers_complete's slow branch, which gives the body back.)
    lines.append(b"Connection: keep-alive" if exchange.keep_alive else b"Connection: close")
    return b"\r\n".join(lines) + b"\r\n\r\n"


class _Begins:
    """Parser callbacks that count the requests begun."""

    __slots__ = ("count",)

    def __init__(self) -> None:
        self.count = 0

    def on_message_begin(self) -> None:
        self.count += 1


def message_start(buffer: bytes, number: int) -> int | None:
    """Where request ``number`` (from 1) that a new parser begins in ``buffer`` starts.

    llhttp says where it stopped only for an upgrade, so the bytes are fed again one at a time
    to a parser that counts the requests it begins (the error path only). ``None`` if fewer
    began.
    """
    if number <= 0:
        return None
    begins = _Begins()
    parser = httptools.HttpRequestParser(begins)
    view = memoryview(buffer)
    for index in range(len(buffer)):
        try:
            parser.feed_data(view[index : index + 1])
        except (httptools.HttpParserError, httptools.HttpParserUpgrade):
            return index if begins.count == number else None
        if begins.count == number:
            return index
    return None


def first_line(message: bytes) -> bytes:
    """The first line of ``message``, without its line ending (all of it if it has none)."""
    end = message.find(b"\n")
    return (message if end < 0 else message[:end]).removesuffix(b"\r")
