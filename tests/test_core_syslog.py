"""The pure syslog parser (RFC 5424, RFC 3164) and TCP framer (RFC 6587), table-tested."""

from __future__ import annotations

import ast
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import understudy._core.syslog as core_syslog
from understudy._core.syslog import format_rfc5424, parse_message, unparsed_message
from understudy._core.syslog_framing import (
    FrameError,
    SyslogFramer,
    frame_non_transparent,
    frame_octet_counted,
)
from understudy._core.tlsinfo import TLSInfo

# -- parsing ---------------------------------------------------------------------------------

RFC5424_EXAMPLES = [
    # RFC 5424 §6.5, example 1
    (
        (
            b"<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - "
            b"\xef\xbb\xbf'su root' failed for lonvick on /dev/pts/8"
        ),
        {
            "facility": 4,
            "severity": 2,
            "timestamp": datetime(2003, 10, 11, 22, 14, 15, 3000, tzinfo=UTC),
            "hostname": "mymachine.example.com",
            "app_name": "su",
            "procid": None,
            "msgid": "ID47",
            "structured_data": {},
            "msg": "'su root' failed for lonvick on /dev/pts/8",
        },
    ),
    # example 2: offset, microseconds, no BOM
    (
        (
            b"<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - "
            b"%% It's time to make the do-nuts."
        ),
        {
            "facility": 20,
            "severity": 5,
            "timestamp": datetime(2003, 8, 24, 5, 14, 15, 3, tzinfo=timezone(timedelta(hours=-7))),
            "hostname": "192.0.2.1",
            "app_name": "myproc",
            "procid": "8710",
            "msgid": None,
            "msg": "%% It's time to make the do-nuts.",
        },
    ),
    # example 3: structured data and a message
    (
        (
            b"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 "
            b'[exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"] '
            b"\xef\xbb\xbfAn application event log entry..."
        ),
        {
            "app_name": "evntslog",
            "structured_data": {
                "exampleSDID@32473": {
                    "iut": "3",
                    "eventSource": "Application",
                    "eventID": "1011",
                }
            },
            "msg": "An application event log entry...",
        },
    ),
    # example 4: two SD-ELEMENTs, no MSG
    (
        (
            b"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 "
            b'[exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"]'
            b'[examplePriority@32473 class="high"]'
        ),
        {
            "structured_data": {
                "exampleSDID@32473": {
                    "iut": "3",
                    "eventSource": "Application",
                    "eventID": "1011",
                },
                "examplePriority@32473": {"class": "high"},
            },
            "msg": "",
        },
    ),
    # every field NIL; escapes in PARAM-VALUE (§6.3.3)
    (
        rb'<0>1 - - - - - [a@1 x="q\"b\\s\]e"]',
        {
            "facility": 0,
            "severity": 0,
            "timestamp": None,
            "hostname": None,
            "structured_data": {"a@1": {"x": 'q"b\\s]e'}},
        },
    ),
]

RFC3164_EXAMPLES = [
    # RFC 3164 §5.4, example 1
    (
        b"<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8",
        {
            "facility": 4,
            "severity": 2,
            "version": None,
            "timestamp": datetime(2024, 10, 11, 22, 14, 15),
            "hostname": "mymachine",
            "app_name": "su",
            "procid": None,
            "msg": "'su root' failed for lonvick on /dev/pts/8",
        },
    ),
    # a single-digit day is space-padded; TAG with [PID]
    (
        b"<13>Feb  5 17:32:18 10.0.0.99 myproc[10]: %% It's time",
        {
            "timestamp": datetime(2024, 2, 5, 17, 32, 18),
            "hostname": "10.0.0.99",
            "app_name": "myproc",
            "procid": "10",
            "msg": "%% It's time",
        },
    ),
    # as logging.handlers.SysLogHandler sends it: <PRI>, ident, message, NUL
    (
        b"<14>myapp: hello world\x00",
        {
            "facility": 1,
            "severity": 6,
            "timestamp": None,
            "app_name": "myapp",
            "msg": "hello world",
        },
    ),
    # no ident: no TAG; a URL is no TAG either
    (b"<14>hello world\x00", {"app_name": None, "msg": "hello world"}),
    (b"<14>http://example.org/\n", {"app_name": None, "msg": "http://example.org/"}),
    # timestamp followed directly by the TAG
    (b"<13>Oct 11 22:14:15 cron[7]: job", {"hostname": None, "app_name": "cron", "procid": "7"}),
    (b"<191>", {"facility": 23, "severity": 7, "msg": ""}),
    (b"<13>caf\xc3\xa9 \xff", {"msg": "caf\u00e9 \ufffd"}),
]

MALFORMED = [
    (b"", "empty message"),
    (b"\x00", "empty message"),
    (b"no pri", "no PRI part"),
    (b"<>x", "no PRI part"),
    (b"<192>x", "not 0..191"),
    (b"<013>x", "not 0..191"),
    (b"<1234>x", "no PRI part"),
    (b"<13>1 2003-10-11T22:14:15Z host", "header ends early"),
    (b"<13>1 yesterday host app - - -", "TIMESTAMP 'yesterday'"),
    (b"<13>1 2003-13-11T22:14:15Z host app - - -", "TIMESTAMP"),
    (b"<13>1 2003-10-11T22:14:15 host app - - -", "TIMESTAMP"),  # no offset
    (b"<13>1 - " + b"h" * 256 + b" app - - -", "HOSTNAME"),
    (b"<13>1 - host " + b"a" * 49 + b" - - -", "APP-NAME"),
    (b"<13>1 - host app - - x", "STRUCTURED-DATA is neither"),
    (b'<13>1 - host app - - [id a="1"', "not closed by ']'"),
    (b'<13>1 - host app - - [id a="1]', "PARAM-VALUE is not closed"),
    (b"<13>1 - host app - - [id a=1]", 'lacks ="value"'),
    (b'<13>1 - host app - - [id a="1"][id b="2"]', "appears twice"),
    (b'<13>1 - host app - - [id a="1"]msg', "followed by a space"),
    (b"<13>Feb 30 10:00:00 host app: x", "TIMESTAMP"),
]


@pytest.mark.parametrize(("raw", "expected"), RFC5424_EXAMPLES + RFC3164_EXAMPLES)
def test_parse(raw: bytes, expected: dict[str, object]) -> None:
    message = parse_message(raw, year=2024, transport="udp", peer=("h", 1), received_at=5.0)
    assert message.error is None
    assert message.raw == raw
    assert (message.transport, message.peer, message.received_at) == ("udp", ("h", 1), 5.0)
    for name, value in expected.items():
        assert getattr(message, name) == value, name


@pytest.mark.parametrize(("raw", "reason"), MALFORMED)
def test_malformed_messages_are_kept_with_the_reason(raw: bytes, reason: str) -> None:
    message = parse_message(raw)
    assert message.error is not None
    assert reason in message.error
    assert message.raw == raw
    assert message.facility is None
    assert "error=" in repr(message)


def test_names_and_priority() -> None:
    message = parse_message(b"<134>x")
    assert (message.facility_name, message.severity_name, message.priority) == (
        "local0",
        "info",
        134,
    )
    assert repr(message) == "<understudy.SyslogMessage local0.info msg='x'>"
    failed = parse_message(b"x")
    assert (failed.facility_name, failed.severity_name, failed.priority) == (None, None, None)


@pytest.mark.parametrize(
    "raw",
    [
        b"<34>1 2003-10-11T22:14:15.003Z mymachine su - ID47 - 5424",
        b"<13>Oct 11 22:14:15 mymachine su: 3164",
        b"not syslog",
    ],
)
def test_what_the_shell_knows_is_carried_into_the_message(raw: bytes) -> None:
    tls = TLSInfo(version="TLSv1.3", cipher="TLS_AES_128_GCM_SHA256", peer_subject="CN=relay")
    message = parse_message(raw, transport="tcp", peer=("::1", 6514), received_at=1.5, tls=tls)
    assert (message.transport, message.peer, message.received_at) == ("tcp", ("::1", 6514), 1.5)
    assert message.tls is tls
    assert message.tls.peer_common_name == "relay"
    assert parse_message(raw).tls is None
    refused = unparsed_message(raw, "too long", transport="tcp", tls=tls)
    assert (refused.error, refused.tls) == ("too long", tls)
    assert unparsed_message(raw, "too long").tls is None


def test_format_refuses_bad_fields() -> None:
    with pytest.raises(ValueError, match="facility"):
        format_rfc5424(facility=24)
    with pytest.raises(ValueError, match="aware"):
        format_rfc5424(timestamp=datetime(2024, 1, 1))


# -- framing ---------------------------------------------------------------------------------

FRAMING = [
    # (stream, frames expected; FrameError given as its reason's beginning)
    (b"<1>a\n", [b"<1>a"]),
    (b"<1>a\x00<2>b\n", [b"<1>a", b"<2>b"]),
    (b"<1>a\r\n", [b"<1>a\r"]),  # the CR is the message's (the parser drops CRLF)
    (b"\n\n\x00<1>a\n", [b"<1>a"]),  # empty frames skipped
    (b"4 <1>a", [b"<1>a"]),
    (b"5 <1>\nb", [b"<1>\nb"]),  # octet counting carries LF and NUL
    (b"3 <1>3 <2>", [b"<1>", b"<2>"]),
    (b"4 <1>a<2>b\n", [b"<1>a", b"<2>b"]),  # framing detected per frame
    (b"1x <1>a\n<2>b\n", ["frame begins with a digit", b"<2>b"]),
    (b"0 \n<2>b\n", ["frame begins with a digit", b"<2>b"]),
    (b"12345678901 x\n<2>b\n", ["frame begins with a digit", b"<2>b"]),
    (b"20 " + b"x" * 20 + b"<1>a\n", ["octet-counted frame declares MSG-LEN 20", b"<1>a"]),
    (b"<1>" + b"y" * 20 + b"\n<2>b\n", ["non-transparent frame longer", b"<2>b"]),
]


def summarise(items: list[bytes | FrameError]) -> list[bytes | str]:
    return [item.reason if isinstance(item, FrameError) else item for item in items]


def matches(got: list[bytes | str], expected: list[bytes | str]) -> bool:
    if len(got) != len(expected):
        return False
    return all(
        g == e if isinstance(e, bytes) else isinstance(g, str) and g.startswith(e)
        for g, e in zip(got, expected, strict=True)
    )


def feed_whole(stream: bytes, size: int) -> list[bytes | FrameError]:
    framer = SyslogFramer(size)
    return framer.feed(stream) + framer.close()


def feed_bytewise(stream: bytes, size: int) -> list[bytes | FrameError]:
    framer = SyslogFramer(size)
    out: list[bytes | FrameError] = []
    for byte in stream:
        out += framer.feed(bytes([byte]))
    return out + framer.close()


@pytest.mark.parametrize(("stream", "expected"), FRAMING)
@pytest.mark.parametrize("feed", [feed_whole, feed_bytewise])
def test_framing(stream: bytes, expected: list[bytes | str], feed: object) -> None:
    got = summarise(feed(stream, 10))  # type: ignore[operator]
    assert matches(got, expected), got


@pytest.mark.parametrize(("stream", "expected"), FRAMING)
def test_framing_with_trailing_data(stream: bytes, expected: list[bytes | str]) -> None:
    framer = SyslogFramer(10)
    got = summarise(framer.feed(stream + b"<9>tail\n"))
    assert matches(got, [*expected, b"<9>tail"]), got


def test_close_inside_frames() -> None:
    framer = SyslogFramer()
    assert framer.feed(b"<1>no trailer") == []
    assert framer.close() == [b"<1>no trailer"]
    framer = SyslogFramer()
    assert framer.feed(b"10 <1>") == []
    [error] = framer.close()
    assert isinstance(error, FrameError)
    assert "ended inside an octet-counted frame" in error.reason
    assert error.data == b"10 <1>"
    framer = SyslogFramer()
    assert framer.feed(b"\n\r\n") == []
    assert framer.close() == []


def test_a_line_feed_no_frame_follows_is_the_messages_own() -> None:
    """A NUL-terminated message with line feeds (``SysLogHandler``'s ``logger.exception``) is
    one message; an LF followed by what begins a frame, or by nothing read yet, ends one."""
    framer = SyslogFramer()
    stream = b"<11>boom\nTraceback (most recent call last):\n  File x\nValueError: y\x00<12>z\n"
    assert framer.feed(stream) == [
        b"<11>boom\nTraceback (most recent call last):\n  File x\nValueError: y",
        b"<12>z",
    ]
    assert framer.feed(b"<13>a\n4 <1>b<14>c\n\n<15>d\n") == [b"<13>a", b"<1>b", b"<14>c", b"<15>d"]
    assert framer.feed(b"<16>e\n") == [b"<16>e"]  # (nothing after the LF yet: it ends a frame)


def test_refused_frame_keeps_at_most_256_bytes() -> None:
    framer = SyslogFramer(10)
    [error] = framer.feed(b"<1>" + b"z" * 1000)
    assert isinstance(error, FrameError)
    assert len(error.data) == 256
    assert framer.feed(b"zzz\n<2>ok\n") == [b"<2>ok"]


# -- round trips -----------------------------------------------------------------------------

printable = st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=20)
sd_name = st.text(
    st.characters(min_codepoint=33, max_codepoint=126, exclude_characters='=]" '),
    min_size=1,
    max_size=32,
)
utf8_text = st.text(st.characters(codec="utf-8"), max_size=40)


@given(
    facility=st.integers(0, 23),
    severity=st.integers(0, 7),
    timestamp=st.none()
    | st.datetimes(
        min_value=datetime(1970, 1, 2),
        max_value=datetime(9998, 12, 31),
        timezones=st.just(UTC),
    ),
    hostname=st.none() | printable,
    app_name=st.none() | printable,
    procid=st.none() | printable,
    msgid=st.none() | printable,
    structured_data=st.dictionaries(
        sd_name, st.dictionaries(sd_name, utf8_text, max_size=3), max_size=3
    ),
    msg=utf8_text.filter(lambda text: not text.endswith(("\n", "\x00"))),
)
def test_rfc5424_round_trip(
    facility: int,
    severity: int,
    timestamp: datetime | None,
    hostname: str | None,
    app_name: str | None,
    procid: str | None,
    msgid: str | None,
    structured_data: dict[str, dict[str, str]],
    msg: str,
) -> None:
    fields = {
        "facility": facility,
        "severity": severity,
        "timestamp": timestamp,
        "hostname": hostname,
        "app_name": app_name,
        "procid": procid,
        "msgid": msgid,
        "structured_data": structured_data,
        "msg": msg,
    }
    # "-" is NILVALUE: a header field that is just "-" reads back as None; MSG has no NILVALUE
    # (RFC 5424 §6.4), so a message "-" stays "-".
    expected = {
        name: None if value == "-" and name != "msg" else value for name, value in fields.items()
    }
    message = parse_message(format_rfc5424(**fields))  # type: ignore[arg-type]
    assert message.error is None
    for name, value in expected.items():
        assert getattr(message, name) == value, name


@given(
    messages=st.lists(
        st.binary(min_size=1, max_size=30).map(lambda body: b"<13>" + body), max_size=8
    ),
    framings=st.lists(st.sampled_from(["octets", "lf", "nul"]), min_size=8, max_size=8),
    cuts=st.lists(st.integers(0, 400), max_size=10),
)
def test_framing_round_trip(messages: list[bytes], framings: list[str], cuts: list[int]) -> None:
    stream = b""
    expected = []
    for message, framing in zip(messages, framings, strict=False):
        if framing == "octets":
            stream += frame_octet_counted(message)
            expected.append(message)
        else:
            trailer = b"\n" if framing == "lf" else b"\x00"
            # A non-transparent frame ends at its first LF or NUL.
            head = message.replace(b"\x00", b"\n").split(b"\n")[0]
            stream += frame_non_transparent(head, trailer)
            if head.strip(b"\r"):
                expected.append(head)
    framer = SyslogFramer()
    got: list[bytes | FrameError] = []
    start = 0
    for cut in sorted(cuts):
        got += framer.feed(stream[start:cut])
        start = max(start, cut)
    got += framer.feed(stream[start:])
    got += framer.close()
    assert got == expected


# -- purity ----------------------------------------------------------------------------------


#: The pure modules these tests hold to: each may import only the others of this list.
PURE_MODULES = [
    "syslog.py",
    "syslog_formats.py",
    "syslog_framing.py",
    "logframes.py",
    "tlsinfo.py",
]


@pytest.mark.parametrize("module", PURE_MODULES)
def test_core_modules_import_no_io_and_nothing_of_understudy(module: str) -> None:
    path = Path(core_syslog.__file__).parent / module
    imported: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                # A sibling in _core, itself held to this test (TLSInfo: plain data).
                assert node.level == 1, f"{module} imports from outside _core"
                assert f"{node.module}.py" in PURE_MODULES, f"{module} imports {node.module}"
                continue
            imported.add(node.module or "")
    forbidden = {"socket", "threading", "selectors", "asyncio", "logging", "time"}
    assert not {name.split(".")[0] for name in imported} & forbidden
    assert not any(name.startswith("understudy") for name in imported)
