"""pytest fixtures for understudy servers, registered through the ``pytest11`` entry point.

Each fixture gives a fresh, started server per test. When the test body has finished, the plugin
stops the test's servers and re-raises what went wrong in their handlers *as a failure of the test
itself* (with the handler's own traceback), so a test cannot pass while its server saw an error.

Settings: override a ``*_server_options`` fixture (a dict of the server's keyword arguments) in a
conftest, or mark a test ``@pytest.mark.understudy(**options)`` (every server of the test) or
``@pytest.mark.understudy(understudy.SMTPServer, **options)`` (servers of the classes named);
the marker's options win, and a nearer marker over a farther one.

pytest loads this plugin in every run where understudy is installed, so it imports no server:
each fixture imports its server the first time a test asks for it, and a run that uses none of
them pays a few milliseconds for the plugin. The ``Make*`` types (``MakeHTTPServer``, the type of
the ``make_http_server`` fixture, for annotations) are imported from here like any name: they are
protocols over typed options, import no server either, and are loaded when first read.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Generator, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import pytest

from ._fixtures import (
    NO_OPTIONS,
    Run,
    current_item,
    enter_item,
    factory,
    leave_item,
    options,
    run_of,
    started,
)
from ._fixtures_pypi import *  # noqa: F403 - the fake PyPI fixtures
from ._fixtures_smtp import *  # noqa: F403 - the SMTP fixtures
from ._fixtures_sockets import *  # noqa: F403 - the TCP, UDP, Unix, syslog, log-record fixtures
from ._fixtures_tls import *  # noqa: F403 - tls_ca and https_server

if TYPE_CHECKING:
    from ._factories import (
        MakeHTTPServer,
        MakeLogRecordServer,
        MakeProxy,
        MakePyPIServer,
        MakeSMTPServer,
        MakeSyslogServer,
        MakeTCPServer,
        MakeUDPServer,
        MakeUnixDatagramServer,
        MakeUnixStreamServer,
    )
    from ._http._server import HTTPServer
    from ._server import Server

#: The fixtures, and the ``Make*`` types for annotations (``make_http_server: MakeHTTPServer``):
#: protocols over each server's typed options, which import no server (see ``_factories``).
__all__ = [
    "MakeHTTPServer",
    "MakeLogRecordServer",
    "MakeProxy",
    "MakePyPIServer",
    "MakeSMTPServer",
    "MakeSyslogServer",
    "MakeTCPServer",
    "MakeUDPServer",
    "MakeUnixDatagramServer",
    "MakeUnixStreamServer",
    "http_server",
    "http_server_options",
    "make_http_server",
]


def __getattr__(name: str) -> Any:
    """The ``Make*`` types, from ``_factories``, when first read (PEP 562): annotations need
    them, a pytest run does not (pytest reads only this module's own names: no ``__dir__``)."""
    if name.startswith("Make") and name in __all__:
        from . import _factories  # noqa: PLC0415 - loaded when first read

        value = getattr(_factories, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "understudy(*server_classes, **options): keyword arguments for the servers that "
        "understudy's fixtures create for this test, all of them or those of the classes "
        "given (they override the *_server_options fixtures)",
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    """After the test body: stop its servers and fail the test with their handlers' errors."""
    __tracebackhide__ = True
    try:
        result = yield
    except BaseException as error:
        run = run_of(item)
        for server in _taken(run):
            _finish(run, server, propagating=error)
        raise
    failures: list[BaseException] = []
    run = run_of(item)
    for server in _taken(run):
        try:
            _finish(run, server, propagating=None)
        except BaseException as failure:  # noqa: BLE001 - gathered and re-raised below
            failures.append(failure)
    if len(failures) == 1:
        raise failures[0]
    if failures:
        raise BaseExceptionGroup("understudy servers recorded errors", failures)
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, object, object]:
    """Around the test's setup, call and teardown: the server fixtures are set up for ``item``
    (``_fixtures.current_item``, with its ``Run``); afterwards its servers are let go with the
    run (the session keeps every item: it would keep every server it ever started, journal and
    all)."""
    enter_item(item)
    try:
        return (yield)
    finally:
        leave_item(item)


def _taken(run: Run) -> list[Server]:
    """The servers of ``run`` so far, out of it (a plugin that runs a test again, as
    pytest-rerunfailures does, runs it in one ``pytest_runtest_protocol``: each call finishes
    only the servers started for it)."""
    servers, run.servers = run.servers, []
    return servers


def _finish(run: Run, server: Server, *, propagating: BaseException | None) -> None:
    """Stop ``server`` (or park its listener, for ``http_server``) and check it."""
    __tracebackhide__ = True
    park = run.parks.pop(id(server), None)
    if park is not None:
        park(server)
    server.__exit__(None if propagating is None else type(propagating), propagating, None)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Close the ``http_server`` fixture's parked listeners (if one was ever parked)."""
    parked = sys.modules.get("understudy._http._parked")
    if parked is not None:
        parked.close()


@pytest.fixture(scope="session")
def http_server_options() -> Mapping[str, Any]:
    """Keyword arguments for the ``http_server`` fixtures; override it in a conftest (at any
    scope). The default, for the session, is an empty read-only mapping."""
    return NO_OPTIONS


@pytest.fixture
def http_server(http_server_options: Mapping[str, Any]) -> Iterator[HTTPServer]:
    """A started :class:`understudy.HTTPServer`, fresh for each test.

    After the test: stopped, then checked (a handler's exception fails the test). Its
    listening socket is kept for the next test's server when it can be (a plain server:
    ``port=0``, no ``tls=``, no ``conditions=``, no ASGI app; see ``docs/fixtures.md``), so
    consecutive tests may see the same port; everything else is the test's own.
    """
    server_class, start, park = _http()
    item = current_item()
    server = server_class(**options(item, http_server_options, server_class))
    yield from started(item, server, start=start, park=park)


@functools.cache
def _http() -> tuple[type[HTTPServer], Callable[[HTTPServer], None], Callable[[HTTPServer], None]]:
    """What the ``http_server`` fixture uses: the server class and how it starts and parks
    one, imported when a test first asks for it (the plugin loads no server module); then
    published, as reading ``understudy.HTTPServer`` would be (its errors say
    ``understudy.UnexpectedRequest`` in the test's report)."""
    from ._http._parking import park, start_fresh  # noqa: PLC0415 - loaded when first used
    from ._http._server import HTTPServer  # noqa: PLC0415
    from ._publishing import publish  # noqa: PLC0415

    publish()
    return HTTPServer, start_fresh, park


@pytest.fixture
def make_http_server(
    request: pytest.FixtureRequest, http_server_options: Mapping[str, Any]
) -> Iterator[MakeHTTPServer]:
    """A factory: ``make_http_server(**options)`` returns a started :class:`~understudy.HTTPServer`.

    Every server it made is stopped and checked after the test.
    """
    from . import HTTPServer  # noqa: PLC0415 - imported when first used

    yield from factory(request, HTTPServer, http_server_options)
