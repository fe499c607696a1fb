"""A scripted HTTP/2 client on the h2 library, for tests that need frame-level control."""

from __future__ import annotations

import socket
from typing import Any

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings
from hyperframe.frame import DataFrame, Frame, HeadersFrame, RstStreamFrame

from understudy import HTTPServer

__all__ = ["H2Client", "Reply"]

TIMEOUT = 5.0


class Reply:
    """What came back on one stream."""

    def __init__(self) -> None:
        self.headers: list[tuple[bytes, bytes]] = []
        self.body = b""
        self.trailers: list[tuple[bytes, bytes]] = []
        self.ended = False
        self.reset: int | None = None

    @property
    def status(self) -> int:
        return int(dict(self.headers)[b":status"])


class H2Client:
    """Prior-knowledge h2c over a plain socket; every call reads until what it waits for comes."""

    def __init__(self, server: HTTPServer, **settings: int) -> None:
        self.sock = socket.create_connection((server.host, server.port), timeout=TIMEOUT)
        config = h2.config.H2Configuration(client_side=True, header_encoding=None)
        self.conn = h2.connection.H2Connection(config=config)
        self.conn.initiate_connection()
        if settings:
            self.conn.update_settings(
                {getattr(h2.settings.SettingCodes, k): v for k, v in settings.items()}
            )
        self.authority = f"{server.host}:{server.port}".encode()
        self.replies: dict[int, Reply] = {}
        self.events: list[Any] = []
        self.closed = False
        #: Stream ids whose windows the client opens as it reads (all, unless told).
        self.unread: set[int] = set()
        self.flush()

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> H2Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def flush(self) -> None:
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def send_raw(self, data: bytes) -> None:
        self.flush()
        self.sock.sendall(data)

    def request(
        self,
        method: str = "GET",
        path: str = "/",
        *,
        headers: list[tuple[bytes, bytes]] | None = None,
        body: bytes = b"",
        trailers: list[tuple[bytes, bytes]] | None = None,
    ) -> int:
        stream_id: int = self.conn.get_next_available_stream_id()
        fields = [
            (b":method", method.encode()),
            (b":path", path.encode()),
            (b":scheme", b"http"),
            (b":authority", self.authority),
            *(headers or []),
        ]
        end = not body and not trailers
        self.conn.send_headers(stream_id, fields, end_stream=end)
        if body:
            self.conn.send_data(stream_id, body, end_stream=not trailers)
        if trailers:
            self.conn.send_headers(stream_id, trailers, end_stream=True)
        self.replies[stream_id] = Reply()
        self.flush()
        return stream_id

    def read(self) -> list[Any]:
        """One read's events (``[]`` and ``closed`` once the server closed)."""
        data = self.sock.recv(65536)
        if not data:
            self.closed = True
            return []
        events = self.conn.receive_data(data)
        for event in events:
            self.events.append(event)
            reply = self.replies.get(getattr(event, "stream_id", 0) or 0)
            if isinstance(event, h2.events.ResponseReceived) and reply is not None:
                reply.headers = list(event.headers or [])
            elif isinstance(event, h2.events.DataReceived):
                if reply is not None:
                    reply.body += event.data or b""
                # The connection's window is always opened; a stream's unless left unread.
                if event.flow_controlled_length:
                    self.conn.increment_flow_control_window(event.flow_controlled_length)
                if event.stream_id not in self.unread and event.flow_controlled_length:
                    try:
                        self.conn.increment_flow_control_window(
                            event.flow_controlled_length, stream_id=event.stream_id
                        )
                    except h2.exceptions.StreamClosedError:
                        pass
            elif isinstance(event, h2.events.TrailersReceived) and reply is not None:
                reply.trailers = list(event.headers or [])
            elif isinstance(event, h2.events.StreamEnded) and reply is not None:
                reply.ended = True
            elif isinstance(event, h2.events.StreamReset) and reply is not None:
                reply.reset = event.error_code
        self.flush()
        return events

    def response(self, stream_id: int) -> Reply:
        """Read until the stream ends or is reset (or the connection closes)."""
        reply = self.replies[stream_id]
        while not (reply.ended or reply.reset is not None or self.closed):
            self.read()
        return reply

    def until(self, kind: type) -> Any:
        """Read until an event of ``kind`` comes; return it (``None`` if the server closed)."""
        while True:
            for event in self.events:
                if isinstance(event, kind):
                    self.events.remove(event)
                    return event
            if self.closed:
                return None
            self.read()

    def frames_until_closed(self) -> list[tuple[int, int, Any, set[str]]]:
        """After a GOAWAY (h2's client state machine takes no more): the frames that still
        come, parsed with hyperframe, until the server closes: (type, stream, payload, flags),
        a HEADERS frame's payload its decoded fields, a DATA frame's its bytes, an
        RST_STREAM's its error code."""
        return self.frames_until(None)

    def frames_until(self, last: int | None) -> list[tuple[int, int, Any, set[str]]]:
        """As :meth:`frames_until_closed`, up to the first frame of type ``last``."""
        data = b""
        frames: list[tuple[int, int, Any, set[str]]] = []
        while last is None or not any(frame[0] == last for frame in frames):
            chunk = self.sock.recv(65536)
            if not chunk:
                self.closed = True
                break
            data += chunk
            view = memoryview(data)
            while len(view) >= 9:
                frame, length = Frame.parse_frame_header(view[:9])
                if len(view) < 9 + length:
                    break
                frame.parse_body(view[9 : 9 + length])
                view = view[9 + length :]
                payload: Any = None
                if isinstance(frame, HeadersFrame):
                    payload = self.conn.decoder.decode(bytes(frame.data), raw=True)
                elif isinstance(frame, DataFrame):
                    payload = bytes(frame.data)
                elif isinstance(frame, RstStreamFrame):
                    payload = frame.error_code
                frames.append((frame.type or 0, frame.stream_id, payload, set(frame.flags)))
            data = bytes(view)
        return frames
