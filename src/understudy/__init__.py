"""understudy: real servers that stand in for the ones your client talks to.

Start a server in-process on localhost, point the client under test at it, and assert on what
it received::

    import understudy

    with understudy.HTTPServer(response=understudy.Response(json={"ok": True})) as server:
        urllib.request.urlopen(server.url + "/ping")
        [request] = server.wait_for_requests(1)
        assert request.path == "/ping"

Everything public is importable from this module; the submodules are private.
"""

from ._conditions import Conditions, Direction
from ._core.faults import Fault
from ._core.matching import Subset
from ._core.sse import ServerSentEvent
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
from ._http._models import Request, Response, ResponseRecord
from ._http._server import HTTPServer
from ._http._sse import event_stream
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
from ._tls import TLS, TLSFailure, TLSInfo

__all__ = [  # noqa: RUF022 - plain sorted(), as tests/test_public_api.py checks
    "AddressInUse",
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
    "event_stream",
]

__version__ = "0.1.0.dev0"


def _fixup_module_metadata() -> None:
    # Public objects say `understudy.X` in reprs and tracebacks, not the private module (trio).
    for name in __all__:
        obj = globals()[name]
        if getattr(obj, "__module__", "").startswith("understudy."):
            obj.__module__ = __name__


_fixup_module_metadata()
