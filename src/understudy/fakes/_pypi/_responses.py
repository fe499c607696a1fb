"""The responses every route of the fake PyPI shares: warehouse's errors, redirects."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote

from ..._core.framing import fit_reason
from ..._http._request import Request
from ..._http._response import Response

__all__ = ["error", "redirect"]


def error(status: int, message: str, *, headers: Mapping[str, str] | None = None) -> Response:
    """An error as warehouse sends it: the message is also the reason phrase (twine shows it).

    The message may quote what the client sent: in the reason phrase, what a status line cannot
    carry (controls, characters outside Latin-1) is escaped; the body keeps it as it is (UTF-8).
    """
    return Response(
        status, body=f"{status} {message}\n", headers=headers, reason=fit_reason(message)
    )


def redirect(request: Request, path: str) -> Response:
    """301 to ``path`` (decoded: what it holds that a path cannot is percent-encoded again),
    keeping the request's query."""
    query = request.query_string
    location = quote(path, safe="/:@!$&'()*+,;=") + (f"?{query}" if query else "")
    return Response(301, body="", headers={"Location": location})
