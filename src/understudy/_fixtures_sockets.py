"""pytest fixtures for the socket servers: TCP, UDP, Unix stream and datagram, syslog, log records.

Re-exported by :mod:`understudy.pytest_plugin`. Each server kind has a fixture giving a started
server fresh for each test (``tcp_server``), a ``*_options`` fixture to override in a conftest,
and a ``make_*`` factory for tests that need several servers or per-test options. No server
module is imported until a test asks for one of its fixtures.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from ._fixtures import factory, server_fixtures

if TYPE_CHECKING:
    from ._factories import MakeProxy

__all__ = [
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


tcp_server_options, tcp_server, make_tcp_server = server_fixtures(
    "TCPServer", "tcp_server", example='{"echo": True}'
)
udp_server_options, udp_server, make_udp_server = server_fixtures(
    "UDPServer", "udp_server", example='{"handler": lambda datagram: b"ack"}'
)
unix_stream_server_options, unix_stream_server, make_unix_stream_server = server_fixtures(
    "UnixStreamServer", "unix_stream_server", example='{"echo": True}'
)
unix_datagram_server_options, unix_datagram_server, make_unix_datagram_server = server_fixtures(
    "UnixDatagramServer", "unix_datagram_server", example='{"journal_size": 100}'
)
syslog_server_options, syslog_server, make_syslog_server = server_fixtures(
    "SyslogServer", "syslog_server", example='{"transport": "tcp"}'
)
log_record_server_options, log_record_server, make_log_record_server = server_fixtures(
    "LogRecordServer", "log_record_server", example='{"transport": "udp"}'
)


@pytest.fixture
def make_proxy(request: pytest.FixtureRequest) -> Iterator[MakeProxy]:
    """A factory: ``make_proxy(upstream=server.address, conditions=...)`` returns a started
    :class:`~understudy.Proxy`. Every proxy it made is stopped and checked after the test.

    A proxy needs its upstream, so there is no ready-made ``proxy`` fixture; options from
    ``@pytest.mark.understudy(...)`` apply here too.
    """
    from . import Proxy  # noqa: PLC0415 - imported when first used

    yield from factory(request, Proxy, {})
