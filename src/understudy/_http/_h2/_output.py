"""What an HTTP/2 connection writes: h2's bytes, gathered per loop turn into one write.

The bytes ``h2`` produces while one loop iteration runs go out in one ``transport.write`` at
its end (as HTTP/1.1's do), with any raw bytes a fault adds after them. The transport's flow
control (``pause_writing``) is kept as a future a stream's ``drain`` waits on.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import h2.connection

__all__ = ["Output"]


class Output(asyncio.Protocol):
    """The writing half of ``H2Connection``: call :meth:`output_made` from ``__init__``."""

    h2: h2.connection.H2Connection
    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport | None

    def output_made(self) -> None:
        self._flush_scheduled = False
        #: The server ended its side (after a graceful GOAWAY): nothing more is written.
        self.eof_sent = False
        self._raw: list[bytes] = []
        #: Unset while the transport's buffer is full (``drain`` waits on it).
        self.writable: asyncio.Future[None] | None = None
        self.write_paused = False

    def pause_writing(self) -> None:
        self.write_paused = True
        if self.writable is None or self.writable.done():
            self.writable = self.loop.create_future()

    def resume_writing(self) -> None:
        self.write_paused = False
        if self.writable is not None and not self.writable.done():
            self.writable.set_result(None)

    def wrote(self) -> None:
        """h2 holds bytes to send: send them (with whatever else comes) at the end of this turn."""
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self.loop.call_soon(self.flush)

    def flush(self) -> None:
        """Write what h2 holds, then the raw bytes, now."""
        self._flush_scheduled = False
        data = self.h2.data_to_send()
        transport = self.transport
        if transport is None or transport.is_closing() or self.eof_sent:
            return
        if data:
            transport.write(data)
        if self._raw:
            raw, self._raw = self._raw, []
            transport.write(b"".join(raw))

    def write(self, data: bytes) -> None:
        """Bytes outside HTTP/2's framing (a fault's), after what h2 has queued."""
        self._raw.append(data)
        self.wrote()

    def forget_output(self) -> None:
        """The transport is gone: wake a stream waiting for room, drop raw bytes."""
        self._raw.clear()
        if self.writable is not None and not self.writable.done():
            self.writable.set_result(None)
