"""HTTP/2 load: ``python -m bench._h2load HOST PORT CONNECTIONS STREAMS SECONDS``.

Prior-knowledge h2c: each connection keeps STREAMS GET requests in flight, opening a new stream
as each ends. Prints one JSON line: the responses completed within SECONDS, the streams reset,
and the process's CPU seconds (so a report can show whether the client was the limit).

The client frames by hand (RFC 9113 §4.1, §6), as nghttp2's C ``h2load`` does what matters
here: one request header block encoded once (HPACK static-table indexes and a literal
``:authority``, no dynamic table: RFC 7541 §6.1, §6.2.2), the responses read frame header by
frame header without decoding their fields, and windows opened once to 1 GiB (SETTINGS and a
WINDOW_UPDATE; opened again when half used), not per response. With the h2 library it cost
a client more CPU per response than the server it measured, and the client's work per round
trip sat in every stream's latency, which squeezed every server's figure toward the client's.
"""

from __future__ import annotations

import asyncio
import json
import struct
import sys
import time

__all__ = ["main"]

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#: A frame header (RFC 9113 §4.1): the 24-bit length as its high byte and low 16 bits, type,
#: flags, stream id.
_FRAME = struct.Struct(">BHBBL")
_DATA, _HEADERS, _RST_STREAM, _SETTINGS, _PING, _GOAWAY = 0x0, 0x1, 0x3, 0x4, 0x6, 0x7
_END_STREAM, _ACK, _END_HEADERS = 0x1, 0x1, 0x4
#: The receive windows, the connection's and every stream's (RFC 9113 §6.9.2).
WINDOW = 2**30


def frame(kind: int, flags: int, stream_id: int, payload: bytes = b"") -> bytes:
    """One frame: its 9-byte header, then ``payload``."""
    size = len(payload)
    return _FRAME.pack(size >> 16, size & 0xFFFF, kind, flags, stream_id) + payload


def request_block(authority: bytes) -> bytes:
    """``GET / http`` (static table 2, 4, 6) and ``:authority`` (a literal without indexing,
    name index 1), RFC 7541 Appendix A and §6.2.2."""
    return b"\x82\x84\x86\x01" + bytes([len(authority)]) + authority


def opening() -> bytes:
    """The preface, SETTINGS (INITIAL_WINDOW_SIZE, ENABLE_PUSH 0) and the connection's
    WINDOW_UPDATE to :data:`WINDOW`."""
    settings = struct.pack(">HLHL", 0x4, WINDOW, 0x2, 0)
    update = struct.pack(">L", WINDOW - 65535)
    return PREFACE + frame(_SETTINGS, 0, 0, settings) + frame(0x8, 0, 0, update)


class _Counts:
    def __init__(self) -> None:
        self.responses = 0
        self.resets = 0


async def _connection(host: str, port: int, streams: int, deadline: float, counts: _Counts) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    block = request_block(f"{host}:{port}".encode())
    head = _FRAME.pack(0, len(block), _HEADERS, _END_STREAM | _END_HEADERS, 0)[:5]
    next_id = 1
    out = [opening()]
    for _ in range(streams):
        out += (head, next_id.to_bytes(4), block)
        next_id += 2
    writer.write(b"".join(out))
    loop = asyncio.get_running_loop()
    buffer = b""
    used = 0  # (DATA bytes since the connection's window was last opened)
    try:
        while loop.time() < deadline:
            data = await reader.read(65536)
            if not data:
                break
            buffer += data
            out = []
            at, size = 0, len(buffer)
            while size - at >= 9:
                length = int.from_bytes(buffer[at : at + 3])
                end = at + 9 + length
                if end > size:
                    break
                kind, flags = buffer[at + 3], buffer[at + 4]
                if kind == _DATA:
                    used += length
                if kind <= _HEADERS and flags & _END_STREAM:
                    counts.responses += 1
                    if loop.time() < deadline:
                        out += (head, next_id.to_bytes(4), block)
                        next_id += 2
                elif kind == _RST_STREAM:
                    counts.resets += 1
                elif kind == _SETTINGS and not flags & _ACK:
                    out.append(frame(_SETTINGS, _ACK, 0))
                elif kind == _PING and not flags & _ACK:
                    out.append(frame(_PING, _ACK, 0, buffer[at + 9 : end]))
                elif kind == _GOAWAY:
                    return
                at = end
            buffer = buffer[at:]
            if used > WINDOW // 2:
                out.append(frame(0x8, 0, 0, struct.pack(">L", used)))
                used = 0
            if out:
                writer.write(b"".join(out))
    finally:
        writer.close()


async def _run(host: str, port: int, connections: int, streams: int, seconds: float) -> _Counts:
    deadline = asyncio.get_running_loop().time() + seconds
    counts = _Counts()
    await asyncio.gather(
        *(_connection(host, port, streams, deadline, counts) for _ in range(connections)),
        return_exceptions=True,
    )
    return counts


def main(argv: list[str]) -> int:
    host, port, connections, streams, seconds = argv
    cpu = time.process_time()
    counts = asyncio.run(_run(host, int(port), int(connections), int(streams), float(seconds)))
    used = time.process_time() - cpu
    print(json.dumps({"responses": counts.responses, "resets": counts.resets, "cpu": used}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
