"""The HTTP/1.1 faults (:class:`~understudy.Fault`) carried out on an HTTP/2 stream.

A fault on HTTP/1.1 breaks the connection, since one response is all it carries at a time. On
HTTP/2 the faults of a response break its stream only (the connection's other streams go on),
the way an HTTP/2 server fails one response; the faults named after the connection break it:

- ``CONNECTION_RESET``: the TCP connection is reset (RST), every stream with it.
- ``CLOSE``: GOAWAY (NO_ERROR), then the connection closes; this stream is left unanswered.
- ``EMPTY_RESPONSE``: the stream is reset (RST_STREAM NO_ERROR) before any response.
- ``RANDOM_DATA_THEN_CLOSE``: random bytes that are not HTTP/2 frames, then a close.
- ``MALFORMED_STATUS_LINE``: a HEADERS frame whose field block is not HPACK (the client's
  decoder fails: COMPRESSION_ERROR, RFC 9113 §4.3), then a close.
- ``MALFORMED_CHUNK``: the head, then a DATA frame whose padding is longer than the frame
  (PROTOCOL_ERROR, RFC 9113 §6.1), then a close.
- ``TRUNCATED_BODY``: a Content-Length larger than the DATA sent, then END_STREAM (a malformed
  response, RFC 9113 §8.1.1).
- ``STALL``: the head is sent, the body never is; the other streams go on.
- ``MALFORMED_CONTENT_CODING``: as on HTTP/1.1, a well-framed response whose gzip is not.
- On HEAD, whose response has no body, the body faults break the response after its head
  (sent without END_STREAM, else it would be a whole response): ``TRUNCATED_BODY`` and
  ``MALFORMED_CONTENT_CODING`` reset the stream (RST_STREAM INTERNAL_ERROR), ``MALFORMED_CHUNK``
  sends its malformed frame, and ``STALL`` never ends the stream.
- ``STREAM_RESET``, ``REFUSED_STREAM``: RST_STREAM INTERNAL_ERROR, REFUSED_STREAM.
- ``GOAWAY``: a graceful GOAWAY below this stream (not processed); the connection closes once
  the streams before it are answered.

And the faults with parameters (:class:`~understudy.HTTP2Fault`): RST_STREAM with its error
code; GOAWAY with its code and last stream id, the connection closed at once (``immediate``)
or once the streams up to it are answered; SETTINGS_INITIAL_WINDOW_SIZE with the window the
server leaves, after which it opens no window again (the connection's ``windows_closed``).
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

import h2.exceptions
import h2.settings
from hyperframe.frame import HeadersFrame

from ..._core.faults import Ending, Fault
from ..._http2_faults import HTTP2Fault, fault_from_text
from ..._resets import linger_zero
from .._heads import http_date

if TYPE_CHECKING:
    from ._stream import H2Exchange, Streams

__all__ = ["apply_h2_fault", "fault_of"]

#: The fault an Ending stands for when the fault's name was not recorded (a head already sent).
_BY_ENDING = {
    Ending.RESET: Fault.CONNECTION_RESET,
    Ending.CLOSE: Fault.CLOSE,
    Ending.HALF_CLOSE: Fault.EMPTY_RESPONSE,
    Ending.STALL: Fault.STALL,
}


def fault_of(name: str, ending: Ending) -> Fault | HTTP2Fault:
    """The fault named ``name`` (as recorded), else the one ``ending`` stands for."""
    return fault_from_text(name) if name else _BY_ENDING[ending]


_NO_ERROR = 0x0
_INTERNAL_ERROR = 0x2
_REFUSED_STREAM = 0x7
#: What a stalled or truncated response declares, and sends half of (truncated).
_DECLARED = 1024


def apply_h2_fault(exchange: H2Exchange, kind: Fault | HTTP2Fault, data: bytes) -> None:
    """Answer ``exchange`` with the fault ``kind`` (see the module's docstring); ``data`` is
    what its HTTP/1.1 plan writes (random bytes, a gzip body), used where HTTP/2 can."""
    if isinstance(kind, HTTP2Fault):
        _apply_frame_fault(exchange, kind)
        return
    conn = exchange.h2conn
    if kind is Fault.CONNECTION_RESET:
        exchange.finished = True
        exchange.notify_done()
        _reset_connection(conn)
    elif kind is Fault.CLOSE:
        exchange.finished = True
        exchange.notify_done()
        conn.close()
    elif kind is Fault.EMPTY_RESPONSE:
        conn.reset_stream(exchange, _NO_ERROR)
    elif kind is Fault.STREAM_RESET:
        conn.reset_stream(exchange, _INTERNAL_ERROR)
    elif kind is Fault.REFUSED_STREAM:
        conn.reset_stream(exchange, _REFUSED_STREAM)
    elif kind is Fault.GOAWAY:
        exchange.finished = True
        exchange.notify_done()
        conn.streams.pop(exchange.stream_id, None)  # (not processed, as the GOAWAY says)
        conn.goaway(exchange.stream_id - 2)
    elif kind is Fault.RANDOM_DATA_THEN_CLOSE:
        exchange.finished = True
        exchange.notify_done()
        conn.broken = True
        conn.write(data)
        conn.close()
    elif kind is Fault.MALFORMED_STATUS_LINE:
        _malformed(exchange, _bad_field_block(exchange.stream_id))
    elif kind is Fault.MALFORMED_CHUNK:
        _head(exchange, 200, [])
        _malformed(exchange, _bad_padding(exchange.stream_id))
    elif kind in (Fault.TRUNCATED_BODY, Fault.STALL, Fault.MALFORMED_CONTENT_CODING):
        _body_fault(exchange, kind, data)


def _body_fault(exchange: H2Exchange, kind: Fault, data: bytes) -> None:
    """``TRUNCATED_BODY``, ``STALL`` or ``MALFORMED_CONTENT_CODING``: a head, then a body cut
    short, none, or not gzip; on HEAD, no body: the stream is reset after the head, or stalls."""
    if kind is Fault.MALFORMED_CONTENT_CODING:
        body = data.partition(b"\r\n\r\n")[2]
        fields = [
            ("content-type", "text/plain; charset=utf-8"),
            ("content-encoding", "gzip"),
            ("content-length", str(len(body))),
        ]
    else:
        body = b"x" * (_DECLARED // 2)
        fields = [("content-length", str(_DECLARED))]
    _head(exchange, 200, fields)
    if kind is not Fault.STALL:
        if exchange.method == "HEAD":
            exchange.h2conn.reset_stream(exchange, _INTERNAL_ERROR)  # (the head is broken)
            return
        _send_now(exchange, body, end_stream=True)
    exchange.finished = True
    exchange.notify_done()
    # STALL: nothing more on this stream; stop() resets it with the connection.


def _apply_frame_fault(exchange: H2Exchange, kind: HTTP2Fault) -> None:
    """Answer ``exchange`` with the :class:`~understudy.HTTP2Fault` ``kind``."""
    conn = exchange.h2conn
    if kind.frame == "RST_STREAM":
        conn.reset_stream(exchange, kind.error_code)
        return
    exchange.finished = True
    exchange.notify_done()
    if kind.frame == "GOAWAY":
        conn.streams.pop(exchange.stream_id, None)  # (unanswered, whatever the GOAWAY says)
        last = kind.last_stream_id
        conn.goaway(exchange.stream_id - 2 if last is None else last, kind.error_code)
        if kind.immediate:
            conn.broken = True
            conn.close()
        return
    # SETTINGS: the stream stays open and unanswered, as after Fault.STALL's head.
    size = kind.window_size or 0
    conn.windows_closed = True
    try:
        conn.h2.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: size})
    except h2.exceptions.ProtocolError:
        return
    conn.wrote()


def _head(exchange: H2Exchange, status: int, fields: list[tuple[str, str]]) -> None:
    """The response's HEADERS frame, recorded as the fault (not as a response).

    The stream is left open, on HEAD too: a body fault on HEAD, which has no body, breaks the
    response after its head instead (a head that ended the stream would be a whole response).
    """
    exchange.head_sent = True
    headers = [(b":status", b"%d" % status), (b"date", http_date().encode())]
    headers += [(name.encode(), value.encode()) for name, value in fields]
    exchange.h2conn.send_headers(exchange, headers, end_stream=False)


def _malformed(exchange: H2Exchange, frame: bytes) -> None:
    """Write ``frame`` (not HTTP/2 as the client's state allows), then close the connection."""
    exchange.finished = True
    exchange.notify_done()
    conn = exchange.h2conn
    conn.broken = True
    conn.write(frame)
    conn.close()


def _bad_field_block(stream_id: int) -> bytes:
    """A HEADERS frame whose block is an HPACK index that no table has (RFC 7541 §2.3.3)."""
    frame = HeadersFrame(stream_id)
    frame.data = b"\xff\xff\xff\xff\x0f"  # indexed field 2**28+: a decoding error
    frame.flags.add("END_HEADERS")
    return frame.serialize()


def _bad_padding(stream_id: int) -> bytes:
    """A DATA frame (PADDED) whose pad length exceeds its payload (RFC 9113 §6.1)."""
    payload = bytes([200]) + b"data"
    header = struct.pack(">I", len(payload))[1:] + bytes([0x0, 0x8]) + struct.pack(">I", stream_id)
    return header + payload


def _reset_connection(conn: Streams) -> None:
    """Reset the TCP connection (RST: close with SO_LINGER 0), every stream with it."""
    conn.closing = conn.broken = True
    transport = conn.transport
    if transport is None:
        return
    linger_zero(transport)
    conn.abort()


def _send_now(exchange: H2Exchange, data: bytes, *, end_stream: bool) -> None:
    """DATA past the stream's window (a fault's few bytes: within the initial window)."""
    conn = exchange.h2conn
    try:
        conn.h2.send_data(exchange.stream_id, data, end_stream=end_stream)
    except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError):
        return
    conn.wrote()
