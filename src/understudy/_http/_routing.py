"""Router: which host answers an exchange, whatever protocol carried it.

The order: the admin API (``admin=True``), then expectations (and the WireMock stub mappings,
which are expectations), then mounted directories (longest prefix first), then the host of
behaviour (``response=``, ``handler=``, ``wsgi=``, ``asgi=``, the proxy, a fake); a request none
of them answers gets ``unmatched_status`` with the near-miss report (``_report``), and fails
``check()`` unless ``allow_unmatched``.

Every change to what routing looks at is a method here, which ends in :meth:`Router.changed`,
the one place that decides whether connections may call the host of behaviour directly
(:attr:`Router.direct`). The Router holds no reference to the server or to a :class:`Site`.

What only some servers use (stubs, the admin API, directories) is imported when first used.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from .._core.matching import RequestShape
from .._errors import ExpectationExceeded, UnexpectedRequest, UnmetExpectation
from ._expect import Expectation, Expectations
from ._hosts import NoHost
from ._report import exceeded_report, unmatched_report, unmet_report
from ._request import PackedRequest, Request, unpack_request
from ._response import Response

if TYPE_CHECKING:
    from .._journal import Journal
    from ._admin import AdminHost
    from ._site import Exchange, Host, HostOfBehaviour, Site, Upgrade
    from ._wiremock import Stubs

__all__ = ["Router"]


class Router:
    """The routing state of one server: host of behaviour, mounts, expectations, stubs."""

    __slots__ = (
        "admin",
        "allow_unmatched",
        "direct",
        "expectations",
        "host",
        "journal",
        "mounts",
        "stubs_made",
        "unmatched",
        "unmatched_status",
        "websockets",
    )

    def __init__(
        self,
        host: HostOfBehaviour,
        journal: Journal[Request],
        *,
        unmatched_status: int = 404,
        allow_unmatched: bool = False,
        admin: bool = False,
        admin_token: str | None = None,
    ) -> None:
        #: The host of behaviour: what answers when nothing else routes.
        self.host = host
        self.journal = journal
        #: Mounted hosts (directories), longest prefix first.
        self.mounts: tuple[tuple[str, Host], ...] = ()
        self.expectations = Expectations()
        self.unmatched_status = unmatched_status
        #: ``True``: requests nothing answers do not fail ``check()``.
        self.allow_unmatched = allow_unmatched
        #: Requests nothing answered, for the admin API (made on the first).
        self.unmatched: deque[Request] | None = None
        #: The WireMock stub mappings, made when first needed (at once with the admin API).
        self.stubs_made: Stubs | None = None
        #: The admin API's host when the server answers it (``admin=True``), else ``None``.
        self.admin: AdminHost | None = None
        if admin:
            from ._admin import AdminHost  # noqa: PLC0415 - loaded with the admin API

            self.stubs_made = _stubs(self.expectations)
            self.stubs_made.on_websocket = self._websocket_mappings
            self.admin = AdminHost(admin_token)
        #: ``expect_websocket`` stubs (``_ws/_stubs.py``), made with the first.
        self.websockets: list[Any] | None = None
        #: The host every request goes to when nothing routes (see :meth:`changed`).
        self.direct: Host | None = None
        self.changed()

    # -- what changes routing: each ends in changed() ------------------------------------------

    def changed(self) -> None:
        """Note whether requests go straight to the host of behaviour, past :meth:`dispatch`.

        Called by every method that changes what :meth:`dispatch` looks at. Connections call
        ``direct.dispatch`` when it is set, which saves every request a call and the checks
        (the routing it skips would all fall through), except for a WebSocket handshake that
        :meth:`upgrade` accepted: that one always comes through :meth:`dispatch`.
        """
        expectations = self.expectations
        routed = (
            self.admin is not None
            or bool(expectations.unordered or expectations.ordered)
            or bool(self.mounts)
            or isinstance(self.host, NoHost)
        )
        self.direct = None if routed else self.host

    def expect(self, shape: RequestShape, *, ordered: bool) -> Expectation:
        """Add an expectation of ``shape`` (see ``HTTPServer.expect``)."""
        expectation = self.expectations.add(shape, ordered=ordered)
        self.changed()
        return expectation

    def mount(self, prefix: str, host: Host) -> None:
        """Answer requests under ``prefix`` with ``host``; a longer prefix takes precedence."""
        mounts = [*self.mounts, (prefix, host)]
        mounts.sort(key=lambda mount: len(mount[0]), reverse=True)
        self.mounts = tuple(mounts)
        self.changed()

    def load_mappings(self, path: str | os.PathLike[str]) -> None:
        """Load WireMock stub mappings (see ``HTTPServer.load_mappings``)."""
        try:
            self.stubs.load(path)
        finally:
            self.changed()  # (the files before a bad one are loaded: they answer)

    @property
    def stubs(self) -> Stubs:
        """The stub mappings, made on first use."""
        stubs = self.stubs_made
        if stubs is None:
            stubs = self.stubs_made = _stubs(self.expectations)
            stubs.on_websocket = self._websocket_mappings
        return stubs

    def add_websocket(self, stub: Any) -> None:
        """Serve handshakes with ``stub`` (``_ws/_stubs.WebSocketExpectation``), newest first;
        one from a mapping file replaces the one with its mapping id."""
        if self.websockets is None:
            self.websockets = []
        if stub.mapping_id is not None:
            self.websockets = [old for old in self.websockets if old.mapping_id != stub.mapping_id]
        self.websockets.append(stub)
        self.changed()

    def _websocket_mappings(self, document: object, file: str) -> object:
        from .._ws._mappings import take_websockets  # noqa: PLC0415 - when a mapping has one

        return take_websockets(document, file, self.add_websocket)

    # -- the journal, as the admin API and the face read it --------------------------------------

    @property
    def requests(self) -> list[Request]:
        """The journal, oldest first."""
        return self.journal.snapshot()

    @property
    def unmatched_requests(self) -> Iterable[Request]:
        """The requests nothing answered, oldest first (for the admin API)."""
        return self.unmatched or ()

    def clear(self) -> None:
        """Forget the requests received so far (and those nothing answered)."""
        self.journal.clear()
        self.unmatched = None

    def gate(self) -> Callable[[Request | PackedRequest], int]:
        """The journal gate for :attr:`Site.record`: ``journal.append``, or with the admin API,
        one that keeps the admin API's own requests out (those it allows)."""
        admin = self.admin
        append = self.journal.append
        if admin is None:
            return append
        from ._admin import is_admin  # noqa: PLC0415 - loaded with the admin API

        def record(request: Request | PackedRequest) -> int:
            target = request[1] if isinstance(request, tuple) else request.target
            if is_admin(target) and admin.allows(unpack_request(request)):
                return 0
            return append(request)

        return record

    # -- on the loop -----------------------------------------------------------------------------

    def streams_body(self, target: str) -> bool:
        """Whether a request for ``target`` goes to its host before its body has come."""
        expectations = self.expectations
        admin = self.admin
        return (
            self.host.streams_body
            and not self.mounts
            and not (expectations.unordered or expectations.ordered)
            # (the admin API reads whole requests; the app beside it still streams its own)
            and not (admin is not None and _is_admin(target))
        )

    def upgrade(self, site: Site, exchange: Exchange) -> Upgrade | None:
        """What takes the connection over if ``exchange`` (which offers an upgrade, RFC 9110
        §7.8) is answered by switching protocols; ``None``: answer it as any request.

        A WebSocket handshake (RFC 6455 §4.2) when the server serves WebSocket: an ASGI app, or
        ``expect_websocket`` stubs (``_ws/``); h2c is not served.
        """
        if not self.websockets and not getattr(self.host, "runs_asgi", False):
            return None
        from .._ws._handshake import upgrade_for  # noqa: PLC0415 - websockets, when first used

        return upgrade_for(exchange)

    def dispatch_upgrade(self, site: Site, exchange: Exchange) -> None:
        """Route a WebSocket handshake :meth:`upgrade` accepted, which its connection switches
        on: to the newest matching ``expect_websocket`` stub, else the ASGI app."""
        from .._ws._stubs import dispatch_websocket  # noqa: PLC0415 - loaded with them

        dispatch_websocket(site, self, exchange)

    def dispatch(self, site: Site, exchange: Exchange) -> None:
        """Route ``exchange``: the admin API, expectations, mounts, then the host of behaviour."""
        request = exchange.request
        admin = self.admin
        if admin is not None and request is not None and _is_admin(request.target):
            admin.dispatch(self, exchange)
            return
        expectations = self.expectations
        if (expectations.unordered or expectations.ordered) and request is not None:
            chosen = expectations.select(request)
            if chosen is not None:
                host, exchange.answered_by = chosen
                host.dispatch(site, exchange)
                return
        if self.mounts:
            target = exchange.target
            for prefix, mounted in self.mounts:
                if _under(target, prefix):
                    mounted.dispatch(site, exchange)
                    return
        if isinstance(self.host, NoHost) and request is not None:
            self.answer_unmatched(site, exchange, request)
            return
        self.host.dispatch(site, exchange)

    def answer_unmatched(self, site: Site, exchange: Exchange, request: Request) -> None:
        """Nothing answers ``request``: ``unmatched_status`` with the near-miss report, kept
        for the admin API and (unless ``allow_unmatched``) raised by ``check()``."""
        unmatched = self.unmatched
        if unmatched is None:
            unmatched = self.unmatched = deque(maxlen=self.journal.size)
        unmatched.append(request)
        from ._near_misses import nearest  # noqa: PLC0415 - loaded with the first one

        expectations = self.expectations
        report = unmatched_report(request, nearest(expectations, request), hosted=bool(self.mounts))
        # One over an expectation's limit is reported with its count by failures().
        if expectations.exceeded_by(request) is None and not self.allow_unmatched:
            site.fail(UnexpectedRequest(report))
        exchange.answered_by = ("unmatched", "")
        exchange.send(Response(self.unmatched_status, body=report + "\n"))

    # -- verification ----------------------------------------------------------------------------

    def failures(self, owner: Callable[[], str]) -> list[BaseException]:
        """The expectations not met and those met too often, each reported once; ``owner``
        makes the server's repr, for the messages (made only for a failure)."""
        failures: list[BaseException] = []
        expectations = self.expectations
        if not expectations.limited():
            return failures
        unmet = expectations.unmet()
        if unmet:
            received = [r for r in self.journal.snapshot() if r.error is None]
            failures.append(UnmetExpectation(unmet_report(owner(), unmet, received)))
        exceeded = expectations.exceeded()
        if exceeded:
            text = exceeded_report(owner(), exceeded, self.unmatched_status)
            failures.append(ExpectationExceeded(text))
        return failures


def _under(target: str, prefix: str) -> bool:
    """Whether the request target's path is ``prefix`` or below it."""
    if prefix in ("/", target):
        return True
    if not target.startswith(prefix):
        return False
    rest = target[len(prefix) :]
    return prefix.endswith("/") or rest[0] in "/?#"


def _stubs(expectations: Expectations) -> Stubs:
    """WireMock stub mappings over ``expectations``."""
    from ._wiremock import Stubs  # noqa: PLC0415 - WireMock is loaded when first used

    return Stubs(expectations)


def _is_admin(target: str) -> bool:
    """Whether ``target`` is the admin API's (asked only once a server answers it)."""
    from ._admin import is_admin  # noqa: PLC0415 - loaded with the admin API

    return is_admin(target)
