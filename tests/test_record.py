"""Proxy to an upstream, record WireMock mappings, replay them with the upstream stopped."""

from __future__ import annotations

import http.client
import json
import os
import socket
from pathlib import Path

import pytest
import requests

import understudy
from versions import Version

LARGE = bytes(range(256)) * 20  # 5 KiB, not UTF-8: goes to __files


def _upstream() -> understudy.HTTPServer:
    upstream = understudy.HTTPServer()
    upstream.expect("GET", "/text").respond(
        200, body=b"plain text", headers={"Content-Type": "text/plain", "X-Up": "1"}
    )
    upstream.expect("GET", "/json", query={"page": "2"}).respond(
        200, json={"page": 2, "items": ["a", "b"]}
    )
    upstream.expect("POST", "/echo").respond_with(
        lambda request: understudy.Response(201, body=b"got " + request.body, reason="Made")
    )
    upstream.expect("GET", "/large").respond(
        200, body=LARGE, headers=[("Content-Type", "image/png"), ("Set-Cookie", "a=1")]
    )
    upstream.expect("GET", "/binary").respond(200, body=b"\xff\x00\xfe")
    upstream.expect("GET", "/missing").respond(404, body=b"not here")
    return upstream


def _fetch(base: str, method: str, target: str, body: bytes | None = None) -> tuple[object, ...]:
    """Status, reason, the fields other than Date, and the body, as http.client sees them."""
    host, port = base.removeprefix("http://").rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        connection.request(method, target, body=body)
        answer = connection.getresponse()
        content = answer.read()
    finally:
        connection.close()
    fields = [(k, v) for k, v in answer.getheaders() if k.lower() != "date"]
    return answer.status, answer.reason, fields, content


SESSION = [
    ("GET", "/text", None),
    ("GET", "/json?page=2", None),
    ("POST", "/echo", b"hello"),
    ("GET", "/large", None),
    ("GET", "/binary", None),
    ("GET", "/missing", None),
]


def test_record_then_replay_offline_is_byte_identical(tmp_path: Path) -> None:
    recorded = {}
    with (
        _upstream() as upstream,
        understudy.HTTPServer(proxy_to=upstream.url, record=tmp_path) as proxy,
    ):
        for method, target, body in SESSION:
            recorded[(method, target)] = _fetch(proxy.url, method, target, body)
        # the same request again writes no second mapping
        _fetch(proxy.url, "GET", "/text")
        upstream_requests = upstream.wait_for_requests(len(SESSION) + 1)
    assert recorded[("POST", "/echo")][:2] == (201, "Made")
    assert recorded[("GET", "/large")][3] == LARGE
    assert upstream_requests[0].headers["Host"] == upstream.url.removeprefix("http://")

    files = sorted(os.listdir(tmp_path / "mappings"))
    assert len(files) == len(SESSION)
    assert len(os.listdir(tmp_path / "__files")) == 1  # only the large body

    # the upstream is stopped: the replay answers alone
    with understudy.HTTPServer(mappings=tmp_path) as replay:
        for method, target, body in SESSION:
            assert _fetch(replay.url, method, target, body) == recorded[(method, target)]


def test_record_and_replay_over_either_version(tmp_path: Path, http: Version) -> None:
    """The proxy relays (and records) a stream as it does an HTTP/1.1 request; the replay
    answers over the same version what the upstream answered."""
    seen = {}
    with _upstream() as upstream, http.server(proxy_to=upstream.url, record=tmp_path) as proxy:
        for method, target, body in SESSION:
            reply = http.request(method, proxy.url + target, content=body)
            seen[target] = (reply.status_code, reply.headers.get("content-type"), reply.content)
        [request] = proxy.wait_for_requests(1, match=lambda r: r.path == "/echo")
    assert request.http_version == http.name
    assert seen["/large"][2] == LARGE
    with http.server(mappings=tmp_path) as replay:
        for method, target, body in SESSION:
            reply = http.request(method, replay.url + target, content=body)
            assert (reply.status_code, reply.headers.get("content-type"), reply.content) == (
                seen[target]
            )


def test_recorded_mapping_shape(tmp_path: Path) -> None:
    with (
        _upstream() as upstream,
        understudy.HTTPServer(proxy_to=upstream.url, record=tmp_path) as proxy,
    ):
        _fetch(proxy.url, "POST", "/echo", b"hello")
    [file] = (tmp_path / "mappings").iterdir()
    mapping = json.loads(file.read_text())
    assert mapping["request"] == {
        "method": "POST",
        "url": "/echo",
        "bodyPatterns": [{"equalTo": "hello"}],
    }
    response = mapping["response"]
    assert (response["status"], response["statusMessage"], response["body"]) == (
        201,
        "Made",
        "got hello",
    )
    # framing and Date are the replaying server's own
    assert {name.lower() for name in response.get("headers", {})} <= {"content-type"}


def test_replay_does_not_answer_a_request_it_did_not_record(tmp_path: Path) -> None:
    with (
        _upstream() as upstream,
        understudy.HTTPServer(proxy_to=upstream.url, record=tmp_path) as proxy,
    ):
        _fetch(proxy.url, "POST", "/echo", b"hello")
    with understudy.HTTPServer(mappings=tmp_path) as replay:
        assert _fetch(replay.url, "POST", "/echo", b"other")[0] == 404
        with pytest.raises(understudy.UnexpectedRequest, match="body: expected"):
            replay.check()


def test_proxy_without_record_and_an_unreachable_upstream() -> None:
    with understudy.HTTPServer() as gone:
        url = gone.url
    with understudy.HTTPServer(proxy_to=url) as proxy:
        answer = requests.get(proxy.url + "/x", timeout=5)
    assert answer.status_code == 502
    assert "could not get an answer from proxy to" in answer.text


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"record": "somewhere"}, "give proxy_to= too"),
        ({"proxy_to": "ftp://x"}, "upstream URL such as"),
        ({"proxy_to": "http://x", "response": understudy.Response()}, "without response="),
    ],
)
def test_proxy_configuration_errors(options: dict[str, object], message: str) -> None:
    with pytest.raises(understudy.ConfigurationError, match=message):
        understudy.HTTPServer(**options)  # type: ignore[arg-type]


def test_control_characters_from_the_upstream_are_relayed_as_spaces_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """RFC 9110 §5.5: a recipient relaying a field value with NUL in it replaces it with SP."""

    def upstream_handler(connection: understudy.StreamConnection) -> None:
        while connection.readline(timeout=5) not in (b"\r\n", b""):
            pass
        connection.sendall(
            b"HTTP/1.1 200 O\x7fK\r\nX-Nul: a\x00b\r\nX-Del: c\x7fd\r\nX-Fine: e\tf\r\n"
            b"Content-Length: 2\r\nConnection: close\r\n\r\nhi"
        )

    with (
        understudy.TCPServer(handler=upstream_handler) as upstream,
        understudy.HTTPServer(proxy_to=f"http://127.0.0.1:{upstream.port}") as proxy,
        socket.create_connection(proxy.address, timeout=5) as sock,
    ):
        sock.sendall(b"GET /relay HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 O K\r\n")
    assert b"\r\nX-Nul: a b\r\n" in head
    assert b"\r\nX-Del: c d\r\n" in head
    assert b"\r\nX-Fine: e\tf\r\n" in head
    assert b"\x00" not in head
    assert body == b"hi"
    [warning] = [r for r in caplog.records if r.name == "understudy.proxy"]
    assert "GET /relay" in warning.getMessage()
    assert "field X-Nul: 'a\\x00b' relayed as 'a b'" in warning.getMessage()


def _raw_upstream(answer: bytes) -> understudy.TCPServer:
    """An upstream that reads a request head and sends ``answer`` as it is, then closes."""

    def handler(connection: understudy.StreamConnection) -> None:
        while connection.readline(timeout=5) not in (b"\r\n", b""):
            pass
        connection.sendall(answer)

    return understudy.TCPServer(handler=handler)


def test_a_folded_upstream_field_is_unfolded_recorded_and_replays(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """RFC 9112 §5.2: a proxy may replace each obs-fold with SP; the mapping then loads."""
    answer = (
        b"HTTP/1.1 200 OK\r\nX-Fold: a\r\n b\r\nX-Tab: c\r\n\td\r\nContent-Length: 2\r\n"
        b"Connection: close\r\n\r\nhi"
    )
    with (
        _raw_upstream(answer) as upstream,
        understudy.HTTPServer(
            proxy_to=f"http://127.0.0.1:{upstream.port}", record=tmp_path
        ) as proxy,
    ):
        relayed = requests.get(proxy.url + "/fold", timeout=5)
    assert relayed.status_code == 200
    assert (relayed.headers["X-Fold"], relayed.headers["X-Tab"]) == ("a b", "c d")
    [warning] = [r for r in caplog.records if r.name == "understudy.proxy"]
    assert "field X-Fold: folded 'a\\r\\n b' unfolded (RFC 9112 §5.2)" in warning.getMessage()
    with understudy.HTTPServer(mappings=tmp_path) as replay:
        replayed = requests.get(replay.url + "/fold", timeout=5)
    assert (replayed.status_code, replayed.headers["X-Fold"], replayed.text) == (200, "a b", "hi")


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        (b"HTTP/1.1 999 Odd\r\nContent-Length: 2\r\n\r\nhi", "status_code must be an int from 100"),
        (b"HTTP/1.1 200 OK\r\nX(Y: x\r\nContent-Length: 2\r\n\r\nhi", "X(Y"),
    ],
)
def test_an_answer_that_cannot_be_relayed_gets_502_and_is_not_recorded(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, answer: bytes, problem: str
) -> None:
    """RFC 9110 §15.6.3: an invalid response from the upstream is a 502, and a recorded
    directory always loads: the exchange is left out of it, and the log says so."""
    with (
        _raw_upstream(answer) as upstream,
        understudy.HTTPServer(
            proxy_to=f"http://127.0.0.1:{upstream.port}", record=tmp_path
        ) as proxy,
    ):
        relayed = requests.get(proxy.url + "/odd", timeout=5)
        good = requests.get(proxy.url + "/odd", timeout=5)  # the same answer again: no mapping
        proxy.check()  # the upstream's fault, answered: nothing for the test to raise
    assert (relayed.status_code, good.status_code) == (502, 502)
    assert "cannot be relayed (not recorded)" in relayed.text
    assert problem in relayed.text
    [warning, *_] = [r for r in caplog.records if r.name == "understudy.proxy"]
    assert "GET /odd" in warning.getMessage()
    assert "not recorded" in warning.getMessage()
    assert not (tmp_path / "mappings").exists() or not list((tmp_path / "mappings").iterdir())
    with understudy.HTTPServer(mappings=tmp_path, allow_unmatched=True) as replay:
        assert requests.get(replay.url + "/odd", timeout=5).status_code == 404
