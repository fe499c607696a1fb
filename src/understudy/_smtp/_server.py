"""SMTPServer: the server, its options, its journal and its lifecycle hooks."""

from __future__ import annotations

import asyncio
import hmac
import inspect
import socket
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, ClassVar, TypeAlias

from .._conditions import Conditions
from .._drain import finish_connections
from .._errors import ConfigurationError
from .._handshake import Handshakes
from .._journal import Journal
from .._runtime import Runtime
from .._server import Server, describe_handler
from .._tls import TLS, resolve_tls
from ._message import SMTPMessage
from ._rules import _OK, RejectRule, SMTPFailure, _check_failures, _RejectRules, _reply_line
from ._session import _Hooks, _quiet_aiosmtpd_on_loop, _SMTPConnection

#: A handler: ``handler(message)`` returning ``None`` (accept), a reply code or a reply line.
Handler: TypeAlias = Callable[["SMTPMessage"], Any] | Callable[["SMTPMessage"], Awaitable[Any]]
#: Credentials: ``{"login": "password"}`` or ``check(login, password) -> bool``.
Auth: TypeAlias = Mapping[str, str] | Callable[[str, str], bool]
_DEFAULT_HOSTNAME = "understudy.localhost"
_DEFAULT_MAX_MESSAGE_SIZE = 32 * 1024 * 1024


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
        #: While served with starttls=: the STARTTLS handshakes in progress, and where their
        #: failures go.
        self._starttls_handshakes: Handshakes | None = None

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
        context = self._ssl_context()
        if self.starttls and context is not None:
            self._starttls_handshakes = self._handshakes(context)
            context = None
        self._listeners = [
            await self._listen(self._make_connection, sock, ssl=context) for sock in sockets
        ]

    def _make_connection(self) -> _SMTPConnection:
        return _SMTPConnection(self, self._hooks)

    async def _shutdown(self, timeout: float) -> list[str]:
        loop = asyncio.get_running_loop()
        listeners, self._listeners = self._listeners, []
        await self._close_listeners(listeners)
        starttls, self._starttls_handshakes = self._starttls_handshakes, None
        if starttls is not None:
            await starttls.close()  # (STARTTLS handshakes in progress: not failures)
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
        # The 421 (and over TLS close_notify) goes out to a client still reading, by the deadline.
        await finish_connections(self._transports, deadline)
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

    def _transports(self) -> list[asyncio.BaseTransport]:
        return [conn.transport for conn in self.connections if conn.transport is not None]


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
