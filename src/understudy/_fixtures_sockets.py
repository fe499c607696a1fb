"""pytest fixtures for the socket servers: TCP, UDP, Unix stream and datagram, syslog, log records.

Re-exported by :mod:`understudy.pytest_plugin`. Each server kind has a fixture giving a started
server fresh for each test (``tcp_server``), a ``*_options`` fixture to override in a conftest,
and a ``make_*`` factory for tests that need several servers or per-test options.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ._fixtures import factory, options, started
from ._logrecords import LogRecordServer
from ._proxy import Proxy
from ._sockets import TCPServer, UDPServer, UnixDatagramServer, UnixStreamServer
from ._syslog import SyslogServer

__all__ = [
    "MakeLogRecordServer",
    "MakeProxy",
    "MakeSyslogServer",
    "MakeTCPServer",
    "MakeUDPServer",
    "MakeUnixDatagramServer",
    "MakeUnixStreamServer",
    "log_record_server",
    "log_record_server_options",
    "make_log_record_server",
    "make_proxy",
    "make_syslog_server",
    "make_tcp_server",
    "make_udp_server",
    "make_unix_datagram_server",
    "make_unix_stream_server",
    "syslog_server",
    "syslog_server_options",
    "tcp_server",
    "tcp_server_options",
    "udp_server",
    "udp_server_options",
    "unix_datagram_server",
    "unix_datagram_server_options",
    "unix_stream_server",
    "unix_stream_server_options",
]

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


@pytest.fixture
def tcp_server_options() -> dict[str, Any]:
    """Keyword arguments for the ``tcp_server`` fixtures; override it in a conftest.

    Example: ``return {"echo": True}``.
    """
    return {}


@pytest.fixture
def tcp_server(
    request: pytest.FixtureRequest, tcp_server_options: dict[str, Any]
) -> Iterator[TCPServer]:
    """A started :class:`understudy.TCPServer`, fresh for each test.

    Options come from ``tcp_server_options`` and ``@pytest.mark.understudy(...)``.
    After the test: stopped, then checked (a handler's exception fails the test).
    """
    yield from started(request, TCPServer(**options(request, tcp_server_options, TCPServer)))


@pytest.fixture
def make_tcp_server(
    request: pytest.FixtureRequest, tcp_server_options: dict[str, Any]
) -> Iterator[MakeTCPServer]:
    """A factory: ``make_tcp_server(**options)`` returns a started server.

    The server is a :class:`~understudy.TCPServer`; its options update
    ``tcp_server_options``. Every server it made is stopped and checked after the test.
    """
    yield from factory(request, TCPServer, tcp_server_options)


@pytest.fixture
def udp_server_options() -> dict[str, Any]:
    """Keyword arguments for the ``udp_server`` fixtures; override it in a conftest.

    Example: ``return {"handler": lambda datagram: b"ack"}``.
    """
    return {}


@pytest.fixture
def udp_server(
    request: pytest.FixtureRequest, udp_server_options: dict[str, Any]
) -> Iterator[UDPServer]:
    """A started :class:`understudy.UDPServer`, fresh for each test.

    Options come from ``udp_server_options`` and ``@pytest.mark.understudy(...)``.
    After the test: stopped, then checked (a handler's exception fails the test).
    """
    yield from started(request, UDPServer(**options(request, udp_server_options, UDPServer)))


@pytest.fixture
def make_udp_server(
    request: pytest.FixtureRequest, udp_server_options: dict[str, Any]
) -> Iterator[MakeUDPServer]:
    """A factory: ``make_udp_server(**options)`` returns a started server.

    The server is a :class:`~understudy.UDPServer`; its options update
    ``udp_server_options``. Every server it made is stopped and checked after the test.
    """
    yield from factory(request, UDPServer, udp_server_options)


@pytest.fixture
def unix_stream_server_options() -> dict[str, Any]:
    """Keyword arguments for the ``unix_stream_server`` fixtures; override it in a conftest.

    Example: ``return {"echo": True}``.
    """
    return {}


@pytest.fixture
def unix_stream_server(
    request: pytest.FixtureRequest, unix_stream_server_options: dict[str, Any]
) -> Iterator[UnixStreamServer]:
    """A started :class:`understudy.UnixStreamServer`, fresh for each test.

    Options come from ``unix_stream_server_options`` and ``@pytest.mark.understudy(...)``.
    After the test: stopped, then checked (a handler's exception fails the test).
    """
    yield from started(
        request, UnixStreamServer(**options(request, unix_stream_server_options, UnixStreamServer))
    )


@pytest.fixture
def make_unix_stream_server(
    request: pytest.FixtureRequest, unix_stream_server_options: dict[str, Any]
) -> Iterator[MakeUnixStreamServer]:
    """A factory: ``make_unix_stream_server(**options)`` returns a started server.

    The server is a :class:`~understudy.UnixStreamServer`; its options update
    ``unix_stream_server_options``. Every server it made is stopped and checked after the test.
    """
    yield from factory(request, UnixStreamServer, unix_stream_server_options)


@pytest.fixture
def unix_datagram_server_options() -> dict[str, Any]:
    """Keyword arguments for the ``unix_datagram_server`` fixtures; override it in a conftest.

    Example: ``return {"journal_size": 100}``.
    """
    return {}


@pytest.fixture
def unix_datagram_server(
    request: pytest.FixtureRequest, unix_datagram_server_options: dict[str, Any]
) -> Iterator[UnixDatagramServer]:
    """A started :class:`understudy.UnixDatagramServer`, fresh for each test.

    Options come from ``unix_datagram_server_options`` and ``@pytest.mark.understudy(...)``.
    After the test: stopped, then checked (a handler's exception fails the test).
    """
    yield from started(
        request,
        UnixDatagramServer(**options(request, unix_datagram_server_options, UnixDatagramServer)),
    )


@pytest.fixture
def make_unix_datagram_server(
    request: pytest.FixtureRequest, unix_datagram_server_options: dict[str, Any]
) -> Iterator[MakeUnixDatagramServer]:
    """A factory: ``make_unix_datagram_server(**options)`` returns a started server.

    The server is a :class:`~understudy.UnixDatagramServer`; its options update
    ``unix_datagram_server_options``. Every server it made is stopped and checked after the test.
    """
    yield from factory(request, UnixDatagramServer, unix_datagram_server_options)


@pytest.fixture
def syslog_server_options() -> dict[str, Any]:
    """Keyword arguments for the ``syslog_server`` fixtures; override it in a conftest.

    Example: ``return {"transport": "tcp"}``.
    """
    return {}


@pytest.fixture
def syslog_server(
    request: pytest.FixtureRequest, syslog_server_options: dict[str, Any]
) -> Iterator[SyslogServer]:
    """A started :class:`understudy.SyslogServer`, fresh for each test.

    Options come from ``syslog_server_options`` and ``@pytest.mark.understudy(...)``.
    After the test: stopped, then checked (a handler's exception fails the test).
    """
    yield from started(
        request, SyslogServer(**options(request, syslog_server_options, SyslogServer))
    )


@pytest.fixture
def make_syslog_server(
    request: pytest.FixtureRequest, syslog_server_options: dict[str, Any]
) -> Iterator[MakeSyslogServer]:
    """A factory: ``make_syslog_server(**options)`` returns a started server.

    The server is a :class:`~understudy.SyslogServer`; its options update
    ``syslog_server_options``. Every server it made is stopped and checked after the test.
    """
    yield from factory(request, SyslogServer, syslog_server_options)


@pytest.fixture
def log_record_server_options() -> dict[str, Any]:
    """Keyword arguments for the ``log_record_server`` fixtures; override it in a conftest.

    Example: ``return {"transport": "udp"}``.
    """
    return {}


@pytest.fixture
def log_record_server(
    request: pytest.FixtureRequest, log_record_server_options: dict[str, Any]
) -> Iterator[LogRecordServer]:
    """A started :class:`understudy.LogRecordServer`, fresh for each test.

    Options come from ``log_record_server_options`` and ``@pytest.mark.understudy(...)``.
    After the test: stopped, then checked (a handler's exception fails the test).
    """
    yield from started(
        request, LogRecordServer(**options(request, log_record_server_options, LogRecordServer))
    )


@pytest.fixture
def make_log_record_server(
    request: pytest.FixtureRequest, log_record_server_options: dict[str, Any]
) -> Iterator[MakeLogRecordServer]:
    """A factory: ``make_log_record_server(**options)`` returns a started server.

    The server is a :class:`~understudy.LogRecordServer`; its options update
    ``log_record_server_options``. Every server it made is stopped and checked after the test.
    """
    yield from factory(request, LogRecordServer, log_record_server_options)


@pytest.fixture
def make_proxy(request: pytest.FixtureRequest) -> Iterator[MakeProxy]:
    """A factory: ``make_proxy(upstream=server.address, conditions=...)`` returns a started
    :class:`~understudy.Proxy`. Every proxy it made is stopped and checked after the test.

    A proxy needs its upstream, so there is no ready-made ``proxy`` fixture; options from
    ``@pytest.mark.understudy(...)`` apply here too.
    """
    yield from factory(request, Proxy, {})
