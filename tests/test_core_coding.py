"""Content codings, the pure part: Accept-Encoding negotiation (RFC 9110 §12.5.3), the coders,
tags and Vary, as tables and round trips."""

from __future__ import annotations

import gzip
import zlib

import brotli
import pytest
import zstandard
from hypothesis import given
from hypothesis import strategies as st

from understudy._core.coding import (
    CODINGS,
    CodingError,
    check_codings,
    coding_problem,
    compressor,
    encode,
    malformed_gzip,
    negotiate,
    parse_accept_encoding,
    tag_for_coding,
    vary_with,
)

OFFERED = ("br", "gzip")

#: Accept-Encoding (None: no field) -> the coding chosen among OFFERED (None: identity).
NEGOTIATIONS: list[tuple[str | None, str | None]] = [
    (None, None),  # no field: sent as it is (the client may not decode)
    ("", None),  # empty: the client wants no coding
    ("gzip", "gzip"),
    ("GZIP", "gzip"),  # codings are case-insensitive
    ("x-gzip", "gzip"),  # §8.4.1.3
    ("gzip, deflate, br, zstd", "br"),  # equal q: the server's order
    ("gzip;q=1.0, br;q=0.5", "gzip"),  # the higher q wins
    ("br;q=0, gzip", "gzip"),  # q=0: not acceptable
    ("br;q=0, gzip;q=0", None),
    ("*", "br"),
    ("*;q=0.5, gzip", "gzip"),
    ("*;q=0", None),
    ("deflate", None),  # nothing offered is acceptable
    ("identity", None),
    ("gzip;q=0.5, identity", None),  # identity preferred
    ("gzip, identity;q=0.5", "gzip"),
    ("identity;q=0", None),  # identity refused, nothing else: disregarded (§12.1)
    ("gzip;q=2", None),  # a bad qvalue: the member is skipped
    ("gzip;q=0.0001", None),  # more than three decimals: skipped
    ("gzip ; q=0.8 , br ; Q=0.9", "br"),  # whitespace and case around parameters
    ("g z i p, gzip", "gzip"),  # not a token: skipped
    (",,gzip,,", "gzip"),  # empty list members (§5.6.1)
    ("gzip;level=9", "gzip"),  # other parameters ignored
]


@pytest.mark.parametrize(("accept", "chosen"), NEGOTIATIONS)
def test_negotiation(accept: str | None, chosen: str | None) -> None:
    assert negotiate(accept, OFFERED) == chosen


def test_nothing_offered_is_identity() -> None:
    assert negotiate("gzip", ()) is None


def test_parse_accept_encoding_keeps_the_first_qvalue_of_a_repeated_coding() -> None:
    assert parse_accept_encoding("gzip;q=0.3, gzip, *;q=0") == {"gzip": 0.3, "*": 0.0}


@given(st.text(max_size=80), st.lists(st.sampled_from(CODINGS), unique=True, max_size=4))
def test_negotiation_never_raises_and_picks_an_offered_coding(
    accept: str, offered: list[str]
) -> None:
    assert negotiate(accept, offered) in (*offered, None)


@pytest.mark.parametrize("coding", CODINGS)
@given(data=st.binary(max_size=2000))
def test_every_coding_round_trips(coding: str, data: bytes) -> None:
    coded = encode(coding, data)
    decode = {
        "gzip": gzip.decompress,
        "deflate": zlib.decompress,  # the zlib format (RFC 9110 §8.4.1.2), not raw deflate
        "br": brotli.decompress,
        "zstd": lambda b: zstandard.ZstdDecompressor().decompressobj().decompress(b),
    }[coding]
    assert decode(coded) == data


def test_gzip_output_depends_only_on_the_input() -> None:
    assert encode("gzip", b"x" * 100) == encode("gzip", b"x" * 100)
    assert encode("gzip", b"x")[4:8] == b"\0\0\0\0"  # no modification time


@pytest.mark.parametrize("coding", CODINGS)
def test_each_streamed_piece_decodes_when_sent(coding: str) -> None:
    code = compressor(coding)
    decoder = {
        "gzip": zlib.decompressobj(wbits=31),
        "deflate": zlib.decompressobj(),
        "br": brotli.Decompressor(),
        "zstd": zstandard.ZstdDecompressor().decompressobj(),
    }[coding]
    decode = decoder.process if coding == "br" else decoder.decompress
    assert decode(code(b"data: one\n\n")) == b"data: one\n\n"  # flushed: nothing held back
    assert decode(code(b"data: two\n\n")) == b"data: two\n\n"
    assert decode(code(None)) == b""


def test_the_malformed_gzip_body_fails_at_its_first_block() -> None:
    body = malformed_gzip()
    assert body[:3] == b"\x1f\x8b\x08"  # looks like gzip
    with pytest.raises(zlib.error, match="invalid block type"):
        gzip.decompress(body)
    with pytest.raises(zlib.error, match="invalid block type"):
        zlib.decompressobj(wbits=31).decompress(body[:11])


@pytest.mark.parametrize(
    ("etag", "tagged"),
    [('"abc"', '"abc-gzip"'), ('W/"abc"', 'W/"abc"'), ("abc", "abc"), ('""', '"-gzip"')],
)
def test_a_strong_tag_names_the_coding(etag: str, tagged: str) -> None:
    assert tag_for_coding(etag, "gzip") == tagged


@pytest.mark.parametrize(
    ("fields", "result"),
    [
        ([], [("Vary", "Accept-Encoding")]),
        ([("Vary", "Accept")], [("Vary", "Accept, Accept-Encoding")]),
        ([("vary", "accept-encoding")], [("vary", "accept-encoding")]),
        ([("Vary", "*")], [("Vary", "*")]),
    ],
)
def test_vary_names_accept_encoding_once(
    fields: list[tuple[str, str]], result: list[tuple[str, str]]
) -> None:
    assert vary_with(fields, "Accept-Encoding") == result


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("lzma", "'lzma' is not a content coding understudy can apply"),
        ("identity", "not a content coding"),
        ("", "is empty"),
        ("gzip, GZIP", "names 'GZIP' twice"),
        (7, "takes codings such as"),
        ([7], "7 is not a content coding"),
    ],
)
def test_bad_codings_say_what_to_write(value: object, message: str) -> None:
    with pytest.raises(CodingError, match=message):
        check_codings(value)


def test_codings_read_from_a_str_or_a_sequence() -> None:
    assert check_codings("Gzip, br") == ("gzip", "br")
    assert check_codings(["zstd"]) == ("zstd",)
    assert all(coding_problem(coding) is None for coding in CODINGS)
