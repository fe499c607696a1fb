"""How to read what an HTTPServer journaled: each ``Request``, and the answer it got.

``server.wait_for_requests(...)`` (or ``server.requests``) gives :class:`understudy.Request`
records: what the client sent (method, target and its parts, headers, body), who sent it
(``peer``), when (``received_at``, ``time.time()`` seconds), over what (``http_version``,
``scheme``, ``tls``). ``request.response`` is a :class:`understudy.ResponseRecord`: the status,
reason and headers as sent, and what answered (``answered_by``, ``detail``) or the ``fault``
that failed the request. A request the server refused (malformed, or over a limit) is journaled
too, with ``error`` saying why and ``request_line`` as received.

Reference (built by ``make docs`` into site/; every attribute, with its type): ``Request`` and
``ResponseRecord``: docs/reference/http.md; ``TLSInfo``: docs/reference/tls.md.
"""

from __future__ import annotations

import http.client
import json
import socket
import time

import httpx
import pytest
import requests

import understudy
import understudy.tls
from understudy import Fault


def answered(server: understudy.HTTPServer) -> understudy.Request:
    """The one request the server journaled, once its answer is recorded too."""
    [request] = server.wait_for_requests(1, match=lambda request: request.response is not None)
    return request


def test_a_request_records_what_the_client_sent_who_sent_it_and_when() -> None:
    """method, target, path, query, headers, body, http_version, peer, received_at."""
    with understudy.HTTPServer() as server:
        server.expect("POST", "/orders").respond(201, json={"id": 7})
        client = http.client.HTTPConnection(server.host, server.port, timeout=5)
        client.connect()
        client_address = client.sock.getsockname()
        before = time.time()
        body = json.dumps({"sku": "A-1", "qty": 2})
        client.request("POST", "/orders?dry_run=1&tag=a&tag=b", body, {"X-Trace": "t-1"})
        assert client.getresponse().read() == b'{"id": 7}'
        client.close()
        after = time.time()

    [request] = server.requests
    assert (request.method, request.target) == ("POST", "/orders?dry_run=1&tag=a&tag=b")
    assert request.path == "/orders"
    assert request.query["dry_run"] == "1"
    assert request.query.get_all("tag") == ["a", "b"]  # multi-valued, in order
    assert request.headers["x-trace"] == "t-1"  # names are case-insensitive
    assert request.body == body.encode()
    assert request.json() == {"sku": "A-1", "qty": 2}
    assert request.http_version == "1.1"
    assert request.scheme == "http"
    assert request.tls is None  # plain HTTP
    assert request.peer == client_address  # the client's own (host, port)
    assert before <= request.received_at <= after  # time.time(), float seconds
    assert (request.error, request.request_line) == (None, None)  # well-formed


def test_https_records_the_tls_version_and_the_alpn_protocol() -> None:
    """Over TLS, ``request.tls`` says what was agreed: ALPN picks ``h2`` or ``http/1.1``."""
    context = understudy.tls.client_context()  # trusts the test CA
    with understudy.HTTPServer(tls=True, http_versions=("1.1", "2")) as server:
        server.expect("GET", "/health").respond(body="up")
        with httpx.Client(http2=True, verify=context) as client:
            assert client.get(server.url + "/health").http_version == "HTTP/2"
        with httpx.Client(verify=context) as client:  # HTTP/1.1 only
            assert client.get(server.url + "/health").text == "up"

        over_h2, over_h1 = server.wait_for_requests(2)
    assert over_h2.scheme == "https"
    assert over_h2.http_version == "2"
    assert over_h2.tls is not None
    assert over_h2.tls.alpn_protocol == "h2"  # RFC 7301
    assert over_h2.tls.version in ("TLSv1.2", "TLSv1.3")
    assert over_h2.tls.peer_subject is None  # no client certificate was sent
    assert over_h1.http_version == "1.1"
    assert over_h1.tls is not None
    assert over_h1.tls.alpn_protocol == "http/1.1"


def test_trailer_fields_follow_the_header_fields_and_h2_authority_is_host() -> None:
    """``headers`` holds a chunked body's trailer fields after the header fields; over HTTP/2
    the names are lower-case and ``:authority`` is the ``host`` field."""
    with understudy.HTTPServer(http_versions=("1.1", "2")) as server:
        server.expect("POST", "/upload").respond(204)
        with socket.create_connection(server.address, timeout=5) as client:
            client.sendall(
                b"POST /upload HTTP/1.1\r\nHost: api.test\r\nTransfer-Encoding: chunked\r\n"
                b"Trailer: X-Checksum\r\n\r\n4\r\ndata\r\n0\r\nX-Checksum: abc\r\n\r\n"
            )
            assert client.recv(1024).startswith(b"HTTP/1.1 204 No Content\r\n")
        with httpx.Client(http1=False, http2=True) as h2c:  # h2c by prior knowledge
            assert h2c.post(server.url + "/upload", content=b"data").status_code == 204

        over_h1, over_h2 = server.wait_for_requests(2)
    assert list(over_h1.headers) == ["Host", "Transfer-Encoding", "Trailer", "X-Checksum"]
    assert (over_h1.body, over_h1.headers["x-checksum"]) == (b"data", "abc")
    assert over_h2.headers["host"] == f"{server.host}:{server.port}"  # from :authority
    assert next(iter(over_h2.headers)) == "host"
    assert not any(name.startswith(":") for name in over_h2.headers)
    assert over_h2.url == server.url + "/upload"


def test_the_response_record_says_what_was_sent_and_what_answered() -> None:
    """status_code, reason, headers as sent (the server's own too), answered_by, detail."""
    with understudy.HTTPServer() as server:
        server.expect("GET", "/users").respond(200, json=[])
        server.expect("POST", "/users").respond(201, headers={"Location": "/users/7"})
        requests.get(server.url + "/users", timeout=5)
        requests.post(server.url + "/users", json={"name": "ada"}, timeout=5)

        listed, created = server.wait_for_requests(2, match=lambda r: r.response is not None)
    assert listed.response is not None
    assert (listed.response.status_code, listed.response.reason) == (200, "OK")
    assert listed.response.headers["content-type"] == "application/json"
    assert listed.response.headers["content-length"] == "2"  # added by the server
    assert listed.response.answered_by == "expectation"
    assert listed.response.detail == "#1 expect('GET', '/users')"  # numbered as added
    assert listed.response.fault is None
    assert created.response is not None
    assert (created.response.status_code, created.response.reason) == (201, "Created")
    assert created.response.headers["location"] == "/users/7"
    assert created.response.detail == "#2 expect('POST', '/users')"


def greet(request: understudy.Request) -> str:
    return f"hello, {request.query['name']}"


def test_answered_by_names_a_handler_a_response_or_nothing_at_all() -> None:
    """A handler's answer names the function; ``response=`` has no detail; nothing: unmatched."""
    with understudy.HTTPServer(handler=greet) as server:
        assert requests.get(server.url + "/?name=ada", timeout=5).text == "hello, ada"
        by_handler = answered(server).response
    assert by_handler is not None
    assert by_handler.answered_by == "handler"
    assert by_handler.detail == f"{greet.__module__}.greet"  # its module and name

    with understudy.HTTPServer(response=understudy.Response(204)) as server:
        requests.delete(server.url + "/anything", timeout=5)
        by_response = answered(server).response
    assert by_response is not None
    assert (by_response.answered_by, by_response.detail) == ("response", "")
    assert (by_response.status_code, by_response.reason) == (204, "No Content")

    with understudy.HTTPServer(allow_unmatched=True) as server:
        server.expect("GET", "/users")
        requests.get(server.url + "/user", timeout=5)  # a near miss
        unmatched = answered(server).response
    assert unmatched is not None
    assert (unmatched.answered_by, unmatched.status_code) == ("unmatched", 404)


def test_a_failed_request_records_its_fault_and_no_status() -> None:
    """A request failed with a fault has ``fault`` set and no status, reason or headers."""
    with understudy.HTTPServer() as server:
        server.expect("GET", "/flaky").fault(Fault.CONNECTION_RESET).once().then.respond(200)
        with pytest.raises(requests.ConnectionError):
            requests.get(server.url + "/flaky", timeout=5)
        assert requests.get(server.url + "/flaky", timeout=5).status_code == 200

        reset, ok = server.wait_for_requests(2, match=lambda r: r.response is not None)
    assert reset.response is not None
    assert reset.response.fault == Fault.CONNECTION_RESET
    assert (reset.response.status_code, reset.response.reason) == (None, None)
    assert len(reset.response.headers) == 0  # nothing was sent
    assert reset.response.detail == "#1 expect('GET', '/flaky')"
    assert ok.response is not None
    assert (ok.response.status_code, ok.response.fault) == (200, None)


def test_a_body_over_the_limit_is_refused_and_journaled_with_why() -> None:
    """An over-limit request gets a 4xx; ``error`` says why, ``request_line`` is as received."""
    with understudy.HTTPServer(max_body_size=10) as server:
        reply = requests.post(server.url + "/upload?x=1", data=b"x" * 100, timeout=5)
        assert (reply.status_code, reply.reason) == (413, "Content Too Large")
        request = answered(server)
    # leaving the block raised nothing: a refusal is the server's answer, not a test failure
    assert request.error == "the body (100 bytes) is larger than max_body_size (10 bytes)"
    assert request.request_line == "POST /upload?x=1 HTTP/1.1"
    assert (request.method, request.target) == ("POST", "/upload?x=1")
    assert request.headers["content-length"] == "100"  # the head was read whole
    assert request.body == b""  # the body was not kept
    assert request.response is not None
    assert request.response.answered_by == "refused"
    assert request.response.detail == request.error
    assert request.response.status_code == 413


def test_a_malformed_request_is_refused_with_400_and_journaled_as_received() -> None:
    """A request line that is not HTTP is answered 400 and kept with the line as sent."""
    with understudy.HTTPServer() as server:
        with socket.create_connection(server.address, timeout=5) as client:
            client.sendall(b"GET /a b HTTP/1.1\r\nHost: x\r\n\r\n")  # a space in the target
            assert client.recv(1024).startswith(b"HTTP/1.1 400 Bad Request\r\n")
        request = answered(server)
    assert request.error is not None
    assert request.error.startswith("malformed request: ")  # then the parser's reason
    assert request.request_line == "GET /a b HTTP/1.1"
    assert request.response is not None
    assert (request.response.status_code, request.response.answered_by) == (400, "refused")
