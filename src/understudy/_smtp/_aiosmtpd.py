"""What understudy makes of aiosmtpd: the names it looks for, its table of commands, its
log, and the credentials and message of a session.

aiosmtpd's ``SMTP`` class is subclassed in ``_session``; these are the pieces around it that
``_session`` and ``_hooks`` (aiosmtpd's handler object) both use.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
import weakref
from typing import Any, NamedTuple, Protocol, TypedDict, cast

from aiosmtpd.smtp import Envelope, Session

from .._tls import TLSInfo
from ._message import SMTPMessage, SMTPReply

__all__ = [
    "CommandNoter",
    "Commands",
    "Credentials",
    "credentials",
    "envelope_message",
    "protocol_names",
    "quiet_aiosmtpd_on_loop",
    "reverse_path",
]

#: The thread that runs understudy's loop (see ``_runtime.Runtime``).
_LOOP_THREAD_NAME = "understudy-loop"

_NAMES: dict[type, list[str]] = {}


def protocol_names(cls: type) -> list[str]:
    """The names aiosmtpd looks for on a protocol or handler: smtp_*, auth_* and handle_*."""
    names = _NAMES.get(cls)
    if names is None:
        names = _NAMES[cls] = sorted(
            name for name in dir(cls) if name.startswith(("smtp_", "auth_", "handle_"))
        )
    return names


class CommandNoter(Protocol):
    """What :class:`Commands` notes each command on (a session: ``_session.SMTPConnection``)."""

    command: str
    address: str
    replies: list[SMTPReply] | None
    envelope: Envelope | None

    async def run_command(self, method: Any, arg: str | None) -> None: ...


class Commands(dict[str, Any]):
    """aiosmtpd's table of command methods, noting on the connection which command came.

    aiosmtpd looks each command up with ``.get(name)`` before calling it: the name is the
    command being answered, so the replies of a transaction can say which each answered.
    """

    def __init__(self, conn: CommandNoter, methods: dict[str, Any]) -> None:
        super().__init__(methods)
        # (A proxy, as everything the connection keeps that refers back to it.)
        self.conn = cast("CommandNoter", weakref.proxy(conn))
        self.helping = False

    def get(self, command: str, default: Any = None) -> Any:
        method = super().get(command, default)
        if self.helping:
            return method
        conn = self.conn
        conn.command = command
        conn.address = ""
        envelope = conn.envelope
        if command == "MAIL" and (envelope is None or not envelope.mail_from):
            # A mail transaction begins (RFC 5321 §3.3); a MAIL inside one (503) is its reply.
            conn.replies = []
        if method is None:
            return method
        return functools.partial(conn.run_command, method)


class Credentials(NamedTuple):
    """What a client authenticated with: kept on aiosmtpd's session as its ``auth_data``."""

    login: str
    password: str
    auth_mechanism: str


class _SessionCredentials(TypedDict):
    login: str | None
    password: str | None
    auth_mechanism: str | None


def reverse_path(address: str | None) -> str:
    """The reverse-path of ``MAIL FROM`` as understudy records it: ``""`` for the null one.

    aiosmtpd gives ``MAIL FROM:<>`` (a bounce, RFC 5321 §4.5.5) as the address ``"<>"``, and
    keeps it so in the envelope: there a sender must not be empty, or RCPT is refused with 503.
    """
    return "" if address is None or address == "<>" else address


def credentials(session: Session | None) -> _SessionCredentials:
    """The AUTH credentials of ``session`` as SMTPMessage's keywords (all ``None`` if none)."""
    data: object = session.auth_data if session is not None and session.authenticated else None
    if not isinstance(data, Credentials):
        return {"login": None, "password": None, "auth_mechanism": None}
    return {"login": data.login, "password": data.password, "auth_mechanism": data.auth_mechanism}


def envelope_message(
    content: bytes,
    envelope: Envelope,
    session: Session | None,
    *,
    tls: TLSInfo | None,
    replies: tuple[SMTPReply, ...] | list[SMTPReply],
    error: str | None = None,
) -> SMTPMessage:
    """The :class:`SMTPMessage` of a mail transaction: ``envelope`` with ``content``, from
    ``session`` (its peer, HELO and credentials), received now."""
    peer = session.peer if session is not None else None
    return SMTPMessage(
        content,
        mail_from=reverse_path(envelope.mail_from),
        rcpt_tos=envelope.rcpt_tos,
        mail_options=envelope.mail_options,
        rcpt_options=envelope.rcpt_options,
        peer=(peer[0], peer[1]) if isinstance(peer, tuple) else None,
        **credentials(session),
        helo=session.host_name if session is not None else None,
        smtputf8=envelope.smtp_utf8,
        received_at=time.time(),
        tls=tls,
        error=error,
        replies=tuple(replies),
    )


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


def quiet_aiosmtpd_on_loop() -> None:
    global _log_filter  # noqa: PLW0603 - installed once per process
    with _log_filter_lock:
        if _log_filter is None:
            _log_filter = _QuietOnUnderstudyLoop()
            logging.getLogger("mail.log").addFilter(_log_filter)


# -- the server ------------------------------------------------------------------------------
