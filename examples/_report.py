"""How the demo prints: a heading per section, a block per exchange, and the checks that failed.

Every section receives one :class:`Report`. It writes what the client did, what the server
received and what the client got, and counts the checks, so that ``demo.py`` can exit non-zero
when any of them failed.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TextIO

import understudy

__all__ = ["Got", "Report", "summarize", "take_request", "take_request_async"]

_INDENT = "    "
_LABEL_WIDTH = 17  # "server received  " and "client got       " line up


@dataclass(frozen=True)
class Got:
    """What a client got back, whichever library it is.

    Attributes:
        status: the status code.
        reason: the reason phrase.
        content_type: the Content-Type field (``""`` if none).
        body: the content, decoded from any transfer coding.
        shown: response fields worth showing, ``(name, value)`` pairs.
    """

    status: int
    reason: str
    content_type: str
    body: bytes
    shown: tuple[tuple[str, str], ...] = ()


@dataclass
class Report:
    """The demo's printer and tally of checks.

    Args:
        out: where to write (``sys.stdout`` by default).
    """

    out: TextIO = field(default_factory=lambda: sys.stdout)
    checks: int = 0
    failures: list[str] = field(default_factory=list)

    def line(self, text: str = "", *, indent: int = 1) -> None:
        """Print ``text`` indented by ``indent`` steps of four spaces."""
        print(f"{_INDENT * indent}{text}" if text else "", file=self.out)

    def heading(self, number: int, title: str) -> None:
        """Open a section: ``[n] title`` underlined."""
        text = f"[{number}] {title}"
        print(f"\n{text}\n{'-' * len(text)}", file=self.out)

    def server(self, construction: str, server: understudy.HTTPServer) -> None:
        """Say which server this section runs and where it listens."""
        self.line(f"server: {construction}  listening at {server.url}")

    def exchange(
        self,
        call: str,
        received: understudy.Request,
        got: Got,
        *,
        headers: Iterable[str] = ("User-Agent",),
    ) -> None:
        """Print one request/response: the client call, the server's side, the client's side.

        Args:
            call: the client code that made the request, as the reader would write it.
            received: the request as the server recorded it.
            got: what the client got back.
            headers: names of the request fields worth showing.
        """
        self.line()
        self.line(f">>> {call}")
        self._pair("server received", f"{received.method} {received.target}", indent=2)
        for name in headers:
            if name in received.headers:
                self._pair("", f"{name}: {received.headers[name]}", indent=2)
        if received.body:
            self._pair("", f"body: {summarize(received.body)}", indent=2)
        media_type = f"  ({got.content_type})" if got.content_type else ""
        self._pair("client got", f"{got.status} {got.reason}{media_type}", indent=2)
        for name, value in got.shown:
            self._pair("", f"{name}: {value}", indent=2)
        self._pair("", f"body: {summarize(got.body)}", indent=2)

    def note(self, text: str) -> None:
        """Print a remark that is neither a request nor a response (lifespan, restart...)."""
        self.line()
        self.line(f"# {text}")

    def check(self, condition: bool, expectation: str) -> None:
        """Count a check; when ``condition`` is false, print and keep ``expectation`` as failed."""
        self.checks += 1
        if not condition:
            self.failures.append(expectation)
            self.line(f"FAILED: expected {expectation}", indent=2)

    def _pair(self, label: str, text: str, *, indent: int) -> None:
        self.line(f"{label:<{_LABEL_WIDTH}}{text}", indent=indent)


def summarize(body: bytes, *, width: int = 60) -> str:
    """A one-line view of a body: its first line (shortened), how many more, and its size."""
    if not body:
        return "(empty)"
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return f"{len(body)} bytes of binary data"
    lines = text.splitlines() or [""]
    first = lines[0] if len(lines[0]) <= width else lines[0][: width - 3] + "..."
    more = f" (+{len(lines) - 1} more lines)" if len(lines) > 1 else ""
    return f"{first}{more}  [{len(body)} bytes]"


def take_request(server: understudy.HTTPServer) -> understudy.Request:
    """The one request the server received since the last call; forget it afterwards.

    Raises:
        understudy.WaitTimeout: no request arrived within 5 seconds.
    """
    [request] = server.wait_for_requests(1, timeout=5.0)
    server.clear()
    return request


async def take_request_async(server: understudy.HTTPServer) -> understudy.Request:
    """The awaitable twin of :func:`take_request`, for async code: it does not block the loop."""
    [request] = await server.wait_for_requests_async(1, timeout=5.0)
    server.clear()
    return request
