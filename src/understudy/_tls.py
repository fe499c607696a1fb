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
import importlib
from typing import TYPE_CHECKING, Any

from ._core.tlsinfo import TLSFailure, TLSInfo

if TYPE_CHECKING:
    import ssl

    # (Re-exported: the servers take their settings from here with the rest of TLS.)
    from ._tls_authority import CertificateAuthority, ClientCertificate, authority
    from ._tls_settings import TLS, CertificateMode, ClientCertMode

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

#: The names read through this module from where they are defined (see ``__getattr__``).
_LAZY = {
    "CertificateAuthority": "_tls_authority",
    "ClientCertificate": "_tls_authority",
    "authority": "_tls_authority",
    "TLS": "_tls_settings",
    "CertificateMode": "_tls_settings",
    "ClientCertMode": "_tls_settings",
}


def __getattr__(name: str) -> Any:
    """The certificate authority's names (``_tls_authority``) and the settings
    (``_tls_settings``), imported when first read (PEP 562)."""
    where = _LAZY.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = importlib.import_module(f".{where}", __package__)
    value = getattr(module, name)
    globals()[name] = value
    return value


def resolve_tls(tls: object, kind: str) -> TLS | None:
    """``tls=`` as a server takes it (``None``/``False``, ``True`` or :class:`TLS`) → settings
    (``_tls_settings.resolve_tls``, loaded only when ``tls`` is given).

    Raises:
        ConfigurationError: anything else.
    """
    if tls is None or tls is False:
        return None
    from ._tls_settings import resolve_tls as resolve  # noqa: PLC0415 - only for TLS

    return resolve(tls, kind)


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
