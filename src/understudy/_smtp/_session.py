"""One SMTP session: aiosmtpd's SMTP protocol class, served on understudy's loop."""

from __future__ import annotations

import asyncio
import collections
import re
import socket
from typing import Any, AnyStr

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from .._handshake import ServerTLSProtocol
from .._tls import tls_info
from ._aiosmtpd import Commands, Credentials, envelope_message, protocol_names
from ._message import SMTPMessage, SMTPReply, with_replies
from ._site import Site

__all__ = ["SMTPConnection"]

#: Seconds an SMTP connection may stay silent before the server closes it (RFC 5321 §4.5.3.2.7
#: asks for at least 5 minutes).
_IDLE_TIMEOUT = 300.0
#: RFC 5321 §3.8: a server that must shut down says so before closing.
_GOODBYE = b"421 4.3.2 Service shutting down\r\n"
#: Characters no command argument may hold (RFC 5321 §4.1.2): C0 controls but HTAB, and DEL.
_CONTROLS = re.compile("[\x00-\x08\x0a-\x1f\x7f]")


def _retrieve(task: asyncio.Future[Any]) -> None:
    # A dialogue ends with an exception when its client resets the connection; nothing to report.
    if not task.cancelled():
        task.exception()


class SMTPConnection(SMTP):
    """One SMTP session on understudy's loop, tracked by its server for ``stop()``."""

    def __dir__(self) -> list[str]:
        # aiosmtpd finds its command methods (smtp_*) and AUTH mechanisms (auth_*) by listing
        # the protocol's attributes, for every connection: listing only those (the same ones it
        # would find) saves most of the cost of accepting a connection.
        return protocol_names(type(self))

    def __init__(self, hooks: object, site: Site) -> None:
        """``hooks``: aiosmtpd's handler object (``_hooks.Hooks``), on ``site``."""
        auth = site.auth
        super().__init__(
            hooks,
            data_size_limit=site.max_message_size,
            enable_SMTPUTF8=site.smtputf8,
            hostname=site.hostname,
            ident="understudy",
            timeout=_IDLE_TIMEOUT,
            # AUTH is offered only when the test gave credentials; with require_starttls, only
            # after STARTTLS. Never tied to aiosmtpd's own TLS: it does not see implicit TLS
            # and would refuse AUTH inside SMTPS (aiosmtpd #281).
            auth_require_tls=auth is None or site.require_starttls,
            authenticator=self._authenticate_login if auth is not None else None,
            # STARTTLS only: with implicit TLS the connection is TLS from the first byte, and
            # aiosmtpd given a context would offer STARTTLS inside it (aiosmtpd #281, #274).
            tls_context=site.starttls_context,
            require_starttls=site.require_starttls,
            loop=site.loop,
        )
        # aiosmtpd keeps these per class and grows them on each EHLO; keep them per session.
        self.command_size_limits = collections.defaultdict(lambda: SMTP.command_size_limit)
        self.site = site
        #: Set while a handler runs for this session's message, done once the reply is sent.
        self.replying: asyncio.Future[None] | None = None
        self.closing = False
        #: While a multi-line reply is being built: its lines, sent in one write.
        self._batch: list[bytes] | None = None
        #: The last reply pushed (a refusal at the end of DATA is journaled from it).
        self._last_reply: str | bytes | None = None
        #: The command being answered (as _Commands saw it) and its address (MAIL, RCPT).
        self.command = ""
        self.address = ""
        #: The replies of the mail transaction under way (from MAIL on), or ``None``.
        self.replies: list[SMTPReply] | None = None
        #: The message journaled for this transaction, and its number, until its last reply.
        self.journaled: tuple[int, SMTPMessage] | None = None
        #: The replies of the last transaction, once over.
        self.last_transaction: tuple[SMTPReply, ...] = ()
        self._commands = self._smtp_methods = Commands(self, self._smtp_methods)

    # -- connection tracking -----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            # aiosmtpd writes a multi-line reply line by line: without TCP_NODELAY, Nagle's
            # algorithm holds each line until the client's (delayed, ~40 ms) ACK of the last.
            # asyncio sets it only on sockets whose proto is IPPROTO_TCP, not on ours (proto 0).
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)
        self.site.connections.add(self)
        task = self._handler_coroutine
        if task is not None:
            task.add_done_callback(_retrieve)
        if self._original_transport is not None:
            return  # the same connection, upgraded by STARTTLS: not a new connection
        failed = self.site.fail(self, "connect")
        if failed is not None and task is not None:
            task.cancel()  # not yet started: no greeting
            if isinstance(transport, asyncio.WriteTransport) and failed:
                transport.write(failed.encode("ascii", "replace") + b"\r\n")
            self.drop()

    def connection_lost(self, error: Exception | None) -> None:
        self.site.connections.discard(self)
        super().connection_lost(error)
        self._reply_sent()

    @property
    def dialogue(self) -> asyncio.Task[None] | None:
        """aiosmtpd's task running this session's dialogue (``None`` before it begins)."""
        return self._handler_coroutine

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
        tls = self.site.tls
        if isinstance(transport, asyncio.WriteTransport) and (tls or not transport.is_closing()):
            transport.abort()
        task = self._handler_coroutine
        if task is not None:
            task.cancel()

    def drop(self) -> None:
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
        return False if self.site.tls else result

    # -- commands ----------------------------------------------------------------------------

    async def smtp_DATA(self, arg: str) -> None:  # noqa: N802 - aiosmtpd's method names
        envelope = self.envelope
        if envelope is not None and envelope.rcpt_tos and not arg:
            failure = self.site.failure("data")
            if failure is not None:
                if failure.drop:
                    await self.push("354 End data with <CR><LF>.<CR><LF>")
                    self.drop()
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
        transport = self.transport
        tls = tls_info(transport) if transport is not None else None
        refused = envelope_message(
            b"", envelope, self.session, tls=tls, replies=self.last_transaction, error=reply
        )
        self.site.journal.append(refused)

    async def push(self, status: AnyStr) -> None:
        self._last_reply = status
        replies = self.replies
        if replies is not None:
            self._note_reply(replies, status)
        batch = self._batch
        if batch is None:
            await super().push(status)
            return
        if isinstance(status, str):
            batch.append(status.encode("utf-8" if self.enable_SMTPUTF8 else "ascii") + b"\r\n")
        else:
            batch.append(status + b"\r\n")

    def _note_reply(self, replies: list[SMTPReply], status: str | bytes) -> None:
        """Add ``status`` to the transaction's replies; its last one completes the journal's
        message, before it is sent (so a client that has it finds it in the journal)."""
        line = status if isinstance(status, str) else status.decode("utf-8", "replace")
        code, text = line[:3], line[4:]
        command = self.command
        if command == "DATA" and any(r.command == "DATA" and r.code == 354 for r in replies):
            command = "."  # (the reply to the end of the content, after 354 in the same DATA)
        try:
            replies.append(SMTPReply(command, int(code), text, self.address))
        except ValueError:
            return  # (not a reply line)
        journaled = self.journaled
        if journaled is not None and command == ".":
            self.journaled = None
            number, message = journaled
            self.site.journal.replace(number, with_replies(message, tuple(replies)))
        if command == ".":
            self.replies = None  # the transaction is over
            self.last_transaction = tuple(replies)

    async def run_command(self, method: Any, arg: str | None) -> None:
        """Answer a command: ``method(arg)``, unless ``arg`` holds a control character.

        RFC 5321 §4.1.2 builds every command's argument from printable characters and SP
        (§4.1.1: a line ends only with CRLF): NUL, a bare CR or LF, DEL or another control
        character in it is refused with ``501 5.5.2`` (HTAB is let through, as a lenient
        space). Every command goes through here (aiosmtpd looks each up in ``_Commands``).
        """
        if arg is not None and _CONTROLS.search(arg):
            await self.push(
                "501 5.5.2 Syntax error: a control character (such as NUL, CR or LF) in the "
                "command's argument"
            )
            return
        await method(arg)

    async def smtp_HELP(self, arg: str) -> None:  # noqa: N802
        # (It looks commands up by name, which _Commands would take for the command sent.)
        self.command = "HELP"
        self._commands.helping = True
        try:
            await super().smtp_HELP(arg)
        finally:
            self._commands.helping = False

    async def smtp_EHLO(self, hostname: str) -> None:  # noqa: N802
        # aiosmtpd pushes the EHLO reply a line at a time; one write spares the client a wake-up
        # per line.
        self._batch = []
        try:
            await super().smtp_EHLO(hostname)
        finally:
            lines, self._batch = self._batch, None
        if self.site.auth is None:
            # aiosmtpd lists AUTH once TLS is up, even with no authenticator: a client that
            # sees it logs in, and is refused (RFC 4954 §3: offered means it may be used).
            lines = [line for line in lines if not line[4:].upper().startswith(b"AUTH")]
        if lines:
            self._writer.write(b"".join(lines))
            await self._writer.drain()

    async def smtp_STARTTLS(self, arg: str) -> None:  # noqa: N802
        """STARTTLS (RFC 3207) as aiosmtpd does it, with three differences: refused with 503
        inside TLS (§4.2: TLS is not started twice; asyncio cannot nest it either), the
        handshake runs in understudy's TLS protocol (the alert of a failure reaches the client,
        the failure is journaled in ``tls_failures``), and a failed handshake ends the session
        quietly instead of reaching ``check()``."""
        if self.transport is not None and self.transport.get_extra_info("ssl_object"):
            await self.push("503 5.5.1 Bad sequence of commands: TLS is already active")
            return
        if arg:
            await self.push("501 5.5.4 Syntax: STARTTLS")
            return
        handshakes = self.site.starttls_handshakes
        if not self.tls_context or handshakes is None:
            await self.push("454 4.7.0 TLS not available")
            return
        await self.push("220 2.0.0 Ready to start TLS")
        waiter: asyncio.Future[None] = self.loop.create_future()
        tcp = self.transport
        assert tcp is not None
        protocol = ServerTLSProtocol(self.loop, self, handshakes, waiter)
        # (As aiosmtpd does: the TCP transport now feeds the TLS protocol, whose transport is
        # this session's; connection_made sees _original_transport and keeps the session.)
        self._tls_protocol = protocol
        self._original_transport = tcp
        tcp.set_protocol(protocol)
        # (asyncio's SSLProtocol gives its application transport to no one before the
        # handshake, and this session must write through it from now on: read as aiosmtpd's
        # own smtp_STARTTLS reads it.)
        self.transport = protocol._app_transport
        protocol.connection_made(tcp)
        try:
            await waiter
        except asyncio.CancelledError:
            raise
        except Exception as error:  # noqa: BLE001 - journaled by the TLS protocol
            self._end_after_failed_handshake(error)
            return
        if self.transport.get_extra_info("ssl_object") is None:
            self._end_after_failed_handshake(None)  # (aborted mid-handshake: stop())

    def _end_after_failed_handshake(self, error: Exception | None) -> None:
        # As aiosmtpd does after TLSSetupException: the TLS protocol never tells the session
        # its connection is lost (it was never made), so the session says it to itself.
        transport = self.transport
        if transport is not None:
            transport.close()
        self.connection_lost(error)

    async def smtp_AUTH(self, arg: str) -> None:  # noqa: N802
        if self.site.auth is None:
            await self.push(
                "502 5.5.1 AUTH is not offered: give SMTPServer auth={'user': 'password'}"
            )
            return
        failed = self.site.fail(self, "auth")
        if failed is not None:
            if failed:
                await self.push(failed)
            return
        await super().smtp_AUTH(arg)

    async def check_auth_needed(self, caller_method: str) -> bool:
        # aiosmtpd's auth_required warns when TLS is not required too; understudy decides
        # itself (AUTH works over plain, implicit TLS and STARTTLS alike).
        session = self.session
        if self.site.auth_required and not (session is not None and session.authenticated):
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
            accepted = self.site.check_credentials(login, password)
        except Exception as error:  # noqa: BLE001 - the test's callable: reported by check()
            self.site.record_error(error)
            return AuthResult(
                success=False,
                handled=False,
                message=f"454 4.7.0 understudy: the auth callable raised {type(error).__name__} "
                "(see check())",
            )
        if accepted:
            return AuthResult(
                success=True, auth_data=Credentials(login, password, mechanism.upper())
            )
        return AuthResult(success=False, handled=False)
