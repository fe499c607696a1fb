"""Where HTTP/1.1 hands a connection to HTTP/2: its first bytes are the connection preface.

A client sends the preface first whether it knew beforehand (h2c, RFC 9113 §3.3) or TLS
negotiated ``h2`` by ALPN (§3.2), so one check serves both.

No h2c ``Upgrade`` from HTTP/1.1 (RFC 9113 §3.1 removed it): such a request is answered in
HTTP/1.1 (RFC 9110 §7.8). No server push: clients refuse it (SETTINGS_ENABLE_PUSH 0) and
RFC 9113 §8.4 lets a server never push.
"""

from __future__ import annotations

from .._connection import HTTPConnection
from .._parsing import NO_PARSER
from ._connection import H2Connection

__all__ = ["PREFACE", "PrefaceWatch", "preface", "take_over"]

#: The client connection preface (RFC 9113 §3.4): what a prior-knowledge h2c client sends first.
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

_HTTP2_ONLY_TEXT = b"understudy: this server speaks HTTP/2 only (http_versions=('2',))\n"
#: The answer to an HTTP/1.1 request when the server offers only HTTP/2 (RFC 9110 §15.6.6).
_HTTP2_ONLY = (
    b"HTTP/1.1 505 HTTP Version Not Supported\r\nContent-Type: text/plain\r\n"
    b"Content-Length: %d\r\nConnection: close\r\n\r\n%b" % (len(_HTTP2_ONLY_TEXT), _HTTP2_ONLY_TEXT)
)


def preface(conn: PrefaceWatch, data: bytes) -> bytes:
    """``conn``'s first bytes, on a server offering HTTP/2: the connection preface (RFC 9113
    §3.4, prior-knowledge h2c) hands the connection to HTTP/2; an HTTP/1.1 request to a server
    offering only HTTP/2 gets 505 and a close. Returns what HTTP/1.1 is to parse."""
    data = conn.preface_part + data
    conn.preface_part = b""
    if data.startswith(PREFACE):
        take_over(conn, data)
        return b""
    if len(data) < len(PREFACE) and PREFACE.startswith(data):
        conn.preface_part = data  # (the rest of the preface is on its way)
        return b""
    if "1.1" not in conn.limits.http_versions:
        conn.broken = True
        conn.write(_HTTP2_ONLY)
        conn.close()
        return b""
    return data


class PrefaceWatch(HTTPConnection):
    """An HTTP/1.1 connection of a server offering HTTP/2: until its first request begins,
    its bytes go to :func:`~._handoff.preface`, which hands the transport to HTTP/2 when they
    are the connection preface (RFC 9113 §3.4)."""

    #: The first bytes while they may be the start of the preface.
    preface_part = b""

    def data_received(self, data: bytes) -> None:
        if not self.begun and not self.broken and not (data := preface(self, data)):
            return
        super().data_received(data)


def take_over(conn: HTTPConnection, data: bytes) -> H2Connection:
    """Serve HTTP/2 on ``conn``'s transport from now on; ``data`` (the preface and what followed
    it, or nothing after ALPN) is the first input. The HTTP/1.1 connection is left inert."""
    transport = conn.transport
    assert transport is not None
    h2conn = H2Connection(conn.site, conn.router)
    h2conn.peer = conn.peer
    h2conn.peer_fields = conn.peer_fields
    h2conn.tls = conn.tls
    h2conn.tls_fields = conn.tls_fields
    conn.site.connections.pop(conn, None)
    # The HTTP/1.1 connection does nothing more: no timer, no parser, no transport.
    conn.broken = True
    conn.transport = None
    if conn.timer is not None:
        conn.timer.cancel()
        conn.timer = None
    conn.parser = NO_PARSER
    transport.set_protocol(h2conn)
    h2conn.connection_made(transport)
    if data:
        h2conn.data_received(data)
    return h2conn
