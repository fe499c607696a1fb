"""SMTPServer: an SMTP server (RFC 5321) that records every message it receives.

aiosmtpd's :class:`aiosmtpd.smtp.SMTP` protocol speaks SMTP (ESMTP, 8BITMIME, SIZE, SMTPUTF8,
AUTH); understudy serves it on the runtime's loop (no thread, no aiosmtpd ``Controller``), turns
each message into an :class:`SMTPMessage` in a journal, and adds what tests need: credentials,
reject rules per address (for retry tests), a size limit and a handler callable.
"""

from ._message import SMTPMessage, SMTPReply
from ._rules import SMTPFailure
from ._server import SMTPServer

__all__ = ["SMTPFailure", "SMTPMessage", "SMTPReply", "SMTPServer"]
