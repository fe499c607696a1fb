"""What an HTTP server shows of WebSocket: ``ws_url``, the journals and their waits, stubs.

:class:`WebSocketEndpoints` is a base of :class:`~understudy.HTTPServer`; everything it holds is
made on first use, so a server that never sees a WebSocket stays as small as before.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ._records import WebSocketConnection, WebSocketMessage
from ._site import WebSocketSite

if TYPE_CHECKING:
    from .._http._exchange import Exchange
    from .._http._expect import Expectations
    from ._stubs import WebSocketExpectation

__all__ = ["WebSocketEndpoints"]


class WebSocketEndpoints:
    """The WebSocket side of an HTTP server (RFC 6455 on the HTTP port)."""

    # (class defaults: an instance gets its own only when it serves a WebSocket)
    _ws_site: WebSocketSite | None = None
    _ws_stubs: list[Any] | None = None

    # (the HTTP server's; declared for the type checker)
    if TYPE_CHECKING:
        _host_of_behaviour: Any
        _expectations: Expectations

        @property
        def port(self) -> int: ...

        @property
        def scheme(self) -> str: ...

        def record_error(self, error: BaseException) -> None: ...

        def _url_host(self) -> str: ...

        def _routing_changed(self) -> None: ...

    @property
    def ws_url(self) -> str:
        """``ws://host:port`` (``wss://`` with ``tls=``), without a trailing slash (RFC 6455
        §3): the server's :attr:`url` with the WebSocket scheme."""
        scheme = "wss" if self.scheme == "https" else "ws"
        return f"{scheme}://{self._url_host()}:{self.port}"

    @property
    def websockets(self) -> list[WebSocketConnection]:
        """The WebSocket connections accepted so far, oldest first (a snapshot list)."""
        site = self._ws_site
        return [] if site is None else site.connections.snapshot()

    @property
    def websocket_messages(self) -> list[WebSocketMessage]:
        """Every WebSocket message received and sent so far, on every connection, in the order
        they passed (a snapshot list)."""
        site = self._ws_site
        return [] if site is None else site.messages.snapshot()

    def wait_for_websockets(
        self,
        count: int = 1,
        *,
        match: Callable[[WebSocketConnection], bool] | None = None,
        timeout: float = 5.0,
    ) -> list[WebSocketConnection]:
        """Block until ``count`` WebSocket connections (satisfying ``match``) were accepted.

        Args:
            count: how many to wait for.
            match: a predicate on :class:`~understudy.WebSocketConnection`; it is asked again
                whenever a connection opens or ends, so ``match=lambda c: c.closed`` waits for
                ends.
            timeout: seconds to wait.

        Returns:
            The first ``count`` such connections, oldest first.

        Raises:
            WaitTimeout: after ``timeout`` seconds; the message lists what did arrive.
        """
        __tracebackhide__ = True
        return self.websocket_site().connections.wait_for(count, match=match, timeout=timeout)

    async def wait_for_websockets_async(
        self,
        count: int = 1,
        *,
        match: Callable[[WebSocketConnection], bool] | None = None,
        timeout: float = 5.0,
    ) -> list[WebSocketConnection]:
        """The awaitable twin of :meth:`wait_for_websockets`, for async tests."""
        __tracebackhide__ = True
        site = self.websocket_site()
        return await site.connections.wait_for_async(count, match=match, timeout=timeout)

    def wait_for_websocket_messages(
        self,
        count: int = 1,
        *,
        match: Callable[[WebSocketMessage], bool] | None = None,
        timeout: float = 5.0,
    ) -> list[WebSocketMessage]:
        """Block until ``count`` WebSocket messages (satisfying ``match``) have passed.

        Both directions count unless ``match`` says otherwise
        (``match=lambda m: m.direction == "received"``: only the client's).

        Args:
            count: how many to wait for.
            match: a predicate on :class:`~understudy.WebSocketMessage`.
            timeout: seconds to wait.

        Returns:
            The first ``count`` such messages, in the order they passed.

        Raises:
            WaitTimeout: after ``timeout`` seconds; the message lists what did arrive.
        """
        __tracebackhide__ = True
        return self.websocket_site().messages.wait_for(count, match=match, timeout=timeout)

    async def wait_for_websocket_messages_async(
        self,
        count: int = 1,
        *,
        match: Callable[[WebSocketMessage], bool] | None = None,
        timeout: float = 5.0,
    ) -> list[WebSocketMessage]:
        """The awaitable twin of :meth:`wait_for_websocket_messages`, for async tests."""
        __tracebackhide__ = True
        site = self.websocket_site()
        return await site.messages.wait_for_async(count, match=match, timeout=timeout)

    def expect_websocket(
        self,
        path: str,
        *,
        query: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        subprotocol: str | None = None,
        handler: Callable[[Any], Any] | None = None,
        max_message_size: int | None = 64 * 1024 * 1024,
    ) -> WebSocketExpectation:
        """Serve WebSocket handshakes (RFC 6455 §4.2) to ``path`` without an app.

        The handshake matches like an HTTP expectation: the path exactly, each ``query``
        parameter and ``headers`` field given (values exact, names case-insensitive), and
        ``subprotocol`` among those the client offers (then agreed to). The newest matching
        expectation serves it. A handshake none matches gets the server's ``unmatched_status``
        with a near-miss report, and fails the test as an unmatched request does (unless
        ``allow_unmatched``); a server hosting an ASGI app hands it to the app instead.

        Args:
            path: the request target's path (``"/feed"``).
            query: query parameters the target must have.
            headers: header fields the handshake request must have.
            subprotocol: a subprotocol the client must offer; it is agreed to.
            handler: serves each connection instead of the script: ``handler(ws)`` where ``ws``
                is a :class:`~understudy.WebSocket` (a plain function, run in the worker pool)
                or an :class:`~understudy.AsyncWebSocket` (an ``async def``, on the loop). An
                exception it raises reaches the test through ``check()``.
            max_message_size: bytes a received message may have after inflation (64 MiB by
                default; ``None``: no limit); a larger one closes the connection with 1009.

        Returns:
            The :class:`~understudy.WebSocketExpectation`, whose methods script the
            conversation (``send``, ``reply``, ``echo``, ``close``) and faults.

        Raises:
            ConfigurationError: a path not starting with ``/``, a handler not callable.
        """
        from ._stubs import WebSocketExpectation  # noqa: PLC0415 - websockets, when first used

        stub = WebSocketExpectation(
            path,
            query=query,
            headers=headers,
            subprotocol=subprotocol,
            handler=handler,
            max_message_size=max_message_size,
        )
        if self._ws_stubs is None:
            self._ws_stubs = []
        self._ws_stubs.append(stub)
        self._routing_changed()
        return stub

    def _take_failures(self) -> list[BaseException]:
        """The server's failures, and each ``expect_websocket`` no handshake reached
        (:class:`~understudy.UnmetExpectation`, as for ``expect``)."""
        failures: list[BaseException] = super()._take_failures()  # type: ignore[misc]
        unmet = [stub for stub in self._ws_stubs or () if not stub.connections]
        if unmet:
            from .._errors import UnmetExpectation  # noqa: PLC0415 - only when one failed

            site = self._ws_site
            count = len(unmet)
            lines = [f"{count} WebSocket expectation{'s' * (count != 1)} of {self!r} not met:"]
            lines += [f"  {stub.describe()}: no handshake matched it" for stub in unmet]
            if site is None or not site.connections.total:
                lines.append("  no WebSocket connection was accepted")
            failures.append(UnmetExpectation("\n".join(lines)))
        return failures

    # -- used by connections and hosts -------------------------------------------------------

    def _dispatch_websocket(self, exchange: Exchange) -> bool:
        """Serve a WebSocket handshake with a stub; ``False``: not one, or left to the app."""
        stubs = self._ws_stubs
        if not stubs or exchange.conn.held is None:
            return False
        from ._stubs import dispatch_websocket  # noqa: PLC0415 - loaded with the stubs

        fallback = _is_asgi(self._host_of_behaviour)
        allow_unmatched = self._expectations.allow_unmatched
        return dispatch_websocket(
            self,  # type: ignore[arg-type] # (an HTTPServer: the only class this is a base of)
            stubs,
            exchange,
            fallback=fallback,
            allow_unmatched=allow_unmatched,
        )

    def websocket_site(self) -> WebSocketSite:
        """What the server's WebSocket sessions use (journals, open sessions); made once."""
        site = self._ws_site
        if site is None:
            site = self._ws_site = WebSocketSite(self.record_error, None)
        return site

    def switches_to_websocket(self, exchange: Exchange) -> bool:
        """Whether ``exchange`` is a WebSocket handshake this server answers as one."""
        if not (self._ws_stubs or _is_asgi(self._host_of_behaviour)):
            return False
        from ._handshake import offers_websocket  # noqa: PLC0415 - websockets, when first used

        return offers_websocket(exchange)


def _is_asgi(host: object) -> bool:
    module = sys.modules.get("understudy._http._asgi")
    return module is not None and isinstance(host, module.ASGIHost)
