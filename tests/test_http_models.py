"""Request, Response, Headers, Query and to_response: the models, and what clients make of them."""

from __future__ import annotations

import copy
import http.client
import json
import pickle
import socket
import urllib.request
from collections.abc import AsyncIterator, Iterator
from typing import Any, cast

import pytest
import requests

from understudy import ConfigurationError, Headers, HTTPServer, Query, Request, Response
from understudy._core.targets import origin_form
from understudy._http._hosts import CannedHost
from understudy._http._response import to_response


def make(target: str = "/", *, headers: Any = (), body: bytes = b"", **kw: Any) -> Request:
    return Request(method=kw.pop("method", "GET"), target=target, headers=headers, body=body, **kw)


# -- Request: target, path, query ------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "path", "raw_path", "query_string"),
    [
        ("/", "/", "/", ""),
        ("/a%20b/%E2%98%83?x=1", "/a b/\u2603", "/a%20b/%E2%98%83", "x=1"),
        ("/a+b?q=a+b", "/a+b", "/a+b", "q=a+b"),
        ("/p?", "/p", "/p", ""),
        ("/p?a=1#frag", "/p", "/p", "a=1"),
        ("/%2F?x", "//", "/%2F", "x"),
        ("/bad%ZZ", "/bad%ZZ", "/bad%ZZ", ""),
        ("*", "*", "*", ""),
        ("http://example.test/a%20b?x=1", "/a b", "/a%20b", "x=1"),
        ("http://example.test", "/", "/", ""),
        ("http://example.test?x=1", "/", "/", "x=1"),
    ],
)
def test_request_path_and_query_string(
    target: str, path: str, raw_path: str, query_string: str
) -> None:
    request = make(target)
    assert (request.path, request.raw_path, request.query_string) == (
        path,
        raw_path,
        query_string,
    )


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/a?b", "/a?b"),
        ("*", "*"),
        ("example.test:443", "example.test:443"),
        ("http://h/x", "/x"),
        ("https://h:8443/x/y?z", "/x/y?z"),
        ("http://h", "/"),
        ("http://h?q", "/?q"),
        ("http://h#f", "/#f"),
    ],
)
def test_origin_form(target: str, expected: str) -> None:
    assert origin_form(target) == expected


def test_query_is_multi_valued_decoded_and_ordered() -> None:
    query = make("/s?tag=a&tag=b%20c&empty=&plus=x+y&tag=d&%C3%A9=%E2%82%AC").query
    assert query["tag"] == "a"
    assert query.get_all("tag") == ["a", "b c", "d"]
    assert query["empty"] == ""
    assert query["plus"] == "x y"
    assert query["\u00e9"] == "\u20ac"
    assert list(query) == ["tag", "empty", "plus", "\u00e9"]
    assert len(query) == 4
    assert query.multi_items()[:2] == [("tag", "a"), ("tag", "b c")]
    assert "Tag" not in query  # query names are case-sensitive
    assert query.get("missing") is None
    assert query.get_all("missing") == []
    with pytest.raises(KeyError):
        query["missing"]


# -- Request: headers -----------------------------------------------------------------------


def test_headers_from_raw_bytes_are_case_insensitive_multi_valued_and_ordered() -> None:
    raw = [
        (b"Host", b"example.test"),
        (b"Accept", b"text/html"),
        (b"X-Caf\xe9", b"cr\xe8me"),
        (b"accept", b"application/json"),
        (b"Set-Cookie", b"a=1"),
        (b"SET-COOKIE", b"b=2"),
    ]
    headers = make(headers=raw).headers
    assert headers["ACCEPT"] == "text/html, application/json"
    assert headers.get_all("accept") == ["text/html", "application/json"]
    assert headers.get_all("set-cookie") == ["a=1", "b=2"]
    assert headers["x-caf\u00e9"] == "cr\u00e8me"  # Latin-1 (RFC 9110 §5.5)
    assert list(headers) == ["Host", "Accept", "X-Caf\u00e9", "Set-Cookie"]
    assert len(headers) == 4
    assert "HOST" in headers
    assert cast(object, 1) not in headers
    assert headers.multi_items()[3] == ("accept", "application/json")
    assert headers == {
        "host": "example.test",
        "accept": "text/html, application/json",
        "x-caf\u00e9": "cr\u00e8me",
        "set-cookie": "a=1, b=2",
    }
    assert headers.get("nope", "default") == "default"
    with pytest.raises(KeyError):
        headers["nope"]


def test_headers_from_pairs_and_mappings() -> None:
    assert Headers([("A", "1"), ("a", "2")]).get_all("A") == ["1", "2"]
    assert Headers({"Content-Type": "text/plain"})["content-type"] == "text/plain"
    assert Headers() == {}
    assert Headers([("A", "1")]) == Headers([("a", "1")])
    assert Headers([("A", "1")]) != Headers([("A", "2")])
    assert repr(Headers([("A", "1")])) == "Headers([('A', '1')])"
    assert make(headers=[("X-Test", "1")]).headers["x-test"] == "1"
    given = Headers([("X", "y")])
    assert make(headers=given).headers is given
    with pytest.raises(TypeError):
        hash(Headers())


def test_query_class() -> None:
    query = Query([("a", "1"), ("A", "2")])
    assert query["a"] == "1"
    assert query["A"] == "2"
    assert Query({"a": "1"}) == {"a": "1"}
    assert repr(query) == "Query([('a', '1'), ('A', '2')])"


def test_headers_and_order_as_sent_by_a_real_client() -> None:
    with HTTPServer(response=Response(204)) as server:
        conn = http.client.HTTPConnection(server.host, server.port, timeout=5)
        try:
            conn.putrequest("GET", "/h", skip_accept_encoding=True)
            conn.putheader("X-Multi", "one")
            conn.putheader("x-other", "o")
            conn.putheader("X-MULTI", "two")
            conn.endheaders()
            assert conn.getresponse().status == 204
        finally:
            conn.close()
        [request] = server.wait_for_requests(1)
    assert request.headers.get_all("x-multi") == ["one", "two"]
    assert [name for name, _ in request.headers.multi_items()] == [
        "Host",
        "X-Multi",
        "x-other",
        "X-MULTI",
    ]
    assert request.url == f"http://{server.host}:{server.port}/h"


# -- Request: body, text, json, form ---------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "body", "text", "charset"),
    [
        (None, "h\u00e9".encode(), "h\u00e9", "utf-8"),
        ("text/plain; charset=ISO-8859-1", b"h\xe9", "h\u00e9", "iso-8859-1"),
        ('text/plain; format=flowed; charset="latin-1"', b"h\xe9", "h\u00e9", "latin-1"),
        ("text/plain; charset=no-such-codec", b"h\xc3\xa9", "h\u00e9", "no-such-codec"),
        ("text/plain", b"bad \xff", "bad \ufffd", "utf-8"),
    ],
)
def test_request_text_uses_the_charset(
    content_type: str | None, body: bytes, text: str, charset: str
) -> None:
    headers = [("Content-Type", content_type)] if content_type else []
    request = make(headers=headers, body=body)
    assert request.text == text
    assert request.charset == charset


def test_request_content_type_is_the_bare_media_type() -> None:
    request = make(headers=[("Content-Type", "Application/JSON; charset=utf-8")])
    assert request.content_type == "application/json"
    assert make().content_type == ""


def test_request_json() -> None:
    assert make(body=b'{"a": [1, 2]}').json() == {"a": [1, 2]}
    with pytest.raises(ValueError, match="Expecting value"):
        make(body=b"not json").json()


def test_request_form() -> None:
    request = make(
        headers=[("Content-Type", "application/x-www-form-urlencoded")],
        body=b"a=1&b=x+y&a=%C3%A9&c=",
    )
    form = request.form()
    assert form.get_all("a") == ["1", "\u00e9"]
    assert form["b"] == "x y"
    assert form["c"] == ""
    assert make(body=b"k=v").form()["k"] == "v"  # no Content-Type: read as a form
    with pytest.raises(ValueError, match=r"multipart/form-data.*request\.body"):
        make(headers=[("Content-Type", "multipart/form-data; boundary=x")]).form()


def test_a_real_form_post_and_json_post() -> None:
    with HTTPServer(response=Response(204)) as server:
        requests.post(server.url + "/f", data={"name": "Ana", "tags": ["x", "y"]}, timeout=5)
        requests.post(server.url + "/j", json={"k": [1, None]}, timeout=5)
        form_request, json_request = server.wait_for_requests(2)
    assert form_request.form().get_all("tags") == ["x", "y"]
    assert form_request.form()["name"] == "Ana"
    assert json_request.json() == {"k": [1, None]}
    assert json_request.content_type == "application/json"


# -- Request: immutability, equality, repr ---------------------------------------------------


def test_request_is_immutable() -> None:
    request = make("/x", body=b"abc")
    with pytest.raises(AttributeError, match="immutable: cannot set 'body'"):
        request.body = b"other"
    with pytest.raises(AttributeError, match="immutable: cannot set 'new'"):
        request.new = 1
    with pytest.raises(AttributeError, match="immutable: cannot delete 'method'"):
        del request.method
    assert request.body == b"abc"


def test_a_received_request_is_an_immutable_request_equal_to_one_made_alike() -> None:
    with HTTPServer(response=Response(204)) as server:
        requests.post(server.url + "/x?a=1", data=b"abc", timeout=5)
        [request] = server.wait_for_requests(1)
    assert type(request) is Request
    with pytest.raises(AttributeError, match="immutable: cannot set 'body'"):
        request.body = b"other"
    assert (request.method, request.path, request.query["a"], request.body) == (
        "POST",
        "/x",
        "1",
        b"abc",
    )
    assert request.error is None
    made = Request(
        method="POST",
        target="/x?a=1",
        headers=list(request.headers.items()),
        body=b"abc",
        peer=request.peer,
        received_at=request.received_at,
    )
    assert made == request


def test_request_equality_and_hash() -> None:
    assert make("/a", body=b"x") == make("/a", body=b"x", peer=("1.2.3.4", 5))
    assert make("/a") != make("/b")
    assert make("/a", headers=[("A", "1")]) == make("/a", headers=[(b"a", b"1")])
    assert make("/a") != "GET /a"
    with pytest.raises(TypeError):
        hash(make())


def test_request_repr() -> None:
    assert repr(make("/x?y=1")) == "<understudy.Request GET /x?y=1>"
    assert repr(make("/x", method="POST", body=b"abc")) == "<understudy.Request POST /x body=3B>"
    assert (
        repr(make("/", error="malformed request"))
        == "<understudy.Request GET / error='malformed request'>"
    )


def test_request_attributes_from_the_server() -> None:
    with HTTPServer(response=Response(204)) as server:
        requests.put(server.url + "/p?q=1", data=b"payload", timeout=5)
        [request] = server.wait_for_requests(1)
    assert request.method == "PUT"
    assert request.target == "/p?q=1"
    assert request.http_version == "1.1"
    assert request.body == b"payload"
    assert request.peer is not None
    assert request.peer[0] == "127.0.0.1"
    assert request.received_at > 0
    assert request.scheme == "http"
    assert request.error is None


# -- Response --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"status_code": 99}, r"status_code must be an int from 100 to 599, not 99"),
        ({"status_code": 600}, r"not 600"),
        ({"status_code": "200"}, r"not '200'"),
        ({"status_code": True}, r"not True"),
        ({"body": b"x", "json": {}}, r"either body= or json=, not both"),
        ({"body": 12}, r"body must be bytes, str, or an iterable of bytes, not int"),
        ({"body": {"a": 1}}, r"not dict; to send JSON write Response\(json=\.\.\.\)"),
        ({"headers": {"X-A": "a\r\nInjected: 1"}}, r"invalid header field 'X-A'"),
        ({"headers": {"X-A": "line\nbreak"}}, r"line break"),
        ({"headers": {"X-A": "a\x00b"}}, r"'X-A': .* control character U\+0000; .*RFC 9110"),
        ({"headers": {"X-A": "a\x7fb"}}, r"control character U\+007F"),
        ({"headers": {"X-A": "a\x1bb"}}, r"control character U\+001B"),
        ({"reason": "OK\r\nX-Injected: 1"}, r"reason phrase .* U\+000D \(a line break"),
        ({"reason": "OK\nX: 1"}, r"reason phrase .* line break"),
        ({"reason": "a\x00"}, r"reason phrase .* U\+0000; .*RFC 9112 §4"),
        ({"reason": "\u20ac"}, r"outside Latin-1 .* write it in ASCII"),
        ({"reason": 200}, r"reason must be a str, not int"),
        ({"headers": {"Bad Name": "v"}}, r"no spaces or colons"),
        ({"headers": {"X\x00Nul": "v"}}, r"a name is a token, RFC 9110 §5.1"),
        ({"headers": {"X-\u00e9": "v"}}, r"a name is a token"),
        ({"headers": {"Bad:Name": "v"}}, r"no spaces or colons"),
        ({"headers": {"": "v"}}, r"invalid header field ''"),
        ({"headers": ["X-A"]}, r"mapping or \(name, value\) pairs; got the item 'X-A'"),
        ({"headers": [("a", "b", "c")]}, r"got the item \('a', 'b', 'c'\)"),
        ({"headers": {"Content-Length": "ten"}}, r"Content-Length must be a number"),
    ],
)
def test_response_construction_errors(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message) as caught:
        Response(**kwargs)
    assert isinstance(caught.value, ValueError)


def test_a_reason_phrase_of_tabs_spaces_visible_and_latin_1_characters_is_sent_as_given() -> None:
    reason = "Fine\tand caf\u00e9 \u00ff"
    with (
        HTTPServer(response=Response(299, reason=reason, headers={"X-T": "a\tb \u00e9"})) as server,
        socket.create_connection(server.address, timeout=5) as sock,
    ):
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    status_line, _, rest = received.partition(b"\r\n")
    assert status_line == b"HTTP/1.1 299 " + reason.encode("latin-1")
    assert b"\r\nX-T: a\tb \xe9\r\n" in b"\r\n" + rest


def test_response_bodies_and_content_types() -> None:
    text = Response(200, body="caf\u00e9")
    assert text.body == "caf\u00e9".encode()
    assert text.headers == [("Content-Type", "text/plain; charset=utf-8")]
    data = Response(json={"a": [1]})
    assert json.loads(data.body) == {"a": [1]}  # type: ignore[arg-type]
    assert data.headers == [("Content-Type", "application/json")]
    assert Response(json=None).body == b"null"
    raw = Response(201, body=b"\x00\x01")
    assert (raw.status_code, raw.reason, raw.body, raw.headers) == (201, "Created", b"\x00\x01", [])
    assert Response(body=bytearray(b"ab")).body == b"ab"
    assert Response(body=memoryview(b"ab")).body == b"ab"
    custom = Response(200, body="x", content_type="text/html")
    assert custom.headers == [("Content-Type", "text/html")]
    given = Response(200, body="x", headers={"content-type": "text/csv"}, content_type="text/html")
    assert given.headers == [("content-type", "text/csv")]
    pairs = Response(headers=[("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")])
    assert pairs.headers == [("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")]
    assert Response(299).reason == ""
    assert Response(200, reason="Fine").reason == "Fine"


def test_response_streamed_bodies_are_accepted() -> None:
    def gen() -> Iterator[bytes]:
        yield b"x"

    async def agen() -> AsyncIterator[bytes]:
        yield b"x"

    assert repr(Response(200, body=gen())) == "<understudy.Response 200 streamed>"
    assert repr(Response(200, body=agen())) == "<understudy.Response 200 streamed>"
    assert repr(Response(200, body=[b"a", b"b"])) == "<understudy.Response 200 streamed>"
    assert repr(Response(404, body=b"abc")) == "<understudy.Response 404 3B>"


def test_a_one_shot_body_is_refused_for_a_response_sent_to_every_request() -> None:
    def gen() -> Iterator[bytes]:
        yield b"x"

    async def agen() -> AsyncIterator[bytes]:
        yield b"x"

    CannedHost.check_reusable(Response(200, body=[b"a"]))
    CannedHost.check_reusable(Response(200, body=b"a"))
    for body in (gen(), agen(), iter([b"a"])):
        with pytest.raises(ConfigurationError, match="one-shot"):
            CannedHost.check_reusable(Response(200, body=body))


def test_http_server_refuses_a_one_shot_canned_body() -> None:
    with pytest.raises(ConfigurationError, match=r"one-shot generator .* use handler="):
        HTTPServer(response=Response(200, body=(part for part in [b"a"])))


def test_a_canned_list_body_is_sent_to_every_request() -> None:
    with HTTPServer(response=Response(200, body=[b"a", b"b"])) as server:
        for _ in range(2):
            assert requests.get(server.url, timeout=5).content == b"ab"


def test_the_reason_phrase_and_headers_reach_the_client() -> None:
    response = Response(
        418, body="short and stout", reason="Teapot", headers=[("X-A", "1"), ("X-A", "2")]
    )
    with HTTPServer(response=response) as server:
        conn = http.client.HTTPConnection(server.host, server.port, timeout=5)
        try:
            conn.request("GET", "/")
            reply = conn.getresponse()
            assert reply.read() == b"short and stout"
        finally:
            conn.close()
    assert (reply.status, reply.reason) == (418, "Teapot")
    assert reply.headers.get_all("X-A") == ["1", "2"]
    assert reply.getheader("Content-Length") == "15"
    assert reply.getheader("Content-Type") == "text/plain; charset=utf-8"
    assert reply.getheader("Date")


# -- to_response -----------------------------------------------------------------------------


def test_to_response_conversions() -> None:
    response = Response(202)
    assert to_response(response) is response
    assert (to_response("hi").status_code, to_response("hi").body) == (200, b"hi")
    assert to_response(b"\x00").body == b"\x00"
    assert to_response(b"\x00").headers == []
    assert to_response({"a": 1}).body == b'{"a": 1}'
    assert to_response([1, 2]).headers == [("Content-Type", "application/json")]
    created = to_response((201, {"id": 7}))
    assert (created.status_code, created.reason, created.body) == (201, "Created", b'{"id": 7}')
    assert created.headers == [("Content-Type", "application/json")]
    wrapped = to_response((404, Response(200, body="gone", headers={"X-A": "1"})))
    assert (wrapped.status_code, wrapped.body) == (404, b"gone")
    assert ("X-A", "1") in wrapped.headers
    assert to_response((204, b"")).status_code == 204


@pytest.mark.parametrize(
    "value",
    [None, 42, (True, "x"), ("200", "x"), (200, "x", {}), (200, None), {1, 2}],
    ids=["None", "int", "bool status", "str status", "3-tuple", "None body", "set"],
)
def test_to_response_refuses_other_values(value: object) -> None:
    with pytest.raises(TypeError, match=r"return a understudy\.Response, str, bytes"):
        to_response(value)


def test_to_response_with_a_bad_status() -> None:
    with pytest.raises(ConfigurationError, match="from 100 to 599, not 700"):
        to_response((700, "x"))


def test_a_received_request_copies_as_itself_and_pickles_whole() -> None:
    with HTTPServer(response=Response(200, body="ok")) as server:
        urllib.request.urlopen(
            urllib.request.Request(
                server.url + "/p?q=1", data=b"body", headers={"X-Case": "Kept"}, method="PUT"
            ),
            timeout=5,
        ).close()
        (request,) = server.wait_for_requests(1)
    assert copy.copy(request) is request
    assert copy.deepcopy({"r": request})["r"] is request
    restored = pickle.loads(pickle.dumps(request))
    assert restored == request
    assert (restored.method, restored.target, restored.body) == ("PUT", "/p?q=1", b"body")
    assert restored.headers["x-case"] == "Kept"
    assert (restored.peer, restored.received_at) == (request.peer, request.received_at)
    with pytest.raises(AttributeError, match="immutable"):
        restored.body = b""


@pytest.mark.parametrize("value", [float("nan"), {"a": [float("inf")]}, -float("inf")])
def test_a_json_body_with_nan_or_infinity_is_refused(value: object) -> None:
    """RFC 8259 §6: JSON has no NaN or Infinity; json.dumps would write them anyway."""
    with pytest.raises(ConfigurationError, match=r"JSON has no NaN or Infinity \(RFC 8259 §6\)"):
        Response(json=value)
