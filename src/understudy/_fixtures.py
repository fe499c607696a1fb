"""What every understudy fixture shares: per-test server registry, options, start and finish.

Fixtures register the servers they start with :func:`started` (or :func:`factory`), so that the
plugin's ``pytest_runtest_call`` wrapper can stop them and re-raise their handlers' errors as a
failure of the test itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest

from ._server import Server

__all__ = ["SERVERS", "factory", "options", "servers_of", "started"]

S = TypeVar("S", bound=Server)

SERVERS = pytest.StashKey[list[Server]]()


def servers_of(item: pytest.Item) -> list[Server]:
    """The servers started by understudy fixtures for ``item``."""
    return item.stash.setdefault(SERVERS, [])


def options(
    request: pytest.FixtureRequest, defaults: dict[str, Any], server_class: type[Server]
) -> dict[str, Any]:
    """``defaults`` (a ``*_server_options`` fixture) updated by ``@pytest.mark.understudy``.

    ``@pytest.mark.understudy(**options)`` applies to every understudy server of the test;
    ``@pytest.mark.understudy(SMTPServer, **options)`` (classes, or their names as strings) only
    to servers of those classes. Markers nearer the test win (function over class over
    module), and a later one of the same place over an earlier one.

    Raises:
        pytest.UsageError: a positional argument that is not a server class or its name.
    """
    merged = dict(defaults)
    for marker in reversed(list(request.node.iter_markers("understudy"))):
        if marker.args and not any(_names(kind, server_class) for kind in marker.args):
            continue
        merged.update(marker.kwargs)
    return merged


def _names(kind: object, server_class: type[Server]) -> bool:
    """Whether a marker's positional argument names ``server_class`` (or a base of it)."""
    if isinstance(kind, type) and issubclass(kind, Server):
        return issubclass(server_class, kind)
    if isinstance(kind, str) and kind in _server_class_names():
        return kind in {base.__name__ for base in server_class.__mro__}
    raise pytest.UsageError(
        f"@pytest.mark.understudy takes server classes (or their names) and keyword options, "
        f"e.g. @pytest.mark.understudy(understudy.SMTPServer, hostname='mail.test') or "
        f"@pytest.mark.understudy(host='localhost'); not {kind!r}"
    )


def _server_class_names() -> set[str]:
    """The names of every server class there is (Server and its subclasses, at any depth)."""
    names: set[str] = set()
    pending: list[type[Server]] = [Server]
    while pending:
        cls = pending.pop()
        names.add(cls.__name__)
        pending.extend(cls.__subclasses__())
    return names


def started(request: pytest.FixtureRequest, server: S) -> Iterator[S]:
    """Start ``server`` for the test; stop and check it after (for a fixture to ``yield from``)."""
    servers_of(request.node).append(server)
    server.start()
    try:
        yield server
    finally:
        # Normally already stopped and checked by pytest_runtest_call; this covers errors in
        # setup and servers used by other fixtures.
        server.__exit__(None, None, None)


def factory(
    request: pytest.FixtureRequest, make: type[S], defaults: dict[str, Any]
) -> Iterator[Callable[..., S]]:
    """A ``make_*_server(**options)`` factory; its servers are stopped and checked afterwards."""
    made: list[S] = []

    def make_started(**given: Any) -> S:
        server = make(**{**options(request, defaults, make), **given})
        servers_of(request.node).append(server)
        made.append(server)
        return server.start()

    yield make_started
    for server in made:
        server.__exit__(None, None, None)
