"""feedparser, unchanged, against a served directory of feeds whose headers are in the files.

The corpus in ``tests/data/feeds`` follows feedparser's own test-server convention
(``Header: Name: value`` lines inside each file) plus one sidecar: charsets that contradict the
XML declaration, 301/302 redirects with Location, an ETag that gives 304 on the next fetch, and
a feed sent with no validators at all (``Header: Generated-Fields: none``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from understudy import HTTPServer

feedparser = pytest.importorskip("feedparser")

FEEDS = Path(__file__).parent / "data" / "feeds"


@pytest.fixture
def feeds() -> Iterator[str]:
    """The URL of the feed directory, served at /feeds with in-file directives on."""
    server = HTTPServer()
    server.serve_directory("/feeds", FEEDS, in_file_headers=True)
    with server:
        yield server.url + "/feeds"


def test_a_feed_with_validators(feeds: str) -> None:
    parsed = feedparser.parse(feeds + "/final.xml")
    assert parsed.status == 200
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    assert parsed.feed.title == "Final feed"
    assert [entry.title for entry in parsed.entries] == ["First entry"]
    assert parsed.etag == '"final-v1"'
    assert parsed.modified == "Tue, 14 Nov 2023 22:13:20 GMT"
    assert parsed.headers["content-type"] == "application/atom+xml; charset=utf-8"


def test_etag_gives_304_on_the_second_fetch(feeds: str) -> None:
    first = feedparser.parse(feeds + "/final.xml")
    second = feedparser.parse(feeds + "/final.xml", etag=first.etag)
    assert second.status == 304
    assert second.entries == []
    assert feedparser.parse(feeds + "/final.xml", etag='"final-v0"').status == 200


def test_last_modified_gives_304_on_the_second_fetch(feeds: str) -> None:
    first = feedparser.parse(feeds + "/final.xml")
    assert feedparser.parse(feeds + "/final.xml", modified=first.modified).status == 304


@pytest.mark.parametrize(("name", "status"), [("moved-permanently.xml", 301), ("found.xml", 302)])
def test_redirects_are_followed_and_reported(feeds: str, name: str, status: int) -> None:
    parsed = feedparser.parse(f"{feeds}/{name}")
    assert parsed.status == status
    assert parsed.href == feeds + "/final.xml"
    assert parsed.feed.title == "Final feed"


def test_the_http_charset_overrides_the_xml_declaration(feeds: str) -> None:
    parsed = feedparser.parse(feeds + "/charset-override.xml")
    assert parsed.encoding == "iso-8859-1"
    assert parsed.feed.title == "Café crème"
    assert parsed.entries[0].title == "À la carte"  # 0xC0 would not decode as UTF-8


def test_a_charset_from_a_sidecar(feeds: str) -> None:
    parsed = feedparser.parse(feeds + "/sidecar.rss")
    assert parsed.headers["x-feed-source"] == "sidecar"
    assert parsed.encoding == "windows-1252"
    assert parsed.feed.title == "Price: 10€"


def test_every_fetch_is_in_the_journal() -> None:
    server = HTTPServer()
    server.serve_directory("/feeds", FEEDS, in_file_headers=True)
    with server:
        feedparser.parse(server.url + "/feeds/moved-permanently.xml")
        first, second = server.wait_for_requests(2)
    assert (first.path, second.path) == ("/feeds/moved-permanently.xml", "/feeds/final.xml")
    assert "feedparser" in first.headers["user-agent"]
    assert "application/atom+xml" in first.headers["accept"]


def test_a_feed_without_validators_is_fetched_whole_every_time() -> None:
    server = HTTPServer()
    server.serve_directory("/feeds", FEEDS, in_file_headers=True)
    with server:
        url = server.url + "/feeds/no-validators.xml"
        first = feedparser.parse(url)
        # a reader that kept validators from elsewhere still sends them: they cannot match
        second = feedparser.parse(url, etag='"final-v1"', modified="Tue, 14 Nov 2023 22:13:20 GMT")
        plain, conditional = server.wait_for_requests(2)
    for parsed in (first, second):
        assert parsed.status == 200
        assert not parsed.bozo, parsed.get("bozo_exception")
        assert [entry.title for entry in parsed.entries] == ["Always sent"]
        assert "etag" not in parsed
        assert "modified" not in parsed
        assert "last-modified" not in parsed.headers
        assert parsed.headers["content-type"] == "application/atom+xml; charset=utf-8"
    assert "if-none-match" not in plain.headers
    assert conditional.headers["if-none-match"] == '"final-v1"'
    assert conditional.headers["if-modified-since"] == "Tue, 14 Nov 2023 22:13:20 GMT"


def test_generated_fields_none_for_the_whole_directory() -> None:
    server = HTTPServer()
    server.serve_directory("/feeds", FEEDS, in_file_headers=True, generated_fields="none")
    with server:
        url = server.url + "/feeds"
        sidecar = feedparser.parse(url + "/sidecar.rss")
        final = feedparser.parse(url + "/final.xml")
        revalidated = feedparser.parse(url + "/final.xml", etag=final.etag)
    # nothing generated: the sidecar's feed has no validators, and its fields are all declared
    assert sidecar.status == 200
    assert "etag" not in sidecar
    assert "modified" not in sidecar
    assert sidecar.headers["x-feed-source"] == "sidecar"
    assert sidecar.feed.title == "Price: 10€"
    # a file that declares its validators keeps them, and its 304
    assert final.etag == '"final-v1"'
    assert revalidated.status == 304
