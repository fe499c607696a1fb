"""Raw socket servers: TCP, UDP, Unix stream and Unix datagram, on the shared runtime.

A stream server records, per connection, every byte received in order (a
:class:`ConnectionRecord`), and hands each connection to a handler: a plain function gets a
blocking :class:`StreamConnection` and runs in the worker pool; an ``async def`` gets asyncio's
``(StreamReader, StreamWriter)`` and runs on the loop; with no handler the server records and
keeps the connection open until the client closes it (or echoes, with ``echo=True``). A datagram
server records each :class:`Datagram` and may answer it with what its handler returns.

The pieces shared with the syslog and log-record servers live here too: binding a Unix socket in
a private temporary directory, tracking in-flight handlers, and the waits on a journal of
connections (also the proxy's).
"""

from ._base import DecodingProtocol, SocketServer
from ._connection import ConnectionRecord, StreamConnection
from ._tcp import StreamHandler, TCPServer
from ._udp import Datagram, DatagramHandler, DatagramReceiver, UDPServer
from ._unix import UnixDatagramServer, UnixStreamServer

__all__ = [
    "ConnectionRecord",
    "Datagram",
    "DatagramHandler",
    "DatagramReceiver",
    "DecodingProtocol",
    "SocketServer",
    "StreamConnection",
    "StreamHandler",
    "TCPServer",
    "UDPServer",
    "UnixDatagramServer",
    "UnixStreamServer",
]
