"""Network conditions for any stream server: latency, bandwidth, limits, resets, refusal.

:class:`Conditions` is what a user writes. The :class:`Shaper` of a server applies it: the
``Server`` base wraps every protocol a subclass serves in a :class:`_ShapedProtocol`, which sits
between the real transport and the server's own protocol, holds bytes each way in a queue and
hands them on at the times a :class:`~understudy._core.conditions.Schedule` plans. So every
stream server (HTTP, SMTP, TCP, Unix, syslog and log records over TCP, the proxy) gets
conditions without code of its own. Refusing closes the listening sockets and binds them again
on the same address when refusal ends.

Terms follow Toxiproxy: *upstream* is the client's bytes towards the server, *downstream* the
server's bytes towards the client.
"""

from __future__ import annotations

import asyncio
import collections
import errno
import math
import os
import random
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from ._core.conditions import Budget, Schedule, chosen
from ._errors import ConfigurationError

if TYPE_CHECKING:
    from ._server import Server

__all__ = ["Conditions", "Direction", "Shaper"]

#: Queued bytes above which the side that produces them is paused (and below which resumed).
_HIGH_WATER: Final = 64 * 1024
_LOW_WATER: Final = 16 * 1024

# Markers in a direction's queue, delivered after the bytes queued before them.
_EOF: Final = "eof"
_CLOSE: Final = "close"
_RESET: Final = "reset"
_SLOW_CLOSE: Final = "slow close"


def _seconds(name: str, value: object, *, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if (
        not isinstance(value, int | float)
        or isinstance(value, bool)
        or not math.isfinite(value)
        or value < 0
    ):
        extra = " or None" if allow_none else ""
        raise ConfigurationError(
            f"{name} must be a number of seconds >= 0 (float){extra}, not {value!r}"
        )


def _positive(name: str, value: object, unit: str, *, zero: bool = False) -> None:
    if value is None:
        return
    low = 0 if zero else 1
    if (
        not isinstance(value, int | float)
        or isinstance(value, bool)
        or not math.isfinite(value)
        or value < low
    ):
        raise ConfigurationError(
            f"{name} must be a number of {unit} >= {low}, or None (no limit), not {value!r}"
        )


@dataclass(frozen=True, slots=True)
class Direction:
    """Conditions on the bytes going one way (see :class:`Conditions`).

    Args:
        latency: one-way delay added to each chunk of bytes (seconds, float). Default 0.
        jitter: each chunk's delay varies uniformly by up to this much either way (seconds);
            bytes still arrive in order. Default 0.
        bandwidth: at most this many bytes per second (sent in slices of 20 ms worth), or
            ``None`` (the default) for no limit.
        limit_data: close the connection once this many bytes have gone this way (``None``:
            no limit). The bytes up to the limit are delivered, then the connection closes
            (FIN; Toxiproxy's ``limit_data``).

    Raises:
        ConfigurationError: a negative or non-finite number.

    .. versionadded:: 0.1
    """

    latency: float = 0.0
    jitter: float = 0.0
    bandwidth: float | None = None
    limit_data: int | None = None

    def __post_init__(self) -> None:
        _seconds("latency", self.latency)
        _seconds("jitter", self.jitter)
        _positive("bandwidth", self.bandwidth, "bytes per second")
        _positive("limit_data", self.limit_data, "bytes", zero=True)
        if self.limit_data is not None and not isinstance(self.limit_data, int):
            raise ConfigurationError(f"limit_data must be an int of bytes, not {self.limit_data!r}")

    @property
    def idle(self) -> bool:
        """Whether this direction is left as it is."""
        return (
            self.latency == 0
            and self.jitter == 0
            and self.bandwidth is None
            and self.limit_data is None
        )


_NO_DIRECTION: Final = Direction()


@dataclass(frozen=True, slots=True)
class Conditions:
    """How a server's connections (or a :class:`Proxy`'s) behave on the wire.

    Give it as ``conditions=`` to any stream server, or to a running one with
    ``server.set_conditions(...)``. ``latency``, ``jitter``, ``bandwidth`` and ``limit_data``
    apply to each direction alike (so a request-reply round trip takes ``2 * latency``); for
    different values each way, give ``upstream=`` (client to server) and/or ``downstream=``
    (server to client) :class:`Direction` instead.

    Args:
        latency: one-way delay per chunk, each direction (seconds, float). Default 0.
        jitter: the delay varies uniformly by up to this much either way (seconds).
        bandwidth: bytes per second, each direction; ``None`` (default): no limit.
        limit_data: close once this many bytes have gone one way (``None``: no limit).
        upstream: conditions on the client's bytes towards the server.
        downstream: conditions on the server's bytes towards the client.
        slow_close: when the server closes a connection, wait this long before the close
            reaches the client (seconds; Toxiproxy's ``slow_close``).
        reset_after: reset the connection (RST, via ``SO_LINGER`` 0) this many seconds after it
            is accepted; ``0.0`` resets at once. ``None`` (default): never.
        reset_after_bytes: reset once this many bytes have passed, both directions counted
            together; ``None`` (default): never.
        refuse: refuse new connections: the listening socket is closed (clients get
            ``ConnectionRefusedError``) and bound again on the same port when conditions
            without ``refuse`` are set. Connections already open go on. ``probability`` does
            not apply (a closed socket refuses everyone).
        accept_but_never_read: accept connections (the client's ``connect`` succeeds) but never
            read from them or answer: the server sees nothing, the client's reads time out.
        probability: the chance (0.0 to 1.0) that the conditions apply to a connection, drawn
            once per connection when it is accepted (and again when conditions change) from the
            server's seeded ``random``. Default 1.0.

    Raises:
        ConfigurationError: a value out of range, or ``latency``/``jitter``/``bandwidth``/
            ``limit_data`` given together with ``upstream=``/``downstream=``.

    .. versionadded:: 0.1
    """

    latency: float = 0.0
    jitter: float = 0.0
    bandwidth: float | None = None
    limit_data: int | None = None
    upstream: Direction | None = None
    downstream: Direction | None = None
    slow_close: float = 0.0
    reset_after: float | None = None
    reset_after_bytes: int | None = None
    refuse: bool = False
    accept_but_never_read: bool = False
    probability: float = 1.0
    _both: Direction = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        both = Direction(
            latency=self.latency,
            jitter=self.jitter,
            bandwidth=self.bandwidth,
            limit_data=self.limit_data,
        )
        for name in ("upstream", "downstream"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, Direction):
                raise ConfigurationError(
                    f"{name}= takes understudy.Direction(latency=..., bandwidth=...), not "
                    f"{type(value).__name__}"
                )
        if (self.upstream is not None or self.downstream is not None) and not both.idle:
            raise ConfigurationError(
                "give latency=/jitter=/bandwidth=/limit_data= for both directions, or "
                "upstream=Direction(...) / downstream=Direction(...) for each, not both"
            )
        object.__setattr__(self, "_both", both)
        _seconds("slow_close", self.slow_close)
        _seconds("reset_after", self.reset_after, allow_none=True)
        _positive("reset_after_bytes", self.reset_after_bytes, "bytes", zero=True)
        if self.reset_after_bytes is not None and not isinstance(self.reset_after_bytes, int):
            raise ConfigurationError(
                f"reset_after_bytes must be an int of bytes, not {self.reset_after_bytes!r}"
            )
        if (
            not isinstance(self.probability, int | float)
            or isinstance(self.probability, bool)
            or not 0.0 <= self.probability <= 1.0
        ):
            raise ConfigurationError(
                f"probability must be a number from 0.0 to 1.0, not {self.probability!r}"
            )
        if self.refuse and self.accept_but_never_read:
            raise ConfigurationError(
                "refuse=True and accept_but_never_read=True exclude each other: a refused "
                "connection is never accepted; choose one"
            )

    @property
    def up(self) -> Direction:
        """The conditions on upstream bytes (client to server), as resolved."""
        if self.upstream is not None:
            return self.upstream
        return self._both if self.downstream is None else _NO_DIRECTION

    @property
    def down(self) -> Direction:
        """The conditions on downstream bytes (server to client), as resolved."""
        if self.downstream is not None:
            return self.downstream
        return self._both if self.upstream is None else _NO_DIRECTION


def check_conditions(conditions: object) -> Conditions | None:
    """``conditions=`` as given to a server, checked."""
    if conditions is None or isinstance(conditions, Conditions):
        return conditions
    raise ConfigurationError(
        "conditions= takes understudy.Conditions(latency=..., bandwidth=..., ...) or None, "
        f"not {type(conditions).__name__}"
    )


def check_seed(seed: object) -> int | None:
    """``seed=`` as given to a server, checked."""
    if seed is None or (isinstance(seed, int) and not isinstance(seed, bool)):
        return seed
    raise ConfigurationError(f"seed must be an int (or None: a fresh seed), not {seed!r}")


# -- the shell: one per server ------------------------------------------------------------------

_Listener = tuple[asyncio.AbstractServer, Callable[[], Any], socket.socket, dict[str, Any]]


class Shaper:
    """Applies a server's :class:`Conditions` to its listeners and connections, on the loop."""

    __slots__ = (
        "_closed",
        "_listeners",
        "_refusing",
        "_reopened",
        "conditions",
        "connections",
        "server",
    )

    def __init__(self, server: Server, conditions: Conditions | None) -> None:
        self.server = server
        self.conditions = conditions
        #: Connections wrapped so far and still open (a dict: smaller than a set when empty).
        self.connections: dict[_ShapedProtocol, None] = {}
        #: (listener, protocol factory, socket family, address) per listening socket served.
        #: (listener, protocol factory, listening socket, create_server options) per socket.
        self._listeners: list[_Listener] = []
        #: While refusing: (protocol factory, family, address, options) of each listener closed.
        self._closed: list[tuple[Callable[[], Any], int, Any, dict[str, Any]]] = []
        self._refusing = False
        self._reopened = False

    def factory(self, make: Callable[[], Any]) -> Callable[[], Any]:
        """Wrap a protocol factory: each connection accepted while conditions are set is shaped."""

        return _Factory(self, make)

    async def listen(
        self, make: Callable[[], Any], sock: socket.socket, options: dict[str, Any]
    ) -> asyncio.AbstractServer:
        loop = asyncio.get_running_loop()
        listener = await loop.create_server(self.factory(make), sock=sock, **options)
        self._listeners.append((listener, make, sock, options))
        if self.conditions is not None and self.conditions.refuse:
            await self._refuse()
        return listener

    async def set(self, conditions: Conditions | None) -> None:
        """On the loop: apply ``conditions`` to new connections, open shaped ones and listeners."""
        self.conditions = conditions
        for connection in list(self.connections):
            connection.update(conditions)
        if conditions is not None and conditions.refuse:
            await self._refuse()
        elif self._refusing:
            await self._reopen()

    async def _refuse(self) -> None:
        if self._refusing:
            return
        self._refusing = True
        # As in the HTTP server's close_listeners: stop accepting first, and let connections
        # already accepted get their protocol, before closing (else they are lost, half-made).
        loop = asyncio.get_running_loop()
        self._closed = [
            (make, sock.family, sock.getsockname(), options)
            for _, make, sock, options in self._listeners
        ]
        for listener, _, _, _ in self._listeners:
            if isinstance(listener, asyncio.Server):
                for sock in listener.sockets:
                    loop.remove_reader(sock.fileno())
        await asyncio.sleep(0)
        for listener, _, _, _ in self._listeners:
            listener.close()  # closes the listening socket: the kernel refuses connections

    async def _reopen(self) -> None:
        self._refusing = False
        self._reopened = True
        loop = asyncio.get_running_loop()
        closed, self._closed = self._closed, []
        self._listeners = []
        for make, family, address, options in closed:
            sock = _bind_again(family, address)
            self.server._sockets.append(sock)
            listener = await loop.create_server(self.factory(make), sock=sock, **options)
            self._listeners.append((listener, make, sock, options))

    def stop(self) -> None:
        """On the loop, before the server's own shutdown: close listeners bound again, and abort
        every shaped connection, so a throttled transfer or a delayed delivery ends at once."""
        if self._reopened or self._refusing:
            # Listeners the server's own shutdown does not know of (bound again after a refusal).
            for listener, _, _, _ in self._listeners:
                listener.close()
        self._listeners = []
        self._closed = []
        self._refusing = self._reopened = False
        for connection in list(self.connections):
            connection.abort()


class _Factory:
    """A protocol factory that shapes each connection while conditions are set (a slotted
    object: it lives as long as the listener, so it is kept smaller than a closure)."""

    __slots__ = ("make", "shaper")

    def __init__(self, shaper: Shaper, make: Callable[[], Any]) -> None:
        self.shaper = shaper
        self.make = make

    def __call__(self) -> Any:
        protocol = self.make()
        conditions = self.shaper.conditions
        if conditions is None:
            return protocol  # nothing to apply: the server's own protocol, at full speed
        return _ShapedProtocol(self.shaper, protocol, conditions)


def _bind_again(family: int, address: Any) -> socket.socket:
    if family == socket.AF_UNIX:
        try:
            os.unlink(address)
        except FileNotFoundError:
            pass
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    else:
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    try:
        sock.bind(address)
        sock.listen(4096)
        sock.setblocking(False)
    except OSError as error:
        sock.close()
        if error.errno == errno.EADDRINUSE:
            raise OSError(
                errno.EADDRINUSE,
                f"cannot listen again on {address!r} after refusing connections: another "
                "socket took the address meanwhile",
            ) from None
        raise
    return sock


# -- one shaped connection --------------------------------------------------------------------


class _Pipe:
    """One direction of a shaped connection: its schedule, limit and queue."""

    __slots__ = ("budget", "queue", "queued", "schedule", "timer")

    def __init__(self, direction: Direction, rng: random.Random) -> None:
        self.queue: collections.deque[tuple[float, bytes | str]] = collections.deque()
        self.queued = 0
        self.timer: asyncio.TimerHandle | None = None
        self.schedule = Schedule(rng=rng)
        self.budget = Budget(None)
        self.reconfigure(direction, rng)

    def reconfigure(self, direction: Direction, rng: random.Random) -> None:
        """New conditions from now on; what is queued keeps its times, and order holds."""
        self.schedule = Schedule(
            latency=direction.latency,
            jitter=direction.jitter,
            bandwidth=direction.bandwidth,
            rng=rng,
            not_before=self.schedule.last,
        )
        self.budget = Budget(direction.limit_data)

    @property
    def passthrough(self) -> bool:
        return self.schedule.idle and self.budget.limit is None and not self.queue

    def cancel(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.queue.clear()
        self.queued = 0


class _ShapedProtocol(asyncio.Protocol):
    """Between the real transport and a server's protocol: delays, paces, limits and resets.

    The server's protocol gets a :class:`_ShapedTransport` instead of the real one.
    """

    def __init__(self, shaper: Shaper, inner: Any, conditions: Conditions) -> None:
        self._shaper = shaper
        self._inner = inner
        self._loop = asyncio.get_running_loop()
        self._rng = random.Random(shaper.server.random.getrandbits(64))  # noqa: S311 - as above
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
        self._active = False
        self._up = _Pipe(_NO_DIRECTION, self._rng)
        self._down = _Pipe(_NO_DIRECTION, self._rng)
        self._reset_budget = Budget(None)

    # -- conditions ----------------------------------------------------------------------------

    def update(self, conditions: Conditions | None) -> None:
        """Apply new conditions from now on (bytes already queued keep their times)."""
        if conditions is None:
            conditions = Conditions()
        self._conditions = conditions
        self._active = chosen(self._rng, conditions.probability)
        effective = conditions if self._active else Conditions()
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
        self._shaper.connections[self] = None
        conditions = self._conditions
        self.update(conditions)
        if self._active and conditions.reset_after == 0:
            self._reset()  # before a byte is read: the server never hears of it
            return
        if self._active and conditions.accept_but_never_read:
            transport.pause_reading()
            return  # the server never hears of it; stop() aborts it
        self._made = True
        self._inner.connection_made(self._transport)

    def data_received(self, data: bytes) -> None:
        if not self._made:
            return
        self._push(self._up, data, self._deliver_up)

    def eof_received(self) -> bool:
        if not self._made:
            return True
        self._push_marker(self._up, _EOF, self._deliver_up)
        return True  # keep the transport open: queued bytes still go both ways

    def connection_lost(self, exc: Exception | None) -> None:
        self._shaper.connections.pop(self, None)
        self._cancel_all()
        if self._made and not self._lost:
            self._lost = True
            self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self._real_writing_paused = True
        self._update_inner_flow()

    def resume_writing(self) -> None:
        self._real_writing_paused = False
        self._pump(self._down, self._deliver_down)
        self._update_inner_flow()

    # -- the queues ------------------------------------------------------------------------------

    def _push(self, pipe: _Pipe, data: bytes, deliver: Callable[[bytes | str], None]) -> None:
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
            self._push_marker(pipe, _RESET, deliver)
        elif limited:
            self._push_marker(pipe, _CLOSE, deliver)
        self._pump(pipe, deliver)
        self._update_flow()

    def _push_marker(
        self, pipe: _Pipe, marker: str, deliver: Callable[[bytes | str], None]
    ) -> None:
        if pipe.queue or not pipe.schedule.idle or not self._can_deliver(pipe):
            pipe.queue.append((max(pipe.schedule.last, self._loop.time()), marker))
            self._pump(pipe, deliver)
        else:
            deliver(marker)

    def _can_deliver(self, pipe: _Pipe) -> bool:
        if pipe is self._up:
            return not self._reading_paused
        return not self._real_writing_paused

    def _pump(self, pipe: _Pipe, deliver: Callable[[bytes | str], None]) -> None:
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
        if isinstance(item, bytes):
            if item:
                _feed(self._inner, item)
        elif item == _EOF:
            if not self._inner.eof_received():
                self._transport.close()
        elif item == _CLOSE:
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
        elif item == _EOF:
            if real.can_write_eof():
                real.write_eof()
        elif item == _CLOSE:
            self._close_now()
        elif item == _SLOW_CLOSE:
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
        want_paused = self._reading_paused or self._up.queued > _HIGH_WATER
        if want_paused and not self._real_reading_paused:
            self._real_reading_paused = True
            real.pause_reading()
        elif (
            not want_paused
            and self._real_reading_paused
            and self._up.queued <= _LOW_WATER
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
        if not self._inner_writing_paused and (self._real_writing_paused or queued > _HIGH_WATER):
            self._inner_writing_paused = True
            self._inner.pause_writing()
        elif self._inner_writing_paused and not self._real_writing_paused and queued <= _LOW_WATER:
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
        sock = real.get_extra_info("socket")
        if sock is not None and sock.family != socket.AF_UNIX:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
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
        self._push_marker(self._down, _EOF, self._deliver_down)

    def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        self._push_marker(self._down, _SLOW_CLOSE, self._deliver_down)

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

    def __init__(self, shaped: _ShapedProtocol) -> None:
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
        return (_LOW_WATER, _HIGH_WATER)

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass  # the shaped queue has its own limits; the real transport keeps its own
