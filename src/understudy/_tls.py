"""TLS for every server: a connection's :class:`TLSInfo`, the settings, the shared contexts.

Every server imports this module (``tls_info``, ``resolve_tls``), most never serve TLS: what
only TLS needs, the process's test certificate authority (``_tls_authority``: trustme,
cryptography, its temporary files), loads when the first server context is asked for
(:func:`server_context`) or a name of it is first read here (PEP 562).

What a user writes (:class:`TLS`, checked) is in ``_tls_settings``; the server side of each
handshake in ``_handshake``.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from ._core.tlsinfo import TLSFailure, TLSInfo

# (Re-exported: the servers take their settings from here with the rest of TLS.)
from ._tls_settings import TLS, CertificateMode, ClientCertMode, resolve_tls

if TYPE_CHECKING:
    import ssl

    from ._tls_authority import CertificateAuthority, ClientCertificate, authority

__all__ = [
    "TLS",
    "CertificateAuthority",
    "CertificateMode",
    "ClientCertMode",
    "ClientCertificate",
    "TLSFailure",
    "TLSInfo",
    "authority",
    "resolve_tls",
    "server_context",
    "tls_info",
]

#: The names ``_tls_authority`` defines, read through this module (see ``__getattr__``).
_AUTHORITY_NAMES = frozenset({"CertificateAuthority", "ClientCertificate", "authority"})


def __getattr__(name: str) -> Any:
    """The certificate authority's names, from ``_tls_authority``, imported on first read."""
    if name in _AUTHORITY_NAMES:
        from . import _tls_authority  # noqa: PLC0415 - only for TLS

        value = getattr(_tls_authority, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def server_context(
    settings: TLS, host: str, alpn_protocols: tuple[str, ...] = ()
) -> ssl.SSLContext:
    """The shared server-side context for ``settings`` on ``host``: made once per (settings,
    host, ALPN protocols) by the process's certificate authority, and shared by every server
    that asks for the same."""
    from ._tls_authority import authority  # noqa: PLC0415 - only for TLS

    return authority().server_context(settings, host, alpn_protocols)


def tls_info(transport: asyncio.BaseTransport) -> TLSInfo | None:
    """The :class:`TLSInfo` of a connection, or ``None`` if it is not (yet) TLS."""
    ssl_object = transport.get_extra_info("ssl_object")
    if ssl_object is None:
        return None
    cipher = ssl_object.cipher()
    return TLSInfo(
        version=ssl_object.version() or "",
        cipher=cipher[0] if cipher else "",
        alpn_protocol=ssl_object.selected_alpn_protocol(),
        peer_subject=format_subject(ssl_object.getpeercert()),
    )


#: ``getpeercert()`` attribute names → RFC 4514 §3 short names (others are kept as given).
_SHORT_NAMES = {
    "commonName": "CN",
    "organizationName": "O",
    "organizationalUnitName": "OU",
    "countryName": "C",
    "localityName": "L",
    "stateOrProvinceName": "ST",
    "streetAddress": "STREET",
    "domainComponent": "DC",
    "userId": "UID",
}


def format_subject(cert: dict[str, Any] | None) -> str | None:
    """A peer certificate's subject (``SSLObject.getpeercert()``) in RFC 4514 form."""
    if not cert:
        return None
    rdns = [
        "+".join(f"{_SHORT_NAMES.get(k, k)}={_escape(v)}" for k, v in rdn)
        for rdn in reversed(cert.get("subject", ()))
    ]
    return ",".join(rdns) or None


def _escape(value: str) -> str:
    escaped = "".join("\\" + char if char in ',+"\\<>;' else char for char in value)
    if escaped[:1] in ("#", " "):
        escaped = "\\" + escaped
    if escaped.endswith(" "):
        escaped = escaped[:-1] + "\\ "
    return escaped
