"""The simple hosts of HTTP behaviour: a fixed response, a handler callable, nothing at all."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any

from .._core.faults import Fault
from .._errors import ConfigurationError
from .._http2_faults import HTTP2Fault
from .._server import describe_handler
from ._faults import apply_fault
from ._request import Request
from ._response import Response, for_request, to_response
from ._send import send_response
from ._site import Site

if TYPE_CHECKING:
    from ._site import Exchange

__all__ = ["CannedHost", "HandlerHost", "NoHost"]

Handler = Callable[[Request], Any] | Callable[[Request], Awaitable[Any]]


class NoHost:
    """Nothing hosted: 404 saying so."""

    streams_body = False
    answered_by = ("unmatched", "")

    def dispatch(self, site: Site, exchange: Exchange) -> None:
        exchange.send(
            Response(
                404,
                body=f"understudy: no handler is configured on this server, so nothing answers "
                f"{exchange.method} {exchange.target}.\nGive HTTPServer a response=, handler=, "
                "wsgi= or asgi=.\n",
            )
        )


class CannedHost:
    """The same response to every request, sent from the loop with no user code."""

    streams_body = False
    answered_by = ("response", "")

    def __init__(self, response: Response) -> None:
        self.response = response

    @staticmethod
    def check_reusable(response: Response) -> None:
        """Refuse a response meant for every request whose body can be sent only once.

        Raises:
            ConfigurationError: the body is an iterator or async iterator (a generator...),
                which only the first request would get in full.
        """
        body = response.body
        if (isinstance(body, Iterator) and iter(body) is body) or (
            isinstance(body, AsyncIterator) and body.__aiter__() is body
        ):
            raise ConfigurationError(
                f"response= is sent to every request, but its body is a one-shot "
                f"{type(body).__name__} that only the first request would get; give bytes, "
                "str or a list of chunks, or use handler= to make a fresh body per request"
            )

    def dispatch(self, site: Site, exchange: Exchange) -> None:
        send_response(site, exchange, for_request(self.response, exchange.raw_fields))


class HandlerHost:
    """``handler(request)``: sync in the worker pool, ``async def`` on the loop."""

    streams_body = False

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        #: (A handler may say what it is: the proxy and the fake PyPI do.)
        self.answered_by: tuple[str, str] = getattr(handler, "answered_by", None) or (
            "handler",
            describe_handler(handler),
        )
        self.is_async = inspect.iscoroutinefunction(handler) or inspect.iscoroutinefunction(
            getattr(handler, "__call__", None)  # noqa: B004 - an instance with async __call__
        )

    def dispatch(self, site: Site, exchange: Exchange) -> None:
        request = exchange.request
        assert request is not None
        handler = self.handler

        def describe() -> str:
            return f"handler {site.describe(handler)} for {request.method} {request.target}"

        def done(future: asyncio.Future[Any]) -> None:
            site.release(future)
            self._done(site, exchange, future)

        if self.is_async:
            task = site.loop.create_task(handler(request))  # type: ignore[arg-type]
            site.track(task, describe, lambda task: self._done(site, exchange, task))
        else:
            # Answered in the turn the worker's result arrives, not one later (see submit_then).
            site.hold(site.runtime.workers.submit_then(done, handler, request), describe)

    def _done(self, site: Site, exchange: Exchange, future: asyncio.Future[Any]) -> None:
        try:
            self._answer(site, exchange, future)
        except Exception as error:  # noqa: BLE001 - our bug, not the handler's: a 500, check()
            site.host_failed(exchange, error)

    def _answer(self, site: Site, exchange: Exchange, future: asyncio.Future[Any]) -> None:
        if not future.cancelled():
            error = future.exception()  # already recorded by site.track
        elif isinstance(future, asyncio.Task) and not future.cancelling():
            # Nobody cancelled the handler's task: a future it awaited was cancelled elsewhere.
            error = RuntimeError(
                "the handler raised CancelledError, but its task was not cancelled (a future "
                "or task it awaited was cancelled by someone else)"
            )
            try:
                future.result()
            except asyncio.CancelledError as cancelled:  # (its context: where it was raised)
                error.__cause__ = cancelled
            site.fail(error)
        else:  # stop() gave up on it: cut it off
            exchange.abort()
            return
        if error is None:
            result = future.result()
            if not isinstance(result, Response) and inspect.isawaitable(result):
                # A plain callable that returned a coroutine (a lambda or wrapper around an
                # async function): await it on the loop.
                awaited = asyncio.ensure_future(result, loop=site.loop)
                request = exchange.request
                assert request is not None
                site.track(
                    awaited,
                    f"handler {site.describe(self.handler)} for {request.method} {request.target}",
                )
                awaited.add_done_callback(lambda done: self._done(site, exchange, done))
                return
            if isinstance(result, Fault | HTTP2Fault):
                apply_fault(site, exchange, result)
                return
            try:
                response = to_response(result)
            except Exception as bad_return:  # noqa: BLE001 - goes to check(), the client gets 500
                error = bad_return
                site.fail(error)
            else:
                send_response(site, exchange, for_request(response, exchange.raw_fields))
                return
        exchange.send_error(
            500, f"understudy: the handler raised {type(error).__name__} (see check())"
        )
