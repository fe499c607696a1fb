"""What a TLS connection agreed on (:class:`TLSInfo`) or why its handshake failed
(:class:`TLSFailure`): plain data shared by every journal.

Pure: no ``ssl``, socket or event loop. The shells (``_tls.tls_info``, ``_handshake``) read the
values off a connection; journal entries built in ``_core`` (a
:class:`~understudy.SyslogMessage`) carry them without importing any I/O.
:func:`offered_version` reads the highest protocol version a ClientHello offers.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["TLSFailure", "TLSInfo", "offered_version"]


@dataclass(frozen=True)
class TLSInfo:
    """What a TLS connection agreed on, recorded with each request, connection or message.

    ``None`` in place of a ``TLSInfo`` means the connection was plain.

    Attributes:
        version: the protocol version, as ``ssl`` names it (``"TLSv1.3"``).
        cipher: the cipher suite's name (``"TLS_AES_256_GCM_SHA384"``).
        alpn_protocol: the protocol chosen by ALPN (RFC 7301): ``"http/1.1"`` on HTTPS,
            ``"h2"`` when a client offering it reached a server with ``http_versions`` including
            ``"2"``; ``None`` when none was chosen: the client offered none, or none the server
            speaks (only an ``HTTPServer`` offers any: every other server records ``None``).
        peer_subject: the subject of the client's certificate in RFC 4514 form, most specific
            first (``"CN=alice,O=Example"``), or ``None`` when the client sent none.

    .. versionadded:: 0.1
    """

    version: str
    cipher: str
    alpn_protocol: str | None = None
    peer_subject: str | None = None

    @property
    def peer_common_name(self) -> str | None:
        """The ``CN`` of the client certificate's subject, or ``None``."""
        if self.peer_subject is None:
            return None
        for part in _split_rdns(self.peer_subject):
            name, _, value = part.partition("=")
            if name == "CN":
                return value.replace("\\", "")
        return None


def _split_rdns(subject: str) -> list[str]:
    """The attributes of an RFC 4514 subject, split at unescaped ``,`` and ``+`` (§2.1, §2.2)."""
    parts, current, escaped = [], "", False
    for char in subject:
        if escaped:
            current += char
            escaped = False
        elif char == "\\":
            current += char
            escaped = True
        elif char in ",+":
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return parts


@dataclass(frozen=True)
class TLSFailure:
    """A TLS handshake that failed: recorded by every TLS server in ``server.tls_failures``.

    A failed handshake never reached the server's protocol (no request, message or connection
    is recorded for it), and it does not make :meth:`~understudy.Server.check` raise: a test of
    a client often provokes one on purpose. Assert on it with
    :meth:`~understudy.Server.wait_for_tls_failures`. The client was sent the TLS alert that
    says why (RFC 8446 §6.2), where there is one: ``certificate_required`` (TLS 1.3) or
    ``handshake_failure`` (TLS 1.2) without a required client certificate,
    ``protocol_version`` for a version the server does not speak.

    Attributes:
        peer: the client's ``(host, port)``, or ``None`` if the socket had no address.
        reason: why, as a token: OpenSSL's reason code (``"PEER_DID_NOT_RETURN_A_CERTIFICATE"``,
            ``"UNSUPPORTED_PROTOCOL"``, ``"WRONG_VERSION_NUMBER"`` (a plain-text client),
            ``"TLSV1_ALERT_UNKNOWN_CA"`` (the client refused the server's certificate), ...),
            or one of understudy's: ``"CLOSED_BY_CLIENT"`` (end of stream mid-handshake),
            ``"CONNECTION_RESET"``, ``"HANDSHAKE_TIMEOUT"`` (see
            ``TLS(handshake_timeout=...)``).
        description: a sentence saying the same for a person (OpenSSL's text, or understudy's).
        offered_version: the highest protocol version the client's ClientHello offered, as
            ``ssl`` names it (``"TLSv1.3"``, ``"TLSv1.1"``), or ``None`` if no ClientHello
            arrived whole. (The version agreed is not known: OpenSSL tells it only of a
            handshake that completed.)
        failed_at: when the handshake failed, seconds since the epoch (float).

    .. versionadded:: 0.1
    """

    peer: tuple[str, int] | None
    reason: str
    description: str
    offered_version: str | None
    failed_at: float


#: Protocol version numbers (RFC 8446 §4.1.2 ``legacy_version``, §4.2.1) → ``ssl``'s names.
_VERSION_NAMES = {
    0x0300: "SSLv3",
    0x0301: "TLSv1",
    0x0302: "TLSv1.1",
    0x0303: "TLSv1.2",
    0x0304: "TLSv1.3",
}
_HANDSHAKE = 22  # ContentType handshake (RFC 8446 §5.1)
_CLIENT_HELLO = 1  # HandshakeType client_hello (RFC 8446 §4)
_SUPPORTED_VERSIONS = 43  # ExtensionType supported_versions (RFC 8446 §4.2)


def offered_version(data: bytes) -> str | None:
    """The highest protocol version a ClientHello offers, as ``ssl`` names it (``"TLSv1.2"``).

    ``data`` is what the client sent first: a TLS record holding a ClientHello (RFC 8446
    §4.1.2). The highest version of its ``supported_versions`` extension (§4.2.1; GREASE
    values, RFC 8701, ignored), else its ``legacy_version`` (TLS 1.2 and before). ``None`` if
    ``data`` holds no whole ClientHello in its first record, or the version has no name.
    """
    if len(data) < 5 or data[0] != _HANDSHAKE:
        return None
    record_end = 5 + int.from_bytes(data[3:5], "big")
    body = data[5:record_end]
    if len(data) < record_end or len(body) < 4 or body[0] != _CLIENT_HELLO:
        return None
    hello = body[4 : 4 + int.from_bytes(body[1:4], "big")]
    if len(hello) < 35:
        return None
    legacy = int.from_bytes(hello[0:2], "big")
    at = 34  # legacy_version (2) + random (32)
    at += 1 + hello[at]  # legacy_session_id
    if at + 2 > len(hello):
        return _VERSION_NAMES.get(legacy)
    at += 2 + int.from_bytes(hello[at : at + 2], "big")  # cipher_suites
    if at + 1 > len(hello):
        return _VERSION_NAMES.get(legacy)
    at += 1 + hello[at]  # legacy_compression_methods
    best = None
    if at + 2 <= len(hello):
        end = min(len(hello), at + 2 + int.from_bytes(hello[at : at + 2], "big"))
        at += 2
        while at + 4 <= end:
            kind = int.from_bytes(hello[at : at + 2], "big")
            size = int.from_bytes(hello[at + 2 : at + 4], "big")
            value = hello[at + 4 : at + 4 + size]
            at += 4 + size
            if kind == _SUPPORTED_VERSIONS and value:
                listed = value[1 : 1 + value[0]]
                versions = [
                    int.from_bytes(listed[i : i + 2], "big") for i in range(0, len(listed) - 1, 2)
                ]
                known = [v for v in versions if v in _VERSION_NAMES]
                best = max(known) if known else None
    return _VERSION_NAMES.get(best if best is not None else legacy)
