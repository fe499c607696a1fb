"""pytest fixtures for understudy servers, registered through the ``pytest11`` entry point.

Each fixture gives a fresh, started server per test. When the test body has finished, the plugin
stops the test's servers and re-raises what went wrong in their handlers *as a failure of the test
itself* (with the handler's own traceback), so a test cannot pass while its server saw an error.

Settings: override the ``http_server_options`` fixture (a dict of :class:`understudy.HTTPServer`
keyword arguments) in a conftest, or mark a test ``@pytest.mark.understudy(**options)``; the
marker's options win.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from typing import Any

import pytest

from ._http._server import HTTPServer
from ._server import Server

__all__ = ["MakeHTTPServer", "http_server", "http_server_options", "make_http_server"]

_SERVERS = pytest.StashKey[list[Server]]()

MakeHTTPServer = Callable[..., HTTPServer]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "understudy(**options): keyword arguments for the servers that understudy's fixtures "
        "create for this test (they override the *_server_options fixtures)",
    )


def _servers(item: pytest.Item) -> list[Server]:
    return item.stash.setdefault(_SERVERS, [])


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    """After the test body: stop its servers and fail the test with their handlers' errors."""
    try:
        result = yield
    except BaseException as error:
        for server in _servers(item):
            _finish(server, propagating=error)
        raise
    failures: list[BaseException] = []
    for server in _servers(item):
        try:
            _finish(server, propagating=None)
        except BaseException as failure:  # noqa: BLE001 - gathered and re-raised below
            failures.append(failure)
    if len(failures) == 1:
        raise failures[0]
    if failures:
        raise BaseExceptionGroup("understudy servers recorded errors", failures)
    return result


def _finish(server: Server, *, propagating: BaseException | None) -> None:
    __tracebackhide__ = True
    server.__exit__(None if propagating is None else type(propagating), propagating, None)


def _options(request: pytest.FixtureRequest, defaults: dict[str, Any]) -> dict[str, Any]:
    options = dict(defaults)
    marker = request.node.get_closest_marker("understudy")
    if marker is not None:
        if marker.args:
            raise pytest.UsageError(
                "@pytest.mark.understudy takes keyword arguments only, e.g. "
                "@pytest.mark.understudy(host='localhost')"
            )
        options.update(marker.kwargs)
    return options


def _started(request: pytest.FixtureRequest, server: Server) -> Iterator[Server]:
    _servers(request.node).append(server)
    server.start()
    try:
        yield server
    finally:
        # Normally already stopped and checked by pytest_runtest_call; this covers setup errors
        # and use from other fixtures.
        server.__exit__(None, None, None)


@pytest.fixture
def http_server_options() -> dict[str, Any]:
    """Keyword arguments for the ``http_server`` fixture; override it in a conftest."""
    return {}


@pytest.fixture
def http_server(
    request: pytest.FixtureRequest, http_server_options: dict[str, Any]
) -> Iterator[HTTPServer]:
    """A started :class:`understudy.HTTPServer`, fresh for each test.

    After the test: stopped, then checked (a handler's exception fails the test).
    """
    server = HTTPServer(**_options(request, http_server_options))
    for started in _started(request, server):
        assert isinstance(started, HTTPServer)
        yield started


@pytest.fixture
def make_http_server(
    request: pytest.FixtureRequest, http_server_options: dict[str, Any]
) -> Iterator[MakeHTTPServer]:
    """A factory: ``make_http_server(**options)`` returns a started :class:`~understudy.HTTPServer`.

    Every server it made is stopped and checked after the test.
    """
    made: list[HTTPServer] = []

    def make(**options: Any) -> HTTPServer:
        server = HTTPServer(**{**_options(request, http_server_options), **options})
        _servers(request.node).append(server)
        made.append(server)
        return server.start()

    yield make
    for server in made:
        server.__exit__(None, None, None)
