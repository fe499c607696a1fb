"""Limits: what an HTTP server accepts of a client, in bytes and seconds; a frozen, checked value.

``HTTPServer(max_header_size=..., ...)`` keeps its flat keywords and builds one of these; a
connection reads its fields as attributes (one lookup each, as it read the server's before).
Pure: it imports nothing of ``_http``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .._core.versions import check_http_versions, check_max_streams
from .._errors import ConfigurationError

__all__ = [
    "DEFAULT_HEADER_TIMEOUT",
    "DEFAULT_IDLE_TIMEOUT",
    "DEFAULT_LIMITS",
    "DEFAULT_MAX_BODY_SIZE",
    "DEFAULT_MAX_HEADER_SIZE",
    "DEFAULT_SEND_TIMEOUT",
    "DEFAULT_WEBSOCKET_MAX_MESSAGE_SIZE",
    "Limits",
]

DEFAULT_MAX_HEADER_SIZE = 64 * 1024
DEFAULT_MAX_BODY_SIZE = 64 * 1024 * 1024
DEFAULT_HEADER_TIMEOUT = 30.0
DEFAULT_IDLE_TIMEOUT = 300.0
DEFAULT_SEND_TIMEOUT = 30.0
#: ``_ws/_handshake.py``'s ``DEFAULT_MAX_MESSAGE_SIZE``, written again: ``_ws`` imports nothing
#: of ``_http``, and ``_http`` loads websockets only when a WebSocket comes (a test holds the two
#: equal: tests/test_websocket_asgi.py).
DEFAULT_WEBSOCKET_MAX_MESSAGE_SIZE = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Limits:
    """What a server accepts of a client (see ``HTTPServer``'s keywords of the same names).

    Attributes:
        max_header_size: bytes of request line plus header section; more gets 431.
        max_body_size: bytes of request body; more gets 413.
        header_timeout: seconds from a request's first byte to the end of its header section
            (``None``: no limit); then 408.
        idle_timeout: seconds a connection may go without a byte while the server waits for
            the client (``None``: no limit).
        send_timeout: seconds a response may wait on a client that does not read it
            (``None``: no limit).
        http_versions: the HTTP versions offered, ``("1.1",)``, ``("1.1", "2")`` or
            ``("2",)`` (a str or any collection is taken, and kept as a tuple in that order).
        max_concurrent_streams: HTTP/2 streams a client may open at once on one connection
            (SETTINGS_MAX_CONCURRENT_STREAMS, RFC 9113 §6.5.2).
        websocket_max_message_size: bytes a WebSocket message an ASGI app receives may have
            after inflation (``None``: no limit); more closes the connection with 1009
            (RFC 6455 §7.4.1).

    Raises:
        ConfigurationError: a size that is not a positive int (the WebSocket one: nor
            ``None``), a timeout that is neither a positive number nor ``None``, or versions or
            a stream count not as above.
    """

    max_header_size: int = DEFAULT_MAX_HEADER_SIZE
    max_body_size: int = DEFAULT_MAX_BODY_SIZE
    header_timeout: float | None = DEFAULT_HEADER_TIMEOUT
    idle_timeout: float | None = DEFAULT_IDLE_TIMEOUT
    send_timeout: float | None = DEFAULT_SEND_TIMEOUT
    http_versions: tuple[str, ...] = ("1.1",)
    max_concurrent_streams: int = 100
    websocket_max_message_size: int | None = DEFAULT_WEBSOCKET_MAX_MESSAGE_SIZE
    #: A waiting connection's timer fires at least this often (seconds; 0.0: no limits).
    shortest_timeout: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("max_header_size", "max_body_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigurationError(f"{name} must be a positive int (bytes), not {value!r}")
        size = self.websocket_max_message_size
        if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 1):
            raise ConfigurationError(
                "websocket_max_message_size must be a positive int of bytes (1024 * 1024 for "
                f"1 MiB) or None (no limit), not {size!r}"
            )
        for name in ("header_timeout", "idle_timeout", "send_timeout"):
            seconds = getattr(self, name)
            if seconds is not None and (
                not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds <= 0
            ):
                raise ConfigurationError(
                    f"{name} must be a positive number of seconds or None (no limit), "
                    f"not {seconds!r}"
                )
        try:
            versions = check_http_versions(self.http_versions)
            check_max_streams(self.max_concurrent_streams)
        except ValueError as error:
            raise ConfigurationError(str(error)) from None
        object.__setattr__(self, "http_versions", versions)  # (frozen: kept as a tuple)
        shortest = min(
            (t for t in (self.header_timeout, self.idle_timeout, self.send_timeout) if t),
            default=0.0,
        )
        object.__setattr__(self, "shortest_timeout", shortest)  # (frozen: computed once)


#: The limits of a server given none: one object, shared (it is frozen).
DEFAULT_LIMITS = Limits()
