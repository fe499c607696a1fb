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
the ``make_http_server`` fixture, for annotations) are imported from here like any name, and
load their server when first read.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from ._fixtures import SERVERS, factory, load_server, options, started
from ._fixtures_pypi import *  # noqa: F403 - the fake PyPI fixtures
from ._fixtures_smtp import *  # noqa: F403 - the SMTP fixtures
from ._fixtures_sockets import *  # noqa: F403 - the TCP, UDP, Unix, syslog, log-record fixtures
from ._fixtures_tls import *  # noqa: F403 - tls_ca and https_server

if TYPE_CHECKING:
    from ._http._server import HTTPServer
    from ._logrecords import LogRecordServer
    from ._proxy import Proxy
    from ._server import Server
    from ._smtp import SMTPServer
    from ._sockets import TCPServer, UDPServer, UnixDatagramServer, UnixStreamServer
    from ._syslog import SyslogServer
    from .fakes import PyPIServer

    #: The type of the ``make_http_server`` fixture, for annotations.
    MakeHTTPServer = Callable[..., HTTPServer]
    #: The type of the ``make_smtp_server`` fixture, for annotations.
    MakeSMTPServer = Callable[..., SMTPServer]
    #: The type of the ``make_tcp_server`` fixture, for annotations.
    MakeTCPServer = Callable[..., TCPServer]
    #: The type of the ``make_udp_server`` fixture, for annotations.
    MakeUDPServer = Callable[..., UDPServer]
    #: The type of the ``make_unix_stream_server`` fixture, for annotations.
    MakeUnixStreamServer = Callable[..., UnixStreamServer]
    #: The type of the ``make_unix_datagram_server`` fixture, for annotations.
    MakeUnixDatagramServer = Callable[..., UnixDatagramServer]
    #: The type of the ``make_syslog_server`` fixture, for annotations.
    MakeSyslogServer = Callable[..., SyslogServer]
    #: The type of the ``make_log_record_server`` fixture, for annotations.
    MakeLogRecordServer = Callable[..., LogRecordServer]
    #: The type of the ``make_proxy`` fixture, for annotations.
    MakeProxy = Callable[..., Proxy]
    #: The type of the ``make_pypi_server`` fixture, for annotations.
    MakePyPIServer = Callable[..., PyPIServer]

__all__ = ["http_server", "http_server_options", "make_http_server"]

#: The ``Make*`` types, each ``Callable[..., <server>]``: made when first read (see
#: :func:`__getattr__`), since making one imports its server. They are not in ``__all__`` or
#: ``dir()``: pytest and pluggy read every name those list when they register the plugin.
_MAKE_TYPES = {
    "MakeHTTPServer": "HTTPServer",
    "MakeSMTPServer": "SMTPServer",
    "MakeTCPServer": "TCPServer",
    "MakeUDPServer": "UDPServer",
    "MakeUnixStreamServer": "UnixStreamServer",
    "MakeUnixDatagramServer": "UnixDatagramServer",
    "MakeSyslogServer": "SyslogServer",
    "MakeLogRecordServer": "LogRecordServer",
    "MakeProxy": "Proxy",
    "MakePyPIServer": "PyPIServer",
}


def __getattr__(name: str) -> Any:
    """``MakeHTTPServer`` and the other ``Make*`` types, made on first use (PEP 562)."""
    server = _MAKE_TYPES.get(name)
    if server is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value: Any = Callable[..., load_server(server)]
    globals()[name] = value
    return value


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
        for server in item.stash.get(SERVERS, ()):
            _finish(server, propagating=error)
        raise
    failures: list[BaseException] = []
    for server in item.stash.get(SERVERS, ()):
        try:
            _finish(server, propagating=None)
        except BaseException as failure:  # noqa: BLE001 - gathered and re-raised below
            failures.append(failure)
    if len(failures) == 1:
        raise failures[0]
    if failures:
        raise BaseExceptionGroup("understudy servers recorded errors", failures)
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, None, None]:
    """After the test's fixtures are torn down: let go of its servers (the session keeps every
    item, so its stash would keep every server it ever started, journal and all)."""
    try:
        return (yield)
    finally:
        if SERVERS in item.stash:
            del item.stash[SERVERS]


def _finish(server: Server, *, propagating: BaseException | None) -> None:
    __tracebackhide__ = True
    server.__exit__(None if propagating is None else type(propagating), propagating, None)


@pytest.fixture
def http_server_options() -> dict[str, Any]:
    """Keyword arguments for the ``http_server`` fixtures; override it in a conftest."""
    return {}


@pytest.fixture
def http_server(
    request: pytest.FixtureRequest, http_server_options: dict[str, Any]
) -> Iterator[HTTPServer]:
    """A started :class:`understudy.HTTPServer`, fresh for each test.

    After the test: stopped, then checked (a handler's exception fails the test).
    """
    from . import HTTPServer  # noqa: PLC0415 - imported when first used

    yield from started(request, HTTPServer(**options(request, http_server_options, HTTPServer)))


@pytest.fixture
def make_http_server(
    request: pytest.FixtureRequest, http_server_options: dict[str, Any]
) -> Iterator[MakeHTTPServer]:
    """A factory: ``make_http_server(**options)`` returns a started :class:`~understudy.HTTPServer`.

    Every server it made is stopped and checked after the test.
    """
    from . import HTTPServer  # noqa: PLC0415 - imported when first used

    yield from factory(request, HTTPServer, http_server_options)
