"""What an HTTP server shows of WebSocket: ``ws_url``, the journals and their waits, stubs.

:class:`WebSocketEndpoints` is a base of :class:`~understudy.HTTPServer`; everything it holds is
made on first use, so a server that never sees a WebSocket stays as small as before.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._records import WebSocketConnection, WebSocketMessage
from ._site import WebSocketSite

if TYPE_CHECKING:
    from .._http._exchange import Exchange

__all__ = ["WebSocketEndpoints"]


class WebSocketEndpoints:
    """The WebSocket side of an HTTP server (RFC 6455 on the HTTP port)."""

    # (class defaults: an instance gets its own only when it serves a WebSocket)
    _ws_site: WebSocketSite | None = None
    _ws_stubs: list[Any] | None = None

    # (the HTTP server's; declared for the type checker)
    if TYPE_CHECKING:
        _host_of_behaviour: Any

        @property
        def port(self) -> int: ...

        @property
        def scheme(self) -> str: ...

        def record_error(self, error: BaseException) -> None: ...

        def _url_host(self) -> str: ...

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
        return self._websocket_site().connections.wait_for(count, match=match, timeout=timeout)

    async def wait_for_websockets_async(
        self,
        count: int = 1,
        *,
        match: Callable[[WebSocketConnection], bool] | None = None,
        timeout: float = 5.0,
    ) -> list[WebSocketConnection]:
        """The awaitable twin of :meth:`wait_for_websockets`, for async tests."""
        __tracebackhide__ = True
        site = self._websocket_site()
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
        return self._websocket_site().messages.wait_for(count, match=match, timeout=timeout)

    async def wait_for_websocket_messages_async(
        self,
        count: int = 1,
        *,
        match: Callable[[WebSocketMessage], bool] | None = None,
        timeout: float = 5.0,
    ) -> list[WebSocketMessage]:
        """The awaitable twin of :meth:`wait_for_websocket_messages`, for async tests."""
        __tracebackhide__ = True
        site = self._websocket_site()
        return await site.messages.wait_for_async(count, match=match, timeout=timeout)

    # -- used by connections and hosts -------------------------------------------------------

    def _websocket_site(self) -> WebSocketSite:
        site = self._ws_site
        if site is None:
            site = self._ws_site = WebSocketSite(self.record_error, None)
        return site

    def _switches_to_websocket(self, exchange: Exchange) -> bool:
        """Whether ``exchange`` is a WebSocket handshake this server answers as one."""
        if not (self._ws_stubs or _is_asgi(self._host_of_behaviour)):
            return False
        from ._handshake import offers_websocket  # noqa: PLC0415 - websockets, when first used

        return offers_websocket(exchange)


def _is_asgi(host: object) -> bool:
    module = sys.modules.get("understudy._http._asgi")
    return module is not None and isinstance(host, module.ASGIHost)
