"""HTTP/2 (RFC 9113) beside HTTP/1.1: the ``h2`` library's state machine on the runtime's loop.

A server offering HTTP/2 makes its connections with :func:`connection_factory`: each is an
HTTP/1.1 connection that hands its transport to an ``H2Connection`` when the client opens
with the connection preface (h2c by prior knowledge, or after ALPN ``h2``); each stream is an
``H2Exchange`` the router's hosts answer as they answer an HTTP/1.1 request. A layer of
``_http`` between the face (``_server``) and the connections.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from .._connection import HTTPConnection
from ._handoff import PrefaceWatch

if TYPE_CHECKING:
    from .._routing import Router
    from .._site import Site

__all__ = ["PrefaceWatch", "connection_factory"]


def connection_factory(site: Site, router: Router) -> Callable[[], HTTPConnection]:
    """The protocol factory of a server offering HTTP/2 (see :class:`PrefaceWatch`)."""
    return lambda: PrefaceWatch(site, router)
