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


def options(request: pytest.FixtureRequest, defaults: dict[str, Any]) -> dict[str, Any]:
    """``defaults`` (a ``*_server_options`` fixture) updated by ``@pytest.mark.understudy``."""
    merged = dict(defaults)
    marker = request.node.get_closest_marker("understudy")
    if marker is not None:
        if marker.args:
            raise pytest.UsageError(
                "@pytest.mark.understudy takes keyword arguments only, e.g. "
                "@pytest.mark.understudy(host='localhost')"
            )
        merged.update(marker.kwargs)
    return merged


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
    request: pytest.FixtureRequest, make: Callable[..., S], defaults: dict[str, Any]
) -> Iterator[Callable[..., S]]:
    """A ``make_*_server(**options)`` factory; its servers are stopped and checked afterwards."""
    made: list[S] = []

    def make_started(**given: Any) -> S:
        server = make(**{**options(request, defaults), **given})
        servers_of(request.node).append(server)
        made.append(server)
        return server.start()

    yield make_started
    for server in made:
        server.__exit__(None, None, None)
