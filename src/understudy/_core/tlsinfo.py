"""What a TLS connection agreed on: :class:`TLSInfo`, plain data shared by every journal.

Pure: no ``ssl``, socket or event loop. The shells (``_tls.tls_info``) read the values off a
connection; journal entries built in ``_core`` (a :class:`~understudy.SyslogMessage`) carry
them without importing any I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["TLSInfo"]


@dataclass(frozen=True)
class TLSInfo:
    """What a TLS connection agreed on, recorded with each request, connection or message.

    ``None`` in place of a ``TLSInfo`` means the connection was plain.

    Attributes:
        version: the protocol version, as ``ssl`` names it (``"TLSv1.3"``).
        cipher: the cipher suite's name (``"TLS_AES_256_GCM_SHA384"``).
        alpn_protocol: the protocol chosen by ALPN (RFC 7301; ``"http/1.1"`` on HTTPS), or
            ``None`` when the client offered none.
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
