"""One HTTP/2 connection (RFC 9113): the sans-IO ``h2`` library driven by an asyncio protocol.

An HTTP/1.1 connection hands its transport over (``_handoff.take_over``) when the client's first
bytes are the connection preface (h2c by prior knowledge, or after ALPN ``h2``). Each stream is
an :class:`~understudy._h2._stream.H2Exchange` dispatched through the router as an HTTP/1.1
request is; streams are independent. The bytes ``h2`` produces in one loop iteration go out in
one write, as HTTP/1.1's do. No server push; no h2c ``Upgrade`` (RFC 9113 §3.1 removed it).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, cast

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings
from hyperframe.frame import GoAwayFrame

from ..._drain import close_transport
from ._faults import apply_h2_fault, fault_of
from ._requests import malformed, pack, read_head, refused
from ._stream import H2Exchange
from ._timers import Timers, connection_error

if TYPE_CHECKING:
    from ..._core.faults import Ending
    from ..._tls import TLSInfo
    from .._limits import Limits
    from .._routing import Router
    from .._site import Site

__all__ = ["H2Connection"]

#: HTTP/2 error codes (RFC 9113 §7) used here.
NO_ERROR, PROTOCOL_ERROR, REFUSED_STREAM = 0x0, 0x1, 0x7


def _settings(max_concurrent_streams: int, max_header_list_size: int) -> h2.settings.Settings:
    """The server's SETTINGS (RFC 9113 §6.5.2) as h2 keeps them."""
    codes = h2.settings.SettingCodes
    initial = {
        codes.MAX_CONCURRENT_STREAMS: max_concurrent_streams,
        codes.MAX_HEADER_LIST_SIZE: max_header_list_size,
    }
    return h2.settings.Settings(client=False, initial_values=initial)


def _too_large(limits: Limits, size: str) -> str:
    """Why a body over max_body_size gets 413 (RFC 9110 §15.5.14)."""
    return f"the body{size} is larger than max_body_size ({limits.max_body_size} bytes)"


class H2Connection(Timers):
    """The asyncio protocol of one HTTP/2 connection (server side)."""

    def __init__(self, site: Site, router: Router) -> None:
        self.site = site
        self.router = router
        self.loop = site.loop
        self.scheme = site.scheme
        limits = self.limits = site.limits
        self.transport: asyncio.Transport | None = None
        self.peer: tuple[str, int] | None = None
        self.peer_fields: tuple[str | None, int | None] = (None, None)
        self.tls: TLSInfo | None = None
        self.tls_fields: tuple[str, str, str | None, str | None] | None = None
        config = h2.config.H2Configuration(
            client_side=False,
            header_encoding=None,
            validate_inbound_headers=False,
            validate_outbound_headers=False,
            normalize_outbound_headers=False,
        )  # (a malformed request is a stream error, not h2's connection error: _requests;
        # what is sent is made well-formed, lower-case and without connection fields: _stream)
        self.h2 = h2.connection.H2Connection(config=config)
        self.h2.local_settings = _settings(limits.max_concurrent_streams, limits.max_header_size)
        # (The decoder heeds the setting only once the client acknowledges it: from the start.)
        self.h2.decoder.max_header_list_size = limits.max_header_size
        #: The streams being received or answered, by stream id.
        self.streams: dict[int, H2Exchange] = {}
        self.closing = False
        #: A fault broke the connection (see _http/_faults.apply_fault): read nothing more.
        self.broken = False
        #: (What apply_fault clears on an HTTP/1.1 connection; none here.)
        self.queue: list[H2Exchange] = []
        self.parsing: H2Exchange | None = None
        #: HTTP2Fault.window: the server opens no flow-control window again.
        self.windows_closed = False
        #: The last stream id a graceful GOAWAY promised to answer (``None``: none sent).
        self.goaway_last: int | None = None
        self.output_made()

    # -- asyncio.Protocol --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.site.connections[self] = None
        h2conn = self.h2
        h2conn.initiate_connection()
        # The limit announced, h2 is told none: a stream over it is refused here, with
        # RST_STREAM REFUSED_STREAM (RFC 9113 §5.1.2), not h2's GOAWAY PROTOCOL_ERROR.
        h2conn.local_settings = _settings(2**31 - 1, self.limits.max_header_size)
        self.timers_made()
        self.wrote()

    def connection_lost(self, exc: Exception | None) -> None:
        self.site.connections.pop(self, None)
        self.closing = True
        self.transport = None
        self.stop_timers()
        for exchange in list(self.streams.values()):
            self.gone(exchange)
        self.streams.clear()
        self.forget_output()

    def data_received(self, data: bytes) -> None:
        if self.broken or not self.read(data):
            return
        try:
            events = self.h2.receive_data(data)
        except h2.exceptions.ProtocolError as error:
            # h2 has queued a GOAWAY with the error's code (RFC 9113 §5.4.1): send it, close.
            self.journal_error(connection_error(error))
            self.broken = True
            self.close()
            return
        for event in events:
            kind = type(event)
            if kind is h2.events.DataReceived:
                self._data(cast("h2.events.DataReceived", event))
            elif kind is h2.events.RequestReceived:
                self._request(cast("h2.events.RequestReceived", event))
            elif kind is h2.events.StreamEnded:
                exchange = self.streams.get(cast("h2.events.StreamEnded", event).stream_id)
                if exchange is not None:
                    self._complete(exchange)
            elif kind is h2.events.WindowUpdated:
                stream_id = cast("h2.events.WindowUpdated", event).stream_id
                if stream_id:
                    exchange = self.streams.get(stream_id)
                    if exchange is not None:
                        exchange.flow()
                else:
                    self._send_all_pending()
            elif kind is h2.events.RemoteSettingsChanged:
                self._send_all_pending()  # (the initial window may have grown)
            elif kind is h2.events.TrailersReceived:
                exchange = self.streams.get(cast("h2.events.TrailersReceived", event).stream_id)
                if exchange is not None:
                    for name, value in cast("h2.events.TrailersReceived", event).headers:
                        exchange.raw_fields += (bytes(name), bytes(value))
            elif kind is h2.events.StreamReset:
                exchange = self.streams.pop(cast("h2.events.StreamReset", event).stream_id, None)
                if exchange is not None:
                    self.gone(exchange)
            elif kind is h2.events.ConnectionTerminated:
                self.close()
                return
        self.wrote()

    def _request(self, event: h2.events.RequestReceived) -> None:
        stream_id = event.stream_id
        if self.goaway_last is not None and stream_id > self.goaway_last:
            # Opened after a graceful GOAWAY: not processed, the client may retry it (§6.8).
            self._reset(stream_id, REFUSED_STREAM)
            return
        if len(self.streams) >= self.limits.max_concurrent_streams:
            self._reset(stream_id, REFUSED_STREAM)  # (over the limit: not processed, §5.1.2)
            return
        exchange = H2Exchange(self, stream_id)
        headers = event.headers or ()
        read_head(exchange, headers)
        problem = malformed(headers, exchange.raw_fields)
        if problem is not None:  # a stream error, recorded (RFC 9113 §8.1.1)
            exchange.number = self.site.record(refused(self, exchange, f"malformed: {problem}"))
            self._reset(stream_id, PROTOCOL_ERROR)
            return
        self.streams[stream_id] = exchange
        length = exchange.content_length
        if length is not None and length.isdigit() and int(length) > self.limits.max_body_size:
            self.refuse(exchange, 413, _too_large(self.limits, f" ({int(length)} bytes)"))
            return
        if event.stream_ended is None:  # (a body follows)
            expect = exchange.header(b"expect")
            if expect is not None and expect.lower() == b"100-continue":
                self.h2.send_headers(stream_id, [(b":status", b"100")])  # RFC 9110 §10.1.1
            if self.router.streams_body(exchange.target):
                self._dispatch(exchange)

    def _data(self, event: h2.events.DataReceived) -> None:
        stream_id = event.stream_id
        # Every byte is taken as it comes (a host reads a streamed body from memory): the
        # windows are opened at once, so a large upload is never stalled (RFC 9113 §5.2).
        if not self.windows_closed:
            self.h2.acknowledge_received_data(event.flow_controlled_length, stream_id)
        exchange = self.streams.get(stream_id)
        if exchange is None or exchange.refused is not None or event.data is None:
            return
        body = bytes(event.data)
        exchange.body_size += len(body)
        if exchange.body_size > self.limits.max_body_size:
            self.refuse(exchange, 413, _too_large(self.limits, ""))
            return
        exchange.body_parts.append(body)
        if exchange.body_listener is not None:
            exchange.body_listener(body)

    def _complete(self, exchange: H2Exchange) -> None:
        """The request is whole: journal it (packed, as HTTP/1.1 does), then dispatch it."""
        exchange.complete = True
        if exchange.refused is not None:
            self.forget_if_done(exchange)
            return
        packed = exchange.packed = pack(self, exchange)
        exchange.number = self.site.record(packed)
        if exchange.head_sent:  # (a streaming host answered before the request was complete)
            exchange.record_answer(exchange.sent)
        if exchange.body_listener is not None:
            exchange.body_listener(None)
            exchange.body_listener = None
        if not exchange.dispatched:
            self._dispatch(exchange)
        self.forget_if_done(exchange)

    def _dispatch(self, exchange: H2Exchange) -> None:
        exchange.dispatched = True
        site, router = self.site, self.router
        try:
            direct = router.direct
            if direct is not None:
                direct.dispatch(site, exchange)  # (nothing routes: past router.dispatch)
            else:
                router.dispatch(site, exchange)
        except Exception as error:  # noqa: BLE001 - a host's bug: a 500, and check() raises it
            site.host_failed(exchange, error)

    def send_headers(
        self, exchange: H2Exchange, headers: list[tuple[bytes, bytes]], *, end_stream: bool
    ) -> None:
        try:
            self.h2.send_headers(exchange.stream_id, headers, end_stream=end_stream)
        except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError):
            self.gone(exchange)  # (reset by the client, or the connection is closing)
            return
        self.wrote()

    def _send_all_pending(self) -> None:
        for exchange in list(self.streams.values()):
            if exchange.pending or exchange.ending:
                exchange.flow()

    def reset_stream(self, exchange: H2Exchange, error_code: int) -> None:
        """End ``exchange``'s stream with RST_STREAM ``error_code`` (RFC 9113 §6.4)."""
        exchange.pending.clear()
        exchange.ending = False
        self.streams.pop(exchange.stream_id, None)
        self._reset(exchange.stream_id, error_code)
        self.gone(exchange)

    def _reset(self, stream_id: int, error_code: int) -> None:
        try:
            self.h2.reset_stream(stream_id, error_code)
        except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError):
            return
        self.wrote()

    def gone(self, exchange: H2Exchange) -> None:
        """The stream ended without (all of) its response: wake whoever waits on it."""
        exchange.pending.clear()
        exchange.ending = False
        exchange.finished = True
        if exchange.body_listener is not None and not exchange.complete:
            listener, exchange.body_listener = exchange.body_listener, None
            listener(None)
        exchange.notify_done()
        drained = exchange.drained
        if drained is not None and not drained.done():
            drained.set_result(None)
        self.streams.pop(exchange.stream_id, None)
        self._maybe_close()

    def forget_if_done(self, exchange: H2Exchange) -> None:
        if exchange.complete and exchange.finished and not exchange.ending:
            self.streams.pop(exchange.stream_id, None)
            self._maybe_close()

    async def drain(self, exchange: H2Exchange) -> None:
        """Wait until ``exchange``'s body is handed to h2 (its window: only this stream stalls)."""
        self.flush()
        if exchange.pending and self.transport is not None and not exchange.finished:
            drained = exchange.drained
            if drained is None or drained.done():
                drained = exchange.drained = self.loop.create_future()
            await drained
        writable = self.writable
        if writable is not None and not writable.done():
            await writable

    def shutdown(self) -> None:
        """On stop: a graceful GOAWAY (RFC 9113 §6.8) after the last stream received; from
        now on a stream whose client stopped opening its window is cut off (``watch_stalls``)."""
        self.goaway(self.h2.highest_inbound_stream_id)
        if self.transport is not None and self.stall_timer is None:
            self.watch_stalls()

    def hand_over(self) -> asyncio.Future[None] | None:
        """On stop: what h2 holds goes to the transport. The bodies that the client's windows
        still hold back go as it opens them: the future returned (``None``: there are none) is
        done once each is sent or, its client having stopped reading, reset."""
        self.flush()
        if self.transport is None or not any(s.ending for s in self.streams.values()):
            return None
        if self.sent_all is None:
            self.sent_all = self.loop.create_future()
        return self.sent_all

    def goaway(self, last_stream_id: int, error_code: int = NO_ERROR) -> None:
        """A GOAWAY (graceful with NO_ERROR) answering streams up to ``last_stream_id``; later
        ones are refused, and the connection closes once the streams in flight are done."""
        self.closing = True
        if self.transport is None or self.goaway_last is not None:
            return
        self.goaway_last = last_stream_id = max(last_stream_id, 0)
        self.flush()
        # (by hand: h2 sends nothing more once it has sent its own GOAWAY)
        frame = GoAwayFrame(stream_id=0)
        frame.last_stream_id = last_stream_id
        frame.error_code = error_code
        self.transport.write(frame.serialize())
        self._maybe_close()

    def _maybe_close(self) -> None:
        transport = self.transport
        if not self.closing or transport is None:
            return
        self.all_sent()
        if any(not stream.finished or stream.ending for stream in self.streams.values()):
            return  # (a stream being received or answered: after it)
        if self.goaway_last is not None and self.tls is None and transport.can_write_eof():
            # After a graceful GOAWAY: end our side and keep reading until stop() closes, so
            # a frame the client sends meanwhile (a SETTINGS ack, a WINDOW_UPDATE) is read,
            # not answered by the kernel with a reset that would destroy the last response.
            if not self.eof_sent:
                self.flush()
                transport.write_eof()
                self.eof_sent = True
            return
        self.close()

    def close(self, error_code: int = NO_ERROR) -> None:
        """GOAWAY ``error_code`` (unless one was sent) after the last stream received; close."""
        self.closing = True
        if self.goaway_last is None and not self.broken:
            self.goaway_last = self.h2.highest_inbound_stream_id
            try:
                self.h2.close_connection(error_code, last_stream_id=self.goaway_last)
            except h2.exceptions.ProtocolError:
                pass
        self.flush()
        if self.transport is not None:
            close_transport(self.transport)

    def cut(self, exchange: H2Exchange, data: bytes, ending: Ending) -> None:
        """A fault on ``exchange`` (see ``_faults``): its stream, or the connection."""
        apply_h2_fault(exchange, fault_of(exchange.fault, ending), data)

    def abort(self) -> None:
        self.closing = True
        self.forget_output()
        if self.transport is not None:
            self.transport.abort()

    @property
    def busy(self) -> bool:
        """Whether a stream is being answered (stop() waits for it within its timeout)."""
        return any(
            exchange.dispatched and (not exchange.finished or exchange.ending)
            for exchange in self.streams.values()
        )

    @property
    def receiving(self) -> bool:
        """Whether a stream's request is still being received: a graceful GOAWAY
        (:meth:`shutdown`) keeps the connection open until the client has sent it, then
        answers it, so parking a listener counts it as going on (``_parked.quiet``)."""
        return any(not exchange.complete for exchange in self.streams.values())
