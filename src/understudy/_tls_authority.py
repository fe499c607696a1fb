"""The process's test certificate authority, made with trustme on first use (see ``_tls``).

The CA and every certificate live in memory. Python's ``ssl`` module loads a certificate chain
only from a file, so a chain is written to a private temporary directory for the moment of
loading and removed at once; the CA bundle (:meth:`CertificateAuthority.ca_bundle`) and client
certificate files (:attr:`ClientCertificate.path`) are written there only when asked for, and
the directory is removed at interpreter exit.

Server contexts are made once per (settings, host, ALPN) and shared by every server that asks
for the same: an ``ssl.SSLContext`` may serve any number of connections on any thread, so an
HTTPS server's ``start()`` costs no key generation and no file after the first.

The CA survives ``fork()``: a child shares it (and the contexts) with its parent; only the lock
is made anew, and only the process that made the temporary directory removes it.

Loaded by the first TLS server (through ``_tls.server_context``), ``understudy.tls`` or the
``tls_ca`` fixture: a plain server imports neither this module nor ``tempfile`` and ``shutil``.
"""

from __future__ import annotations

import atexit
import datetime
import itertools
import os
import shutil
import ssl
import tempfile
import threading
from dataclasses import replace
from typing import TYPE_CHECKING

from ._errors import ConfigurationError
from ._tls_settings import DEFAULT_HANDSHAKE_TIMEOUT, TLS, CertificateMode

if TYPE_CHECKING:
    import trustme

__all__ = [
    "LOCAL_IDENTITIES",
    "WRONG_HOST",
    "CertificateAuthority",
    "ClientCertificate",
    "authority",
]

#: The names every leaf certificate covers, so a client may use whichever it resolves.
LOCAL_IDENTITIES = ("localhost", "127.0.0.1", "::1")
#: The only name a "wrong-host" certificate covers (``.invalid`` never resolves: RFC 6761 §6.4).
WRONG_HOST = "wrong-host.invalid"
_WILDCARD_HOSTS = frozenset({"", "0.0.0.0", "::"})  # noqa: S104 - names compared, not bound
#: Numbers the client certificates' files: one per certificate, never reused (an ``id()`` is
#: reused once its object is freed, while the test may still hold the file's path).
_CLIENT_FILE_NUMBERS = itertools.count(1)


# -- client certificates ------------------------------------------------------------------------


class ClientCertificate:
    """A client certificate issued by the test CA, for mutual TLS (``TLS(client_cert=...)``).

    Made by :func:`understudy.tls.issue_client_cert`. Present it with
    ``understudy.tls.client_context(client_cert=cert)`` (httpx, urllib, aiohttp, smtplib), or
    as a file: requests' ``cert=cert.path``, curl's ``--cert``.

    Attributes:
        common_name (str): the subject's ``CN``, as given.
        subject (str): the subject in RFC 4514 form, as the server records it in
            ``TLSInfo.peer_subject``.
        cert_pem (bytes): the certificate, PEM (RFC 7468).
        private_key_pem (bytes): its private key, PEM (RFC 7468).

    .. versionadded:: 0.1
    """

    __slots__ = ("_path", "cert_pem", "common_name", "private_key_pem", "subject")

    def __init__(
        self, *, common_name: str, subject: str, cert_pem: bytes, private_key_pem: bytes
    ) -> None:
        self.common_name = common_name
        self.subject = subject
        self.cert_pem = cert_pem
        self.private_key_pem = private_key_pem
        self._path: str | None = None

    @property
    def path(self) -> str:
        """A PEM file holding the private key and the certificate (written on first use).

        The file is in a private temporary directory (mode 0700), removed at interpreter exit.
        """
        if self._path is None:
            self._path = authority().write_file(
                f"client-{next(_CLIENT_FILE_NUMBERS)}.pem", self.private_key_pem + self.cert_pem
            )
        return self._path

    def configure(self, context: ssl.SSLContext) -> None:
        """Make ``context`` present this certificate when a server asks for one."""
        _load_chain(context, self.private_key_pem + self.cert_pem)

    def __repr__(self) -> str:
        return f"<understudy.tls.ClientCertificate {self.subject!r}>"


# -- the authority ------------------------------------------------------------------------------


class CertificateAuthority:
    """The process's test certificate authority: one trustme CA, made on first use.

    :data:`understudy.tls.ca` is the one instance; the ``tls_ca`` fixture returns it.

    .. versionadded:: 0.1
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ca: trustme.CA | None = None
        self._other_ca: trustme.CA | None = None
        self._contexts: dict[tuple[TLS, tuple[str, ...], tuple[str, ...]], ssl.SSLContext] = {}
        self._dir: str | None = None
        self._dir_owner = 0
        self._bundle: str | None = None

    def _after_fork(self) -> None:
        self._lock = threading.Lock()

    # -- what a test reads ------------------------------------------------------------------

    @property
    def trustme_ca(self) -> trustme.CA:
        """The underlying ``trustme.CA``, for anything this class does not offer."""
        with self._lock:
            return self._made()

    @property
    def cert_pem(self) -> bytes:
        """The CA certificate, PEM (bytes): what a client must trust."""
        return bytes(self.trustme_ca.cert_pem.bytes())

    def client_context(self, *, client_cert: ClientCertificate | None = None) -> ssl.SSLContext:
        """A new client-side ``ssl.SSLContext`` that trusts this CA (and only it).

        Hostnames are checked and certificates verified (``ssl.PROTOCOL_TLS_CLIENT``). Pass it
        to httpx (``verify=``), urllib (``context=``), aiohttp (``ssl=``), ``smtplib.SMTP_SSL``
        and ``starttls`` (``context=``), or ``http.client.HTTPSConnection`` (``context=``).

        Args:
            client_cert: a certificate from :meth:`issue_client_cert` to present to a server
                that asks for one (mutual TLS); ``None`` (the default): none.

        Returns:
            A fresh context each call, which the caller may change.
        """
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.load_verify_locations(cadata=self.cert_pem.decode("ascii"))
        if client_cert is not None:
            client_cert.configure(context)
        return context

    def ca_bundle(self) -> str:
        """The path of a PEM file holding the CA certificate, written on first use.

        For clients configured with a file: requests' ``verify=``, ``SSL_CERT_FILE`` /
        ``REQUESTS_CA_BUNDLE``, pip's ``--cert``, curl's ``--cacert``. The file is in a
        private temporary directory (mode 0700), removed at interpreter exit.
        """
        if self._bundle is None:
            self._bundle = self.write_file("ca.pem", self.cert_pem)
        return self._bundle

    def issue_client_cert(
        self, common_name: str = "understudy-client", *, organization: str | None = None
    ) -> ClientCertificate:
        """Issue a client certificate for mutual TLS (``TLS(client_cert=...)``).

        Args:
            common_name: the subject's ``CN`` (``"alice"``); the server records the subject as
                ``peer_subject`` (``"CN=alice,O=..."``).
            organization: the subject's ``O``; ``"understudy"`` when ``None``.

        Returns:
            A :class:`ClientCertificate`: pass it to :meth:`client_context`, or its ``path``
            to a client that takes a file.

        Raises:
            ConfigurationError: an empty ``common_name``.
        """
        if not isinstance(common_name, str) or not common_name:
            raise ConfigurationError(
                f"common_name must be a non-empty str such as 'alice', not {common_name!r}"
            )
        from ._tls_client import issue  # noqa: PLC0415 - cryptography only for TLS

        cert_pem, private_key_pem = issue(self.trustme_ca, common_name, organization)
        return ClientCertificate(
            common_name=common_name,
            subject=_subject_of(cert_pem),
            cert_pem=cert_pem,
            private_key_pem=private_key_pem,
        )

    # -- used by servers ---------------------------------------------------------------------

    def server_context(
        self, settings: TLS, host: str, alpn_protocols: tuple[str, ...] = ()
    ) -> ssl.SSLContext:
        """The server-side context for ``settings``, made once and shared."""
        identities: tuple[str, ...] = LOCAL_IDENTITIES
        if host not in LOCAL_IDENTITIES and host not in _WILDCARD_HOSTS:
            identities = (*identities, host)
        # The handshake timeout is the listener's, not the context's: one context serves all.
        if settings.handshake_timeout != DEFAULT_HANDSHAKE_TIMEOUT:
            settings = replace(settings, handshake_timeout=DEFAULT_HANDSHAKE_TIMEOUT)
        key = (settings, identities, alpn_protocols)
        with self._lock:
            context = self._contexts.get(key)
            if context is None:
                context = self._make_server_context(settings, identities, alpn_protocols)
                self._contexts[key] = context
            return context

    def write_file(self, name: str, data: bytes) -> str:
        """Write ``data`` to ``name`` in the private temporary directory; return its path."""
        with self._lock:
            path = os.path.join(self._directory(), name)
        with open(path, "wb") as file:
            file.write(data)
        return path

    # -- on the inside (with the lock held) ---------------------------------------------------

    def _made(self) -> trustme.CA:
        if self._ca is None:
            import trustme  # noqa: PLC0415 - cryptography costs ~0.1 s to import: only for TLS

            self._ca = trustme.CA(organization_name="understudy test CA")
        return self._ca

    def _other(self) -> trustme.CA:
        if self._other_ca is None:
            import trustme  # noqa: PLC0415

            self._other_ca = trustme.CA(organization_name="untrusted CA (understudy)")
        return self._other_ca

    def _directory(self) -> str:
        if self._dir is None or self._dir_owner != os.getpid():
            self._dir = tempfile.mkdtemp(prefix="understudy-tls-")  # mode 0700
            self._dir_owner = os.getpid()
            atexit.register(_remove_directory, self._dir, self._dir_owner)
        return self._dir

    def _make_server_context(
        self, settings: TLS, identities: tuple[str, ...], alpn_protocols: tuple[str, ...]
    ) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        # No TLS 1.3 session tickets: each costs the server an encryption and the client a
        # read after the handshake, and a test's fresh connections do not resume sessions.
        context.num_tickets = 0
        if settings.minimum_version is not None:
            context.minimum_version = settings.minimum_version
        if settings.maximum_version is not None:
            context.maximum_version = settings.maximum_version
        if alpn_protocols:
            context.set_alpn_protocols(list(alpn_protocols))
        ca = self._made()
        if settings.client_cert != "none":
            context.verify_mode = (
                ssl.CERT_REQUIRED if settings.client_cert == "required" else ssl.CERT_OPTIONAL
            )
            context.load_verify_locations(cadata=ca.cert_pem.bytes().decode("ascii"))
        _load_chain(context, self._chain_for(settings.certificate, identities), self._directory())
        return context

    def _chain_for(self, mode: CertificateMode, identities: tuple[str, ...]) -> bytes:
        """The private key and certificate chain (PEM) a server presents in ``mode``."""
        if mode == "self-signed":
            other = self._other()
            return bytes(other.private_key_pem.bytes() + other.cert_pem.bytes())
        issuer = self._other() if mode == "untrusted-ca" else self._made()
        now = datetime.datetime.now(datetime.UTC)
        day = datetime.timedelta(days=1)
        not_before = not_after = None  # trustme's defaults: valid from now on
        if mode == "expired":
            not_before, not_after = now - 30 * day, now - day
        elif mode == "not-yet-valid":
            not_before, not_after = now + day, now + 30 * day
        names = (WRONG_HOST,) if mode == "wrong-host" else identities
        leaf = issuer.issue_cert(
            *names,
            organization_unit_name="understudy server",
            not_before=not_before,
            not_after=not_after,
        )
        return bytes(leaf.private_key_and_cert_chain_pem.bytes())


def _load_chain(context: ssl.SSLContext, pem: bytes, directory: str | None = None) -> None:
    """``load_cert_chain`` from PEM bytes: ``ssl`` reads chains only from files."""
    if directory is None:
        with _authority._lock:
            directory = _authority._directory()
    handle, path = tempfile.mkstemp(suffix=".pem", dir=directory)
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(pem)
        context.load_cert_chain(path)
    finally:
        os.unlink(path)


def _subject_of(cert_pem: bytes) -> str:
    from cryptography import x509  # noqa: PLC0415 - loaded with trustme, only for TLS

    return x509.load_pem_x509_certificate(cert_pem).subject.rfc4514_string()


def _remove_directory(path: str, owner: int) -> None:
    if os.getpid() == owner:
        shutil.rmtree(path, ignore_errors=True)


_authority = CertificateAuthority()
os.register_at_fork(after_in_child=_authority._after_fork)


def authority() -> CertificateAuthority:
    """The process's :class:`CertificateAuthority`."""
    return _authority
