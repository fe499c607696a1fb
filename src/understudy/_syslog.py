"""SyslogServer: receives syslog over UDP, TCP (RFC 6587 framing) or a Unix datagram socket."""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, ClassVar, Literal, get_args

from ._conditions import Conditions
from ._core.syslog import SyslogMessage, Transport, parse_message, unparsed_message
from ._core.syslog_framing import FrameError, SyslogFramer
from ._errors import ConfigurationError
from ._journal import Journal
from ._sockets import DatagramReceiver, SocketServer
from ._tls import TLS, TLSInfo, resolve_tls

__all__ = ["SyslogMessage", "SyslogServer", "SyslogTransport"]

SyslogTransport = Literal["udp", "tcp", "unix"]
_DEFAULT_MAX_MESSAGE_SIZE = 64 * 1024


class SyslogServer(SocketServer):
    """A syslog receiver that parses every message into a :class:`SyslogMessage`.

    Messages in RFC 5424 form (``<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD MSG``) and in
    the BSD form of RFC 3164 (``<PRI>Mmm dd hh:mm:ss HOSTNAME TAG[PID]: MSG``, or just
    ``<PRI>MSG`` as Python's ``logging.handlers.SysLogHandler`` sends it) are parsed; anything
    else is kept, with its bytes, and :attr:`SyslogMessage.error` saying why.

    Args:
        transport: ``"udp"`` (the default; one message per datagram, RFC 5426), ``"tcp"``
            (RFC 6587: octet-counted frames and LF- or NUL-terminated ones, detected per frame;
            a NUL-terminated message keeps the line feeds no frame could begin after, so
            ``logger.exception``'s traceback arrives in its message), or ``"unix"`` (a Unix
            datagram socket, like ``/dev/log``).
        host: address to listen on for ``"udp"``/``"tcp"``: ``"127.0.0.1"`` by default.
        port: port for ``"udp"``/``"tcp"``; 0 (the default) lets the kernel choose.
        path: the socket path for ``"unix"``; by default one in a private temporary directory
            made at ``start()`` and removed at ``stop()``.
        max_message_size: bytes accepted per message (64 KiB by default). A longer message or
            TCP frame is refused: recorded as a message with ``error`` set, skipped, and the
            connection goes on with the next frame.
        journal_size: keep only the last N messages (``None``: all).
        tls: with ``transport="tcp"``, syslog over TLS (RFC 5425; octet-counted frames, and
            the others RFC 6587 allows): ``True``, or :class:`~understudy.TLS` settings. Clients
            trust the test CA of :mod:`understudy.tls`. Each message records what its
            connection agreed on as :attr:`SyslogMessage.tls`.
        conditions: network conditions on every connection (:class:`understudy.Conditions`);
            stream transports only.
        seed: seeds the server's random choices (see :class:`understudy.Server`).

    Raises:
        ConfigurationError: an unknown transport, ``path`` with ``"udp"``/``"tcp"``, ``host`` or
            ``port`` with ``"unix"``, a bad size, or ``tls`` with a datagram transport.
    """

    kind: ClassVar[str] = "syslog server"

    def __init__(
        self,
        *,
        transport: SyslogTransport = "udp",
        host: str | None = None,
        port: int | None = None,
        path: str | os.PathLike[str] | None = None,
        max_message_size: int = _DEFAULT_MAX_MESSAGE_SIZE,
        journal_size: int | None = None,
        tls: bool | TLS | None = None,
        conditions: Conditions | None = None,
        seed: int | None = None,
    ) -> None:
        if transport not in get_args(SyslogTransport):
            raise ConfigurationError(
                f"transport must be 'udp', 'tcp' or 'unix' (a Unix datagram socket), not "
                f"{transport!r}"
            )
        unix = transport == "unix"
        settings = resolve_tls(tls, self.kind)
        if settings is not None and transport != "tcp":
            raise ConfigurationError(
                f"tls= needs transport='tcp' (syslog over TLS is RFC 5425, a stream); "
                f"transport={transport!r} is datagrams (DTLS, RFC 6012, is not offered)"
            )
        if unix and (host is not None or port is not None):
            raise ConfigurationError(
                "a syslog server with transport='unix' listens on path=, not host=/port="
            )
        if not unix and path is not None:
            raise ConfigurationError(
                f"path= is for transport='unix'; transport={transport!r} takes host=/port="
            )
        if (
            not isinstance(max_message_size, int)
            or isinstance(max_message_size, bool)
            or max_message_size < 1
        ):
            raise ConfigurationError(
                f"max_message_size must be a positive int (bytes), not {max_message_size!r}"
            )
        super().__init__(
            host="127.0.0.1" if host is None else host,
            port=0 if port is None else port,
            path=path,
            unix=unix,
            socket_kind=_socket_kind(transport),
            conditions=conditions,
            seed=seed,
        )
        self.transport: SyslogTransport = transport
        self._tls = settings
        self._ssl_context()  # with tls=: the CA and certificate are made here, not on the loop
        self.max_message_size = max_message_size
        self._journal: Journal[SyslogMessage] = Journal("syslog message", journal_size)
        self._journal.belongs_to(self)

    # -- what the test reads -----------------------------------------------------------------

    @property
    def messages(self) -> list[SyslogMessage]:
        """The messages received so far (a snapshot list, oldest first), refused ones included."""
        return self._journal.snapshot()

    def wait_for_messages(
        self,
        count: int = 1,
        *,
        match: Callable[[SyslogMessage], bool] | None = None,
        timeout: float = 5.0,
    ) -> list[SyslogMessage]:
        """Block until ``count`` messages (satisfying ``match``, if given) have been received.

        Messages that could not be parsed count too (their ``error`` is set); pass
        ``match=lambda m: m.error is None`` to wait for good ones only.

        Args:
            count: how many to wait for.
            match: a predicate on :class:`SyslogMessage`.
            timeout: seconds to wait.

        Returns:
            The first ``count`` such messages, oldest first.

        Raises:
            WaitTimeout: after ``timeout`` seconds; the message lists what did arrive.
        """
        __tracebackhide__ = True
        return self._journal.wait_for(count, match=match, timeout=timeout)

    async def wait_for_messages_async(
        self,
        count: int = 1,
        *,
        match: Callable[[SyslogMessage], bool] | None = None,
        timeout: float = 5.0,
    ) -> list[SyslogMessage]:
        """The awaitable twin of :meth:`wait_for_messages`."""
        __tracebackhide__ = True
        return await self._journal.wait_for_async(count, match=match, timeout=timeout)

    def clear(self) -> None:
        """Forget the messages received so far."""
        self._journal.clear()

    # -- on the loop -------------------------------------------------------------------------

    def _stream_protocol(self) -> asyncio.BaseProtocol:
        def deliver(frames: Sequence[bytes | FrameError], peer: Any) -> None:
            self._frames(frames, peer, protocol.tls)

        protocol = self._decoding_protocol(SyslogFramer(self.max_message_size), deliver)
        return protocol

    def _datagram_protocol(self) -> asyncio.DatagramProtocol:
        return DatagramReceiver(self._datagram)

    def _frames(self, frames: Sequence[bytes | FrameError], peer: Any, tls: TLSInfo | None) -> None:
        for frame in frames:
            if isinstance(frame, FrameError):
                self._journal.append(
                    unparsed_message(
                        frame.data,
                        frame.reason,
                        transport="tcp",
                        peer=peer,
                        received_at=time.time(),
                        tls=tls,
                    )
                )
            else:
                self._record(frame, "tcp", peer, tls)

    def _datagram(self, transport: asyncio.DatagramTransport, data: bytes, peer: Any) -> None:
        kind: Transport = "unix" if self._unix else "udp"
        if len(data) > self.max_message_size:
            self._journal.append(
                unparsed_message(
                    data,
                    f"datagram of {len(data)} bytes is longer than "
                    f"max_message_size={self.max_message_size}; refused",
                    transport=kind,
                    peer=peer,
                    received_at=time.time(),
                )
            )
            return
        self._record(data, kind, peer)

    def _record(
        self, raw: bytes, transport: Transport, peer: Any, tls: TLSInfo | None = None
    ) -> None:
        now = time.time()
        self._journal.append(
            parse_message(
                raw,
                year=datetime.fromtimestamp(now).year,
                transport=transport,
                peer=peer,
                received_at=now,
                tls=tls,
            )
        )

    def _describe_address(self) -> str:
        return f"{self.transport} {super()._describe_address()}"


def _socket_kind(transport: str) -> socket.SocketKind:
    return socket.SOCK_STREAM if transport == "tcp" else socket.SOCK_DGRAM


def messages_journal(server: SyslogServer) -> Journal[SyslogMessage]:
    """The journal of ``server``'s messages, for the package (the command follows it)."""
    return server._journal
