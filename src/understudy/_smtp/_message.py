"""SMTPMessage: one message as an SMTP server received it (envelope, bytes, parsed)."""

from __future__ import annotations

import email.parser
import email.policy
from email.message import EmailMessage
from typing import Any, NamedTuple

from .._tls import TLSInfo

__all__ = ["SMTPMessage", "SMTPReply"]


class SMTPReply(NamedTuple):
    """One reply the server sent in a mail transaction, with the command it answered.

    Attributes:
        command: the command answered, upper-cased (``"MAIL"``, ``"RCPT"``, ``"DATA"``...);
            ``"."`` for the reply to the end of the content (the end of mail data
            indicator, RFC 5321 §4.1.1.4), which says whether the message was taken.
        code: the reply code (RFC 5321 §4.2), an int such as 250, 354 or 550.
        text: the rest of the reply line(s) after the code, as sent (``"OK"``; lines of a
            multi-line reply joined with ``"\\n"``).
        address: for MAIL and RCPT whose syntax was accepted, the address given (so a
            refused recipient can be told from the others); ``""`` otherwise.
    """

    command: str
    code: int
    text: str
    address: str = ""


class SMTPMessage:
    """One message as the server received it: the envelope, the raw bytes and the parsed message.

    Immutable. Header lookup reads like the message itself: ``message["Subject"]``.

    Attributes:
        data: the message content exactly as received after DATA (RFC 5321 §4.5.2
            dot-unstuffing undone), CRLF line endings, bytes.
        mail_from: the reverse-path of ``MAIL FROM`` (RFC 5321 §4.1.1.2), without angle brackets;
            ``""`` for the null reverse-path ``<>`` of a bounce (§4.5.5).
        peer: the client's ``(host, port)``.
        login: the login the client authenticated as with AUTH (RFC 4954), as received, or
            ``None`` when the session did not authenticate.
        password: the password it authenticated with, as received (str), or ``None``.
        auth_mechanism: the SASL mechanism of that AUTH command, upper-cased (``"PLAIN"``,
            ``"LOGIN"``; RFC 4954 §4, RFC 4616), or ``None``.
        helo: the name the client gave in ``HELO``/``EHLO`` (RFC 5321 §4.1.1.1); a message
            an ``SMTPServer`` journals always has one (MAIL before it gets 503), so ``None``
            only in one made by hand.
        smtputf8: whether ``MAIL FROM`` carried the ``SMTPUTF8`` parameter (RFC 6531).
        received_at: when the end of DATA arrived, as ``time.time()`` (float seconds).
        tls: what the session's TLS (implicit, or after STARTTLS) agreed on, with the client
            certificate's subject, as a :class:`~understudy.TLSInfo`; ``None`` if plain.
        error: ``None`` for a message the server took; for content it refused at the end of
            DATA — more than ``max_message_size`` bytes (552, RFC 5321 §4.5.3.1.10) or a line
            over 1000 octets (500, §4.5.3.1.6) — the reply it sent. The content of a refused
            message is not kept (``data`` is empty); its envelope is.
        replies: each reply of the mail transaction, in order, as :class:`SMTPReply` values
            (command, reply code, text, address): from ``MAIL`` through every ``RCPT`` (those
            refused too) and ``DATA`` to the reply to the end of the content (command
            ``"."``). The message is journaled when its content has arrived, before that last
            reply is decided; the journal's entry gets it before it is sent, so once the
            client has the reply, a read of ``server.messages`` shows it. A tuple.
    """

    __slots__ = (
        "_email",
        "_mail_options",
        "_rcpt_options",
        "_rcpt_tos",
        "auth_mechanism",
        "data",
        "error",
        "helo",
        "login",
        "mail_from",
        "password",
        "peer",
        "received_at",
        "replies",
        "smtputf8",
        "tls",
    )

    data: bytes
    mail_from: str
    peer: tuple[str, int] | None
    login: str | None
    password: str | None
    auth_mechanism: str | None
    helo: str | None
    smtputf8: bool
    tls: TLSInfo | None
    received_at: float
    error: str | None
    replies: tuple[SMTPReply, ...]
    _rcpt_tos: tuple[str, ...]
    _mail_options: tuple[str, ...]
    _rcpt_options: tuple[str, ...]
    _email: EmailMessage | None

    def __init__(
        self,
        data: bytes,
        *,
        mail_from: str,
        rcpt_tos: list[str] | tuple[str, ...],
        mail_options: list[str] | tuple[str, ...] = (),
        rcpt_options: list[str] | tuple[str, ...] = (),
        peer: tuple[str, int] | None = None,
        login: str | None = None,
        password: str | None = None,
        auth_mechanism: str | None = None,
        helo: str | None = None,
        smtputf8: bool = False,
        received_at: float = 0.0,
        tls: TLSInfo | None = None,
        error: str | None = None,
        replies: tuple[SMTPReply, ...] | list[SMTPReply] = (),
    ) -> None:
        set_ = object.__setattr__
        set_(self, "data", bytes(data))
        set_(self, "mail_from", mail_from)
        set_(self, "_rcpt_tos", tuple(rcpt_tos))
        set_(self, "_mail_options", tuple(mail_options))
        set_(self, "_rcpt_options", tuple(rcpt_options))
        set_(self, "peer", peer)
        set_(self, "login", login)
        set_(self, "password", password)
        set_(self, "auth_mechanism", auth_mechanism)
        set_(self, "helo", helo)
        set_(self, "smtputf8", smtputf8)
        set_(self, "received_at", received_at)
        set_(self, "tls", tls)
        set_(self, "error", error)
        set_(self, "replies", tuple(replies))
        set_(self, "_email", None)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"SMTPMessage is immutable; cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"SMTPMessage is immutable; cannot delete {name!r}")

    # -- the envelope ------------------------------------------------------------------------

    @property
    def rcpt_tos(self) -> list[str]:
        """The forward-paths accepted by ``RCPT TO`` (RFC 5321 §4.1.1.3), in order (a new list).

        Recipients refused by a reject rule are not in it.
        """
        return list(self._rcpt_tos)

    @property
    def mail_options(self) -> list[str]:
        """The ``MAIL FROM`` parameters, upper-cased (``["SIZE=123", "BODY=8BITMIME"]``)."""
        return list(self._mail_options)

    @property
    def rcpt_options(self) -> list[str]:
        """The ``RCPT TO`` parameters of the accepted recipients, upper-cased: empty from an
        ``SMTPServer``, which offers no extension taking one (aiosmtpd answers a parameter with
        555, RFC 5321 §4.1.1.11, and the recipient is not accepted)."""
        return list(self._rcpt_options)

    # -- the content -------------------------------------------------------------------------

    @property
    def email(self) -> EmailMessage:
        """The content parsed as an :class:`email.message.EmailMessage` (``email.policy.default``).

        Parsed on first use. The parser never refuses a message: what it could not make sense
        of is listed in ``message.email.defects``. Line endings are ``"\\n"`` as in any Python
        text; :attr:`data` keeps the CRLFs of the wire.
        """
        parsed = self._email
        if parsed is None:
            content = self.data.replace(b"\r\n", b"\n")
            parsed = email.parser.BytesParser(EmailMessage, policy=email.policy.default).parsebytes(
                content
            )
            object.__setattr__(self, "_email", parsed)
        return parsed

    def __getitem__(self, name: str) -> Any:
        """The header field ``name`` (case-insensitive), or ``None`` when absent.

        With ``email.policy.default`` the value is a ``str`` subclass whose encoded words
        (RFC 2047) are decoded: ``message["Subject"] == "Grüße"``.
        """
        return self.email[name]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self.email

    def get(self, name: str, default: Any = None) -> Any:
        """The header field ``name``, or ``default`` when absent."""
        return self.email.get(name, default)

    def get_all(self, name: str) -> list[Any]:
        """Every occurrence of the header field ``name``, in order (``[]`` when absent)."""
        return self.email.get_all(name) or []

    @property
    def subject(self) -> str | None:
        """The Subject field, decoded, or ``None``."""
        value = self.email["Subject"]
        return None if value is None else str(value)

    @property
    def text(self) -> str:
        """The body as text: the first ``text/plain`` part that is not an attachment.

        A message with no Content-Type is ``text/plain`` (RFC 2045 §5.2). Decoded from its
        transfer encoding and charset (bad bytes replaced); ``"\\n"`` line endings. ``""`` when
        the message has no plain-text body.
        """
        return _body_text(self.email, "plain")

    @property
    def html(self) -> str:
        """The first ``text/html`` part that is not an attachment, decoded; ``""`` when none."""
        return _body_text(self.email, "html")

    @property
    def attachments(self) -> list[EmailMessage]:
        """The parts that are attachments (``EmailMessage.iter_attachments``), in order."""
        return list(self.email.iter_attachments())

    def __repr__(self) -> str:
        name = f"{type(self).__module__}.{type(self).__qualname__}"
        try:
            subject = self.subject
        except Exception:  # noqa: BLE001 - a repr must not fail on a malformed header
            subject = "<unreadable>"
        if self.error is not None:
            return (
                f"<{name} from {self.mail_from!r} to {list(self._rcpt_tos)!r} refused: "
                f"{self.error!r}>"
            )
        return (
            f"<{name} from {self.mail_from!r} to {list(self._rcpt_tos)!r} subject {subject!r} "
            f"({len(self.data)} bytes)>"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SMTPMessage):
            return NotImplemented
        return (
            self.data == other.data
            and self.mail_from == other.mail_from
            and self._rcpt_tos == other._rcpt_tos
            and self.error == other.error
        )

    __hash__ = None  # type: ignore[assignment]


def _body_text(message: EmailMessage, subtype: str) -> str:
    part = message.get_body(preferencelist=(subtype,))
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, UnicodeError, ValueError):
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    if isinstance(content, bytes):
        content = content.decode("utf-8", "replace")
    return str(content).replace("\r\n", "\n")


# -- reject rules ----------------------------------------------------------------------------


def with_replies(message: SMTPMessage, replies: tuple[SMTPReply, ...]) -> SMTPMessage:
    """A copy of ``message`` with ``replies`` (its transaction's, now complete)."""
    copy = object.__new__(SMTPMessage)
    for name in SMTPMessage.__slots__:
        object.__setattr__(copy, name, getattr(message, name))
    object.__setattr__(copy, "replies", replies)
    return copy
