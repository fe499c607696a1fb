"""Syslog messages: parsing RFC 5424 and RFC 3164, and writing RFC 5424.

Pure: no sockets, clocks or threads. :func:`parse_message` turns the bytes of one message into a
:class:`SyslogMessage` (the PRI part here, the rest of each format in ``syslog_formats``);
:func:`format_rfc5424` writes a message back. TCP framing (RFC 6587) is ``syslog_framing``.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from .syslog_formats import Malformed, rfc3164_fields, rfc5424_fields
from .tlsinfo import TLSInfo

__all__ = [
    "FACILITY_NAMES",
    "SEVERITY_NAMES",
    "SyslogMessage",
    "format_rfc5424",
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

_PRI = re.compile(rb"<([0-9]{1,3})>")
#: The BOM that marks an RFC 5424 MSG as UTF-8 (§6.4).
_BOM = b"\xef\xbb\xbf"

Transport = Literal["udp", "tcp", "unix", ""]


@dataclasses.dataclass(frozen=True, slots=True)
class SyslogMessage:
    """One syslog message, as parsed from its bytes (RFC 5424 §6, RFC 3164 §4.1).

    A field the message did not carry (the NILVALUE ``-`` of RFC 5424, or a part RFC 3164 left
    out) is ``None``. A message that parses as neither format keeps its bytes in :attr:`raw`
    with :attr:`error` saying why, and its parsed fields ``None`` (:attr:`msg` ``""``,
    :attr:`structured_data` ``{}``).

    Attributes:
        facility: 0-23 (RFC 5424 §6.2.1: 1 is "user", 16-23 are "local0"-"local7").
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
        peer (tuple[str, int] | str | None): the sender's address as the socket reports it:
            ``(host, port)`` over UDP and TCP; over a Unix socket the sender's path, or
            ``None`` from an unbound socket (``SysLogHandler``'s); ``None`` outside a server.
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
        fields = rfc5424_fields(rest[2:]) if rest.startswith(b"1 ") else rfc3164_fields(rest, year)
    except Malformed as error:
        return _failed(raw, str(error), extra)
    return SyslogMessage(facility=facility, severity=severity, raw=raw, **fields, **extra)


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
