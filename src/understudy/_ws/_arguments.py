"""What a WebSocket script's methods take, checked when they are called (not when a handshake
comes): counts, seconds and the one way a script ends. Each check raises
:class:`~understudy.ConfigurationError` saying what to write instead.
"""

from __future__ import annotations

from .._core.numbers import finite_number
from .._errors import ConfigurationError

__all__ = ["check_after", "check_frames", "check_seconds", "one_end"]


def check_after(after: object) -> int:
    """``after``, a count of received messages a script's end waits for (``close``, ``drop``,
    ``stall``).

    Raises:
        ConfigurationError: ``after`` is not an int >= 0.
    """
    if isinstance(after, int) and not isinstance(after, bool) and after >= 0:
        return after
    raise ConfigurationError(f"after= counts received messages: an int >= 0, not {after!r}")


def check_frames(frames: object) -> int:
    """``frames``, how many frames ``fragment()`` sends each message in.

    Raises:
        ConfigurationError: ``frames`` is not an int >= 1 (``True`` is not one).
    """
    if isinstance(frames, int) and not isinstance(frames, bool) and frames >= 1:
        return frames
    raise ConfigurationError(f"fragment() takes a positive int, not {frames!r}")


def check_seconds(method: str, seconds: object, *, zero: bool) -> float:
    """``seconds`` as a float, for ``method`` (``"delay"``: ``zero`` allowed; ``"ping_every"``).

    Raises:
        ConfigurationError: ``seconds`` is not a finite int or float > 0 (>= 0 with ``zero``);
            ``True``, NaN and infinity are not.
    """
    if finite_number(seconds) and (seconds >= 0 if zero else seconds > 0):
        return float(seconds)
    least = ">= 0" if zero else "> 0"
    raise ConfigurationError(f"{method}() takes seconds {least} (a finite float), not {seconds!r}")


def one_end(end: tuple[str, int, int, str] | None, how: str) -> None:
    """Refuse a second end of a script: ``end`` is the one it has (``None``: none yet), ``how``
    the method called now (``"close"``, ``"drop"`` or ``"stall"``).

    Raises:
        ConfigurationError: the script already ends another way, or the same way.
    """
    if end is not None:
        raise ConfigurationError(
            f"{how}(): this script already ends with {end[0]}() after {end[1]} messages; a "
            "script ends once: keep one of close(), drop() and stall()"
        )
