"""Tests for directory serving: HTTPServer(root=...) and serve_directory(prefix, root, ...)."""

from __future__ import annotations

import email.utils
import gzip
import http.client
import os
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests

import understudy
from understudy import ConfigurationError, HTTPServer
from understudy._core.conditional import evaluate_preconditions, select_range
from understudy._core.directives import Directives
from understudy._http._fields import Headers
from understudy._http._file_response import respond
from understudy._http._request import Request
from versions import Version

SECRET = b"TOP-SECRET-7f3a9c-do-not-serve"
MTIME = 1_700_000_000  # Tue, 14 Nov 2023 22:13:20 GMT
MTIME_TEXT = "Tue, 14 Nov 2023 22:13:20 GMT"

FEED = b"""<?xml version="1.0" encoding="utf-8"?>
<!--
Header:   Content-type: application/atom+xml; charset=utf-8
Header:   X-Foo: bar
-->
<feed xmlns="http://www.w3.org/2005/Atom"><title>in-file</title></feed>
"""
MOVED = b"""<?xml version="1.0"?>
<!--
Header: Status: 301
Header: Location: /feed.xml
-->
<moved/>
"""
PLAIN = b"0123456789abcdef\n"


@dataclass
class Site:
    base: Path
    root: Path


@pytest.fixture
def site(tmp_path: Path) -> Site:
    """A root directory of files, and a secret file beside it that must never be served."""
    (tmp_path / "secret.txt").write_bytes(SECRET)
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.txt").write_bytes(SECRET)
    root = tmp_path / "root"
    root.mkdir()
    (root / "feed.xml").write_bytes(FEED)
    (root / "moved.xml").write_bytes(MOVED)
    (root / "found.xml").write_bytes(b"<found/>\n")
    (root / "found.xml.headers").write_bytes(b"Status: 302 Found\nLocation: /feed.xml\n")
    (root / "plain.txt").write_bytes(PLAIN)
    os.utime(root / "plain.txt", (MTIME, MTIME))
    (root / "tagged.txt").write_bytes(b"tagged\n")
    (root / "tagged.txt.headers").write_bytes(
        b'ETag: "v1"\nX-Sidecar: yes\nCache-Control: max-age=60,\n  must-revalidate\n'
    )
    (root / "notes.gz").write_bytes(gzip.compress(b"hello gzip\n", mtime=0))
    sub = root / "sub"
    sub.mkdir()
    (sub / "index.html").write_bytes(b"<h1>index</h1>\n")
    (sub / "deep.txt").write_bytes(b"deep\n")
    (root / "empty").mkdir()
    (root / "escape.txt").symlink_to(tmp_path / "secret.txt")
    (root / "escape-dir").symlink_to(tmp_path / "outside", target_is_directory=True)
    (root / "alias.txt").symlink_to(root / "plain.txt")
    return Site(tmp_path, root)


@pytest.fixture
def server(site: Site) -> Iterator[HTTPServer]:
    with HTTPServer(root=site.root) as server:
        yield server


def get(server: HTTPServer, target: str, method: str = "GET", **headers: str) -> RawReply:
    """One request over a raw socket (no client normalises the target); the reply parsed."""
    with socket.create_connection((server.host, server.port), timeout=5.0) as sock:
        fields = "".join(
            f"{name.replace('_', '-')}: {value}\r\n" for name, value in headers.items()
        )
        sock.sendall(
            f"{method} {target} HTTP/1.1\r\nHost: x\r\n{fields}Connection: close\r\n\r\n".encode(
                "latin-1"
            )
        )
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    return RawReply(
        int(status_line.split()[1]),
        Headers((name, value) for name, _, value in (line.partition(": ") for line in lines)),
        body,
        data,
    )


@dataclass
class RawReply:
    status: int
    headers: Headers
    body: bytes
    raw: bytes


# -- the three header forms ----------------------------------------------------------------


def test_in_file_directives_with_requests(http: Version, site: Site) -> None:
    server = http.server()
    server.serve_directory("/", site.root, in_file_headers=True)
    with server:
        reply = http.get(server.url + "/feed.xml", timeout=5)
    assert reply.status_code == 200
    assert reply.headers["Content-Type"] == "application/atom+xml; charset=utf-8"
    assert reply.headers["X-Foo"] == "bar"
    assert reply.content == FEED  # byte for byte, the directive lines included


def test_in_file_directives_are_off_by_default(server: HTTPServer) -> None:
    reply = requests.get(server.url + "/feed.xml", timeout=5)
    assert reply.headers["Content-Type"] == "application/xml"
    assert "X-Foo" not in reply.headers
    assert reply.content == FEED


def test_sidecar_fields_with_httpx(server: HTTPServer) -> None:
    reply = httpx.get(server.url + "/tagged.txt")
    assert reply.status_code == 200
    assert reply.headers["etag"] == '"v1"'
    assert reply.headers["x-sidecar"] == "yes"
    assert reply.headers["cache-control"] == "max-age=60, must-revalidate"
    assert reply.content == b"tagged\n"


def test_a_sidecar_value_in_utf8_goes_back_byte_for_byte(tmp_path: Path) -> None:
    # ("Å" is C3 85 in UTF-8; 0x85 is a line break to str.splitlines, not to RFC 5322.)
    (tmp_path / "report.csv").write_bytes(b"a,b\n")
    disposition = 'attachment; filename="Å.csv"'.encode()
    (tmp_path / "report.csv.headers").write_bytes(b"Content-Disposition: " + disposition + b"\n")
    with HTTPServer(root=tmp_path) as server:
        reply = get(server, "/report.csv")
        server.check()
    assert reply.status == 200
    assert b"\r\nContent-Disposition: " + disposition + b"\r\n" in reply.raw
    assert reply.body == b"a,b\n"


def test_a_sidecar_is_not_served_itself(server: HTTPServer) -> None:
    reply = httpx.get(server.url + "/tagged.txt.headers")
    assert reply.status_code == 404
    assert "sidecar" in reply.text


def test_a_sidecar_is_not_served_through_a_link_or_in_another_case(site: Site) -> None:
    (site.root / "fields.txt").symlink_to(site.root / "tagged.txt.headers")
    (site.root / "sub" / "index.html").unlink()
    (site.root / "sub" / "index.html").symlink_to(site.root / "tagged.txt.headers")
    # (on a filesystem that ignores case, such as macOS's, this name opens the sidecar)
    (site.root / "other.txt.HEADERS").write_bytes(b"X-Other: 1\n")
    server = HTTPServer()
    server.serve_directory("/", site.root, index="index.html")
    with server:
        for target in ("/fields.txt", "/sub/", "/other.txt.HEADERS"):
            reply = get(server, target)
            assert reply.status == 404, target
            assert b"(a sidecar)" in reply.body, target
            assert b"X-Sidecar" not in reply.raw, target
            assert b"X-Other" not in reply.raw, target


def test_sidecars_can_be_turned_off(http: Version, site: Site) -> None:
    server = http.server()
    server.serve_directory("/", site.root, sidecar_headers=False)
    with server:
        reply = http.get(server.url + "/tagged.txt")
        sidecar = http.get(server.url + "/tagged.txt.headers")
    assert "x-sidecar" not in reply.headers
    assert reply.headers["etag"] != '"v1"'
    assert sidecar.status_code == 200
    assert sidecar.content.startswith(b'ETag: "v1"')


def test_suffix_fields_with_urllib_and_requests(site: Site) -> None:
    server = HTTPServer()
    server.serve_directory(
        "/",
        site.root,
        suffix_headers={
            ".gz": {"Content-Encoding": "gzip", "Content-Type": "text/plain; charset=utf-8"},
            ".TXT": {"X-Kind": "text"},
        },
    )
    with server:
        with urllib.request.urlopen(server.url + "/notes.gz") as reply:
            assert reply.headers["Content-Encoding"] == "gzip"
            assert reply.headers["Content-Type"] == "text/plain; charset=utf-8"
            assert reply.read() == (site.root / "notes.gz").read_bytes()
        assert requests.get(server.url + "/notes.gz", timeout=5).text == "hello gzip\n"
        with urllib.request.urlopen(server.url + "/plain.txt") as reply:
            assert reply.headers["X-Kind"] == "text"


def test_precedence_in_file_over_sidecar_over_suffix_over_computed(
    http: Version, site: Site
) -> None:
    (site.root / "all.xml").write_bytes(
        b"<x>\nHeader: X-Layer: in-file\nHeader: Content-Type: text/xml\n</x>\n"
    )
    (site.root / "all.xml.headers").write_bytes(b"X-Layer: sidecar\nX-Sidecar-Only: 1\n")
    server = http.server()
    server.serve_directory(
        "/",
        site.root,
        in_file_headers=True,
        suffix_headers={".xml": {"X-Layer": "suffix", "X-Suffix-Only": "1", "ETag": '"s"'}},
    )
    with server:
        reply = http.get(server.url + "/all.xml", timeout=5)
    assert reply.headers["X-Layer"] == "in-file"
    assert reply.headers["X-Sidecar-Only"] == "1"
    assert reply.headers["X-Suffix-Only"] == "1"
    assert reply.headers["ETag"] == '"s"'
    assert reply.headers["Content-Type"] == "text/xml"


# -- status by directive -------------------------------------------------------------------


def test_status_301_from_an_in_file_directive_is_followed_by_requests(
    http: Version, site: Site
) -> None:
    server = http.server()
    server.serve_directory("/", site.root, in_file_headers=True)
    with server:
        reply = http.get(server.url + "/moved.xml", timeout=5)
        raw = get(server, "/moved.xml")
    assert [r.status_code for r in reply.history] == [301]
    assert reply.url == server.url + "/feed.xml"
    assert raw.status == 301
    assert raw.headers["Location"] == "/feed.xml"
    assert raw.body == MOVED


def test_status_302_from_a_sidecar_with_httpx(server: HTTPServer) -> None:
    reply = httpx.get(server.url + "/found.xml")
    assert reply.status_code == 302
    assert reply.reason_phrase == "Found"
    assert reply.headers["location"] == "/feed.xml"
    assert reply.content == b"<found/>\n"
    followed = httpx.get(server.url + "/found.xml", follow_redirects=True)
    assert followed.status_code == 200
    assert followed.content == FEED


def test_a_directive_status_ignores_preconditions_and_range(server: HTTPServer) -> None:
    reply = get(server, "/found.xml", If_None_Match="*", Range="bytes=0-1")
    assert reply.status == 302
    assert reply.body == b"<found/>\n"


# -- content types -------------------------------------------------------------------------

CONTENT_TYPES = {
    "a.xml": "application/xml",
    "a.json": "application/json",
    "a.html": "text/html; charset=utf-8",
    "a.txt": "text/plain; charset=utf-8",
    "a.css": "text/css; charset=utf-8",
    "a.js": "text/javascript; charset=utf-8",
    "a.rss": "application/rss+xml",
    "a.atom": "application/atom+xml",
    "a.gz": "application/gzip",
    "a.tar.gz": "application/gzip",
    "a.png": "image/png",
    "a.jpg": "image/jpeg",
    "a.svg": "image/svg+xml",
    "a-1.0-py3-none-any.whl": "application/zip",
    "A.XML": "application/xml",
    "a.mp4": "video/mp4",  # Python's built-in table, never the machine's mime.types
    "a.unknown-suffix": "application/octet-stream",
    "Makefile": "application/octet-stream",
}


def test_content_type_table_over_the_wire(tmp_path: Path) -> None:
    for name in CONTENT_TYPES:
        (tmp_path / name).write_bytes(b"x")
    with HTTPServer(root=tmp_path) as server, requests.Session() as session:
        got = {
            name: session.get(f"{server.url}/{name}", timeout=5).headers["Content-Type"]
            for name in CONTENT_TYPES
        }
    assert got == CONTENT_TYPES


# -- conditional requests ------------------------------------------------------------------


def test_304_via_etag_with_requests(server: HTTPServer) -> None:
    first = requests.get(server.url + "/plain.txt", timeout=5)
    etag = first.headers["ETag"]
    assert etag.startswith('"')
    assert etag.endswith('"')
    again = requests.get(server.url + "/plain.txt", headers={"If-None-Match": etag}, timeout=5)
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["ETag"] == etag
    assert "Content-Type" not in again.headers
    for matching in (f"W/{etag}", f'"nope", {etag}', "*"):
        reply = requests.get(
            server.url + "/plain.txt", headers={"If-None-Match": matching}, timeout=5
        )
        assert reply.status_code == 304, matching
    other = requests.get(server.url + "/plain.txt", headers={"If-None-Match": '"x"'}, timeout=5)
    assert other.status_code == 200
    assert other.content == PLAIN


def test_the_computed_etag_follows_the_content(server: HTTPServer, site: Site) -> None:
    before = httpx.get(server.url + "/plain.txt").headers["etag"]
    (site.root / "plain.txt").write_bytes(b"changed\n")
    after = httpx.get(server.url + "/plain.txt", headers={"If-None-Match": before})
    assert after.status_code == 200
    assert after.headers["etag"] != before


def test_304_via_if_modified_since_with_urllib(server: HTTPServer) -> None:
    with urllib.request.urlopen(server.url + "/plain.txt") as reply:
        assert reply.headers["Last-Modified"] == MTIME_TEXT
    request = urllib.request.Request(
        server.url + "/plain.txt", headers={"If-Modified-Since": MTIME_TEXT}
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request)
    assert caught.value.code == 304
    caught.value.close()
    later = "Wed, 15 Nov 2023 00:00:00 GMT"
    assert get(server, "/plain.txt", If_Modified_Since=later).status == 304
    earlier = "Tue, 14 Nov 2023 22:13:19 GMT"
    assert get(server, "/plain.txt", If_Modified_Since=earlier).status == 200
    assert get(server, "/plain.txt", If_Modified_Since="not a date").status == 200
    # If-None-Match takes precedence over If-Modified-Since (RFC 9110 §13.1.3)
    assert get(server, "/plain.txt", If_None_Match='"x"', If_Modified_Since=later).status == 200


def test_if_match_and_if_unmodified_since_give_412(server: HTTPServer) -> None:
    assert get(server, "/tagged.txt", If_Match='"v2"').status == 412
    assert get(server, "/tagged.txt", If_Match='"v1"').status == 200
    assert get(server, "/tagged.txt", If_Match='W/"v1"').status == 412  # strong comparison
    early = "Mon, 13 Nov 2023 00:00:00 GMT"
    assert get(server, "/plain.txt", If_Unmodified_Since=early).status == 412
    assert get(server, "/plain.txt", If_Unmodified_Since=MTIME_TEXT).status == 200


# -- ranges --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("range_value", "content_range", "body"),
    [
        ("bytes=0-4", "bytes 0-4/17", PLAIN[0:5]),
        ("bytes=10-", "bytes 10-16/17", PLAIN[10:]),
        ("bytes=-5", "bytes 12-16/17", PLAIN[-5:]),
        ("bytes=5-1000", "bytes 5-16/17", PLAIN[5:]),
        ("bytes=-1000", "bytes 0-16/17", PLAIN),
        ("BYTES = 16-16", "bytes 16-16/17", b"\n"),
    ],
)
def test_206_for_a_single_range(
    server: HTTPServer, range_value: str, content_range: str, body: bytes
) -> None:
    reply = requests.get(server.url + "/plain.txt", headers={"Range": range_value}, timeout=5)
    assert reply.status_code == 206
    assert reply.headers["Content-Range"] == content_range
    assert reply.headers["Content-Length"] == str(len(body))
    assert reply.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert reply.content == body


@pytest.mark.parametrize("range_value", ["bytes=17-", "bytes=100-200", "bytes=-0"])
def test_416_for_an_unsatisfiable_range(server: HTTPServer, range_value: str) -> None:
    reply = httpx.get(server.url + "/plain.txt", headers={"Range": range_value})
    assert reply.status_code == 416
    assert reply.headers["content-range"] == "bytes */17"


@pytest.mark.parametrize(
    "range_value", ["bytes=0-1,3-4", "items=0-1", "bytes=5-2", "bytes=a-b", "bytes", "bytes=-"]
)
def test_ranges_that_are_ignored_get_the_whole_file(server: HTTPServer, range_value: str) -> None:
    reply = httpx.get(server.url + "/plain.txt", headers={"Range": range_value})
    assert reply.status_code == 200
    assert reply.content == PLAIN
    assert reply.headers["accept-ranges"] == "bytes"


@pytest.mark.parametrize(
    ("name", "value", "status"),
    [
        # Latin-1 superscript digits pass str.isdigit(), and int() refuses them: not a Range.
        ("Range", "bytes=\u00b2-", 200),
        ("Range", "bytes=0-\u00b2", 200),
        ("Range", "bytes=-\u00b9", 200),
        ("Range", "bytes=" + "9" * 5000, 200),  # no dash: not a range
        # Past int()'s 4,300 digits, still a number: past the end, or up to it.
        ("Range", "bytes=" + "9" * 5000 + "-", 416),
        ("Range", "bytes=0-" + "9" * 5000, 206),
        ("Range", "bytes=-" + "9" * 5000, 206),
        # A year past what a timestamp holds: not a date, so the condition is ignored.
        ("If-Modified-Since", "1 Jan 10000000000 00:00:00 GMT", 200),
        ("If-Unmodified-Since", "1 Jan 10000000000 00:00:00 GMT", 200),
    ],
)
def test_a_range_or_date_that_is_not_one_is_ignored_not_a_500(
    server: HTTPServer, name: str, value: str, status: int
) -> None:
    """RFC 9110 §14.2: an invalid Range is ignored; §13.1.3: so is an invalid date."""
    reply = get(server, "/plain.txt", **{name.replace("-", "_"): value})
    assert reply.status == status
    if status == 200:
        assert reply.body == PLAIN
    server.check()  # nothing raised inside


def test_an_if_range_date_that_is_not_one_sends_the_whole_file(server: HTTPServer) -> None:
    reply = get(server, "/plain.txt", Range="bytes=0-1", If_Range="1 Jan 10000000000 00:00:00 GMT")
    assert (reply.status, reply.body) == (200, PLAIN)
    server.check()


def test_if_range(server: HTTPServer) -> None:
    etag = httpx.get(server.url + "/plain.txt").headers["etag"]
    assert get(server, "/plain.txt", Range="bytes=0-1", If_Range=etag).status == 206
    assert get(server, "/plain.txt", Range="bytes=0-1", If_Range='"other"').status == 200
    assert get(server, "/plain.txt", Range="bytes=0-1", If_Range=f"W/{etag}").status == 200
    assert get(server, "/plain.txt", Range="bytes=0-1", If_Range=MTIME_TEXT).status == 206
    earlier = "Mon, 13 Nov 2023 00:00:00 GMT"
    assert get(server, "/plain.txt", Range="bytes=0-1", If_Range=earlier).status == 200


def test_accept_ranges_none_turns_ranges_off(site: Site) -> None:
    server = HTTPServer()
    server.serve_directory("/", site.root, suffix_headers={".txt": {"Accept-Ranges": "none"}})
    with server:
        reply = get(server, "/plain.txt", Range="bytes=0-1")
    assert reply.status == 200
    assert reply.body == PLAIN


# -- only what the file declares (generated_fields) ---------------------------------------

DECLARED = b"""<?xml version="1.0"?>
<!--
Header: Generated-Fields: none
Header: Content-Type: application/xml; charset=utf-8
Header: Cache-Control: no-store
-->
<declared/>
"""


def test_generated_fields_none_sends_the_declared_fields_framing_and_date(site: Site) -> None:
    server = HTTPServer()
    server.serve_directory("/", site.root, generated_fields="none")
    with server:
        plain = get(server, "/plain.txt")
        tagged = get(server, "/tagged.txt")
        head = get(server, "/plain.txt", method="HEAD")
    assert plain.status == 200
    assert plain.body == PLAIN
    # get() sends Connection: close, which the server echoes (RFC 9112 §9.6)
    assert sorted(name.lower() for name, _ in plain.headers.multi_items()) == [
        "connection",
        "content-length",
        "date",
    ]
    assert plain.headers["Content-Length"] == str(len(PLAIN))
    assert sorted(name for name, _ in tagged.headers.multi_items()) == [
        "Cache-Control",
        "Connection",
        "Content-Length",
        "Date",
        "ETag",
        "X-Sidecar",
    ]
    assert tagged.headers["ETag"] == '"v1"'  # declared in the sidecar: still sent
    assert (head.status, head.body, head.headers["Content-Length"]) == (200, b"", "17")
    assert "Last-Modified" not in head.headers


def test_date_is_sent_unless_the_file_declares_one(site: Site) -> None:
    declared_date = "Mon, 01 Jan 2024 00:00:00 GMT"
    (site.root / "dated.txt").write_bytes(b"dated\n")
    (site.root / "dated.txt.headers").write_bytes(f"Date: {declared_date}\n".encode())
    with HTTPServer(root=site.root, generated_fields="none") as server:
        plain = get(server, "/plain.txt")
        dated = get(server, "/dated.txt")
    assert email.utils.parsedate_to_datetime(plain.headers["Date"]).tzinfo is not None
    assert plain.headers["Date"].endswith(" GMT")  # an IMF-fixdate (RFC 9110 §5.6.7)
    assert dated.headers.get_all("Date") == [declared_date]


def test_no_validators_means_a_full_200_for_conditional_requests_with_requests(
    site: Site,
) -> None:
    with HTTPServer(root=site.root, generated_fields="none") as server:
        with requests.Session() as session:
            first = session.get(server.url + "/plain.txt", timeout=5)
            conditional = session.get(
                server.url + "/plain.txt",
                headers={"If-None-Match": '"anything"', "If-Modified-Since": MTIME_TEXT},
                timeout=5,
            )
            modified_since = session.get(
                server.url + "/plain.txt",
                headers={"If-Modified-Since": "Fri, 01 Jan 2100 00:00:00 GMT"},
                timeout=5,
            )
            unmodified_since = session.get(
                server.url + "/plain.txt",
                headers={"If-Unmodified-Since": "Mon, 01 Jan 1990 00:00:00 GMT"},
                timeout=5,
            )
        received = server.wait_for_requests(4)
    assert "ETag" not in first.headers
    assert "Last-Modified" not in first.headers
    assert "Content-Type" not in first.headers
    assert "Accept-Ranges" not in first.headers
    for reply in (first, conditional, modified_since, unmodified_since):
        assert (reply.status_code, reply.content) == (200, PLAIN)
    # the journal shows the conditional requests were sent as written
    assert received[1].headers["if-none-match"] == '"anything"'
    assert received[1].headers["if-modified-since"] == MTIME_TEXT
    assert received[2].headers["if-modified-since"] == "Fri, 01 Jan 2100 00:00:00 GMT"
    assert received[3].headers["if-unmodified-since"] == "Mon, 01 Jan 1990 00:00:00 GMT"


def test_star_preconditions_still_hold_without_validators(site: Site) -> None:
    # "*" is about the file existing, not about validators (RFC 9110 §13.1.1, §13.1.2)
    with HTTPServer(root=site.root, generated_fields="none") as server:
        assert get(server, "/plain.txt", If_None_Match="*").status == 304
        assert get(server, "/plain.txt", If_Match="*").status == 200
        assert get(server, "/plain.txt", If_Match='"v1"').status == 412  # no tag can match


def test_range_without_validators_with_httpx(http: Version, site: Site) -> None:
    with http.server(root=site.root, generated_fields="none") as server:
        ranged = http.get(server.url + "/plain.txt", headers={"Range": "bytes=0-3"})
        by_tag = http.get(
            server.url + "/plain.txt", headers={"Range": "bytes=0-3", "If-Range": '"x"'}
        )
        by_date = http.get(
            server.url + "/plain.txt", headers={"Range": "bytes=0-3", "If-Range": MTIME_TEXT}
        )
        [_, journaled_by_tag, _] = server.wait_for_requests(3)
    # Range needs no validator (RFC 9110 §14.2) nor an Accept-Ranges the client saw (§14.3)
    assert (ranged.status_code, ranged.content) == (206, PLAIN[:4])
    assert ranged.headers["content-range"] == "bytes 0-3/17"
    assert "accept-ranges" not in ranged.headers
    # If-Range cannot match a file without validators: the whole file (§13.1.5)
    assert (by_tag.status_code, by_tag.content) == (200, PLAIN)
    assert (by_date.status_code, by_date.content) == (200, PLAIN)
    assert journaled_by_tag.headers["if-range"] == '"x"'


def test_the_in_file_directive_turns_generated_fields_off_for_one_file(
    http: Version, site: Site
) -> None:
    (site.root / "declared.xml").write_bytes(DECLARED)
    server = http.server()
    server.serve_directory("/", site.root, in_file_headers=True)
    with server:
        declared = http.get(server.url + "/declared.xml", timeout=5)
        again = http.get(
            server.url + "/declared.xml", headers={"If-Modified-Since": MTIME_TEXT}, timeout=5
        )
        other = http.get(server.url + "/feed.xml", timeout=5)
    assert declared.status_code == 200
    assert declared.content == DECLARED  # the directive lines are served, as ever
    assert declared.headers["Content-Type"] == "application/xml; charset=utf-8"
    assert declared.headers["Cache-Control"] == "no-store"
    for absent in ("ETag", "Last-Modified", "Accept-Ranges", "Generated-Fields"):
        assert absent not in declared.headers, absent
    assert again.status_code == 200
    assert "ETag" in other.headers  # the other files keep their generated validators


def test_the_in_file_directive_turns_generated_fields_on_for_one_file(
    http: Version, site: Site
) -> None:
    (site.root / "all.txt").write_bytes(b"Header: Generated-Fields: all\nbody\n")
    (site.root / "some.txt").write_bytes(b"Header: Generated-Fields: Content-Type, ETag\n")
    server = http.server()
    server.serve_directory("/", site.root, in_file_headers=True, generated_fields="none")
    with server:
        all_fields = http.get(server.url + "/all.txt")
        some = http.get(server.url + "/some.txt")
        revalidated = http.get(
            server.url + "/all.txt", headers={"If-None-Match": all_fields.headers["etag"]}
        )
        plain = http.get(server.url + "/plain.txt")
    assert all_fields.headers["content-type"] == "text/plain; charset=utf-8"
    assert all_fields.headers["last-modified"]
    assert all_fields.headers["accept-ranges"] == "bytes"
    assert "generated-fields" not in all_fields.headers
    assert revalidated.status_code == 304
    assert some.headers["content-type"] == "text/plain; charset=utf-8"
    assert some.headers["etag"].startswith('"')
    assert "last-modified" not in some.headers
    assert "etag" not in plain.headers


def test_generated_fields_from_a_sidecar_and_by_suffix(site: Site) -> None:
    (site.root / "tagged.txt.headers").write_bytes(b"Generated-Fields: none\nX-Sidecar: yes\n")
    server = HTTPServer()
    server.serve_directory(
        "/", site.root, suffix_headers={".gz": {"Generated-Fields": "Content-Type"}}
    )
    with server:
        tagged = get(server, "/tagged.txt")
        gz = get(server, "/notes.gz")
        plain = get(server, "/plain.txt")
    assert sorted(name for name, _ in tagged.headers.multi_items()) == [
        "Connection",
        "Content-Length",
        "Date",
        "X-Sidecar",
    ]
    assert gz.headers["Content-Type"] == "application/gzip"
    assert "ETag" not in gz.headers
    assert "ETag" in plain.headers


def test_generated_fields_as_a_collection_keeps_the_content_type(http: Version, site: Site) -> None:
    server = http.server()
    server.serve_directory("/", site.root, generated_fields={"Content-Type"})
    with server:
        reply = http.get(
            server.url + "/plain.txt", headers={"If-Modified-Since": MTIME_TEXT}, timeout=5
        )
    assert reply.status_code == 200
    assert reply.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert "Last-Modified" not in reply.headers


def test_generated_fields_needs_root_on_http_server(site: Site) -> None:
    with pytest.raises(ConfigurationError, match="generated_fields= applies to the files of root="):
        HTTPServer(generated_fields="none")
    with pytest.raises(ConfigurationError, match="generated_fields must be 'all', 'none'"):
        HTTPServer(root=site.root, generated_fields="Date")


# -- methods -------------------------------------------------------------------------------


def test_head_has_the_fields_of_get_and_no_body(server: HTTPServer) -> None:
    connection = http.client.HTTPConnection(server.host, server.port, timeout=5)
    try:
        connection.request("HEAD", "/plain.txt")
        reply = connection.getresponse()
        assert reply.status == 200
        assert reply.getheader("Content-Length") == str(len(PLAIN))
        assert reply.getheader("Content-Type") == "text/plain; charset=utf-8"
        assert reply.getheader("Last-Modified") == MTIME_TEXT
        assert reply.read() == b""
        connection.request("GET", "/plain.txt")  # the connection is still in step
        assert connection.getresponse().read() == PLAIN
    finally:
        connection.close()
    reply_head = get(server, "/plain.txt", method="HEAD", Range="bytes=0-1")
    assert reply_head.status == 200  # Range is defined for GET only
    assert reply_head.body == b""


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
def test_other_methods_get_405_with_allow(server: HTTPServer, method: str) -> None:
    reply = requests.request(method, server.url + "/plain.txt", data=b"x", timeout=5)
    assert reply.status_code == 405
    assert reply.headers["Allow"] == "GET, HEAD"


# -- what is not served --------------------------------------------------------------------


def test_a_missing_file_gets_404_saying_so(server: HTTPServer, site: Site) -> None:
    reply = requests.get(server.url + "/nope.xml", timeout=5)
    assert reply.status_code == 404
    assert reply.text == f"understudy: 404: no file '/nope.xml' under {site.root.resolve()}\n"


def test_no_directory_listing(server: HTTPServer) -> None:
    for target in ("/", "/sub/", "/sub", "/empty/"):
        reply = get(server, target)
        assert reply.status == 404, target
        assert b"not listed" in reply.body
    assert get(server, "/plain.txt/").status == 404


def test_an_index_file_for_directories(http: Version, site: Site) -> None:
    server = http.server()
    server.serve_directory("/", site.root, index="index.html")
    with server:
        assert get(server, "/sub/").body == b"<h1>index</h1>\n"
        redirect = get(server, "/sub?x=1")
        assert redirect.status == 301
        assert redirect.headers["Location"] == "/sub/?x=1"
        assert http.get(server.url + "/sub", timeout=5).text == "<h1>index</h1>\n"
        assert get(server, "/empty/").status == 404
        assert get(server, "/").status == 404


def test_symlinks_inside_the_root_are_followed(server: HTTPServer) -> None:
    assert get(server, "/alias.txt").body == PLAIN


def test_symlinks_out_of_the_root_get_404(server: HTTPServer) -> None:
    for target in ("/escape.txt", "/escape-dir/secret.txt", "/escape-dir/"):
        reply = get(server, target)
        assert reply.status == 404, target
        assert SECRET not in reply.raw
    assert b"outside the served directory" in get(server, "/escape.txt").body


# -- the traversal corpus over the wire ----------------------------------------------------

#: Sent byte for byte over a raw socket; every one must get 404 (or 400 where the HTTP parser
#: refuses the request line itself) and no byte of the secret beside the root.
TRAVERSAL: list[str] = [
    "/../secret.txt",
    "/../../../../../../secret.txt",
    "/../outside/secret.txt",
    "/sub/../../secret.txt",
    "/./../secret.txt",
    "/..",
    "/%2e%2e/secret.txt",
    "/%2E%2E/secret.txt",
    "/.%2e/secret.txt",
    "/%2e./secret.txt",
    "/sub/%2e%2e/%2e%2e/secret.txt",
    "/.../secret.txt",
    "/..%20/secret.txt",
    "/..%2fsecret.txt",
    "/..%2Fsecret.txt",
    "/%2e%2e%2fsecret.txt",
    "/..%5csecret.txt",
    "/%2e%2e%5csecret.txt",
    "/..\\secret.txt",
    "/sub\\..\\..\\secret.txt",
    "//secret.txt",
    f"/{'/'.join(['..'] * 3)}//secret.txt",
    "/%2f..%2fsecret.txt",
    "/C:/secret.txt",
    "/C%3a%5csecret.txt",
    "/secret.txt%00.xml",
    "/..%00/secret.txt",
    "/%252e%252e/secret.txt",
    "/%252e%252e%252fsecret.txt",
    "/%c0%ae%c0%ae/secret.txt",
    "/%c0%af..%c0%afsecret.txt",
    "/%e0%80%ae%e0%80%ae/secret.txt",
    "/..%u2215secret.txt",
    "/..;/secret.txt",
    "/%ef%bc%8e%ef%bc%8e/secret.txt",
    "/..%ef%bc%8fsecret.txt",
    "/escape.txt",
    "/escape-dir/secret.txt",
    "/escape-dir/../secret.txt",
    "http://x/../secret.txt",
]
#: Refused by the HTTP parser (400) before any host sees them.
PARSER_REFUSED: list[str] = ["/.. /secret.txt", "/secret.txt\x00.xml", "../secret.txt"]


def test_the_wire_corpus_is_large_enough() -> None:
    assert len(TRAVERSAL) >= 30


@pytest.mark.parametrize("prefix", ["/", "/files"])
def test_traversal_corpus_never_escapes(site: Site, prefix: str) -> None:
    server = HTTPServer()
    server.serve_directory(prefix, site.root)
    base = prefix.rstrip("/")
    # An absolute-form target is not under "/files": it would reach the server's other hosts.
    targets = [base + t if t.startswith("/") else t for t in TRAVERSAL if t[0] == "/" or not base]
    with server:
        assert get(server, f"{base}/plain.txt").body == PLAIN  # the corpus is aimed right
        escapes = []
        for target in targets:
            reply = get(server, target)
            if reply.status != 404 or SECRET in reply.raw:
                escapes.append((target, reply.status))
        for target in PARSER_REFUSED:
            reply = get(server, target)
            if reply.status not in (400, 404) or SECRET in reply.raw:
                escapes.append((target, reply.status))
        received = server.wait_for_requests(1 + len(targets) + len(PARSER_REFUSED))
    assert escapes == []
    assert [request.target for request in received[1 : len(targets) + 1]] == targets


def test_a_refusal_says_why_and_is_recorded(server: HTTPServer) -> None:
    reply = get(server, "/%2e%2e/secret.txt")
    assert reply.status == 404
    assert reply.body == (
        b"understudy: 404: refused '/%2e%2e/secret.txt': a '..' segment (percent-encoded) "
        b"would leave the directory\n"
    )
    [request] = server.wait_for_requests(1)
    assert request.raw_path == "/%2e%2e/secret.txt"


# -- under a prefix, beside other hosts ----------------------------------------------------


def test_serve_directory_under_a_prefix_beside_a_handler(site: Site) -> None:
    server = HTTPServer(handler=lambda request: f"handled {request.path}")
    server.serve_directory("/feeds", site.root)
    with server, requests.Session() as session:
        assert session.get(server.url + "/feeds/plain.txt", timeout=5).content == PLAIN
        assert session.get(server.url + "/feeds/sub/deep.txt", timeout=5).text == "deep\n"
        assert session.get(server.url + "/other", timeout=5).text == "handled /other"
        assert session.get(server.url + "/feedsx", timeout=5).text == "handled /feedsx"
        assert session.get(server.url + "/feeds/nope", timeout=5).status_code == 404


def test_percent_encoded_names_are_served(http: Version, tmp_path: Path) -> None:
    (tmp_path / "a b é.txt").write_bytes(b"spaced\n")
    with http.server(root=tmp_path) as server:
        assert http.get(server.url + "/a b é.txt", timeout=5).content == b"spaced\n"
        assert get(server, "/a%20b%20%C3%A9.txt").body == b"spaced\n"


# -- mistakes ------------------------------------------------------------------------------


def test_a_malformed_directive_gets_500_and_is_raised_by_check(http: Version, site: Site) -> None:
    (site.root / "bad.xml").write_bytes(b"<x>\nHeader: Status: 99\n</x>\n")
    (site.root / "bad.txt").write_bytes(b"x")
    (site.root / "bad.txt.headers").write_bytes(b"X-A 1\n")
    server = http.server()
    server.serve_directory("/", site.root, in_file_headers=True)
    with server:
        reply = http.get(server.url + "/bad.xml", timeout=5)
        assert reply.status_code == 500
        assert reply.text == (
            "understudy: serving the file raised ConfigurationError (see check())\n"
        )
        with pytest.raises(ConfigurationError) as caught:
            server.check()
        assert str(caught.value).startswith(f"{site.root.resolve() / 'bad.xml'}: malformed ")
        assert "line 2: Status must be a code from 200 to 599" in str(caught.value)
        assert http.get(server.url + "/bad.txt", timeout=5).status_code == 500
        with pytest.raises(ConfigurationError, match=r"bad\.txt\.headers: malformed sidecar"):
            server.check()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"in_file_header": True},
            (
                "serve_directory() got an unexpected keyword argument 'in_file_header': "
                "did you mean `in_file_headers`?"
            ),
        ),
        (
            {"listing": True},
            (
                "'listing': it takes content_coding=, content_codings=, generated_fields=, "
                "in_file_headers=, index=, prefix=, root="
            ),
        ),
        ({"in_file_headers": "yes"}, "in_file_headers must be True or False"),
        ({"index": "a/index.html"}, "index must be a file name"),
        ({"index": ".."}, "index must be a file name"),
        ({"suffix_headers": [".gz"]}, "suffix_headers must be a mapping"),
        ({"suffix_headers": {"gz": {}}}, "keys are file-name suffixes"),
        ({"suffix_headers": {".gz": "gzip"}}, "must be a mapping of field names"),
        (
            {"suffix_headers": {".gz": {"Content-Length": "1"}}},
            "suffix_headers['.gz']: Content-Length is computed",
        ),
        ({"generated_fields": "validators"}, "generated_fields must be 'all', 'none', or some"),
        ({"generated_fields": ["ETag", 1]}, "generated_fields must be 'all', 'none'"),
        ({"generated_fields": None}, "not None"),
        ({"generated_fields": ""}, "generated_fields must be 'all', 'none'"),
        (
            {"suffix_headers": {".gz": {"Generated-Fields": "ETag, Date"}}},
            "suffix_headers['.gz']: Generated-Fields names 'Date'",
        ),
        ({"generated_field": "none"}, "'generated_field': did you mean `generated_fields`?"),
    ],
)
def test_bad_options_raise_configuration_error(
    site: Site, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        HTTPServer().serve_directory("/", site.root, **options)
    assert message in str(caught.value)


def test_a_root_that_is_not_a_directory(site: Site) -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        HTTPServer(root=site.base / "missing")
    with pytest.raises(ConfigurationError, match="is not a directory"):
        HTTPServer(root=site.root / "plain.txt")
    with pytest.raises(understudy.ConfigurationError, match="must be the path of a directory"):
        HTTPServer(root=42)  # type: ignore[arg-type]


# -- the pure decisions, as tables ---------------------------------------------------------


def _headers(**fields: str) -> Headers:
    return Headers((name.replace("_", "-"), value) for name, value in fields.items())


@pytest.mark.parametrize(
    ("method", "fields", "expected"),
    [
        ("GET", {}, None),
        ("GET", {"If_None_Match": '"a"'}, 304),
        ("HEAD", {"If_None_Match": 'W/"a"'}, 304),
        ("GET", {"If_None_Match": '"b", "a"'}, 304),
        ("GET", {"If_None_Match": '"b"'}, None),
        ("GET", {"If_Match": '"b"'}, 412),
        ("GET", {"If_Match": '"b"', "If_None_Match": '"a"'}, 412),
        ("GET", {"If_Match": "*", "If_None_Match": '"a"'}, 304),
        ("GET", {"If_Modified_Since": MTIME_TEXT}, 304),
        ("GET", {"If_Modified_Since": "Tue, 14 Nov 2023 22:13:19 GMT"}, None),
        ("GET", {"If_Modified_Since": "Tuesday, 14-Nov-23 22:13:20 GMT"}, 304),
        ("GET", {"If_Modified_Since": "Tue Nov 14 22:13:20 2023"}, 304),
        ("GET", {"If_Modified_Since": MTIME_TEXT, "If_None_Match": '"b"'}, None),
        ("GET", {"If_Unmodified_Since": "Tue, 14 Nov 2023 22:13:19 GMT"}, 412),
        ("GET", {"If_Unmodified_Since": "garbage"}, None),
        ("POST", {"If_None_Match": '"a"'}, 412),
        ("POST", {"If_Modified_Since": MTIME_TEXT}, None),
    ],
)
def test_evaluate_preconditions(method: str, fields: dict[str, str], expected: int | None) -> None:
    assert evaluate_preconditions(method, _headers(**fields), '"a"', MTIME_TEXT) == expected


def test_preconditions_against_hand_written_validators() -> None:
    # feedparser's corpus compares strings: an unquoted ETag or an odd date still matches itself
    assert evaluate_preconditions("GET", _headers(If_None_Match="abc"), "abc", None) == 304
    odd = "yesterday"
    assert evaluate_preconditions("GET", _headers(If_Modified_Since=odd), None, odd) == 304
    assert evaluate_preconditions("GET", _headers(If_None_Match='"a"'), None, None) is None


@pytest.mark.parametrize(
    ("method", "fields", "expected"),
    [
        ("GET", {"If_None_Match": '"a"'}, None),
        ("GET", {"If_None_Match": "*"}, 304),
        ("HEAD", {"If_Modified_Since": MTIME_TEXT}, None),
        ("GET", {"If_Match": '"a"'}, 412),
        ("GET", {"If_Match": "*"}, None),
        ("GET", {"If_Unmodified_Since": MTIME_TEXT}, None),
        ("POST", {"If_None_Match": "*"}, 412),
    ],
)
def test_evaluate_preconditions_without_validators(
    method: str, fields: dict[str, str], expected: int | None
) -> None:
    assert evaluate_preconditions(method, _headers(**fields), None, None) == expected


@pytest.mark.parametrize("if_range", ['"a"', MTIME_TEXT, "*"])
def test_if_range_without_validators_ignores_the_range(if_range: str) -> None:
    assert select_range("bytes=0-1", if_range, None, None, 10) is None
    assert select_range("bytes=0-1", None, None, None, 10) == (0, 1)


@pytest.mark.parametrize(
    ("value", "length", "expected"),
    [
        ("bytes=0-0", 10, (0, 0)),
        ("bytes=0-", 10, (0, 9)),
        ("bytes=9-", 10, (9, 9)),
        ("bytes=10-", 10, "unsatisfiable"),
        ("bytes=-3", 10, (7, 9)),
        ("bytes=-30", 10, (0, 9)),
        ("bytes=-1", 0, "unsatisfiable"),
        ("bytes=0-", 0, "unsatisfiable"),
        ("bytes=3-2", 10, None),
        ("bytes=0-1,2-3", 10, None),
        ("bytes=1", 10, None),
        ("bytes=", 10, None),
        ("pages=0-1", 10, None),
        ("bytes=+1-2", 10, None),
        ("bytes=0x1-2", 10, None),
        ("bytes=\u00b2-", 10, None),
        ("bytes=0-\u0663", 10, None),  # (an Arabic-Indic digit)
        ("bytes=" + "0" * 5000 + "1-", 10, (1, 9)),
        ("bytes=" + "1" * 5000 + "-", 10, "unsatisfiable"),
    ],
)
def test_select_range(value: str, length: int, expected: tuple[int, int] | str | None) -> None:
    assert select_range(value, None, '"a"', MTIME_TEXT, length) == expected


def test_respond_to_head_and_to_a_directive_status() -> None:
    request = Request(method="HEAD", target="/x", headers=[("Host", "x")])
    response = respond(request, b"12345", Directives(fields=(("ETag", '"a"'),)))
    assert (response.status_code, response.body) == (200, b"")
    assert ("Content-Length", "5") in response.headers
    moved = respond(
        Request(method="GET", target="/x", headers=[("If-None-Match", '"a"')]),
        b"body",
        Directives(301, "Gone Away", (("ETag", '"a"'), ("Location", "/y"))),
    )
    assert (moved.status_code, moved.reason, moved.body) == (301, "Gone Away", b"body")
