"""An HTTP/2 fault with parameters (:class:`HTTP2Fault`), and how a journal keeps a fault.

:class:`HTTP2Fault` checks its arguments (raising :class:`~understudy.ConfigurationError` with
what to write instead); ``_http/_h2/_faults.py`` carries it out on a stream, and
``_http/_faults.py`` on an HTTP/1.1 connection.
"""

from __future__ import annotations

from typing import Self

from ._core.faults import Fault
from ._errors import ConfigurationError

__all__ = ["ERROR_CODES", "HTTP2Fault", "fault_from_text", "fault_text"]


#: The HTTP/2 error codes by name (RFC 9113 §7), as :class:`HTTP2Fault` takes them.
ERROR_CODES = {
    "NO_ERROR": 0x0,
    "PROTOCOL_ERROR": 0x1,
    "INTERNAL_ERROR": 0x2,
    "FLOW_CONTROL_ERROR": 0x3,
    "SETTINGS_TIMEOUT": 0x4,
    "STREAM_CLOSED": 0x5,
    "FRAME_SIZE_ERROR": 0x6,
    "REFUSED_STREAM": 0x7,
    "CANCEL": 0x8,
    "COMPRESSION_ERROR": 0x9,
    "CONNECT_ERROR": 0xA,
    "ENHANCE_YOUR_CALM": 0xB,
    "INADEQUATE_SECURITY": 0xC,
    "HTTP_1_1_REQUIRED": 0xD,
}
_CODE_NAMES = {code: name for name, code in ERROR_CODES.items()}
#: The largest stream id and window size (31 bits, RFC 9113 §5.1.1, §6.9.1).
_MAX_31 = 2**31 - 1


def _error_code(code: object, where: str) -> int:
    """An error code given as an int (32 bits, RFC 9113 §7: unknown ones are allowed) or a
    name from :data:`ERROR_CODES`, as an int."""
    if isinstance(code, str) and code.upper() in ERROR_CODES:
        return ERROR_CODES[code.upper()]
    if isinstance(code, int) and not isinstance(code, bool) and 0 <= code < 2**32:
        return int(code)
    raise ConfigurationError(
        f"HTTP2Fault.{where}(...) takes an HTTP/2 error code (RFC 9113 §7): an int from 0 to "
        f"2**32-1, or a name such as 'CANCEL' or 'ENHANCE_YOUR_CALM', not {code!r}"
    )


def _stream_or_window(value: object, what: str, where: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= _MAX_31:
        return int(value)
    raise ConfigurationError(
        f"HTTP2Fault.{where}(...) takes {what} as an int from 0 to 2**31-1, not {value!r}"
    )


class HTTP2Fault:
    """An HTTP/2 fault with parameters (RFC 9113), given to ``expect(...).fault(...)`` or
    returned from a handler as a :class:`Fault` is.

    Make one with :meth:`rst_stream`, :meth:`goaway` or :meth:`window`. The request is
    recorded in the journal before the fault is applied, and its
    :attr:`ResponseRecord.fault` is this value. On an
    HTTP/1.1 request each is the nearest connection fault: ``rst_stream`` resets the
    connection (as ``Fault.CONNECTION_RESET``), ``goaway`` closes it (as ``Fault.CLOSE``),
    ``window`` leaves the request unanswered with the connection open (as ``Fault.STALL``
    before the head).

    Attributes:
        frame: the frame the fault sends, a str: ``"RST_STREAM"``, ``"GOAWAY"`` or
            ``"SETTINGS"`` (:meth:`window`).
        error_code: the error code sent (RFC 9113 §7), an int (0 for :meth:`window`).
        last_stream_id: the GOAWAY's last stream id, an int; ``None``: the stream below the
            request's (it was not processed), and for the other frames.
        immediate: a GOAWAY closes the connection at once (``True``) or once the streams up
            to its last stream id are answered (``False``).
        window_size: the flow-control window :meth:`window` leaves, in bytes; else ``None``.

    Equal faults compare equal; a fault is immutable and may be shared between expectations.

    .. versionadded:: 0.1
    """

    __slots__ = ("error_code", "frame", "immediate", "last_stream_id", "window_size")

    frame: str
    error_code: int
    last_stream_id: int | None
    immediate: bool
    window_size: int | None

    def __init__(
        self,
        frame: str,
        error_code: int,
        last_stream_id: int | None = None,
        immediate: bool = False,
        window_size: int | None = None,
    ) -> None:
        if frame not in ("RST_STREAM", "GOAWAY", "SETTINGS"):
            raise ConfigurationError(
                f"make an HTTP2Fault with HTTP2Fault.rst_stream(), .goaway() or .window(), "
                f"not HTTP2Fault({frame!r}, ...)"
            )
        set_ = object.__setattr__
        set_(self, "frame", frame)
        set_(self, "error_code", _error_code(error_code, frame.lower()))
        set_(self, "last_stream_id", last_stream_id)
        set_(self, "immediate", bool(immediate))
        set_(self, "window_size", window_size)

    @classmethod
    def rst_stream(cls, error_code: int | str = "INTERNAL_ERROR") -> Self:
        """Reset the request's stream with RST_STREAM ``error_code`` (RFC 9113 §6.4) before
        any response; the connection's other streams go on.

        Args:
            error_code: an int (any 32-bit code, RFC 9113 §7 lets unknown ones through) or a
                name such as ``"CANCEL"``, ``"ENHANCE_YOUR_CALM"`` (see RFC 9113 §7); default
                ``"INTERNAL_ERROR"``. ``"REFUSED_STREAM"`` tells the client the request was
                not processed and may be retried (RFC 9113 §8.7).

        Raises:
            ConfigurationError: ``error_code`` is not one.
        """
        return cls("RST_STREAM", _error_code(error_code, "rst_stream"))

    @classmethod
    def goaway(
        cls,
        error_code: int | str = "NO_ERROR",
        *,
        last_stream_id: int | None = None,
        immediate: bool = False,
    ) -> Self:
        """Send GOAWAY (RFC 9113 §6.8) instead of answering the request.

        The request's stream gets no response. Streams above ``last_stream_id`` (opened
        before or after) are not processed: the ones after are refused (RST_STREAM
        REFUSED_STREAM), so the client may retry them on a new connection.

        Args:
            error_code: as for :meth:`rst_stream`; default ``"NO_ERROR"`` (a graceful
                shutdown).
            last_stream_id: the highest stream id the server says it may process, an int
                from 0 to 2**31-1; default ``None``: the stream below the request's (the
                request was not processed).
            immediate: ``False`` (default): the streams up to ``last_stream_id`` still being
                answered are finished, then the connection closes. ``True``: the connection
                closes right after the GOAWAY, those streams unanswered.

        Raises:
            ConfigurationError: a bad error code or stream id.
        """
        if last_stream_id is not None:
            last_stream_id = _stream_or_window(last_stream_id, "last_stream_id", "goaway")
        code = _error_code(error_code, "goaway")
        return cls("GOAWAY", code, last_stream_id, immediate)

    @classmethod
    def window(cls, size: int = 0) -> Self:
        """Close the server's flow-control windows down to ``size`` bytes (RFC 9113 §5.2,
        §6.9.2) instead of answering the request.

        The server sends SETTINGS_INITIAL_WINDOW_SIZE ``size`` (every stream's window,
        those open included, RFC 9113 §6.9.2) and, from then on, no WINDOW_UPDATE on the
        connection: each request body the client sends on it stalls after ``size`` bytes
        (``0``: before its first byte), until the client gives up or the server stops. The
        request itself gets no response.

        Args:
            size: the window in bytes, an int from 0 to 2**31-1; default 0.

        Raises:
            ConfigurationError: ``size`` is not one.
        """
        return cls("SETTINGS", 0, window_size=_stream_or_window(size, "the size", "window"))

    @property
    def name(self) -> str:
        """A short text naming the fault, as reports show it: ``"RST_STREAM CANCEL"``,
        ``"GOAWAY NO_ERROR last_stream_id=1 immediate"``, ``"SETTINGS_INITIAL_WINDOW_SIZE 0"``."""
        code = str(_CODE_NAMES.get(self.error_code, hex(self.error_code)))
        if self.frame == "RST_STREAM":
            return f"RST_STREAM {code}"
        if self.frame == "SETTINGS":
            return f"SETTINGS_INITIAL_WINDOW_SIZE {self.window_size}"
        last = "" if self.last_stream_id is None else f" last_stream_id={self.last_stream_id}"
        return f"GOAWAY {code}{last}{' immediate' if self.immediate else ''}"

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"HTTP2Fault is immutable: cannot set {name!r}")

    def _key(self) -> tuple[object, ...]:
        return (self.frame, self.error_code, self.last_stream_id, self.immediate, self.window_size)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, HTTP2Fault):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return (HTTP2Fault, self._key())

    def __repr__(self) -> str:
        code = _CODE_NAMES.get(self.error_code, self.error_code)
        if self.frame == "RST_STREAM":
            return f"understudy.HTTP2Fault.rst_stream({code!r})"
        if self.frame == "SETTINGS":
            return f"understudy.HTTP2Fault.window({self.window_size})"
        extra = f", last_stream_id={self.last_stream_id}" if self.last_stream_id is not None else ""
        extra += ", immediate=True" if self.immediate else ""
        return f"understudy.HTTP2Fault.goaway({code!r}{extra})"


#: How a journal entry keeps an HTTP2Fault: this, then its fields (see fault_text).
_TEXT = "HTTP2Fault"


def fault_text(fault: Fault | HTTP2Fault) -> str:
    """``fault`` as a journal keeps it (a str: the journal's entries hold no objects)."""
    if isinstance(fault, Fault):
        return fault.name
    last = "" if fault.last_stream_id is None else str(fault.last_stream_id)
    size = "" if fault.window_size is None else str(fault.window_size)
    return f"{_TEXT} {fault.frame} {fault.error_code} {last} {int(fault.immediate)} {size}"


def fault_from_text(text: str) -> Fault | HTTP2Fault:
    """The fault :func:`fault_text` made ``text`` of."""
    if not text.startswith(_TEXT):
        return Fault[text]
    _, frame, code, last, immediate, size = text.split(" ")
    return HTTP2Fault(
        frame,
        int(code),
        int(last) if last else None,
        immediate == "1",
        int(size) if size else None,
    )
