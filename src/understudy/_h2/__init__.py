"""HTTP/2 (RFC 9113) beside HTTP/1.1: the ``h2`` library's state machine on the runtime's loop.

An HTTP/1.1 connection hands its transport to :class:`H2Connection` (:func:`take_over`) on the
connection preface or an ALPN ``h2``; each stream is an :class:`H2Exchange` the server's hosts
answer as they answer an HTTP/1.1 request.
"""

from ._connection import H2Connection
from ._handoff import PREFACE, preface, take_over
from ._stream import H2Exchange

__all__ = ["PREFACE", "H2Connection", "H2Exchange", "preface", "take_over"]
