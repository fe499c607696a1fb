"""HTTP expectations over real sockets: matching, answers, sequences, order, precedence, reports."""

from __future__ import annotations

import asyncio
import http.client
import json
import pathlib
import re
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
import pytest
import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from understudy import (
    ConfigurationError,
    Expectation,
    ExpectationExceeded,
    HTTPServer,
    Request,
    Response,
    Subset,
    UnexpectedRequest,
    UnmetExpectation,
)
from versions import Version

# -- clients ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """One request, as any of the clients sends it."""

    method: str = "GET"
    target: str = "/"
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None


Reply = tuple[int, bytes]
Send = Callable[[str, Call], Reply]


def with_urllib(url: str, call: Call) -> Reply:
    request = urllib.request.Request(
        url + call.target, data=call.body, headers=call.headers, method=call.method
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as reply:
            return reply.status, reply.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read()


def with_requests(url: str, call: Call) -> Reply:
    reply = requests.request(
        call.method, url + call.target, headers=call.headers, data=call.body, timeout=5
    )
    return reply.status_code, reply.content


def with_httpx(url: str, call: Call) -> Reply:
    reply = httpx.request(
        call.method, url + call.target, headers=call.headers, content=call.body, timeout=5
    )
    return reply.status_code, reply.content


def with_h2c(url: str, call: Call) -> Reply:
    """httpx over HTTP/2 (prior-knowledge h2c): the server must offer HTTP/2 (BOTH)."""
    with httpx.Client(http1=False, http2=True, timeout=5) as client:
        reply = client.request(
            call.method, url + call.target, headers=call.headers, content=call.body
        )
    assert reply.http_version == "HTTP/2"
    return reply.status_code, reply.content


CLIENTS: dict[str, Send] = {
    "urllib": with_urllib,
    "requests": with_requests,
    "httpx": with_httpx,
    "httpx-h2c": with_h2c,
}
#: The versions a server offers in the tests that run with every client.
BOTH = ("1.1", "2")


@pytest.fixture(params=sorted(CLIENTS))
def send(request: pytest.FixtureRequest) -> Send:
    client: Send = CLIENTS[request.param]
    return client


def get(url: str) -> Reply:
    return with_urllib(url, Call(target=""))


def exact_request(
    server: HTTPServer, method: str, target: str, headers: list[tuple[str, str]], body: bytes = b""
) -> Reply:
    """Send exactly these header fields (http.client adds none), for reports asserted exactly."""
    conn = http.client.HTTPConnection(server.host, server.port, timeout=5)
    try:
        conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        for name, value in headers:
            conn.putheader(name, value)
        if body:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body or None)
        reply = conn.getresponse()
        return reply.status, reply.read()
    finally:
        conn.close()


@pytest.fixture
def server() -> Iterator[HTTPServer]:
    """A started server with nothing hosted; stopped and checked after the test."""
    with HTTPServer(http_versions=BOTH) as started:
        yield started


# -- matching on each field, over the wire -----------------------------------------------------

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
JSON = {"Content-Type": "application/json"}

FIELD_CASES = [
    pytest.param({"method": "PUT"}, Call("PUT", "/x"), Call("GET", "/x"), id="method"),
    pytest.param({"method": "delete"}, Call("DELETE", "/x"), Call("POST", "/x"), id="method-case"),
    pytest.param(
        {"method": "M-SEARCH"}, Call("M-SEARCH", "/x"), Call("SEARCH", "/x"), id="method-token"
    ),
    pytest.param({"path": "/a/b"}, Call(target="/a/b"), Call(target="/a/b/"), id="path"),
    pytest.param({"path": "/a/b"}, Call(target="/a/b?x=1"), Call(target="/a"), id="path-no-query"),
    pytest.param({"path": "/a b"}, Call(target="/a%20b"), Call(target="/a+b"), id="path-decoded"),
    pytest.param(
        {"path": re.compile(r"/users/\d+")},
        Call(target="/users/42"),
        Call(target="/users/42/posts"),
        id="path-pattern-whole",
    ),
    pytest.param(
        {"path": lambda path: path.endswith(".json")},
        Call(target="/feed.json"),
        Call(target="/feed.xml"),
        id="path-predicate",
    ),
    pytest.param(
        {"query": {"q": "x y"}}, Call(target="/s?q=x+y"), Call(target="/s?q=x"), id="query"
    ),
    pytest.param(
        {"query": {"tag": "b"}},
        Call(target="/s?tag=a&tag=b"),
        Call(target="/s?tag=a&tags=b"),
        id="query-multi",
    ),
    pytest.param(
        {"query": {"page": re.compile(r"\d+")}},
        Call(target="/s?page=12"),
        Call(target="/s?page=12a"),
        id="query-pattern",
    ),
    pytest.param(
        {"headers": {"x-api-key": "k1"}},
        Call(headers={"X-Api-Key": "k1"}),
        Call(headers={"X-Api-Key": "k2"}),
        id="header-any-case",
    ),
    pytest.param(
        {"headers": {"Authorization": re.compile(r"Bearer \S+")}},
        Call(headers={"Authorization": "Bearer abc"}),
        Call(headers={"Authorization": "Basic abc"}),
        id="header-pattern",
    ),
    pytest.param(
        {"body": b"\x00\x01\xff"},
        Call("POST", body=b"\x00\x01\xff"),
        Call("POST", body=b"\x00\x01"),
        id="body-bytes",
    ),
    pytest.param(
        {"body": "h\u00e9"},
        Call("POST", body="h\u00e9".encode()),
        Call("POST", body="h\u00e9".encode("latin-1")),
        id="body-str-utf8",
    ),
    pytest.param(
        {"body": re.compile(r"id=\d+")},
        Call("POST", body=b"id=7"),
        Call("POST", body=b"id=7;"),
        id="body-pattern",
    ),
    pytest.param(
        {"body": lambda body: len(body) > 3},
        Call("POST", body=b"long"),
        Call("POST", body=b"abc"),
        id="body-predicate",
    ),
    pytest.param(
        {"json": {"a": 1}},
        Call("POST", headers=JSON, body=b'{"a":1}'),
        Call("POST", headers=JSON, body=b'{"a":1,"b":2}'),
        id="json-equal",
    ),
    pytest.param(
        {"json": Subset({"a": 1})},
        Call("POST", headers=JSON, body=b'{"a":1,"b":2}'),
        Call("POST", headers=JSON, body=b'{"b":2}'),
        id="json-subset",
    ),
    pytest.param(
        {"json": {"a": 1}},
        Call("POST", headers=JSON, body=b'{"a":1}'),
        Call("POST", headers=JSON, body=b"a=1"),
        id="json-not-json",
    ),
    pytest.param(
        {"form": {"user": "bob"}},
        Call("POST", headers=FORM, body=b"user=bob&x=1"),
        Call("POST", headers=FORM, body=b"user=al"),
        id="form",
    ),
    pytest.param(
        {"form": {"user": "bob"}},
        Call("POST", headers=FORM, body=b"user=bob"),
        Call("POST", headers=JSON, body=b"user=bob"),
        id="form-wrong-content-type",
    ),
    pytest.param(
        {"match": lambda request: "debug" in request.query},
        Call(target="/?debug=1"),
        Call(target="/?verbose=1"),
        id="match",
    ),
]


@pytest.mark.parametrize(("criteria", "good", "bad"), FIELD_CASES)
def test_matching_on_each_field(
    server: HTTPServer, send: Send, criteria: dict[str, Any], good: Call, bad: Call
) -> None:
    expectation = server.expect(**criteria).respond(200, body="hit")
    assert send(server.url, good) == (200, b"hit")
    status, body = send(server.url, bad)
    assert status == 404
    assert body.startswith(b"No expectation matched this request:\n")
    assert expectation.calls == 1
    [answered] = expectation.requests
    assert answered.target == good.target
    with pytest.raises(UnexpectedRequest):
        server.check()


def test_an_expectation_without_criteria_answers_anything_with_an_empty_200(
    server: HTTPServer, send: Send
) -> None:
    server.expect()
    assert send(server.url, Call("PATCH", "/any/thing?x=1", body=b"b")) == (200, b"")


# -- answers ----------------------------------------------------------------------------------


def test_respond_with_status_body_and_headers(server: HTTPServer) -> None:
    server.expect("POST", "/users").respond(
        201, body="made", headers={"Location": "/users/7", "X-Request-Id": "r1"}
    )
    reply = requests.post(server.url + "/users", timeout=5)
    assert reply.status_code == 201
    assert reply.text == "made"
    assert reply.headers["location"] == "/users/7"
    assert reply.headers["x-request-id"] == "r1"
    assert reply.headers["content-type"] == "text/plain; charset=utf-8"


def test_respond_with_json(server: HTTPServer) -> None:
    server.expect("GET", "/users/7").respond(json={"id": 7, "tags": ["a"]})
    reply = httpx.get(server.url + "/users/7")
    assert reply.status_code == 200
    assert reply.headers["content-type"] == "application/json"
    assert reply.json() == {"id": 7, "tags": ["a"]}


def test_respond_with_bytes_and_a_content_type(server: HTTPServer) -> None:
    server.expect("GET", "/blob").respond(body=b"\x00\xff", content_type="application/x-blob")
    with urllib.request.urlopen(server.url + "/blob", timeout=5) as reply:
        assert reply.headers["Content-Type"] == "application/x-blob"
        assert reply.read() == b"\x00\xff"


def test_respond_without_a_body(server: HTTPServer) -> None:
    server.expect("DELETE", "/users/7").respond(204)
    reply = httpx.delete(server.url + "/users/7")
    assert (reply.status_code, reply.content) == (204, b"")


def test_respond_refuses_body_and_json_together(server: HTTPServer) -> None:
    with pytest.raises(ConfigurationError, match="either body= or json=, not both"):
        server.expect().respond(body="x", json={})


def test_respond_with_a_sync_handler_gets_the_request(server: HTTPServer) -> None:
    seen: list[Request] = []

    def handler(request: Request) -> dict[str, Any]:
        seen.append(request)
        return {"path": request.path, "name": request.json()["name"]}

    server.expect("POST", "/echo").respond_with(handler)
    reply = requests.post(server.url + "/echo", json={"name": "ada"}, timeout=5)
    assert reply.json() == {"path": "/echo", "name": "ada"}
    assert [request.target for request in seen] == ["/echo"]


async def answer_later(request: Request) -> Response:
    await asyncio.sleep(0)
    return Response(201, json={"path": request.path})


@pytest.mark.asyncio
async def test_respond_with_an_async_handler_read_by_an_async_client(server: HTTPServer) -> None:
    server.expect("PUT", "/things/1").respond_with(answer_later)
    async with httpx.AsyncClient() as client:
        reply = await client.put(server.url + "/things/1")
    assert reply.status_code == 201
    assert reply.json() == {"path": "/things/1"}


def test_a_handler_that_raises_gets_500_and_check_re_raises_it(server: HTTPServer) -> None:
    def handler(request: Request) -> str:
        raise RuntimeError(f"cannot answer {request.path}")

    server.expect("GET", "/boom").respond_with(handler)
    status, body = get(server.url + "/boom")
    assert status == 500
    assert body == b"understudy: the handler raised RuntimeError (see check())\n"
    with pytest.raises(RuntimeError, match="cannot answer /boom"):
        server.check()
    server.check()  # taken once


def test_respond_with_refuses_what_is_not_callable(server: HTTPServer) -> None:
    with pytest.raises(ConfigurationError, match="respond_with takes a callable, not 'ok'"):
        server.expect().respond_with("ok")  # type: ignore[arg-type]


def test_a_raising_match_predicate_makes_the_request_unmatched_and_says_why(
    server: HTTPServer,
) -> None:
    def picky(request: Request) -> bool:
        return request.json()["kind"] == "a"  # type: ignore[no-any-return]

    server.expect("POST", "/p", match=picky).respond(200)
    status, body = with_httpx(server.url, Call("POST", "/p", body=b"not json"))
    assert status == 404
    assert (
        "       predicate: expected True or False from every predicate, got JSONDecodeError: "
        in body.decode()
    )
    with pytest.raises(UnexpectedRequest, match="got JSONDecodeError"):
        server.check()


# -- delay ------------------------------------------------------------------------------------


def test_a_delayed_response_arrives(server: HTTPServer) -> None:
    server.expect("GET", "/slow").respond(200, body="late", delay=0.05)
    server.expect("GET", "/slow-handler").respond_with(lambda request: "later", delay=0.05)
    assert requests.get(server.url + "/slow", timeout=5).text == "late"
    assert requests.get(server.url + "/slow-handler", timeout=5).text == "later"


def test_a_client_with_a_shorter_timeout_than_the_delay_times_out() -> None:
    # Leaving the block must neither wait out the delay nor report it as a handler still running.
    with HTTPServer() as server:
        server.expect("GET", "/slow").respond(200, delay=60)
        with pytest.raises(httpx.ReadTimeout):
            httpx.get(server.url + "/slow", timeout=0.2)


def test_stop_ends_a_delayed_response_still_awaited() -> None:
    with HTTPServer() as server:
        server.expect("GET", "/slow").respond(200, delay=60)
        with ThreadPoolExecutor(1) as pool:
            waiting = pool.submit(httpx.get, server.url + "/slow", timeout=30)
            server.wait_for_requests(1)
            server.stop()
            with pytest.raises(httpx.RemoteProtocolError):
                waiting.result(timeout=10)


@pytest.mark.parametrize("delay", [-1, "1", None, 3600.5, 1e300])
def test_delay_must_be_seconds(server: HTTPServer, delay: Any) -> None:
    if delay is None:
        server.expect().respond(delay=None)  # None means no delay
        return
    with pytest.raises(ConfigurationError, match=r"delay must be seconds >= 0 and at most 3600, "):
        server.expect().respond(delay=delay)


# -- times / once -----------------------------------------------------------------------------


def test_times_answers_n_times_then_the_request_exceeds_it(server: HTTPServer) -> None:
    expectation = server.expect("GET", "/t").respond(200, body="ok").times(2)
    assert [get(server.url + "/t") for _ in range(2)] == [(200, b"ok")] * 2
    status, body = get(server.url + "/t")
    assert status == 404
    assert body.decode().endswith(
        "Nearest expectations:\n"
        "  1. expect('GET', '/t'), answered 2 times of 2\n"
        "       times: expected at most 2, got 3\n"
    )
    assert expectation.calls == 2
    [extra] = expectation.extra
    with pytest.raises(ExpectationExceeded) as raised:
        server.check()
    assert isinstance(raised.value, UnexpectedRequest)  # a kind of it: the extra was unexpected
    assert not isinstance(raised.value, UnmetExpectation)
    moment = datetime.fromtimestamp(extra.received_at).strftime("%H:%M:%S.%f")[:-3]
    assert str(raised.value) == (
        f"1 expectation of {server!r} met too often:\n"
        "  1. expect('GET', '/t'): expected at most 2, got 3; the extra request (answered 404):\n"
        f"      GET /t from 127.0.0.1:{extra.peer[1] if extra.peer else 0} at {moment}"
    )
    server.check()  # reported once


def test_each_extra_request_is_listed_once_across_checks(server: HTTPServer) -> None:
    server.expect("POST", "/charge").respond(201).once()
    assert [httpx.post(server.url + "/charge").status_code for _ in range(3)] == [201, 404, 404]
    with pytest.raises(ExpectationExceeded, match=r"expected at most 1, got 3; the extra requests"):
        server.check()
    assert httpx.post(server.url + "/charge").status_code == 404
    with pytest.raises(ExpectationExceeded) as raised:
        server.check()
    lines = str(raised.value).splitlines()
    assert "expected at most 1, got 4; the extra request (answered 404):" in lines[1]
    assert len(lines) == 3  # only the request not reported before
    assert lines[2].lstrip().startswith("POST /charge from 127.0.0.1:")


# -- allow_unmatched: negative tests --------------------------------------------------------


def test_allow_unmatched_keeps_the_404_and_the_journal_but_check_passes(http: Version) -> None:
    with http.server(allow_unmatched=True) as server:
        server.expect("GET", "/known").respond(200)
        reply = http.get(server.url + "/unknown")
        assert reply.status_code == 404
        assert reply.text.startswith("No expectation matched this request:\n  GET /unknown")
        assert "1. expect('GET', '/known'), answered 0 times" in reply.text
        [request] = server.wait_for_requests(1)
        assert request.target == "/unknown"
        server.assert_requested("GET", "/unknown", times=1)
        server.check()  # nothing raised: unmatched requests were expected
    # and leaving the block raised nothing either


def test_allow_unmatched_defaults_to_strict(server: HTTPServer) -> None:
    assert httpx.get(server.url + "/unknown").status_code == 404
    with pytest.raises(UnexpectedRequest):
        server.check()


def test_allow_unmatched_does_not_excuse_an_expectation_met_too_often(http: Version) -> None:
    with http.server(allow_unmatched=True) as server:
        server.expect("POST", "/charge").respond(201).once()
        assert [http.post(server.url + "/charge").status_code for _ in range(2)] == [201, 404]
        with pytest.raises(ExpectationExceeded, match="expected at most 1, got 2"):
            server.check()


def test_allow_unmatched_still_reports_unmet_expectations() -> None:
    server = HTTPServer(allow_unmatched=True)
    server.expect("GET", "/needed").once()
    unmet = pytest.raises(UnmetExpectation, match=r"expect\('GET', '/needed'\), answered 0 times")
    with unmet, server:
        pass


@pytest.mark.parametrize("value", [1, "yes", None])
def test_allow_unmatched_takes_a_bool(value: object) -> None:
    with pytest.raises(ConfigurationError, match="allow_unmatched must be True or False"):
        HTTPServer(allow_unmatched=value)  # type: ignore[arg-type]


def test_once_answers_once(server: HTTPServer) -> None:
    server.expect("POST", "/token").respond(json={"token": "t"}).once()
    assert httpx.post(server.url + "/token").json() == {"token": "t"}
    assert httpx.post(server.url + "/token").status_code == 404
    with pytest.raises(UnexpectedRequest):
        server.check()


def test_times_not_reached_is_unmet(server: HTTPServer) -> None:
    expectation = server.expect("GET", "/t").times(3)
    get(server.url + "/t")
    assert repr(expectation) == "<understudy.Expectation 'GET', '/t' answered 1 of 3>"
    with pytest.raises(UnmetExpectation) as raised:
        server.check()
    assert str(raised.value) == (
        f"1 expectation of {server!r} not met:\n"
        "  1. expect('GET', '/t'), answered 1 time of 3\n"
        "    nearest requests received:\n"
        "      GET /t - matches"
    )
    server.check()  # reported once, not again at the end of the test


def test_an_unlimited_expectation_is_not_verified(server: HTTPServer) -> None:
    expectation = server.expect("GET", "/never")
    assert repr(expectation) == "<understudy.Expectation 'GET', '/never' answered 0>"
    server.check()


def test_concurrent_requests_use_a_limited_expectation_exactly_n_times(server: HTTPServer) -> None:
    server.expect("GET", "/scarce").respond(200).times(5)
    with ThreadPoolExecutor(8) as pool:
        statuses = sorted(status for status, _ in pool.map(get, [server.url + "/scarce"] * 12))
    assert statuses == [200] * 5 + [404] * 7
    with pytest.raises(ExpectationExceeded) as raised:
        server.check()
    lines = str(raised.value).splitlines()
    assert "expected at most 5, got 12; the extra requests (answered 404):" in lines[1]
    assert len(lines) == 2 + 7


# -- retry sequences, driven by urllib3's Retry ------------------------------------------------


def retrying_session(total: int) -> requests.Session:
    """A requests Session that retries GETs answered 503, at once (no backoff)."""
    session = requests.Session()
    retry = Retry(total=total, status_forcelist=[503], backoff_factor=0, allowed_methods=["GET"])
    session.mount("http://", HTTPAdapter(max_retries=retry))
    return session


def test_retry_once_after_503(server: HTTPServer) -> None:
    flaky = server.expect("GET", "/flaky").respond(503).then.respond(200, json={"ok": True})
    with retrying_session(total=3) as session:
        reply = session.get(server.url + "/flaky", timeout=5)
    assert (reply.status_code, reply.json()) == (200, {"ok": True})
    assert flaky.calls == 2
    assert len(server.requests) == 2


def test_retry_twice_after_two_503s(server: HTTPServer) -> None:
    flaky = server.expect("GET", "/flaky").respond(503).times(2).then.respond(200, body="ok")
    with retrying_session(total=3) as session:
        reply = session.get(server.url + "/flaky", timeout=5)
        assert (reply.status_code, reply.text) == (200, "ok")
        assert flaky.calls == 3
        # The last step answers for ever.
        assert session.get(server.url + "/flaky", timeout=5).text == "ok"
    assert flaky.calls == 4


def test_a_client_giving_up_too_soon_leaves_the_sequence_unmet(server: HTTPServer) -> None:
    server.expect("GET", "/flaky").respond(503).times(2).then.respond(200)
    with (
        retrying_session(total=1) as session,
        pytest.raises(requests.exceptions.RetryError, match="too many 503 error responses"),
    ):
        session.get(server.url + "/flaky", timeout=5)
    with pytest.raises(UnmetExpectation) as raised:
        server.check()
    assert str(raised.value).splitlines()[1] == (
        "  1. expect('GET', '/flaky'), answered 2 times (at least 3 expected)"
    )


def test_a_post_is_not_retried_by_default(server: HTTPServer) -> None:
    server.expect("POST", "/pay").respond(503).then.respond(201)
    session = requests.Session()
    session.mount("http://", HTTPAdapter(max_retries=Retry(total=3, status_forcelist=[503])))
    with session:
        assert session.post(server.url + "/pay", timeout=5).status_code == 503
    with pytest.raises(UnmetExpectation, match=r"answered 1 time \(at least 2 expected\)"):
        server.check()


def test_a_limited_last_step_ends_the_sequence(server: HTTPServer) -> None:
    server.expect("GET", "/x").respond(503).then.respond(200).once()
    assert [get(server.url + "/x")[0] for _ in range(3)] == [503, 200, 404]
    with pytest.raises(UnexpectedRequest):
        server.check()


def test_then_without_respond_answers_200(server: HTTPServer) -> None:
    sequence = server.expect("GET", "/x").respond(500).then
    assert sequence.calls == 0
    assert [get(server.url + "/x")[0] for _ in range(2)] == [500, 200]


# -- expect_in_order --------------------------------------------------------------------------


def in_order(server: HTTPServer) -> None:
    server.expect_in_order("POST", "/login").respond(json={"token": "t"})
    server.expect_in_order("GET", "/data", headers={"Authorization": "Bearer t"}).respond(
        json=[1, 2]
    )
    server.expect_in_order("POST", "/logout").respond(204)


def test_ordered_calls_in_order_pass(server: HTTPServer) -> None:
    in_order(server)
    with httpx.Client(base_url=server.url) as client:
        token = client.post("/login").json()["token"]
        assert client.get("/data", headers={"Authorization": f"Bearer {token}"}).json() == [1, 2]
        assert client.post("/logout").status_code == 204
    server.check()


def test_an_ordered_call_out_of_order_gets_404_and_is_unexpected(server: HTTPServer) -> None:
    in_order(server)
    with httpx.Client(base_url=server.url) as client:
        early = client.get("/data", headers={"Authorization": "Bearer t"})
        assert early.status_code == 404
        assert (
            "Nearest expectations:\n"
            "  1. expect_in_order('GET', '/data', headers={'Authorization': 'Bearer t'}), "
            "answered 0 times of 1\n"
            "       order: expected an earlier expect_in_order first, got this one\n"
        ) in early.text
        # Then in order: each answers.
        assert client.post("/login").status_code == 200
        assert client.get("/data", headers={"Authorization": "Bearer t"}).status_code == 200
        assert client.post("/logout").status_code == 204
    with pytest.raises(UnexpectedRequest, match="order: expected an earlier expect_in_order"):
        server.check()


def test_ordered_calls_not_made_are_unmet(server: HTTPServer) -> None:
    in_order(server)
    assert requests.post(server.url + "/login", timeout=5).status_code == 200
    with pytest.raises(UnmetExpectation) as raised:
        server.check()
    assert str(raised.value) == (
        f"2 expectations of {server!r} not met:\n"
        "  1. expect_in_order('GET', '/data', headers={'Authorization': 'Bearer t'}), "
        "answered 0 times of 1\n"
        "    nearest requests received:\n"
        "      POST /login\n"
        "        method: expected 'GET', got 'POST'\n"
        "        path: expected '/data', got '/login'\n"
        "        header Authorization: expected 'Bearer t', got nothing\n"
        "  2. expect_in_order('POST', '/logout'), answered 0 times of 1\n"
        "    nearest requests received:\n"
        "      POST /login\n"
        "        path: expected '/logout', got '/login'"
    )


def test_an_ordered_call_used_up_is_one_call_too_many(server: HTTPServer) -> None:
    server.expect_in_order("GET", "/a")
    assert [get(server.url + "/a")[0] for _ in range(2)] == [200, 404]
    with pytest.raises(ExpectationExceeded, match="expected at most 1, got 2; the extra request "):
        server.check()


def test_ordered_times_and_sequences(server: HTTPServer) -> None:
    server.expect_in_order("GET", "/poll").respond(202).times(2)
    server.expect_in_order("GET", "/a").respond(503).then.respond(200)
    server.expect_in_order("GET", "/b").respond(201)
    targets = ["/poll", "/poll", "/a", "/a", "/b"]
    assert [get(server.url + target)[0] for target in targets] == [202, 202, 503, 200, 201]
    server.check()


def test_unordered_expectations_answer_between_ordered_ones(server: HTTPServer) -> None:
    server.expect("GET", "/health").respond(body="up")
    server.expect_in_order("POST", "/a")
    server.expect_in_order("POST", "/b")
    assert get(server.url + "/health") == (200, b"up")
    assert with_requests(server.url, Call("POST", "/a"))[0] == 200
    assert get(server.url + "/health") == (200, b"up")
    assert with_requests(server.url, Call("POST", "/b"))[0] == 200
    server.check()


# -- precedence -------------------------------------------------------------------------------


def test_a_later_specific_expectation_overrides_an_earlier_general_one(server: HTTPServer) -> None:
    server.expect("GET", re.compile(r"/.*")).respond(body="general")
    server.expect("GET", "/special").respond(body="special")
    assert get(server.url + "/special") == (200, b"special")
    assert get(server.url + "/other") == (200, b"general")


def test_the_most_recent_matching_expectation_wins_even_if_more_general(
    server: HTTPServer,
) -> None:
    server.expect("GET", "/special").respond(body="special")
    server.expect("GET").respond(body="general")
    assert get(server.url + "/special") == (200, b"general")


def test_a_used_up_expectation_falls_through_to_the_next(server: HTTPServer) -> None:
    server.expect("GET").respond(body="general")
    server.expect("GET", "/special").respond(body="first").once()
    server.expect("GET", "/special").respond(body="second").once()
    bodies = [get(server.url + "/special")[1] for _ in range(3)]
    assert bodies == [b"second", b"first", b"general"]


def test_the_next_ordered_expectation_comes_before_unordered_ones(server: HTTPServer) -> None:
    server.expect_in_order("GET", "/x").respond(body="ordered")
    server.expect("GET", "/x").respond(body="unordered")
    assert [get(server.url + "/x")[1] for _ in range(2)] == [b"ordered", b"unordered"]


# -- combined with the server's host ----------------------------------------------------------


def test_an_expectation_answers_first_and_the_handler_answers_the_rest() -> None:
    with HTTPServer(handler=lambda request: f"handler {request.path}") as server:
        server.expect("GET", "/mocked").respond(body="expectation").once()
        assert get(server.url + "/mocked") == (200, b"expectation")
        assert get(server.url + "/other") == (200, b"handler /other")
        assert get(server.url + "/mocked") == (200, b"handler /mocked")
        server.check()  # the handler answered: nothing unexpected


def test_what_is_added_while_serving_is_routed_to_from_the_next_request(
    tmp_path: pathlib.Path,
) -> None:
    """Requests go straight to the host while nothing routes; an expectation or a directory
    added once requests have been served takes its requests from the next one on."""
    (tmp_path / "file.txt").write_text("from the directory")
    with HTTPServer(handler=lambda request: f"handler {request.path}") as server:
        assert get(server.url + "/mocked") == (200, b"handler /mocked")
        expectation = server.expect("GET", "/mocked").respond(body="expectation").once()
        assert get(server.url + "/mocked") == (200, b"expectation")
        assert get(server.url + "/mocked") == (200, b"handler /mocked")  # (answered once)
        server.serve_directory("/files", tmp_path)
        assert get(server.url + "/files/file.txt") == (200, b"from the directory")
        assert get(server.url + "/other") == (200, b"handler /other")
        assert expectation.calls == 1
        server.check()


def test_an_expectation_answers_first_and_the_canned_response_answers_the_rest() -> None:
    with HTTPServer(response=Response(200, body="canned")) as server:
        server.expect("POST", "/hook").respond(204)
        assert with_httpx(server.url, Call("POST", "/hook")) == (204, b"")
        assert with_httpx(server.url, Call("GET", "/hook")) == (200, b"canned")
        server.check()


def test_unmatched_status() -> None:
    with HTTPServer(unmatched_status=418) as server:
        server.expect("GET", "/tea")
        status, body = get(server.url + "/coffee")
        assert status == 418
        assert body.startswith(b"No expectation matched this request:\n")
        with pytest.raises(UnexpectedRequest):
            server.check()


@pytest.mark.parametrize("status", [200, 399, 600, "404", True])
def test_unmatched_status_must_be_an_error_status(status: Any) -> None:
    with pytest.raises(ConfigurationError, match="unmatched_status must be an error status code"):
        HTTPServer(unmatched_status=status)


def test_nothing_set_and_nothing_hosted_says_what_to_add(server: HTTPServer) -> None:
    status, body = get(server.url + "/x")
    assert status == 404
    assert body.decode().endswith(
        "No expectation is set and nothing is hosted: add server.expect(...) or give "
        "HTTPServer a response=, handler=, wsgi=, asgi= or root=.\n"
    )
    with pytest.raises(UnexpectedRequest, match="No expectation is set"):
        server.check()


# -- the near-miss report ---------------------------------------------------------------------


def add_five_expectations(server: HTTPServer) -> None:
    server.expect("DELETE", "/admin", headers={"X-Admin": "yes"})  # 3 differences
    server.expect("GET", "/users", query={"page": "1"})  # 1
    server.expect("POST", "/users", json=Subset({"name": "x"}))  # 2
    server.expect("PUT", "/orders", body=b"x")  # 3
    server.expect("GET", re.compile(r"/users/\d+"))  # 1, more recent than the other 1


def test_the_near_miss_report_lists_the_three_nearest_with_each_difference(
    server: HTTPServer,
) -> None:
    add_five_expectations(server)
    status, body = exact_request(
        server, "GET", "/users?page=2", [("Host", "api.test"), ("X-Trace", "t1")]
    )
    [request] = server.requests
    assert request.peer is not None
    expected = (
        "No expectation matched this request:\n"
        f"  GET /users?page=2 HTTP/1.1 from 127.0.0.1:{request.peer[1]}\n"
        "    Host: api.test\n"
        "    X-Trace: t1\n"
        "Nearest expectations:\n"
        "  1. expect('GET', '/users', query={'page': '1'}), answered 0 times\n"
        "       query page: expected '1', got '2'\n"
        "  2. expect('POST', '/users', json=Subset({'name': 'x'})), answered 0 times\n"
        "       method: expected 'POST', got 'GET'\n"
        "       json: expected Subset({'name': 'x'}), got not JSON: an empty body\n"
        "  3. expect('PUT', '/orders', body=b'x'), answered 0 times\n"
        "       method: expected 'PUT', got 'GET'\n"
        "       path: expected '/orders', got '/users'\n"
        "       body: expected b'x', got an empty body\n"
    )
    assert (status, body.decode()) == (404, expected)
    with pytest.raises(UnexpectedRequest) as raised:
        server.check()
    assert str(raised.value) == expected.rstrip("\n")


def test_the_near_miss_report_shows_the_body_up_to_200_bytes(server: HTTPServer) -> None:
    server.expect("POST", "/upload", body=b"small")
    status, body = exact_request(
        server, "POST", "/upload", [("Host", "h")], body=b"0123456789" * 30
    )
    assert status == 404
    lines = body.decode().splitlines()
    assert lines[4] == f"    body: {b'0123456789' * 20!r} ... (300 bytes)"
    assert lines[7] == (
        f"       body: expected b'small', got {b'0123456789' * 8!r} ... (300 bytes)"
    )
    with pytest.raises(UnexpectedRequest):
        server.check()


def test_every_unexpected_request_is_raised_together(server: HTTPServer) -> None:
    server.expect("GET", "/a")
    get(server.url + "/b")
    get(server.url + "/c")
    with pytest.raises(ExceptionGroup) as raised:
        server.check()
    reports = [str(error) for error in raised.value.exceptions]
    assert [report.splitlines()[1].split(" HTTP/")[0] for report in reports] == [
        "  GET /b",
        "  GET /c",
    ]


# -- assert_requested -------------------------------------------------------------------------


@pytest.fixture
def answered() -> Iterator[HTTPServer]:
    """A server that answers 204 to everything, after four requests."""
    with HTTPServer(response=Response(204)) as server:
        for call in [
            Call("GET", "/users?page=1"),
            Call("GET", "/users?page=2"),
            Call("GET", "/users?page=2"),
            Call("POST", "/users", body=b'{"name": "ada"}'),
        ]:
            with_requests(server.url, call)
        yield server


def test_assert_requested_at_least_once_returns_the_matching_requests(
    answered: HTTPServer,
) -> None:
    found = answered.assert_requested("GET", "/users")
    targets = [request.target for request in found]
    assert targets == ["/users?page=1", "/users?page=2", "/users?page=2"]
    [post] = answered.assert_requested(json={"name": "ada"})
    assert post.method == "POST"


def test_assert_requested_exact_times(answered: HTTPServer) -> None:
    assert len(answered.assert_requested("GET", query={"page": "2"}, times=2)) == 2
    assert answered.assert_requested("DELETE", times=0) == []
    with pytest.raises(ExpectationExceeded) as raised:
        answered.assert_requested("GET", query={"page": "2"}, times=1)
    assert not isinstance(raised.value, UnmetExpectation)
    lines = str(raised.value).splitlines()
    assert lines[0] == (
        "'GET', query={'page': '2'} was requested too often: expected at most 1, got 2; "
        "the extra request:"
    )
    [_, second] = answered.assert_requested("GET", query={"page": "2"}, times=2)
    moment = datetime.fromtimestamp(second.received_at).strftime("%H:%M:%S.%f")[:-3]
    assert second.peer is not None
    assert lines[1:] == [f"  GET /users?page=2 from 127.0.0.1:{second.peer[1]} at {moment}"]
    with pytest.raises(UnmetExpectation, match="to be requested 3 times; it was requested 2"):
        answered.assert_requested("GET", query={"page": "2"}, times=3)


def test_assert_requested_times_zero_fails_when_it_came(answered: HTTPServer) -> None:
    with pytest.raises(ExpectationExceeded) as raised:
        answered.assert_requested("POST", times=0)
    lines = str(raised.value).splitlines()
    assert (
        lines[0] == "'POST' was requested too often: expected at most 0, got 1; the extra request:"
    )
    assert re.fullmatch(r"  POST /users from 127\.0\.0\.1:\d+ at \d\d:\d\d:\d\d\.\d{3}", lines[1])


def test_assert_requested_failure_lists_the_nearest_requests(answered: HTTPServer) -> None:
    with pytest.raises(UnmetExpectation) as raised:
        answered.assert_requested("GET", "/users", query={"page": "3"})
    assert str(raised.value) == (
        "expected 'GET', '/users', query={'page': '3'} to be requested at least once; "
        "it was requested 0 times\n"
        "  nearest requests received:\n"
        "    GET /users?page=1\n"
        "      query page: expected '3', got '1'\n"
        "    GET /users?page=2 (2 like it)\n"
        "      query page: expected '3', got '2'\n"
        "    POST /users\n"
        "      method: expected 'GET', got 'POST'\n"
        "      query page: expected '3', got nothing"
    )


def test_assert_requested_with_nothing_received(server: HTTPServer) -> None:
    with pytest.raises(UnmetExpectation) as raised:
        server.assert_requested("GET", "/x")
    assert str(raised.value) == (
        "expected 'GET', '/x' to be requested at least once; it was requested 0 times\n"
        "  no request was received"
    )


def test_assert_requested_does_not_use_up_expectations(server: HTTPServer) -> None:
    server.expect("GET", "/x").once()
    get(server.url + "/x")
    server.assert_requested("GET", "/x", times=1)
    server.assert_requested("GET", "/x", times=1)
    server.check()


# -- wrong arguments --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        pytest.param(
            {"path": "users"},
            "path must start with '/' (it is the decoded path), not 'users'",
            id="path-without-slash",
        ),
        pytest.param(
            {"path": "/users?page=1"},
            "path '/users?page=1' holds a query: write path='/users', query={...}",
            id="path-with-query",
        ),
        pytest.param(
            {"path": 7},
            "path must be a str (exact), a compiled re.Pattern (matching the whole value) or a "
            "predicate taking the str, not int 7",
            id="path-int",
        ),
        pytest.param(
            {"path": re.compile(b"/x")},
            "path is matched as text: compile a str pattern, re.compile('/x'), not "
            "re.compile(b'/x')",
            id="path-bytes-pattern",
        ),
        pytest.param(
            {"method": "GET /x"}, "method must be a str such as 'GET', not 'GET /x'", id="method"
        ),
        pytest.param({"method": 1}, "method must be a str such as 'GET', not 1", id="method-int"),
        pytest.param(
            {"method": ""}, "method must be a str such as 'GET', not ''", id="method-empty"
        ),
        pytest.param(
            {"query": {"page": 1}},
            "query['page'] must be a str (exact), a compiled re.Pattern (matching the whole "
            "value) or a predicate taking the str, not int 1",
            id="query-value",
        ),
        pytest.param(
            {"query": [("page", "1")]},
            "query must be a mapping of name to matcher, not list",
            id="query-pairs",
        ),
        pytest.param(
            {"headers": {"X-Token": b"k"}},
            "headers['X-Token'] must be a str (exact)",
            id="header-bytes",
        ),
        pytest.param(
            {"headers": "X-Token: k"},
            "headers must be a mapping of name to matcher, not str",
            id="headers-str",
        ),
        pytest.param({"form": {"a": None}}, "form['a'] must be a str (exact)", id="form-none"),
        pytest.param(
            {"body": {"a": 1}},
            "body must be bytes or str (exact), a compiled re.Pattern (whole text) or a "
            "predicate taking the bytes, not dict",
            id="body-dict",
        ),
        pytest.param(
            {"body": re.compile(b"a.")},
            "body is matched as text: compile a str pattern, re.compile('a.')",
            id="body-bytes-pattern",
        ),
        pytest.param(
            {"body": b"x", "json": {"a": 1}}, "give body= or json=, not both", id="body-and-json"
        ),
        pytest.param(
            {"match": "yes"},
            "match must be a predicate taking the Request, not 'yes'",
            id="match-not-callable",
        ),
    ],
)
@pytest.mark.parametrize("method_name", ["expect", "expect_in_order", "assert_requested"])
def test_wrong_arguments_say_what_to_write(
    server: HTTPServer, method_name: str, arguments: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigurationError) as raised:
        getattr(server, method_name)(**arguments)
    assert str(raised.value).startswith(message)
    assert isinstance(raised.value, ValueError)


@pytest.mark.parametrize("count", [0, -1, True, "2", 1.5])
def test_times_takes_a_positive_int(server: HTTPServer, count: Any) -> None:
    expectation = server.expect("GET", "/x")
    with pytest.raises(ConfigurationError) as raised:
        expectation.times(count)
    assert str(raised.value) == (
        f"times() takes a positive int, not {count!r}; to check that a request never came, "
        "use server.assert_requested(..., times=0)"
    )


@pytest.mark.parametrize("times", [-1, True, "2", 1.5])
def test_assert_requested_takes_a_count_of_zero_or_more(answered: HTTPServer, times: Any) -> None:
    with pytest.raises(ConfigurationError) as raised:
        answered.assert_requested("GET", "/users", times=times)
    assert str(raised.value) == (
        f"assert_requested() takes times=None (at least once) or an int of 0 or more, not {times!r}"
    )


def test_expect_returns_an_expectation_whose_builders_chain(server: HTTPServer) -> None:
    expectation = server.expect("GET", "/x")
    assert isinstance(expectation, Expectation)
    assert expectation.respond(200) is expectation
    assert expectation.times(2) is expectation
    assert expectation.then is expectation
    assert expectation.respond_with(lambda request: "x") is expectation
    assert expectation.once() is expectation
    for _ in range(3):
        get(server.url + "/x")
    server.check()


def test_json_matching_over_the_wire_uses_the_parsed_body(server: HTTPServer) -> None:
    server.expect("POST", "/j", json={"b": [1, 2], "a": None}).respond(body="ok")
    body = json.dumps({"a": None, "b": [1, 2]}, indent=2).encode()
    assert with_urllib(server.url, Call("POST", "/j", headers=JSON, body=body)) == (200, b"ok")


def test_the_near_miss_report_ranks_by_string_distance_not_recency(http: Version) -> None:
    """WireMock's order: ``/hellp`` is one letter from ``/hello``, so it comes first although
    ``/dyn`` was added last; a wrong method (weight 3) comes before a far path (weight 10)."""
    with http.server(allow_unmatched=True) as server:
        server.expect("GET", "/hello")
        server.expect("POST", "/hellp")
        server.expect("GET", "/goodbye")
        server.expect("GET", "/dyn")
        assert http.get(server.url + "/hellp", timeout=5).status_code == 404
        report = http.get(server.url + "/hellp", timeout=5).text
    ranked = re.findall(r"^  \d\. (expect\(.*\)), answered", report, flags=re.MULTILINE)
    assert ranked == [
        "expect('GET', '/hello')",
        "expect('POST', '/hellp')",
        "expect('GET', '/dyn')",
    ]


def test_an_unmet_expectation_lists_the_nearest_requests_by_string_distance() -> None:
    """The same ranking the other way round: the requests received nearest an unmet one."""
    with HTTPServer(allow_unmatched=True) as server:
        server.expect("GET", "/hello").once()
        with requests.Session() as session:
            for path in ("/dyn", "/hellp", "/goodbye"):
                assert session.get(server.url + path, timeout=5).status_code == 404
        with pytest.raises(UnmetExpectation) as raised:
            server.check()
    received = re.findall(r"^ +GET (/\w+)$", str(raised.value), flags=re.MULTILINE)
    assert received == ["/hellp", "/dyn", "/goodbye"]
