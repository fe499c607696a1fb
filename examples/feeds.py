"""Section: feedparser reads a directory of feeds whose response headers are written in the files.

The third seed's use case: ``Header: Status: 301`` and ``Header: Location: ...`` lines inside a
feed file make the server redirect; ``Header: Content-Type: ...; charset=...`` overrides the XML
declaration; ETag lets the second fetch get a 304.
"""

from __future__ import annotations

from pathlib import Path

import feedparser

import understudy

from ._report import Report

TITLE = "feedparser -> a directory of feeds whose response headers live inside the files"

FEEDS = Path(__file__).resolve().parent.parent / "tests" / "data" / "feeds"


def run(report: Report) -> None:
    """Follow a redirect, revalidate with ETag, and read a charset set by a header directive."""
    server = understudy.HTTPServer()
    server.serve_directory("/feeds", FEEDS, in_file_headers=True)
    with server:
        report.line(f"server: serve_directory('/feeds', tests/data/feeds)  at {server.url}")
        url = server.url + "/feeds"
        moved = feedparser.parse(url + "/moved-permanently.xml")
        report.line()
        report.line('>>> feedparser.parse(url + "/moved-permanently.xml")')
        report.line(f"status {moved.status}, now at {moved.href}: {moved.feed.title!r}", indent=2)
        report.check(moved.href.endswith("/final.xml"), "the 301 to be followed")
        again = feedparser.parse(url + "/final.xml", etag=moved.etag)
        report.line()
        report.line(f'>>> feedparser.parse(url + "/final.xml", etag={moved.etag!r})')
        report.line(f"status {again.status}: not modified, nothing to parse", indent=2)
        report.check(again.status == 304, "a 304 on the second fetch")
        latin = feedparser.parse(url + "/charset-override.xml")
        report.line()
        report.line('>>> feedparser.parse(url + "/charset-override.xml")')
        report.line(f"encoding {latin.encoding} from Content-Type: {latin.feed.title!r}", indent=2)
        report.check(latin.encoding == "iso-8859-1", "the header's charset to win")
        for request in server.requests:
            report.line(f"server received  {request.method} {request.target}", indent=2)
