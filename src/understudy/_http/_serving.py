"""What a server's listeners serve: the protocol of each connection, and the TLS context."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from .._core.versions import alpn_protocols
from .._tls import server_context
from ._connection import HTTPConnection

if TYPE_CHECKING:
    import ssl

    from .._tls import TLS
    from ._limits import Limits
    from ._routing import Router
    from ._site import Site

__all__ = ["connections", "tls_context"]


def connections(site: Site, router: Router) -> Callable[[], HTTPConnection]:
    """The protocol factory of a server's listeners: HTTP/1.1 connections, which look for the
    HTTP/2 preface when HTTP/2 is offered (``_h2``, imported only then)."""
    if "2" in site.limits.http_versions:
        from ._h2 import connection_factory  # noqa: PLC0415 - loaded when HTTP/2 is offered

        return connection_factory(site, router)
    return lambda: HTTPConnection(site, router)


def tls_context(tls: TLS | None, host: str, limits: Limits) -> ssl.SSLContext | None:
    """The server's TLS context (``None`` without ``tls=``), its ALPN list offering the
    versions of ``http_versions=`` (``h2`` first, RFC 9113 §3.2)."""
    return None if tls is None else server_context(tls, host, alpn_protocols(limits.http_versions))
