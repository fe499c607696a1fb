"""What the WebSocket side knows of the HTTP side: names for its objects, typed loosely.

``_ws`` sits below ``_http`` in the import layering (``_http`` imports ``_ws``: the face, the
router and the ASGI host call into it), so it imports nothing of ``_http``, not even for types:
it reaches an exchange, its connection, the site and the router through the members they have
(``_http/_site.py`` documents them), and answers refusals through ``Exchange.start``.
"""

from __future__ import annotations

import http
from collections.abc import Sequence
from typing import Any, TypeAlias

__all__ = ["AnyExchange", "Exchange", "HTTPConnection", "Request", "Router", "Site", "answer"]

#: ``_http._exchange.HTTP1Exchange``: one request on an HTTP/1.1 connection.
Exchange: TypeAlias = Any
#: ``_http._site.Exchange``: any protocol's exchange.
AnyExchange: TypeAlias = Any
#: ``_http._connection.HTTPConnection``: the HTTP/1.1 connection a handshake came on.
HTTPConnection: TypeAlias = Any
#: ``_http._site.Site``: what a connection or host may use of its server.
Site: TypeAlias = Any
#: ``_http._routing.Router``: the server's routing state.
Router: TypeAlias = Any
#: ``understudy.Request``: a journaled request.
Request: TypeAlias = Any


def answer(
    exchange: AnyExchange, status: int, body: bytes, fields: Sequence[tuple[str, str]] = ()
) -> None:
    """Answer ``exchange`` with a whole HTTP response (plain text unless ``fields`` say)."""
    try:
        reason = http.HTTPStatus(status).phrase
    except ValueError:
        reason = ""
    names = {name.lower() for name, _ in fields}
    head = list(fields)
    if "content-type" not in names:
        head.append(("Content-Type", "text/plain; charset=utf-8"))
    exchange.start(status, reason, head, len(body))
    exchange.write(body)
    exchange.end()
