"""SMTPServer: an SMTP server (RFC 5321) that records every message it receives.

aiosmtpd's :class:`aiosmtpd.smtp.SMTP` protocol speaks SMTP (ESMTP, 8BITMIME, SIZE, SMTPUTF8,
AUTH); understudy serves it on the runtime's loop (no thread, no aiosmtpd ``Controller``), turns
each message into an :class:`SMTPMessage` in a journal, and adds what tests need: credentials,
reject rules per address (for retry tests), a size limit and a handler callable.
"""

from __future__ import annotations

import asyncio
import collections
import email.parser
import email.policy
import hmac
import inspect
import logging
import re
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from email.message import EmailMessage
from typing import Any, AnyStr, ClassVar, Literal, TypeAlias

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from ._conditions import Conditions
from ._core.faults import FailureSchedule
from ._errors import ConfigurationError
from ._journal import Journal
from ._runtime import Runtime
from ._server import Server, close_listeners, describe_handler
from ._tls import TLS, TLSInfo, resolve_tls, tls_info

__all__ = ["SMTPFailure", "SMTPMessage", "SMTPServer"]

#: A handler: ``handler(message)`` returning ``None`` (accept), a reply code or a reply line.
Handler: TypeAlias = Callable[["SMTPMessage"], Any] | Callable[["SMTPMessage"], Awaitable[Any]]
#: Credentials: ``{"login": "password"}`` or ``check(login, password) -> bool``.
Auth: TypeAlias = Mapping[str, str] | Callable[[str, str], bool]
#: A reject rule's value: a reply code, a reply line, or either with how many times to apply it.
RejectRule: TypeAlias = int | str | tuple[int | str, int]

_DEFAULT_HOSTNAME = "understudy.localhost"
_DEFAULT_MAX_MESSAGE_SIZE = 32 * 1024 * 1024
#: Seconds an SMTP connection may stay silent before the server closes it (RFC 5321 §4.5.3.2.7
#: asks for at least 5 minutes).
_IDLE_TIMEOUT = 300.0
_OK = "250 OK"
#: RFC 5321 §3.8: a server that must shut down says so before closing.
_GOODBYE = b"421 4.3.2 Service shutting down\r\n"
_REPLY_LINE = re.compile(r"[245][0-5][0-9]( .*)?", re.DOTALL)
#: The thread that runs understudy's loop (see ``_runtime.Runtime``).
_LOOP_THREAD_NAME = "understudy-loop"

#: Reply texts for reject rules given as a bare code (RFC 5321 §4.2.2 and §4.2.3).
_REASONS = {
    421: "4.3.2 Service not available",
    450: "4.2.1 Mailbox unavailable",
    451: "4.3.0 Local error in processing",
    452: "4.2.2 Insufficient system storage",
    454: "4.7.0 Temporary authentication failure",
    550: "5.1.1 Mailbox unavailable",
    551: "5.1.6 User not local",
    552: "5.2.2 Exceeded storage allocation",
    553: "5.1.3 Mailbox name not allowed",
    535: "5.7.8 Authentication credentials invalid",
    554: "5.7.1 Transaction failed",
}


class SMTPMessage:
    """One message as the server received it: the envelope, the raw bytes and the parsed message.

    Immutable. Header lookup reads like the message itself: ``message["Subject"]``.

    Attributes:
        data: the message content exactly as received after DATA (RFC 5321 §4.5.2
            dot-unstuffing undone), CRLF line endings, bytes.
        mail_from: the reverse-path of ``MAIL FROM`` (RFC 5321 §4.1.1.2), without angle brackets.
        peer: the client's ``(host, port)``.
        login: the login the client authenticated as with AUTH (RFC 4954), or ``None``.
        helo: the name the client gave in ``HELO``/``EHLO``.
        smtputf8: whether ``MAIL FROM`` carried the ``SMTPUTF8`` parameter (RFC 6531).
        received_at: when the end of DATA arrived, as ``time.time()`` (float seconds).
        tls: what the session's TLS (implicit, or after STARTTLS) agreed on, with the client
            certificate's subject, as a :class:`~understudy.TLSInfo`; ``None`` if plain.
        error: ``None`` for a message the server took; for content it refused at the end of
            DATA — more than ``max_message_size`` bytes (552, RFC 5321 §4.5.3.1.10) or a line
            over 1000 octets (500, §4.5.3.1.6) — the reply it sent. The content of a refused
            message is not kept (``data`` is empty); its envelope is.
    """

    __slots__ = (
        "_email",
        "_mail_options",
        "_rcpt_options",
        "_rcpt_tos",
        "data",
        "error",
        "helo",
        "login",
        "mail_from",
        "peer",
        "received_at",
        "smtputf8",
        "tls",
    )

    data: bytes
    mail_from: str
    peer: tuple[str, int] | None
    login: str | None
    helo: str | None
    smtputf8: bool
    tls: TLSInfo | None
    received_at: float
    error: str | None
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
        helo: str | None = None,
        smtputf8: bool = False,
        received_at: float = 0.0,
        tls: TLSInfo | None = None,
        error: str | None = None,
    ) -> None:
        set_ = object.__setattr__
        set_(self, "data", bytes(data))
        set_(self, "mail_from", mail_from)
        set_(self, "_rcpt_tos", tuple(rcpt_tos))
        set_(self, "_mail_options", tuple(mail_options))
        set_(self, "_rcpt_options", tuple(rcpt_options))
        set_(self, "peer", peer)
        set_(self, "login", login)
        set_(self, "helo", helo)
        set_(self, "smtputf8", smtputf8)
        set_(self, "received_at", received_at)
        set_(self, "tls", tls)
        set_(self, "error", error)
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
        """The ``RCPT TO`` parameters of the accepted recipients, upper-cased."""
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


class _Rule:
    """A reply to give for one address, a given number of times or for ever."""

    __slots__ = ("remaining", "reply")

    def __init__(self, reply: str, remaining: int | None) -> None:
        self.reply = reply
        self.remaining = remaining

    def use(self) -> str | None:
        if self.remaining is None:
            return self.reply
        if self.remaining <= 0:
            return None
        self.remaining -= 1
        return self.reply


class _RejectRules:
    """``reject={...}`` parsed: per sender and per recipient, exact address, @domain, or ``*``."""

    def __init__(self, rules: Mapping[str, RejectRule] | None) -> None:
        self.senders: dict[str, _Rule] = {}
        self.recipients: dict[str, _Rule] = {}
        if rules is None:
            return
        if not isinstance(rules, Mapping):
            raise ConfigurationError(
                "reject= takes a dict from address to reply code, e.g. "
                "reject={'bad@example.com': 550, 'busy@example.com': (452, 1)}, not "
                f"{type(rules).__name__}"
            )
        for key, value in rules.items():
            if not isinstance(key, str) or not key.strip():
                raise ConfigurationError(
                    "reject= keys are addresses such as 'bad@example.com', "
                    f"'from:spam@example.com' or '@example.org', not {key!r}"
                )
            table, address = self.recipients, key.strip()
            prefix, colon, rest = address.partition(":")
            if colon and prefix.strip().lower() in ("from", "to"):
                table = self.senders if prefix.strip().lower() == "from" else self.recipients
                address = rest.strip()
            address = address.removeprefix("<").removesuffix(">").casefold()
            if not address:
                raise ConfigurationError(f"reject= key {key!r} names no address")
            table[address] = _parse_rule(key, value)

    @staticmethod
    def reply(table: dict[str, _Rule], address: str) -> str | None:
        if not table:
            return None
        address = address.casefold()
        domain = "@" + address.rpartition("@")[2] if "@" in address else None
        for key in (address, domain, "*"):
            rule = table.get(key) if key is not None else None
            if rule is not None:
                return rule.use()
        return None


def _parse_rule(key: str, value: object) -> _Rule:
    times: object = None
    if isinstance(value, tuple):
        if len(value) != 2:
            raise ConfigurationError(
                f"reject={{{key!r}: {value!r}}}: a tuple is (reply, times), e.g. (452, 1) for "
                "452 once, then accept"
            )
        value, times = value
        if not isinstance(times, int) or isinstance(times, bool) or times < 1:
            raise ConfigurationError(
                f"reject={{{key!r}: ...}}: times must be a positive int, not {times!r}"
            )
    reply = _reply_line(value, allow_success=False)
    if reply is None:
        raise ConfigurationError(
            f"reject={{{key!r}: {value!r}}}: give a reply code from 400 to 559 (550) or a reply "
            "line ('550 5.1.1 No such user'), optionally with a count: (452, 1)"
        )
    return _Rule(reply, times)  # type: ignore[arg-type]


def _reply_line(value: object, *, allow_success: bool) -> str | None:
    """A reply line from a code or a line; ``None`` if ``value`` is neither."""
    lowest = 200 if allow_success else 400
    if isinstance(value, int) and not isinstance(value, bool):
        if not lowest <= value <= 559 or value // 100 == 3:
            return None
        if value in _REASONS:
            return f"{value} {_REASONS[value]}"
        return f"{value} {'OK' if value < 300 else 'Rejected by understudy'}"
    if isinstance(value, str) and _REPLY_LINE.fullmatch(value) and "\n" not in value:
        if int(value[:3]) < lowest:
            return None
        return value
    return None


# -- failures --------------------------------------------------------------------------------

#: Where in the dialogue an :class:`SMTPFailure` strikes.
Stage: TypeAlias = Literal["connect", "auth", "mail", "rcpt", "data", "end_of_data"]
_STAGES: tuple[str, ...] = ("connect", "auth", "mail", "rcpt", "data", "end_of_data")


class SMTPFailure:
    """A failure an :class:`SMTPServer` injects at one stage of the dialogue (``failures=[...]``).

    Where ``reject=`` refuses given addresses, a failure strikes by position and chance: the
    Nth message, the first N attempts, or a probability, whatever the addresses. It either
    replies with an error code at the stage, or drops the connection there.

    Args:
        stage: where it strikes (RFC 5321 §3.3, §4.3.2):

            - ``"connect"``: the greeting is this reply instead of 220, then the server closes
              (smtplib raises ``SMTPConnectError``); ``drop``: closes with no greeting;
            - ``"auth"``: the reply to ``AUTH`` (RFC 4954 §6: 454 temporary, 535 refused);
            - ``"mail"``, ``"rcpt"``: the reply to ``MAIL FROM``, ``RCPT TO``;
            - ``"data"``: the reply to the ``DATA`` command instead of 354; ``drop``: the server
              sends 354, then closes while the client sends the content (mid-DATA);
            - ``"end_of_data"``: the reply after the content (the message is recorded, as a
              message a handler refuses is); ``drop``: closes after the content, with no reply
              (the client cannot know whether the message was taken).

        reply: a reply code from 400 to 559 (a standard text is added) or a reply line
            (``"451 4.3.0 Try again later"``). Give ``reply`` or ``drop=True``.
        nth: strike only the Nth time the stage is reached over the server's life (1-based):
            the Nth connection, the Nth ``MAIL`` (that is, the Nth message), the Nth ``RCPT``,
            ... ``None`` (the default): any time.
        times: strike at most this many times (``times=2`` with nothing else: the first two);
            ``None``: no limit.
        probability: the chance, 0 to 1, that each eligible time strikes, drawn from the
            server's ``random`` (seed it to replay a run). 1 by default.
        drop: close the connection at the stage instead of replying.

    Raises:
        ConfigurationError: an unknown stage, both or neither of ``reply`` and ``drop``, a
            reply that is not an error code or line, or a bad ``nth``/``times``/``probability``.

    When several failures strike at once, the first in the list wins.

    .. versionadded:: 0.1
    """

    __slots__ = ("_schedule", "drop", "nth", "probability", "reply", "stage", "times")

    def __init__(
        self,
        stage: Stage,
        reply: int | str | None = None,
        *,
        nth: int | None = None,
        times: int | None = None,
        probability: float = 1.0,
        drop: bool = False,
    ) -> None:
        if stage not in _STAGES:
            raise ConfigurationError(
                f"SMTPFailure stage must be one of {', '.join(map(repr, _STAGES))}, not {stage!r}"
            )
        if (reply is None) == (not drop):
            raise ConfigurationError(
                "give SMTPFailure a reply code (SMTPFailure('rcpt', 452)) or drop=True "
                "(SMTPFailure('data', drop=True)), one of the two"
            )
        line = None
        if reply is not None:
            line = _reply_line(reply, allow_success=False)
            if line is None:
                raise ConfigurationError(
                    f"SMTPFailure reply must be an error code from 400 to 559 (451) or a reply "
                    f"line ('451 4.3.0 Try again later'), not {reply!r}"
                )
        try:
            self._schedule = FailureSchedule(nth=nth, times=times, probability=probability)
        except ValueError as error:
            raise ConfigurationError(f"SMTPFailure: {error}") from None
        self.stage = stage
        self.reply = line
        self.nth = nth
        self.times = times
        self.probability = float(probability)
        self.drop = bool(drop)

    def __repr__(self) -> str:
        what = "drop=True" if self.drop else repr(self.reply)
        options = "".join(
            f", {name}={value!r}"
            for name, value, default in (
                ("nth", self.nth, None),
                ("times", self.times, None),
                ("probability", self.probability, 1.0),
            )
            if value != default
        )
        return f"understudy.SMTPFailure({self.stage!r}, {what}{options})"


def _check_failures(failures: object) -> dict[str, list[SMTPFailure]]:
    by_stage: dict[str, list[SMTPFailure]] = {}
    if failures is None:
        return by_stage
    if isinstance(failures, SMTPFailure) or not isinstance(failures, list | tuple):
        raise ConfigurationError(
            f"failures= takes a list of understudy.SMTPFailure, e.g. "
            f"failures=[SMTPFailure('rcpt', 452, times=1)], not {failures!r}"
        )
    for failure in failures:
        if not isinstance(failure, SMTPFailure):
            raise ConfigurationError(
                f"failures= holds understudy.SMTPFailure items, not {failure!r}"
            )
        by_stage.setdefault(failure.stage, []).append(failure)
    return by_stage


# -- the protocol ----------------------------------------------------------------------------


_PROTOCOL_NAMES: dict[type, list[str]] = {}


def _protocol_names(cls: type) -> list[str]:
    """The names aiosmtpd looks for on a protocol or handler: smtp_*, auth_* and handle_*."""
    names = _PROTOCOL_NAMES.get(cls)
    if names is None:
        names = _PROTOCOL_NAMES[cls] = sorted(
            name for name in dir(cls) if name.startswith(("smtp_", "auth_", "handle_"))
        )
    return names


class _Hooks:
    """aiosmtpd's handler object: MAIL and RCPT consult the reject rules; DATA records."""

    def __dir__(self) -> list[str]:
        return _protocol_names(type(self))  # as _SMTPConnection.__dir__ says

    def __init__(self, server: SMTPServer) -> None:
        self.server = server

    async def handle_MAIL(  # noqa: N802 - aiosmtpd's hook names
        self,
        conn: _SMTPConnection,
        session: Session,
        envelope: Envelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        failed = self.server._fail(conn, "mail")
        if failed is not None:
            return failed
        reply = _RejectRules.reply(self.server._rules.senders, address)
        if reply is not None:
            return reply
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return _OK

    async def handle_RCPT(  # noqa: N802
        self,
        conn: _SMTPConnection,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        failed = self.server._fail(conn, "rcpt")
        if failed is not None:
            return failed
        reply = _RejectRules.reply(self.server._rules.recipients, address)
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return _OK

    async def handle_DATA(  # noqa: N802
        self, conn: _SMTPConnection, session: Session, envelope: Envelope
    ) -> str:
        server = self.server
        content = envelope.original_content
        peer = session.peer
        message = SMTPMessage(
            content if isinstance(content, bytes) else b"",
            mail_from=envelope.mail_from or "",
            rcpt_tos=envelope.rcpt_tos,
            mail_options=envelope.mail_options,
            rcpt_options=envelope.rcpt_options,
            peer=(peer[0], peer[1]) if isinstance(peer, tuple) else None,
            login=session.auth_data if session.authenticated else None,
            helo=session.host_name,
            smtputf8=envelope.smtp_utf8,
            received_at=time.time(),
            tls=tls_info(conn.transport) if conn.transport is not None else None,
        )
        server._journal.append(message)
        failed = server._fail(conn, "end_of_data")
        if failed is not None:
            return failed
        handler = server._handler
        if handler is None:
            return _OK
        return await server._run_handler(conn, handler, message)

    async def handle_exception(self, error: Exception) -> str:
        """An exception inside the SMTP dialogue: recorded for ``check()``; the client gets 451."""
        self.server._record_error(error)
        return f"451 4.3.0 understudy: the server raised {type(error).__name__} (see check())"


def _retrieve(task: asyncio.Future[Any]) -> None:
    # A dialogue ends with an exception when its client resets the connection; nothing to report.
    if not task.cancelled():
        task.exception()


class _SMTPConnection(SMTP):
    """One SMTP session on understudy's loop, tracked by its server for ``stop()``."""

    def __dir__(self) -> list[str]:
        # aiosmtpd finds its command methods (smtp_*) and AUTH mechanisms (auth_*) by listing
        # the protocol's attributes, for every connection: listing only those (the same ones it
        # would find) saves most of the cost of accepting a connection.
        return _protocol_names(type(self))

    def __init__(self, server: SMTPServer, hooks: _Hooks) -> None:
        auth = server._auth
        super().__init__(
            hooks,
            data_size_limit=server.max_message_size,
            enable_SMTPUTF8=server.smtputf8,
            hostname=server.hostname,
            ident="understudy",
            timeout=_IDLE_TIMEOUT,
            # AUTH is offered only when the test gave credentials; with require_starttls, only
            # after STARTTLS. Never tied to aiosmtpd's own TLS: it does not see implicit TLS
            # and would refuse AUTH inside SMTPS (aiosmtpd #281).
            auth_require_tls=auth is None or server.require_starttls,
            authenticator=self._authenticate_login if auth is not None else None,
            # STARTTLS only: with implicit TLS the connection is TLS from the first byte, and
            # aiosmtpd given a context would offer STARTTLS inside it (aiosmtpd #281, #274).
            tls_context=server._ssl_context() if server.starttls else None,
            require_starttls=server.require_starttls,
            loop=server.loop,
        )
        # aiosmtpd keeps these per class and grows them on each EHLO; keep them per session.
        self.command_size_limits = collections.defaultdict(lambda: SMTP.command_size_limit)
        self.understudy = server
        #: Set while a handler runs for this session's message, done once the reply is sent.
        self.replying: asyncio.Future[None] | None = None
        self.closing = False
        #: While a multi-line reply is being built: its lines, sent in one write.
        self._batch: list[bytes] | None = None
        #: The last reply pushed (a refusal at the end of DATA is journaled from it).
        self._last_reply: str | bytes | None = None

    # -- connection tracking -----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            # aiosmtpd writes a multi-line reply line by line: without TCP_NODELAY, Nagle's
            # algorithm holds each line until the client's (delayed, ~40 ms) ACK of the last.
            # asyncio sets it only on sockets whose proto is IPPROTO_TCP, not on ours (proto 0).
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)
        self.understudy.connections.add(self)
        task = self._handler_coroutine
        if task is not None:
            task.add_done_callback(_retrieve)
        if self._original_transport is not None:
            return  # the same connection, upgraded by STARTTLS: not a new connection
        failed = self.understudy._fail(self, "connect")
        if failed is not None and task is not None:
            task.cancel()  # not yet started: no greeting
            if isinstance(transport, asyncio.WriteTransport) and failed:
                transport.write(failed.encode("ascii", "replace") + b"\r\n")
            self._drop()

    def connection_lost(self, error: Exception | None) -> None:
        self.understudy.connections.discard(self)
        super().connection_lost(error)
        self._reply_sent()

    @property
    def busy(self) -> bool:
        return self.replying is not None

    def say_goodbye(self) -> None:
        """Send 421 (RFC 5321 §3.8) and close, or close after the reply being prepared."""
        self.closing = True
        if self.busy:
            return
        transport = self.transport
        if isinstance(transport, asyncio.WriteTransport) and not transport.is_closing():
            transport.write(_GOODBYE)
            transport.close()

    def abort(self) -> None:
        """Close at once, unless already closing (then what was written still goes out).

        A TLS connection is aborted even when closing: its close_notify went out with the
        close, and the client's is not awaited (RFC 8446 §6.1).
        """
        transport = self.transport
        tls = self.understudy._tls is not None
        if isinstance(transport, asyncio.WriteTransport) and (tls or not transport.is_closing()):
            transport.abort()
        task = self._handler_coroutine
        if task is not None:
            task.cancel()

    def _drop(self) -> None:
        """Close the connection with no reply (an injected failure): what was written goes."""
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.close()

    def _reply_sent(self) -> None:
        replying, self.replying = self.replying, None
        if replying is not None and not replying.done():
            replying.set_result(None)

    def eof_received(self) -> bool | None:
        result = super().eof_received()
        # asyncio cannot keep a TLS connection half-open (and warns when asked to).
        return False if self.understudy._tls is not None else result

    # -- commands ----------------------------------------------------------------------------

    async def smtp_DATA(self, arg: str) -> None:  # noqa: N802 - aiosmtpd's method names
        envelope = self.envelope
        if envelope is not None and envelope.rcpt_tos and not arg:
            failure = self.understudy._failure("data")
            if failure is not None:
                if failure.drop:
                    await self.push("354 End data with <CR><LF>.<CR><LF>")
                    self._drop()
                elif failure.reply is not None:
                    await self.push(failure.reply)
                return
        before = self._last_reply
        try:
            await super().smtp_DATA(arg)
        finally:
            self._reply_sent()
            if self.closing:
                self.say_goodbye()
        reply = self._last_reply
        if (
            reply is not before
            and isinstance(reply, str)
            and reply.startswith(("552 ", "500 Line too long"))
            and envelope is not None
        ):
            self._record_refused(envelope, reply)

    def _record_refused(self, envelope: Envelope, reply: str) -> None:
        """Content refused at the end of DATA (too much, or too long a line): journal it."""
        session = self.session
        peer = session.peer if session is not None else None
        self.understudy._journal.append(
            SMTPMessage(
                b"",
                mail_from=envelope.mail_from or "",
                rcpt_tos=envelope.rcpt_tos,
                mail_options=envelope.mail_options,
                rcpt_options=envelope.rcpt_options,
                peer=(peer[0], peer[1]) if isinstance(peer, tuple) else None,
                login=session.auth_data if session is not None and session.authenticated else None,
                helo=session.host_name if session is not None else None,
                smtputf8=envelope.smtp_utf8,
                received_at=time.time(),
                tls=tls_info(self.transport) if self.transport is not None else None,
                error=reply,
            )
        )

    async def push(self, status: AnyStr) -> None:
        self._last_reply = status
        batch = self._batch
        if batch is None:
            await super().push(status)
            return
        if isinstance(status, str):
            batch.append(status.encode("utf-8" if self.enable_SMTPUTF8 else "ascii") + b"\r\n")
        else:
            batch.append(status + b"\r\n")

    async def smtp_EHLO(self, hostname: str) -> None:  # noqa: N802
        # aiosmtpd pushes the EHLO reply a line at a time; one write spares the client a wake-up
        # per line.
        self._batch = []
        try:
            await super().smtp_EHLO(hostname)
        finally:
            lines, self._batch = self._batch, None
        if lines:
            self._writer.write(b"".join(lines))
            await self._writer.drain()

    async def smtp_AUTH(self, arg: str) -> None:  # noqa: N802
        if self.understudy._auth is None:
            await self.push(
                "502 5.5.1 AUTH is not offered: give SMTPServer auth={'user': 'password'}"
            )
            return
        failed = self.understudy._fail(self, "auth")
        if failed is not None:
            if failed:
                await self.push(failed)
            return
        await super().smtp_AUTH(arg)

    async def check_auth_needed(self, caller_method: str) -> bool:
        # aiosmtpd's auth_required warns when TLS is not required too; understudy decides
        # itself (AUTH works over plain, implicit TLS and STARTTLS alike).
        session = self.session
        if self.understudy.auth_required and not (session is not None and session.authenticated):
            await self.push("530 5.7.0 Authentication required")
            return True
        return False

    def _authenticate_login(
        self,
        conn: SMTP,
        session: Session,
        envelope: Envelope,
        mechanism: str,
        auth_data: Any,
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login = auth_data.login.decode("utf-8", "surrogateescape")
        password = auth_data.password.decode("utf-8", "surrogateescape")
        try:
            accepted = self.understudy._check_credentials(login, password)
        except Exception as error:  # noqa: BLE001 - the test's callable: reported by check()
            self.understudy._record_error(error)
            return AuthResult(
                success=False,
                handled=False,
                message=f"454 4.7.0 understudy: the auth callable raised {type(error).__name__} "
                "(see check())",
            )
        if accepted:
            return AuthResult(success=True, auth_data=login)
        return AuthResult(success=False, handled=False)


class _QuietOnUnderstudyLoop(logging.Filter):
    """Drops aiosmtpd's log records emitted on understudy's loop thread.

    aiosmtpd logs every command (and a deprecation warning on every AUTH) to ``mail.log``. On
    understudy's loop, a ``logging.handlers.SMTPHandler`` on the root logger would send each of
    those records to the very server that is logging, from the loop that serves it: a deadlock.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return record.threadName != _LOOP_THREAD_NAME


_log_filter_lock = threading.Lock()
_log_filter: _QuietOnUnderstudyLoop | None = None


def _quiet_aiosmtpd_on_loop() -> None:
    global _log_filter  # noqa: PLW0603 - installed once per process
    with _log_filter_lock:
        if _log_filter is None:
            _log_filter = _QuietOnUnderstudyLoop()
            logging.getLogger("mail.log").addFilter(_log_filter)


# -- the server ------------------------------------------------------------------------------


class SMTPServer(Server):
    """An SMTP server (RFC 5321) that records every message and answers as the test says.

    Every message that reaches the end of DATA is recorded as an :class:`SMTPMessage` (even one
    that a handler then refuses, and one that does not parse as a proper email) and, unless a
    handler says otherwise, accepted with ``250 OK``. ESMTP extensions: 8BITMIME, SIZE
    (RFC 1870), SMTPUTF8 (RFC 6531, when enabled), AUTH PLAIN and LOGIN (RFC 4954, RFC 4616,
    when credentials are given), STARTTLS (RFC 3207, with ``starttls=True``).

    Args:
        host: address to listen on (see :class:`understudy.Server`): ``"127.0.0.1"`` by default.
        port: port to listen on; 0 (the default) lets the kernel choose.
        hostname: the name the server gives in its greeting and EHLO reply (never looked up).
        auth: credentials for AUTH: ``{"login": "password"}``, or a callable
            ``check(login: str, password: str) -> bool`` (run on the server's loop: keep it
            quick; an exception gets the client 454 and is re-raised by :meth:`check`).
            ``None`` (the default): AUTH is not offered and answers 502.
        auth_required: refuse MAIL, RCPT and DATA with ``530 5.7.0 Authentication required``
            until the client authenticates (needs ``auth``).
        reject: reply codes to give for given addresses instead of accepting them. Keys are
            recipients (checked at ``RCPT TO``) or, prefixed with ``"from:"``, senders (checked at
            ``MAIL FROM``): an exact address (compared case-insensitively), ``"@domain"`` for a
            whole domain, or ``"*"`` for any (the most specific key wins). Values are a reply
            code from 400 to 559 (``550``; a standard text is added), a reply line
            (``"550 5.1.1 No such user here"``), or ``(reply, times)`` to refuse only the first
            ``times`` attempts and then accept (``(452, 1)``: once, for a client's retry), counted
            over the server's life. Example::

                reject={"bad@example.com": 550, "busy@example.com": (452, 1),
                        "from:spammer@example.com": 554, "@blocked.example": 550}

            A refused recipient is left out of the message's ``rcpt_tos``.
        smtputf8: offer SMTPUTF8 (RFC 6531): UTF-8 in addresses and headers.
        max_message_size: the most bytes of content accepted (advertised with SIZE, RFC 1870):
            a larger ``MAIL FROM ... SIZE=`` gets ``552`` at once, larger DATA gets ``552`` at its
            end and is recorded with that reply as its ``error`` (its bytes are not kept).
            ``None``: no limit. 32 MiB by default.
        handler: ``handler(message) -> reply``, called for each message after it is recorded.
            ``None`` accepts (``250 OK``); an int reply code (``554``) or a reply line
            (``"554 5.7.1 No thanks"``) answers with it. A plain function runs in the worker
            pool; an ``async def`` on the server's loop. An exception gets the client
            ``451 4.3.0`` and is re-raised by :meth:`check` and on leaving the ``with`` block.
        journal_size: keep only the last N messages (``None``: all; ``0``: none).
        failures: :class:`SMTPFailure` items: error replies or dropped connections injected at
            a stage of the dialogue, by position (the Nth message, the first N) or by chance
            (drawn from :attr:`random`). Checked before ``reject=`` rules. ``None``: none.
        tls: implicit TLS, "SMTPS" (RFC 8314 §3.3): TLS from the first byte, as
            ``smtplib.SMTP_SSL`` speaks it. ``True``, or :class:`~understudy.TLS` settings.
            Clients trust the test CA of :mod:`understudy.tls`. AUTH is offered inside it.
        starttls: offer STARTTLS (RFC 3207) on a plain connection: ``True``, or
            :class:`~understudy.TLS` settings for the upgraded connection.
        require_starttls: refuse every command but EHLO, HELO, NOOP, QUIT and STARTTLS with
            ``530`` until the client has upgraded (implies ``starttls=True``).
        conditions: network conditions on every connection (:class:`understudy.Conditions`);
        seed: seeds the server's random choices (see :class:`understudy.Server`).

    Raises:
        ConfigurationError: a malformed ``auth``, ``reject``, ``failures`` or size, a handler
            that is not callable, ``auth_required`` without ``auth``, or both ``tls`` and
            ``starttls``.

    .. versionadded:: 0.1
    """

    kind: ClassVar[str] = "SMTP server"

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        hostname: str = _DEFAULT_HOSTNAME,
        auth: Auth | None = None,
        auth_required: bool = False,
        reject: Mapping[str, RejectRule] | None = None,
        smtputf8: bool = False,
        max_message_size: int | None = _DEFAULT_MAX_MESSAGE_SIZE,
        handler: Handler | None = None,
        journal_size: int | None = None,
        tls: bool | TLS | None = None,
        starttls: bool | TLS = False,
        require_starttls: bool = False,
        failures: list[SMTPFailure] | None = None,
        conditions: Conditions | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__(host=host, port=port, conditions=conditions, seed=seed)
        self._configure_tls(tls, starttls, require_starttls)
        self._failures = _check_failures(failures)

        if not isinstance(hostname, str) or not hostname or any(c.isspace() for c in hostname):
            raise ConfigurationError(
                f"hostname must be a domain name such as 'mail.example.com', not {hostname!r}"
            )
        self.hostname = hostname
        self._auth = _check_auth(auth)
        if auth_required and auth is None:
            raise ConfigurationError(
                "auth_required=True needs credentials: give auth={'user': 'password'} too"
            )
        self.auth_required = bool(auth_required)
        self._rules = _RejectRules(reject)
        self.smtputf8 = bool(smtputf8)
        if max_message_size is not None and (
            not isinstance(max_message_size, int)
            or isinstance(max_message_size, bool)
            or max_message_size < 1
        ):
            raise ConfigurationError(
                "max_message_size must be a positive int (bytes) or None (no limit), not "
                f"{max_message_size!r}"
            )
        self.max_message_size = max_message_size
        if handler is not None and not callable(handler):
            raise ConfigurationError(
                f"handler= must be callable (message) -> None | reply, not {type(handler).__name__}"
            )
        self._handler = handler
        self._handler_is_async = handler is not None and (
            inspect.iscoroutinefunction(handler)
            or inspect.iscoroutinefunction(getattr(handler, "__call__", None))  # noqa: B004
        )
        self._journal: Journal[SMTPMessage] = Journal("message", journal_size)
        self._hooks = _Hooks(self)
        self.connections: set[_SMTPConnection] = set()
        self._listeners: list[asyncio.AbstractServer] = []
        self._inflight: dict[asyncio.Future[Any], str] = {}

    def _configure_tls(self, tls: object, starttls: object, require_starttls: object) -> None:
        implicit = resolve_tls(tls, self.kind)
        upgrade = resolve_tls(True if require_starttls and not starttls else starttls, self.kind)
        if implicit is not None and upgrade is not None:
            raise ConfigurationError(
                "give SMTPServer tls= (implicit TLS, SMTPS) or starttls= (RFC 3207), not both: "
                "a connection that is TLS from its first byte has nothing to upgrade"
            )
        self._tls = implicit or upgrade
        self.starttls = upgrade is not None
        self.require_starttls = bool(require_starttls)
        self._ssl_context()  # with TLS: the CA and certificate are made here, not on the loop

    # -- what the test reads -----------------------------------------------------------------

    @property
    def messages(self) -> list[SMTPMessage]:
        """The messages received so far (a snapshot list, oldest first)."""
        return self._journal.snapshot()

    def wait_for_messages(
        self,
        count: int = 1,
        *,
        match: Callable[[SMTPMessage], bool] | None = None,
        timeout: float = 5.0,
    ) -> list[SMTPMessage]:
        """Block until ``count`` messages (satisfying ``match``, if given) have been received.

        Args:
            count: how many to wait for.
            match: a predicate on :class:`SMTPMessage`; only messages it accepts count.
            timeout: seconds to wait.

        Returns:
            The first ``count`` such messages, oldest first.

        Raises:
            WaitTimeout: after ``timeout`` seconds; the message lists what did arrive.
        """
        __tracebackhide__ = True
        return self._journal.wait_for(count, match=match, timeout=timeout)

    async def wait_for_messages_async(
        self,
        count: int = 1,
        *,
        match: Callable[[SMTPMessage], bool] | None = None,
        timeout: float = 5.0,
    ) -> list[SMTPMessage]:
        """The awaitable twin of :meth:`wait_for_messages`, for async tests."""
        __tracebackhide__ = True
        return await self._journal.wait_for_async(count, match=match, timeout=timeout)

    def clear(self) -> None:
        """Forget the messages received so far."""
        self._journal.clear()

    # -- used by connections, on the loop ----------------------------------------------------

    @property
    def runtime(self) -> Runtime:
        runtime = self._runtime
        assert runtime is not None
        return runtime

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return self.runtime.loop

    def _check_credentials(self, login: str, password: str) -> bool:
        auth = self._auth
        if auth is None:
            return False
        if isinstance(auth, dict):
            expected = auth.get(login)
            return expected is not None and hmac.compare_digest(
                expected.encode("utf-8", "surrogateescape"),
                password.encode("utf-8", "surrogateescape"),
            )
        return bool(auth(login, password))  # type: ignore[operator]

    async def _run_handler(
        self, conn: _SMTPConnection, handler: Handler, message: SMTPMessage
    ) -> str:
        future: asyncio.Future[Any]
        if self._handler_is_async:
            future = asyncio.ensure_future(handler(message), loop=self.loop)
        else:
            future = self.runtime.run_in_worker(handler, message)
        conn.replying = self.loop.create_future()
        description = (
            f"handler {describe_handler(handler)} for the message from <{message.mail_from}>"
        )
        self._track(future, description)
        try:
            # Shielded: a client that hangs up does not cancel the test's handler.
            result = await asyncio.shield(future)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # noqa: BLE001 - recorded by _untrack, reported by check()
            return f"451 4.3.0 understudy: the handler raised {type(error).__name__} (see check())"
        if result is None:
            return _OK
        reply = _reply_line(result, allow_success=True)
        if reply is None:
            bad_return = TypeError(
                f"an SMTPServer handler returns None (accept), a reply code such as 554, or a "
                f"reply line such as '554 5.7.1 No thanks'; {describe_handler(handler)} returned "
                f"{result!r}"
            )
            self._record_error(bad_return)
            return "451 4.3.0 understudy: the handler returned no valid reply (see check())"
        return reply

    def _failure(self, stage: str) -> SMTPFailure | None:
        """Count one arrival at ``stage``; the failure that strikes there now, if any."""
        failures = self._failures.get(stage)
        if not failures:
            return None
        chosen = None
        for failure in failures:
            if chosen is None:
                if failure._schedule.fires(self.random):
                    chosen = failure
            else:
                failure._schedule.arrivals += 1
        return chosen

    def _fail(self, conn: _SMTPConnection, stage: str) -> str | None:
        """The reply for a failure striking at ``stage`` (``""`` once it dropped the connection)."""
        failure = self._failure(stage)
        if failure is None:
            return None
        if failure.drop:
            conn._drop()
            return ""
        return failure.reply

    def _track(self, future: asyncio.Future[Any], description: str) -> None:
        self._inflight[future] = description
        future.add_done_callback(self._untrack)

    def _untrack(self, future: asyncio.Future[Any]) -> None:
        self._inflight.pop(future, None)
        if not future.cancelled():
            error = future.exception()
            if error is not None:
                self._record_error(error)

    # -- lifecycle hooks ---------------------------------------------------------------------

    async def _serve(self, sockets: list[socket.socket]) -> None:
        _quiet_aiosmtpd_on_loop()
        context = None if self.starttls else self._ssl_context()
        self._listeners = [
            await self._listen(self._make_connection, sock, ssl=context) for sock in sockets
        ]

    def _make_connection(self) -> _SMTPConnection:
        return _SMTPConnection(self, self._hooks)

    async def _shutdown(self, timeout: float) -> list[str]:
        loop = asyncio.get_running_loop()
        listeners, self._listeners = self._listeners, []
        await close_listeners(listeners)
        for conn in list(self.connections):
            conn.say_goodbye()
        deadline = loop.time() + timeout

        def pending() -> set[asyncio.Future[Any]]:
            replies = {c.replying for c in self.connections if c.replying is not None}
            return set(self._inflight) | {r for r in replies if not r.done()}

        while (waiting := pending()) and (remaining := deadline - loop.time()) > 0:
            await asyncio.wait(waiting, timeout=remaining)
        still_running = sorted(set(self._inflight.values()))
        for future in list(self._inflight):
            future.cancel()
        tasks = [
            task
            for conn in self.connections
            if (task := conn._handler_coroutine) is not None and not task.done()
        ]
        for conn in list(self.connections):
            conn.abort()
        if tasks:
            # Let each dialogue unwind (they are cancelled), so stop() leaves nothing pending.
            await asyncio.wait(tasks, timeout=1.0)
        return still_running

    def _abort(self) -> None:
        for listener in self._listeners:
            listener.close()
        self._listeners = []
        for conn in list(self.connections):
            conn.abort()


def _check_auth(auth: object) -> Auth | None:
    if auth is None:
        return None
    if isinstance(auth, Mapping):
        for login, password in auth.items():
            if not isinstance(login, str) or not isinstance(password, str):
                raise ConfigurationError(
                    "auth= maps logins to passwords, both str: auth={'user': 'password'}; got "
                    f"{login!r}: {type(password).__name__}"
                )
        return dict(auth)
    if callable(auth):
        return auth
    raise ConfigurationError(
        "auth= takes {'login': 'password'} or a callable check(login, password) -> bool, not "
        f"{type(auth).__name__}"
    )
