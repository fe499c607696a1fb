"""What the short cuts of a fresh server per test (issue 20) must keep.

A server whose expectations have no limit skips their verification; a response alike to one
answered before (same status, reason, fields and body) is sent as rendered then, by any
server. Each test here is a case those short cuts could get wrong.
"""

from __future__ import annotations

import dataclasses
import http.client
import tracemalloc
from typing import Any

import pytest
import requests

from understudy import (
    ConfigurationError,
    ExpectationExceeded,
    HTTPServer,
    Response,
    UnmetExpectation,
)
from understudy._core.matching import RequestShape
from understudy._http import _config
from understudy._http._criteria import line_shape
from understudy._http._limits import DEFAULT_LIMITS


def test_a_limit_set_after_an_unlimited_expectation_is_verified() -> None:
    with HTTPServer() as server:
        server.expect("GET", "/any").respond(200)
        server.expect("GET", "/twice").respond(200).times(2)
        assert requests.get(server.url + "/twice", timeout=5).status_code == 200
        with pytest.raises(UnmetExpectation, match=r"expect\('GET', '/twice'\)"):
            server.check()


def test_a_sequence_begun_after_the_expectation_answered_is_verified() -> None:
    with HTTPServer() as server:
        expectation = server.expect("GET", "/flaky").respond(503)
        assert requests.get(server.url + "/flaky", timeout=5).status_code == 503
        expectation.then.respond(200)
        with pytest.raises(UnmetExpectation, match=r"expect\('GET', '/flaky'\)"):
            server.check()


def test_a_limit_exceeded_beside_an_unlimited_expectation_is_reported() -> None:
    with HTTPServer() as server:
        server.expect("GET", "/any").respond(200)
        server.expect("GET", "/once").respond(200).once()
        statuses = [requests.get(server.url + "/once", timeout=5).status_code for _ in "ab"]
        assert statuses == [200, 404]
        with pytest.raises(ExpectationExceeded, match=r"expect\('GET', '/once'\)"):
            server.check()


def test_an_ordered_expectation_not_called_is_unmet() -> None:
    with HTTPServer() as server:
        server.expect_in_order("GET", "/first").respond(200)
        with pytest.raises(UnmetExpectation, match="expect_in_order"):
            server.check()


def test_unlimited_expectations_pass_check_whether_used_or_not() -> None:
    with HTTPServer() as server:
        server.expect("GET", "/used").respond(200)
        server.expect("GET", "/unused").respond(200)
        assert requests.get(server.url + "/used", timeout=5).status_code == 200
        server.check()


#: Responses alike but for one thing each (the arguments of ``Response``).
_ALIKE_BUT: list[dict[str, Any]] = [
    {"body": "hello"},
    {"body": "hellp"},
    {"status_code": 201, "body": "hello"},
    {"body": "hello", "reason": "Fine"},
    {"body": "hello", "headers": {"X-Kind": "a"}},
    {"body": "hello", "headers": {"X-Kind": "b"}},
    {"body": "hello", "content_type": "text/html"},
    {"body": b"x" * 5000},
]


def _answer(options: dict[str, Any]) -> tuple[int, str, str | None, str | None, bytes]:
    """What a fresh server with a new ``Response(**options)`` sends (over HTTP/1.1)."""
    with HTTPServer(response=Response(**options)) as server:
        conn = http.client.HTTPConnection(*server.address, timeout=5)
        conn.request("GET", "/")
        reply = conn.getresponse()
        body = reply.read()
        conn.close()
        (request,) = server.requests
        assert request.response is not None
        assert request.response.status_code == reply.status
        return (
            reply.status,
            reply.reason,
            reply.getheader("X-Kind"),
            reply.getheader("Content-Type"),
            body,
        )


def test_each_fresh_server_sends_its_own_response_whatever_came_before() -> None:
    """Responses that differ in one thing each are answered as themselves, by one new server
    after another, twice round (the second round finds the first's rendered bytes)."""
    for _ in range(2):
        for options in _ALIKE_BUT:
            expected = Response(**options)
            status, reason, kind, content_type, body = _answer(options)
            assert status == expected.status_code
            assert reason == expected.reason
            assert kind == dict(expected.headers).get("X-Kind")
            assert content_type == dict(expected.headers).get("Content-Type")
            assert body == expected.body


def test_an_expectation_made_anew_in_each_test_answers_as_itself() -> None:
    for body in ("one", "two", "one"):
        with HTTPServer() as server:
            server.expect("GET", "/").respond(200, body=body)
            assert requests.get(server.url, timeout=5).text == body


def test_one_response_answered_by_two_servers_at_once() -> None:
    response = Response(200, body="shared", headers={"X-Kind": "same"})
    with HTTPServer(response=response) as first, HTTPServer(response=response) as second:
        for server in (first, second, first):
            reply = requests.get(server.url, timeout=5)
            assert (reply.status_code, reply.text, reply.headers["X-Kind"]) == (
                200,
                "shared",
                "same",
            )
        assert len(first.requests) == 2
        assert len(second.requests) == 1


@pytest.mark.parametrize(
    "options",
    [
        {"port": False},
        {"port": 0.0},
        {"host": ""},
        {"host": b"127.0.0.1"},
        {"unmatched_status": 404.0},
        {"allow_unmatched": 0},
        {"allow_unmatched": None},
        {"seed": True},
        {"conditions": "none"},
        {"generated_fields": "none"},
        {"content_coding": "gzip"},
        {"record": "somewhere"},
        {"admin_token": "secret"},
        {"max_body_size": 64 * 1024 * 1024.0},
        {"max_concurrent_streams": 100.0},
        {"websocket_max_message_size": 64 * 1024 * 1024.0},
    ],
    ids=repr,
)
def test_what_looks_like_a_default_but_is_not_is_refused(options: dict[str, Any]) -> None:
    """The checks a server made with the defaults skips still see every option that differs."""
    with pytest.raises(ConfigurationError):
        HTTPServer(**options)


def test_the_default_limits_are_recognised_with_nothing_left_behind() -> None:
    """A server made with the default limits shares one ``Limits`` and keeps nothing of its
    own for them: recognising them once left a shrunk tuple on CPython's free list of its size
    (~100 bytes a server, a quarter of what an idle server may cost, ``make bench`` (d))."""
    code = _config.limits_of.__code__
    ours = range(code.co_firstlineno, code.co_firstlineno + 20)
    _config.limits_of(*_config._DEFAULTS)
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        for _ in range(100):
            assert _config.limits_of(*_config._DEFAULTS) is DEFAULT_LIMITS
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    kept = [
        stat
        for stat in after.compare_to(before, "lineno")
        if stat.traceback[0].filename == code.co_filename and stat.traceback[0].lineno in ours
    ]
    assert sum(stat.size_diff for stat in kept) < 1000, kept


@pytest.mark.parametrize("method", ["GET", "M-SEARCH", "get"])
def test_methods_with_or_without_the_pattern_are_taken(method: str) -> None:
    with HTTPServer() as server:
        server.expect(method, "/").respond(204)
        conn = http.client.HTTPConnection(*server.address, timeout=5)
        conn.request(method, "/")
        assert conn.getresponse().status == 204
        conn.close()


@pytest.mark.parametrize("method", [["GET"], b"GET", "GE T", ""])
def test_a_method_that_is_no_token_is_refused(method: Any) -> None:
    with pytest.raises(ConfigurationError, match="method must be a str such as 'GET'"):
        HTTPServer().expect(method, "/")


@pytest.mark.parametrize(("method", "path"), [("GET", "/x"), (None, "/x"), ("GET", None)])
def test_a_shape_of_a_method_and_a_path_is_the_dataclass_s_own(
    method: str | None, path: str | None
) -> None:
    """``expect(method, path)`` makes its shape without the dataclass's ``__init__``."""
    made = line_shape(method, path)
    assert made == RequestShape(method=method, path=path)
    assert hash(made) == hash(RequestShape(method=method, path=path))
    assert repr(made) == repr(RequestShape(method=method, path=path))
    assert made.describe() == RequestShape(method=method, path=path).describe()
    assert dataclasses.replace(made, body="x") == RequestShape(method=method, path=path, body="x")
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.method = "POST"  # type: ignore[misc]
