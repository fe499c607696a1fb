"""The test certificate authority behind every understudy TLS server, and what clients need.

One CA per process, made with trustme the first time TLS is used, kept in memory. A server given
``tls=True`` presents a certificate it signed for ``localhost``, ``127.0.0.1`` and ``::1``; a
client trusts it through one of::

    import understudy.tls

    httpx.get(server.url, verify=understudy.tls.client_context())
    requests.get(server.url, verify=understudy.tls.ca_bundle())
    urllib.request.urlopen(server.url, context=understudy.tls.client_context())

For mutual TLS, issue the client a certificate::

    cert = understudy.tls.issue_client_cert("alice")
    httpx.get(server.url, verify=understudy.tls.client_context(client_cert=cert))
    requests.get(server.url, verify=understudy.tls.ca_bundle(), cert=cert.path)

.. versionadded:: 0.1
"""

from __future__ import annotations

import ssl

from ._publishing import publish
from ._tls import CertificateAuthority, ClientCertificate, authority

__all__ = [
    "CertificateAuthority",
    "ClientCertificate",
    "ca",
    "ca_bundle",
    "client_context",
    "issue_client_cert",
]

#: The process's test CA (a :class:`CertificateAuthority`); its trustme CA is made on first use.
ca: CertificateAuthority = authority()


def client_context(*, client_cert: ClientCertificate | None = None) -> ssl.SSLContext:
    """A new client ``ssl.SSLContext`` that trusts the test CA (and nothing else).

    Hostnames are checked and certificates verified. Give it to httpx (``verify=``), urllib
    (``context=``), aiohttp (``ssl=``), ``smtplib.SMTP_SSL(context=...)`` and
    ``SMTP.starttls(context=...)``, ``http.client.HTTPSConnection(context=...)``, or
    ``ssl.SSLContext.wrap_socket`` for a raw socket.

    Args:
        client_cert: a certificate from :func:`issue_client_cert` to present to a server that
            asks for one (mutual TLS); ``None`` (the default): none.

    Returns:
        A fresh context on each call; the caller may change it.
    """
    return ca.client_context(client_cert=client_cert)


def ca_bundle() -> str:
    """The path of a PEM file holding the test CA's certificate (written once, on first use).

    For clients that take a file: requests' ``verify=``, the ``SSL_CERT_FILE`` and
    ``REQUESTS_CA_BUNDLE`` environment variables, pip's ``--cert``, curl's ``--cacert``. The
    file lives in a private temporary directory (mode 0700), removed at interpreter exit.

    Returns:
        The path (str).
    """
    return ca.ca_bundle()


def issue_client_cert(
    common_name: str = "understudy-client", *, organization: str | None = None
) -> ClientCertificate:
    """Issue a client certificate signed by the test CA, for mutual TLS.

    A server with ``tls=understudy.TLS(client_cert="required")`` accepts it and records its
    subject as ``.tls.peer_subject`` of each request (HTTP), connection (TCP) or message (SMTP).

    Args:
        common_name: the subject's ``CN``, e.g. ``"alice"``.
        organization: the subject's ``O``; ``"understudy"`` when ``None``. The subject's
            ``OU`` is ``"understudy client"``.

    Returns:
        A :class:`ClientCertificate`: pass it to :func:`client_context`, or its ``path`` (a PEM
        file with key and certificate) to a client that takes a file (requests' ``cert=``).

    Raises:
        ConfigurationError: an empty ``common_name``.
    """
    return ca.issue_client_cert(common_name, organization=organization)


def _fixup_module_metadata() -> None:
    publish()  # TLS and TLSInfo, loaded with the TLS module, say `understudy.X`
    for obj in (CertificateAuthority, ClientCertificate):
        obj.__module__ = __name__


_fixup_module_metadata()
