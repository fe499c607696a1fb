"""WireMock stub mappings: the pure matching rules, and a set of mapping files replayed."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
import requests

import understudy
from understudy._core.wiremock import (
    MappingError,
    json_equal,
    json_path,
    parse_mapping,
    parse_mappings_document,
    parse_request_pattern,
    parse_value_pattern,
)
from versions import Version

DATA = Path(__file__).parent / "data" / "wiremock"


# -- pure: value patterns, JSON equality, JSON paths ------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        ({"equalTo": "abc"}, "abc", True),
        ({"equalTo": "abc"}, "ABC", False),
        ({"equalTo": "abc", "caseInsensitive": True}, "ABC", True),
        ({"equalTo": "abc"}, None, False),
        ({"contains": "b"}, "abc", True),
        ({"contains": "z"}, "abc", False),
        ({"doesNotContain": "z"}, "abc", True),
        ({"matches": "a.c"}, "abc", True),
        ({"matches": "a"}, "abc", False),  # the whole value, as Java's String.matches
        ({"doesNotMatch": "a.*"}, "abc", False),
        ({"doesNotMatch": "b.*"}, "abc", True),
        ({"absent": True}, None, True),
        ({"absent": True}, "", False),
        ({"equalToJson": '{"a": [1, 2]}'}, '{"a":[1,2]}', True),
        ({"equalToJson": {"a": [1, 2]}}, '{"a": [2, 1]}', False),
        ({"equalToJson": {"a": [1, 2]}, "ignoreArrayOrder": True}, '{"a": [2, 1]}', True),
        ({"equalToJson": {"a": 1}}, '{"a": 1, "b": 2}', False),
        ({"equalToJson": {"a": 1}, "ignoreExtraElements": True}, '{"a": 1, "b": 2}', True),
        ({"equalToJson": {"a": 1}}, "not json", False),
        ({"matchesJsonPath": "$.a"}, '{"a": 0}', True),
        ({"matchesJsonPath": "$.b"}, '{"a": 0}', False),
        ({"matchesJsonPath": {"expression": "$.a", "equalTo": "0"}}, '{"a": 0}', True),
        ({"matchesJsonPath": {"expression": "$.a", "contains": "x"}}, '{"a": "y"}', False),
        ({"matchesJsonPath": "$.items[?(@.n > 1)]"}, '{"items": [{"n": 2}]}', True),
        ({"matchesJsonPath": "$.items[?(@.n > 1)]"}, '{"items": [{"n": 1}]}', False),
        ({"matches": "a.b"}, "a\nb", True),  # . takes a line break too
        ({"matches": "\\d+"}, "\u0663", False),  # \d is ASCII, as in Java
        ({"matches": "(a+)+b"}, "a" * 5000 + "!", False),  # linear time: answered at once
        ({"matches": "(?i)caf\u00e9"}, "CAF\u00c9", True),
        ({"matchesJsonPath": {"expression": "$.a", "matches": ".+"}}, '{"a": "\\ud800"}', True),
        # matchesJsonPath as WireMock reads Jayway's result: a definite path matches a value
        # that is there and not null; another path, when it selects anything (nulls too)
        ({"matchesJsonPath": "$.a"}, '{"a": null}', False),
        ({"matchesJsonPath": "$.a"}, '{"a": []}', True),
        ({"matchesJsonPath": "$.a"}, '{"a": {}}', True),
        ({"matchesJsonPath": "$.a[*]"}, '{"a": [null]}', True),
        ({"matchesJsonPath": "$.a[*]"}, '{"a": []}', False),
        ({"matchesJsonPath": "$.a[?(@.id == 7)].name"}, '{"a": [{"id": 7, "name": "x"}]}', True),
        ({"matchesJsonPath": "$.a[?(@.id == 7)].name"}, '{"a": [{"id": 8, "name": "x"}]}', False),
        # ... and the pattern beside it gets each item of a list selected, or its JSON text
        # for equalToJson; absent, when nothing was selected
        ({"matchesJsonPath": {"expression": "$.a", "equalTo": "b"}}, '{"a": ["a", "b"]}', True),
        ({"matchesJsonPath": {"expression": "$.a[*]", "equalTo": "2"}}, '{"a": [1, 2]}', True),
        (
            {"matchesJsonPath": {"expression": "$.a[?(@.id == 7)].name", "equalTo": "x"}},
            '{"a": [{"id": 7, "name": "x"}]}',
            True,
        ),
        ({"matchesJsonPath": {"expression": "$.a", "equalToJson": [2, 1]}}, '{"a": [1, 2]}', False),
        ({"matchesJsonPath": {"expression": "$.a", "equalToJson": [1, 2]}}, '{"a": [1, 2]}', True),
        ({"matchesJsonPath": {"expression": "$.a", "equalToJson": '"b"'}}, '{"a": "b"}', False),
        ({"matchesJsonPath": {"expression": "$.a", "equalToJson": {}}}, '{"a": {}}', True),
        ({"matchesJsonPath": {"expression": "$.a", "absent": True}}, '{"b": 1}', True),
        ({"matchesJsonPath": {"expression": "$.a", "absent": True}}, '{"a": 1}', False),
        ({"matchesJsonPath": {"expression": "$.a[*]", "absent": True}}, '{"a": []}', True),
        # equalToJson reads JsonUnit's placeholders, as WireMock does
        ({"equalToJson": {"id": "${json-unit.ignore}"}}, '{"id": [1]}', True),
        ({"equalToJson": {"id": "${json-unit.ignore}"}}, "{}", False),
        ({"equalToJson": {"id": "${json-unit.ignore-element}"}}, "{}", True),
        ({"equalToJson": {"id": "${json-unit.missing-or-null}"}}, '{"id": null}', True),
        ({"equalToJson": {"id": "${json-unit.missing-or-null}"}}, '{"id": 0}', False),
        ({"equalToJson": '{"id": "${json-unit.any-string}"}'}, '{"id": "x"}', True),
        ({"equalToJson": {"id": "${json-unit.any-string}"}}, '{"id": 7}', False),
        ({"equalToJson": {"id": "${json-unit.any-number}"}}, '{"id": 7.5}', True),
        ({"equalToJson": {"id": "${json-unit.any-number}"}}, '{"id": true}', False),
        ({"equalToJson": {"id": "${json-unit.any-boolean}"}}, '{"id": false}', True),
        ({"equalToJson": {"id": "${json-unit.any-array}"}}, '{"id": []}', True),
        ({"equalToJson": {"id": "${json-unit.regex}[a-z]+"}}, '{"id": "abc"}', True),
        ({"equalToJson": {"id": "${json-unit.regex}[a-z]+"}}, '{"id": "abc1"}', False),
        ({"equalToJson": {"id": "${json-unit.any-string}"}}, '{"id": "x", "b": 1}', False),
    ],
)
def test_value_pattern(pattern: dict[str, Any], value: str | None, expected: bool) -> None:
    assert parse_value_pattern("p", pattern).matches(value) is expected


@pytest.mark.parametrize(
    ("received", "expected", "options", "equal"),
    [
        ({"a": 1}, {"a": 1}, {}, True),
        ({"a": True}, {"a": 1}, {}, False),  # JSON true is not 1
        ([1, [2, 3]], [1, [3, 2]], {"ignore_array_order": True}, True),
        ([1, 1, 2], [1, 2, 2], {"ignore_array_order": True}, False),  # multisets, not sets
        ({"a": {"b": 1, "c": 2}}, {"a": {"b": 1}}, {"ignore_extra_elements": True}, True),
        ({"a": {"b": 1}}, {"a": {"b": 1, "c": 2}}, {"ignore_extra_elements": True}, False),
        ([{"a": 1}], {"a": 1}, {}, False),
        # ignoreExtraElements also ignores array items after those expected (JsonUnit's
        # IGNORING_EXTRA_ARRAY_ITEMS, which WireMock sets with it)
        ({"a": [1, 2, 3]}, {"a": [1, 2]}, {"ignore_extra_elements": True}, True),
        ([3, 1, 2], [1, 2], {"ignore_extra_elements": True}, False),
        ([3, 1, 2], [1, 2], {"ignore_extra_elements": True, "ignore_array_order": True}, True),
        ([1], [1, 2], {"ignore_extra_elements": True}, False),
        ([1, 2, 3], [1, 2], {}, False),
    ],
)
def test_json_equal(received: Any, expected: Any, options: dict[str, bool], equal: bool) -> None:
    assert json_equal(received, expected, **options) is equal


DOCUMENT = {
    "store": {
        "book": [{"title": "A", "price": 8}, {"title": "B", "price": 12, "isbn": "x"}],
        "bicycle": {"price": 20},
    }
}


@pytest.mark.parametrize(
    ("expression", "found"),
    [
        ("$.store.bicycle.price", [20]),
        ("$['store']['bicycle']", [{"price": 20}]),
        ("$.store.book[0].title", ["A"]),
        ("$.store.book[-1].title", ["B"]),
        ("$.store.book[*].title", ["A", "B"]),
        ("$..price", [8, 12, 20]),
        ("$.store.book[?(@.isbn)]", [{"title": "B", "price": 12, "isbn": "x"}]),
        ("$.store.book[?(@.price < 10)]", [{"title": "A", "price": 8}]),
        ("$.store.book[?(@.price > 10)].title", ["B"]),  # steps go on after a filter
        ("$.nothing", []),
    ],
)
def test_json_path(expression: str, found: list[Any]) -> None:
    assert json_path(expression, DOCUMENT) == found


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ({"request": {"method": "GET"}, "respnse": {}}, "mapping.respnse: unknown field"),
        ({"request": {"urlPathh": "/x"}}, "mapping.request.urlPathh: unknown field"),
        ({"request": {"cookies": {}}}, "mapping.request.cookies: this WireMock field is not"),
        (
            {"request": {"bodyPatterns": [{"equalsTo": "x"}]}},
            "mapping.request.bodyPatterns[0]: give exactly one of",
        ),
        (
            {"request": {"headers": {"A": {"equalTo": "x", "ignoreCase": True}}}},
            "mapping.request.headers.A.ignoreCase: unknown field beside 'equalTo'",
        ),
        (
            {"request": {"bodyPatterns": [{"equalToXml": "<a/>"}]}},
            "mapping.request.bodyPatterns[0].equalToXml: this WireMock matcher is not supported",
        ),
        ({"request": {"url": "/a", "urlPath": "/a"}}, "give one of url, urlPattern"),
        (
            {"request": {}, "response": {"status": 99}},
            "mapping.response.status: an int from 100 to 599",
        ),
        (
            {"request": {}, "response": {"transformers": ["x"]}},
            "mapping.response.transformers: this WireMock",
        ),
        ({"request": {}, "response": {"body": "a", "jsonBody": {}}}, "give one of body, jsonBody"),
        ({"request": {}, "newScenarioState": "x"}, "need a scenarioName"),
        ({"priority": 0}, "mapping.priority: a positive int"),
        (
            {"request": {"bodyPatterns": [{"matchesJsonPath": "$.a[?(@.b =~ /x/)]"}]}},
            "understudy reads simple JSON paths",
        ),
        (
            {"request": {"urlPathPattern": "/a(?=b)"}},
            "mapping.request.urlPathPattern: RE2 cannot compile it (invalid perl operator: (?=)",
        ),
        (
            {"request": {"headers": {"A": {"matches": "(x)\\1"}}}},
            "mapping.request.headers.A.matches: RE2 cannot compile it (invalid escape",
        ),
        (
            {"request": {"bodyPatterns": [{"doesNotMatch": "x\\Z"}]}},
            "write \\z instead of \\Z",
        ),
        ({"request": {"urlPattern": "/\ud800"}}, "lone surrogate (U+D800)"),
        ({"request": {"urlPattern": "(a"}}, "missing ): (a"),
        ({}, "mapping.request: required"),
        ({"response": {"body": "x"}}, "mapping.request: required"),
        (
            {"request": {}, "response": {"fixedDelayMilliseconds": 1e300}},
            "fixedDelayMilliseconds: milliseconds from 0 to 3600000 (one hour), not 1e+300",
        ),
        (
            {"request": {}, "response": {"fixedDelayMilliseconds": float("nan")}},
            "fixedDelayMilliseconds: milliseconds from 0 to 3600000",
        ),
        (
            {"request": {}, "response": {"jsonBody": {"a": [float("nan")]}}},
            "mapping.response.jsonBody: holds NaN or Infinity",
        ),
        (
            {"request": {}, "response": {"jsonBody": float("-inf")}},
            "mapping.response.jsonBody: holds NaN or Infinity",
        ),
        (
            {"request": {"bodyPatterns": [{"equalToJson": {"a": "${json-unit.matches:id}"}}]}},
            "equalToJson: '${json-unit.matches:id}' is not a placeholder understudy reads",
        ),
        (
            {"request": {"bodyPatterns": [{"equalToJson": ["${json-unit.regex}(a"]}]}},
            "equalToJson: '${json-unit.regex}(a': RE2 cannot compile it",
        ),
    ],
)
def test_mapping_errors_name_the_field(mapping: dict[str, Any], message: str) -> None:
    with pytest.raises(MappingError) as caught:
        parse_mapping(mapping)
    assert message in str(caught.value)


def test_a_mapping_without_request_suggests_json_that_parses() -> None:
    with pytest.raises(MappingError) as caught:
        parse_mapping({"response": {"body": "x"}})
    suggested = str(caught.value).partition("such as ")[2].partition(" (")[0]
    assert json.loads(suggested) == {"method": "GET", "urlPath": "/users"}


def test_null_members_read_as_absent() -> None:
    stub = parse_mapping(
        {"name": None, "request": {"url": "/x", "headers": None}, "response": {"body": None}}
    )
    assert (stub.name, stub.request.url, stub.request.headers, stub.response.body) == (
        None,
        ("url", "/x"),
        {},
        b"",
    )


def test_a_document_of_mappings_names_the_item() -> None:
    with pytest.raises(MappingError, match=r"mapping\.mappings\[1\]\.request\.verb: unknown"):
        parse_mappings_document({"mappings": [{"request": {}}, {"request": {"verb": "GET"}}]})


def test_request_pattern_differences_are_per_field() -> None:
    pattern = parse_request_pattern(
        "request",
        {
            "method": "POST",
            "urlPath": "/a",
            "queryParameters": {"q": {"equalTo": "1"}},
            "headers": {"X-Key": {"absent": True}},
            "bodyPatterns": [{"contains": "hello"}],
        },
    )
    found = pattern.differences(
        method="GET",
        target="/b?q=2",
        query=[("q", "2")],
        headers=[("x-key", "k")],
        body=b"bye",
    )
    assert [d.field for d in found] == ["method", "urlPath", "query q", "header X-Key", "body"]
    assert str(found[1]) == "urlPath: expected '/a', got '/b'"
    assert str(found[3]) == "header X-Key: expected absent, got 'k'"


# -- the mapping files, replayed ----------------------------------------------------------------


@pytest.fixture
def stubbed(http: Version) -> Any:
    with http.server(mappings=DATA) as server:
        yield server


def test_body_status_message_and_headers(stubbed: understudy.HTTPServer, http: Version) -> None:
    response = http.get(stubbed.url + "/hello", timeout=5)
    assert (response.status_code, response.content) == (200, b"Hello")
    if http.name == "1.1":  # (HTTP/2 has no reason phrase, RFC 9113 §8.3.2)
        assert response.reason_phrase == "Fine"
    assert response.headers["Content-Type"] == "text/plain"
    assert response.headers.get_list("X-Multi") == ["one", "two"]


def test_url_matchers_and_query_parameters(stubbed: understudy.HTTPServer, http: Version) -> None:
    assert http.get(stubbed.url + "/search?q=cats&page=2", timeout=5).json() == {"results": ["cat"]}
    assert http.get(stubbed.url + "/items/42?full=no", timeout=5).text == "item"
    user = http.delete(
        stubbed.url + "/users/ann",
        headers={"Accept": "application/json", "Authorization": "token ABC", "X-Trace": "ok"},
        timeout=5,
    )
    assert user.json() == {"user": True}


@pytest.mark.parametrize(
    "target",
    [
        "/search?q=cats&page=x",  # matches: not a number
        "/search?q=cats&page=2&debug=1",  # absent: sent
        "/search?q=dogs&page=2",  # equalTo
        "/items/42?full=maybe",  # urlPattern covers the query
    ],
)
def test_a_request_outside_the_mappings_is_unmatched(
    stubbed: understudy.HTTPServer, http: Version, target: str
) -> None:
    response = http.get(stubbed.url + target, timeout=5)
    assert response.status_code == 404
    assert "Nearest expectations:" in response.text
    with pytest.raises(understudy.UnexpectedRequest):
        stubbed.check()


def test_header_patterns_refuse(tmp_path: Path, http: Version) -> None:
    mapping = {
        "request": {"urlPath": "/users", "headers": {"X-Trace": {"doesNotMatch": "bad.*"}}},
        "response": {"status": 204},
    }
    (tmp_path / "users.json").write_text(json.dumps(mapping))
    with http.server(mappings=tmp_path) as server:
        ok = http.get(server.url + "/users", headers={"X-Trace": "ok"}, timeout=5)
        assert ok.status_code == 204
        response = http.get(server.url + "/users", headers={"X-Trace": "bad-1"}, timeout=5)
        assert response.status_code == 404
        assert 'header X-Trace: expected {"doesNotMatch": "bad.*"}, got \'bad-1\'' in (
            response.text
        )
        with pytest.raises(understudy.UnexpectedRequest, match="header X-Trace"):
            server.check()


def test_body_patterns(stubbed: understudy.HTTPServer, http: Version) -> None:
    order = {"customer": {"id": 7, "name": "Ann"}, "items": [3, 1, 2]}
    created = http.post(stubbed.url + "/orders", json=order, timeout=5)
    assert (created.status_code, created.headers["Location"]) == (201, "/orders/1")
    search = {"filters": [{"kind": "colour"}, {"kind": "size"}], "limit": 10}
    assert http.post(stubbed.url + "/orders/search", json=search, timeout=5).text == "found"
    note = http.post(stubbed.url + "/notes", data=b"urgent: call back", timeout=5)
    assert note.status_code == 202
    assert http.put(stubbed.url + "/ping", data=b"ping", timeout=5).text == "pong"


def test_body_patterns_refuse(stubbed: understudy.HTTPServer, http: Version) -> None:
    wrong = {"customer": {"id": 8}, "items": [1, 2, 3]}
    for path, body in (("/notes", b"urgent spam"), ("/orders", json.dumps(wrong).encode())):
        assert http.post(stubbed.url + path, data=body, timeout=5).status_code == 404
        with pytest.raises(understudy.UnexpectedRequest, match="body: expected"):
            stubbed.check()


def test_base64_body_and_body_file(stubbed: understudy.HTTPServer, http: Version) -> None:
    pixel = http.get(stubbed.url + "/pixel.gif", timeout=5)
    assert pixel.content == base64.b64decode(
        "R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw=="
    )
    report = http.get(stubbed.url + "/report", timeout=5)
    assert report.content == (DATA / "__files" / "report.html").read_bytes()
    assert report.headers["Content-Type"] == "text/html; charset=utf-8"


def test_priority_and_fixed_delay(stubbed: understudy.HTTPServer, http: Version) -> None:
    # priority 1 wins over priority 10, though the lower one was loaded later
    assert http.get(stubbed.url + "/priority", timeout=5).text == "high"
    assert http.get(stubbed.url + "/priority/other", timeout=5).text == "low"
    assert http.get(stubbed.url + "/slow", timeout=5).text == "slow"


def test_scenario_moves_between_states(stubbed: understudy.HTTPServer, http: Version) -> None:
    assert http.get(stubbed.url + "/cart", timeout=5).json() == {"items": []}
    assert http.post(stubbed.url + "/cart", timeout=5).status_code == 201
    assert http.get(stubbed.url + "/cart", timeout=5).json() == {"items": ["book"]}
    # in state "Filled" nothing answers POST /cart; the report says which state was needed
    assert http.post(stubbed.url + "/cart", timeout=5).status_code == 404
    with pytest.raises(understudy.UnexpectedRequest, match="scenario 'Cart'"):
        stubbed.check()


def test_mapped_requests_are_journaled_and_verifiable(
    stubbed: understudy.HTTPServer, http: Version
) -> None:
    http.get(stubbed.url + "/hello", timeout=5)
    [request] = stubbed.wait_for_requests(1)
    assert request.path == "/hello"
    stubbed.assert_requested("GET", "/hello", times=1)


def test_an_expectation_added_later_overrides_a_mapping(
    stubbed: understudy.HTTPServer, http: Version
) -> None:
    stubbed.expect("GET", "/hello").respond(200, body=b"overridden")
    assert http.get(stubbed.url + "/hello", timeout=5).text == "overridden"


def test_load_mappings_from_one_file(tmp_path: Path) -> None:
    file = tmp_path / "one.json"
    file.write_text(json.dumps({"request": {"url": "/x"}, "response": {"jsonBody": [1]}}))
    with understudy.HTTPServer() as server:
        server.load_mappings(file)
        assert requests.get(server.url + "/x", timeout=5).json() == [1]


def test_mappings_loaded_while_a_handler_serves_take_their_requests(tmp_path: Path) -> None:
    """Requests go straight to the handler until a mapping is loaded (see _routing_changed);
    reloading a mapping by its id (removed, then added) keeps it answering."""
    file = tmp_path / "one.json"
    mapping = {"id": "x", "request": {"url": "/x"}, "response": {"jsonBody": [1]}}
    file.write_text(json.dumps(mapping))
    with understudy.HTTPServer(handler=lambda request: f"handler {request.path}") as server:
        assert requests.get(server.url + "/x", timeout=5).text == "handler /x"
        server.load_mappings(file)
        assert requests.get(server.url + "/x", timeout=5).json() == [1]
        server.load_mappings(file)
        assert requests.get(server.url + "/x", timeout=5).json() == [1]
        assert requests.get(server.url + "/y", timeout=5).text == "handler /y"
        server.check()


def test_mappings_loaded_before_a_bad_file_answer_beside_a_handler(tmp_path: Path) -> None:
    """load_mappings adds the files in order and stops at a bad one: those it added are the
    server's mappings, so they answer, however the handler was being reached before."""
    (tmp_path / "a.json").write_text(
        json.dumps({"request": {"url": "/x"}, "response": {"jsonBody": [1]}})
    )
    (tmp_path / "b.json").write_text("{")
    with understudy.HTTPServer(handler=lambda request: f"handler {request.path}") as server:
        assert requests.get(server.url + "/x", timeout=5).text == "handler /x"
        with pytest.raises(understudy.ConfigurationError, match=r"b\.json"):
            server.load_mappings(tmp_path)
        assert requests.get(server.url + "/x", timeout=5).json() == [1]
        assert requests.get(server.url + "/y", timeout=5).text == "handler /y"
        server.check()


def test_unknown_field_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "mappings").mkdir()
    bad = tmp_path / "mappings" / "bad.json"
    bad.write_text(json.dumps({"request": {"url": "/x", "metod": "GET"}}))
    with pytest.raises(understudy.ConfigurationError) as caught:
        understudy.HTTPServer(mappings=tmp_path)
    assert str(bad) in str(caught.value)
    assert "mapping.request.metod: unknown field" in str(caught.value)


def test_not_json_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(understudy.ConfigurationError, match=r"broken\.json"):
        understudy.HTTPServer(mappings=tmp_path)


def test_json_bodies_in_files_beside_the_mappings_are_not_mappings(tmp_path: Path) -> None:
    # (__files inside the mappings directory, a layout _files_dir looks in: its .json are bodies)
    (tmp_path / "__files").mkdir()
    (tmp_path / "__files" / "user.json").write_text('{"name": "ann"}')
    (tmp_path / "user.json").write_text(
        json.dumps({"request": {"urlPath": "/user"}, "response": {"bodyFileName": "user.json"}})
    )
    with understudy.HTTPServer(mappings=tmp_path) as server:
        reply = requests.get(server.url + "/user", timeout=5)
    assert reply.status_code == 200
    assert reply.json() == {"name": "ann"}


def test_body_file_may_not_escape_files(tmp_path: Path) -> None:
    (tmp_path / "__files").mkdir()
    (tmp_path / "secret").write_text("no")
    (tmp_path / "m.json").write_text(
        json.dumps({"request": {"url": "/x"}, "response": {"bodyFileName": "../secret"}})
    )
    with pytest.raises(understudy.ConfigurationError, match="is outside"):
        understudy.HTTPServer(mappings=tmp_path)


def test_missing_mappings_path(tmp_path: Path) -> None:
    with pytest.raises(understudy.ConfigurationError, match="neither a file nor a directory"):
        understudy.HTTPServer(mappings=tmp_path / "nope")


# -- patterns from mappings are data: matched in linear time -----------------------------------

CATASTROPHIC = "/api/(a+)+b"  # a backtracking engine takes 2^n steps for n a's and no b


@pytest.mark.parametrize(
    "request_pattern",
    [
        {"urlPathPattern": CATASTROPHIC},
        {"urlPattern": CATASTROPHIC + ".*"},
        {"headers": {"X-Id": {"matches": "(a+)+b"}}},
        {"queryParameters": {"q": {"doesNotMatch": "(a+)+b"}}, "urlPath": "/never"},
        {"bodyPatterns": [{"matches": "(a|aa)+b"}]},
    ],
)
def test_a_catastrophic_pattern_in_a_mapping_does_not_hold_the_loop(
    request_pattern: dict[str, Any],
) -> None:
    """With Python's re, 60 a's would take longer than the universe has left, on the loop
    thread every server shares; RE2 answers (and writes the near-miss report) at once."""
    subject = "a" * 60 + "!"
    mapping = {"request": {"method": "POST", **request_pattern}, "response": {"body": "x"}}
    with (
        understudy.HTTPServer(admin=True) as server,
        understudy.HTTPServer(response=understudy.Response(200, body="other")) as other,
    ):
        assert requests.post(server.url + "/__admin/mappings", json=mapping, timeout=5).ok
        answer = requests.post(
            f"{server.url}/api/{subject}?q={subject}",
            headers={"X-Id": subject},
            data=subject,
            timeout=5,
        )
        assert answer.status_code == 404
        assert "Nearest expectations:" in answer.text
        assert requests.get(other.url, timeout=5).text == "other"
        with pytest.raises(understudy.UnexpectedRequest):
            server.check()


def test_a_pattern_re2_cannot_compile_is_refused_with_422(tmp_path: Path) -> None:
    mapping = {"request": {"urlPathPattern": "/(?!admin).*"}, "response": {}}
    with understudy.HTTPServer(admin=True) as server:
        answer = requests.post(server.url + "/__admin/mappings", json=mapping, timeout=5)
        assert answer.status_code == 422
        assert "RE2 cannot compile it" in answer.json()["errors"][0]["title"]
    (tmp_path / "m.json").write_text(json.dumps(mapping))
    with pytest.raises(understudy.ConfigurationError, match="no lookaround"):
        understudy.HTTPServer(mappings=tmp_path / "m.json")
