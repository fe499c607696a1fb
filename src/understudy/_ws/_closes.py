"""Close codes (RFC 6455 §7.4): which a close frame may carry, the checks of a close a test asks
for, and the fault of sending one that no close frame may carry."""

from __future__ import annotations

from typing import TYPE_CHECKING

from websockets.frames import Close, Frame, Opcode
from websockets.protocol import State

if TYPE_CHECKING:
    from websockets.server import ServerProtocol

__all__ = ["check_close", "send_close"]

#: The codes a close frame may carry besides 3000-4999 (RFC 6455 §7.4.1 and its IANA registry):
#: 1004, 1005, 1006 and 1015 are never sent, and 1016-2999 are reserved.
_SENDABLE_CODES = frozenset((1000, 1001, 1002, 1003, *range(1007, 1015)))


def _sendable(code: int) -> bool:
    return code in _SENDABLE_CODES or 3000 <= code <= 4999


def check_close(code: object, reason: object, *, faults: bool = False) -> None:
    """Check a close code and reason a script, a handler or an app asked for, before anything
    is sent. ``faults``: a script's or a handler's, which may send any code in 1000-4999 (see
    :func:`send_close`); an ASGI app's may send only those a close frame may carry.

    Raises:
        ConfigurationError: ``code`` is not an int a close frame may carry (1000-1003,
            1007-1014 or 3000-4999, RFC 6455 §7.4), or with ``faults`` not an int in
            1000-4999; or ``reason`` is not a str of at most 123 bytes of UTF-8 (a control
            frame's payload is at most 125 bytes, §5.5).
    """
    from .._errors import ConfigurationError  # noqa: PLC0415 - only when closing

    if not isinstance(code, int) or isinstance(code, bool):
        valid = False
    else:
        valid = 1000 <= code <= 4999 if faults else _sendable(code)
    if not valid:
        raise ConfigurationError(
            f"a close code is an int in 1000-4999, not {code!r}; those RFC 6455 §7.4 lets a "
            "close frame carry (1000-1003, 1007-1014, 3000-4999) are sent as they are, the "
            "others (1004-1006, 1015, 1016-2999) as a fault"
            if faults
            else f"a close code is an int in 1000-1003, 1007-1014 or 3000-4999 (RFC 6455 §7.4: "
            f"1004-1006 and 1015 are never sent, 1016-2999 are reserved), not {code!r}"
        )
    if not isinstance(reason, str) or len(reason.encode("utf-8")) > 123:
        raise ConfigurationError(
            f"a close reason is a str of at most 123 bytes of UTF-8 (RFC 6455 §5.5), not "
            f"{reason!r:.60}"
        )


def send_close(protocol: ServerProtocol, code: int, reason: str) -> None:
    """Start the closing handshake of ``protocol`` (open) with ``code`` and ``reason``, checked
    by :func:`check_close`.

    A code no close frame may carry (1004-1006, 1015, 1016-2999) is a fault: websockets refuses
    to send it, so its frame is made here and the protocol is left as its own ``send_close``
    leaves it (the close sent, the connection closing). The client's close frame, a 1002 from a
    client that checks the code (RFC 6455 §7.4 and §7.1.7), then ends the handshake as usual.
    """
    if _sendable(code):
        protocol.send_close(code, reason)
        return
    close = Close(code, reason)
    payload = code.to_bytes(2, "big") + reason.encode("utf-8")  # (§5.5.1; Close checks the code)
    protocol.send_frame(Frame(Opcode.CLOSE, payload))
    protocol.close_sent = close
    protocol.state = State.CLOSING
