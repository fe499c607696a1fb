"""Faults and slowness on an HTTP connection: the shell that carries out ``_core.faults`` plans.

A fault ends the exchange and the connection (nothing queued behind it is answered; the rest
of what the client sends is not read as requests). A dribbled body and a pending delay run as
tasks that end, unanswered, when the connection is gone, so ``stop()`` never waits for them:
it closes an idle or stalled connection at once, and aborts a busy one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from .._core.faults import Ending, Fault, FaultPlan, plan_fault
from .._faults import Delay, Dribble
from .._http2_faults import HTTP2Fault, fault_text
from ._response import Response, for_request

if TYPE_CHECKING:
    from ._site import Exchange, Host, Site

__all__ = ["DelayedHost", "DribbleHost", "FaultHost", "apply_fault"]


#: What an :class:`~understudy.HTTP2Fault` does on HTTP/1.1, by its frame (see its docstring).
_HTTP1_PLANS = {
    "RST_STREAM": FaultPlan(b"", Ending.RESET),
    "GOAWAY": FaultPlan(b"", Ending.CLOSE),
    "SETTINGS": FaultPlan(b"", Ending.STALL),
}


def apply_fault(site: Site, exchange: Exchange, kind: Fault | HTTP2Fault) -> None:
    """On the loop: answer ``exchange`` with the fault ``kind`` (see :class:`~understudy.Fault`
    and :class:`~understudy.HTTP2Fault`).

    The request is already in the journal; this ends the exchange and, as the plan says,
    the connection. A HEAD request gets the plan for HEAD: its head cut short, since it
    has no body to break (see :class:`~understudy.Fault`). An HTTP/2 stream carries the
    fault out on its stream (``_h2/_faults.py``), from the name recorded here.
    """
    if isinstance(kind, HTTP2Fault):
        plan = _HTTP1_PLANS[kind.frame]
    else:
        plan = plan_fault(kind, site.random, method=exchange.method)
    if exchange.connected and not exchange.head_sent:
        exchange.record_answer(fault_text(kind))  # (before any of its bytes are written)
    exchange.cut(plan.data, plan.ending)


class FaultHost:
    """Answers every request it gets with the same fault."""

    streams_body = False

    def __init__(self, kind: Fault | HTTP2Fault) -> None:
        self.kind = kind

    def dispatch(self, site: Site, exchange: Exchange) -> None:
        apply_fault(site, exchange, self.kind)


def run_while_connected(
    site: Site, exchange: Exchange, coroutine: Coroutine[Any, Any, None]
) -> None:
    """Run ``coroutine`` for ``exchange``; cancel it when the response ends or the connection goes.

    Not an in-flight handler for ``stop()`` to wait for: stop closes or aborts the connection,
    which cancels the task.
    """
    task = site.loop.create_task(coroutine)
    _running.add(task)

    def done(task: asyncio.Task[None]) -> None:
        _running.discard(task)
        if not task.cancelled() and (error := task.exception()) is not None:
            site.fail(error)

    def cancel() -> None:
        task.cancel()

    exchange.done_listener = cancel
    task.add_done_callback(done)


#: Tasks started by :func:`run_while_connected` (the loop keeps only weak references).
_running: set[asyncio.Task[None]] = set()


class DelayedHost:
    """Answers as ``host`` does, after a delay drawn (per request) from the server's random."""

    streams_body = False

    def __init__(self, host: Host, delay: Delay) -> None:
        self.host = host
        self.delay = delay

    def dispatch(self, site: Site, exchange: Exchange) -> None:
        seconds = self.delay.draw(site.random)

        async def later() -> None:
            await asyncio.sleep(seconds)
            exchange.done_listener = None
            self.host.dispatch(site, exchange)

        run_while_connected(site, exchange, later())


class DribbleHost:
    """Sends a fixed response with its body in pieces spread over time."""

    streams_body = False

    def __init__(self, response: Response, dribble: Dribble) -> None:
        if not isinstance(response.body, bytes):
            raise TypeError("DribbleHost takes a response with a bytes body")
        self.response = response
        self.dribble = dribble

    def dispatch(self, site: Site, exchange: Exchange) -> None:
        response = for_request(self.response, exchange.raw_fields)
        body = response.body
        assert isinstance(body, bytes)
        schedule = self.dribble.schedule(body)
        exchange.start(response.status_code, response.reason, response.headers, len(body))
        if not exchange.sends_body:
            exchange.end()  # HEAD, 204, 304: no body to dribble
            return

        async def dribble() -> None:
            for pause, piece in schedule:
                await asyncio.sleep(pause)
                exchange.write(piece)
            exchange.done_listener = None
            exchange.end()

        run_while_connected(site, exchange, dribble())
