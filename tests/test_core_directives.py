"""Tests for understudy._core.directives: in-file, sidecar and suffix header directives."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from understudy._core.coding import CODINGS
from understudy._core.directive_sources import (
    directives_from_mapping,
    parse_in_file,
    parse_sidecar,
    render_in_file,
    render_sidecar,
)
from understudy._core.directives import (
    CONTENT_TYPES,
    GENERATED_FIELDS,
    DirectiveError,
    Directives,
    content_type_for,
    for_suffix,
    merge,
    parse_generated_fields,
    render_generated_fields,
)

FEED = b"""<?xml version="1.0" encoding="iso-8859-1"?>
<!--
Header:   Content-type: application/atom+xml; charset=utf-8
Header:   X-Foo: bar
-->
<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title></feed>
"""

# -- in-file -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            FEED,
            Directives(
                fields=(("Content-type", "application/atom+xml; charset=utf-8"), ("X-Foo", "bar"))
            ),
        ),
        (b"no directives here\n", Directives()),
        (b"", Directives()),
        (b"Header: X-A: 1", Directives(fields=(("X-A", "1"),))),
        (b"Header: X-A: 1\r\nHeader: X-B: 2\r\n", Directives(fields=(("X-A", "1"), ("X-B", "2")))),
        (b"Header: X-A: 1\rHeader: X-B: 2\r", Directives(fields=(("X-A", "1"), ("X-B", "2")))),
        (b"Header:\tX-A:\t1 \t\n", Directives(fields=(("X-A", "1"),))),
        (
            b"Header: Location: http://127.0.0.1:8080/x.xml\n",
            Directives(fields=(("Location", "http://127.0.0.1:8080/x.xml"),)),
        ),
        (b"Header: Status: 301\n", Directives(status=301)),
        (b"Header: Status: 302 Found It\n", Directives(status=302, reason="Found It")),
        # Generated-Fields is read, like Status, and never sent
        (b"Header: Generated-Fields: none\n", Directives(generated=frozenset())),
        (
            b"Header: Status: 200\nHeader: Generated-Fields: all\nHeader: X-A: 1\n",
            Directives(200, None, (("X-A", "1"),), frozenset(GENERATED_FIELDS)),
        ),
        (
            b"Header: Set-Cookie: a=1\nHeader: Set-Cookie: b=2\n",
            Directives(fields=(("Set-Cookie", "a=1"), ("Set-Cookie", "b=2"))),
        ),
        # not directives: not at the start of a line, no whitespace, no second colon, other case
        (b"  Header: X-A: 1\n", Directives()),
        (b"x Header: X-A: 1\n", Directives()),
        (b"Header:X-A: 1\n", Directives()),
        (b"Header: X-A 1\n", Directives()),
        (b"header: X-A: 1\n", Directives()),
        (b"Header: X-A:\n", Directives()),
        # a directive never spans lines
        (b"Header:\nX-A: 1\n", Directives()),
        (b"Header: X-A\n: 1\n", Directives()),
        # bytes outside ASCII are kept (as Latin-1 text, so they go back on the wire unchanged)
        (
            "Header: X-Name: café\n".encode(),
            Directives(fields=(("X-Name", "café".encode().decode("latin-1")),)),
        ),
    ],
)
def test_parse_in_file(data: bytes, expected: Directives) -> None:
    assert parse_in_file(data) == expected


def test_in_file_directives_anywhere_with_trailing_data() -> None:
    data = b"\x00\xff binary\nHeader: X-A: 1\nmore text\n" + b"\xfe" * 100 + b"\nHeader: X-B: 2"
    assert parse_in_file(data) == Directives(fields=(("X-A", "1"), ("X-B", "2")))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"Header: X Foo: 1\n", "line 1: 'X Foo' is not a field name"),
        (b"one\ntwo\nHeader: Status: 301\nHeader: Status: 302\n", "line 4: Status is given twice"),
        (b"Header: Status: abc\n", "line 1: Status must be a code from 200 to 599"),
        (b"Header: Status: 101\n", "line 1: Status must be a code from 200 to 599"),
        (b"Header: Status: 3011\n", "line 1: Status must be a code from 200 to 599"),
        (b"Header: Content-Length: 5\n", "line 1: Content-Length is computed by the server"),
        (b"\nHeader: Transfer-Encoding: chunked\n", "line 2: Transfer-Encoding is computed"),
        (b"Header: X-A: a\x00b\n", "line 1: the value of X-A holds a control character"),
        (
            b"Header: Generated-Fields: none\nHeader: generated-fields: all\n",
            "line 2: Generated-Fields is given twice",
        ),
        (b"Header: Generated-Fields: Date\n", "line 1: Generated-Fields names 'Date'"),
    ],
)
def test_bad_in_file_directives(data: bytes, message: str) -> None:
    with pytest.raises(DirectiveError) as caught:
        parse_in_file(data)
    assert str(caught.value).startswith(message)


# -- sidecar -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", Directives()),
        (b"X-A: 1\n", Directives(fields=(("X-A", "1"),))),
        (b"X-A: 1\r\nX-B:2\r\n", Directives(fields=(("X-A", "1"), ("X-B", "2")))),
        (b"X-A: 1", Directives(fields=(("X-A", "1"),))),
        (b"\n\nX-A: 1\n\n   \nX-B: 2\n\n", Directives(fields=(("X-A", "1"), ("X-B", "2")))),
        (b"X-A:\n", Directives(fields=(("X-A", ""),))),
        (b"X-A: one\n  two\n\tthree\n", Directives(fields=(("X-A", "one two three"),))),
        (b"X-A:\n two\n", Directives(fields=(("X-A", "two"),))),
        (b"\xef\xbb\xbfX-A: 1\n", Directives(fields=(("X-A", "1"),))),
        # (0x85 is NEL in Latin-1, but obs-text in a field value: "Å" in UTF-8 ends in it)
        (b"X-A: \xc3\x85\nX-B: 2\n", Directives(fields=(("X-A", "\xc3\x85"), ("X-B", "2")))),
        (b"Status: 302\nLocation: /b.xml\n", Directives(302, None, (("Location", "/b.xml"),))),
        (b"Status: 503 Busy Now\n", Directives(503, "Busy Now")),
        (b"Location: http://x/a:b\n", Directives(fields=(("Location", "http://x/a:b"),))),
        (
            b"Generated-Fields: Content-Type,\n  Accept-Ranges\n",
            Directives(generated=frozenset({"Content-Type", "Accept-Ranges"})),
        ),
    ],
)
def test_parse_sidecar(data: bytes, expected: Directives) -> None:
    assert parse_sidecar(data) == expected


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"X-A 1\n", "line 1: expected 'Name: value', got 'X-A 1'"),
        (b"X-A : 1\n", "line 1: whitespace between the field name 'X-A' and its colon"),
        (b" X-A: 1\n", "line 1: a continuation line"),
        (b"X-A: 1\n\n two\n", "line 3: a continuation line"),
        (b"X-A: 1\nX B: 2\n", "line 2: 'X B' is not a field name"),
        (b"Status: 200\nStatus: 404\n", "line 2: Status is given twice"),
        (b"Content-Range: bytes 0-1/2\n", "line 1: Content-Range is computed by the server"),
        (b": 1\n", "line 1: '' is not a field name"),
        (b"X-A: 1\nGenerated-Fields:\n", "line 2: Generated-Fields is empty; write 'none'"),
    ],
)
def test_bad_sidecars(data: bytes, message: str) -> None:
    with pytest.raises(DirectiveError) as caught:
        parse_sidecar(data)
    assert str(caught.value).startswith(message)
    assert caught.value.line == int(message.split()[1].rstrip(":"))


# -- merging, suffixes, content types ------------------------------------------------------


def test_later_layers_replace_fields_by_name_and_keep_the_rest() -> None:
    defaults = Directives(fields=(("Content-Type", "application/xml"), ("ETag", '"c"')))
    suffix = Directives(fields=(("Content-Encoding", "gzip"),))
    sidecar = Directives(301, None, (("content-type", "text/xml"), ("X-A", "1"), ("X-A", "2")))
    in_file = Directives(302, "Found", (("X-A", "3"),))
    assert merge(defaults, suffix, sidecar, in_file) == Directives(
        302,
        "Found",
        (
            ("ETag", '"c"'),
            ("Content-Encoding", "gzip"),
            ("content-type", "text/xml"),
            ("X-A", "3"),
        ),
    )
    assert merge(sidecar, Directives()).status == 301
    assert merge() == Directives()


def test_the_last_layer_that_says_gives_the_generated_fields() -> None:
    none = Directives(generated=frozenset())
    etag = Directives(generated=frozenset({"ETag"}))
    silent = Directives(fields=(("X-A", "1"),))
    assert merge(none, silent).generated == frozenset()
    assert merge(none, etag, silent).generated == frozenset({"ETag"})
    assert merge(silent).generated is None


# -- Generated-Fields ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("none", set()),
        ("NONE", set()),
        ("all", set(GENERATED_FIELDS)),
        (" All ", set(GENERATED_FIELDS)),
        ("ETag", {"ETag"}),
        ("etag", {"ETag"}),
        ("content-type, ACCEPT-RANGES", {"Content-Type", "Accept-Ranges"}),
        ("Last-Modified,,ETag,", {"Last-Modified", "ETag"}),  # empty list members skipped
        ("ETag, ETag", {"ETag"}),
        ("Content-Type,\tETag", {"Content-Type", "ETag"}),
    ],
)
def test_parse_generated_fields(value: str, expected: set[str]) -> None:
    assert parse_generated_fields(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "Generated-Fields is empty; write 'none' for no generated field"),
        (" , ", "Generated-Fields is empty"),
        ("no", "Generated-Fields names 'no', which the server does not generate; write 'all'"),
        ("none, ETag", "Generated-Fields names 'none'"),
        ("ETag, all", "Generated-Fields names 'all'"),
        ("Date", "Generated-Fields names 'Date'"),
        ("Content-Length", "Generated-Fields names 'Content-Length'"),
        ("ETag;Last-Modified", "Generated-Fields names 'ETag;Last-Modified'"),
    ],
)
def test_bad_generated_fields(value: str, message: str) -> None:
    with pytest.raises(DirectiveError) as caught:
        parse_generated_fields(value, line=3)
    assert str(caught.value).startswith("line 3: " + message)
    assert ", ".join(GENERATED_FIELDS) in str(caught.value)


def test_generated_fields_in_a_mapping_as_for_suffix_headers() -> None:
    assert directives_from_mapping({"Generated-Fields": "Content-Type"}) == Directives(
        generated=frozenset({"Content-Type"})
    )


def test_for_suffix_applies_every_suffix_the_longest_last() -> None:
    table = {
        ".gz": directives_from_mapping({"Content-Encoding": "gzip", "X-From": "gz"}),
        ".tar.gz": directives_from_mapping({"X-From": "tar.gz"}),
        ".xml": directives_from_mapping({"X-From": "xml"}),
    }
    assert for_suffix("a.TAR.GZ", table) == Directives(
        fields=(("Content-Encoding", "gzip"), ("X-From", "tar.gz"))
    )
    assert for_suffix("a.xml.gz", table).get("x-from") == "gz"
    assert for_suffix("a.txt", table) == Directives()


def test_directives_from_mapping_checks_like_the_files() -> None:
    assert directives_from_mapping({"Status": "404", "X-A": " 1 "}) == Directives(
        404, None, (("X-A", "1"),)
    )
    with pytest.raises(DirectiveError, match="Content-Length is computed"):
        directives_from_mapping({"Content-Length": "3"})
    with pytest.raises(DirectiveError, match="must be str"):
        directives_from_mapping({"X-A": 1})  # type: ignore[dict-item]


def test_get_finds_the_last_value_without_case() -> None:
    directives = Directives(fields=(("ETag", '"a"'), ("etag", '"b"')))
    assert directives.get("ETAG") == '"b"'
    assert directives.get("Last-Modified") is None


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("feed.xml", "application/xml"),
        ("FEED.XML", "application/xml"),
        ("feed.rss", "application/rss+xml"),
        ("feed.atom", "application/atom+xml"),
        ("data.json", "application/json"),
        ("page.html", "text/html; charset=utf-8"),
        ("notes.txt", "text/plain; charset=utf-8"),
        ("style.css", "text/css; charset=utf-8"),
        ("app.js", "text/javascript; charset=utf-8"),
        ("logo.png", "image/png"),
        ("photo.jpg", "image/jpeg"),
        ("icon.svg", "image/svg+xml"),
        ("pkg-1.0-py3-none-any.whl", "application/zip"),
        ("pkg-1.0.tar.gz", "application/gzip"),
        ("log.gz", "application/gzip"),
        ("Makefile", None),
        (".xml", None),
        ("a.unknown", None),
    ],
)
def test_content_type_for(name: str, content_type: str | None) -> None:
    assert content_type_for(name) == content_type


def test_the_content_type_table_is_lower_case_suffixes() -> None:
    assert all(suffix == suffix.lower() and suffix.startswith(".") for suffix in CONTENT_TYPES)


# -- round trips ---------------------------------------------------------------------------

_TCHAR = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
_NAMES = st.text(st.sampled_from(_TCHAR), min_size=1, max_size=12).filter(
    lambda name: (
        name.lower()
        not in {
            "status",
            "generated-fields",
            "content-coding",
            "content-codings",
            "content-length",
            "transfer-encoding",
            "content-range",
        }
    )
)
_VISIBLE = st.characters(min_codepoint=0x21, max_codepoint=0xFF).filter(lambda char: char != "\x7f")
_VALUES = st.text(st.one_of(_VISIBLE, st.sampled_from(" \t")), max_size=30).map(
    lambda value: value.strip(" \t")
)
_REASONS = st.one_of(st.none(), _VALUES.filter(bool))
_GENERATED = st.one_of(st.none(), st.frozensets(st.sampled_from(GENERATED_FIELDS)))
_CODINGS = st.one_of(
    st.none(),
    st.tuples(st.just(True), st.sampled_from([(), *((coding,) for coding in CODINGS)])),
    st.tuples(st.just(False), st.lists(st.sampled_from(CODINGS), unique=True).map(tuple)),
)
_DIRECTIVES = st.builds(
    Directives,
    status=st.one_of(st.none(), st.integers(200, 599)),
    reason=_REASONS,
    fields=st.lists(st.tuples(_NAMES, _VALUES), max_size=6).map(tuple),
    generated=_GENERATED,
    coding=_CODINGS,
).map(
    lambda d: d if d.status is not None else Directives(None, None, d.fields, d.generated, d.coding)
)
_OTHER_LINES = st.lists(
    st.text(st.characters(max_codepoint=0xFF, blacklist_characters="\r\n"), max_size=30).filter(
        lambda line: not line.startswith("Header:")
    ),
    max_size=5,
)


@given(_DIRECTIVES)
def test_sidecar_round_trip(directives: Directives) -> None:
    assert parse_sidecar(render_sidecar(directives)) == directives


@given(_DIRECTIVES, _OTHER_LINES, _OTHER_LINES, st.sampled_from(["\n", "\r\n"]))
def test_in_file_round_trip(
    directives: Directives, before: list[str], after: list[str], newline: str
) -> None:
    rendered = render_in_file(directives).decode("latin-1").replace("\n", newline)
    text = "".join(line + newline for line in before) + rendered + newline.join(after)
    assert parse_in_file(text.encode("latin-1")) == directives


@given(_NAMES, st.lists(st.text(_VISIBLE, min_size=1, max_size=8), min_size=1, max_size=4))
def test_folded_sidecar_fields_unfold_to_one_space(name: str, words: list[str]) -> None:
    folded = f"{name}: " + "\r\n \t".join(words) + "\r\n"
    assert parse_sidecar(folded.encode("latin-1")) == Directives(fields=((name, " ".join(words)),))


@given(st.frozensets(st.sampled_from(GENERATED_FIELDS)))
def test_generated_fields_round_trip(generated: frozenset[str]) -> None:
    rendered = render_generated_fields(generated)
    assert parse_generated_fields(rendered) == generated
    assert parse_generated_fields(rendered.lower()) == generated
    assert parse_generated_fields(rendered.upper().replace(", ", " ,\t")) == generated


# -- content-coding pseudo-fields ----------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "coding"),
    [
        (b"Content-Coding: gzip\n", (True, ("gzip",))),
        (b"content-coding: BR\n", (True, ("br",))),
        (b"Content-Coding: identity\n", (True, ())),
        (b"Content-Codings: br, gzip\n", (False, ("br", "gzip"))),
        (b"Content-Codings: none\n", (False, ())),
    ],
)
def test_content_coding_pseudo_fields_are_read_and_never_sent(
    data: bytes, coding: tuple[bool, tuple[str, ...]]
) -> None:
    parsed = parse_sidecar(data)
    assert (parsed.coding, parsed.fields) == (coding, ())
    assert parse_in_file(b"Header: " + data).coding == coding


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"Content-Coding: gzip, br\n", "line 1: Content-Coding takes one coding, always"),
        (b"Content-Codings: lzma\n", "'lzma' is not a content coding"),
        (b"Content-Codings: gzip\nContent-Coding: br\n", "line 2: .* given twice"),
        (b"Content-Codings:\n", "is empty"),
    ],
)
def test_bad_content_coding_pseudo_fields(data: bytes, message: str) -> None:
    with pytest.raises(DirectiveError, match=message):
        parse_sidecar(data)


def test_a_later_source_chooses_the_coding() -> None:
    directory = parse_sidecar(b"Content-Codings: gzip\n")
    in_file = parse_in_file(b"Header: Content-Coding: identity\n")
    assert merge(directory, in_file).coding == (True, ())
    assert merge(directory, Directives()).coding == (False, ("gzip",))
