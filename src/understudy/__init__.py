"""understudy: real servers that stand in for the ones your client talks to.

Start a server in-process on localhost, point the client under test at it, and assert on what
it received::

    import understudy

    with understudy.HTTPServer(response=understudy.Response(json={"ok": True})) as server:
        urllib.request.urlopen(server.url + "/ping")
        [request] = server.wait_for_requests(1)
        assert request.path == "/ping"

Everything public is importable from this module; the submodules are private.

Importing this module loads nothing but the table below (PEP 562): each name's module is
imported the first time the name is read, so ``import understudy`` costs a few milliseconds and
a program or test run that only uses ``SMTPServer`` never loads the HTTP server. Type checkers
and IDEs read the ``TYPE_CHECKING`` imports, and ``dir(understudy)`` lists every name.
"""

import importlib

from ._publishing import WHERE as _WHERE
from ._publishing import publish as _publish

# Not typing.TYPE_CHECKING: importing typing would cost more than the rest of this module.
# Type checkers treat any name TYPE_CHECKING as true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ._conditions import Conditions, Direction
    from ._core.faults import Fault
    from ._core.matching import Subset
    from ._core.sse import ServerSentEvent
    from ._core.tlsinfo import TLSFailure, TLSInfo
    from ._errors import (
        AddressInUse,
        ConfigurationError,
        ExpectationExceeded,
        UnderstudyError,
        UnexpectedRequest,
        UnmetExpectation,
        WaitTimeout,
    )
    from ._faults import Delay, Dribble
    from ._http._criteria import RequestCriteria
    from ._http._expect import Expectation
    from ._http._fields import Headers, Query
    from ._http._request import Request
    from ._http._response import Response
    from ._http._response_record import ResponseRecord
    from ._http._server import HTTPServer
    from ._http._sse import event_stream
    from ._http2_faults import HTTP2Fault
    from ._logrecords import BadFrame, LogRecordServer
    from ._proxy import Proxy, ProxyConnection
    from ._server import Server
    from ._smtp import SMTPFailure, SMTPMessage, SMTPReply, SMTPServer
    from ._sockets import (
        ConnectionRecord,
        Datagram,
        StreamConnection,
        TCPServer,
        UDPServer,
        UnixDatagramServer,
        UnixStreamServer,
    )
    from ._syslog import SyslogMessage, SyslogServer
    from ._tls_settings import TLS
    from ._ws._handler import AsyncWebSocket, WebSocket
    from ._ws._records import WebSocketClose, WebSocketConnection, WebSocketMessage
    from ._ws._stubs import WebSocketExpectation

__all__ = [  # noqa: RUF022 - plain sorted(), as tests/test_public_api.py checks
    "AddressInUse",
    "AsyncWebSocket",
    "BadFrame",
    "Conditions",
    "ConfigurationError",
    "ConnectionRecord",
    "Datagram",
    "Delay",
    "Direction",
    "Dribble",
    "Expectation",
    "ExpectationExceeded",
    "Fault",
    "HTTP2Fault",
    "HTTPServer",
    "Headers",
    "LogRecordServer",
    "Proxy",
    "ProxyConnection",
    "Query",
    "Request",
    "RequestCriteria",
    "Response",
    "ResponseRecord",
    "SMTPFailure",
    "SMTPMessage",
    "SMTPReply",
    "SMTPServer",
    "Server",
    "ServerSentEvent",
    "StreamConnection",
    "Subset",
    "SyslogMessage",
    "SyslogServer",
    "TCPServer",
    "TLS",
    "TLSFailure",
    "TLSInfo",
    "UDPServer",
    "UnderstudyError",
    "UnexpectedRequest",
    "UnixDatagramServer",
    "UnixStreamServer",
    "UnmetExpectation",
    "WaitTimeout",
    "WebSocket",
    "WebSocketClose",
    "WebSocketConnection",
    "WebSocketExpectation",
    "WebSocketMessage",
    "event_stream",
]

__version__ = "0.1.0.dev0"

#: The distribution to install for a top-level module that differs from it.
_DISTRIBUTIONS = {"multipart": "python-multipart", "python_multipart": "python-multipart"}


def __getattr__(name: str) -> "Any":
    """Import the module that defines the public ``name`` (PEP 562), once."""
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        module = importlib.import_module(where, __name__)
    except ModuleNotFoundError as error:
        missing = error.name or ""
        if not missing or missing.startswith(__name__):
            raise
        package = _DISTRIBUTIONS.get(missing.partition(".")[0], missing.partition(".")[0])
        raise ModuleNotFoundError(
            f"understudy.{name} needs {package!r}, which is not installed: "
            f"pip install {package} (or reinstall understudy, which depends on it)",
            name=missing,
        ) from error
    value = getattr(module, name)
    _publish()
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
