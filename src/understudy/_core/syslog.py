"""Syslog messages: parsing RFC 5424 and RFC 3164, and TCP framing per RFC 6587.

Pure: no sockets, clocks or threads. :func:`parse_message` turns the bytes of one message into a
:class:`SyslogMessage`; :class:`SyslogFramer` splits a TCP byte stream into messages, detecting
for each frame whether it is octet-counted (RFC 6587 §3.4.1, ``MSG-LEN SP SYSLOG-MSG``) or
non-transparently framed (§3.4.2, ending at LF, or at NUL as Python's
``logging.handlers.SysLogHandler`` sends it). :func:`format_rfc5424` writes a message back.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from .tlsinfo import TLSInfo

__all__ = [
    "FACILITY_NAMES",
    "SEVERITY_NAMES",
    "FrameError",
    "SyslogFramer",
    "SyslogMessage",
    "format_rfc5424",
    "frame_non_transparent",
    "frame_octet_counted",
    "parse_message",
    "unparsed_message",
]

#: Facility codes (RFC 5424 §6.2.1, table 1) by number.
FACILITY_NAMES: tuple[str, ...] = (
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron",
    "authpriv", "ftp", "ntp", "security", "console", "solaris-cron",
    "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
)  # fmt: skip
#: Severity codes (RFC 5424 §6.2.1, table 2) by number.
SEVERITY_NAMES: tuple[str, ...] = (
    "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
)  # fmt: skip

#: How many bytes of a refused frame an error keeps, to show what was sent.
_KEPT_OF_REFUSED = 256
_BOM = b"\xef\xbb\xbf"
_PRI = re.compile(rb"<([0-9]{1,3})>")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_RFC3164_TIMESTAMP = re.compile(
    rb"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) ([ 0-9][0-9]) "
    rb"([0-9]{2}):([0-9]{2}):([0-9]{2}) "
)
_RFC3164_TAG = re.compile(r"([^\s\[\]:]{1,48})(?:\[([^\]\s]{1,128})\])?:(?: |$)")
_MSG_LEN = re.compile(rb"[0-9]*")
#: More digits than this in MSG-LEN is not a length worth skipping by.
_MAX_MSG_LEN_DIGITS = 10
_RFC5424_TIMESTAMP = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?(Z|[+-][0-9]{2}:[0-9]{2})"
)
_SD_NAME = re.compile(r"[!#-<>-\\^-~]{1,32}")  # PRINTUSASCII except '=', SP, ']', '"'
# RFC 5424 §6.1 field lengths.
_HEADER_FIELDS = (("hostname", 255), ("app_name", 48), ("procid", 128), ("msgid", 32))

Transport = Literal["udp", "tcp", "unix", ""]


@dataclasses.dataclass(frozen=True, slots=True)
class SyslogMessage:
    """One syslog message, as parsed from its bytes (RFC 5424 §6, RFC 3164 §4.1).

    A field the message did not carry (the NILVALUE ``-`` of RFC 5424, or a part RFC 3164 left
    out) is ``None``. A message that parses as neither format keeps its bytes in :attr:`raw`
    with :attr:`error` saying why, and its other fields ``None``.

    Attributes:
        facility: 0-23 (``FACILITY_NAMES``: 1 is "user", 16-23 are "local0"-"local7").
        severity: 0 (emergency) to 7 (debug).
        version: 1 for RFC 5424; ``None`` for RFC 3164 (BSD) messages.
        timestamp: an aware ``datetime`` for RFC 5424; a naive local ``datetime`` for RFC 3164
            (whose timestamp carries no year: the receiver's current year is assumed).
        hostname: the HOSTNAME field.
        app_name: APP-NAME (RFC 5424), or the TAG of RFC 3164 (``"su"`` in ``su[42]: ...``).
        procid: PROCID (RFC 5424), or the ``[pid]`` after an RFC 3164 TAG.
        msgid: MSGID (RFC 5424 only).
        structured_data: SD-ID -> {PARAM-NAME: PARAM-VALUE} (RFC 5424 §6.3), unescaped; a
            repeated PARAM-NAME keeps its last value.
        msg: the free-form MSG, decoded as UTF-8 (undecodable bytes replaced), with its BOM and
            a trailing NUL or LF removed.
        raw: the message's bytes as received (without TCP framing).
        transport: ``"udp"``, ``"tcp"``, ``"unix"``, or ``""`` when parsed outside a server.
        peer: the sender's address as the socket reports it (``None`` when unknown).
        received_at: ``time.time()`` at arrival (seconds), 0.0 outside a server.
        error: why the bytes are not a syslog message, or ``None``.
        tls: what the TLS connection it came over agreed on (syslog over TLS, RFC 5425): a
            :class:`~understudy.TLSInfo` with the version, cipher and the client
            certificate's subject; ``None`` over plain TCP, UDP or a Unix socket.
    """

    facility: int | None
    severity: int | None
    version: int | None
    timestamp: datetime | None
    hostname: str | None
    app_name: str | None
    procid: str | None
    msgid: str | None
    structured_data: Mapping[str, Mapping[str, str]]
    msg: str
    raw: bytes
    transport: Transport = ""
    peer: Any = None
    received_at: float = 0.0
    error: str | None = None
    tls: TLSInfo | None = None

    @property
    def priority(self) -> int | None:
        """PRI: ``facility * 8 + severity`` (RFC 5424 §6.2.1)."""
        if self.facility is None or self.severity is None:
            return None
        return self.facility * 8 + self.severity

    @property
    def facility_name(self) -> str | None:
        """The facility's keyword: ``"user"``, ``"local0"``, ..."""
        return None if self.facility is None else FACILITY_NAMES[self.facility]

    @property
    def severity_name(self) -> str | None:
        """The severity's keyword: ``"err"``, ``"warning"``, ``"info"``, ..."""
        return None if self.severity is None else SEVERITY_NAMES[self.severity]

    def __repr__(self) -> str:
        name = "understudy.SyslogMessage"
        if self.error is not None:
            return f"<{name} error={self.error!r} raw={self.raw[:60]!r}>"
        parts = [f"{self.facility_name}.{self.severity_name}"]
        if self.app_name is not None:
            parts.append(f"app_name={self.app_name!r}")
        parts.append(f"msg={self.msg[:60]!r}")
        return f"<{name} {' '.join(parts)}>"


class _Malformed(Exception):
    """The message is not what the format it claims requires."""


def parse_message(
    raw: bytes,
    *,
    year: int = 1900,
    transport: Transport = "",
    peer: Any = None,
    received_at: float = 0.0,
    tls: TLSInfo | None = None,
) -> SyslogMessage:
    """Parse one syslog message: RFC 5424 when it says ``<PRI>1 ``, otherwise RFC 3164.

    Never raises on bad input: bytes that are neither format come back with ``error`` set.

    Args:
        raw: the message without TCP framing (a UDP datagram, or a frame from
            :class:`SyslogFramer`). A trailing NUL and a trailing LF are not part of the MSG.
        year: the year given to an RFC 3164 timestamp, which has none (RFC 3164 §4.1.2).
        transport: recorded in the result.
        peer: recorded in the result.
        received_at: recorded in the result.
        tls: recorded in the result.
    """
    extra: dict[str, Any] = {
        "transport": transport,
        "peer": peer,
        "received_at": received_at,
        "tls": tls,
    }
    body = raw
    if body.endswith(b"\x00"):
        body = body[:-1]
    if body.endswith(b"\n"):
        body = body[:-2] if body.endswith(b"\r\n") else body[:-1]
    pri = _PRI.match(body)
    if pri is None:
        reason = "empty message" if not body else "no PRI part: a syslog message begins <0>..<191>"
        return _failed(raw, reason, extra)
    value = int(pri.group(1))
    if value > 191 or (len(pri.group(1)) > 1 and pri.group(1).startswith(b"0")):
        return _failed(raw, f"PRI <{pri.group(1).decode()}> is not 0..191 (RFC 5424 §6.2.1)", extra)
    facility, severity = divmod(value, 8)
    rest = body[pri.end() :]
    try:
        if rest.startswith(b"1 "):
            return _parse_rfc5424(raw, facility, severity, rest[2:], extra)
        return _parse_rfc3164(raw, facility, severity, rest, year, extra)
    except _Malformed as error:
        return _failed(raw, str(error), extra)


def unparsed_message(
    raw: bytes,
    reason: str,
    *,
    transport: Transport = "",
    peer: Any = None,
    received_at: float = 0.0,
    tls: TLSInfo | None = None,
) -> SyslogMessage:
    """A :class:`SyslogMessage` for bytes that were refused or are not syslog: ``error=reason``."""
    return _failed(
        raw,
        reason,
        {"transport": transport, "peer": peer, "received_at": received_at, "tls": tls},
    )


def _failed(raw: bytes, reason: str, extra: dict[str, Any]) -> SyslogMessage:
    return SyslogMessage(
        facility=None,
        severity=None,
        version=None,
        timestamp=None,
        hostname=None,
        app_name=None,
        procid=None,
        msgid=None,
        structured_data={},
        msg="",
        raw=raw,
        error=reason,
        **extra,
    )


def _parse_rfc5424(
    raw: bytes, facility: int, severity: int, rest: bytes, extra: dict[str, Any]
) -> SyslogMessage:
    fields: list[bytes] = []
    for _ in range(5):
        field, sep, rest = rest.partition(b" ")
        if not sep:
            raise _Malformed("RFC 5424 header ends early: TIMESTAMP HOSTNAME APP-NAME PROCID MSGID")
        fields.append(field)
    header: dict[str, str | None] = {}
    for (name, limit), field in zip(_HEADER_FIELDS, fields[1:], strict=True):
        spec_name = name.upper().replace("_", "-")
        try:
            text = field.decode("ascii")
        except UnicodeDecodeError:
            raise _Malformed(f"RFC 5424 {spec_name} is not printable US-ASCII") from None
        if not text or len(text) > limit or not text.isprintable():
            raise _Malformed(f"RFC 5424 {spec_name} {text!r} is not 1 to {limit} characters")
        header[name] = None if text == "-" else text
    timestamp = _rfc5424_timestamp(fields[0])
    structured_data, rest = _structured_data(rest)
    if rest:
        if not rest.startswith(b" "):
            raise _Malformed("RFC 5424 STRUCTURED-DATA must be followed by a space before MSG")
        rest = rest[1:]
    rest = rest.removeprefix(_BOM)
    return SyslogMessage(
        facility=facility,
        severity=severity,
        version=1,
        timestamp=timestamp,
        structured_data=structured_data,
        hostname=header["hostname"],
        app_name=header["app_name"],
        procid=header["procid"],
        msgid=header["msgid"],
        msg=rest.decode("utf-8", "replace"),
        raw=raw,
        **extra,
    )


def _rfc5424_timestamp(field: bytes) -> datetime | None:
    if field == b"-":
        return None
    text = field.decode("ascii", "replace")
    if _RFC5424_TIMESTAMP.fullmatch(text) is None:
        raise _Malformed(
            f"RFC 5424 TIMESTAMP {text!r} is not '-' nor like 2003-10-11T22:14:15.003Z (§6.2.3)"
        )
    try:
        return datetime.fromisoformat(text)
    except ValueError as error:
        raise _Malformed(f"RFC 5424 TIMESTAMP {text!r}: {error}") from None


def _structured_data(data: bytes) -> tuple[dict[str, dict[str, str]], bytes]:
    """Parse STRUCTURED-DATA at the start of ``data``; return it and what follows."""
    if data == b"-" or data.startswith(b"- "):
        return {}, data[1:]
    if not data.startswith(b"["):
        raise _Malformed("RFC 5424 STRUCTURED-DATA is neither '-' nor [SD-ID ...] (§6.3)")
    text = data.decode("utf-8", "surrogateescape")
    elements: dict[str, dict[str, str]] = {}
    pos = 0
    while pos < len(text) and text[pos] == "[":
        pos += 1
        sd_id, pos = _sd_name(text, pos, "SD-ID")
        if sd_id in elements:
            raise _Malformed(f"RFC 5424 SD-ID {sd_id!r} appears twice (§6.3.2)")
        params: dict[str, str] = {}
        while True:
            if text.startswith("]", pos):
                pos += 1
                break
            if not text.startswith(" ", pos):
                raise _Malformed(f"RFC 5424 SD-ELEMENT {sd_id!r} is not closed by ']'")
            name, pos = _sd_name(text, pos + 1, "PARAM-NAME")
            if not text.startswith('="', pos):
                raise _Malformed(f'RFC 5424 SD-PARAM {name!r} lacks ="value"')
            params[name], pos = _param_value(text, pos + 2)
        elements[sd_id] = params
    rest = text[pos:].encode("utf-8", "surrogateescape")
    return elements, rest


def _sd_name(text: str, pos: int, what: str) -> tuple[str, int]:
    match = _SD_NAME.match(text, pos)
    if match is None:
        raise _Malformed(f"RFC 5424 {what} missing or not 1-32 printable characters at {pos}")
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
                raise _Malformed("RFC 5424 PARAM-VALUE is not UTF-8 (§6.3.3)") from None
            return value, pos + 1
        if char == "\\" and pos + 1 < len(text) and text[pos + 1] in '"\\]':
            char = text[pos + 1]
            pos += 1
        chars.append(char)
        pos += 1
    raise _Malformed("RFC 5424 PARAM-VALUE is not closed by '\"'")


def _parse_rfc3164(  # noqa: PLR0917 - private, called once
    raw: bytes, facility: int, severity: int, rest: bytes, year: int, extra: dict[str, Any]
) -> SyslogMessage:
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
            raise _Malformed(f"RFC 3164 TIMESTAMP {stamp.group().decode()!r}: {error}") from None
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
    return SyslogMessage(
        facility=facility,
        severity=severity,
        version=None,
        timestamp=timestamp,
        hostname=hostname,
        app_name=app_name,
        procid=procid,
        msgid=None,
        structured_data={},
        msg=text,
        raw=raw,
        **extra,
    )


def format_rfc5424(
    *,
    facility: int = 1,
    severity: int = 6,
    timestamp: datetime | None = None,
    hostname: str | None = None,
    app_name: str | None = None,
    procid: str | None = None,
    msgid: str | None = None,
    structured_data: Mapping[str, Mapping[str, str]] | None = None,
    msg: str = "",
    bom: bool = True,
) -> bytes:
    """The bytes of an RFC 5424 message (§6) with these fields; ``None`` writes NILVALUE.

    Raises:
        ValueError: a field out of its range (facility 0-23, severity 0-7), or a naive
            timestamp.
    """
    if not 0 <= facility <= 23 or not 0 <= severity <= 7:
        raise ValueError(f"facility must be 0-23 and severity 0-7, not {facility}, {severity}")
    if timestamp is not None and timestamp.utcoffset() is None:
        raise ValueError("an RFC 5424 TIMESTAMP needs an aware datetime (with tzinfo)")
    stamp = "-" if timestamp is None else timestamp.isoformat().replace("+00:00", "Z")
    header = " ".join(
        "-" if value is None else value for value in (stamp, hostname, app_name, procid, msgid)
    )
    sd = "".join(
        "["
        + sd_id
        + "".join(f' {name}="{_escape_param(value)}"' for name, value in params.items())
        + "]"
        for sd_id, params in (structured_data or {}).items()
    )
    line = f"<{facility * 8 + severity}>1 {header} {sd or '-'}".encode()
    if msg:
        line += b" " + (_BOM if bom else b"") + msg.encode()
    return line


def _escape_param(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def frame_octet_counted(message: bytes) -> bytes:
    """``MSG-LEN SP SYSLOG-MSG`` (RFC 6587 §3.4.1)."""
    return b"%d %s" % (len(message), message)


def frame_non_transparent(message: bytes, trailer: bytes = b"\n") -> bytes:
    """The message followed by its ``trailer``, LF or NUL (RFC 6587 §3.4.2)."""
    return message + trailer


@dataclasses.dataclass(frozen=True, slots=True)
class FrameError:
    """Bytes on a stream that could not be framed as a message.

    Attributes:
        reason: what was wrong, for the journal and for people.
        data: the first bytes of what was refused (at most 256).
    """

    reason: str
    data: bytes


class SyslogFramer:
    """Split a syslog TCP stream into messages (RFC 6587), detecting the framing per frame.

    A frame that begins with a digit is octet-counted (``MSG-LEN SP SYSLOG-MSG``, §3.4.1); any
    other is non-transparently framed and ends at LF or NUL (§3.4.2). Empty frames (a lone
    trailer) are skipped. A frame longer than ``max_message_size`` is refused with a
    :class:`FrameError` and skipped (an octet-counted one by its declared length, a
    non-transparent one up to its trailer), so the stream goes on with the next frame.

    Args:
        max_message_size: bytes of SYSLOG-MSG accepted per frame.
    """

    def __init__(self, max_message_size: int = 64 * 1024) -> None:
        self.max_message_size = max_message_size
        self._buffer = bytearray()
        self._skip = 0  # bytes of a refused octet-counted frame still to drop
        self._skip_to_trailer = False  # dropping a refused non-transparent frame

    def feed(self, data: bytes) -> list[bytes | FrameError]:
        """Take the next bytes of the stream; return the frames they complete, in order."""
        self._buffer += data
        out: list[bytes | FrameError] = []
        while self._next(out):
            pass
        return out

    def close(self) -> list[bytes | FrameError]:
        """The stream ended: return what its last bytes held.

        A non-transparent frame missing only its trailer is a message; a partial octet-counted
        frame is a :class:`FrameError`.
        """
        out: list[bytes | FrameError] = []
        buffer, self._buffer = bytes(self._buffer), bytearray()
        if self._skip or self._skip_to_trailer or not buffer:
            return out
        if buffer[:1].isdigit():
            length, _, message = buffer.partition(b" ")
            out.append(
                FrameError(
                    f"the stream ended inside an octet-counted frame: {len(message)} bytes of "
                    f"{length.decode('ascii', 'replace')!r} received",
                    buffer[:_KEPT_OF_REFUSED],
                )
            )
        elif buffer.strip(b"\r\n\x00"):
            out.append(buffer)
        return out

    def _next(self, out: list[bytes | FrameError]) -> bool:
        """Consume one frame (or a step of skipping) from the buffer; False when it needs more."""
        buffer = self._buffer
        if self._skip:
            dropped = min(self._skip, len(buffer))
            del buffer[:dropped]
            self._skip -= dropped
            return bool(buffer)
        if self._skip_to_trailer:
            end = _find_trailer(buffer)
            if end < 0:
                buffer.clear()
                return False
            del buffer[: end + 1]
            self._skip_to_trailer = False
            return True
        if not buffer:
            return False
        if buffer[:1].isdigit():
            return self._octet_counted(out)
        end = _find_trailer(buffer)
        if end < 0:
            if len(buffer) > self.max_message_size:
                out.append(self._too_long(buffer, "non-transparent"))
                buffer.clear()
                self._skip_to_trailer = True
            return False
        frame = bytes(buffer[:end])
        del buffer[: end + 1]
        if len(frame) > self.max_message_size:
            out.append(self._too_long(frame, "non-transparent"))
        elif frame.strip(b"\r"):
            out.append(frame)
        return True

    def _octet_counted(self, out: list[bytes | FrameError]) -> bool:
        buffer = self._buffer
        match = _MSG_LEN.match(buffer, 0, _MAX_MSG_LEN_DIGITS + 1)
        digits = match.end() if match is not None else 0
        if digits == len(buffer) and digits <= _MAX_MSG_LEN_DIGITS:
            return False  # MSG-LEN still arriving
        if (
            digits > _MAX_MSG_LEN_DIGITS
            or buffer[digits : digits + 1] != b" "
            or buffer.startswith(b"0")
        ):
            return self._unframeable(out)
        length = int(buffer[:digits])
        if length > self.max_message_size:
            out.append(
                FrameError(
                    f"octet-counted frame declares MSG-LEN {length}, more than "
                    f"max_message_size={self.max_message_size} bytes (RFC 6587 §3.4.1); "
                    "refused and skipped",
                    bytes(buffer[: min(digits + 1 + length, _KEPT_OF_REFUSED)]),
                )
            )
            del buffer[: digits + 1]
            self._skip = length
            return True
        if len(buffer) < digits + 1 + length:
            return False
        out.append(bytes(buffer[digits + 1 : digits + 1 + length]))
        del buffer[: digits + 1 + length]
        return True

    def _unframeable(self, out: list[bytes | FrameError]) -> bool:
        """A frame starting with a digit that is not ``MSG-LEN SP``: drop it to its trailer."""
        buffer = self._buffer
        end = _find_trailer(buffer)
        kept = bytes(buffer[: end if end >= 0 else _KEPT_OF_REFUSED][:_KEPT_OF_REFUSED])
        out.append(
            FrameError(
                "frame begins with a digit but not with MSG-LEN SP (RFC 6587 §3.4.1), and is "
                "no syslog message either (which begins with '<'); dropped up to the next LF",
                kept,
            )
        )
        if end < 0:
            buffer.clear()
            self._skip_to_trailer = True
            return False
        del buffer[: end + 1]
        return True

    def _too_long(self, frame: bytes | bytearray, kind: str) -> FrameError:
        return FrameError(
            f"{kind} frame longer than max_message_size={self.max_message_size} bytes; refused",
            bytes(frame[:_KEPT_OF_REFUSED]),
        )


def _find_trailer(buffer: bytearray) -> int:
    """Index of the first LF or NUL, or -1."""
    lf = buffer.find(b"\n")
    nul = buffer.find(b"\x00")
    if lf < 0:
        return nul
    if nul < 0:
        return lf
    return min(lf, nul)
