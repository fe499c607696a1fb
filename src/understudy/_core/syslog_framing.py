"""Syslog over TCP: framing per RFC 6587, detected per frame.

Pure: no sockets, clocks or threads. :class:`SyslogFramer` splits a byte stream into messages:
a frame that begins with a digit is octet-counted (§3.4.1, ``MSG-LEN SP SYSLOG-MSG``), any other
non-transparently framed (§3.4.2, ending at LF, or at NUL as Python's
``logging.handlers.SysLogHandler`` sends it). :func:`frame_octet_counted` and
:func:`frame_non_transparent` frame a message for sending.

A NUL-terminated message may hold line feeds (``SysLogHandler`` sends ``logger.exception``'s
traceback so), and no frame begins as the lines of a traceback do: an LF that the bytes read
so far show followed by a byte no frame begins with (not ``<``, a digit, CR, LF or NUL) is the
message's own, not its end. An LF that the bytes read so far end with still ends a frame (a
frame is delivered as soon as it is whole, not held for the next byte), so a multi-line
message that TCP happens to split right after one of its line feeds is cut there.
"""

from __future__ import annotations

import dataclasses
import re

__all__ = ["FrameError", "SyslogFramer", "frame_non_transparent", "frame_octet_counted"]

#: How many bytes of a refused frame an error keeps, to show what was sent.
_KEPT_OF_REFUSED = 256
_MSG_LEN = re.compile(rb"[0-9]*")
#: More digits than this in MSG-LEN is not a length worth skipping by.
_MAX_MSG_LEN_DIGITS = 10


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
    """Index of the first trailer, NUL or an LF that may end a frame (see the module's
    docstring), or -1."""
    nul = buffer.find(b"\x00")
    end = len(buffer) if nul < 0 else nul
    lf = buffer.find(b"\n", 0, end)
    while lf >= 0:
        if lf + 1 == len(buffer) or buffer[lf + 1] in _FRAME_STARTS:
            return lf
        lf = buffer.find(b"\n", lf + 1, end)
    return nul


#: The bytes a frame (or an empty one: a lone trailer) may begin with.
_FRAME_STARTS = frozenset(b"<0123456789\r\n\x00")
