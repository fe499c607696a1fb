"""How long an HTTP/1.1 connection waits for its client: for a request's header section, for its
body, between requests, and for the client to read a response (RFC 9110 §15.5.9, RFC 9112 §9.3).

One timer per connection, checked lazily: changing what the connection waits for only sets a
deadline; the timer re-arms itself when it fires, at least once every shortest timeout.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from ._fields import field_pairs
from ._refusal import Refused
from ._request import Request
from ._writer import ResponseWriter

if TYPE_CHECKING:
    from .._tls import TLSInfo
    from ._exchange import HTTP1Exchange
    from ._limits import Limits
    from ._site import Site

__all__ = ["Timeouts", "loop_clock"]


def loop_clock(loop: asyncio.AbstractEventLoop) -> Callable[[], float]:
    """``loop.time``, or the function it calls when that is all it does (a call the less)."""
    if type(loop).time is asyncio.BaseEventLoop.time:
        return time.monotonic
    return loop.time


class Timeouts(ResponseWriter):
    """The timers of ``HTTPConnection`` (which sets the attributes declared here)."""

    site: Site
    limits: Limits
    scheme: str
    peer: tuple[str, int] | None
    tls: TLSInfo | None
    clock: Callable[[], float]
    queue: deque[HTTP1Exchange]
    answered: HTTP1Exchange | None
    broken: bool
    reading_paused: bool

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(loop)
        self.waiting: str | None = None  # "idle", "header", "body" or None (a request is handled)
        self.read_deadline = 0.0
        self.send_deadline = 0.0
        self.timer: asyncio.TimerHandle | None = None

    def _refuse(self, refusal: Refused, fed: bytes, begun: int) -> None:
        """Refuse the request being received (``Refusals``)."""
        raise NotImplementedError

    def pause_writing(self) -> None:
        self.write_paused = True
        if self._writable is None or self._writable.done():
            self._writable = self.loop.create_future()
        send_timeout = self.limits.send_timeout
        if send_timeout is not None:
            self.send_deadline = self.clock() + send_timeout
            self._arm(self.send_deadline)

    def resume_writing(self) -> None:
        self.write_paused = False
        self.send_deadline = 0.0
        if self.backlog is not None:
            self._feed()
            if self.write_paused:  # (the next slice filled the transport again)
                return
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)

    def _wait(self, waiting: str, timeout: float | None) -> None:
        """The connection now waits for the client (``waiting``) for at most ``timeout`` s."""
        self.waiting = waiting if timeout is not None else None
        if timeout is not None:
            self.read_deadline = deadline = self.clock() + timeout
            if self.timer is None:
                self._arm(deadline)

    def _arm(self, deadline: float) -> None:
        """Make the timer fire by ``deadline``, at the latest one shortest timeout from now.

        The cap keeps every later deadline (each at least the shortest timeout away) at or after
        the timer, so setting one never has to move the timer.
        """
        timer = self.timer
        if timer is not None:
            if timer.when() <= deadline:
                return
            timer.cancel()
        when = min(deadline, self.clock() + self.limits.shortest_timeout)
        self.timer = self.loop.call_at(when, self._on_timer)

    def _on_timer(self) -> None:
        self.timer = None
        if self.transport is None:
            return
        now = self.clock()
        limits = self.limits
        if self.send_deadline:
            if now >= self.send_deadline:
                self._send_timed_out()
                return
            self._arm(self.send_deadline)
        waiting = self.waiting
        if waiting is None or self.broken:
            return
        if self.reading_paused:  # the server, not the client, is holding back
            self._arm(now + limits.shortest_timeout)
            return
        if now < self.read_deadline:
            self._arm(self.read_deadline)
            return
        self.waiting = None
        if waiting == "idle":
            self.close()  # RFC 9112 §9.3: a server may close an idle connection
        elif waiting == "header":
            self._refuse(
                Refused(
                    408,
                    f"the header section was not received within header_timeout "
                    f"({limits.header_timeout:g} s)",
                ),
                b"",
                0,
            )
        else:
            self._refuse(
                Refused(
                    408,
                    f"the request body stalled: no bytes for idle_timeout "
                    f"({limits.idle_timeout:g} s)",
                ),
                b"",
                0,
            )

    def _send_timed_out(self) -> None:
        """The client has not read the response for ``send_timeout``: record it and abort."""
        exchange = self.queue[0] if self.queue else self.answered
        self.site.record(
            Request(
                method=exchange.method if exchange else "",
                target=exchange.target if exchange else "",
                headers=field_pairs(exchange.raw_fields) if exchange else [],
                body=b"",
                peer=self.peer,
                received_at=time.time(),
                scheme=self.scheme,
                tls=self.tls,
                error=f"the client did not read the response within send_timeout "
                f"({self.limits.send_timeout:g} s); the connection was aborted",
            )
        )
        self.abort()
