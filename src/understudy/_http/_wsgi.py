"""Hosting a WSGI application (PEP 3333) in the worker pool.

The application is called as soon as the request's header section has arrived; ``wsgi.input``
streams the body as it comes. The response is sent once the first non-empty body chunk is produced
(or the iterable ends), framed with the application's Content-Length, else with the whole length
when the iterable is a list or tuple, else chunked (close-delimited to an HTTP/1.0 client).
Once the client has gone, the iterable is iterated no further; its ``close()`` is always called.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_to_bytes

from .._core.framing import field_value_problem, parse_digits, reason_problem
from .._core.targets import origin_form
from .._server import describe_handler
from ._fields import field_pairs
from ._send import ThreadResponder, gone

if TYPE_CHECKING:
    from ._site import Exchange, Site

__all__ = ["WSGIApp", "WSGIHost"]

ExcInfo = tuple[type[BaseException], BaseException, TracebackType]
StartResponse = Callable[..., Callable[[bytes], object]]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class WSGIInput:
    """``wsgi.input``: the request body, readable in a worker thread while it arrives."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._eof = False
        self._cond = threading.Condition(threading.Lock())

    def feed(self, chunk: bytes | None) -> None:
        """From the loop: more body, or ``None`` at its end."""
        with self._cond:
            if chunk is None:
                self._eof = True
            else:
                self._buffer += chunk
            self._cond.notify_all()

    def _take(self, size: int) -> bytes:
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    def read(self, size: int | None = -1) -> bytes:
        """Read ``size`` bytes (all that remain if negative or None), blocking as needed."""
        with self._cond:
            if size is None or size < 0:
                self._cond.wait_for(lambda: self._eof)
                return self._take(len(self._buffer))
            self._cond.wait_for(lambda: self._eof or len(self._buffer) >= size)
            return self._take(size)

    def readline(self, size: int | None = -1) -> bytes:
        """Read up to and including the next LF (at most ``size`` bytes if given)."""
        limit = sys.maxsize if size is None or size < 0 else size
        with self._cond:
            self._cond.wait_for(
                lambda: self._eof or b"\n" in self._buffer or len(self._buffer) >= limit
            )
            end = self._buffer.find(b"\n")
            end = len(self._buffer) if end < 0 else end + 1
            return self._take(min(end, limit))

    def readlines(self, hint: int | None = None) -> list[bytes]:
        """Read lines until the end (or until about ``hint`` bytes were read)."""
        lines: list[bytes] = []
        total = 0
        while line := self.readline():
            lines.append(line)
            total += len(line)
            if hint is not None and 0 < hint <= total:
                break
        return lines

    def __iter__(self) -> Iterator[bytes]:
        while line := self.readline():
            yield line


def _environ(site: Site, exchange: Exchange, wsgi_input: WSGIInput) -> dict[str, Any]:
    # (a fragment, no part of a request target, RFC 9112 §3.2, is dropped if sent)
    raw_path, _, query = origin_form(exchange.target).partition("#")[0].partition("?")
    environ: dict[str, Any] = {
        "REQUEST_METHOD": exchange.method,
        "SCRIPT_NAME": "",
        "PATH_INFO": unquote_to_bytes(raw_path).decode("latin-1"),
        "QUERY_STRING": query,
        "SERVER_NAME": site.address[0],
        "SERVER_PORT": str(site.address[1]),
        "SERVER_PROTOCOL": f"HTTP/{exchange.http_version}",
        "REMOTE_ADDR": exchange.peer[0] if exchange.peer else "",
        "REMOTE_PORT": str(exchange.peer[1]) if exchange.peer else "",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": exchange.scheme,
        "wsgi.input": wsgi_input,
        "wsgi.input_terminated": True,
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    for raw_name, raw_value in field_pairs(exchange.raw_fields):
        name = raw_name.decode("latin-1").upper().replace("-", "_")
        value = raw_value.decode("latin-1")
        if name not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            name = "HTTP_" + name
        if name in environ:
            environ[name] += "," + value  # RFC 9110 §5.3: combined field value
        else:
            environ[name] = value
    return environ


class WSGIHost:
    """Runs a WSGI application for each request, in the worker pool."""

    streams_body = True

    def __init__(self, app: WSGIApp) -> None:
        self.app = app
        self.answered_by = ("wsgi", describe_handler(app))

    def dispatch(self, site: Site, exchange: Exchange) -> None:
        wsgi_input = WSGIInput()
        exchange.listen_to_body(wsgi_input.feed)
        environ = _environ(site, exchange, wsgi_input)
        future = site.runtime.run_in_worker(self._run, site, exchange, environ)
        site.track(
            future, f"WSGI app {site.describe(self.app)} for {exchange.method} {exchange.target}"
        )

    def _run(self, site: Site, exchange: Exchange, environ: dict[str, Any]) -> None:
        call = _WSGICall(site, exchange)
        try:
            call.run(self.app, environ)
        except BaseException as error:  # noqa: BLE001 - the app's error goes to check()
            site.fail(error)
            call.fail()


def _as_bytes(data: object) -> bytes:
    """A body chunk that is not ``bytes``, as bytes; a str (or anything not bytes-like) is the
    app's mistake, raised here in its worker, where it reaches check() and the client gets 500,
    not on the loop, where the client would get an empty body."""
    try:
        return bytes(memoryview(data))  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(
            f"the WSGI app gave a body chunk of type {type(data).__name__}, not bytes "
            "(PEP 3333: the body is bytes; encode a str first)"
        ) from None


class _WSGICall:
    """The state of one application call: start_response, write, and the result iterable."""

    def __init__(self, site: Site, exchange: Exchange) -> None:
        self.exchange = exchange
        self.responder = ThreadResponder(site, exchange)
        self.status: tuple[int, str] | None = None
        self.fields: list[tuple[str, str]] = []
        self.head_sent = False
        self.has_length = False

    def start_response(
        self,
        status: str,
        headers: list[tuple[str, str]],
        exc_info: ExcInfo | None = None,
    ) -> Callable[[bytes], object]:
        if exc_info is not None:
            if self.head_sent:
                raise exc_info[1].with_traceback(exc_info[2])
        elif self.status is not None:
            raise AssertionError("start_response was called twice without exc_info (PEP 3333)")
        code, _, reason = status.partition(" ")
        number = parse_digits(code) if len(code) == 3 else None
        if number is None:
            raise ValueError(f"the WSGI status must look like '200 OK', not {status!r}")
        problem = reason_problem(reason)
        if problem is not None:  # (a line break would start a field of the client's choosing)
            raise ValueError(f"the WSGI status {status!r}: {problem}")
        self.status = (number, reason)
        self.fields = [(str(name), str(value)) for name, value in headers]
        for name, value in self.fields:
            problem = field_value_problem(value)
            if problem is not None:  # (PEP 3333: no control characters in header values)
                raise ValueError(f"the WSGI header {name!r}: {problem}")
        self.has_length = any(name.lower() == "content-length" for name, _ in self.fields)
        return self.write

    def _send_head(self, length: int | None) -> None:
        if self.status is None:
            raise AssertionError("the WSGI app produced a body before calling start_response")
        self.head_sent = True
        self.responder.start(self.status[0], self.status[1], self.fields, length)

    def write(self, data: bytes) -> None:
        """Send a body chunk (the ``write()`` callable, and each chunk of the iterable).

        Raises:
            TypeError: ``data`` is not bytes-like (a str: PEP 3333 bodies are bytes).
        """
        if type(data) is not bytes:
            data = _as_bytes(data)
        if not self.head_sent:
            self._send_head(None)
        self.responder.write(data)

    def run(self, app: WSGIApp, environ: dict[str, Any]) -> None:
        result = app(environ, self.start_response)
        try:
            if isinstance(result, list | tuple) and not self.head_sent:
                body = b"".join(result)
                self._send_head(None if self.has_length else len(body))
                self.responder.write(body)
            else:
                for chunk in result:
                    if gone(self.exchange):
                        break  # (an endless body would run on, written to nobody, past stop())
                    if chunk:
                        self.write(chunk)
                if not self.head_sent:
                    self._send_head(0)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        self.responder.end()

    def fail(self) -> None:
        if self.head_sent:
            self.responder.abort()
        else:
            self.responder.send_error(500, "understudy: the WSGI app raised (see check())")
