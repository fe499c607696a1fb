"""What an SMTP session may use of its server, and nothing more: the site.

:class:`SMTPServer` makes one :class:`Site` and keeps it; its hooks and every session
(``_session``) take the site in place of the server. The site holds no reference to the
server: the errors it records and the random choices it draws go through two callables the
server gives it, each reaching the server through a weak reference, so no reference cycle runs
through a server (a stopped one the test drops is freed at once, journal and all).
"""

from __future__ import annotations

import asyncio
import hmac
import random
import ssl
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol, TypeAlias

from .._handshake import Handshakes
from .._journal import Journal
from .._runtime import Runtime
from .._server import describe_handler
from ._message import SMTPMessage
from ._rules import OK, RejectRules, SMTPFailure, reply_line, strike

__all__ = ["Auth", "Connection", "Handler", "Site"]

#: A handler: ``handler(message)`` returning ``None`` (accept), a reply code or a reply line.
Handler: TypeAlias = Callable[["SMTPMessage"], Any] | Callable[["SMTPMessage"], Awaitable[Any]]
#: Credentials: ``{"login": "password"}`` or ``check(login, password) -> bool``.
Auth: TypeAlias = Mapping[str, str] | Callable[[str, str], bool]


class Connection(Protocol):
    """What the site and the server use of a session (``_session.SMTPConnection``)."""

    #: Set while a handler runs for the session's message, done once the reply is sent.
    replying: asyncio.Future[None] | None
    transport: asyncio.BaseTransport | None

    @property
    def dialogue(self) -> asyncio.Task[None] | None:
        """The task running the session's dialogue (``None`` before it begins)."""

    def drop(self) -> None:
        """Close with no reply (an injected failure)."""

    def say_goodbye(self) -> None:
        """Send 421 and close, or close after the reply being prepared (at stop)."""

    def abort(self) -> None:
        """Close at once (at stop, after the goodbye)."""


class Site:
    """An SMTP server's settings, journal and rules, as its sessions use them.

    Attributes:
        hostname, smtputf8, max_message_size, auth_required, require_starttls: the server's
            options of those names.
        auth: the checked ``auth=`` (``None``: AUTH is not offered).
        tls: whether the server speaks TLS at all (implicit, or after STARTTLS).
        starttls_context: the context STARTTLS upgrades with (``None``: no STARTTLS).
        journal: the server's journal of messages.
        rules: the ``reject=`` rules.
        failures: the ``failures=`` by stage.
        connections: the sessions open now.
        inflight: the handler calls running, each with its description for ``stop()``.
        runtime: the runtime serving the server, while it is served.
        starttls_handshakes: the STARTTLS handshakes in progress, while served with STARTTLS.
        record_error: where an error goes for the server's ``check()``.
    """

    __slots__ = (
        "_handler",
        "_handler_is_async",
        "_random",
        "auth",
        "auth_required",
        "connections",
        "failures",
        "hostname",
        "inflight",
        "journal",
        "max_message_size",
        "record_error",
        "require_starttls",
        "rules",
        "runtime",
        "smtputf8",
        "starttls_context",
        "starttls_handshakes",
        "tls",
    )

    def __init__(
        self,
        *,
        hostname: str,
        smtputf8: bool,
        max_message_size: int | None,
        auth: Auth | None,
        auth_required: bool,
        require_starttls: bool,
        tls: bool,
        starttls_context: ssl.SSLContext | None,
        handler: Handler | None,
        handler_is_async: bool,
        journal: Journal[SMTPMessage],
        rules: RejectRules,
        failures: dict[str, list[SMTPFailure]],
        record_error: Callable[[BaseException], None],
        random: Callable[[], random.Random],
    ) -> None:
        self.hostname = hostname
        self.smtputf8 = smtputf8
        self.max_message_size = max_message_size
        self.auth = auth
        self.auth_required = auth_required
        self.require_starttls = require_starttls
        self.tls = tls
        self.starttls_context = starttls_context
        self._handler = handler
        self._handler_is_async = handler_is_async
        self.journal = journal
        self.rules = rules
        self.failures = failures
        self.record_error = record_error
        self._random = random
        self.connections: set[Connection] = set()
        self.inflight: dict[asyncio.Future[Any], str] = {}
        self.runtime: Runtime | None = None
        self.starttls_handshakes: Handshakes | None = None

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The loop serving the server (only while it is served)."""
        runtime = self.runtime
        assert runtime is not None
        return runtime.loop

    def check_credentials(self, login: str, password: str) -> bool:
        """Whether ``auth=`` accepts ``login`` with ``password`` (a callable may raise)."""
        auth = self.auth
        if auth is None:
            return False
        if isinstance(auth, dict):
            expected = auth.get(login)
            return expected is not None and hmac.compare_digest(
                expected.encode("utf-8", "surrogateescape"),
                password.encode("utf-8", "surrogateescape"),
            )
        return bool(auth(login, password))  # type: ignore[operator]

    def failure(self, stage: str) -> SMTPFailure | None:
        """Count one arrival at ``stage``; the failure that strikes there now, if any."""
        failures = self.failures.get(stage)
        if not failures:
            return None
        return strike(failures, self._random())

    def fail(self, conn: Connection, stage: str) -> str | None:
        """The reply for a failure striking at ``stage`` (``""`` once it dropped the connection)."""
        failure = self.failure(stage)
        if failure is None:
            return None
        if failure.drop:
            conn.drop()
            return ""
        return failure.reply

    async def answer(self, conn: Connection, message: SMTPMessage) -> str:
        """The reply to the end of DATA for ``message``: the handler's, or ``250 OK``."""
        handler = self._handler
        if handler is None:
            return OK
        future: asyncio.Future[Any]
        if self._handler_is_async:
            future = asyncio.ensure_future(handler(message), loop=self.loop)
        else:
            runtime = self.runtime
            assert runtime is not None
            future = runtime.run_in_worker(handler, message)
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
            return OK
        reply = reply_line(result, allow_success=True)
        if reply is None:
            bad_return = TypeError(
                f"an SMTPServer handler returns None (accept), a reply code such as 554, or a "
                f"reply line such as '554 5.7.1 No thanks'; {describe_handler(handler)} returned "
                f"{result!r}"
            )
            self.record_error(bad_return)
            return "451 4.3.0 understudy: the handler returned no valid reply (see check())"
        return reply

    def _track(self, future: asyncio.Future[Any], description: str) -> None:
        self.inflight[future] = description
        future.add_done_callback(self._untrack)

    def _untrack(self, future: asyncio.Future[Any]) -> None:
        self.inflight.pop(future, None)
        if not future.cancelled():
            error = future.exception()
            if error is not None:
                self.record_error(error)
