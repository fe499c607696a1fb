"""SMTPServer: the server, its options, its journal and its lifecycle hooks."""

from __future__ import annotations

import asyncio
import inspect
import random
import socket
import weakref
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, TypedDict

from .._conditions import Conditions
from .._drain import finish_connections
from .._errors import ConfigurationError
from .._journal import Journal
from .._server import Server
from .._tls import TLS, resolve_tls
from ._aiosmtpd import quiet_aiosmtpd_on_loop
from ._hooks import Hooks
from ._message import SMTPMessage
from ._rules import RejectRule, RejectRules, SMTPFailure, check_failures
from ._session import SMTPConnection
from ._site import Auth, Handler, Site

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
        failures_by_stage = check_failures(failures)
        _check_hostname(hostname)
        checked_auth = _check_auth(auth)
        if auth_required and auth is None:
            raise ConfigurationError(
                "auth_required=True needs credentials: give auth={'user': 'password'} too"
            )
        rules = RejectRules(reject)
        _check_max_message_size(max_message_size)
        self._site = Site(
            hostname=hostname,
            smtputf8=bool(smtputf8),
            max_message_size=max_message_size,
            auth=checked_auth,
            auth_required=bool(auth_required),
            require_starttls=bool(require_starttls),
            tls=self._tls is not None,
            starttls_context=self._ssl_context() if self.starttls else None,
            handler=handler,
            handler_is_async=_handler_is_async(handler),
            journal=Journal("message", journal_size),
            rules=rules,
            failures=failures_by_stage,
            **self._weakly(),
        )
        self._site.journal.belongs_to(self)
        self._hooks = Hooks(self._site)
        self._listeners: list[asyncio.AbstractServer] = []

    def _weakly(self) -> _WeakCallbacks:
        """What the :class:`Site` calls on this server, each through a weak reference to it."""
        record = weakref.WeakMethod(self._record_error)
        ref = weakref.ref(self)

        def record_error(error: BaseException) -> None:
            method = record()
            if method is not None:
                method(error)

        def choose() -> random.Random:
            found = ref()
            assert found is not None  # (a server that serves is held)
            return found.random

        return {"record_error": record_error, "random": choose}

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
        self._ssl_context()  # with TLS: the CA and certificate are made here, not on the loop

    # -- what the test reads -----------------------------------------------------------------

    @property
    def hostname(self) -> str:
        """The name the server gives in its greeting and EHLO reply (``hostname=``)."""
        return self._site.hostname

    @property
    def auth_required(self) -> bool:
        """Whether MAIL, RCPT and DATA wait for AUTH (``auth_required=``)."""
        return self._site.auth_required

    @property
    def smtputf8(self) -> bool:
        """Whether SMTPUTF8 (RFC 6531) is offered (``smtputf8=``)."""
        return self._site.smtputf8

    @property
    def max_message_size(self) -> int | None:
        """The most bytes of content accepted (``max_message_size=``); ``None``: no limit."""
        return self._site.max_message_size

    @property
    def require_starttls(self) -> bool:
        """Whether commands wait for STARTTLS (``require_starttls=``)."""
        return self._site.require_starttls

    @property
    def messages(self) -> list[SMTPMessage]:
        """The messages received so far (a snapshot list, oldest first)."""
        return self._site.journal.snapshot()

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
        return self._site.journal.wait_for(count, match=match, timeout=timeout)

    async def wait_for_messages_async(
        self,
        count: int = 1,
        *,
        match: Callable[[SMTPMessage], bool] | None = None,
        timeout: float = 5.0,
    ) -> list[SMTPMessage]:
        """The awaitable twin of :meth:`wait_for_messages`, for async tests."""
        __tracebackhide__ = True
        return await self._site.journal.wait_for_async(count, match=match, timeout=timeout)

    def clear(self) -> None:
        """Forget the messages received so far."""
        self._site.journal.clear()

    # -- lifecycle hooks ---------------------------------------------------------------------

    async def _serve(self, sockets: list[socket.socket]) -> None:
        quiet_aiosmtpd_on_loop()
        context = self._ssl_context()
        self._site.runtime = self._runtime
        if self.starttls and context is not None:
            self._site.starttls_handshakes = self._handshakes(context)
            context = None
        self._listeners = [
            await self._listen(self._make_connection, sock, ssl=context) for sock in sockets
        ]

    def _make_connection(self) -> SMTPConnection:
        return SMTPConnection(self._hooks, self._site)

    async def _shutdown(self, timeout: float) -> list[str]:
        loop = asyncio.get_running_loop()
        listeners, self._listeners = self._listeners, []
        await self._close_listeners(listeners)
        site = self._site
        starttls, site.starttls_handshakes = site.starttls_handshakes, None
        if starttls is not None:
            await starttls.close()  # (STARTTLS handshakes in progress: not failures)
        for conn in list(site.connections):
            conn.say_goodbye()
        deadline = loop.time() + timeout

        def pending() -> set[asyncio.Future[Any]]:
            replies = {c.replying for c in site.connections if c.replying is not None}
            return set(site.inflight) | {r for r in replies if not r.done()}

        while (waiting := pending()) and (remaining := deadline - loop.time()) > 0:
            await asyncio.wait(waiting, timeout=remaining)
        still_running = sorted(set(site.inflight.values()))
        for future in list(site.inflight):
            future.cancel()
        tasks = [
            task
            for conn in site.connections
            if (task := conn.dialogue) is not None and not task.done()
        ]
        # The 421 (and over TLS close_notify) goes out to a client still reading, by the deadline.
        await finish_connections(self._transports, deadline)
        for conn in list(site.connections):
            conn.abort()
        if tasks:
            # Let each dialogue unwind (they are cancelled), so stop() leaves nothing pending.
            await asyncio.wait(tasks, timeout=1.0)
        return still_running

    def _abort(self) -> None:
        for listener in self._listeners:
            listener.close()
        self._listeners = []
        for conn in list(self._site.connections):
            conn.abort()

    def _transports(self) -> list[asyncio.BaseTransport]:
        return [conn.transport for conn in self._site.connections if conn.transport is not None]


class _WeakCallbacks(TypedDict):
    record_error: Callable[[BaseException], None]
    random: Callable[[], random.Random]


def _check_hostname(hostname: object) -> None:
    if not isinstance(hostname, str) or not hostname or any(c.isspace() for c in hostname):
        raise ConfigurationError(
            f"hostname must be a domain name such as 'mail.example.com', not {hostname!r}"
        )


def _check_max_message_size(size: object) -> None:
    if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 1):
        raise ConfigurationError(
            f"max_message_size must be a positive int (bytes) or None (no limit), not {size!r}"
        )


def _handler_is_async(handler: object) -> bool:
    """Whether ``handler`` runs on the loop (``async def``), after checking it is callable."""
    if handler is None:
        return False
    if not callable(handler):
        raise ConfigurationError(
            f"handler= must be callable (message) -> None | reply, not {type(handler).__name__}"
        )
    return inspect.iscoroutinefunction(handler) or inspect.iscoroutinefunction(
        getattr(handler, "__call__", None)  # noqa: B004 - an instance with async __call__
    )


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


def messages_journal(server: SMTPServer) -> Journal[SMTPMessage]:
    """The journal of ``server``'s messages, for the package (the command follows it)."""
    return server._site.journal
