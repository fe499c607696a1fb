"""The public names' table, and the fix-up that makes loaded public objects say ``understudy.X``.

``understudy/__init__.py`` reads :data:`WHERE` to import a public name on first use (PEP 562);
``understudy.tls`` and ``understudy.fakes`` call :func:`publish` after loading modules that
define public names. Imports nothing of the package, so ``import understudy`` stays cheap.
"""

from __future__ import annotations

import sys

_PACKAGE = "understudy"

#: Where each public name is defined (the module imported when the name is first read). The
#: ``TYPE_CHECKING`` imports above say the same for type checkers; tests/test_public_api.py
#: checks that the two agree.
WHERE: dict[str, str] = {
    "AddressInUse": "._errors",
    "AsyncWebSocket": "._ws._handler",
    "BadFrame": "._core.logframes",
    "Conditions": "._conditions._options",
    "ConfigurationError": "._errors",
    "ConnectionRecord": "._sockets._connection",
    "Datagram": "._sockets._udp",
    "Delay": "._faults",
    "Direction": "._conditions._options",
    "Dribble": "._faults",
    "HTTP2Fault": "._http2_faults",
    "Expectation": "._http._expect",
    "ExpectationExceeded": "._errors",
    "Fault": "._core.faults",
    "HTTPServer": "._http._server",
    "Headers": "._http._fields",
    "LogRecordServer": "._logrecords",
    "Proxy": "._proxy",
    "ProxyConnection": "._proxy",
    "Query": "._http._fields",
    "Request": "._http._request",
    "RequestCriteria": "._http._criteria",
    "Response": "._http._response",
    "ResponseRecord": "._http._response_record",
    "SMTPFailure": "._smtp._rules",
    "SMTPMessage": "._smtp._message",
    "SMTPReply": "._smtp._message",
    "SMTPServer": "._smtp._server",
    "Server": "._server",
    "ServerSentEvent": "._core.sse",
    "StreamConnection": "._sockets._connection",
    "Subset": "._core.matching",
    "SyslogMessage": "._syslog",
    "SyslogServer": "._syslog",
    "TCPServer": "._sockets._tcp",
    "TLS": "._tls_settings",
    "TLSFailure": "._core.tlsinfo",
    "TLSInfo": "._core.tlsinfo",
    "UDPServer": "._sockets._udp",
    "UnderstudyError": "._errors",
    "UnexpectedRequest": "._errors",
    "UnixDatagramServer": "._sockets._unix",
    "UnixStreamServer": "._sockets._unix",
    "UnmetExpectation": "._errors",
    "WaitTimeout": "._errors",
    "WebSocket": "._ws._handler",
    "WebSocketClose": "._ws._records",
    "WebSocketConnection": "._ws._records",
    "WebSocketExpectation": "._ws._stubs",
    "WebSocketMessage": "._ws._records",
    "event_stream": "._http._sse",
}


def publish() -> None:
    """Make each public object that is loaded say ``understudy.X`` in reprs and tracebacks,
    not its private module (as trio does); run after each lazy import, which may have loaded
    the modules of other public names too."""
    modules = sys.modules
    for name, where in WHERE.items():
        module = modules.get(_PACKAGE + where)
        if module is None:
            continue
        obj = getattr(module, name, None)
        if obj is not None and getattr(obj, "__module__", "").startswith("understudy."):
            obj.__module__ = _PACKAGE
