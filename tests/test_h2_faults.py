"""HTTP/2 faults a test chooses (:class:`understudy.HTTP2Fault`): RST_STREAM with any error
code, GOAWAY with a last stream id and code (graceful or immediate), a closed flow-control
window; and a stream over SETTINGS_MAX_CONCURRENT_STREAMS refused with REFUSED_STREAM.

Clients: h2 as a scripted client (tests/h2_client.py) for the frames, httpx (HTTP/2 and
HTTP/1.1) and curl for what a real client makes of them.
"""

from __future__ import annotations

import asyncio
import pickle
import shutil
import subprocess

import h2.errors
import h2.events
import h2.exceptions
import h2.settings
import httpx
import pytest
from hyperframe.frame import DataFrame, HeadersFrame, PingFrame

from h2_client import H2Client, Reply
from understudy import ConfigurationError, HTTP2Fault, HTTPServer, Request

BOTH = ("1.1", "2")
TIMEOUT = 5.0
CODES = h2.errors.ErrorCodes


def served(*faults: tuple[str, HTTP2Fault]) -> HTTPServer:
    """A server answering ``/ok`` and ``/open`` (a POST whose body the test sends later), and
    each path with its fault."""
    server = HTTPServer(http_versions=BOTH)
    for path, fault in faults:
        server.expect("GET", path).fault(fault)
    server.expect("GET", "/ok").respond(200, body="ok")
    server.expect("POST", "/open").respond(200, body="done")
    return server


def faults_journaled(server: HTTPServer) -> list[object]:
    return [request.response.fault for request in server.requests if request.response]


# -- the value -------------------------------------------------------------------------------


def test_the_fault_values_compare_read_back_and_pickle() -> None:
    reset = HTTP2Fault.rst_stream("cancel")
    assert reset == HTTP2Fault.rst_stream(0x8) != HTTP2Fault.rst_stream()
    assert (reset.frame, reset.error_code, reset.name) == ("RST_STREAM", 8, "RST_STREAM CANCEL")
    goaway = HTTP2Fault.goaway("ENHANCE_YOUR_CALM", last_stream_id=1, immediate=True)
    assert (goaway.error_code, goaway.last_stream_id, goaway.immediate) == (0xB, 1, True)
    assert repr(goaway) == (
        "understudy.HTTP2Fault.goaway('ENHANCE_YOUR_CALM', last_stream_id=1, immediate=True)"
    )
    window = HTTP2Fault.window(10)
    assert (window.frame, window.window_size, window.name) == (
        "SETTINGS",
        10,
        "SETTINGS_INITIAL_WINDOW_SIZE 10",
    )
    for value in (reset, goaway, window, HTTP2Fault.rst_stream(0xABC)):
        assert pickle.loads(pickle.dumps(value)) == value
    assert len({reset, HTTP2Fault.rst_stream(8), window}) == 2
    with pytest.raises(AttributeError, match="immutable"):
        reset.error_code = 1


@pytest.mark.parametrize(
    "make",
    [
        lambda: HTTP2Fault.rst_stream("NOT_A_CODE"),
        lambda: HTTP2Fault.rst_stream(-1),
        lambda: HTTP2Fault.rst_stream(2**32),
        lambda: HTTP2Fault.goaway(last_stream_id=2**31),
        lambda: HTTP2Fault.window(-1),
        lambda: HTTP2Fault.window(True),
        lambda: HTTP2Fault("PING", 0),
    ],
)
def test_bad_parameters_are_configuration_errors(make: object) -> None:
    with pytest.raises(ConfigurationError, match="HTTP2Fault"):
        make()  # type: ignore[operator]


def test_fault_takes_an_http2_fault_and_says_so_when_given_something_else() -> None:
    with pytest.raises(ConfigurationError, match=r"HTTP2Fault\.rst_stream\('CANCEL'\)"):
        HTTPServer().expect("GET", "/").fault("RST_STREAM")  # type: ignore[arg-type]


# -- RST_STREAM ------------------------------------------------------------------------------


@pytest.mark.parametrize("code", ["CANCEL", "ENHANCE_YOUR_CALM", "REFUSED_STREAM", 0xABC])
def test_rst_stream_resets_one_stream_with_the_code_and_the_connection_goes_on(
    code: str | int,
) -> None:
    fault = HTTP2Fault.rst_stream(code)
    server = served(("/reset", fault))
    with server, H2Client(server) as client:
        reset = client.response(client.request("GET", "/reset"))
        ok = client.response(client.request("GET", "/ok"))
    assert reset.reset == fault.error_code
    assert ok.body == b"ok"
    assert faults_journaled(server) == [fault, None]


def test_a_handler_returns_an_http2_fault() -> None:
    def handler(request: Request) -> HTTP2Fault | str:
        return HTTP2Fault.rst_stream("CANCEL") if request.path == "/reset" else "ok"

    with HTTPServer(handler=handler, http_versions=BOTH) as server, H2Client(server) as client:
        assert client.response(client.request("GET", "/reset")).reset == CODES.CANCEL
        assert client.response(client.request("GET", "/")).body == b"ok"


# -- GOAWAY ----------------------------------------------------------------------------------


def _open_upload(client: H2Client) -> int:
    """A POST whose body is not sent yet: its stream stays open on the server."""
    stream_id: int = client.conn.get_next_available_stream_id()
    client.conn.send_headers(
        stream_id,
        [
            (b":method", b"POST"),
            (b":path", b"/open"),
            (b":scheme", b"http"),
            (b":authority", client.authority),
        ],
    )
    client.flush()
    client.replies[stream_id] = Reply()
    return stream_id


def test_a_graceful_goaway_finishes_the_streams_up_to_its_last_stream_id() -> None:
    fault = HTTP2Fault.goaway("ENHANCE_YOUR_CALM", last_stream_id=1)
    server = served(("/goaway", fault))
    with server, H2Client(server) as client:
        upload = _open_upload(client)
        assert upload == 1
        client.request("GET", "/goaway")
        goaway = client.until(h2.events.ConnectionTerminated)
        assert (goaway.error_code, goaway.last_stream_id) == (CODES.ENHANCE_YOUR_CALM, 1)
        # (h2's client takes no more input after a GOAWAY: the rest goes by hand)
        end = DataFrame(upload, data=b"body")
        end.flags.add("END_STREAM")
        client.sock.sendall(end.serialize())
        frames = client.frames_until_closed()
    bodies = [payload for kind, stream, payload, _ in frames if kind == 0x0 and stream == 1]
    assert b"".join(bodies) == b"done"  # stream 1 was answered, then the connection closed
    assert [request.path for request in server.requests] == ["/goaway", "/open"]
    assert faults_journaled(server) == [fault, None]


def test_an_immediate_goaway_closes_the_connection_with_streams_unanswered() -> None:
    fault = HTTP2Fault.goaway("INTERNAL_ERROR", last_stream_id=5, immediate=True)
    server = served(("/goaway", fault))
    with server, H2Client(server) as client:
        _open_upload(client)
        client.request("GET", "/goaway")
        goaway = client.until(h2.events.ConnectionTerminated)
        assert (goaway.error_code, goaway.last_stream_id) == (CODES.INTERNAL_ERROR, 5)
        try:
            frames = client.frames_until_closed()
        except ConnectionResetError:  # (our SETTINGS ACK came after the close: the kernel's RST)
            frames = []
        assert frames == []  # closed: nothing more, stream 1 unanswered
    assert faults_journaled(server) == [fault]


def test_streams_opened_after_the_goaway_are_refused() -> None:
    server = served(("/goaway", HTTP2Fault.goaway(last_stream_id=1)))
    with server, H2Client(server) as client:
        _open_upload(client)
        client.request("GET", "/goaway")  # stream 3
        client.until(h2.events.ConnectionTerminated)
        late = client.conn.encoder.encode(
            [(b":method", b"GET"), (b":path", b"/ok"), (b":scheme", b"http")]
        )
        headers = HeadersFrame(5, data=late)
        headers.flags.add("END_HEADERS")
        headers.flags.add("END_STREAM")
        client.sock.sendall(headers.serialize() + PingFrame(0, opaque_data=b"understu").serialize())
        frames = client.frames_until(0x6)  # (the PING's ACK: what came before it came)
    resets = [(stream, payload) for kind, stream, payload, _ in frames if kind == 0x3]
    assert resets == [(5, CODES.REFUSED_STREAM)]


# -- flow control ------------------------------------------------------------------------------


def test_a_closed_window_stalls_later_uploads_after_its_size() -> None:
    server = served(("/window", HTTP2Fault.window(10)))
    with server, H2Client(server) as client:
        client.unread = set()
        stalled = client.request("GET", "/window")
        window = h2.settings.SettingCodes.INITIAL_WINDOW_SIZE
        while True:  # (the server's first SETTINGS has the default window: the next one)
            changed = client.until(h2.events.RemoteSettingsChanged).changed_settings
            if window in changed and changed[window].new_value == 10:
                break
        upload = _open_upload(client)
        assert client.conn.local_flow_control_window(upload) == 10
        client.conn.send_data(upload, b"x" * 10)
        client.conn.ping(b"understu")
        client.flush()
        client.until(h2.events.PingAckReceived)
        # The server read the 10 bytes before the PING and opened no window for them.
        assert client.conn.local_flow_control_window(upload) == 0
        assert not [event for event in client.events if isinstance(event, h2.events.WindowUpdated)]
        assert not client.replies[stalled].ended
    [request] = server.requests  # (the upload never completed)
    assert request.response is not None
    assert request.response.fault == HTTP2Fault.window(10)


def test_a_zero_window_stalls_an_httpx_upload_until_its_timeout() -> None:
    async def run(url: str) -> None:
        async with httpx.AsyncClient(http1=False, http2=True, timeout=TIMEOUT) as client:
            stalled = asyncio.ensure_future(client.get(url + "/window"))
            await server.wait_for_requests_async(1)
            # (over the initial window: it stalls even if the SETTINGS come after the body)
            with pytest.raises(httpx.TimeoutException):
                await client.post(url + "/open", content=b"x" * 100_000, timeout=0.5)
            stalled.cancel()

    server = served(("/window", HTTP2Fault.window(0)))
    with server:
        asyncio.run(run(server.url))
    assert [request.path for request in server.requests] == ["/window"]


# -- over the limit of concurrent streams ------------------------------------------------------


def test_a_stream_over_max_concurrent_streams_is_refused_and_the_connection_goes_on() -> None:
    server = HTTPServer(http_versions=BOTH, max_concurrent_streams=1)
    server.expect("POST", "/open").respond(200, body="done")
    server.expect("GET", "/ok").respond(200, body="ok")
    with server, H2Client(server) as client:
        # (sent before the client reads the server's SETTINGS: h2 would keep to the limit)
        upload = _open_upload(client)
        over = client.request("GET", "/ok")
        assert client.response(over).reset == CODES.REFUSED_STREAM
        client.conn.send_data(upload, b"body", end_stream=True)
        client.flush()
        assert client.response(upload).body == b"done"
        assert client.response(client.request("GET", "/ok")).body == b"ok"
    assert [request.path for request in server.requests] == ["/open", "/ok"]


# -- real clients, both versions ---------------------------------------------------------------

FAILING = [
    HTTP2Fault.rst_stream("CANCEL"),
    HTTP2Fault.rst_stream(0xABC),
    HTTP2Fault.goaway(),
    HTTP2Fault.goaway("PROTOCOL_ERROR", last_stream_id=1, immediate=True),
]


@pytest.mark.parametrize("version", ["1.1", "2"])
@pytest.mark.parametrize("fault", FAILING, ids=[fault.name for fault in FAILING])
def test_every_failing_fault_fails_an_httpx_request_on_both_versions(
    fault: HTTP2Fault, version: str
) -> None:
    server = HTTPServer(http_versions=BOTH)
    server.expect("GET", "/").fault(fault)
    client = httpx.Client(http1=version == "1.1", http2=version == "2", timeout=TIMEOUT)
    with server, client, pytest.raises(httpx.HTTPError):
        client.get(server.url + "/")
    [request] = server.requests
    assert request.http_version == version
    assert request.response is not None
    assert request.response.fault == fault


@pytest.mark.parametrize("version", ["1.1", "2"])
def test_a_window_fault_leaves_an_httpx_request_unanswered_on_both_versions(version: str) -> None:
    server = HTTPServer(http_versions=BOTH)
    server.expect("GET", "/").fault(HTTP2Fault.window(0))
    client = httpx.Client(http1=version == "1.1", http2=version == "2", timeout=0.5)
    with server, client, pytest.raises(httpx.ReadTimeout):
        client.get(server.url + "/")
    assert server.requests[0].response.fault == HTTP2Fault.window(0)  # type: ignore[union-attr]


CURL = shutil.which("curl")


@pytest.mark.skipif(CURL is None, reason="needs curl")
def test_curl_reports_the_reset_stream() -> None:
    server = served(("/reset", HTTP2Fault.rst_stream("ENHANCE_YOUR_CALM")))
    with server:
        done = subprocess.run(
            [
                CURL or "curl",
                "-sS",
                "--max-time",
                "5",
                "--http2-prior-knowledge",
                server.url + "/reset",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
    assert done.returncode == 92  # CURLE_HTTP2_STREAM: "stream was not closed cleanly"
    assert "ENHANCE_YOUR_CALM" in done.stderr or "0xb" in done.stderr.lower()


def test_a_response_record_names_the_fault() -> None:
    server = served(("/reset", HTTP2Fault.rst_stream("CANCEL")))
    with server, H2Client(server) as client:
        client.response(client.request("GET", "/reset"))
    record = server.requests[0].response
    assert record is not None
    assert "RST_STREAM CANCEL" in repr(record)
    assert (record.status_code, record.fault) == (None, HTTP2Fault.rst_stream("CANCEL"))
