"""One shaped connection: a protocol between the real transport and the server's protocol.

:class:`ShapedProtocol` takes the bytes each way into a :class:`~._pipe.Pipe` and hands them on
when they are due: delayed, paced, limited, reset or closed slowly as the
:class:`~._options.Conditions` say. The server's protocol writes to a :class:`_ShapedTransport`
in place of the real one.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from typing import Any

from .._core.conditions import Budget, chosen
from .._resets import linger_zero
from ._options import NO_DIRECTION, Conditions
from ._pipe import CLOSE, EOF, HIGH_WATER, LOW_WATER, RESET, SLOW_CLOSE, Pipe

__all__ = ["ShapedProtocol"]


class ShapedProtocol(asyncio.Protocol):
    """Between the real transport and a server's protocol: delays, paces, limits and resets.

    The server's protocol gets a :class:`_ShapedTransport` instead of the real one.
    """

    def __init__(
        self,
        connections: dict[ShapedProtocol, None],
        inner: Any,
        conditions: Conditions,
        rng: random.Random,
    ) -> None:
        #: The shaper's open shaped connections, which this joins while open.
        self._connections = connections
        self._inner = inner
        self._loop = asyncio.get_running_loop()
        self._rng = rng
        self._real: asyncio.Transport | None = None
        self._transport = _ShapedTransport(self)
        self._made = False  # inner.connection_made called
        self._lost = False  # inner.connection_lost called
        self._closing = False  # the server's protocol closed its transport
        self._reading_paused = False  # by the server's protocol
        self._real_reading_paused = False
        self._real_writing_paused = False
        self._inner_writing_paused = False
        self._slow_close: asyncio.TimerHandle | None = None
        self._reset_timer: asyncio.TimerHandle | None = None
        self._conditions = conditions
        self._active = chosen(rng, conditions.probability)  # (now: see `unserved`)
        self._up = Pipe(NO_DIRECTION, self._rng)
        self._down = Pipe(NO_DIRECTION, self._rng)
        self._reset_budget = Budget(None)

    # -- conditions ----------------------------------------------------------------------------

    def update(self, conditions: Conditions | None) -> None:
        """Apply new conditions from now on (bytes already queued keep their times)."""
        self._conditions = conditions = Conditions() if conditions is None else conditions
        self._active = chosen(self._rng, conditions.probability)
        self._apply()

    @property
    def unserved(self) -> bool:
        """Never read or reset at once: the factory gives it no TLS handshake either."""
        given = self._conditions
        return self._active and (given.accept_but_never_read or given.reset_after == 0)

    def _apply(self) -> None:
        effective = self._conditions if self._active else Conditions()
        self._up.reconfigure(effective.up, self._rng)
        self._down.reconfigure(effective.down, self._rng)
        self._reset_budget = Budget(effective.reset_after_bytes)
        if self._reset_timer is not None:
            self._reset_timer.cancel()
            self._reset_timer = None
        if self._real is not None and effective.reset_after is not None:
            self._reset_timer = self._loop.call_later(effective.reset_after, self._reset)

    # -- from the real transport --------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._real = transport
        self._connections[self] = None
        self._apply()
        if self.unserved:  # the server never hears of it
            if self._conditions.reset_after == 0:
                self._reset()  # before a byte is read
            else:
                transport.pause_reading()  # never read; stop() aborts it
            return
        self._made = True
        self._inner.connection_made(self._transport)

    def data_received(self, data: bytes) -> None:
        if not self._made:
            return
        self._push(self._up, data, self._deliver_up)

    def eof_received(self) -> bool:
        # Keep the transport open: queued bytes still go both ways. (Not over TLS, which cannot
        # stay half-open: asyncio closes it anyway, and logs a warning if asked to keep it.)
        stays_open = self._real is None or self._real.get_extra_info("sslcontext") is None
        if self._made:
            self._push_marker(self._up, EOF, self._deliver_up)
        return stays_open

    def connection_lost(self, exc: Exception | None) -> None:
        self._connections.pop(self, None)
        self._cancel_all()
        if self._made and not self._lost:
            self._lost = True
            self._inner.connection_lost(exc)
        # Let go of the server's protocol (it and its transport refer to each other): a stopped
        # server the test drops is then freed at once, not when the cyclic GC comes round.
        self._inner = None

    def pause_writing(self) -> None:
        self._real_writing_paused = True
        self._update_inner_flow()

    def resume_writing(self) -> None:
        self._real_writing_paused = False
        self._pump(self._down, self._deliver_down)
        self._update_inner_flow()

    # -- the queues ------------------------------------------------------------------------------

    def _push(self, pipe: Pipe, data: bytes, deliver: Callable[[bytes | str], None]) -> None:
        allowed = self._reset_budget.take(len(data))
        reset = allowed < len(data) or (
            self._reset_budget.exhausted and self._reset_budget.limit is not None
        )
        data = data[:allowed]
        if pipe.passthrough and not reset and self._can_deliver(pipe):
            deliver(data)
            return
        taken = pipe.budget.take(len(data))
        limited = pipe.budget.exhausted and pipe.budget.limit is not None
        data = data[:taken]
        now = self._loop.time()
        offset = 0
        if data:
            for at, size in pipe.schedule.plan(now, len(data)):
                pipe.queue.append((at, data[offset : offset + size]))
                offset += size
            pipe.queued += len(data)
        if reset:
            self._push_marker(pipe, RESET, deliver)
        elif limited:
            self._push_marker(pipe, CLOSE, deliver)
        self._pump(pipe, deliver)
        self._update_flow()

    def _push_marker(self, pipe: Pipe, marker: str, deliver: Callable[[bytes | str], None]) -> None:
        if pipe.queue or not pipe.schedule.idle or not self._can_deliver(pipe):
            pipe.queue.append((max(pipe.schedule.last, self._loop.time()), marker))
            self._pump(pipe, deliver)
        else:
            deliver(marker)

    def _can_deliver(self, pipe: Pipe) -> bool:
        if pipe is self._up:
            return not self._reading_paused
        return not self._real_writing_paused

    def _pump(self, pipe: Pipe, deliver: Callable[[bytes | str], None]) -> None:
        """Deliver what is due; set a timer for what is not."""
        if pipe.timer is not None:
            pipe.timer.cancel()
            pipe.timer = None
        now = self._loop.time()
        while pipe.queue and self._can_deliver(pipe):
            at, item = pipe.queue[0]
            if at > now:
                pipe.timer = self._loop.call_at(at, self._pump, pipe, deliver)
                break
            pipe.queue.popleft()
            if isinstance(item, bytes):
                pipe.queued -= len(item)
            deliver(item)
            if self._real is None or self._lost:
                return
        self._update_flow()

    def _deliver_up(self, item: bytes | str) -> None:
        if self._inner is None:
            return  # (lost)
        if isinstance(item, bytes):
            if item:
                _feed(self._inner, item)
        elif item == EOF:
            if not self._inner.eof_received():
                self._transport.close()
        elif item == CLOSE:
            self._close_now()
        else:
            self._reset()

    def _deliver_down(self, item: bytes | str) -> None:
        real = self._real
        if real is None or real.is_closing():
            return
        if isinstance(item, bytes):
            if item:
                real.write(item)
        elif item == EOF:
            if real.can_write_eof():
                real.write_eof()
        elif item == CLOSE:
            self._close_now()
        elif item == SLOW_CLOSE:
            delay = self._conditions.slow_close if self._active else 0.0
            if delay:
                self._slow_close = self._loop.call_later(delay, self._close_now)
            else:
                self._close_now()
        else:
            self._reset()

    def _update_flow(self) -> None:
        real = self._real
        if real is None or real.is_closing():
            return
        want_paused = self._reading_paused or self._up.queued > HIGH_WATER
        if want_paused and not self._real_reading_paused:
            self._real_reading_paused = True
            real.pause_reading()
        elif (
            not want_paused
            and self._real_reading_paused
            and self._up.queued <= LOW_WATER
            and not self._never_reads
        ):
            self._real_reading_paused = False
            real.resume_reading()
        self._update_inner_flow()

    @property
    def _never_reads(self) -> bool:
        return not self._made

    def _update_inner_flow(self) -> None:
        if not self._made or self._lost:
            return
        queued = self._down.queued
        if not self._inner_writing_paused and (self._real_writing_paused or queued > HIGH_WATER):
            self._inner_writing_paused = True
            self._inner.pause_writing()
        elif self._inner_writing_paused and not self._real_writing_paused and queued <= LOW_WATER:
            self._inner_writing_paused = False
            self._inner.resume_writing()

    # -- closing -------------------------------------------------------------------------------

    def _close_now(self) -> None:
        """Close the real transport after what it buffered (limit reached, slow close over)."""
        self._cancel_all()
        if self._real is not None:
            self._real.close()

    def _reset(self) -> None:
        """Reset the connection: RST instead of FIN, what is buffered dropped."""
        real = self._real
        self._cancel_all()
        if real is None or real.is_closing():
            return
        linger_zero(real)
        real.abort()

    def _cancel_all(self) -> None:
        self._up.cancel()
        self._down.cancel()
        for timer in (self._slow_close, self._reset_timer):
            if timer is not None:
                timer.cancel()
        self._slow_close = self._reset_timer = None

    def abort(self) -> None:
        """Drop everything queued and abort the connection (used by ``stop()`` and ``abort()``)."""
        self._cancel_all()
        if self._real is not None:
            self._real.abort()

    # -- what the server's protocol calls (through _ShapedTransport) -------------------------

    def write(self, data: bytes) -> None:
        if self._closing or not data:
            return
        self._push(self._down, bytes(data), self._deliver_down)

    def write_eof(self) -> None:
        self._push_marker(self._down, EOF, self._deliver_down)

    def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        self._push_marker(self._down, SLOW_CLOSE, self._deliver_down)

    def pause_reading(self) -> None:
        self._reading_paused = True
        self._update_flow()

    def resume_reading(self) -> None:
        self._reading_paused = False
        self._pump(self._up, self._deliver_up)
        self._update_flow()

    def is_closing(self) -> bool:
        return self._closing or self._real is None or self._real.is_closing()

    def write_buffer_size(self) -> int:
        real = self._real.get_write_buffer_size() if self._real is not None else 0
        return self._down.queued + real


def _feed(protocol: Any, data: bytes) -> None:
    """Hand ``data`` to a protocol, buffered or not (a STARTTLS upgrade puts asyncio's
    ``SSLProtocol``, a ``BufferedProtocol``, behind a shaped transport)."""
    if not isinstance(protocol, asyncio.BufferedProtocol):
        protocol.data_received(data)
        return
    view = memoryview(data)
    while view:
        buffer = memoryview(protocol.get_buffer(len(view)))
        size = min(len(buffer), len(view))
        buffer[:size] = view[:size]
        protocol.buffer_updated(size)
        view = view[size:]


class _ShapedTransport(asyncio.Transport):
    """The transport a server's protocol writes to when its connection is shaped."""

    def __init__(self, shaped: ShapedProtocol) -> None:
        super().__init__()
        self._shaped = shaped

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        real = self._shaped._real
        return real.get_extra_info(name, default) if real is not None else default

    def is_closing(self) -> bool:
        return self._shaped.is_closing()

    def close(self) -> None:
        self._shaped.close()

    def abort(self) -> None:
        self._shaped.abort()

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._shaped._inner = protocol

    def get_protocol(self) -> asyncio.BaseProtocol:
        protocol: asyncio.BaseProtocol = self._shaped._inner
        return protocol

    def is_reading(self) -> bool:
        return not self._shaped._reading_paused

    def pause_reading(self) -> None:
        self._shaped.pause_reading()

    def resume_reading(self) -> None:
        self._shaped.resume_reading()

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self._shaped.write(bytes(data))

    def writelines(self, list_of_data: Any) -> None:
        self._shaped.write(b"".join(list_of_data))

    def write_eof(self) -> None:
        self._shaped.write_eof()

    def can_write_eof(self) -> bool:
        real = self._shaped._real
        return real is not None and real.can_write_eof()

    def get_write_buffer_size(self) -> int:
        return self._shaped.write_buffer_size()

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return (LOW_WATER, HIGH_WATER)

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass  # the shaped queue has its own limits; the real transport keeps its own
