"""The servers under test, each behind the same small interface: start one, read its port, stop it.

Every server answers ``GET /`` with the same 13-byte ``text/plain`` body. Access logs are off for
every peer (werkzeug's request log, http.server's ``log_message``, uvicorn's access log), so no
server pays for writing a line per request.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import threading
import time
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, Protocol

import httptools
import pytest_httpserver
import uvicorn
from pytest_localserver.http import ContentServer

import understudy
from understudy._tasks import TaskStarter

__all__ = [
    "ASGI_FLOOR",
    "BODY",
    "HOST",
    "PYTEST_HTTPSERVER",
    "PYTEST_LOCALSERVER",
    "THREADING_HTTPSERVER",
    "UNDERSTUDY",
    "UNDERSTUDY_ASGI",
    "UNDERSTUDY_HANDLER",
    "UVICORN_ASGI",
    "Running",
    "Subject",
    "asgi_app",
]

HOST = "127.0.0.1"
BODY = b"hello, world\n"
_CONTENT_TYPE = "text/plain"
#: Seconds a thread-hosted peer (uvicorn) may take to say it is serving.
_STARTUP_TIMEOUT = 10.0


class Running(Protocol):
    """A started server."""

    @property
    def port(self) -> int: ...

    def stop(self) -> None: ...

    def details(self) -> dict[str, object]:
        """Facts worth recording after a run (e.g. how many requests the journal holds)."""
        ...


@dataclass(frozen=True)
class Subject:
    """A kind of server: ``start()`` makes a fresh one and returns it serving."""

    key: str
    label: str
    start: Callable[[], Running]


# -- the apps hosted ---------------------------------------------------------------------------


async def asgi_app(
    scope: MutableMapping[str, Any],
    receive: Callable[[], Any],
    send: Callable[[MutableMapping[str, Any]], Any],
) -> None:
    """A minimal ASGI 3 app: ``BODY`` to every request; completes the lifespan protocol."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", _CONTENT_TYPE.encode()),
                (b"content-length", str(len(BODY)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": BODY})


def sync_handler(request: understudy.Request) -> understudy.Response:
    """A plain (sync) handler callable: runs in understudy's worker pool."""
    return understudy.Response(200, body=BODY, content_type=_CONTENT_TYPE)


# -- understudy --------------------------------------------------------------------------------


class _Understudy:
    __slots__ = ("port", "server")  # (d) counts what a server costs, not this wrapper

    def __init__(self, server: understudy.HTTPServer) -> None:
        self.server = server.start()
        self.port = self.server.port

    def stop(self) -> None:
        self.server.stop()

    def details(self) -> dict[str, object]:
        return {"journal_entries": len(self.server.requests)}


def _understudy_canned() -> Running:
    return _Understudy(
        understudy.HTTPServer(
            response=understudy.Response(200, body=BODY, content_type=_CONTENT_TYPE)
        )
    )


def _understudy_asgi() -> Running:
    return _Understudy(understudy.HTTPServer(asgi=asgi_app))


def _understudy_handler() -> Running:
    return _Understudy(understudy.HTTPServer(handler=sync_handler))


# -- pytest-httpserver (werkzeug, one thread, socketserver's 0.5 s poll) --------------------------


class _PytestHTTPServer:
    def __init__(self) -> None:
        server = pytest_httpserver.HTTPServer(host=HOST, port=0)
        server.expect_request("/").respond_with_data(BODY, content_type=_CONTENT_TYPE)
        server.start()
        self._server = server
        self.port = int(server.port)

    def stop(self) -> None:
        # What its `httpserver` fixture does for a fresh server: stop, then forget the log.
        self._server.stop()
        self._server.clear()

    def details(self) -> dict[str, object]:
        return {}


# -- pytest-localserver (werkzeug in a thread) --------------------------------------------------


class _PytestLocalServer:
    def __init__(self) -> None:
        server = ContentServer(host=HOST, port=0)
        server.serve_content(BODY, headers={"Content-Type": _CONTENT_TYPE})
        server.daemon = True
        server.start()
        self._server = server
        self.port = int(server.server_address[1])

    def stop(self) -> None:
        # Its fixture calls stop() (socketserver's shutdown()); the listening socket is then left
        # open, so close it too (microseconds) rather than leak a descriptor per cycle.
        self._server.stop()
        self._server._server.server_close()

    def details(self) -> dict[str, object]:
        return {}


# -- http.server.ThreadingHTTPServer in a thread ----------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a stand-in for an HTTP/1.1 server would

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", _CONTENT_TYPE)
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        pass


class _ThreadingHTTPServer:
    def __init__(self) -> None:
        self._server = ThreadingHTTPServer((HOST, 0), _Handler)
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="bench-http.server", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()  # joins the handler threads (block_on_close)
        self._thread.join()

    def details(self) -> dict[str, object]:
        return {}


# -- uvicorn in a thread, on a socket bound here ---------------------------------------------


class _Uvicorn:
    def __init__(self) -> None:
        # Its default loop and http implementations ("auto"), binding as `uvicorn.run` does
        # (port 0: the kernel chooses); no access log; logging left as it is.
        config = uvicorn.Config(
            asgi_app,
            host=HOST,
            port=0,
            access_log=False,
            log_level="warning",
            log_config=None,
            lifespan="on",
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="bench-uvicorn")
        self._thread.daemon = True
        self._thread.start()
        deadline = time.monotonic() + _STARTUP_TIMEOUT
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"uvicorn did not start within {_STARTUP_TIMEOUT:g} s")
            time.sleep(0.01)
        self.port = int(self._server.servers[0].sockets[0].getsockname()[1])

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(_STARTUP_TIMEOUT)

    def details(self) -> dict[str, object]:
        return {}


# -- the floor: the least an ASGI server on asyncio and httptools can do ------------------------


class _FloorProtocol(asyncio.Protocol):
    """A bare HTTP/1.1 server for ``asgi_app``: what any ASGI server on this stack must do.

    It parses with httptools, keeps each request (method, target, fields) in a list, makes the
    scope, runs the app in a task from its first line (what asyncio.timeout() and anyio's cancel
    scopes need), started eagerly as understudy starts it (a task per request, as uvicorn does,
    costs a quarter more on Python 3.11), and writes the response once per loop iteration. It
    checks nothing, times nothing and answers only this app: no server is cheaper that hosts
    apps correctly, so its req/s ÷ uvicorn's bounds what the ASGI target can reach.
    """

    pending: ClassVar[list[tuple[asyncio.Transport, bytes]]] = []

    def __init__(
        self, journal: list[tuple[bytes, bytes, list[tuple[bytes, bytes]]]], starter: TaskStarter
    ) -> None:
        self.journal = journal
        self.starter = starter
        self.parser = httptools.HttpRequestParser(self)
        self.url = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.parser.feed_data(data)

    def on_url(self, url: bytes) -> None:
        self.url = url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_message_complete(self) -> None:
        method = self.parser.get_method()
        self.journal.append((method, self.url, self.headers))
        path, _, query = self.url.partition(b"?")
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method.decode(),
            "scheme": "http",
            "path": path.decode(),
            "raw_path": path,
            "query_string": query,
            "root_path": "",
            "headers": [(name.lower(), value) for name, value in self.headers],
            "client": None,
            "server": None,
            "state": {},
        }
        self.headers = []
        self.starter.start(self._run(scope), contextvars.copy_context())

    async def _run(self, scope: dict[str, Any]) -> None:
        out: list[bytes] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                fields = b"".join(
                    name + b": " + value + b"\r\n" for name, value in message["headers"]
                )
                out.append(b"HTTP/1.1 200 OK\r\n" + fields + b"\r\n")
            else:
                out.append(message["body"])

        await asgi_app(scope, receive, send)
        if self.transport is not None:
            if not self.pending:
                asyncio.get_running_loop().call_soon(self._flush)
            self.pending.append((self.transport, b"".join(out)))

    @classmethod
    def _flush(cls) -> None:
        pending = cls.pending[:]
        cls.pending.clear()
        for transport, data in pending:
            if not transport.is_closing():
                transport.write(data)


class _AsgiFloor:
    def __init__(self) -> None:
        self.journal: list[tuple[bytes, bytes, list[tuple[bytes, bytes]]]] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="bench-floor")
        self._thread.daemon = True
        self._thread.start()
        self._starter = TaskStarter(self._loop)
        server = asyncio.run_coroutine_threadsafe(
            self._loop.create_server(lambda: _FloorProtocol(self.journal, self._starter), HOST, 0),
            self._loop,
        ).result(_STARTUP_TIMEOUT)
        self._server = server
        self.port = int(server.sockets[0].getsockname()[1])

    def stop(self) -> None:
        async def close() -> None:
            self._server.close()
            await self._server.wait_closed()
            await self._starter.close()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(_STARTUP_TIMEOUT)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(_STARTUP_TIMEOUT)
        self._loop.close()

    def details(self) -> dict[str, object]:
        return {"journal_entries": len(self.journal)}


def _quiet_peer_logs() -> None:
    # werkzeug logs every request at INFO, on a handler it adds itself when none is set.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)


_quiet_peer_logs()

UNDERSTUDY = Subject("understudy", "understudy", _understudy_canned)
UNDERSTUDY_ASGI = Subject("understudy-asgi", "understudy, minimal ASGI app", _understudy_asgi)
UNDERSTUDY_HANDLER = Subject(
    "understudy-handler", "understudy, sync handler callable", _understudy_handler
)
PYTEST_HTTPSERVER = Subject("pytest-httpserver", "pytest-httpserver", _PytestHTTPServer)
PYTEST_LOCALSERVER = Subject("pytest-localserver", "pytest-localserver", _PytestLocalServer)
THREADING_HTTPSERVER = Subject(
    "http.server", "http.server ThreadingHTTPServer", _ThreadingHTTPServer
)
UVICORN_ASGI = Subject("uvicorn-asgi", "uvicorn, minimal ASGI app", _Uvicorn)
ASGI_FLOOR = Subject(
    "asgi-floor", "floor: bare ASGI server, apps started eagerly (no checks)", _AsgiFloor
)
