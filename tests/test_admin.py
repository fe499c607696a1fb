"""WireMock's admin API under /__admin: driven with requests and with the wiremock package."""

from __future__ import annotations

import http.client
import json
import shutil
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

import understudy
from versions import Version

DATA = Path(__file__).parent / "data" / "wiremock"

HELLO_ID = "8c5db8b0-2db4-4ad7-a99f-38c9b00da3f7"


@pytest.fixture
def admin(http: Version) -> Iterator[understudy.HTTPServer]:
    with http.server(admin=True) as server:
        yield server


def test_admin_is_off_by_default() -> None:
    with pytest.raises(understudy.UnexpectedRequest), understudy.HTTPServer() as server:
        assert requests.get(server.url + "/__admin/mappings", timeout=5).status_code == 404


def test_mappings_crud(admin: understudy.HTTPServer, http: Version) -> None:
    base = admin.url + "/__admin/mappings"
    mapping = {"request": {"method": "GET", "url": "/a"}, "response": {"body": "one"}}
    created = http.post(base, json=mapping, timeout=5)
    assert created.status_code == 201
    ident = created.json()["id"]
    assert http.get(admin.url + "/a", timeout=5).text == "one"

    listed = http.get(base, timeout=5).json()
    assert listed["meta"] == {"total": 1}
    assert listed["mappings"][0]["id"] == ident
    assert http.get(f"{base}/{ident}", timeout=5).json()["response"] == {"body": "one"}

    changed = {"request": {"method": "GET", "url": "/a"}, "response": {"body": "two"}}
    assert http.put(f"{base}/{ident}", json=changed, timeout=5).json()["id"] == ident
    assert http.get(admin.url + "/a", timeout=5).text == "two"

    assert http.delete(f"{base}/{ident}", timeout=5).status_code == 200
    assert http.get(f"{base}/{ident}", timeout=5).status_code == 404
    assert http.get(base, timeout=5).json()["mappings"] == []


@pytest.mark.parametrize("host", ["wsgi", "asgi"])
def test_an_admin_request_whose_body_comes_later_reaches_the_admin_api(host: str) -> None:
    """With an app that streams request bodies, the admin API still gets its requests."""

    def wsgi_app(environ: Any, start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"from the app"]

    async def asgi_app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"from the app"})

    app = {"wsgi": wsgi_app} if host == "wsgi" else {"asgi": asgi_app}
    with understudy.HTTPServer(admin=True, **app) as server:
        body = json.dumps({"request": {"url": "/a"}, "response": {"body": "stub"}}).encode()
        connection = http.client.HTTPConnection(server.host, server.port, timeout=5)
        try:
            connection.putrequest("POST", "/__admin/mappings")
            connection.putheader("Content-Length", str(len(body)))
            connection.putheader("Expect", "100-continue")  # (the head alone, then the body)
            connection.endheaders()
            assert connection.sock is not None
            interim = connection.sock.recv(64)
            connection.send(body)
            answer = connection.getresponse()
            assert (interim, answer.status) == (b"HTTP/1.1 100 Continue\r\n\r\n", 201)
            answer.read()
        finally:
            connection.close()
        assert requests.get(server.url + "/a", timeout=5).text == "stub"


@pytest.mark.parametrize("host", ["wsgi", "asgi"])
def test_an_app_beside_the_admin_api_still_gets_a_body_as_it_arrives(host: str) -> None:
    """Only the admin API's own requests are read whole: the app's stream as they arrive."""
    first = threading.Event()
    parts: list[bytes] = []

    def wsgi_app(environ: Any, start_response: Any) -> list[bytes]:
        parts.append(environ["wsgi.input"].read(3))  # (returns with the first chunk)
        first.set()
        parts.append(environ["wsgi.input"].read())
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"|".join(parts)]

    async def asgi_app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        while True:
            message = await receive()
            parts.append(message["body"])
            first.set()
            if not message["more_body"]:
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"|".join(parts)})

    app = {"wsgi": wsgi_app} if host == "wsgi" else {"asgi": asgi_app}
    with (
        understudy.HTTPServer(admin=True, **app) as server,
        socket.create_connection(server.address, 5) as sock,
    ):
        sock.sendall(
            b"PUT /up HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\none\r\n"
        )
        assert first.wait(5)  # the app has the first part while the rest is unsent
        sock.sendall(b"3\r\ntwo\r\n0\r\n\r\n")
        answer = http.client.HTTPResponse(sock)
        answer.begin()
        body = answer.read()
    assert (answer.status, body.replace(b"|", b"")) == (200, b"onetwo")


def test_a_bad_mapping_is_refused_naming_the_field(
    admin: understudy.HTTPServer, http: Version
) -> None:
    bad = {"request": {"method": "GET", "urlPathh": "/a"}}
    answer = http.post(admin.url + "/__admin/mappings", json=bad, timeout=5)
    assert answer.status_code == 422
    assert "mapping.request.urlPathh: unknown field" in answer.json()["errors"][0]["title"]


def test_reset_goes_back_to_the_files(http: Version) -> None:
    with http.server(mappings=DATA, admin=True) as server:
        base = server.url + "/__admin/mappings"
        total = http.get(base, timeout=5).json()["meta"]["total"]
        http.delete(f"{base}/{HELLO_ID}", timeout=5)
        http.post(base, json={"request": {"url": "/new"}}, timeout=5)
        assert http.post(base + "/reset", timeout=5).status_code == 200
        after = http.get(base, timeout=5).json()
        assert after["meta"]["total"] == total
        assert HELLO_ID in [m["id"] for m in after["mappings"]]
        assert http.delete(base, timeout=5).status_code == 200
        assert http.get(base, timeout=5).json()["mappings"] == []


@pytest.mark.parametrize("reset", ["/__admin/reset", "/__admin/mappings/reset"])
def test_a_reset_whose_files_are_gone_says_so_and_changes_nothing(
    http: Version, tmp_path: Path, reset: str
) -> None:
    root = tmp_path / "wiremock"
    shutil.copytree(DATA, root)
    with http.server(mappings=root, admin=True) as server:
        base = server.url + "/__admin/mappings"
        http.post(base, json={"request": {"url": "/new"}}, timeout=5)
        before = http.get(base, timeout=5).json()
        shutil.rmtree(root)
        answer = http.post(server.url + reset, timeout=5)
        assert answer.status_code == 500
        title = answer.json()["errors"][0]["title"]
        assert "the mappings cannot be read again" in title
        assert str(root) in title
        assert http.get(base, timeout=5).json() == before
        server.check()


def test_journal_count_and_unmatched(admin: understudy.HTTPServer, http: Version) -> None:
    admin.expect("GET", "/known").respond(200)
    http.get(admin.url + "/known?x=1", headers={"X-A": "1"}, timeout=5)
    http.get(admin.url + "/known?x=2", timeout=5)
    assert http.get(admin.url + "/unknown", timeout=5).status_code == 404
    with pytest.raises(understudy.UnexpectedRequest):
        admin.check()

    journal = http.get(admin.url + "/__admin/requests", timeout=5).json()
    assert journal["meta"] == {"total": 3}  # admin requests are not journaled
    newest = journal["requests"][0]
    assert (newest["request"]["url"], newest["wasMatched"]) == ("/unknown", False)
    oldest = journal["requests"][-1]["request"]
    name = "X-A" if http.name == "1.1" else "x-a"  # (HTTP/2 names are lower-case, §8.2.1)
    assert oldest["headers"][name] == "1"
    assert oldest["queryParams"]["x"] == {"key": "x", "values": ["1"]}

    count = http.post(
        admin.url + "/__admin/requests/count",
        json={"method": "GET", "urlPath": "/known", "queryParameters": {"x": {"equalTo": "2"}}},
        timeout=5,
    )
    assert count.json() == {"count": 1}
    unmatched = http.get(admin.url + "/__admin/requests/unmatched", timeout=5).json()
    assert [r["url"] for r in unmatched["requests"]] == ["/unknown"]
    assert [r.path for r in admin.requests] == ["/known", "/known", "/unknown"]


def test_near_misses(admin: understudy.HTTPServer, http: Version) -> None:
    for url in ("/orders", "/users"):
        http.post(
            admin.url + "/__admin/mappings",
            json={"request": {"method": "GET", "url": url}, "response": {}},
            timeout=5,
        )
    near = http.post(
        admin.url + "/__admin/near-misses/request",
        json={"url": "/orders", "method": "POST"},
        timeout=5,
    ).json()["nearMisses"]
    assert near[0]["stubMapping"]["request"]["url"] == "/orders"
    assert near[0]["matchResult"]["distance"] < near[1]["matchResult"]["distance"]
    assert near[0]["differences"] == ["method: expected 'GET', got 'POST'"]


def test_scenarios_reset_and_full_reset(http: Version) -> None:
    with http.server(mappings=DATA, admin=True) as server:
        http.post(server.url + "/cart", timeout=5)
        scenarios = http.get(server.url + "/__admin/scenarios", timeout=5).json()
        assert scenarios["scenarios"][0]["state"] == "Filled"
        http.post(server.url + "/__admin/scenarios/reset", timeout=5)
        assert http.get(server.url + "/cart", timeout=5).json() == {"items": []}
        assert http.post(server.url + "/__admin/reset", timeout=5).status_code == 200
        assert server.requests == []


def test_unknown_admin_route(admin: understudy.HTTPServer, http: Version) -> None:
    answer = http.get(admin.url + "/__admin/nothing", timeout=5)
    assert answer.status_code == 404
    assert "no GET /__admin/nothing" in answer.json()["errors"][0]["title"]


def test_the_wiremock_client_creates_a_stub_and_counts(admin: understudy.HTTPServer) -> None:
    from wiremock.constants import Config  # noqa: PLC0415 - a global the test sets and restores
    from wiremock.resources.mappings import (  # noqa: PLC0415
        HttpMethods,
        Mapping,
        MappingRequest,
        MappingResponse,
    )
    from wiremock.resources.mappings.resource import Mappings  # noqa: PLC0415
    from wiremock.resources.near_misses import NearMissMatchPatternRequest  # noqa: PLC0415
    from wiremock.resources.requests.resource import Requests  # noqa: PLC0415

    previous = Config.base_url
    Config.base_url = admin.url + "/__admin"
    try:
        mapping = Mappings.create_mapping(
            Mapping(
                priority=100,
                request=MappingRequest(method=HttpMethods.GET, url="/greeting"),
                response=MappingResponse(status=200, body="hi", headers={"X-Stub": "yes"}),
                persistent=False,
            )
        )
        for _ in range(2):
            answer = requests.get(admin.url + "/greeting", timeout=5)
            assert (answer.text, answer.headers["X-Stub"]) == ("hi", "yes")
        pattern = NearMissMatchPatternRequest(url="/greeting", method="GET")
        assert Requests.get_matching_request_count(pattern).count == 2
        assert Mappings.retrieve_mapping(mapping.id).response.body == "hi"
        assert [m.id for m in Mappings.retrieve_all_mappings().mappings] == [mapping.id]
        Mappings.delete_mapping(mapping.id)
        assert Mappings.retrieve_all_mappings().mappings == []
    finally:
        Config.base_url = previous


def test_an_admin_token_guards_the_admin_api() -> None:
    """Without the token: 401 with a Bearer challenge, nothing done, journaled as a request."""
    with understudy.HTTPServer(admin=True, admin_token="s3cret") as server:
        base = server.url + "/__admin"
        mapping = {"request": {"method": "GET", "url": "/a"}, "response": {"body": "one"}}
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic s3cret"}):
            refused = requests.post(base + "/mappings", json=mapping, headers=headers, timeout=5)
            assert refused.status_code == 401
            assert refused.headers["WWW-Authenticate"].startswith("Bearer ")
            assert "Authorization: Bearer" in refused.json()["errors"][0]["title"]
        assert server._stubs.mappings_json() == []
        assert [r.headers.get("Authorization") for r in server.requests] == [
            None,
            "Bearer wrong",
            "Basic s3cret",
        ]
        server.clear()
        bearer = {"Authorization": "Bearer s3cret"}
        created = requests.post(base + "/mappings", json=mapping, headers=bearer, timeout=5)
        assert created.status_code == 201
        # WireMock's own clients (TokenAuthenticator) send the scheme "Token"
        listed = requests.get(
            base + "/mappings", headers={"Authorization": "Token s3cret"}, timeout=5
        )
        assert listed.json()["meta"] == {"total": 1}
        assert server.requests == []  # admin calls that carry the token are not journaled


def test_the_wiremock_client_sends_the_admin_token() -> None:
    from wiremock.constants import Config  # noqa: PLC0415 - a global the test sets and restores
    from wiremock.exceptions import RequiresLoginException  # noqa: PLC0415
    from wiremock.resources.mappings.resource import Mappings  # noqa: PLC0415

    with understudy.HTTPServer(admin=True, admin_token="s3cret") as server:
        previous = Config.base_url, Config.headers
        Config.base_url = server.url + "/__admin"
        try:
            with pytest.raises(RequiresLoginException):
                Mappings.retrieve_all_mappings()
            Config.headers = {**previous[1], "Authorization": "Bearer s3cret"}
            assert Mappings.retrieve_all_mappings().mappings == []
        finally:
            Config.base_url, Config.headers = previous


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"admin_token": "s3cret"}, "give admin=True too"),
        ({"admin": True, "admin_token": ""}, "admin_token must be a non-empty str"),
        ({"admin": True, "admin_token": "two words"}, "visible ASCII"),
    ],
)
def test_a_bad_admin_token_is_refused(options: dict[str, Any], message: str) -> None:
    with pytest.raises(understudy.ConfigurationError, match=message):
        understudy.HTTPServer(**options)


# -- bad payloads: an answer, never a hang --------------------------------------------------

DEEP = "[" * 100_000 + "]" * 100_000


def _post_raw(server: understudy.HTTPServer, path: str, body: str) -> tuple[int, Any]:
    """POST ``body`` as sent (a client library would refuse some shapes); status and JSON."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        connection.request("POST", path, body=body.encode("utf-8", "surrogatepass"))
        answer = connection.getresponse()
        return answer.status, json.loads(answer.read())
    finally:
        connection.close()


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        ("/__admin/near-misses/request", '{"url": "/x", "headers": [1]}', "headers"),
        ("/__admin/near-misses/request", '{"url": "/x", "body": 5}', "body"),
        ("/__admin/mappings", DEEP, "nested"),
        ("/__admin/requests/find", DEEP, "nested"),
        ("/__admin/requests/count", DEEP, "nested"),
        ("/__admin/mappings", '{"request": {}, "response": {"body": "\\ud800"}}', "surrogate"),
        (
            "/__admin/mappings",
            '{"request": {}, "response": {"statusMessage": "OK\\r\\nX-Evil: 1"}}',
            "statusMessage",
        ),
        (
            "/__admin/mappings",
            '{"request": {}, "response": {"statusMessage": "\\u20ac"}}',
            "Latin-1",
        ),
        (
            "/__admin/mappings",
            '{"request": {}, "response": {"headers": {"X": "a\\u0000b"}}}',
            "headers",
        ),
    ],
)
def test_a_bad_admin_payload_gets_422_and_stays_out_of_the_journal(
    admin: understudy.HTTPServer, http: Version, path: str, body: str, message: str
) -> None:
    status, answer = _post_raw(admin, path, body)
    assert status == 422
    assert message in answer["errors"][0]["title"]
    assert admin.requests == []
    admin.check()  # the client's mistake, answered: nothing for the test to raise
    assert http.get(admin.url + "/__admin/mappings", timeout=5).json()["mappings"] == []


# -- mappings that would answer wrongly: refused (issue 19, item 14) ----------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("", "mapping.request: required"),
        ("{}", "mapping.request: required"),
        ('{"response": {"status": 200}}', "mapping.request: required"),
        (
            '{"request": {"method": "ANY"}, "response": {"fixedDelayMilliseconds": 1e300}}',
            "fixedDelayMilliseconds: milliseconds from 0 to 3600000 (one hour)",
        ),
        (
            (
                '{"request": {"method": "ANY"}, "response": {"delayDistribution": '
                '{"type": "lognormal", "median": 1e308, "sigma": 0.1}}}'
            ),
            "delayDistribution.median: a number of milliseconds above 0 and at most 3600000",
        ),
        (
            (
                '{"request": {"method": "ANY"}, "response": {"delayDistribution": '
                '{"type": "uniform", "lower": 1, "upper": 1e300}}}'
            ),
            "delayDistribution.upper: a number of milliseconds, 1 (lower) or more and at most 3600",
        ),
        (
            (
                '{"request": {"method": "ANY"}, "response": {"chunkedDribbleDelay": '
                '{"numberOfChunks": 2, "totalDuration": 1e300}}}'
            ),
            "chunkedDribbleDelay.totalDuration: a number of milliseconds, 0 or more and at most",
        ),
        ('{"request": {"method": "ANY"}, "response": {"jsonBody": NaN}}', "NaN or Infinity"),
        (
            '{"request": {"method": "ANY"}, "response": {"jsonBody": {"a": [-Infinity]}}}',
            "NaN or Infinity",
        ),
    ],
)
def test_a_mapping_that_would_answer_wrongly_is_refused_with_422(
    admin: understudy.HTTPServer, http: Version, body: str, message: str
) -> None:
    """As WireMock: a mapping needs a request pattern (``{}`` would answer every request); a
    delay over an hour is a mistake; JSON has no NaN (RFC 8259 §6), so no body may hold one."""
    status, answer = _post_raw(admin, "/__admin/mappings", body)
    assert status == 422
    assert message in answer["errors"][0]["title"]
    assert http.get(admin.url + "/__admin/mappings", timeout=5).json()["mappings"] == []
    # nothing was added that answers: a request is unmatched
    assert http.get(admin.url + "/anything", timeout=5).status_code == 404
    with pytest.raises(understudy.UnexpectedRequest):
        admin.check()


# -- the request journal as WireMock serves it (issue 19, item 18) ------------------------------


def test_the_journal_takes_limit_and_since_as_wiremock_does(admin: understudy.HTTPServer) -> None:
    """``limit``: the newest that many; ``since``: logged strictly after an ISO 8601 time (in
    milliseconds, as loggedDate); ``meta.total`` still counts the whole journal."""
    from wiremock.constants import Config  # noqa: PLC0415 - a global the test sets and restores
    from wiremock.resources.requests.resource import Requests  # noqa: PLC0415

    admin.expect().respond(204)
    with requests.Session() as session:
        for path in ("/one", "/two", "/three"):
            session.get(admin.url + path, timeout=5)
    previous = Config.base_url
    Config.base_url = admin.url + "/__admin"
    try:
        # (parameters={}: the client's default dict is shared between calls)
        newest = Requests.get_all_received_requests(limit=1, parameters={})
        assert [r.request.url for r in newest.requests] == ["/three"]
        assert newest.meta.total == 3
        everything = Requests.get_all_received_requests(parameters={})
        assert [r.request.url for r in everything.requests] == ["/three", "/two", "/one"]
        first = everything.requests[-1].request
        later = Requests.get_all_received_requests(since=first.logged_date_string, parameters={})
    finally:
        Config.base_url = previous
    # the ones logged after the first; the first itself is not "after" its own time
    assert [r.request.url for r in later.requests] == [
        r.request.url for r in everything.requests if r.request.logged_date > first.logged_date
    ]
    assert "/one" not in [r.request.url for r in later.requests]
    journal = admin.url + "/__admin/requests"
    assert requests.get(journal, params={"limit": "0"}, timeout=5).json()["requests"] == []
    future = requests.get(journal, params={"since": "2999-01-01T00:00:00Z"}, timeout=5).json()
    assert (future["requests"], future["meta"]) == ([], {"total": 3})
    past = requests.get(journal, params={"since": "2000-01-01 00:00:00", "limit": "2"}, timeout=5)
    assert [r["request"]["url"] for r in past.json()["requests"]] == ["/three", "/two"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"limit": "-1"}, "limit: a whole number"),
        ({"limit": "x"}, "limit: a whole number"),
        ({"limit": "\u00b2"}, "limit: a whole number"),
        ({"since": "yesterday"}, "since: an ISO 8601 time"),
    ],
)
def test_a_bad_limit_or_since_gets_400_saying_what_to_write(
    admin: understudy.HTTPServer, http: Version, query: dict[str, str], message: str
) -> None:
    answer = http.get(admin.url + "/__admin/requests", params=query, timeout=5)
    assert answer.status_code == 400
    assert message in answer.json()["errors"][0]["title"]


def test_the_journal_shows_cookies_and_merges_fields_differing_in_case(
    admin: understudy.HTTPServer,
    http: Version,
) -> None:
    """WireMock's LoggedRequest: cookies by name (a list when repeated); header fields by
    name, case-insensitively (RFC 9110 §5.1), spelt as first sent, a list when repeated."""
    admin.expect().respond(204)
    with socket.create_connection(admin.address, timeout=5) as sock:
        sock.sendall(
            b"GET /c HTTP/1.1\r\nHost: x\r\nX-Trace: a\r\nx-trace: b\r\nX-TRACE: c\r\n"
            b"Cookie: session=abc; theme=dark\r\nCookie: session=def; broken; =x\r\n"
            b"Connection: close\r\n\r\n"
        )
        while sock.recv(65536):
            pass
    [served] = http.get(admin.url + "/__admin/requests", timeout=5).json()["requests"]
    logged = served["request"]
    assert logged["headers"]["X-Trace"] == ["a", "b", "c"]
    assert not {"x-trace", "X-TRACE"} & set(logged["headers"])
    assert logged["headers"]["Cookie"] == ["session=abc; theme=dark", "session=def; broken; =x"]
    assert logged["cookies"] == {"session": ["abc", "def"], "theme": "dark"}


# -- near misses ranked by string distance (issue 19, item 19) ---------------------------------


def test_near_misses_are_ranked_by_wiremock_distance(
    admin: understudy.HTTPServer, http: Version
) -> None:
    """Per field a normalised Levenshtein distance, the URL weighing 10 and the method 3 of
    18: ``/hellp`` is 10 x 1/6 / 18 from ``/hello`` whatever was added last."""
    for method, url in (
        ("GET", "/hello"),
        ("POST", "/hellp"),
        ("GET", "/goodbye"),
        ("GET", "/dyn"),
    ):
        http.post(
            admin.url + "/__admin/mappings",
            json={"request": {"method": method, "url": url}, "response": {}},
            timeout=5,
        ).raise_for_status()
    near = http.post(
        admin.url + "/__admin/near-misses/request",
        json={"url": "/hellp", "method": "GET"},
        timeout=5,
    ).json()["nearMisses"]
    assert [
        (m["stubMapping"]["request"]["method"], m["stubMapping"]["request"]["url"]) for m in near
    ] == [
        ("GET", "/hello"),
        ("POST", "/hellp"),
        ("GET", "/dyn"),
    ]
    distances = [m["matchResult"]["distance"] for m in near]
    assert distances == pytest.approx([10 * (1 / 6) / 18, 3 / 18, 10 * (5 / 6) / 18])
    assert near[0]["differences"] == ["url: expected '/hello', got '/hellp'"]


def test_a_body_of_json_nested_too_deeply_is_a_body_that_differs(
    admin: understudy.HTTPServer, http: Version
) -> None:
    """JSON nested deeper than Python reads it matches no JSON pattern: the report says the body
    differed (not that a predicate raised), and the admin API counts and finds as usual."""
    pattern = {"method": "POST", "urlPath": "/deep", "bodyPatterns": [{"equalToJson": {"a": 1}}]}
    http.post(admin.url + "/__admin/mappings", json={"request": pattern}, timeout=5)
    deep = "[" * 100_000 + "]" * 100_000
    refused = http.post(admin.url + "/deep", content=deep, timeout=5)
    assert refused.status_code == 404
    assert 'body: expected {"equalToJson": {"a": 1}}' in refused.text
    assert "predicate" not in refused.text
    with pytest.raises(understudy.UnexpectedRequest):
        admin.check()
    for path in ("$.a", "$..a"):
        count = http.post(
            admin.url + "/__admin/requests/count",
            json={"bodyPatterns": [{"matchesJsonPath": path}]},
            timeout=5,
        )
        assert (count.status_code, count.json()) == (200, {"count": 0})
    count = http.post(admin.url + "/__admin/requests/count", json=pattern, timeout=5)
    assert (count.status_code, count.json()) == (200, {"count": 0})
    admin.check()  # (no handler raised)


def test_a_json_criterion_says_a_body_nested_too_deeply_differs() -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    server = understudy.HTTPServer()
    with server:
        assert requests.post(server.url + "/deep", data=deep, timeout=5).status_code == 404
        wanted = r"json: expected \{'a': 1\}, got JSON nested too deeply: b'\[\[\["
        with pytest.raises(understudy.UnmetExpectation, match=wanted):
            server.assert_requested("POST", "/deep", json={"a": 1})
        with pytest.raises(understudy.UnexpectedRequest):
            server.check()


def test_an_edited_mapping_keeps_its_precedence(
    admin: understudy.HTTPServer, http: Version
) -> None:
    """As WireMock keeps an edited stub's insertion index: a mapping added after it still wins."""
    base = admin.url + "/__admin/mappings"
    first = {"request": {"method": "GET", "url": "/x"}, "response": {"body": "first"}}
    ident = http.post(base, json=first, timeout=5).json()["id"]
    later = {"request": {"method": "GET", "url": "/x"}, "response": {"body": "later"}}
    http.post(base, json=later, timeout=5)
    edited = {"request": {"method": "GET", "url": "/x"}, "response": {"body": "edited"}}
    assert http.put(f"{base}/{ident}", json=edited, timeout=5).status_code == 200
    assert http.get(admin.url + "/x", timeout=5).text == "later"
    assert http.get(base, timeout=5).json()["mappings"][0]["id"] == ident
    http.delete(base, timeout=5)
    assert http.get(admin.url + "/x", timeout=5).status_code == 404
    with pytest.raises(understudy.UnexpectedRequest):
        admin.check()
