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

__all__ = ["READ_SIZE", "read_buffer", "take"]

#: Bytes read at most at once (asyncio's own read size for a plain protocol).
READ_SIZE = 256 * 1024

_BUFFER: list[memoryview] = []


def read_buffer() -> memoryview:
    """The buffer (made on first use), for ``BufferedProtocol.get_buffer``."""
    if not _BUFFER:
        _BUFFER.append(memoryview(bytearray(READ_SIZE)))
    return _BUFFER[0]


def take(nbytes: int) -> bytes:
    """The ``nbytes`` just read into the buffer, copied out (for ``buffer_updated``)."""
    return bytes(_BUFFER[0][:nbytes])
