"""Server-sent events: the ``text/event-stream`` framing of the WHATWG HTML standard (§9.2).

Pure: an event in, the bytes of its block out.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

__all__ = ["ServerSentEvent"]

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True)
class ServerSentEvent:
    """One event of an event stream (WHATWG HTML, "Server-sent events", §9.2.6).

    Args:
        data: the event's data; each line becomes a ``data:`` line (an EventSource client joins
            them back with ``\\n``).
        event: the event type (``event:``), ``"message"`` for the client when omitted.
        id: the last-event ID (``id:``), which a reconnecting client sends back in
            ``Last-Event-ID``.
        retry: the reconnection time the client should use, in seconds (sent as whole
            milliseconds, ``retry:``).
        comment: a comment line (``: ...``), which clients ignore; handy as a keep-alive.

    Raises:
        ValueError: ``event`` or ``id`` holds a line break, ``id`` holds NUL, or ``retry``
            is negative or not finite.
    """

    data: str = ""
    event: str | None = None
    id: str | None = None
    retry: float | None = None
    comment: str | None = None

    def __post_init__(self) -> None:
        for name in ("event", "id"):
            value = getattr(self, name)
            if value is not None and _LINE_BREAK.search(value):
                raise ValueError(f"a server-sent event's {name} cannot hold a line break")
        if self.id is not None and "\0" in self.id:
            raise ValueError("a server-sent event's id cannot hold NUL (clients ignore it)")
        if self.retry is not None and (not math.isfinite(self.retry) or self.retry < 0):
            raise ValueError(f"retry must be seconds >= 0, not {self.retry!r}")

    def encode(self) -> bytes:
        """The event's block, UTF-8 encoded, ending with the empty line that dispatches it."""
        lines = []
        if self.comment is not None:
            lines += [f": {line}" for line in _LINE_BREAK.split(self.comment)]
        if self.event is not None:
            lines.append(f"event: {self.event}")
        if self.id is not None:
            lines.append(f"id: {self.id}")
        if self.retry is not None:
            lines.append(f"retry: {round(self.retry * 1000)}")
        lines += [f"data: {line}" for line in _LINE_BREAK.split(self.data)]
        return ("\n".join(lines) + "\n\n").encode()
