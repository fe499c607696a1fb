"""The buffer the loop's stream protocols read into (asyncio's ``BufferedProtocol``).

A plain ``asyncio.Protocol`` is handed a new ``bytes`` per read, which CPython allocates at
asyncio's read size (256 KiB), so glibc maps it (``mmap``), shrinks it to what was read
(``mremap``) and unmaps it when freed (``munmap``): three system calls per read, dearer than
the read of a small request or frame (until glibc raises its mapping threshold, which a
process does or not depending on what it freed before: a cost that comes and goes). A
buffered protocol reads into this one buffer instead and copies out what it read, at once.
One buffer serves every protocol of the loop: the loop runs one read at a time, and each
protocol copies the bytes out in ``buffer_updated`` before anything else can read into it.
"""

from __future__ import annotations

import asyncio

__all__ = ["READ_SIZE", "BufferedReads"]

#: Bytes read at most at once (asyncio's own read size for a plain protocol).
READ_SIZE = 256 * 1024

_BUFFER: list[memoryview] = []


class BufferedReads(asyncio.BufferedProtocol):
    """A protocol that reads into the loop's one buffer and hands each read's bytes, copied
    out, to :meth:`data_received`, as a plain ``asyncio.Protocol`` is handed them."""

    def get_buffer(self, sizehint: int) -> memoryview:
        if not _BUFFER:  # (made on first use)
            _BUFFER.append(memoryview(bytearray(READ_SIZE)))
        return _BUFFER[0]

    def buffer_updated(self, nbytes: int) -> None:
        self.data_received(bytes(_BUFFER[0][:nbytes]))

    def data_received(self, data: bytes) -> None:
        raise NotImplementedError
