"""Table tests of the pure response framing (RFC 9112 §4-§7, §9): no sockets."""

from __future__ import annotations

import email.utils
import http

import pytest
from hypothesis import given
from hypothesis import strategies as st

from understudy import ConfigurationError, Response
from understudy._core.framing import (
    HUGE,
    LAST_CHUNK,
    BodyMode,
    Framing,
    encode_chunk,
    encode_head,
    field_name_problem,
    imf_fixdate,
    parse_digits,
    plan_framing,
    reason_phrase,
)

Fields = list[tuple[str, str]]

# (id, status, fields, body_length, method, version, keep_alive) ->
#     (mode, length, keep_alive after, extra fields)
CASES: list[
    tuple[str, int, Fields, int | None, str, str, bool, tuple[BodyMode, int | None, bool, Fields]]
] = [
    (
        "1.1 known length",
        200,
        [],
        5,
        "GET",
        "1.1",
        True,
        (BodyMode.LENGTH, 5, True, [("Content-Length", "5")]),
    ),
    (
        "1.1 empty body",
        200,
        [],
        0,
        "GET",
        "1.1",
        True,
        (BodyMode.LENGTH, 0, True, [("Content-Length", "0")]),
    ),
    (
        "1.1 streamed is chunked",
        200,
        [],
        None,
        "GET",
        "1.1",
        True,
        (BodyMode.CHUNKED, None, True, [("Transfer-Encoding", "chunked")]),
    ),
    (
        "1.1 declared length wins over computed",
        200,
        [("content-length", "3")],
        5,
        "GET",
        "1.1",
        True,
        (BodyMode.LENGTH, 3, True, []),
    ),
    (
        "1.1 declared length on a streamed body",
        200,
        [("Content-Length", "10")],
        None,
        "GET",
        "1.1",
        True,
        (BodyMode.LENGTH, 10, True, []),
    ),
    (
        "1.1 declared transfer-encoding is chunked, no length added",
        200,
        [("Transfer-Encoding", "chunked")],
        5,
        "GET",
        "1.1",
        True,
        (BodyMode.CHUNKED, None, True, []),
    ),
    (
        "1.1 request asked to close",
        200,
        [],
        2,
        "GET",
        "1.1",
        False,
        (BodyMode.LENGTH, 2, False, [("Content-Length", "2"), ("Connection", "close")]),
    ),
    (
        "1.1 response says close",
        200,
        [("Connection", "close")],
        2,
        "GET",
        "1.1",
        True,
        (BodyMode.LENGTH, 2, False, [("Content-Length", "2")]),
    ),
    (
        "1.1 response Connection list holding close",
        200,
        [("connection", "Upgrade, Close")],
        2,
        "GET",
        "1.1",
        True,
        (BodyMode.LENGTH, 2, False, [("Content-Length", "2")]),
    ),
    (
        "1.1 response says keep-alive: sent as is",
        200,
        [("Connection", "keep-alive")],
        2,
        "GET",
        "1.1",
        True,
        (BodyMode.LENGTH, 2, True, [("Content-Length", "2")]),
    ),
    (
        "1.0 known length, close by default",
        200,
        [],
        4,
        "GET",
        "1.0",
        False,
        (BodyMode.LENGTH, 4, False, [("Content-Length", "4"), ("Connection", "close")]),
    ),
    (
        "1.0 keep-alive asked",
        200,
        [],
        4,
        "GET",
        "1.0",
        True,
        (BodyMode.LENGTH, 4, True, [("Content-Length", "4"), ("Connection", "keep-alive")]),
    ),
    (
        "1.0 streamed is close-delimited",
        200,
        [],
        None,
        "GET",
        "1.0",
        True,
        (BodyMode.CLOSE, None, False, [("Connection", "close")]),
    ),
    (
        "1.0 declared transfer-encoding is not chunked",
        200,
        [("Transfer-Encoding", "chunked")],
        None,
        "GET",
        "1.0",
        True,
        (BodyMode.CLOSE, None, False, [("Connection", "close")]),
    ),
    (
        "HEAD keeps Content-Length, sends no body",
        200,
        [],
        7,
        "HEAD",
        "1.1",
        True,
        (BodyMode.NONE, None, True, [("Content-Length", "7")]),
    ),
    (
        "HEAD with declared length",
        200,
        [("Content-Length", "7")],
        None,
        "HEAD",
        "1.1",
        True,
        (BodyMode.NONE, None, True, []),
    ),
    (
        "HEAD streamed 1.1",
        200,
        [],
        None,
        "HEAD",
        "1.1",
        True,
        (BodyMode.NONE, None, True, [("Transfer-Encoding", "chunked")]),
    ),
    (
        "HEAD streamed 1.0 keeps the connection",
        200,
        [],
        None,
        "HEAD",
        "1.0",
        True,
        (BodyMode.NONE, None, True, [("Connection", "keep-alive")]),
    ),
    ("100", 100, [], 0, "GET", "1.1", True, (BodyMode.NONE, None, True, [])),
    ("103", 103, [], None, "GET", "1.1", True, (BodyMode.NONE, None, True, [])),
    ("204 with a body given", 204, [], 5, "GET", "1.1", True, (BodyMode.NONE, None, True, [])),
    ("204 streamed", 204, [], None, "GET", "1.1", True, (BodyMode.NONE, None, True, [])),
    ("304", 304, [], 5, "GET", "1.1", True, (BodyMode.NONE, None, True, [])),
    (
        "304 to 1.0 closing",
        304,
        [],
        None,
        "GET",
        "1.0",
        False,
        (BodyMode.NONE, None, False, [("Connection", "close")]),
    ),
    (
        "205 has content framing",
        205,
        [],
        0,
        "GET",
        "1.1",
        True,
        (BodyMode.LENGTH, 0, True, [("Content-Length", "0")]),
    ),
    (
        "a non-numeric declared length is not trusted",
        200,
        [("Content-Length", "abc")],
        None,
        "GET",
        "1.1",
        True,
        (BodyMode.CHUNKED, None, True, [("Transfer-Encoding", "chunked")]),
    ),
]


@pytest.mark.parametrize(
    ("status", "fields", "body_length", "method", "version", "keep_alive", "expected"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_plan_framing(
    status: int,
    fields: Fields,
    body_length: int | None,
    method: str,
    version: str,
    keep_alive: bool,
    expected: tuple[BodyMode, int | None, bool, Fields],
) -> None:
    framing = plan_framing(
        status,
        fields,
        body_length=body_length,
        request_method=method,
        http_version=version,
        keep_alive=keep_alive,
    )
    assert (framing.mode, framing.length, framing.keep_alive, framing.extra_fields) == expected


def test_plan_framing_does_not_modify_the_fields() -> None:
    fields = [("Content-Type", "text/plain")]
    plan_framing(
        200, fields, body_length=3, request_method="GET", http_version="1.1", keep_alive=True
    )
    assert fields == [("Content-Type", "text/plain")]


def test_framing_repr() -> None:
    framing = Framing(BodyMode.LENGTH, 3, True, [("Content-Length", "3")])
    assert repr(framing) == (
        "Framing(mode=LENGTH, length=3, keep_alive=True, extra_fields=[('Content-Length', '3')])"
    )


@pytest.mark.parametrize(
    ("status", "reason", "fields", "extra", "expected"),
    [
        (200, "OK", [], [], b"HTTP/1.1 200 OK\r\n\r\n"),
        (
            404,
            "Not Found",
            [("Content-Type", "text/plain")],
            [("Content-Length", "0")],
            b"HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 0\r\n\r\n",
        ),
        (
            299,
            "",
            [("X-A", "1"), ("X-A", "2")],
            [],
            b"HTTP/1.1 299 \r\nX-A: 1\r\nX-A: 2\r\n\r\n",
        ),
        (
            200,
            "OK",
            [("X-Name", "caf\u00e9"), ("X-Snow", "\u2603")],
            [],
            b"HTTP/1.1 200 OK\r\nX-Name: caf\xe9\r\nX-Snow: ?\r\n\r\n",
        ),
    ],
    ids=["bare", "fields then extra fields", "empty reason, repeated field", "latin-1"],
)
def test_encode_head(
    status: int, reason: str, fields: Fields, extra: Fields, expected: bytes
) -> None:
    assert encode_head(status, reason, fields, extra) == expected


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", b""),
        (b"a", b"1\r\na\r\n"),
        (b"hello world!!!!!", b"10\r\nhello world!!!!!\r\n"),
        (b"x" * 255, b"ff\r\n" + b"x" * 255 + b"\r\n"),
    ],
    ids=["empty gives nothing", "one byte", "hex size", "ff"],
)
def test_encode_chunk(data: bytes, expected: bytes) -> None:
    assert encode_chunk(data) == expected


def test_last_chunk() -> None:
    assert LAST_CHUNK == b"0\r\n\r\n"


@pytest.mark.parametrize(
    ("status", "phrase"),
    [(200, "OK"), (418, "I'm a Teapot"), (599, ""), (431, "Request Header Fields Too Large")],
)
def test_reason_phrase(status: int, phrase: str) -> None:
    assert reason_phrase(status) == phrase


#: RFC 9110's names (§15.5.14, .15, .17, 15.5.21) where Python before 3.13 keeps older ones.
_RFC_9110_RENAMES = {
    413: ("Request Entity Too Large", "Content Too Large"),
    414: ("Request-URI Too Long", "URI Too Long"),
    416: ("Requested Range Not Satisfiable", "Range Not Satisfiable"),
    422: ("Unprocessable Entity", "Unprocessable Content"),
}


@pytest.mark.parametrize("status", list(http.HTTPStatus), ids=str)
def test_the_reason_phrases_are_http_status_s_with_rfc_9110_s_names(
    status: http.HTTPStatus,
) -> None:
    """The table written out (so a server loads no ``http``) says what ``http.HTTPStatus``
    says, in RFC 9110's words: on Python 3.11 and 3.12, four codes differ, as listed."""
    older, newer = _RFC_9110_RENAMES.get(status.value, (status.phrase, status.phrase))
    assert status.phrase in (older, newer)
    assert reason_phrase(status.value) == newer


@pytest.mark.parametrize(
    "seconds",
    [0, 784111777, 784111777.999, 951782400, 2**31, 253402300799],
    ids=["epoch", "RFC 9110's example", "fraction dropped", "leap day", "2038", "year 9999"],
)
def test_imf_fixdate_is_what_email_utils_formats(seconds: float) -> None:
    assert imf_fixdate(seconds) == email.utils.formatdate(seconds, usegmt=True)


@given(st.integers(min_value=0, max_value=253402300799))
def test_imf_fixdate_any_second(seconds: int) -> None:
    assert imf_fixdate(seconds) == email.utils.formatdate(seconds, usegmt=True)


def test_imf_fixdate_example_of_rfc_9110() -> None:
    assert imf_fixdate(784111777) == "Sun, 06 Nov 1994 08:49:37 GMT"


def test_chunks_decode_back() -> None:
    """The chunk encoding round-trips through a minimal decoder (RFC 9112 §7.1)."""
    parts = [b"a", b"", b"bc" * 40, b"\r\n", b"0"]
    wire = b"".join(encode_chunk(part) for part in parts) + LAST_CHUNK
    decoded = b""
    while True:
        size_line, _, wire = wire.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            assert wire == b"\r\n"
            break
        decoded += wire[:size]
        assert wire[size : size + 2] == b"\r\n"
        wire = wire[size + 2 :]
    assert decoded == b"".join(parts)


@given(
    status=st.integers(100, 599),
    declared=st.sampled_from([None, "Content-Length", "Transfer-Encoding", "Connection"]),
    body_length=st.none() | st.integers(0, 10**6),
    method=st.sampled_from(["GET", "HEAD", "POST"]),
    version=st.sampled_from(["1.0", "1.1"]),
    keep_alive=st.booleans(),
)
def test_framing_invariants(
    status: int,
    declared: str | None,
    body_length: int | None,
    method: str,
    version: str,
    keep_alive: bool,
) -> None:
    """Whatever the inputs: one delimiting field at most, no body where none is allowed."""
    value = {"Content-Length": "3", "Transfer-Encoding": "chunked", "Connection": "close"}
    fields = [(declared, value[declared])] if declared else []
    framing = plan_framing(
        status,
        fields,
        body_length=body_length,
        request_method=method,
        http_version=version,
        keep_alive=keep_alive,
    )
    names = [name.lower() for name, _ in [*fields, *framing.extra_fields]]
    assert not ("content-length" in names and "transfer-encoding" in names)
    assert len(set(names)) == len(names)
    if method == "HEAD" or status < 200 or status in (204, 304):
        assert framing.mode is BodyMode.NONE
    if framing.mode is BodyMode.CLOSE:
        assert not framing.keep_alive
        assert version == "1.0"
    if framing.mode is BodyMode.CHUNKED:
        assert version == "1.1"
    if not keep_alive or declared == "Connection":
        assert not framing.keep_alive
    if not framing.keep_alive and declared != "Connection":
        assert ("Connection", "close") in framing.extra_fields


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("0", 0),
        ("42", 42),
        ("007", 7),
        ("0" * 5000 + "12", 12),
        ("9" * 31, HUGE),  # (past int()'s 4,300 digits too: still a number, larger than any)
        ("9" * 5000, HUGE),
        ("", None),
        (" 1", None),
        ("-1", None),
        ("+1", None),
        ("1_000", None),
        ("\u00b2", None),  # superscript two: str.isdigit() says yes, int() says no
        ("\u0663", None),  # Arabic-Indic three: int() takes it, HTTP does not
        ("\uff11", None),  # fullwidth one
    ],
)
def test_parse_digits_takes_ascii_digits_only(text: str, number: int | None) -> None:
    assert parse_digits(text) == number


def test_a_content_length_of_superscript_digits_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="Content-Length must be a number"):
        Response(200, body=b"ab", headers={"Content-Length": "\u00b2"})


@pytest.mark.parametrize(
    ("name", "fit"),
    [
        ("Content-Type", True),
        ("x-a_b.c~1!#$%&'*+^`|", True),
        ("", False),
        ("x a", False),
        ("x:a", False),
        ("x\r\nSet-Cookie", False),
        ("x\x00", False),
        ("caf\u00e9", False),
    ],
)
def test_a_field_name_is_a_token(name: str, fit: bool) -> None:
    problem = field_name_problem(name)
    assert (problem is None) is fit
    if not fit:
        assert problem is not None
        assert "RFC 9110 §5.1" in problem
