"""Fault plans, delay draws, dribble schedules and failure schedules: the pure part of faults.

Pure: no socket, clock or event loop. Randomness comes only from a ``random.Random`` passed in
(the server's, seeded when the test wants a replayable run), so every function here gives the
same answer for the same seed. The shells (``_http/_faults.py``, ``_smtp/``) only move the
bytes and wait the pauses decided here.
"""

from __future__ import annotations

import enum
import math
import random
from dataclasses import dataclass
from typing import Final

from .coding import malformed_gzip
from .numbers import finite_number

__all__ = [
    "MAX_DELAY",
    "DelayKind",
    "Ending",
    "FailureSchedule",
    "Fault",
    "FaultPlan",
    "delay_problem",
    "draw_delay",
    "dribble_schedule",
    "plan_fault",
]


class Fault(enum.Enum):
    """A way for an HTTP server to fail a request at the connection level.

    Give one to ``expect(...).fault(...)``, or return one from a handler. The request is
    recorded in the journal (and counts toward its expectation) before the fault is applied.

    Members (WireMock's four faults are ``CONNECTION_RESET``, ``EMPTY_RESPONSE``,
    ``RANDOM_DATA_THEN_CLOSE`` and ``MALFORMED_CHUNK``):

    - ``CONNECTION_RESET``: the connection is reset (RST, by closing with ``SO_LINGER`` 0);
      the client's read fails with ``ECONNRESET``.
    - ``CLOSE``: the connection is closed (FIN) without a response.
    - ``EMPTY_RESPONSE``: the server ends its side (FIN, a half-close) without a response, and
      keeps reading until the client closes. Over TLS, which asyncio cannot half-close, the
      connection is closed (close_notify, then FIN), as ``CLOSE`` does.
    - ``RANDOM_DATA_THEN_CLOSE``: random bytes that are not HTTP, then a close.
    - ``MALFORMED_STATUS_LINE``: a status line that is not HTTP/1.1 (RFC 9112 §4), then a close.
    - ``MALFORMED_CHUNK``: a chunked response (RFC 9112 §7.1) whose second chunk size is not
      hexadecimal, then a close.
    - ``TRUNCATED_BODY``: a Content-Length larger than the body sent, then a close
      (RFC 9112 §8: the client knows the message is incomplete).
    - ``STALL``: the status line and fields are sent, the body never is; the connection stays
      open until the client gives up or the server stops (then the client reads end of stream).
    - ``MALFORMED_CONTENT_CODING``: a complete, well-framed 200 with ``Content-Encoding:
      gzip`` (RFC 9110 §8.4.1.3), whatever the request's Accept-Encoding, whose body is not
      gzip data: a valid gzip header, then a deflate block of the reserved type (RFC 1951
      §3.2.3), then text; then a close. The framing is right, so only a client that decodes
      the content fails: requests raises ``ContentDecodingError``, httpx ``DecodingError``,
      aiohttp ``ClientPayloadError``; urllib and ``http.client`` decode nothing and return the
      bytes as they came, on which the caller's own ``gzip.decompress`` raises ``zlib.error``.

    For HTTP/2 (RFC 9113; each is the nearest HTTP/1.1 fault on an HTTP/1.1 request):

    - ``STREAM_RESET``: the stream is reset (RST_STREAM INTERNAL_ERROR) before any response;
      the connection's other streams go on. HTTP/1.1: as ``CONNECTION_RESET``.
    - ``REFUSED_STREAM``: the stream is reset with REFUSED_STREAM, which tells the client the
      request was not processed and may be retried (RFC 9113 §8.7). HTTP/1.1: as ``CLOSE``.
    - ``GOAWAY``: a graceful GOAWAY (NO_ERROR) whose last stream id is below this request's,
      so the client knows it was not processed (RFC 9113 §6.8); the streams before it finish,
      then the connection closes. HTTP/1.1: as ``CLOSE``.

    For a chosen error code, GOAWAY last stream id, or a closed flow-control window, give an
    :class:`~understudy.HTTP2Fault` instead.

    On HTTP/2 the faults of a response break its stream only (see docs/architecture.md,
    "HTTP/2"); ``CONNECTION_RESET`` and ``CLOSE`` (a GOAWAY, then a close) break the
    connection, and the malformed ones send a frame the client cannot parse, then close.

    On a HEAD request, ``TRUNCATED_BODY``, ``MALFORMED_CHUNK``, ``MALFORMED_CONTENT_CODING``
    and ``STALL`` break the head
    instead of the body. A response to HEAD has no body (RFC 9110 §9.3.2), so a client reads
    the head and is done: a body cut short, malformed or never sent would look like a complete
    response. Instead the status line stops inside the status code (``HTTP/1.1 20``), then the
    connection closes (``TRUNCATED_BODY``, ``MALFORMED_CHUNK``: the client sees an incomplete
    response, RFC 9112 §8) or stays open with nothing more sent (``STALL``: the client's read
    times out). The cut comes inside the status line because some clients (``http.client``,
    hence requests and urllib3) take the end of the stream as the end of the header fields,
    and would accept a head cut anywhere after it. ``http.client`` raises ``BadStatusLine``,
    requests ``ConnectionError``, httpx ``RemoteProtocolError``. On HTTP/2 the head is sent
    without ending the stream, which ``TRUNCATED_BODY`` and ``MALFORMED_CONTENT_CODING`` then
    reset (RST_STREAM INTERNAL_ERROR), ``MALFORMED_CHUNK`` follows with its malformed frame, and
    ``STALL`` leaves open.

    .. versionadded:: 0.1
    """

    CONNECTION_RESET = "connection_reset"
    CLOSE = "close"
    EMPTY_RESPONSE = "empty_response"
    RANDOM_DATA_THEN_CLOSE = "random_data_then_close"
    MALFORMED_STATUS_LINE = "malformed_status_line"
    MALFORMED_CHUNK = "malformed_chunk"
    TRUNCATED_BODY = "truncated_body"
    STALL = "stall"
    MALFORMED_CONTENT_CODING = "malformed_content_coding"
    STREAM_RESET = "stream_reset"
    REFUSED_STREAM = "refused_stream"
    GOAWAY = "goaway"


class Ending(enum.Enum):
    """What the shell does with the connection once a plan's bytes are written."""

    CLOSE = "close"  # flush, then close (FIN)
    RESET = "reset"  # SO_LINGER 0, then close (RST); nothing is written
    HALF_CLOSE = "half_close"  # flush, then end the writing side (FIN); keep reading
    STALL = "stall"  # flush, then keep the connection open, writing nothing more


@dataclass(frozen=True)
class FaultPlan:
    """The bytes to write for a fault, and how the connection ends after them."""

    data: bytes
    ending: Ending


#: Bytes of the body a TRUNCATED_BODY response sends; it declares twice as many.
_TRUNCATED_SENT = b"understudy: this body is cut short by Fault.TRUNCATED_BODY.\n"
#: What a body fault sends to a HEAD request: a status line cut inside the status code.
_CUT_STATUS_LINE = b"HTTP/1.1 20"
#: The faults that break a response body, which a HEAD response does not have.
_BODY_FAULTS = frozenset(
    {Fault.TRUNCATED_BODY, Fault.MALFORMED_CHUNK, Fault.STALL, Fault.MALFORMED_CONTENT_CODING}
)
#: Random bytes sent by RANDOM_DATA_THEN_CLOSE: at least, at most.
_RANDOM_SIZE = (16, 64)
_STALL_LENGTH = 1024


def plan_fault(kind: Fault, rng: random.Random, *, method: str = "GET") -> FaultPlan:
    """The plan for ``kind``: what to write (a whole, fixed byte string) and how to end.

    Args:
        kind: the fault.
        rng: draws the bytes of ``RANDOM_DATA_THEN_CLOSE`` (no other kind uses it).
        method: the request's method (case-sensitive, RFC 9110 §9.1). For ``"HEAD"``, whose
            response has no body (RFC 9110 §9.3.2), the faults of the body (``TRUNCATED_BODY``,
            ``MALFORMED_CHUNK``, ``MALFORMED_CONTENT_CODING``, ``STALL``) cut the status line
            short instead (see
            :class:`Fault`). Default ``"GET"``.

    Returns:
        The :class:`FaultPlan`. The responses that look like HTTP say ``Connection: close``
        except ``STALL``'s, which declares a 1024-byte body it never sends.

    Raises:
        ValueError: ``kind`` is not a :class:`Fault`.
    """
    if method == "HEAD" and kind in _BODY_FAULTS:
        ending = Ending.STALL if kind is Fault.STALL else Ending.CLOSE
        return FaultPlan(_CUT_STATUS_LINE, ending)
    if kind is Fault.CONNECTION_RESET:
        return FaultPlan(b"", Ending.RESET)
    if kind is Fault.CLOSE or kind is Fault.REFUSED_STREAM or kind is Fault.GOAWAY:
        return FaultPlan(b"", Ending.CLOSE)  # (the HTTP/2 faults, on HTTP/1.1: see Fault)
    if kind is Fault.STREAM_RESET:
        return FaultPlan(b"", Ending.RESET)
    if kind is Fault.EMPTY_RESPONSE:
        return FaultPlan(b"", Ending.HALF_CLOSE)
    if kind is Fault.RANDOM_DATA_THEN_CLOSE:
        data = bytearray(rng.randbytes(rng.randint(*_RANDOM_SIZE)))
        # Never the start of a status line ("HTTP/"), nor of an HTTP/0.9-looking blank.
        if data[0] in b"Hh\r\n":
            data[0] = 0xFF
        return FaultPlan(bytes(data), Ending.CLOSE)
    if kind is Fault.MALFORMED_STATUS_LINE:
        return FaultPlan(b"HTTP/1.1 two hundred OK\r\nConnection: close\r\n\r\n", Ending.CLOSE)
    if kind is Fault.MALFORMED_CHUNK:
        head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        return FaultPlan(head + b"5\r\nhello\r\nzz\r\nnot a chunk\r\n", Ending.CLOSE)
    if kind is Fault.TRUNCATED_BODY:
        head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % (
            2 * len(_TRUNCATED_SENT)
        )
        return FaultPlan(head + _TRUNCATED_SENT, Ending.CLOSE)
    if kind is Fault.STALL:
        head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % _STALL_LENGTH
        return FaultPlan(head, Ending.STALL)
    if kind is Fault.MALFORMED_CONTENT_CODING:
        body = malformed_gzip()
        head = (
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n"
            b"Content-Encoding: gzip\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body)
        )
        return FaultPlan(head + body, Ending.CLOSE)
    raise ValueError(f"not a Fault: {kind!r}")


# -- delays ----------------------------------------------------------------------------------


class DelayKind(enum.Enum):
    """The distributions a delay is drawn from (WireMock's fixed, uniform and lognormal)."""

    FIXED = "fixed"  # first: the seconds
    UNIFORM = "uniform"  # first, second: lower and upper bound, seconds
    LOGNORMAL = "lognormal"  # first: the median, seconds; second: sigma


#: The longest delay understudy waits, in seconds (one hour): a test server has no use for a
#: longer one, which is most often milliseconds given as seconds. Fixed delays, the bounds of
#: uniform ones and the median of log-normal ones above it are refused; a log-normal draw
#: above it waits this long.
MAX_DELAY: Final = 3600.0


def delay_problem(kind: DelayKind, first: float, second: float) -> str | None:
    """Why these parameters make no delay, or ``None`` when they are fine."""

    def bad(value: float) -> bool:
        return not finite_number(value) or value < 0

    def too_long(value: float) -> bool:
        return value > MAX_DELAY

    over = f"at most {MAX_DELAY:g} seconds (one hour)"
    if kind is DelayKind.FIXED:
        if bad(first):
            return f"a delay is a finite number of seconds >= 0, not {first!r}"
        if too_long(first):
            return f"a delay is {over}, not {first!r}"
    elif kind is DelayKind.UNIFORM:
        if bad(first) or bad(second):
            return f"the bounds are finite seconds >= 0, not {first!r} and {second!r}"
        if second < first:
            return f"the lower bound ({first}) is above the upper bound ({second}): swap them"
        if too_long(second):
            return f"the bounds are {over}, not {second!r}"
    elif kind is DelayKind.LOGNORMAL:
        if bad(first) or first == 0:
            return f"the median is a finite number of seconds > 0, not {first!r}"
        if too_long(first):
            return f"the median is {over}, not {first!r}"
        if bad(second):
            return f"sigma is a finite number >= 0, not {second!r}"
    return None


def draw_delay(kind: DelayKind, first: float, second: float, rng: random.Random) -> float:
    """Draw one delay in seconds (never negative, never above :data:`MAX_DELAY`).

    ``LOGNORMAL`` is ``median * exp(sigma * N(0, 1))`` (WireMock's ``delayDistribution``
    ``lognormal``): half the draws are below the median, and a few are far above it.
    """
    if kind is DelayKind.FIXED:
        return float(first)
    if kind is DelayKind.UNIFORM:
        return rng.uniform(first, second)
    exponent = float(second) * rng.gauss(0.0, 1.0)
    if exponent >= math.log(MAX_DELAY / first):
        return MAX_DELAY  # (and no OverflowError from exp of a huge sigma's draw)
    return float(first) * math.exp(exponent)


# -- dribble ---------------------------------------------------------------------------------


def dribble_schedule(body: bytes, chunks: int, duration: float) -> list[tuple[float, bytes]]:
    """Split ``body`` into ``chunks`` pieces spread over ``duration`` seconds.

    Args:
        body: the bytes to send.
        chunks: how many pieces (at most ``len(body)``: no piece is empty).
        duration: the seconds from the end of the head to the last piece.

    Returns:
        ``(pause, piece)`` pairs: wait ``pause`` seconds, then send ``piece``. Pieces differ in
        size by at most one byte, concatenate to ``body``, and the pauses are equal and sum to
        ``duration``. An empty body gives ``[]``.

    Raises:
        ValueError: ``chunks`` below 1 or ``duration`` negative.
    """
    if chunks < 1:
        raise ValueError(f"chunks must be at least 1, not {chunks!r}")
    if not math.isfinite(duration) or duration < 0:
        raise ValueError(f"duration must be finite seconds >= 0, not {duration!r}")
    if not body:
        return []
    count = min(chunks, len(body))
    size, extra = divmod(len(body), count)
    pause = duration / count
    schedule = []
    start = 0
    for index in range(count):
        end = start + size + (1 if index < extra else 0)
        schedule.append((pause, body[start:end]))
        start = end
    return schedule


# -- failure schedules -----------------------------------------------------------------------


class FailureSchedule:
    """When a failure fires: on the Nth arrival, at most N times, with a probability.

    ``arrivals`` counts each time the stage is reached (by :meth:`fires`); ``fired`` counts the
    times the failure fired. Not thread-safe: the shell calls it from one loop.

    Args:
        nth: fire only on this arrival (1-based); ``None``: any arrival.
        times: fire at most this many times in all; ``None``: no limit.
        probability: the chance each eligible arrival fires, 0 to 1 (1: always).

    Raises:
        ValueError: ``nth`` or ``times`` below 1, or ``probability`` outside 0..1.
    """

    __slots__ = ("arrivals", "fired", "nth", "probability", "times")

    def __init__(
        self, *, nth: int | None = None, times: int | None = None, probability: float = 1.0
    ) -> None:
        for name, value in (("nth", nth), ("times", times)):
            if value is not None and (
                not isinstance(value, int) or isinstance(value, bool) or value < 1
            ):
                raise ValueError(f"{name} must be a positive int or None, not {value!r}")
        if (
            not isinstance(probability, int | float)
            or isinstance(probability, bool)
            or not 0.0 <= probability <= 1.0
        ):
            raise ValueError(f"probability must be a number from 0 to 1, not {probability!r}")
        self.nth = nth
        self.times = times
        self.probability = float(probability)
        self.arrivals = 0
        self.fired = 0

    def fires(self, rng: random.Random) -> bool:
        """Count one arrival at the stage; whether the failure fires on it.

        A random number is drawn only when the arrival is otherwise eligible and the
        probability is strictly between 0 and 1, so adding a certain failure does not shift
        the draws of the others.
        """
        self.arrivals += 1
        if self.nth is not None and self.arrivals != self.nth:
            return False
        if self.times is not None and self.fired >= self.times:
            return False
        if self.probability <= 0.0:
            return False
        if self.probability < 1.0 and rng.random() >= self.probability:
            return False
        self.fired += 1
        return True
