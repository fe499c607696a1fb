"""HTTP/2 (RFC 9113): h2c by preface and ALPN h2, streams, flow control, trailers, limits, stop.

The behaviour every host shares is proven over both versions by the modules that take the
``http`` fixture (tests/versions.py); this module holds what only HTTP/2 has. Clients: httpx
(``http1=False, http2=True`` for h2c), curl, and h2 itself as a scripted client (h2_client.py).
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import threading
from collections.abc import MutableMapping
from typing import Any

import h2.errors
import h2.events
import h2.exceptions
import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from h2_client import H2Client, Reply
from understudy import ConfigurationError, Fault, HTTPServer, Request, Response, tls

BOTH = ("1.1", "2")
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
TIMEOUT = 5.0


def h2c() -> httpx.Client:
    return httpx.Client(http1=False, http2=True, timeout=TIMEOUT)


# -- versions offered ------------------------------------------------------------------------


def test_one_plain_port_serves_prior_knowledge_h2c_and_http11() -> None:
    with HTTPServer(response=Response(200, body="hi"), http_versions=BOTH) as server:
        with h2c() as client:
            two = client.get(server.url + "/two")
        one = httpx.get(server.url + "/one", timeout=TIMEOUT)
    assert (two.http_version, two.status_code, two.text) == ("HTTP/2", 200, "hi")
    assert (one.http_version, one.text) == ("HTTP/1.1", "hi")
    assert [(r.target, r.http_version) for r in server.requests] == [("/two", "2"), ("/one", "1.1")]
    [first, _] = server.requests
    assert first.headers["host"] == f"127.0.0.1:{server.port}"  # (from :authority)
    assert first.response is not None
    assert first.response.status_code == 200
    assert first.response.reason == ""  # HTTP/2 has no reason phrase


def test_alpn_offers_h2_then_http11_over_tls() -> None:
    with HTTPServer(response=Response(200, body="hi"), tls=True, http_versions=BOTH) as server:
        with httpx.Client(http2=True, verify=tls.client_context(), timeout=TIMEOUT) as client:
            two = client.get(server.url + "/")
        with httpx.Client(verify=tls.client_context(), timeout=TIMEOUT) as client:
            one = client.get(server.url + "/")
    assert (two.http_version, one.http_version) == ("HTTP/2", "HTTP/1.1")
    first, second = server.requests
    assert first.http_version == "2"
    assert first.tls is not None
    assert first.tls.alpn_protocol == "h2"
    assert second.tls is not None
    assert second.tls.alpn_protocol == "http/1.1"


def test_http11_only_by_default_so_clients_negotiate_what_they_did() -> None:
    server = HTTPServer(response=Response(200, body="hi"), tls=True)
    client = httpx.Client(http2=True, verify=tls.client_context(), timeout=TIMEOUT)
    with server, client:
        reply = client.get(server.url + "/")
    assert reply.http_version == "HTTP/1.1"
    assert server.requests[0].tls is not None
    assert server.requests[0].tls.alpn_protocol == "http/1.1"


def test_http2_only_answers_an_http11_request_505() -> None:
    with HTTPServer(response=Response(200, body="hi"), http_versions="2") as server:
        one = httpx.get(server.url + "/", timeout=TIMEOUT)
        with h2c() as client:
            two = client.get(server.url + "/")
    assert one.status_code == 505
    assert "HTTP/2 only" in one.text
    assert two.status_code == 200


@pytest.mark.parametrize(
    "options",
    [
        {"http_versions": ()},
        {"http_versions": ("3",)},
        {"http_versions": 2},
        {"max_concurrent_streams": 0},
        {"max_concurrent_streams": True},
    ],
)
def test_bad_version_options_are_configuration_errors(options: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError, match=next(iter(options))):
        HTTPServer(**options)


# -- streams ---------------------------------------------------------------------------------


def test_concurrent_streams_are_dispatched_independently() -> None:
    """A handler waiting on one stream does not hold another on the same connection."""
    released = threading.Event()

    def handler(request: Request) -> str:
        if request.path == "/slow":
            # Answered only once /fast was: would time out if streams were served in turn.
            return "slow" if released.wait(TIMEOUT) else "timed out"
        released.set()
        return "fast"

    async def both(url: str) -> list[str]:
        async with httpx.AsyncClient(http1=False, http2=True, timeout=TIMEOUT) as client:
            slow = asyncio.ensure_future(client.get(url + "/slow"))
            await asyncio.sleep(0)
            fast = await client.get(url + "/fast")
            return [(await slow).text, fast.text]

    with HTTPServer(handler=handler, http_versions=BOTH) as server:
        assert asyncio.run(both(server.url)) == ["slow", "fast"]
    assert len({request.peer for request in server.requests}) == 1  # one connection


def test_a_large_upload_and_a_large_download_complete_with_the_default_window() -> None:
    big = bytes(range(256)) * 12_000  # ~3 MB, many times the 64 KiB window

    def handler(request: Request) -> bytes:
        return request.body[::-1]

    with HTTPServer(handler=handler, http_versions=BOTH) as server, h2c() as client:
        reply = client.post(server.url + "/", content=big)
    assert reply.content == big[::-1]
    assert server.requests[0].body == big


def test_a_client_that_stops_reading_stalls_only_its_stream() -> None:
    server = HTTPServer(http_versions=BOTH)
    server.expect("GET", "/big").respond(200, body=b"x" * 1_000_000)
    server.expect("GET", "/small").respond(200, body="small")
    with server, H2Client(server) as client:
        big = client.request("GET", "/big")
        client.unread.add(big)  # this stream's window is never opened again
        small = client.request("GET", "/small")
        reply = client.response(small)
        assert (reply.status, reply.body) == (200, b"small")
        assert not client.replies[big].ended
        assert len(client.replies[big].body) == 65_535  # the default window, then stalled


def test_max_concurrent_streams_is_announced() -> None:
    with HTTPServer(http_versions=BOTH, max_concurrent_streams=7) as server, H2Client(server) as c:
        event = c.until(h2.events.RemoteSettingsChanged)
    changed = event.changed_settings[h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS]
    assert changed.new_value == 7


def test_request_trailers_are_journaled_and_asgi_response_trailers_sent() -> None:
    async def app(scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise RuntimeError("no lifespan")
        assert "http.response.trailers" in scope["extensions"]
        assert scope["http_version"] == "2"
        await receive()
        await send({"type": "http.response.start", "status": 200, "trailers": True})
        await send({"type": "http.response.body", "body": b"body", "more_body": False})
        await send({"type": "http.response.trailers", "headers": [(b"grpc-status", b"0")]})

    with HTTPServer(asgi=app, http_versions=BOTH) as server, H2Client(server) as client:
        stream = client.request("POST", "/", body=b"up", trailers=[(b"x-checksum", b"abc")])
        reply = client.response(stream)
        [request] = server.wait_for_requests(1, timeout=TIMEOUT)
    assert (reply.status, reply.body, reply.trailers) == (200, b"body", [(b"grpc-status", b"0")])
    assert request.body == b"up"
    assert request.headers["x-checksum"] == "abc"


def test_expect_100_continue_is_answered_whatever_host_answers_the_request() -> None:
    """RFC 9110 §10.1.1: a 100 (Continue) or a final status, at once, not only from hosts that
    read the body as it comes (a canned response reads it whole)."""
    server = HTTPServer(response=Response(200, body="ok"), http_versions=BOTH)
    with server, H2Client(server) as client:
        stream = client.conn.get_next_available_stream_id()
        fields = [(b":method", b"POST"), (b":path", b"/"), (b":scheme", b"http")]
        fields += [(b":authority", client.authority), (b"expect", b"100-continue")]
        client.conn.send_headers(stream, fields)
        client.flush()
        client.replies[stream] = Reply()
        informational = client.until(h2.events.InformationalResponseReceived)
        client.conn.send_data(stream, b"body", end_stream=True)
        client.flush()
        reply = client.response(stream)
    assert (informational.stream_id, dict(informational.headers)[b":status"]) == (stream, b"100")
    assert (reply.status, reply.body) == (200, b"ok")
    assert server.requests[0].body == b"body"


def test_a_stream_reset_by_the_client_leaves_the_others_served() -> None:
    server = HTTPServer(http_versions=BOTH)
    server.expect("GET", "/big").respond(200, body=b"x" * 1_000_000)
    server.expect("GET", "/after").respond(200, body="after")
    with server, H2Client(server) as client:
        big = client.request("GET", "/big")
        client.unread.add(big)
        client.until(h2.events.DataReceived)
        client.conn.reset_stream(big, h2.errors.ErrorCodes.CANCEL)
        reply = client.response(client.request("GET", "/after"))
    assert reply.body == b"after"


# -- limits and bad input --------------------------------------------------------------------


def test_a_protocol_error_gets_goaway_protocol_error_and_the_server_goes_on() -> None:
    with HTTPServer(response=Response(200, body="ok"), http_versions=BOTH) as server:
        with H2Client(server) as client:
            # A DATA frame on stream 0 (RFC 9113 §6.1: a connection error, PROTOCOL_ERROR).
            client.send_raw(b"\x00\x00\x01\x00\x00\x00\x00\x00\x00x")
            goaway = client.until(h2.events.ConnectionTerminated)
        assert goaway.error_code == h2.errors.ErrorCodes.PROTOCOL_ERROR
        with h2c() as again:
            assert again.get(server.url + "/").text == "ok"


def test_a_header_list_over_max_header_size_is_refused_with_goaway() -> None:
    with HTTPServer(
        response=Response(200, body="ok"), http_versions=BOTH, max_header_size=1024
    ) as s:
        with H2Client(s) as client:
            client.request("GET", "/", headers=[(b"x-big", b"v" * 4096)])
            goaway = client.until(h2.events.ConnectionTerminated)
        assert goaway.error_code == h2.errors.ErrorCodes.ENHANCE_YOUR_CALM
        with h2c() as again:  # (and the server goes on)
            assert again.get(s.url + "/").text == "ok"


def test_an_hpack_bomb_is_refused_with_enhance_your_calm() -> None:
    """A 4 KB field put in the HPACK table, then referenced by one byte 40 times (160 KB)."""
    server = HTTPServer(response=Response(200, body="ok"), http_versions=BOTH)
    with server, H2Client(server) as client:
        client.request("GET", "/", headers=[(b"x-bomb", b"b" * 4000)] * 40)
        goaway = client.until(h2.events.ConnectionTerminated)
    assert goaway.error_code == h2.errors.ErrorCodes.ENHANCE_YOUR_CALM
    [journaled] = server.requests  # the connection error, no request
    assert journaled.method == ""
    assert "GOAWAY ENHANCE_YOUR_CALM" in (journaled.error or "")


def test_a_body_over_max_body_size_gets_413_on_its_stream() -> None:
    server = HTTPServer(response=Response(200, body="ok"), http_versions=BOTH, max_body_size=10)
    with server, h2c() as client:
        reply = client.post(server.url + "/", content=b"x" * 100)
    assert reply.status_code == 413
    [request] = server.requests
    assert request.error is not None
    assert "max_body_size" in request.error
    assert request.http_version == "2"


# -- stop --------------------------------------------------------------------------------------


def test_stop_sends_goaway_and_lets_in_flight_streams_finish() -> None:
    goaway_seen = threading.Event()

    def handler(request: Request) -> str:
        return "finished" if goaway_seen.wait(TIMEOUT) else "no goaway"

    server = HTTPServer(handler=handler, http_versions=BOTH)
    server.start()
    with H2Client(server) as client:
        stream = client.request("GET", "/")
        server.wait_for_requests(1, timeout=TIMEOUT)
        # The server has read the client's SETTINGS ack once it answers a PING sent after it.
        client.conn.ping(b"12345678")
        client.flush()
        client.until(h2.events.PingAckReceived)
        stopper = threading.Thread(target=server.stop, kwargs={"timeout": TIMEOUT})
        stopper.start()
        goaway = client.until(h2.events.ConnectionTerminated)
        assert goaway.error_code == h2.errors.ErrorCodes.NO_ERROR
        assert goaway.last_stream_id == stream
        goaway_seen.set()
        frames = client.frames_until_closed()  # (then the server closed the connection)
        stopper.join(TIMEOUT)
    [(_, headers_stream, fields, _), *data] = [
        frame
        for frame in frames
        if frame[0] in (0x0, 0x1)  # DATA, HEADERS
    ]
    assert headers_stream == stream
    assert (b":status", b"200") in fields
    assert {frame[1] for frame in data} == {stream}
    assert b"".join(frame[2] for frame in data) == b"finished"
    assert "END_STREAM" in data[-1][3]
    assert not stopper.is_alive()


# -- curl ------------------------------------------------------------------------------------

CURL = shutil.which("curl")


def _curl_speaks_http2() -> bool:
    if CURL is None:
        return False
    features = subprocess.run([CURL, "--version"], capture_output=True, text=True, check=False)
    return "HTTP2" in features.stdout


needs_curl = pytest.mark.skipif(
    not _curl_speaks_http2(), reason="needs curl built with HTTP/2 (nghttp2)"
)


def curl(*args: str) -> tuple[str, str]:
    """curl's body and the version it spoke (``%{http_version}``)."""
    assert CURL is not None
    done = subprocess.run(
        [CURL, "-sS", "--max-time", "5", "-w", "\n%{http_version}", *args],
        capture_output=True,
        text=True,
        check=True,
    )
    body, _, version = done.stdout.rpartition("\n")
    return body, version


@needs_curl
def test_curl_prior_knowledge() -> None:
    with HTTPServer(response=Response(200, body="hi"), http_versions=BOTH) as server:
        assert curl("--http2-prior-knowledge", server.url + "/") == ("hi", "2")
    assert server.requests[0].http_version == "2"


@needs_curl
def test_curl_http2_over_tls_negotiates_h2() -> None:
    with HTTPServer(response=Response(200, body="hi"), http_versions=BOTH, tls=True) as server:
        assert curl("--http2", "--cacert", tls.ca_bundle(), server.url + "/") == ("hi", "2")


@needs_curl
def test_curl_h2c_upgrade_is_answered_in_http11() -> None:
    """RFC 9113 §3.1 removed the h2c Upgrade: the offer is ignored (RFC 9110 §7.8)."""
    with HTTPServer(response=Response(200, body="hi"), http_versions=BOTH) as server:
        assert curl("--http2", server.url + "/") == ("hi", "1.1")
    assert server.requests[0].headers["upgrade"] == "h2c"


# -- faults ----------------------------------------------------------------------------------

FAILING = [fault for fault in Fault if fault is not Fault.STALL]


@pytest.mark.parametrize("fault", FAILING, ids=[fault.name for fault in FAILING])
def test_every_fault_fails_an_httpx_h2_request_and_is_journaled(fault: Fault) -> None:
    server = HTTPServer(http_versions=BOTH)
    server.expect("GET", "/").fault(fault)
    # (httpcore lets h2's own ProtocolError through when a bad frame comes with the head)
    with server, h2c() as client, pytest.raises((httpx.HTTPError, h2.exceptions.ProtocolError)):
        client.get(server.url + "/").read()
    [request] = server.requests
    assert request.http_version == "2"
    assert request.response is not None
    assert request.response.fault is fault


def test_a_stalled_stream_leaves_the_others_on_its_connection_served() -> None:
    server = HTTPServer(http_versions=BOTH)
    server.expect("GET", "/stall").fault(Fault.STALL)
    server.expect("GET", "/ok").respond(200, body="ok")
    with server, H2Client(server) as client:
        stalled = client.request("GET", "/stall")
        reply = client.response(client.request("GET", "/ok"))
        assert (reply.status, reply.body) == (200, b"ok")
        assert client.replies[stalled].status == 200  # the head came, the body never will
        assert not client.replies[stalled].ended


def test_empty_response_resets_the_stream_and_truncated_body_ends_it_short() -> None:
    server = HTTPServer(http_versions=BOTH)
    server.expect("GET", "/empty").fault(Fault.EMPTY_RESPONSE)
    server.expect("GET", "/short").fault(Fault.TRUNCATED_BODY)
    with server, H2Client(server) as client:
        empty = client.response(client.request("GET", "/empty"))
        short = client.request("GET", "/short")
        # (h2 checks the body against the Content-Length: 1024 declared, 512 came, then the end)
        with pytest.raises(h2.exceptions.InvalidBodyLengthError, match="1024 bytes, received 512"):
            client.response(short)
    assert empty.reset == h2.errors.ErrorCodes.NO_ERROR
    assert empty.headers == []


#: The faults of a body, which a response to HEAD does not have (see understudy.Fault).
BODY_FAULTS = [Fault.TRUNCATED_BODY, Fault.MALFORMED_CHUNK, Fault.MALFORMED_CONTENT_CODING]


@pytest.mark.parametrize("fault", BODY_FAULTS, ids=[fault.name for fault in BODY_FAULTS])
def test_a_body_fault_on_head_fails_the_h2_response_instead_of_ending_it(fault: Fault) -> None:
    # A response to HEAD ends with its head: one ended there would look complete.
    server = HTTPServer(http_versions=BOTH)
    server.expect("HEAD", "/").fault(fault)
    with server, h2c() as client, pytest.raises((httpx.HTTPError, h2.exceptions.ProtocolError)):
        client.head(server.url + "/")
    [request] = server.requests
    assert (request.method, request.response and request.response.fault) == ("HEAD", fault)


def test_a_stall_on_head_sends_the_head_but_never_ends_the_h2_response() -> None:
    server = HTTPServer(http_versions=BOTH)
    server.expect("HEAD", "/stall").fault(Fault.STALL)
    server.expect("GET", "/ok").respond(200, body="ok")
    h2_client = httpx.Client(http1=False, http2=True, timeout=0.3)
    with server, h2_client, H2Client(server) as client:
        stalled = client.request("HEAD", "/stall")
        assert client.response(client.request("GET", "/ok")).body == b"ok"
        assert client.replies[stalled].status == 200
        assert not client.replies[stalled].ended  # (ended, the HEAD response would be complete)
        with pytest.raises(httpx.ReadTimeout):
            h2_client.head(server.url + "/stall")


# -- malformed requests: stream errors -------------------------------------------------------

GOOD = [(b":method", b"GET"), (b":scheme", b"http"), (b":path", b"/"), (b":authority", b"a")]
MALFORMED = {
    "no :path": [GOOD[0], GOOD[1], GOOD[3]],
    "no :method": GOOD[1:],
    "unknown pseudo-header": [*GOOD, (b":colour", b"red")],
    "response pseudo-header": [*GOOD, (b":status", b"200")],
    "pseudo-header after a field": [*GOOD[:3], (b"x", b"1"), GOOD[3]],
    "pseudo-header twice": [*GOOD, GOOD[2]],
    "upper-case name": [*GOOD, (b"X-Up", b"1")],
    "connection-specific field": [*GOOD, (b"connection", b"keep-alive")],
    "te other than trailers": [*GOOD, (b"te", b"gzip")],
    # RFC 9113 §8.2.1: what no field name or value may hold
    "CR LF in a value": [*GOOD, (b"x-a", b"1\r\nx-injected: 2")],
    "NUL in a value": [*GOOD, (b"x-a", b"1\x002")],
    "a value with leading space": [*GOOD, (b"x-a", b" 1")],
    "a space in a name": [*GOOD, (b"x a", b"1")],
    "a colon in a name": [*GOOD, (b"x:a", b"1")],
    "a space in :path": [GOOD[0], GOOD[1], (b":path", b"/a b"), GOOD[3]],
    # §8.5: only CONNECT leaves out :scheme and :path
    "GET with :authority only": [GOOD[0], GOOD[3]],
}


@pytest.mark.parametrize("fields", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_request_resets_its_stream_only_and_is_journaled(
    fields: list[tuple[bytes, bytes]],
) -> None:
    server = HTTPServer(response=Response(200, body="ok"), http_versions=BOTH)
    with server, H2Client(server) as client:
        client.conn.config.validate_outbound_headers = False
        client.conn.config.normalize_outbound_headers = False
        bad = client.conn.get_next_available_stream_id()
        client.conn.send_headers(bad, fields, end_stream=True)
        client.flush()
        reset = client.until(h2.events.StreamReset)
        good = client.response(client.request("GET", "/after"))
    assert (reset.stream_id, reset.error_code) == (bad, h2.errors.ErrorCodes.PROTOCOL_ERROR)
    assert good.body == b"ok"  # the connection goes on
    refused, answered = server.requests
    assert refused.error is not None
    assert refused.error.startswith("malformed: ")
    assert (refused.http_version, answered.target) == ("2", "/after")


@settings(max_examples=60, deadline=None)
@given(garbage=st.binary(min_size=1, max_size=300))
def test_fuzzed_frames_after_the_preface_never_crash_the_server(garbage: bytes) -> None:
    """Any bytes after the preface: a GOAWAY or a close, never an error, and the port serves."""
    with HTTPServer(response=Response(200, body="ok"), http_versions=BOTH) as server:
        with socket.create_connection((server.host, server.port), timeout=TIMEOUT) as sock:
            sock.sendall(PREFACE + garbage)
            sock.shutdown(socket.SHUT_WR)
            while sock.recv(65536):
                pass
        with h2c() as client:
            assert client.get(server.url + "/").text == "ok"
        server.check()  # (nothing raised on the loop: the with block would re-raise it too)


def test_the_http2_faults_reset_or_refuse_one_stream_or_send_goaway() -> None:
    server = HTTPServer(http_versions=BOTH)
    server.expect("GET", "/reset").fault(Fault.STREAM_RESET)
    server.expect("GET", "/refused").fault(Fault.REFUSED_STREAM)
    server.expect("GET", "/ok").respond(200, body="ok")
    server.expect("GET", "/goaway").fault(Fault.GOAWAY)
    codes = h2.errors.ErrorCodes
    with server, H2Client(server) as client:
        reset = client.response(client.request("GET", "/reset"))
        refused = client.response(client.request("GET", "/refused"))
        ok = client.request("GET", "/ok")
        assert client.response(ok).body == b"ok"  # the connection went on
        goaway_stream = client.request("GET", "/goaway")
        goaway = client.until(h2.events.ConnectionTerminated)
    assert (reset.reset, refused.reset) == (codes.INTERNAL_ERROR, codes.REFUSED_STREAM)
    assert (goaway.error_code, goaway.last_stream_id) == (codes.NO_ERROR, goaway_stream - 2)
    faults = [request.response.fault for request in server.requests if request.response]
    assert faults == [Fault.STREAM_RESET, Fault.REFUSED_STREAM, None, Fault.GOAWAY]


def test_a_client_keeps_to_max_concurrent_streams() -> None:
    """httpx queues requests beyond SETTINGS_MAX_CONCURRENT_STREAMS: never more at once."""
    running = 0
    most = 0
    full: asyncio.Event | None = None

    async def handler(request: Request) -> str:
        nonlocal running, most, full
        running += 1
        most = max(most, running)
        if full is None:
            full = asyncio.Event()  # (on the server's loop)
        if running == 3:
            full.set()  # the limit's worth of streams is open: from now on none waits
        await asyncio.wait_for(full.wait(), TIMEOUT)
        running -= 1
        return "ok"

    async def many(url: str) -> list[str]:
        async with httpx.AsyncClient(http1=False, http2=True, timeout=TIMEOUT) as client:
            replies = await asyncio.gather(*(client.get(url) for _ in range(12)))
            return [reply.text for reply in replies]

    with HTTPServer(handler=handler, http_versions=BOTH, max_concurrent_streams=3) as server:
        assert asyncio.run(many(server.url + "/")) == ["ok"] * 12
    assert most == 3  # (the first three wait for one another; a fourth would have come too)
    assert len({request.peer for request in server.requests}) == 1
