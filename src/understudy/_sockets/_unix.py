"""The Unix socket servers: :class:`TCPServer` and :class:`UDPServer` on ``AF_UNIX``."""

from __future__ import annotations

import os
from typing import ClassVar, Literal

from .._conditions import Conditions
from ._tcp import StreamHandler, StreamServer
from ._udp import DatagramHandler, DatagramServer


class UnixStreamServer(StreamServer):
    """:class:`TCPServer` on a Unix stream socket (``AF_UNIX``, ``SOCK_STREAM``).

    Args:
        path: the socket's path. By default, a path in a private temporary directory (mode
            0700) created at ``start()``; the socket file (and that directory) is removed at
            ``stop()``. Read it from :attr:`path` (or :attr:`address`) once started. On Linux,
            a name that begins with ``"\\0"`` is in the abstract namespace: no file. A
            relative path is made absolute at ``start()``; ``stop()`` removes the socket file
            only while it is still the one bound (not a file bound or put there since).
        handler: as for :class:`TCPServer`.
        echo: as for :class:`TCPServer`.
        journal_size: as for :class:`TCPServer`.
        conditions: as for :class:`TCPServer`.
        seed: as for :class:`TCPServer`.

    Raises:
        ConfigurationError: an empty ``path``, a handler that is not callable, or both
            ``handler`` and ``echo``.
        OSError: at ``start()``, ``errno.EADDRINUSE`` when a file already exists at ``path``,
            ``errno.ENAMETOOLONG`` when ``path`` is too long for a Unix socket (over 107 bytes
            on Linux), and ``FileNotFoundError`` when its directory does not exist; each
            names the path.
    """

    kind: ClassVar[str] = "Unix stream server"

    def __init__(
        self,
        *,
        path: str | os.PathLike[str] | None = None,
        handler: StreamHandler | None = None,
        echo: bool = False,
        journal_size: int | None = None,
        conditions: Conditions | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__(
            handler=handler,
            echo=echo,
            journal_size=journal_size,
            path=path,
            unix=True,
            conditions=conditions,
            seed=seed,
        )


class UnixDatagramServer(DatagramServer):
    """:class:`UDPServer` on a Unix datagram socket (``AF_UNIX``, ``SOCK_DGRAM``, like /dev/log).

    Args:
        path: the socket's path; by default one in a private temporary directory (mode 0700)
            made at ``start()`` and removed, with the socket file, at ``stop()``. On Linux, a
            name that begins with ``"\\0"`` is in the abstract namespace: no file.
        handler: as for :class:`UDPServer`; a reply reaches only a client whose socket is bound
            to a path.
        journal_size: keep only the last N datagrams (``None``: all).
        tls: not offered, as for :class:`UDPServer`: only ``None`` or ``False``.

    Raises:
        ConfigurationError: an empty ``path``, a handler that is not callable, or ``tls``
            other than ``None`` or ``False`` (DTLS is not offered; for TLS use
            :class:`TCPServer` ``(tls=...)``).
        OSError: at ``start()``, as for :class:`UnixStreamServer`.
    """

    kind: ClassVar[str] = "Unix datagram server"

    def __init__(
        self,
        *,
        path: str | os.PathLike[str] | None = None,
        handler: DatagramHandler | None = None,
        journal_size: int | None = None,
        tls: Literal[False] | None = None,
    ) -> None:
        super().__init__(handler=handler, journal_size=journal_size, tls=tls, path=path, unix=True)
