"""What a user writes: :class:`Conditions` and :class:`Direction`, checked when made.

Also the checks of a server's ``conditions=`` and ``seed=`` options. Plain values: the shaping
that carries them out is in ``_shaper`` (listeners) and ``_connection`` (each connection).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from .._core.numbers import finite_number
from .._errors import ConfigurationError

__all__ = ["NO_DIRECTION", "Conditions", "Direction", "check_conditions", "check_seed"]


def _seconds(name: str, value: object, *, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if not finite_number(value) or value < 0:
        extra = " or None" if allow_none else ""
        raise ConfigurationError(
            f"{name} must be a number of seconds >= 0 (float){extra}, not {value!r}"
        )


def _positive(name: str, value: object, unit: str, *, zero: bool = False) -> None:
    if value is None:
        return
    low = 0 if zero else 1
    if not finite_number(value) or value < low:
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


NO_DIRECTION: Final = Direction()


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
            is accepted; ``0.0`` resets at once (on a TLS server, before the handshake).
            ``None`` (default): never.
        reset_after_bytes: reset once this many bytes have passed, both directions counted
            together; ``None`` (default): never.
        refuse: refuse new connections: the listening socket is closed (clients get
            ``ConnectionRefusedError``) and bound again on the same port when conditions
            without ``refuse`` are set. Connections already open go on. ``probability`` does
            not apply (a closed socket refuses everyone).
        accept_but_never_read: accept connections (the client's ``connect`` succeeds) but never
            read from them or answer: the server sees nothing, the client's reads time out (on a
            TLS server, its handshake: nothing answers it).
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
        return self._both if self.downstream is None else NO_DIRECTION

    @property
    def down(self) -> Direction:
        """The conditions on downstream bytes (server to client), as resolved."""
        if self.downstream is not None:
            return self.downstream
        return self._both if self.upstream is None else NO_DIRECTION


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
