"""The two syslog message formats, from bytes to fields: RFC 5424 (§6: HEADER,
STRUCTURED-DATA, MSG) and the BSD format of RFC 3164 (§4.1: TIMESTAMP, HOSTNAME, TAG, MSG).

Pure, as ``syslog`` (which builds a :class:`~.syslog.SyslogMessage` of these fields, after the
PRI part they both begin with).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TypedDict

__all__ = ["Fields", "Malformed", "rfc3164_fields", "rfc5424_fields"]

_BOM = b"\xef\xbb\xbf"
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_RFC3164_TIMESTAMP = re.compile(
    rb"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) ([ 0-9][0-9]) "
    rb"([0-9]{2}):([0-9]{2}):([0-9]{2}) "
)
_RFC3164_TAG = re.compile(r"([^\s\[\]:]{1,48})(?:\[([^\]\s]{1,128})\])?:(?: |$)")
_RFC5424_TIMESTAMP = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?(Z|[+-][0-9]{2}:[0-9]{2})"
)
_SD_NAME = re.compile(r"[!#-<>-\\^-~]{1,32}")  # PRINTUSASCII except '=', SP, ']', '"'
# RFC 5424 §6.1 field lengths.
_HEADER_FIELDS = (("hostname", 255), ("app_name", 48), ("procid", 128), ("msgid", 32))


class Malformed(Exception):
    """The message is not what the format it claims requires."""


class Fields(TypedDict):
    """What a format's header, structured data and MSG hold (``SyslogMessage``'s names)."""

    version: int | None
    timestamp: datetime | None
    hostname: str | None
    app_name: str | None
    procid: str | None
    msgid: str | None
    structured_data: dict[str, dict[str, str]]
    msg: str


def rfc5424_fields(rest: bytes) -> Fields:
    """The fields of an RFC 5424 message (§6), ``rest`` being what follows ``<PRI>1 ``.

    Raises:
        Malformed: it is not what RFC 5424 requires; the message says what is wrong.
    """
    fields: list[bytes] = []
    for _ in range(5):
        field, sep, rest = rest.partition(b" ")
        if not sep:
            raise Malformed("RFC 5424 header ends early: TIMESTAMP HOSTNAME APP-NAME PROCID MSGID")
        fields.append(field)
    header: dict[str, str | None] = {}
    for (name, limit), field in zip(_HEADER_FIELDS, fields[1:], strict=True):
        spec_name = name.upper().replace("_", "-")
        try:
            text = field.decode("ascii")
        except UnicodeDecodeError:
            raise Malformed(f"RFC 5424 {spec_name} is not printable US-ASCII") from None
        if not text or len(text) > limit or not text.isprintable():
            raise Malformed(f"RFC 5424 {spec_name} {text!r} is not 1 to {limit} characters")
        header[name] = None if text == "-" else text
    timestamp = _rfc5424_timestamp(fields[0])
    structured_data, rest = _structured_data(rest)
    if rest:
        if not rest.startswith(b" "):
            raise Malformed("RFC 5424 STRUCTURED-DATA must be followed by a space before MSG")
        rest = rest[1:]
    rest = rest.removeprefix(_BOM)
    return Fields(
        version=1,
        timestamp=timestamp,
        structured_data=structured_data,
        hostname=header["hostname"],
        app_name=header["app_name"],
        procid=header["procid"],
        msgid=header["msgid"],
        msg=rest.decode("utf-8", "replace"),
    )


def _rfc5424_timestamp(field: bytes) -> datetime | None:
    if field == b"-":
        return None
    text = field.decode("ascii", "replace")
    if _RFC5424_TIMESTAMP.fullmatch(text) is None:
        raise Malformed(
            f"RFC 5424 TIMESTAMP {text!r} is not '-' nor like 2003-10-11T22:14:15.003Z (§6.2.3)"
        )
    try:
        return datetime.fromisoformat(text)
    except ValueError as error:
        raise Malformed(f"RFC 5424 TIMESTAMP {text!r}: {error}") from None


def _structured_data(data: bytes) -> tuple[dict[str, dict[str, str]], bytes]:
    """Parse STRUCTURED-DATA at the start of ``data``; return it and what follows."""
    if data == b"-" or data.startswith(b"- "):
        return {}, data[1:]
    if not data.startswith(b"["):
        raise Malformed("RFC 5424 STRUCTURED-DATA is neither '-' nor [SD-ID ...] (§6.3)")
    text = data.decode("utf-8", "surrogateescape")
    elements: dict[str, dict[str, str]] = {}
    pos = 0
    while pos < len(text) and text[pos] == "[":
        pos += 1
        sd_id, pos = _sd_name(text, pos, "SD-ID")
        if sd_id in elements:
            raise Malformed(f"RFC 5424 SD-ID {sd_id!r} appears twice (§6.3.2)")
        params: dict[str, str] = {}
        while True:
            if text.startswith("]", pos):
                pos += 1
                break
            if not text.startswith(" ", pos):
                raise Malformed(f"RFC 5424 SD-ELEMENT {sd_id!r} is not closed by ']'")
            name, pos = _sd_name(text, pos + 1, "PARAM-NAME")
            if not text.startswith('="', pos):
                raise Malformed(f'RFC 5424 SD-PARAM {name!r} lacks ="value"')
            params[name], pos = _param_value(text, pos + 2)
        elements[sd_id] = params
    rest = text[pos:].encode("utf-8", "surrogateescape")
    return elements, rest


def _sd_name(text: str, pos: int, what: str) -> tuple[str, int]:
    match = _SD_NAME.match(text, pos)
    if match is None:
        raise Malformed(f"RFC 5424 {what} missing or not 1-32 printable characters at {pos}")
    return match.group(), match.end()


def _param_value(text: str, pos: int) -> tuple[str, int]:
    chars: list[str] = []
    while pos < len(text):
        char = text[pos]
        if char == '"':
            value = "".join(chars)
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise Malformed("RFC 5424 PARAM-VALUE is not UTF-8 (§6.3.3)") from None
            return value, pos + 1
        if char == "\\" and pos + 1 < len(text) and text[pos + 1] in '"\\]':
            char = text[pos + 1]
            pos += 1
        chars.append(char)
        pos += 1
    raise Malformed("RFC 5424 PARAM-VALUE is not closed by '\"'")


def rfc3164_fields(rest: bytes, year: int) -> Fields:
    """The fields of a BSD syslog message (RFC 3164 §4.1), ``rest`` being what follows
    ``<PRI>``; its TIMESTAMP, which has no year, gets ``year``.

    Raises:
        Malformed: a TIMESTAMP that is no date (Feb 30).
    """
    timestamp = None
    hostname = None
    stamp = _RFC3164_TIMESTAMP.match(rest)
    if stamp is not None:
        month, day, hour, minute, second = stamp.groups()
        try:
            timestamp = datetime(
                year,
                _MONTHS.index(month.decode()) + 1,
                int(day),
                int(hour),
                int(minute),
                int(second),
            )
        except ValueError as error:
            raise Malformed(f"RFC 3164 TIMESTAMP {stamp.group().decode()!r}: {error}") from None
        rest = rest[stamp.end() :]
        # HOSTNAME follows the TIMESTAMP (§4.1.2), unless what follows is already the TAG.
        word, sep, after = rest.partition(b" ")
        if sep and word and not word.endswith(b":") and b"[" not in word:
            hostname = word.decode("utf-8", "replace")
            rest = after
    text = rest.decode("utf-8", "replace")
    app_name = procid = None
    tag = _RFC3164_TAG.match(text)
    if tag is not None:
        app_name, procid = tag.group(1), tag.group(2)
        text = text[tag.end() :]
    return Fields(
        version=None,
        timestamp=timestamp,
        hostname=hostname,
        app_name=app_name,
        procid=procid,
        msgid=None,
        structured_data={},
        msg=text,
    )
