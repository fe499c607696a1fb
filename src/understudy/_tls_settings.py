"""TLS settings: what a user writes as ``tls=`` (:class:`TLS`), checked when made.

Rule: plain values, no ``ssl`` context, certificate or socket: the test CA (``_tls``) turns
settings into contexts, and ``_handshake`` runs the handshakes. Imports only ``_errors``.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import Literal, get_args

from ._errors import ConfigurationError

__all__ = [
    "DEFAULT_HANDSHAKE_TIMEOUT",
    "TLS",
    "CertificateMode",
    "ClientCertMode",
    "resolve_tls",
]

CertificateMode = Literal[
    "valid", "expired", "not-yet-valid", "wrong-host", "self-signed", "untrusted-ca"
]
ClientCertMode = Literal["none", "optional", "required"]

#: Seconds a client has to finish the handshake (asyncio's own default is 60 s).
DEFAULT_HANDSHAKE_TIMEOUT = 10.0


@dataclass(frozen=True)
class TLS:
    """How a server speaks TLS: its certificate, client certificates, protocol versions.

    Pass it as ``tls=`` to :class:`~understudy.HTTPServer`, :class:`~understudy.TCPServer`,
    :class:`~understudy.SyslogServer` (``transport="tcp"``) or :class:`~understudy.SMTPServer`;
    ``tls=True`` means ``TLS()``. Certificates come from the process's test CA
    (:mod:`understudy.tls`) and cover ``localhost``, ``127.0.0.1`` and ``::1``.

    Args:
        certificate: the certificate the server presents. ``"valid"`` (the default) is signed by
            the test CA that :func:`understudy.tls.client_context` and
            :func:`understudy.tls.ca_bundle` trust. The others make a client's verification
            fail, for testing how it reports that: ``"expired"`` (not after yesterday),
            ``"not-yet-valid"`` (not before tomorrow), ``"wrong-host"`` (covers only
            ``wrong-host.invalid``), ``"self-signed"`` (signed by its own key), and
            ``"untrusted-ca"`` (signed by another CA that nothing trusts).
        client_cert: mutual TLS (RFC 8446 §4.3.2). ``"none"`` (the default) asks for no client
            certificate; ``"optional"`` asks and accepts a client without one; ``"required"``
            refuses a handshake without one. A certificate given must be signed by the test CA
            (:func:`understudy.tls.issue_client_cert`). Its subject is recorded per request,
            connection or message (``.tls.peer_subject``).
        minimum_version: the lowest protocol version accepted (an ``ssl.TLSVersion``); ``None``:
            OpenSSL's default (TLS 1.2 on current systems).
        maximum_version: the highest protocol version offered; ``None``: the newest
            (TLS 1.3). ``maximum_version=ssl.TLSVersion.TLSv1_2`` tests a client against a
            TLS 1.2-only server.
        handshake_timeout: seconds a client has, once connected, to finish the handshake
            (RFC 8446 §4); a client that has not is disconnected. 10.0 by default (asyncio's
            own default is 60 s), which a test's client on loopback needs a tiny part of.
            ``stop()`` does not wait for it: it closes a handshake in progress at once.

    Raises:
        ConfigurationError: an unknown mode, a version that is not an ``ssl.TLSVersion``, a
            minimum above the maximum, or a ``handshake_timeout`` that is not a positive number.

    .. versionadded:: 0.1
    """

    certificate: CertificateMode = "valid"
    client_cert: ClientCertMode = "none"
    minimum_version: ssl.TLSVersion | None = None
    maximum_version: ssl.TLSVersion | None = None
    handshake_timeout: float = DEFAULT_HANDSHAKE_TIMEOUT

    def __post_init__(self) -> None:
        if self.certificate not in get_args(CertificateMode):
            choices = ", ".join(repr(mode) for mode in get_args(CertificateMode))
            raise ConfigurationError(
                f"TLS(certificate=...) is one of {choices}, not {self.certificate!r}"
            )
        if self.client_cert not in get_args(ClientCertMode):
            raise ConfigurationError(
                "TLS(client_cert=...) is 'none', 'optional' or 'required' (mutual TLS), not "
                f"{self.client_cert!r}"
            )
        for name in ("minimum_version", "maximum_version"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, ssl.TLSVersion):
                raise ConfigurationError(
                    f"TLS({name}=...) takes an ssl.TLSVersion such as "
                    f"ssl.TLSVersion.TLSv1_2, not {value!r}"
                )
        low, high = self.minimum_version, self.maximum_version
        if low is not None and high is not None and _rank(low) > _rank(high):
            raise ConfigurationError(
                f"TLS(minimum_version={low.name}) is above maximum_version={high.name}: no "
                "version is left to agree on"
            )
        seconds = self.handshake_timeout
        if not isinstance(seconds, int | float) or isinstance(seconds, bool) or not seconds > 0:
            raise ConfigurationError(
                f"TLS(handshake_timeout=...) takes seconds as a positive float such as 10.0, "
                f"not {seconds!r}"
            )


def _rank(version: ssl.TLSVersion) -> int:
    # MINIMUM_SUPPORTED and MAXIMUM_SUPPORTED are -2 and -1: order them at the ends.
    value = int(version)
    return {-2: -(10**9), -1: 10**9}.get(value, value)


def resolve_tls(tls: object, kind: str) -> TLS | None:
    """``tls=`` as a server takes it (``None``/``False``, ``True`` or :class:`TLS`) → settings.

    Raises:
        ConfigurationError: anything else.
    """
    if tls is None or tls is False:
        return None
    if tls is True:
        return TLS()
    if isinstance(tls, TLS):
        return tls
    raise ConfigurationError(
        f"tls= on a {kind} takes True or understudy.TLS(...) (e.g. TLS(client_cert='required')),"
        f" not {tls!r}"
    )
