"""What the server answered each request: ``request.response`` over real clients and sockets."""

from __future__ import annotations

import http.client
import pickle
import socket
import threading
import urllib.request
from collections.abc import Callable, Iterable, MutableMapping
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests

import understudy.tls
from understudy import Fault, HTTPServer, Request, Response, ResponseRecord
from versions import Version


def answered(server: HTTPServer, count: int = 1) -> list[Request]:
    """The first ``count`` requests, once each has its answer recorded."""
    return server.wait_for_requests(
        count, match=lambda request: request.response is not None, timeout=5.0
    )


def test_the_second_request_was_answered_304(tmp_path: Path) -> None:
    (tmp_path / "feed.xml").write_text("<feed/>")
    with HTTPServer(root=tmp_path) as server, requests.Session() as session:
        first = session.get(server.url + "/feed.xml", timeout=5)
        second = session.get(
            server.url + "/feed.xml",
            headers={"If-None-Match": first.headers["ETag"]},
            timeout=5,
        )
        assert second.status_code == 304
        # Once the client has its answer, the journal has it too: no wait needed.
        statuses = [request.response.status_code for request in server.requests if request.response]
        assert statuses == [200, 304]
        record = server.requests[1].response
        assert record is not None
        assert record.reason == "Not Modified"
        assert record.answered_by == "directory"
        assert record.detail == str((tmp_path / "feed.xml").resolve())
        assert record.headers["ETag"] == first.headers["ETag"]
        assert "content-length" not in record.headers  # (RFC 9110 §15.4.5: none on a 304)


def test_no_request_fell_through(http: Version) -> None:
    server = http.server(unmatched_status=418)
    server.expect("GET", "/users").respond(200, json=[])
    with server:
        assert http.get(server.url + "/users").status_code == 200
        assert http.get(server.url + "/groups").status_code == 418
        users, groups = server.requests
        assert users.response is not None
        assert users.response.answered_by == "expectation"
        assert users.response.detail == "#1 expect('GET', '/users')"
        assert users.response.headers["content-type"] == "application/json"
        assert groups.response is not None
        assert (groups.response.status_code, groups.response.answered_by) == (418, "unmatched")
        fell_through = [r for r in server.requests if r.response.answered_by == "unmatched"]  # type: ignore[union-attr]
        assert fell_through == [groups]
        server.clear()  # (the near-miss is this test's point, not a failure)
        server._take_failures()


def test_a_handlers_answer() -> None:
    def handler(request: Request) -> Response:
        return Response(201, body="made", headers=[("Location", "/things/1"), ("X-Two", "a")])

    with HTTPServer(handler=handler) as server:
        with urllib.request.urlopen(server.url + "/things", data=b"x", timeout=5) as reply:
            assert reply.status == 201
        [request] = server.requests
        record = request.response
        assert isinstance(record, ResponseRecord)
        assert (record.status_code, record.reason) == (201, "Created")
        assert record.headers["location"] == "/things/1"
        assert record.headers["content-length"] == "4"
        assert "date" in record.headers
        assert record.answered_by == "handler"
        assert record.detail.endswith("handler")
        assert record.fault is None


def wsgi_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("202 Accepted Later", [("Content-Type", "text/plain"), ("X-App", "wsgi")])
    return [b"queued"]


async def asgi_app(scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await send(
        {
            "type": "http.response.start",
            "status": 409,
            "headers": [(b"content-type", b"application/json"), (b"x-app", b"asgi")],
        }
    )
    await send({"type": "http.response.body", "body": b'{"error": "conflict"}'})


def test_a_wsgi_apps_status_and_headers() -> None:
    with HTTPServer(wsgi=wsgi_app) as server:
        reply = requests.get(server.url + "/jobs", timeout=5)
        assert reply.status_code == 202
        [request] = server.requests
        record = request.response
        assert record is not None
        assert (record.status_code, record.reason) == (202, "Accepted Later")
        assert record.headers["x-app"] == "wsgi"
        assert record.answered_by == "wsgi"
        assert record.detail.endswith("wsgi_app")


def test_an_asgi_apps_status_and_headers() -> None:
    with HTTPServer(asgi=asgi_app) as server:
        connection = http.client.HTTPConnection(server.host, server.port, timeout=5)
        try:
            for _ in range(2):  # the second is answered from the memo of heads
                connection.request("PUT", "/jobs/1", body=b"{}")
                reply = connection.getresponse()
                reply.read()
                assert reply.status == 409
        finally:
            connection.close()
        for request in server.requests:
            record = request.response
            assert record is not None
            assert (record.status_code, record.reason) == (409, "Conflict")
            assert record.headers.get_all("x-app") == ["asgi"]
            assert record.headers["content-length"] == "21"
            assert (record.answered_by, record.detail.rsplit(".", 1)[-1]) == ("asgi", "asgi_app")


def test_a_malformed_request_is_answered_400() -> None:
    with HTTPServer(response=Response(200)) as server:
        with socket.create_connection((server.host, server.port), timeout=5) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n")
            reply = b""
            while chunk := sock.recv(4096):
                reply += chunk
        assert reply.startswith(b"HTTP/1.1 400 ")
        [request] = server.requests
        assert request.error is not None
        record = request.response
        assert record is not None
        assert (record.status_code, record.answered_by) == (400, "refused")
        assert record.detail == request.error
        assert record.headers["connection"] == "close"


def test_a_body_over_the_limit_is_answered_413(http: Version) -> None:
    with http.server(response=Response(200), max_body_size=10) as server:
        reply = http.post(server.url, content=b"x" * 100)
        assert reply.status_code == 413
        [request] = answered(server)
        assert request.response is not None
        assert (request.response.status_code, request.response.answered_by) == (413, "refused")


def test_a_fault_is_recorded_instead_of_a_status() -> None:
    with HTTPServer() as server:
        server.expect("GET", "/flaky").fault(Fault.CONNECTION_RESET).then.respond(200)
        with pytest.raises(requests.ConnectionError):
            requests.get(server.url + "/flaky", timeout=5)
        assert requests.get(server.url + "/flaky", timeout=5).status_code == 200
        failed, retried = answered(server, 2)
        assert failed.response is not None
        assert failed.response.fault is Fault.CONNECTION_RESET
        assert (failed.response.status_code, failed.response.reason) == (None, None)
        assert len(failed.response.headers) == 0
        assert failed.response.answered_by == "expectation"
        assert retried.response is not None
        assert (retried.response.status_code, retried.response.fault) == (200, None)


def test_a_fault_returned_by_a_handler() -> None:
    with HTTPServer(handler=lambda request: Fault.EMPTY_RESPONSE) as server:
        connection = http.client.HTTPConnection(server.host, server.port, timeout=5)
        try:
            connection.request("GET", "/")
            with pytest.raises(http.client.RemoteDisconnected):
                connection.getresponse()
        finally:
            connection.close()
        [request] = answered(server)
        assert request.response is not None
        assert request.response.fault is Fault.EMPTY_RESPONSE
        assert request.response.answered_by == "handler"


def test_https(http: Version) -> None:
    with http.server(tls=True, response=Response(204)) as server:
        reply = http.get(server.url + "/ping", verify=understudy.tls.client_context())
        assert reply.status_code == 204
        [request] = server.requests
        assert request.tls is not None
        assert request.response is not None
        assert (request.response.status_code, request.response.answered_by) == (204, "response")


def test_a_request_is_journaled_before_it_is_answered() -> None:
    """A wait for requests wakes when one arrives; its answer comes into the same entry."""
    release = threading.Event()

    def handler(request: Request) -> str:
        assert release.wait(5.0)
        return "late"

    with HTTPServer(handler=handler) as server:
        result: list[int] = []
        client = threading.Thread(
            target=lambda: result.append(httpx.get(server.url, timeout=5).status_code)
        )
        client.start()
        try:
            [early] = server.wait_for_requests(1)
            assert early.response is None
        finally:
            release.set()
            client.join(5.0)
        assert result == [200]
        [request] = server.requests
        assert request.response is not None
        assert request.response.status_code == 200
        assert early.response is None  # a Request read earlier is a snapshot


def test_a_mapping_names_itself(http: Version, tmp_path: Path) -> None:
    mapping = (
        '{"id": "8c5db8b0-2db4-4ad7-a99f-38c9b00da3f7", "name": "teapot",'
        ' "request": {"method": "GET", "url": "/tea"}, "response": {"status": 418}}'
    )
    (tmp_path / "tea.json").write_text(mapping)
    with http.server(mappings=tmp_path / "tea.json") as server:
        assert http.get(server.url + "/tea", timeout=5).status_code == 418
        [request] = server.requests
        assert request.response is not None
        assert request.response.answered_by == "mapping"
        assert "teapot" in request.response.detail
        assert "8c5db8b0-2db4-4ad7-a99f-38c9b00da3f7" in request.response.detail


def test_the_proxy_says_so(http: Version) -> None:
    upstream = http.server(response=Response(200, body="upstream"))
    with upstream, http.server(proxy_to=upstream.url) as proxy:
        assert http.get(proxy.url + "/x", timeout=5).text == "upstream"
        [request] = proxy.requests
        assert request.response is not None
        assert request.response.answered_by == "proxy"
        assert request.response.detail == upstream.url


def test_a_record_pickles_and_compares(http: Version) -> None:
    with http.server(response=Response(200, body="hi")) as server:
        http.get(server.url, timeout=5)
        [request] = server.requests
    copy = pickle.loads(pickle.dumps(request))
    assert copy.response == request.response
    assert copy.response is not None
    assert copy.response.headers["content-length"] == "2"
    with pytest.raises(AttributeError):
        copy.response.status_code = 500
    assert "200" in repr(request.response)


def test_an_expectations_record_pickles_before_it_was_read(http: Version) -> None:
    """The journal keeps the expectation that answered, and makes the detail when the record
    is read: a request pickled unread carries the text, not the expectation (and its lock)."""
    with http.server() as server:
        server.expect("GET", "/users").respond(200)
        http.get(server.url + "/users", timeout=5)
        [request] = server.wait_for_requests(match=lambda r: r.response is not None)
        copy = pickle.loads(pickle.dumps(server.requests[0]))
    assert copy.response is not None
    assert copy.response.answered_by == "expectation"
    assert copy.response.detail == "#1 expect('GET', '/users')"
    assert copy.response == request.response
