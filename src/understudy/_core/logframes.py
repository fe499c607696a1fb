"""Frames of Python's ``logging.handlers.SocketHandler`` and ``DatagramHandler``, decoded safely.

Each frame is a 4-byte big-endian length followed by that many bytes of a pickled ``dict`` (the
``LogRecord``'s attributes, as ``SocketHandler.makePickle`` writes them). Pickle can run arbitrary
code, so frames are read with an unpickler whose ``find_class`` refuses every global: plain data
needs none. What comes out is then checked to hold only ``dict``, ``list``, ``tuple``, ``str``,
``bytes``, ``int``, ``float``, ``bool`` and ``None``; anything else makes the frame a
:class:`BadFrame` with the reason, never an object.

Pure: no sockets, clocks or threads (and no :mod:`logging`, which imports threading: the shell
rebuilds the ``LogRecord`` with ``logging.makeLogRecord``).
"""

from __future__ import annotations

import dataclasses
import io
import pickle
import struct
from typing import Any

__all__ = ["BadFrame", "LogFrameDecoder", "decode_datagram", "decode_payload", "encode_frame"]

_LENGTH = struct.Struct(">L")
#: How many bytes of a refused frame a :class:`BadFrame` keeps.
_KEPT_OF_REFUSED = 256
_PLAIN = (str, bytes, int, float, bool, type(None))


@dataclasses.dataclass(frozen=True, slots=True)
class BadFrame:
    """A frame that was refused: not a pickled dict of plain data, or too long.

    Attributes:
        reason: what was wrong.
        data: the first bytes of the frame (at most 256), length prefix included.
        peer (tuple[str, int] | None): the sender's ``(host, port)``, over TCP or UDP alike
            (``None`` outside a server).
        received_at: ``time.time()`` at arrival (seconds), 0.0 outside a server.
    """

    reason: str
    data: bytes
    peer: Any = None
    received_at: float = 0.0

    def __repr__(self) -> str:
        return f"<understudy.BadFrame {self.reason!r} data={self.data[:40]!r}>"


class _BytesFromLatin1:
    """How pickle protocols 0-2 spell ``bytes``: ``_codecs.encode(text, "latin1")``.

    An instance with no attribute to set (``__slots__ = ()``): the unpickler pushes what
    :meth:`_PlainUnpickler.find_class` returns on its stack, and a pickle's ``BUILD`` opcode
    sets attributes on whatever is there, so a function here would let a frame change the
    function (its ``__defaults__``, its ``__dict__``) for every frame after it.
    """

    __slots__ = ()

    def __call__(self, text: object = "", encoding: object = "latin1") -> bytes:
        if type(text) is not str or encoding not in ("latin1", "latin-1"):
            raise pickle.UnpicklingError("_codecs.encode is admitted only as bytes in latin-1")
        return text.encode("latin-1")


class _EmptyBytes:
    """How pickle protocols 0-2 spell ``b""``: ``bytes()`` (nothing to set, as
    :class:`_BytesFromLatin1`)."""

    __slots__ = ()

    def __call__(self, *args: object) -> bytes:
        if args:
            raise pickle.UnpicklingError("bytes() is admitted only without arguments")
        return b""


#: The only globals admitted: the spellings of ``bytes`` in pickle protocols 0-2 (which
#: ``SocketHandler`` uses, protocol 1), each replaced by an object that makes bytes and nothing
#: else, and that no pickle can change.
_BYTES_SPELLINGS: dict[tuple[str, str], Any] = {
    ("_codecs", "encode"): _BytesFromLatin1(),
    ("__builtin__", "bytes"): _EmptyBytes(),
    ("builtins", "bytes"): _EmptyBytes(),
}


class _PlainUnpickler(pickle.Unpickler):
    """An unpickler that admits no global: no class, no function, no extension.

    The one exception is how protocols 0-2 write ``bytes`` (a call of ``_codecs.encode(text,
    "latin1")`` or ``bytes()``), answered by objects that only ever return bytes.
    """

    def find_class(self, module: str, name: str) -> Any:
        admitted = _BYTES_SPELLINGS.get((module, name))
        if admitted is not None:
            return admitted
        raise pickle.UnpicklingError(
            f"the pickle refers to {module}.{name}; only plain data (dict, list, tuple, str, "
            "bytes, int, float, bool, None) is accepted"
        )

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError("the pickle uses a persistent id; only plain data is accepted")


def decode_payload(payload: bytes) -> dict[str, Any] | str:
    """Unpickle a frame's payload into a dict of plain data, or return why it cannot be.

    Returns:
        The dict, or a string giving the reason it was refused.
    """
    stream = io.BytesIO(payload)
    try:
        value = _PlainUnpickler(stream).load()
    except RecursionError:
        return "the pickle nests too deeply"
    except Exception as error:  # noqa: BLE001 - any failure of hostile bytes is a refusal
        return f"not a pickle of plain data: {type(error).__name__}: {error}"
    if stream.tell() != len(payload):
        return f"{len(payload) - stream.tell()} bytes follow the pickle's STOP inside the frame"
    if not isinstance(value, dict):
        return f"the pickle holds a {type(value).__name__}, not the dict of a LogRecord"
    problem = _not_plain(value)
    if problem is not None:
        return problem
    if not all(isinstance(key, str) for key in value):
        return "the pickled dict has keys that are not str, so it is no LogRecord's attributes"
    return value


def _not_plain(value: object) -> str | None:
    """Why ``value`` holds something other than plain data, or None. Safe on shared and cyclic
    structures (each container is visited once)."""
    seen: set[int] = set()
    stack = [value]
    while stack:
        item = stack.pop()
        if type(item) in _PLAIN:
            continue
        if type(item) not in (dict, list, tuple):
            return f"the pickle holds a {type(item).__name__}; only plain data is accepted"
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        else:
            stack.extend(item)  # type: ignore[arg-type]
    return None


def encode_frame(attributes: dict[str, Any]) -> bytes:
    """A frame as ``SocketHandler.makePickle`` writes it: length, then the dict pickled."""
    payload = pickle.dumps(attributes, 1)
    return _LENGTH.pack(len(payload)) + payload


def decode_datagram(datagram: bytes, max_frame_size: int) -> dict[str, Any] | BadFrame:
    """Decode one ``DatagramHandler`` datagram: exactly one frame."""
    if len(datagram) < _LENGTH.size:
        return BadFrame(
            f"datagram of {len(datagram)} bytes is shorter than the 4-byte length prefix",
            datagram[:_KEPT_OF_REFUSED],
        )
    (length,) = _LENGTH.unpack_from(datagram)
    if length > max_frame_size:
        return _too_long(length, max_frame_size, datagram)
    if length != len(datagram) - _LENGTH.size:
        return BadFrame(
            f"the length prefix says {length} bytes but the datagram carries "
            f"{len(datagram) - _LENGTH.size} after it",
            datagram[:_KEPT_OF_REFUSED],
        )
    return _decoded(datagram[_LENGTH.size :], datagram)


def _decoded(payload: bytes, frame: bytes) -> dict[str, Any] | BadFrame:
    result = decode_payload(payload)
    if isinstance(result, str):
        return BadFrame(result, frame[:_KEPT_OF_REFUSED])
    return result


def _too_long(length: int, max_frame_size: int, data: bytes | bytearray) -> BadFrame:
    return BadFrame(
        f"frame of {length} bytes is longer than max_frame_size={max_frame_size}; refused",
        bytes(data[: min(_KEPT_OF_REFUSED, _LENGTH.size + length)]),
    )


class LogFrameDecoder:
    """Decode the byte stream of a ``SocketHandler`` connection, frame by frame.

    A frame longer than ``max_frame_size`` is refused and its declared length skipped, so the
    frames after it are still read; a frame that is not a pickled dict of plain data is refused
    alone.

    Args:
        max_frame_size: bytes of pickle accepted per frame.
    """

    def __init__(self, max_frame_size: int = 1024 * 1024) -> None:
        self.max_frame_size = max_frame_size
        self._buffer = bytearray()
        self._skip = 0

    def feed(self, data: bytes) -> list[dict[str, Any] | BadFrame]:
        """Take the next bytes of the stream; return the frames they complete, in order."""
        buffer = self._buffer
        buffer += data
        out: list[dict[str, Any] | BadFrame] = []
        while True:
            if self._skip:
                dropped = min(self._skip, len(buffer))
                del buffer[:dropped]
                self._skip -= dropped
                if self._skip:
                    return out
            if len(buffer) < _LENGTH.size:
                return out
            (length,) = _LENGTH.unpack_from(buffer)
            if length > self.max_frame_size:
                out.append(_too_long(length, self.max_frame_size, buffer))
                del buffer[: _LENGTH.size]
                self._skip = length
                continue
            end = _LENGTH.size + length
            if len(buffer) < end:
                return out
            frame = bytes(buffer[:end])
            del buffer[:end]
            out.append(_decoded(frame[_LENGTH.size :], frame))

    def close(self) -> list[BadFrame]:
        """The stream ended: a partial frame left over is a :class:`BadFrame`."""
        buffer, self._buffer = bytes(self._buffer), bytearray()
        if not buffer or self._skip:
            return []
        return [
            BadFrame(
                f"the stream ended inside a frame ({len(buffer)} bytes of it received)",
                buffer[:_KEPT_OF_REFUSED],
            )
        ]
