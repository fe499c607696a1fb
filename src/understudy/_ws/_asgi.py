"""The ASGI ``websocket`` scope (ASGI WebSocket spec 2.4), with the denial-response extension.

Spec: https://asgi.readthedocs.io/en/latest/specs/www.html#websocket. The handshake is checked
before the app runs (a bad one is answered 400/426 and the app never sees it); the app then
gets ``websocket.connect`` and answers with ``websocket.accept`` (the 101), ``websocket.close``
(403 before accepting) or ``websocket.http.response.start``/``body`` (any HTTP response).
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import unquote

from .._core.targets import origin_form
from ._closes import check_close
from ._handshake import Handshake, check_handshake, switch
from ._records import WebSocketClose
from ._types import Exchange, Site, answer

if TYPE_CHECKING:
    from ._session import WebSocketSession

__all__ = ["WebSocketDisconnected", "serve_asgi_websocket"]

Message = MutableMapping[str, Any]
_ASGI = {"version": "3.0", "spec_version": "2.4"}


class WebSocketDisconnected(OSError):
    """The ASGI app sent on a WebSocket that is closed (ASGI WebSocket spec 2.4: an IOError)."""


def _payload(message: Message) -> str | bytes:
    """The payload of ``websocket.send``: exactly one of ``text`` (a str) and ``bytes``."""
    text, data = message.get("text"), message.get("bytes")
    if text is None and isinstance(data, bytes | bytearray | memoryview):
        return bytes(data)
    if data is None and isinstance(text, str):
        return text
    raise RuntimeError(
        "the ASGI app sent websocket.send without exactly one of text (a str) and bytes (ASGI "
        f"WebSocket spec: the other is None or absent), but text={text!r:.40} and "
        f"bytes={data!r:.40}"
    )


def _close(session: WebSocketSession, message: Message) -> None:
    """``websocket.close`` on an open WebSocket; a code or reason no close frame may carry is a
    ConfigurationError in the app (for ``check()``), nothing sent."""
    code, reason = message.get("code") or 1000, message.get("reason") or ""
    check_close(code, reason)
    session.close(int(code), reason)


class _Host(Protocol):
    """What the ASGI host gives a WebSocket call (see ``_http/_asgi.py``'s ASGIHost)."""

    app: Callable[[MutableMapping[str, Any], Any, Any], Awaitable[None]]
    answered_by: tuple[str, str]  # (("asgi", the app's name): what the 101 is recorded as)
    state: dict[str, Any]
    scheme: str
    server_address: tuple[str, int]


def serve_asgi_websocket(
    site: Site, exchange: Exchange, host: _Host, context: contextvars.Context
) -> None:
    """Check the handshake in ``exchange`` and run the app on it in a task of its own; a
    message larger than the server's ``websocket_max_message_size`` closes it with 1009."""
    handshake = check_handshake(exchange, max_message_size=site.limits.websocket_max_message_size)
    if handshake is None:
        return
    call = _WebSocketCall(site, handshake, host)
    task = site.loop.create_task(call.run(), context=context)
    site.hold(task, call.describe)


class _WebSocketCall:
    def __init__(self, site: Site, handshake: Handshake, host: _Host) -> None:
        self.site = site
        self.handshake = handshake
        self.host = host
        self.connected = False
        self.session: WebSocketSession | None = None
        #: The app answered the handshake with an HTTP response (denial) or a close.
        self.denial: Message | None = None
        self.finished = False  # (the handshake was answered, one way or another)

    def describe(self) -> str:
        exchange = self.handshake.exchange
        return f"ASGI app {self.site.describe(self.host.app)} for WebSocket {exchange.target}"

    def _scope(self) -> dict[str, Any]:
        exchange = self.handshake.exchange
        target = exchange.target
        origin = target if target[:1] == "/" else origin_form(target)
        raw_path, _, query = origin.partition("#")[0].partition("?")
        raw = iter(exchange.raw_fields)
        headers = [(name.lower(), value) for name, value in zip(raw, raw, strict=True)]
        state = self.host.state
        return {
            "type": "websocket",
            "asgi": _ASGI,
            "http_version": exchange.http_version,
            "scheme": "wss" if self.host.scheme == "https" else "ws",
            "path": unquote(raw_path),
            "raw_path": raw_path.encode("latin-1"),
            "query_string": query.encode("latin-1"),
            "root_path": "",
            "headers": headers,
            "client": exchange.peer,
            "server": self.host.server_address,
            "subprotocols": list(self.handshake.offered),
            "state": state.copy() if state else {},
            "extensions": {"websocket.http.response": {}},
        }

    async def receive(self) -> Message:
        if not self.connected:
            self.connected = True
            return {"type": "websocket.connect"}
        session = self.session
        if session is None:
            # Refused, or not accepted yet: nothing will come from the client.
            if self.finished:
                return {"type": "websocket.disconnect", "code": 1006, "reason": ""}
            raise RuntimeError(
                "the ASGI app awaited receive() again before websocket.accept (ASGI WebSocket "
                "spec: accept, close or send an HTTP response first)"
            )
        inbox = session.inbox
        while not inbox:
            await session.arrival()
        event = inbox[0]
        if isinstance(event, str):
            inbox.popleft()
            return {"type": "websocket.receive", "text": event, "bytes": None}
        if isinstance(event, WebSocketClose):  # (left in the inbox: the end, again)
            return {"type": "websocket.disconnect", "code": event.code, "reason": event.reason}
        inbox.popleft()
        return {"type": "websocket.receive", "bytes": event, "text": None}

    async def send(self, message: Message) -> None:
        kind = message["type"]
        session = self.session
        if session is not None:
            if kind == "websocket.send":
                if not session.send(_payload(message)):
                    raise WebSocketDisconnected("the WebSocket connection is closed")
                paused = session.paused
                if paused is not None and not paused.done():
                    await paused
            elif kind == "websocket.close":
                _close(session, message)
            elif kind == "websocket.accept":
                raise RuntimeError("the ASGI app sent websocket.accept twice")
            else:
                raise RuntimeError(f"the ASGI app sent {kind!r} on an open WebSocket")
            return
        if self.finished and self.denial is None:
            raise WebSocketDisconnected("the WebSocket handshake was already answered")
        exchange = self.handshake.exchange
        if kind == "websocket.accept":
            self._accept(message)
        elif kind == "websocket.close":
            # Before accepting: the handshake is refused with 403 (ASGI WebSocket spec).
            self.finished = True
            exchange.answered_by = ("asgi", "websocket.close before accept")
            answer(exchange, 403, b"")
        elif kind == "websocket.http.response.start":
            self.finished = True
            self.denial = message
            self.denial["body"] = []
        elif kind == "websocket.http.response.body":
            denial = self.denial
            if denial is None:
                raise RuntimeError(
                    "the ASGI app sent websocket.http.response.body before "
                    "websocket.http.response.start"
                )
            denial["body"].append(bytes(message.get("body", b"")))
            if not message.get("more_body", False):
                self.denial = None
                answer(
                    exchange,
                    int(denial["status"]),
                    b"".join(denial["body"]),
                    [
                        (bytes(n).decode("latin-1"), bytes(v).decode("latin-1"))
                        for n, v in denial.get("headers") or ()
                    ],
                )
        else:
            raise RuntimeError(f"the ASGI app sent {kind!r} before websocket.accept")

    def _accept(self, message: Message) -> None:
        """``websocket.accept``: the 101, with the app's subprotocol and header fields."""
        headers = [
            (bytes(name).decode("latin-1"), bytes(value).decode("latin-1"))
            for name, value in message.get("headers") or ()
        ]
        subprotocol = message.get("subprotocol")
        if subprotocol is not None and subprotocol not in self.handshake.offered:
            raise RuntimeError(
                f"the ASGI app accepted with subprotocol {subprotocol!r}, which the client did "
                f"not offer (it offered {list(self.handshake.offered)}; RFC 6455 §4.2.2: the "
                "server picks one of those, or none)"
            )
        self.finished, self.handshake.exchange.answered_by = True, self.host.answered_by
        self.session = switch(self.site, self.handshake, subprotocol=subprotocol, headers=headers)

    async def run(self) -> None:
        task = asyncio.current_task()
        try:
            await self.host.app(self._scope(), self.receive, self.send)
        except asyncio.CancelledError:
            self._end(1011)
            raise
        except BaseException as error:  # noqa: BLE001 - the app's: reported to check()
            self.site.fail(error)
            self._end(1011)
            return
        finally:
            if task is not None:
                self.site.release(task)
        self._end(1000)

    def _end(self, code: int) -> None:
        """The app is done: close an open WebSocket with ``code``, answer an open handshake."""
        session = self.session
        if session is not None:
            session.close(code)
            return
        exchange = self.handshake.exchange
        if not exchange.finished:
            if code == 1000:
                exchange.answered_by = ("asgi", "returned before websocket.accept")
                answer(exchange, 403, b"")
            else:
                exchange.send_error(
                    500, "understudy: the ASGI app raised (see check())", close=True
                )
