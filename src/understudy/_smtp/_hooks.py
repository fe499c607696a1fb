"""aiosmtpd's handler object: MAIL and RCPT consult the failures and reject rules; DATA
journals the message and answers it (the handler's reply, or ``250 OK``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiosmtpd.smtp import Envelope, Session

from .._tls import tls_info
from ._aiosmtpd import envelope_message, protocol_names, reverse_path
from ._rules import OK, RejectRules
from ._site import Site

if TYPE_CHECKING:
    from ._session import SMTPConnection

__all__ = ["Hooks"]


class Hooks:
    """aiosmtpd's handler object: MAIL and RCPT consult the reject rules; DATA records."""

    def __dir__(self) -> list[str]:
        return protocol_names(type(self))  # as SMTPConnection.__dir__ says

    def __init__(self, site: Site) -> None:
        self.site = site

    async def handle_MAIL(  # noqa: N802 - aiosmtpd's hook names
        self,
        conn: SMTPConnection,
        session: Session,
        envelope: Envelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        conn.address = reverse_path(address)
        failed = self.site.fail(conn, "mail")
        if failed is not None:
            return failed
        reply = RejectRules.reply(self.site.rules.senders, address)
        if reply is not None:
            return reply
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return OK

    async def handle_RCPT(  # noqa: N802
        self,
        conn: SMTPConnection,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        conn.address = address
        failed = self.site.fail(conn, "rcpt")
        if failed is not None:
            return failed
        reply = RejectRules.reply(self.site.rules.recipients, address)
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return OK

    async def handle_DATA(  # noqa: N802
        self, conn: SMTPConnection, session: Session, envelope: Envelope
    ) -> str:
        site = self.site
        content = envelope.original_content
        message = envelope_message(
            content if isinstance(content, bytes) else b"",
            envelope,
            session,
            tls=tls_info(conn.transport) if conn.transport is not None else None,
            replies=conn.replies or (),
        )
        # Its last reply is recorded into this entry before it is sent (see push).
        conn.journaled = (site.journal.append(message), message)
        failed = site.fail(conn, "end_of_data")
        if failed is not None:
            return failed
        return await site.answer(conn, message)

    async def handle_exception(self, error: Exception) -> str:
        """An exception inside the SMTP dialogue: recorded for ``check()``; the client gets 451."""
        self.site.record_error(error)
        return f"451 4.3.0 understudy: the server raised {type(error).__name__} (see check())"
