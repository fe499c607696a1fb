"""The types of the fixture factories: ``Make*`` protocols over typed options (PEP 692).

Each server's keyword arguments are written here once more as a ``TypedDict`` (``total=False``:
every option may be left out), so that ``make_http_server(startls=True)`` is an error for a type
checker, not only at run time; ``tests/test_factories.py`` holds each ``TypedDict`` to its
class's signature, name for name and type for type. Nothing here imports a server at run time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, Required, TypedDict, Unpack

if TYPE_CHECKING:
    import os
    from collections.abc import Collection, Mapping, Sequence
    from typing import Literal

    from ._conditions import Conditions
    from ._http._asgi import ASGIApp
    from ._http._hosts import Handler as HTTPHandler
    from ._http._response import Response
    from ._http._server import HTTPServer
    from ._http._wsgi import WSGIApp
    from ._logrecords import LogRecordServer, LogRecordTransport
    from ._proxy import Proxy
    from ._smtp import SMTPFailure, SMTPServer
    from ._smtp._rules import RejectRule
    from ._smtp._site import Auth
    from ._smtp._site import Handler as SMTPHandler
    from ._sockets import (
        DatagramHandler,
        StreamHandler,
        TCPServer,
        UDPServer,
        UnixDatagramServer,
        UnixStreamServer,
    )
    from ._syslog import SyslogServer, SyslogTransport
    from ._tls import TLS
    from .fakes import PyPIServer

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
]


class HTTPServerOptions(TypedDict, total=False):
    """The keyword arguments of :class:`understudy.HTTPServer`."""

    host: str
    port: int
    response: Response | None
    handler: HTTPHandler | None
    wsgi: WSGIApp | None
    asgi: ASGIApp | None
    root: str | os.PathLike[str] | None
    generated_fields: str | Collection[str]
    content_coding: str | None
    content_codings: str | Sequence[str] | None
    journal_size: int | None
    unmatched_status: int
    allow_unmatched: bool
    max_header_size: int
    max_body_size: int
    header_timeout: float | None
    idle_timeout: float | None
    send_timeout: float | None
    tls: bool | TLS | None
    mappings: str | os.PathLike[str] | None
    admin: bool
    admin_token: str | None
    proxy_to: str | None
    record: str | os.PathLike[str] | None
    conditions: Conditions | None
    seed: int | None
    http_versions: str | Collection[str]
    max_concurrent_streams: int
    websocket_max_message_size: int | None


class SMTPServerOptions(TypedDict, total=False):
    """The keyword arguments of :class:`understudy.SMTPServer`."""

    host: str
    port: int
    hostname: str
    auth: Auth | None
    auth_required: bool
    reject: Mapping[str, RejectRule] | None
    smtputf8: bool
    max_message_size: int | None
    handler: SMTPHandler | None
    journal_size: int | None
    tls: bool | TLS | None
    starttls: bool | TLS
    require_starttls: bool
    failures: list[SMTPFailure] | None
    conditions: Conditions | None
    seed: int | None


class TCPServerOptions(TypedDict, total=False):
    """The keyword arguments of :class:`understudy.TCPServer`."""

    handler: StreamHandler | None
    echo: bool
    host: str
    port: int
    journal_size: int | None
    tls: bool | TLS | None
    conditions: Conditions | None
    seed: int | None


class UDPServerOptions(TypedDict, total=False):
    """The keyword arguments of :class:`understudy.UDPServer`."""

    handler: DatagramHandler | None
    host: str
    port: int
    journal_size: int | None
    tls: Literal[False] | None


class UnixStreamServerOptions(TypedDict, total=False):
    """The keyword arguments of :class:`understudy.UnixStreamServer`."""

    path: str | os.PathLike[str] | None
    handler: StreamHandler | None
    echo: bool
    journal_size: int | None
    conditions: Conditions | None
    seed: int | None


class UnixDatagramServerOptions(TypedDict, total=False):
    """The keyword arguments of :class:`understudy.UnixDatagramServer`."""

    path: str | os.PathLike[str] | None
    handler: DatagramHandler | None
    journal_size: int | None
    tls: Literal[False] | None


class SyslogServerOptions(TypedDict, total=False):
    """The keyword arguments of :class:`understudy.SyslogServer`."""

    transport: SyslogTransport
    host: str | None
    port: int | None
    path: str | os.PathLike[str] | None
    max_message_size: int
    journal_size: int | None
    tls: bool | TLS | None
    conditions: Conditions | None
    seed: int | None


class LogRecordServerOptions(TypedDict, total=False):
    """The keyword arguments of :class:`understudy.LogRecordServer`."""

    transport: LogRecordTransport
    host: str
    port: int
    max_frame_size: int
    journal_size: int | None
    conditions: Conditions | None
    seed: int | None


class ProxyOptions(TypedDict, total=False):
    """The keyword arguments of :class:`understudy.Proxy`."""

    upstream: Required[tuple[str, int]]
    conditions: Conditions | None
    host: str
    port: int
    seed: int | None
    connect_timeout: float
    journal_size: int | None


class PyPIServerOptions(TypedDict, total=False):
    """The keyword arguments of :class:`understudy.fakes.PyPIServer`."""

    host: str
    port: int
    users: Mapping[str, str] | None
    tokens: Collection[str] | None
    anonymous: bool
    directory: str | os.PathLike[str] | None
    journal_size: int | None
    max_body_size: int
    tls: bool | TLS | None
    conditions: Conditions | None
    seed: int | None
    max_header_size: int
    header_timeout: float | None
    idle_timeout: float | None
    send_timeout: float | None
    unmatched_status: int
    allow_unmatched: bool


class MakeHTTPServer(Protocol):
    """The type of the ``make_http_server`` fixture, for annotations.

    ``make_http_server(**options)`` returns a started :class:`~understudy.HTTPServer`, stopped
    and checked after the test. Its options update ``http_server_options``. The options are the
    class's keyword arguments: a type checker refuses a misspelt one.
    """

    def __call__(self, **options: Unpack[HTTPServerOptions]) -> HTTPServer: ...


class MakeSMTPServer(Protocol):
    """The type of the ``make_smtp_server`` fixture, for annotations.

    ``make_smtp_server(**options)`` returns a started :class:`~understudy.SMTPServer`, stopped
    and checked after the test. Its options update ``smtp_server_options``. The options are the
    class's keyword arguments: a type checker refuses a misspelt one.
    """

    def __call__(self, **options: Unpack[SMTPServerOptions]) -> SMTPServer: ...


class MakeTCPServer(Protocol):
    """The type of the ``make_tcp_server`` fixture, for annotations.

    ``make_tcp_server(**options)`` returns a started :class:`~understudy.TCPServer`, stopped and
    checked after the test. Its options update ``tcp_server_options``. The options are the
    class's keyword arguments: a type checker refuses a misspelt one.
    """

    def __call__(self, **options: Unpack[TCPServerOptions]) -> TCPServer: ...


class MakeUDPServer(Protocol):
    """The type of the ``make_udp_server`` fixture, for annotations.

    ``make_udp_server(**options)`` returns a started :class:`~understudy.UDPServer`, stopped and
    checked after the test. Its options update ``udp_server_options``. The options are the
    class's keyword arguments: a type checker refuses a misspelt one.
    """

    def __call__(self, **options: Unpack[UDPServerOptions]) -> UDPServer: ...


class MakeUnixStreamServer(Protocol):
    """The type of the ``make_unix_stream_server`` fixture, for annotations.

    ``make_unix_stream_server(**options)`` returns a started
    :class:`~understudy.UnixStreamServer`, stopped and checked after the test. Its options
    update ``unix_stream_server_options``. The options are the class's keyword arguments: a type
    checker refuses a misspelt one.
    """

    def __call__(self, **options: Unpack[UnixStreamServerOptions]) -> UnixStreamServer: ...


class MakeUnixDatagramServer(Protocol):
    """The type of the ``make_unix_datagram_server`` fixture, for annotations.

    ``make_unix_datagram_server(**options)`` returns a started
    :class:`~understudy.UnixDatagramServer`, stopped and checked after the test. Its options
    update ``unix_datagram_server_options``. The options are the class's keyword arguments: a
    type checker refuses a misspelt one.
    """

    def __call__(self, **options: Unpack[UnixDatagramServerOptions]) -> UnixDatagramServer: ...


class MakeSyslogServer(Protocol):
    """The type of the ``make_syslog_server`` fixture, for annotations.

    ``make_syslog_server(**options)`` returns a started :class:`~understudy.SyslogServer`,
    stopped and checked after the test. Its options update ``syslog_server_options``. The
    options are the class's keyword arguments: a type checker refuses a misspelt one.
    """

    def __call__(self, **options: Unpack[SyslogServerOptions]) -> SyslogServer: ...


class MakeLogRecordServer(Protocol):
    """The type of the ``make_log_record_server`` fixture, for annotations.

    ``make_log_record_server(**options)`` returns a started
    :class:`~understudy.LogRecordServer`, stopped and checked after the test. Its options update
    ``log_record_server_options``. The options are the class's keyword arguments: a type checker
    refuses a misspelt one.
    """

    def __call__(self, **options: Unpack[LogRecordServerOptions]) -> LogRecordServer: ...


class MakeProxy(Protocol):
    """The type of the ``make_proxy`` fixture, for annotations.

    ``make_proxy(**options)`` returns a started :class:`~understudy.Proxy`, stopped and checked
    after the test. The options are the class's keyword arguments: a type checker refuses a
    misspelt one.
    """

    def __call__(self, **options: Unpack[ProxyOptions]) -> Proxy: ...


class MakePyPIServer(Protocol):
    """The type of the ``make_pypi_server`` fixture, for annotations.

    ``make_pypi_server(**options)`` returns a started :class:`~understudy.fakes.PyPIServer`,
    stopped and checked after the test. Its options update ``pypi_server_options``. The options
    are the class's keyword arguments: a type checker refuses a misspelt one.
    """

    def __call__(self, **options: Unpack[PyPIServerOptions]) -> PyPIServer: ...
