"""What ``HTTPServer(...)`` is given, checked: the host of behaviour it chooses, and the options
that cannot be checked where they are used (with the message saying what to write instead);
and the parts it assembles from them (:func:`make_router`, :func:`make_site`).

``HTTPServer.__init__`` imports this module, so naming the class loads none of it (issue 20).
"""

from __future__ import annotations

import os
from collections.abc import Collection, Sequence
from dataclasses import fields
from operator import is_
from typing import TYPE_CHECKING

from .._core.faults import Fault
from .._errors import ConfigurationError
from .._http2_faults import HTTP2Fault
from .._journal import Journal
from .._tls import resolve_tls
from ._hosts import CannedHost, Handler, HandlerHost, NoHost
from ._limits import DEFAULT_LIMITS, Limits
from ._options import DIRECTORY_DEFAULTS, DirectoryOptions
from ._request import Request, unpack_request
from ._response import Response
from ._routing import Router
from ._site import Site

if TYPE_CHECKING:
    from .._tls_settings import TLS
    from ._asgi import ASGIApp
    from ._site import HostOfBehaviour, SiteOwner
    from ._wsgi import WSGIApp

__all__ = [
    "check_admin",
    "check_root_options",
    "check_unmatched",
    "choose_host",
    "limits_of",
    "make_router",
    "make_site",
    "resolve_tls",
]


def choose_host(  # noqa: PLR0917 - HTTPServer's keywords, passed on
    response: Response | None,
    handler: Handler | None,
    wsgi: WSGIApp | None,
    asgi: ASGIApp | None,
    proxy_to: str | None,
    record: str | os.PathLike[str] | None,
) -> HostOfBehaviour:
    """The host of behaviour: what ``response=``, ``handler=``, ``wsgi=``, ``asgi=`` or
    ``proxy_to=`` (with ``record=``) say, or :class:`NoHost`."""
    if (response, handler, wsgi, asgi, proxy_to, record) == _NOTHING:
        return NoHost()  # (the common case, in short)
    if record is not None and proxy_to is None:
        raise ConfigurationError("record= writes what the upstream answers: give proxy_to= too")
    host = _given_host(response, handler, wsgi, asgi)
    if proxy_to is None:
        return host
    if not isinstance(host, NoHost):
        raise ConfigurationError(
            "proxy_to= answers what no expectation answers: give it without response=, "
            "handler=, wsgi= or asgi="
        )
    from ._record import Recorder  # noqa: PLC0415 - loaded when first used

    return HandlerHost(Recorder(proxy_to, record))


#: What ``choose_host`` is given when no host of behaviour is.
_NOTHING = (None,) * 6


def _given_host(
    response: Response | None,
    handler: Handler | None,
    wsgi: WSGIApp | None,
    asgi: ASGIApp | None,
) -> HostOfBehaviour:
    given = {
        name: value
        for name, value in (
            ("response", response),
            ("handler", handler),
            ("wsgi", wsgi),
            ("asgi", asgi),
        )
        if value is not None
    }
    if len(given) > 1:
        raise ConfigurationError(
            f"give HTTPServer at most one of response=, handler=, wsgi= and asgi=; got "
            f"{', '.join(f'{name}=' for name in given)}"
        )
    if response is not None:
        if isinstance(response, Fault | HTTP2Fault):
            fault = f"Fault.{response.name}" if isinstance(response, Fault) else repr(response)
            raise ConfigurationError(
                f"response= takes an understudy.Response, not a fault; to fail every request "
                f"write handler=lambda request: {fault}, or some with "
                f"server.expect(...).fault({fault})"
            )
        if not isinstance(response, Response):
            raise ConfigurationError(
                f"response= takes an understudy.Response, not {type(response).__name__}; write "
                f"response=Response(200, body={response!r:.40})"
            )
        CannedHost.check_reusable(response)
        return CannedHost(response)
    for name, value in given.items():
        if not callable(value):
            raise ConfigurationError(f"{name}= must be callable, not {type(value).__name__}")
    if handler is not None:
        return HandlerHost(handler)
    if wsgi is not None:
        from ._wsgi import WSGIHost  # noqa: PLC0415 - loaded when first used

        return WSGIHost(wsgi)
    if asgi is not None:
        from ._asgi import ASGIHost  # noqa: PLC0415 - loaded when first used

        return ASGIHost(asgi)
    return NoHost()


def check_root_options(
    root: object,
    generated_fields: str | Collection[str],
    content_coding: str | None,
    content_codings: str | Sequence[str] | None,
) -> DirectoryOptions:
    """Refuse the directory options of ``root=`` given without it; else return them (none
    when they are the defaults)."""
    if (
        root is None
        and generated_fields == "all"
        and content_coding is None
        and content_codings is None
    ):
        return {}  # (the common case, in short)
    options: DirectoryOptions = {
        "generated_fields": generated_fields,
        "content_coding": content_coding,
        "content_codings": content_codings,
    }
    for name, given in options.items():
        if root is None and given != DIRECTORY_DEFAULTS[name]:
            raise ConfigurationError(
                f"{name}= applies to the files of root=: give root= too, or pass it to "
                f"serve_directory(prefix, root, {name}=...); a Response takes "
                "content_coding= and content_codings= too"
            )
    return options


def limits_of(*given: object) -> Limits:
    """The :class:`Limits` of ``given`` (its fields in order): the one :data:`DEFAULT_LIMITS`
    object when they are the defaults, of the defaults' types (an idle server then holds no
    Limits of its own, and most servers are made without checking them again).

    Raises:
        ConfigurationError: a limit that is not valid (see :class:`Limits`).
    """
    # (the types compared one by one, with no tuple made: ``tuple(map(...))`` makes one of
    # ten items and shrinks it, and each shrunk tuple is kept on CPython's free list of its
    # size, ~100 bytes a server)
    if given == _DEFAULTS and all(map(is_, map(type, given), _DEFAULT_TYPES)):
        return DEFAULT_LIMITS
    limits = Limits(*given)  # type: ignore[arg-type] # (it checks them)
    return DEFAULT_LIMITS if limits == DEFAULT_LIMITS else limits


#: The defaults of :class:`Limits`, in the order of its fields.
_DEFAULTS = tuple(getattr(DEFAULT_LIMITS, each.name) for each in fields(Limits) if each.init)
_DEFAULT_TYPES = tuple(map(type, _DEFAULTS))


def check_unmatched(unmatched_status: object, allow_unmatched: object) -> None:
    if not isinstance(unmatched_status, int) or not 400 <= unmatched_status <= 599:
        raise ConfigurationError(
            f"unmatched_status must be an error status code (400-599), not {unmatched_status!r}"
        )
    if not isinstance(allow_unmatched, bool):
        raise ConfigurationError(f"allow_unmatched must be True or False, not {allow_unmatched!r}")


def check_admin(admin: bool, admin_token: object) -> None:
    if admin_token is None:
        return
    if not admin:
        raise ConfigurationError(
            "admin_token= guards the admin API: give admin=True too, or leave it out"
        )
    if (
        not isinstance(admin_token, str)
        or not admin_token
        or not all(" " < c <= "~" for c in admin_token)
    ):
        raise ConfigurationError(
            "admin_token must be a non-empty str of visible ASCII characters (it travels "
            f"in an Authorization field), not {admin_token!r}"
        )


def make_router(  # noqa: PLR0917 - HTTPServer's keywords, passed on
    behaviour: HostOfBehaviour,
    journal_size: int | None,
    unmatched_status: int,
    allow_unmatched: bool,
    admin: bool,
    admin_token: str | None,
) -> Router:
    """The server's :class:`Router` over a new journal of requests, its options checked.

    Raises:
        ConfigurationError: as :func:`check_unmatched`, :func:`check_admin` and the
            :class:`~understudy._journal.Journal` (``journal_size``) say.
    """
    check_unmatched(unmatched_status, allow_unmatched)
    check_admin(admin, admin_token)
    journal: Journal[Request] = Journal("request", journal_size, unpack=unpack_request)
    return Router(
        behaviour,
        journal,
        unmatched_status=unmatched_status,
        allow_unmatched=allow_unmatched,
        admin=admin,
        admin_token=admin_token,
    )


def make_site(owner: SiteOwner, router: Router, tls: TLS | None, limits: Limits) -> Site:
    """The server's :class:`Site` over ``router``'s journal, which it writes through the
    router's gate (a journal of ``owner``'s: its waits' timeouts say when it is stopped)."""
    site = Site(router.journal, owner=owner, tls=tls, limits=limits)
    router.journal.belongs_to(owner)
    site.record = router.gate()
    return site
