"""Fuzzing every parsing path understudy owns or wraps: 0 crashes, 0 hangs, every input answered
or recorded with a reason.

- HTTP request bytes, over a real socket, through httptools into a running :class:`HTTPServer`;
- multipart uploads (RFC 7578) to the fake PyPI's legacy upload API, over a real socket;
- SMTP command lines (control characters in arguments: 501), and bytes where a TLS ClientHello
  belongs (every one a recorded :class:`~understudy.TLSFailure`), over a real socket;
- JSON payloads to the WireMock admin API (deep nesting, lone surrogates, control characters
  in reason phrases and fields, catastrophic and RE2-refused regexes), over a real socket;
- directory path resolution (``_core/paths.py``), header directives (``_core/directives.py``),
  Accept-Encoding negotiation (``_core/coding.py``),
  syslog framing and parsing (``_core/syslog*.py``), log-record frames (``_core/logframes.py``).

``make test`` runs a few examples of each; ``make stress`` runs this same file with
``UNDERSTUDY_FUZZ_EXAMPLES`` set much higher.
"""

from __future__ import annotations

import http.client
import json
import os
import pickle
import socket
import struct
import unicodedata
from typing import Any
from urllib.parse import urlencode

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from understudy import ConfigurationError, HTTPServer, Request, Response, UnexpectedRequest
from understudy._core.coding import CODINGS, negotiate
from understudy._core.directive_sources import parse_in_file, parse_sidecar
from understudy._core.directives import DirectiveError, Directives
from understudy._core.framing import encode_head
from understudy._core.logframes import BadFrame, LogFrameDecoder, decode_datagram
from understudy._core.paths import FilePath, Refusal, resolve_target
from understudy._core.syslog import parse_message
from understudy._core.syslog_framing import FrameError, SyslogFramer
from understudy.fakes import PyPIServer

#: Examples per fuzz target (``make stress`` raises it).
EXAMPLES = int(os.environ.get("UNDERSTUDY_FUZZ_EXAMPLES", "60"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)
#: Seconds a fuzzed connection may take to be answered and closed: more is a hang.
HANG = 5.0

# -- HTTP request bytes ----------------------------------------------------------------------

_TOKENS = [
    b"GET", b"HEAD", b"POST", b"PUT", b"CONNECT", b"OPTIONS", b"get", b"G\x00T", b"",
    b"FOO", b"X-CUSTOM", b"M-SEARCH", b"PROPFIND", b"G(T", b"G\xc9T", b"~!#",
]  # fmt: skip
_TARGETS = [b"/", b"/a?b=c", b"*", b"http://h/x", b"/%00", b"/a b", b"/\xff", b"//..//", b""]
_VERSIONS = [b"HTTP/1.1", b"HTTP/1.0", b"HTTP/2.0", b"HTTP/0.9", b"HTTP/1.", b"HTTP/11", b""]
_NAMES = [
    b"Host", b"Content-Length", b"Transfer-Encoding", b"Connection", b"Expect", b"Upgrade",
    b"X-A", b"X A", b"Host ", b"", b"\x7f", b"HTTP2-Settings", b"Accept-Encoding",
]  # fmt: skip
_VALUES = [
    b"t", b"0", b"5", b"-1", b"1, 2", b"chunked", b"chunked, identity", b"close", b"keep-alive",
    b"100-continue", b"websocket", b"a\r\n b", b"\x00", b"\xff", b"999999999999999999999", b"",
    b"h2c", b"Upgrade", b"Upgrade, HTTP2-Settings", b"a b/c", b"[::1]:80", b"h:80x", b"gzip",
    b"gzip, deflate, br, zstd", b"br;q=0, *;q=0.5", b"identity;q=0, *;q=0", b"gzip;q=1.0001",
    b"x-gzip;q=0.", b";q=1, ,", b"\xffgzip",
]  # fmt: skip
_EOLS = [b"\r\n", b"\n", b"\r", b" \r\n"]
_BODIES = [b"", b"hello", b"0\r\n\r\n", b"5\r\nhello\r\n0\r\n\r\n", b"z\r\n", b"5\r\nhel"]

_field = st.tuples(
    st.sampled_from(_NAMES), st.sampled_from([b": ", b":", b" : ", b""]), st.sampled_from(_VALUES)
).map(b"".join)


@st.composite
def _request(draw: st.DrawFn) -> bytes:
    eol = draw(st.sampled_from(_EOLS))
    line = b" ".join(
        [
            draw(st.sampled_from(_TOKENS)),
            draw(st.sampled_from(_TARGETS)),
            draw(st.sampled_from(_VERSIONS)),
        ]
    )
    fields = draw(st.lists(_field, max_size=6))
    return line + eol + b"".join(f + eol for f in fields) + eol + draw(st.sampled_from(_BODIES))


#: Requests that offer an upgrade (ignored: the body is read by its framing), with bodies.
_upgrade_request = st.tuples(
    st.sampled_from([b"POST", b"PUT", b"GET", b"FOO"]),
    st.sampled_from([b"Connection: Upgrade\r\n", b"Connection: keep-alive, Upgrade\r\n"]),
    st.sampled_from([b"Upgrade: h2c\r\nHTTP2-Settings: AA\r\n", b"Upgrade: websocket\r\n"]),
    st.sampled_from([b"", b"Expect: 100-continue\r\n", b"Host: a b\r\n"]),
    st.sampled_from(
        [
            b"Content-Length: 5\r\n\r\nhello",
            b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
            b"Transfer-Encoding: gzip\r\n\r\nhello",
            b"Content-Length: 9\r\n\r\nhel",
            b"\r\n",
        ]
    ),
).map(lambda t: t[0] + b" /up HTTP/1.1\r\nHost: t\r\n" + b"".join(t[1:]))

http_input = st.one_of(
    st.lists(_request(), min_size=1, max_size=3).map(b"".join),
    st.lists(st.one_of(_upgrade_request, _request()), min_size=1, max_size=3).map(b"".join),
    st.binary(max_size=300),
    st.tuples(_request(), st.binary(max_size=40), st.integers(0, 200)).map(
        lambda t: t[0][: t[2]] + t[1] + t[0][t[2] :]
    ),
)


def _read_all(sock: socket.socket) -> bytes:
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        pass
    return data


def _responses(data: bytes, methods: list[str]) -> list[int]:
    """The final status codes in ``data``, framed by Content-Length (HEAD: no body)."""
    statuses: list[int] = []
    while data:
        head, sep, data = data.partition(b"\r\n\r\n")
        assert sep, f"a response head without its end: {head[:200]!r}"
        lines = head.split(b"\r\n")
        assert lines[0][:9] == b"HTTP/1.1 ", lines[0]
        status = int(lines[0][9:12])
        if 100 <= status < 200:
            continue
        method = methods[len(statuses)] if len(statuses) < len(methods) else "GET"
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        if method != "HEAD" and status not in (204, 304):
            data = data[length:]
        statuses.append(status)
    return statuses


def test_http_request_bytes_are_answered_or_recorded() -> None:
    handled: list[Request] = []

    def handler(request: Request) -> Response:
        handled.append(request)
        # (chosen per Accept-Encoding: the fuzzed fields reach the negotiation)
        return Response(200, body="ok", content_codings=CODINGS)

    with HTTPServer(handler=handler, header_timeout=HANG, idle_timeout=HANG) as server:

        @FUZZ
        @given(http_input)
        def check(data: bytes) -> None:
            server.clear()
            handled.clear()
            with socket.create_connection(server.address, timeout=HANG) as sock:
                try:
                    sock.sendall(data)
                    sock.shutdown(socket.SHUT_WR)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                answer = _read_all(sock)  # a hang is a socket.timeout here
            recorded = server.requests
            statuses = _responses(answer, [request.method for request in recorded])
            if data.strip(b"\r\n"):
                assert recorded, f"{data!r} was neither answered nor recorded"
            assert len(statuses) <= len(recorded)
            if recorded:
                assert statuses, f"{data!r} was recorded but not answered"
            for status, request in zip(statuses, recorded, strict=False):
                assert (status == 200) == (request.error is None), (status, request)
            assert len(handled) == sum(1 for request in recorded if request.error is None)
            assert all(request.error is None for request in handled)

        check()
        server.check()  # nothing raised inside the server
        with socket.create_connection(server.address, timeout=HANG) as sock:
            sock.sendall(b"GET /alive HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            assert _read_all(sock).startswith(b"HTTP/1.1 200 ")


# -- SMTP command lines and TLS ClientHellos ---------------------------------------------------

_SMTP_COMMANDS = [
    b"EHLO", b"HELO", b"MAIL", b"RCPT", b"DATA", b"RSET", b"NOOP", b"VRFY", b"AUTH",
    b"STARTTLS", b"HELP", b"XYZZY", b"ehlo", b"",
]  # fmt: skip
_SMTP_ARGUMENTS = [
    b"x", b"x\x00y", b"x\ry", b"a\tb", b"FROM:<a@b>", b"TO:<b@c>", b"FROM:<a\x00b@c>",
    b"TO:<\x7f@c>", b"PLAIN", b"\x1b[31m", b"\xff", b"", b" " * 3,
]  # fmt: skip
#: aiosmtpd's limit on unrecognised commands in one session (``aiosmtpd.smtp.BOGUS_LIMIT``).
_BOGUS_LIMIT = 5
#: The commands aiosmtpd knows of those the corpus sends.
_RECOGNISED = {b"EHLO", b"HELO", b"MAIL", b"RCPT", b"DATA", b"RSET", b"NOOP", b"VRFY", b"AUTH",
               b"STARTTLS", b"HELP", b"QUIT"}  # fmt: skip


def _unrecognised(line: bytes) -> bool:
    """Whether aiosmtpd may count ``line`` as an unrecognised command: its command (up to the
    first space, so ``b" x"`` has the empty one) is not one it knows. An empty line it answers
    without counting."""
    line = line.rstrip(b"\r\n")
    return bool(line) and line.partition(b" ")[0].upper() not in _RECOGNISED


smtp_line = st.tuples(st.sampled_from(_SMTP_COMMANDS), st.sampled_from(_SMTP_ARGUMENTS)).map(
    lambda parts: parts[0] + (b" " + parts[1] if parts[1] else b"") + b"\r\n"
)


def test_smtp_command_lines_are_each_answered_with_a_reply_code() -> None:
    from understudy import SMTPServer  # noqa: PLC0415 - (kept beside its target)

    with SMTPServer(starttls=True) as server:

        @FUZZ
        @given(st.lists(smtp_line, min_size=1, max_size=6))
        def check(lines: list[bytes]) -> None:
            lines = [line for line in lines if not line.upper().startswith(b"STARTTLS")]
            # aiosmtpd hangs up on the fifth unrecognised command of a session (its
            # BOGUS_LIMIT, a defence of its own): keep fewer, so every line is answered.
            unknown = [line for line in lines if _unrecognised(line)]
            for line in unknown[_BOGUS_LIMIT - 1 :]:
                lines.remove(line)
            lines += [b"QUIT\r\n"]
            with socket.create_connection(server.address, timeout=HANG) as sock:
                sock.sendall(b"".join(lines))
                answer = _read_all(sock)  # a hang is a socket.timeout here
            replies = [line for line in answer.split(b"\r\n") if line[3:4] == b" "]
            # The greeting, one final reply per line (221 for QUIT), nothing else.
            assert replies[0].startswith(b"220 ")
            assert replies[-1].startswith(b"221 "), answer
            assert len(replies) == len(lines) + 1, (lines, answer)
            for reply, line in zip(replies[1:], lines, strict=True):
                control = any((c < 32 and c != 9) or c == 127 for c in line.rstrip(b"\r\n"))
                if control and b" " in line.strip() and not reply.startswith(b"500 "):
                    assert reply.startswith(b"501 5.5.2 "), (line, reply)

        check()
        server.check()
        assert server.tls_failures == []


_HELLO_PREFIXES = [
    b"",
    b"\x16",
    b"\x16\x03\x01",
    b"\x16\x03\x03\x00\x05\x01",
    b"GET / HTTP/1.1\r\n",
]


def test_tls_handshake_bytes_end_with_a_recorded_failure_and_nothing_raised() -> None:
    from understudy import TCPServer  # noqa: PLC0415

    with TCPServer(tls=True) as server:

        @FUZZ
        @given(st.sampled_from(_HELLO_PREFIXES), st.binary(max_size=400))
        def check(prefix: bytes, tail: bytes) -> None:
            before = len(server.tls_failures)
            with socket.create_connection(server.address, timeout=HANG) as sock:
                try:
                    sock.sendall(prefix + tail)
                    sock.shutdown(socket.SHUT_WR)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                _read_all(sock)  # an alert or nothing, then the end: a hang times out here
            server.wait_for_tls_failures(before + 1, timeout=HANG)

        check()
        server.check()
        assert server.connections == []


# -- WireMock admin API payloads ---------------------------------------------------------------

_ADMIN_ROUTES = [
    "/__admin/mappings", "/__admin/requests/find", "/__admin/requests/count",
    "/__admin/near-misses/request",
]  # fmt: skip
_JSON_STRINGS = [
    "/x", "/api/(a+)+b", "(a|aa)+b", "/(?!admin).*", "(x)\\1", "x\\Z", "(a", "\\ud800",
    "OK\\r\\nX-Evil: 1", "a\\u0000b", "c\\u007fd", "\\u20ac", "caf\\u00e9", "",
]  # fmt: skip
_JSON_KEYS = [
    "url", "urlPattern", "urlPathPattern", "method", "headers", "body", "request", "response",
    "status", "statusMessage", "matches", "doesNotMatch", "equalTo", "bodyPatterns",
    "queryParameters", "jsonBody", "X", "fixedDelayMilliseconds", "delayDistribution",
    "median", "sigma", "type",
]  # fmt: skip
_json_scalar = st.one_of(
    st.sampled_from(_JSON_STRINGS).map(lambda text: f'"{text}"'),
    st.sampled_from(
        ["1", "200", "-1", "true", "null", "[1]", "{}", "NaN", "-Infinity", "1e300", "1e308"]
    ),
)
_json_value = st.recursive(
    _json_scalar,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3).map(lambda items: "[" + ", ".join(items) + "]"),
        st.lists(st.tuples(st.sampled_from(_JSON_KEYS), inner), max_size=4).map(
            lambda pairs: "{" + ", ".join(f'"{key}": {value}' for key, value in pairs) + "}"
        ),
    ),
    max_leaves=12,
)
admin_payload = st.one_of(
    _json_value,
    st.sampled_from([1_000, 100_000]).map(lambda depth: "[" * depth + "]" * depth),
    st.text(max_size=80),
)


def test_admin_api_payloads_are_answered_and_never_raise_inside() -> None:
    """Whatever the admin API is sent, it answers at once (no 500: a bad payload is a 422),
    keeps its requests out of the journal, and a request then matched against whatever
    mappings were made is answered too (a pattern from a mapping never holds the loop)."""
    with HTTPServer(admin=True, header_timeout=HANG, idle_timeout=HANG) as server:

        @FUZZ
        @given(st.sampled_from(_ADMIN_ROUTES), admin_payload)
        def check(route: str, payload: str) -> None:
            connection = http.client.HTTPConnection(*server.address, timeout=HANG)
            try:
                connection.request("POST", route, body=payload.encode("utf-8", "surrogatepass"))
                answer = connection.getresponse()
                answer.read()
                assert answer.status in (200, 201, 422), (answer.status, payload[:200])
                connection.request("GET", "/api/" + "a" * 40 + "!?q=" + "a" * 40)
                matched = connection.getresponse()
                matched.read()
                connection.request("DELETE", "/__admin/mappings")
                connection.getresponse().read()
            finally:
                connection.close()
            assert all(request.target.startswith("/api/") for request in server.requests)
            server.clear()
            try:
                server.check()
            except UnexpectedRequest:
                pass  # (a GET that no mapping answered: recorded as it should be)

        check()


_LIMITS = st.one_of(
    st.none(), st.text(max_size=12), st.sampled_from(["0", "1", "-1", "\u00b2", "9" * 40])
)
_SINCES = st.one_of(
    st.none(),
    st.text(max_size=30),
    st.sampled_from(["2024-05-01T12:30:00Z", "2024-05-01 12:30:00+02:00", "+999999-01-01"]),
)


def test_the_admin_journal_takes_any_limit_and_since() -> None:
    """``GET /__admin/requests?limit=&since=``: 200 with at most ``limit`` requests, or 400;
    header fields differing in case are one key, cookies are read."""
    with HTTPServer(admin=True, allow_unmatched=True) as server:
        connection = http.client.HTTPConnection(*server.address, timeout=HANG)
        connection.request("GET", "/x", headers={"Cookie": "a=1; b", "X-A": "1", "x-a": "2"})
        connection.getresponse().read()
        connection.close()

        @FUZZ
        @given(_LIMITS, _SINCES)
        def check(limit: str | None, since: str | None) -> None:
            pairs = [(k, v) for k, v in (("limit", limit), ("since", since)) if v is not None]
            connection = http.client.HTTPConnection(*server.address, timeout=HANG)
            try:
                connection.request("GET", "/__admin/requests?" + urlencode(pairs))
                answer = connection.getresponse()
                body = json.loads(answer.read())
            finally:
                connection.close()
            assert answer.status in (200, 400), (answer.status, body)
            if answer.status == 200:
                assert body["meta"] == {"total": 1}
                assert len(body["requests"]) <= 1
                for served in body["requests"]:
                    assert served["request"]["headers"]["X-A"] == ["1", "2"]
                    assert served["request"]["cookies"] == {"a": "1"}

        check()


_HEAD_TEXT = st.text(
    st.one_of(st.sampled_from("\r\n\x00\x7f\t \x1b\xe9\u20ac\ud800"), st.characters()), max_size=20
)


@FUZZ
@given(_HEAD_TEXT, _HEAD_TEXT, _HEAD_TEXT)
def test_a_response_head_holds_the_fields_given_or_the_response_is_refused(
    reason: str, name: str, value: str
) -> None:
    """No reason phrase, field name or value makes a line of its own or a control byte on the
    wire (RFC 9112 §4, RFC 9110 §5.1, §5.5): the Response is refused at construction instead."""
    try:
        response = Response(200, reason=reason, headers={"X-V": value, "X-" + name: "n"})
    except ConfigurationError:
        return
    head = encode_head(200, response.reason, response.headers)
    lines = head.split(b"\r\n")
    assert lines[-2:] == [b"", b""]
    assert len(lines) == 2 + len(response.headers) + 1, head
    for line in lines:
        assert not any((byte < 0x20 and byte != 0x09) or byte == 0x7F for byte in line), line


# -- multipart uploads to the fake PyPI ------------------------------------------------------

_BOUNDARY = b"fuzzb"
_FORM_FIELDS = [
    (b":action", b"file_upload"), (b"protocol_version", b"1"), (b"name", b"tiny"),
    (b"version", b"1.0"), (b"filetype", b"sdist"), (b"metadata_version", b"2.1"),
    (b"sha256_digest", b"0" * 64), (b"md5_digest", b"zz"), (b"name", b"\xff\x00"),
    (b"version", b"not a version"), (b"pyversion", b"source"),
    # (issue 19: a version past int()'s digit limit; other spellings of the name and version)
    (b"version", b"1" * 5000), (b"name", b"Tiny"), (b"name", b"tiny2"), (b"version", b"01.0"),
    (b"filetype", b"bdist_wheel"),
]  # fmt: skip
_DISPOSITIONS = [
    b'Content-Disposition: form-data; name="%s"',
    b'Content-Disposition: form-data; name="%s"; filename="tiny-1.0.tar.gz"',
    b'Content-Disposition: form-data; name="%s"; filename="Tiny-1.0.tar.gz"',
    b'Content-Disposition: form-data; name="%s"; filename="tiny2-1.0-py3-none-any.whl"',
    b"Content-Disposition: attachment",
    b'Content-Disposition: form-data; name="%s',
    b"",
]  # fmt: skip
_CONTENT_TYPES = [b"multipart/form-data; boundary=fuzzb", b"text/plain", b"multipart/form-data"]


@st.composite
def _multipart(draw: st.DrawFn) -> bytes:
    parts = []
    for name, given_value in draw(st.lists(st.sampled_from(_FORM_FIELDS), max_size=10)):
        disposition = draw(st.sampled_from(_DISPOSITIONS)).replace(b"%s", name)
        value = draw(st.binary(max_size=30)) if draw(st.booleans()) else given_value
        parts.append(b"--" + _BOUNDARY + b"\r\n" + disposition + b"\r\n\r\n" + value + b"\r\n")
    end = draw(st.sampled_from([b"--" + _BOUNDARY + b"--\r\n", b"--" + _BOUNDARY, b""]))
    return b"".join(parts) + end


def test_pypi_multipart_uploads_are_answered_or_refused_with_a_reason() -> None:
    with PyPIServer(anonymous=True) as server:

        @FUZZ
        @given(st.one_of(_multipart(), st.binary(max_size=300)), st.sampled_from(_CONTENT_TYPES))
        def check(body: bytes, content_type: bytes) -> None:
            head = (
                b"POST /legacy/ HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
                b"Content-Type: " + content_type + b"\r\n"
                b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n"
            )
            with socket.create_connection(server.address, timeout=HANG) as sock:
                sock.sendall(head + body)
                answer = _read_all(sock)  # a hang is a socket.timeout here
            assert answer.startswith(b"HTTP/1.1 "), answer[:100]
            status = int(answer[9:12])
            assert status in (200, 400, 403, 409), answer[:300]  # never a 500
            if status != 200:
                assert answer.partition(b"\r\n\r\n")[2].strip(), "refused without a reason"

        check()
        server.check()  # nothing raised inside the server


# -- directory path resolution ---------------------------------------------------------------

_PATH_PIECES = [
    "/", "..", ".", "%2e", "%2E%2e", "%2f", "%5c", "\\", "%00", "%c0%af", "a", "b.txt", "%",
    "%zz", "%e2%80%ae", "~", ";", "?x", "#f", "//", "\x00", "é",
]  # fmt: skip


@FUZZ
@given(
    st.lists(st.sampled_from(_PATH_PIECES), max_size=12).map("".join),
    st.sampled_from(["/", "/p", "/p/"]),
)
def test_path_resolution_never_escapes_the_directory(tail: str, prefix: str) -> None:
    resolved = resolve_target(prefix.rstrip("/") + "/" + tail, prefix)
    assert isinstance(resolved, FilePath | Refusal)
    if isinstance(resolved, Refusal):
        assert resolved.reason
        return
    for segment in resolved.segments:
        assert segment not in ("", ".", "..")
        assert "/" not in segment
        assert "\\" not in segment
        assert not any(unicodedata.category(char) == "Cc" for char in segment)


@FUZZ
@given(st.text(max_size=200), st.text(max_size=20))
def test_path_resolution_of_any_text_never_raises(target: str, prefix: str) -> None:
    assert isinstance(resolve_target(target, prefix or "/"), FilePath | Refusal)


# -- header directives -----------------------------------------------------------------------

_DIRECTIVE_LINES = [
    b"Status: 404", b"Status: 999 x", b"Status:", b"Content-Type: text/plain", b"X-A: b",
    b"X A: b", b": v", b"Status: 200\nStatus: 201", b"\xff\xfe", b"# comment", b"  folded",
    b"<!-- status: 302 -->", b"<!--", b"-->", b"\x00", b"Content-Coding: gzip",
    b"Content-Coding: gzip, br", b"Content-Codings: none", b"Content-Codings: lzma, gzip",
    b"Content-Coding: identity", b"Content-Codings: gzip\nContent-Coding: br",
]  # fmt: skip
_directive_source = st.one_of(
    st.binary(max_size=300),
    st.lists(st.sampled_from(_DIRECTIVE_LINES), max_size=8).map(b"\n".join),
)


@FUZZ
@given(_directive_source)
def test_directives_parse_or_raise_directive_error(data: bytes) -> None:
    for parse in (parse_sidecar, parse_in_file):
        try:
            parsed: Directives | DirectiveError = parse(data)
        except DirectiveError as error:
            parsed = error
        assert isinstance(parsed, Directives) or str(parsed)


# -- Accept-Encoding negotiation -----------------------------------------------------------

_ACCEPT_PIECES = [
    "gzip", "x-gzip", "br", "zstd", "deflate", "identity", "*", ";q=0", ";q=1", ";q=0.5",
    ";q=1.5", ";q=", ";level=9", ",", " ", "\t", "\xff", "GZIP", ";Q=0.001",
]  # fmt: skip
_accept_encoding = st.one_of(
    st.text(max_size=60), st.lists(st.sampled_from(_ACCEPT_PIECES), max_size=12).map("".join)
)


@FUZZ
@given(_accept_encoding, st.permutations(CODINGS))
def test_accept_encoding_negotiation_never_raises(value: str, offered: list[str]) -> None:
    assert negotiate(value, offered) in (*offered, None)


# -- syslog framing and parsing --------------------------------------------------------------

_SYSLOG_PIECES = [
    b"<34>1 2003-10-11T22:14:15.003Z host app - ID47 - msg\n", b"<13>Oct 11 22:14:15 h t: m\n",
    b"12 <13>1 - - - -", b"99999999999 ", b"<999>", b"<>", b"\n", b"\x00", b"5 abc", b"0 ",
    b"<165>1 - - - - - [a b=\"c\\\"\"]", b"[", b"\"",
]  # fmt: skip
_syslog_stream = st.one_of(
    st.binary(max_size=400),
    st.lists(st.sampled_from(_SYSLOG_PIECES), max_size=10).map(b"".join),
)


@FUZZ
@given(_syslog_stream, st.lists(st.integers(1, 50), max_size=10), st.integers(8, 200))
def test_syslog_framing_and_parsing_never_raise(
    stream: bytes, cuts: list[int], max_size: int
) -> None:
    framer = SyslogFramer(max_message_size=max_size)
    frames: list[bytes | FrameError] = []
    rest = stream
    for cut in cuts:
        frames += framer.feed(rest[:cut])
        rest = rest[cut:]
    frames += framer.feed(rest)
    frames += framer.close()
    for frame in frames:
        if isinstance(frame, FrameError):
            assert frame.reason
            continue
        assert len(frame) <= max_size
        message = parse_message(frame)
        assert message.error is None or message.error


@FUZZ
@given(st.binary(max_size=500))
def test_syslog_parsing_of_any_datagram_never_raises(data: bytes) -> None:
    message = parse_message(data)
    assert message.error is None or message.error


# -- log-record frames -----------------------------------------------------------------------

_plain = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=10,
)


def _frame(payload: bytes) -> bytes:
    return struct.pack(">L", len(payload)) + payload


_log_stream = st.one_of(
    st.binary(max_size=300),
    st.lists(
        st.one_of(
            st.dictionaries(st.text(max_size=8), _plain, max_size=4).map(
                lambda d: _frame(pickle.dumps(d))
            ),
            st.binary(max_size=40).map(_frame),
            st.just(struct.pack(">L", 0xFFFFFFFF)),
        ),
        max_size=5,
    ).map(b"".join),
)


@FUZZ
@given(_log_stream, st.lists(st.integers(1, 60), max_size=8), st.integers(4, 400))
def test_log_record_frames_never_raise(stream: bytes, cuts: list[int], max_size: int) -> None:
    decoder = LogFrameDecoder(max_frame_size=max_size)
    out: list[dict[str, Any] | BadFrame] = []
    rest = stream
    for cut in cuts:
        out += decoder.feed(rest[:cut])
        rest = rest[cut:]
    out += decoder.feed(rest)
    out += decoder.close()
    for item in out:
        assert isinstance(item, dict | BadFrame)
        if isinstance(item, BadFrame):
            assert item.reason
    datagram = decode_datagram(stream, max_size)
    assert isinstance(datagram, dict | BadFrame)
