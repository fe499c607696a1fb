"""WebSocket stubs without an app: ``server.expect_websocket(path, ...)``.

An expectation matches the opening handshake as an HTTP expectation matches a request (path,
query, header fields, an offered subprotocol), then runs a scripted conversation (send on open,
replies to matching messages, echo, close or drop after N messages, faults), or a handler.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import json
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from .._errors import ConfigurationError, UnexpectedRequest
from ._arguments import check_after, check_frames, check_seconds, one_end
from ._asgi import serve_asgi_websocket
from ._closes import check_close
from ._handler import AsyncWebSocket, WebSocket
from ._handshake import DEFAULT_MAX_MESSAGE_SIZE, Handshake, check_handshake, switch
from ._records import WebSocketClose
from ._types import AnyExchange, Exchange, Router, Site, answer

if TYPE_CHECKING:
    from ._session import WebSocketSession

__all__ = ["WebSocketExpectation", "dispatch_websocket"]

#: Frames a client must refuse (RFC 6455), by the name ``send_invalid`` takes.
INVALID_FRAMES = {
    "utf8": b"\x81\x02\xff\xfe",  # a text frame that is not UTF-8 (§8.1): 1007
    "opcode": b"\x83\x00",  # a reserved opcode (§5.2): 1002
    "masked": b"\x81\x82\x01\x02\x03\x04\x69\x6b",  # a masked server frame (§5.1): 1002
}


class _Raw(bytes):
    """Bytes a script writes past the protocol (a fault)."""


#: What a reply rule matches a received message with.
Matcher = str | bytes | re.Pattern[str] | dict[str, Any] | list[Any] | Callable[[Any], bool]
#: What a script sends: text, bytes, or a JSON-able dict/list (sent as text), or a callable
#: making one of those from the received payload.
Outgoing = str | bytes | dict[str, Any] | list[Any] | Callable[[Any], Any]


def _encode(message: Any) -> str | bytes:
    if isinstance(message, str | bytes):
        return message
    if isinstance(message, dict | list):
        return json.dumps(message)
    raise ConfigurationError(
        f"a WebSocket message is str (text), bytes (binary) or a JSON-able dict or list, not "
        f"{type(message).__name__}"
    )


def _matches(matcher: Matcher, payload: str | bytes) -> bool:
    if isinstance(matcher, str | bytes):
        return matcher == payload
    if isinstance(matcher, re.Pattern):
        return isinstance(payload, str) and matcher.search(payload) is not None
    if isinstance(matcher, dict | list):
        try:
            return bool(json.loads(payload) == matcher)
        except ValueError:
            return False
    return bool(matcher(payload))


class WebSocketExpectation:
    """A stub WebSocket endpoint made by :meth:`HTTPServer.expect_websocket`.

    Each method adds to the script and returns the expectation, so calls chain:
    ``server.expect_websocket("/feed").send({"hello": 1}).reply("ping", "pong").echo()``; an
    argument it cannot use raises :class:`~understudy.ConfigurationError` there and then.
    With a ``handler``, the handler serves the connection and the script is not used.

    Attributes:
        path (str): the path the handshake's request target must have.
        connections (int): how many handshakes it has accepted.
        required (bool): whether ``check()`` fails when no handshake reached it (``False`` for
            one a mapping file declared, as for HTTP mappings).
        mapping_id (str | None): the id of the mapping that declared it, if a file did.
    """

    def __init__(
        self,
        path: str,
        *,
        query: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        subprotocol: str | None = None,
        handler: Callable[[Any], Any] | None = None,
        max_message_size: int | None = DEFAULT_MAX_MESSAGE_SIZE,
    ) -> None:
        if not isinstance(path, str) or not path.startswith("/"):
            raise ConfigurationError(f"expect_websocket's path starts with '/', not {path!r}")
        if handler is not None and not callable(handler):
            raise ConfigurationError(f"handler= must be callable, not {type(handler).__name__}")
        self.path = path
        self._query = dict(query or {})
        self._headers = {name.lower(): value for name, value in (headers or {}).items()}
        self._subprotocol = subprotocol
        self._handler = handler
        self._max_message_size = max_message_size
        self._on_open: list[str | bytes] = []  # (a _Raw is written as it is)
        self._replies: list[tuple[Matcher, Outgoing]] = []
        self._echo = False
        self._end: tuple[str, int, int, str] | None = None  # (how, after, code, reason)
        self._delay = 0.0
        self._frames = 1
        self._ignore_close = self._ignore_pings = False
        self._ping_interval = 0.0
        self.connections = 0
        self.required = True  # (the attributes are the class's docstring's)
        self.mapping_id: str | None = None

    # -- the script --------------------------------------------------------------------------

    def send(self, message: str | bytes | dict[str, Any] | list[Any]) -> WebSocketExpectation:
        """Send ``message`` as soon as the connection opens (in the order given)."""
        self._on_open.append(_encode(message))
        return self

    def reply(self, when: Matcher, message: Outgoing) -> WebSocketExpectation:
        """Answer each received message that ``when`` matches with ``message``.

        ``when`` is the exact text (``str``) or bytes, a compiled ``re.Pattern`` searched in
        text, a dict or list equal to the message parsed as JSON, or a predicate on the payload.
        ``message`` is str, bytes, a JSON-able dict or list, or a callable making one from the
        payload. The first matching rule answers; rules are tried in the order added.
        """
        if not callable(message):
            _encode(message)
        self._replies.append((when, message))
        return self

    def echo(self) -> WebSocketExpectation:
        """Send back each received message that no :meth:`reply` rule answered."""
        self._echo = True
        return self

    def close(self, code: int = 1000, reason: str = "", *, after: int = 0) -> WebSocketExpectation:
        """Close with ``code`` (1000-4999) and ``reason`` once ``after`` messages have been
        received (0: right after the messages sent on open). A code RFC 6455 §7.4 lets no close
        frame carry (1004-1006, 1015, 1016-2999) is a fault: sent all the same (a client that
        checks it fails the connection with 1002), and journaled as sent.

        Raises:
            ConfigurationError: a code outside 1000-4999, a reason over 123 bytes of UTF-8,
                ``after`` not an int >= 0, or a script that already ends (close, drop, stall).
        """
        check_close(code, reason, faults=True)
        one_end(self._end, "close")
        self._end = ("close", check_after(after), code, reason)
        return self

    def drop(self, *, after: int = 0) -> WebSocketExpectation:
        """Fault: end the TCP connection without a close frame once ``after`` messages have
        been received (the client sees 1006, RFC 6455 §7.1.5); a script ends once."""
        one_end(self._end, "drop")
        self._end = ("drop", check_after(after), 1006, "")
        return self

    def stall(self, *, after: int = 0) -> WebSocketExpectation:
        """Fault: once ``after`` messages have been received, send nothing more (no reply, no
        echo) and keep the connection open; the client's messages are still read and
        journaled, its pings and its close answered, and ``stop()`` closes it with 1001."""
        one_end(self._end, "stall")
        self._end = ("stall", check_after(after), 0, "")
        return self

    def ignore_close(self) -> WebSocketExpectation:
        """Fault: never answer a close the client begins (nor close the TCP connection)."""
        self._ignore_close = True
        return self

    def send_invalid(self, kind: str) -> WebSocketExpectation:
        """Fault: on open (in turn with :meth:`send`), write a frame the client must refuse:
        ``"utf8"`` (a text frame that is not UTF-8, RFC 6455 §8.1: the client closes 1007),
        ``"opcode"`` (a reserved opcode, §5.2: 1002) or ``"masked"`` (a masked frame from the
        server, §5.1: 1002).

        Raises:
            ConfigurationError: another ``kind``.
        """
        frame = INVALID_FRAMES.get(kind)
        if frame is None:
            raise ConfigurationError(
                f"send_invalid() takes one of {', '.join(map(repr, INVALID_FRAMES))}, not {kind!r}"
            )
        self._on_open.append(_Raw(frame))
        return self

    def ping_every(self, seconds: float) -> WebSocketExpectation:
        """Send a ping every ``seconds`` (a finite float > 0) while the connection is open (RFC
        6455 §5.5.2); the pongs are recorded (:attr:`WebSocketConnection.pongs`)."""
        self._ping_interval = check_seconds("ping_every", seconds, zero=False)
        return self

    def ignore_pings(self) -> WebSocketExpectation:
        """Fault: stop answering the client's pings (no automatic pong, RFC 6455 §5.5.3)."""
        self._ignore_pings = True
        return self

    def fragment(self, frames: int) -> WebSocketExpectation:
        """Fault: send each message in ``frames`` frames (an int >= 1; RFC 6455 §5.4)."""
        self._frames = check_frames(frames)
        return self

    def delay(self, seconds: float) -> WebSocketExpectation:
        """Condition: wait ``seconds`` (a finite float >= 0) before each reply (and each
        message sent on open)."""
        self._delay = check_seconds("delay", seconds, zero=True)
        return self

    # -- matching and serving ----------------------------------------------------------------

    def _differences(self, exchange: Exchange) -> list[str]:
        """Why the handshake in ``exchange`` does not match (empty: it matches)."""
        found = []
        path, _, query = exchange.target.partition("?")
        if path != self.path:
            found.append(f"path {path!r} is not {self.path!r}")
        received = dict(parse_qsl(query, keep_blank_values=True))
        for name, value in self._query.items():
            if received.get(name) != value:
                found.append(f"query {name}={received.get(name)!r}, expected {value!r}")
        for name, value in self._headers.items():
            got = exchange.header(name.encode("latin-1"))
            text = None if got is None else got.decode("latin-1")
            if text != value:
                shown = "nothing" if text is None else repr(text)  # (as HTTP's reports say)
                found.append(f"header {name}: {shown}, expected {value!r}")
        if self._subprotocol is not None:
            offered = (exchange.header(b"sec-websocket-protocol") or b"").decode("latin-1")
            if self._subprotocol not in [token.strip() for token in offered.split(",")]:
                found.append(f"subprotocol {self._subprotocol!r} not offered ({offered!r})")
        return found

    def describe(self) -> str:
        """How reports name it: ``expect_websocket('/path')``."""
        return f"expect_websocket({self.path!r})"

    def _serve(self, site: Site, exchange: Exchange) -> None:
        handshake = check_handshake(exchange, max_message_size=self._max_message_size)
        if handshake is None:
            return
        exchange.answered_by = ("websocket", self.describe())
        # (Switched once the connection has held what followed the head: after this read.)
        site.loop.call_soon(self._open, site, handshake)

    def _open(self, site: Site, handshake: Handshake) -> None:
        session = switch(site, handshake, subprotocol=self._subprotocol)
        session.frames_per_message = self._frames
        session.ignore_close = self._ignore_close
        session.ignore_pings = self._ignore_pings
        if self._ping_interval:
            site.loop.create_task(_ping(session, self._ping_interval))
        self.connections += 1
        handler = self._handler
        what = f"{self.describe()} on connection #{session.record.number}"
        if handler is None and not self._delay:
            self._run_now(session)
        elif handler is None:
            site.track(site.loop.create_task(self._script(session)), what)
        elif inspect.iscoroutinefunction(handler):
            site.track(site.loop.create_task(_run_async(handler, session)), what)
        else:

            def ended(future: asyncio.Future[Any]) -> None:
                # (as the ASGI host and websockets' server do: 1000 when it returned, 1011 when
                # it raised; a connection already closing is left as it is)
                failed = future.cancelled() or future.exception() is not None
                session.close(1011 if failed else 1000)
                site.release(future)

            site.hold(site.runtime.workers.submit_then(ended, handler, WebSocket(session)), what)

    async def _send(self, session: WebSocketSession, message: str | bytes) -> None:
        if self._delay:
            await asyncio.sleep(self._delay)
        session.send(message)
        await session.drain()

    def _run_now(self, session: WebSocketSession) -> None:
        """The script without a delay: every step is taken as its cue comes, on the loop,
        with no task (a reply is sent from the read that brought the message)."""
        for message in self._on_open:
            if isinstance(message, _Raw):
                session.write_raw(bytes(message))
            else:
                session.send(message)
        if self._ended(session, 0):
            return
        received = 0

        def on_message(event: str | bytes) -> None:
            nonlocal received
            received += 1
            answer = self._answer(event)
            if answer is not None:
                session.send(answer)
            self._ended(session, received)

        session.answer_with(on_message)

    def _ended(self, session: WebSocketSession, received: int) -> bool:
        """Close, drop or stall ``session`` if the script ends after ``received`` messages."""
        end = self._end
        if end is None or received < end[1]:
            return False
        how, _, code, reason = end
        if how == "stall":
            session.answer_with(_withhold)  # (read and journaled from now on, not answered)
        elif how == "close":
            session.close(code, reason)
        else:
            session.abort()
        return True

    async def _script(self, session: WebSocketSession) -> None:
        for message in self._on_open:
            if isinstance(message, _Raw):
                session.write_raw(bytes(message))
            else:
                await self._send(session, message)
        received = 0
        while not self._ended(session, received):
            event = await session.receive()
            if isinstance(event, WebSocketClose):
                return
            received += 1
            try:
                answer = self._answer(event)
            except Exception:  # (for check(), from the task; the client is told as _run_now's)
                session.close(1011, "the stub's reply raised")
                raise
            if answer is not None:
                await self._send(session, answer)

    def _answer(self, payload: str | bytes) -> str | bytes | None:
        for when, message in self._replies:
            if _matches(when, payload):
                return _encode(message(payload) if callable(message) else message)
        return payload if self._echo else None


def _withhold(payload: str | bytes) -> None:
    """A stalled script's answer to a message: none."""


async def _run_async(handler: Callable[[Any], Any], session: WebSocketSession) -> None:
    """Run an ``async def`` handler; close the connection when it ends: 1000 when it returned,
    1011 (RFC 6455 §7.4.1, an unexpected condition) when it raised."""
    try:
        await handler(AsyncWebSocket(session))
    except BaseException:
        session.close(1011)
        raise
    session.close(1000)


async def _ping(session: WebSocketSession, interval: float) -> None:
    """Ping ``session`` every ``interval`` seconds until it ends (not an in-flight handler:
    stop() does not wait for it)."""
    done = session.done
    while not done.done():
        try:
            await asyncio.wait_for(asyncio.shield(done), interval)
        except TimeoutError:
            session.ping()


def dispatch_websocket(site: Site, router: Router, exchange: AnyExchange) -> None:
    """Answer the WebSocket handshake in ``exchange``: the newest matching stub
    (``router.websockets``), else the ASGI app (the ``websocket`` scope), else the router's
    ``unmatched_status`` with the near-miss report and :class:`~understudy.UnexpectedRequest`
    for ``check()`` (unless ``allow_unmatched``)."""
    stubs: list[WebSocketExpectation] = router.websockets or []
    for stub in reversed(stubs):
        if not stub._differences(exchange):
            stub._serve(site, exchange)
            return
    if getattr(router.host, "runs_asgi", False):  # (an ASGIHost: asked without importing it)
        serve_asgi_websocket(site, exchange, router.host, contextvars.copy_context())
        return
    lines = [f"no WebSocket expectation matched the handshake GET {exchange.target}"]
    lines += [f"  {stub.describe()}: " + "; ".join(stub._differences(exchange)) for stub in stubs]
    report = "\n".join(lines)
    if not router.allow_unmatched:
        site.fail(UnexpectedRequest(report))
    exchange.answered_by = ("unmatched", "")
    answer(exchange, router.unmatched_status, (report + "\n").encode())
