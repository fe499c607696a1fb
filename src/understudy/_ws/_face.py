"""What an HTTP server shows of WebSocket: ``ws_url``, the journals and their waits, stubs.

:class:`WebSocketEndpoints` is a base of :class:`~understudy.HTTPServer`; everything it holds is
made on first use, so a server that never sees a WebSocket stays as small as before.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from .._server import Server

# (the records and the WebSocket site are imported when first used: issue 20)
if TYPE_CHECKING:
    from ._records import WebSocketConnection, WebSocketMessage
    from ._stubs import WebSocketExpectation

__all__ = ["WebSocketEndpoints"]


class WebSocketEndpoints(Server):
    """The WebSocket side of an HTTP server (RFC 6455 on the HTTP port): the ``Server`` that
    ``HTTPServer`` extends."""

    # (the HTTP server's; declared for the type checker)
    if TYPE_CHECKING:

        @property
        def port(self) -> int: ...

        @property
        def scheme(self) -> str: ...

        def _url_host(self) -> str: ...

    @property
    def ws_url(self) -> str:
        """``ws://host:port`` (``wss://`` with ``tls=``), without a trailing slash (RFC 6455
        §3): the server's :attr:`url` with the WebSocket scheme."""
        scheme = "wss" if self.scheme == "https" else "ws"
        return f"{scheme}://{self._url_host()}:{self.port}"

    @property
    def websocket_max_message_size(self) -> int | None:
        """Bytes a WebSocket message the ASGI app receives may have after inflation
        (``websocket_max_message_size=``; ``None``: no limit); more closes with 1009."""
        return self._site.limits.websocket_max_message_size  # type: ignore[attr-defined, no-any-return]

    @property
    def websockets(self) -> list[WebSocketConnection]:
        """The WebSocket connections accepted so far, oldest first (a snapshot list)."""
        site = self._site.websocket  # type: ignore[attr-defined]
        return [] if site is None else site.connections.snapshot()

    @property
    def websocket_messages(self) -> list[WebSocketMessage]:
        """Every WebSocket message received and sent so far, on every connection, in the order
        they passed (a snapshot list)."""
        site = self._site.websocket  # type: ignore[attr-defined]
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
        from ._site import websocket_site  # noqa: PLC0415 - loaded when first used

        return websocket_site(self._site).connections.wait_for(count, match=match, timeout=timeout)  # type: ignore[attr-defined]

    async def wait_for_websockets_async(
        self,
        count: int = 1,
        *,
        match: Callable[[WebSocketConnection], bool] | None = None,
        timeout: float = 5.0,
    ) -> list[WebSocketConnection]:
        """The awaitable twin of :meth:`wait_for_websockets`, for async tests."""
        __tracebackhide__ = True
        from ._site import websocket_site  # noqa: PLC0415 - loaded when first used

        site = websocket_site(self._site)  # type: ignore[attr-defined]
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
        from ._site import websocket_site  # noqa: PLC0415 - loaded when first used

        return websocket_site(self._site).messages.wait_for(count, match=match, timeout=timeout)  # type: ignore[attr-defined]

    async def wait_for_websocket_messages_async(
        self,
        count: int = 1,
        *,
        match: Callable[[WebSocketMessage], bool] | None = None,
        timeout: float = 5.0,
    ) -> list[WebSocketMessage]:
        """The awaitable twin of :meth:`wait_for_websocket_messages`, for async tests."""
        __tracebackhide__ = True
        from ._site import websocket_site  # noqa: PLC0415 - loaded when first used

        site = websocket_site(self._site)  # type: ignore[attr-defined]
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
                or an :class:`~understudy.AsyncWebSocket` (an ``async def``, on the loop). When
                it returns the connection is closed with 1000 (if still open); when it raises,
                with 1011 (RFC 6455 §7.4.1), and the exception reaches the test through
                ``check()``.
            max_message_size: bytes a received message may have after inflation (64 MiB by
                default; ``None``: no limit); a larger one closes the connection with 1009.

        Returns:
            The :class:`~understudy.WebSocketExpectation`, whose methods script the
            conversation (``send``, ``reply``, ``echo``, ``close``) and faults.

        Raises:
            ConfigurationError: a path not starting with ``/``, a handler not callable, a
                ``max_message_size`` neither an int >= 1 nor ``None``.
        """
        from ._handshake import check_message_size  # noqa: PLC0415 - websockets, when first used
        from ._stubs import WebSocketExpectation  # noqa: PLC0415

        stub = WebSocketExpectation(
            path,
            query=query,
            headers=headers,
            subprotocol=subprotocol,
            handler=handler,
            max_message_size=check_message_size(max_message_size),
        )
        self._router.add_websocket(stub)  # type: ignore[attr-defined]
        return stub

    def _take_failures(self) -> list[BaseException]:
        """The server's failures, and each ``expect_websocket`` no handshake reached
        (:class:`~understudy.UnmetExpectation`, as for ``expect``)."""
        failures: list[BaseException] = super()._take_failures()
        unmet = [
            stub
            for stub in self._router.websockets or ()  # type: ignore[attr-defined]
            if stub.required and not stub.connections
        ]
        if unmet:
            from .._errors import UnmetExpectation  # noqa: PLC0415 - only when one failed

            site = self._site.websocket  # type: ignore[attr-defined]
            count = len(unmet)
            lines = [f"{count} WebSocket expectation{'s' * (count != 1)} of {self!r} not met:"]
            lines += [f"  {stub.describe()}: no handshake matched it" for stub in unmet]
            if site is None or not site.connections.total:
                lines.append("  no WebSocket connection was accepted")
            failures.append(UnmetExpectation("\n".join(lines)))
        return failures
