"""LogRecordServer: receives what logging's SocketHandler and DatagramHandler send."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import socket
import time
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Literal, get_args

from ._conditions import Conditions
from ._core.logframes import BadFrame, LogFrameDecoder, decode_datagram
from ._errors import ConfigurationError
from ._journal import Journal
from ._sockets import DatagramReceiver, SocketServer

__all__ = ["BadFrame", "LogRecordServer", "LogRecordTransport"]

LogRecordTransport = Literal["tcp", "udp"]
_DEFAULT_MAX_FRAME_SIZE = 1024 * 1024


class LogRecordServer(SocketServer):
    """A receiver for Python's ``SocketHandler`` (TCP) and ``DatagramHandler`` (UDP).

    Each frame (a 4-byte big-endian length, then a pickled dict of a record's attributes) is
    unpickled with an unpickler that admits plain data only (dict, list, tuple, str, bytes,
    int, float, bool, None: no class, no function, so no code runs) and rebuilt into a
    ``logging.LogRecord`` with ``logging.makeLogRecord``. A frame that holds anything else, or
    is not a pickle, or is too long, is a :class:`BadFrame` in :attr:`bad_frames` with the
    reason; the connection goes on with the next frame.

    Args:
        transport: ``"tcp"`` (the default, for ``SocketHandler``) or ``"udp"`` (for
            ``DatagramHandler``).
        host: address to listen on: ``"127.0.0.1"`` by default.
        port: port to listen on; 0 (the default) lets the kernel choose.
        max_frame_size: bytes of pickle accepted per frame (1 MiB by default); a longer frame is
            refused and skipped.
        journal_size: keep only the last N records (and N bad frames); ``None``: all.
        conditions: network conditions on every connection (:class:`understudy.Conditions`);
            stream transports only.
        seed: seeds the server's random choices (see :class:`understudy.Server`).

    Raises:
        ConfigurationError: an unknown transport or a bad size.
    """

    kind: ClassVar[str] = "log record server"

    def __init__(
        self,
        *,
        transport: LogRecordTransport = "tcp",
        host: str = "127.0.0.1",
        port: int = 0,
        max_frame_size: int = _DEFAULT_MAX_FRAME_SIZE,
        journal_size: int | None = None,
        conditions: Conditions | None = None,
        seed: int | None = None,
    ) -> None:
        if transport not in get_args(LogRecordTransport):
            raise ConfigurationError(
                f"transport must be 'tcp' (SocketHandler) or 'udp' (DatagramHandler), not "
                f"{transport!r}"
            )
        if (
            not isinstance(max_frame_size, int)
            or isinstance(max_frame_size, bool)
            or max_frame_size < 1
        ):
            raise ConfigurationError(
                f"max_frame_size must be a positive int (bytes), not {max_frame_size!r}"
            )
        super().__init__(
            host=host,
            port=port,
            socket_kind=socket.SOCK_STREAM if transport == "tcp" else socket.SOCK_DGRAM,
            conditions=conditions,
            seed=seed,
        )
        self.transport: LogRecordTransport = transport
        self.max_frame_size = max_frame_size
        self._journal: Journal[logging.LogRecord] = Journal("log record", journal_size)
        self._bad: Journal[BadFrame] = Journal("bad frame", journal_size)
        self._journal.belongs_to(self)
        self._bad.belongs_to(self)

    # -- what the test reads -----------------------------------------------------------------

    @property
    def records(self) -> list[logging.LogRecord]:
        """The records received so far (a snapshot list, oldest first)."""
        return self._journal.snapshot()

    @property
    def bad_frames(self) -> list[BadFrame]:
        """The frames refused so far, each with its reason (a snapshot list, oldest first)."""
        return self._bad.snapshot()

    def wait_for_records(
        self,
        count: int = 1,
        *,
        match: Callable[[logging.LogRecord], bool] | None = None,
        timeout: float = 5.0,
    ) -> list[logging.LogRecord]:
        """Block until ``count`` records (satisfying ``match``, if given) have been received.

        Args:
            count: how many to wait for.
            match: a predicate on ``logging.LogRecord``; e.g.
                ``lambda r: r.levelno >= logging.ERROR``.
            timeout: seconds to wait.

        Returns:
            The first ``count`` such records, oldest first. Their ``msg`` is the formatted
            message and ``args`` is ``None``, as ``SocketHandler`` sends them.

        Raises:
            WaitTimeout: after ``timeout`` seconds; the message lists what did arrive.
        """
        __tracebackhide__ = True
        return self._journal.wait_for(count, match=match, timeout=timeout)

    async def wait_for_records_async(
        self,
        count: int = 1,
        *,
        match: Callable[[logging.LogRecord], bool] | None = None,
        timeout: float = 5.0,
    ) -> list[logging.LogRecord]:
        """The awaitable twin of :meth:`wait_for_records`."""
        __tracebackhide__ = True
        return await self._journal.wait_for_async(count, match=match, timeout=timeout)

    def wait_for_bad_frames(
        self,
        count: int = 1,
        *,
        match: Callable[[BadFrame], bool] | None = None,
        timeout: float = 5.0,
    ) -> list[BadFrame]:
        """Block until ``count`` frames have been refused; return them (see :class:`BadFrame`).

        Raises:
            WaitTimeout: after ``timeout`` seconds.
        """
        __tracebackhide__ = True
        return self._bad.wait_for(count, match=match, timeout=timeout)

    async def wait_for_bad_frames_async(
        self,
        count: int = 1,
        *,
        match: Callable[[BadFrame], bool] | None = None,
        timeout: float = 5.0,
    ) -> list[BadFrame]:
        """The awaitable twin of :meth:`wait_for_bad_frames`."""
        __tracebackhide__ = True
        return await self._bad.wait_for_async(count, match=match, timeout=timeout)

    def clear(self) -> None:
        """Forget the records and bad frames received so far."""
        self._journal.clear()
        self._bad.clear()

    # -- on the loop -------------------------------------------------------------------------

    def _stream_protocol(self) -> asyncio.BaseProtocol:
        return self._decoding_protocol(LogFrameDecoder(self.max_frame_size), self._frames)

    def _datagram_protocol(self) -> asyncio.DatagramProtocol:
        return DatagramReceiver(self._datagram)

    def _frames(self, frames: Sequence[dict[str, Any] | BadFrame], peer: Any) -> None:
        now = time.time()
        for frame in frames:
            if isinstance(frame, BadFrame):
                self._bad.append(dataclasses.replace(frame, peer=peer, received_at=now))
            else:
                self._journal.append(logging.makeLogRecord(frame))

    def _datagram(self, transport: asyncio.DatagramTransport, data: bytes, peer: Any) -> None:
        self._frames([decode_datagram(data, self.max_frame_size)], peer)

    def _describe_address(self) -> str:
        return f"{self.transport} {super()._describe_address()}"
