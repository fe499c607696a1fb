"""Hosting an ASGI 3 application on the runtime's loop: the ``http`` scope with streamed bodies
(https://asgi.readthedocs.io/en/latest/specs/www.html, spec_version 2.3), and ``lifespan``."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from .._core.targets import origin_form
from .._server import describe_handler
from .._tasks import TaskStarter
from ._lifespan import ASGI_VERSIONS, Lifespan

if TYPE_CHECKING:
    from ._site import Exchange, Site

__all__ = ["ASGIApp", "ASGIHost"]

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[MutableMapping[str, Any], Receive, Send], Awaitable[None]]


class ASGIHost:
    """Runs an ASGI application: one task per request, plus the lifespan task."""

    streams_body = True
    runs_asgi = True  # (told apart without importing this module: getattr(host, "runs_asgi"))

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.answered_by = ("asgi", describe_handler(app))
        self.state: dict[str, Any] = {}
        self._lifespan: Lifespan | None = None
        self._starter: TaskStarter | None = None
        #: What each request's context is a copy of (set at each start).
        self._context = contextvars.Context()
        #: The scope's "scheme" and "server", set at each start (the port may change).
        self.scheme, self.server_address = "http", ("127.0.0.1", 0)

    def dispatch(self, site: Site, exchange: Exchange) -> None:
        """Start the app in a task of its own, in a copy of the server's context.

        The app runs in a task from its first line: ``asyncio.timeout()``, anyio's cancel
        scopes (Starlette, FastAPI) and ``asyncio.current_task()`` need one. It starts
        eagerly (see ``_tasks.py``): an app that answers without waiting costs no loop turn.
        Its context is a copy of the one the server started in, not of the current one: a
        pipelined request is dispatched as the previous response ends, inside that app (and
        a connection's callbacks may run in a copy of its context), whose variables it must
        not see.
        """
        call = _ASGICall(site, exchange, self)
        starter = self._starter
        if starter is None:
            starter = self._starter = TaskStarter(site.loop)
        task = starter.start(call.run(), self._context.copy())
        if task is not None:  # (None: the app answered in its first step, the usual case)
            call.task = task  # (in flight until run() ends, which releases it: no callback)
            site.hold(task, call.describe)

    async def startup(self, site: Site) -> None:
        """Run the lifespan startup; an app that does not speak lifespan (it raises before
        receiving ``lifespan.startup``, or sends a message of another scope) is served anyway.

        Raises:
            UnderstudyError: the app answered ``lifespan.startup.failed``, or raised after
                receiving ``lifespan.startup``.
            WaitTimeout: startup did not complete within 10 s.
        """
        self.state = {}
        self.scheme = site.scheme
        self.server_address = site.address
        self._context = contextvars.copy_context()
        lifespan = Lifespan(self.app, self.state, site)
        self._lifespan = lifespan
        await lifespan.startup()

    async def shutdown(self, timeout: float) -> None:
        lifespan, self._lifespan = self._lifespan, None
        if lifespan is not None:
            await lifespan.shutdown(timeout)
        starter, self._starter = self._starter, None
        if starter is not None:
            await starter.close()


#: The scope's ``path``, ``raw_path`` and ``query_string`` by request target, shared by every
#: host: tests ask for the same few targets again and again, and each is split and decoded once.
_TARGETS: dict[str, tuple[str, bytes, bytes]] = {}
#: Longer targets are not kept: 256 of them would hold ~1.5 MB at most.
_LONGEST_KEPT = 2048


def _target_parts(target: str) -> tuple[str, bytes, bytes]:
    """The scope's path, raw_path and query_string of ``target`` (ASGI HTTP spec), kept."""
    origin = target if target[:1] == "/" else origin_form(target)
    # A fragment is no part of a request target (RFC 9112 §3.2); one sent anyway is dropped,
    # as Request.path and Request.query_string drop it.
    raw_path, _, query = origin.partition("#")[0].partition("?")
    parts = (
        unquote(raw_path) if "%" in raw_path else raw_path,
        raw_path.encode("latin-1"),
        query.encode("latin-1"),
    )
    if len(target) <= _LONGEST_KEPT:
        if len(_TARGETS) >= 256:
            _TARGETS.clear()
        _TARGETS[target] = parts
    return parts


class _ASGICall:
    """One request/response cycle of the ``http`` scope."""

    __slots__ = (
        "_body_ready",
        "_chunks",
        "_completed",
        "_ended",
        "_gone",
        "body_done",
        "exchange",
        "host",
        "site",
        "start_message",
        "task",
    )

    def __init__(self, site: Site, exchange: Exchange, host: ASGIHost) -> None:
        self.site = site
        self.exchange = exchange
        self.host = host
        self.start_message: Message | None = None
        self.task: asyncio.Task[None] | None = None
        self._body_ready: asyncio.Event | None = None
        self._gone: asyncio.Event | None = None
        self._completed = False
        self.body_done = False
        if exchange.complete:  # the whole request is here (the usual case): nothing to follow
            parts = exchange.body_parts
            self._chunks = parts[:] if parts else []  # (the parser gives no empty chunks)
            self._ended = True
        else:
            self._chunks = []
            self._ended = False
            exchange.listen_to_body(self._on_body)

    def _on_body(self, chunk: bytes | None) -> None:
        if chunk is None:
            self._ended = True
        else:
            self._chunks.append(chunk)
        if self._body_ready is not None:
            self._body_ready.set()

    async def receive(self) -> Message:
        exchange = self.exchange
        if not self.body_done:
            while not self._chunks and not self._ended:
                if self._body_ready is None:
                    self._body_ready = asyncio.Event()
                self._body_ready.clear()
                await self._body_ready.wait()
            # The body ended whole, or was cut short (the client went away, or it was refused):
            # then what came is delivered with more_body true, and http.disconnect follows.
            whole = self._ended and exchange.complete
            if self._ended and (whole or not self._chunks):
                self.body_done = True
            if self._chunks or whole:
                body = self._chunks[0] if len(self._chunks) == 1 else b"".join(self._chunks)
                self._chunks.clear()
                return {"type": "http.request", "body": body, "more_body": not whole}
        # The request is read: the next event is the end of the exchange, when the response is
        # complete or the connection is gone.
        if not exchange.finished and exchange.connected:
            gone = self._gone
            if gone is None:
                gone = self._gone = asyncio.Event()
                exchange.done_listener = gone.set
            await gone.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        kind = message["type"]
        exchange = self.exchange
        if self._completed:
            raise RuntimeError(
                f"the ASGI app sent {kind!r} after its response was complete "
                "(http.response.body with more_body false ends it)"
            )
        if kind == "http.response.start":
            if self.start_message is not None:
                raise RuntimeError("the ASGI app sent http.response.start twice")
            self.start_message = message
        elif kind == "http.response.body":
            start = self.start_message
            if start is None:
                raise RuntimeError(
                    "the ASGI app sent http.response.body before http.response.start"
                )
            body = message.get("body", b"")
            if type(body) is not bytes:
                body = bytes(body)
            if message.get("more_body", False) or start.get("trailers"):  # (trailers end it)
                if not exchange.head_sent:
                    exchange.start_memoized(
                        int(start["status"]), None, tuple(start.get("headers", ())), None
                    )
                exchange.write(body)
                await exchange.drain()
                return
            self._completed = True
            if not exchange.head_sent:  # the whole response at once (usual): one piece to write
                exchange.start_memoized(
                    int(start["status"]),
                    None,
                    tuple(start.get("headers", ())),
                    len(body),
                    body,
                    end=True,
                )
            else:
                exchange.write(body)
                exchange.end()
        elif kind == "http.response.trailers":  # (offered over HTTP/2 only: see the scope)
            fields, more = list(message.get("headers", ())), bool(message.get("more_trailers"))
            exchange.send_trailers(fields, more)  # type: ignore[attr-defined]
        elif kind != "http.response.debug":
            raise RuntimeError(f"the ASGI app sent an unknown message type {kind!r}")

    async def run(self) -> None:
        """Run the app (in its own task) and answer for it if it fails or answers nothing."""
        exchange = self.exchange
        host = self.host
        try:
            # The http scope (ASGI HTTP spec 2.3), made here rather than in a method of its
            # own: a call the less per request.
            target = exchange.target
            parts = _TARGETS.get(target)
            if parts is None:
                parts = _target_parts(target)
            path, raw_path, query_string = parts
            state = host.state
            headers = []  # (a loop costs less than a comprehension, a function on Python 3.11)
            raw = iter(exchange.raw_fields)  # (flat: name, value, name, value...)
            for name in raw:
                headers.append((name.lower(), next(raw)))  # noqa: PERF401 - (see above)
            scope: dict[str, Any] = {
                "type": "http",
                "asgi": ASGI_VERSIONS,
                "http_version": exchange.http_version,
                "method": exchange.method,
                "scheme": host.scheme,
                "path": path,
                "raw_path": raw_path,
                "query_string": query_string,
                "root_path": "",
                "headers": headers,
                "client": exchange.peer,
                "server": host.server_address,
                "state": state.copy() if state else {},
                "extensions": {} if exchange.http_version < "2" else {"http.response.trailers": {}},
            }
            await host.app(scope, self.receive, self.send)
        except asyncio.CancelledError as cancelled:
            task = asyncio.current_task()
            if task is not None and task.cancelling():  # stop() gave up on it: cut it off
                exchange.abort()
                raise
            # Nobody cancelled the app's task: a future it awaited was cancelled elsewhere.
            error = RuntimeError(
                "the ASGI app raised CancelledError, but its task was not cancelled (a future "
                "or task it awaited was cancelled by someone else)"
            )
            error.__cause__ = cancelled
            self.failed(error)
            return
        except BaseException as error:  # noqa: BLE001 - the app's: reported by failed()
            self.failed(error)
            return
        finally:
            if self.task is not None:
                self.site.release(self.task)
        if not exchange.finished:
            self.returned()

    def describe(self) -> str:
        """The app and the request, as stop() names what is still running at its timeout."""
        exchange = self.exchange
        return (
            f"ASGI app {self.site.describe(self.host.app)} for {exchange.method} {exchange.target}"
        )

    def failed(self, error: BaseException) -> None:
        """The app raised ``error``: record it for check(); answer 500, or cut the response."""
        exchange = self.exchange
        self.site.fail(error)
        if exchange.head_sent:
            exchange.abort()
        else:
            exchange.send_error(500, "understudy: the ASGI app raised (see check())")

    def returned(self) -> None:
        """The app returned: it must have completed its response, unless nobody is listening."""
        exchange = self.exchange
        if exchange.finished or not exchange.connected:
            return  # (after a disconnect the app may return without answering)
        if exchange.head_sent:
            problem = (
                "the ASGI app returned before its response was complete (its last "
                "http.response.body had more_body true)"
            )
        elif self.start_message is not None:
            problem = (
                "the ASGI app returned after http.response.start without sending http.response.body"
            )
        else:
            problem = (
                "the ASGI app returned without sending a response "
                "(ASGI HTTP spec: it must send http.response.start)"
            )
        self.site.fail(RuntimeError(problem))
        if exchange.head_sent:
            exchange.abort()
        else:
            exchange.send_error(500, "understudy: the ASGI app sent no response")
