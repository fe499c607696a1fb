"""Tests for understudy._core.paths: request targets onto safe relative paths, or refusals."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from understudy._core.paths import FilePath, Refusal, resolve_target

#: Targets that must never name a file: every one is refused by the string check alone.
HOSTILE: list[str] = [
    # dot segments, plain
    "/../secret.txt",
    "/../../../../etc/passwd",
    "/a/../../secret.txt",
    "/a/../b.txt",
    "/./secret.txt",
    "/..",
    "/../",
    # dot segments, percent-encoded (any case, partly encoded)
    "/%2e%2e/secret.txt",
    "/%2E%2E/secret.txt",
    "/.%2e/secret.txt",
    "/%2e./secret.txt",
    "/%2e%2e",
    "/a/%2e/b.txt",
    # names Windows reads as dot segments
    "/.../secret.txt",
    "/.. /secret.txt",
    "/..%20/secret.txt",
    "/..%2e/secret.txt",
    # encoded slashes and backslashes
    "/..%2fsecret.txt",
    "/..%2Fsecret.txt",
    "/%2e%2e%2fsecret.txt",
    "/..%5csecret.txt",
    "/%5c..%5csecret.txt",
    "/%2e%2e%5c%2e%2e%5csecret.txt",
    "/%2fetc/passwd",
    "/%2Fetc%2Fpasswd",
    # raw backslashes, UNC
    "/..\\secret.txt",
    "/a\\..\\..\\secret.txt",
    "/\\\\server\\share\\secret.txt",
    # absolute paths through empty segments
    "//etc/passwd",
    "/a//b.txt",
    "/file:///etc/passwd",
    # drive letters
    "/C:/Windows/win.ini",
    "/c:%5cwindows%5cwin.ini",
    "/C%3a/Windows/win.ini",
    "/c:secret.txt",
    # NUL and control characters, raw and encoded
    "/secret.txt\x00.xml",
    "/secret.txt%00.xml",
    "/..%00/secret.txt",
    "/a%0d%0aSet-Cookie:%20x=1",
    "/a%7f",
    # double encoding
    "/%252e%252e/secret.txt",
    "/%252e%252e%252fsecret.txt",
    "/..%252fsecret.txt",
    "/%25%32%65%25%32%65/secret.txt",
    # overlong UTF-8 and other non-UTF-8 bytes
    "/%c0%ae%c0%ae/secret.txt",
    "/%c0%af..%c0%afsecret.txt",
    "/%e0%80%ae%e0%80%ae/secret.txt",
    "/%ff/secret.txt",
    # malformed percent-encoding (IIS %u, truncated)
    "/..%u2216secret.txt",
    "/%zz",
    "/%2",
    "/a%",
    # not origin form
    "http://example.com/../secret.txt",
    "*",
    "secret.txt",
    "",
]

#: Targets under the prefix "/feeds" that must be refused.
HOSTILE_UNDER_PREFIX: list[str] = [
    "/feeds/../secret.txt",
    "/feeds/%2e%2e/secret.txt",
    "/feeds/..%2f..%2fsecret.txt",
    "/feeds//etc/passwd",
    "/feeds/a/../../secret.txt",
    "/other/secret.txt",
    "/feedsx/a.xml",
]


def test_the_corpus_is_large_enough() -> None:
    assert len(HOSTILE) >= 30


@pytest.mark.parametrize("target", HOSTILE)
def test_hostile_targets_are_refused(target: str) -> None:
    result = resolve_target(target, "/")
    assert isinstance(result, Refusal), result
    assert result.reason


@pytest.mark.parametrize("target", HOSTILE_UNDER_PREFIX)
def test_hostile_targets_under_a_prefix_are_refused(target: str) -> None:
    assert isinstance(resolve_target(target, "/feeds"), Refusal)


@pytest.mark.parametrize(
    ("target", "prefix", "segments", "trailing_slash"),
    [
        ("/", "/", (), True),
        ("/a.xml", "/", ("a.xml",), False),
        ("/dir/a.xml", "/", ("dir", "a.xml"), False),
        ("/dir/", "/", ("dir",), True),
        ("/a%20b.xml", "/", ("a b.xml",), False),
        ("/caf%C3%A9.xml", "/", ("café.xml",), False),
        ("/a.xml?x=1&y=../..", "/", ("a.xml",), False),
        ("/.well-known/security.txt", "/", (".well-known", "security.txt"), False),
        ("/a..b.txt", "/", ("a..b.txt",), False),
        ("/..a", "/", ("..a",), False),
        ("/100%25.txt", "/", ("100%.txt",), False),
        ("/a%2Exml", "/", ("a.xml",), False),
        ("/feeds", "/feeds", (), False),
        ("/feeds/", "/feeds", (), True),
        ("/feeds/a.xml", "/feeds", ("a.xml",), False),
        ("/feeds/a.xml", "/feeds/", ("a.xml",), False),
        ("/feeds/sub/a.xml?q", "/feeds", ("sub", "a.xml"), False),
        ("/at-12:00.xml", "/", ("at-12:00.xml",), False),
        ("/~user/a.txt", "/", ("~user", "a.txt"), False),
    ],
)
def test_normal_targets_are_accepted(
    target: str, prefix: str, segments: tuple[str, ...], trailing_slash: bool
) -> None:
    assert resolve_target(target, prefix) == FilePath(segments, trailing_slash)


def test_the_refusal_says_why() -> None:
    result = resolve_target("/%2e%2e/secret.txt")
    assert isinstance(result, Refusal)
    assert result.reason == "a '..' segment (percent-encoded) would leave the directory"
    result = resolve_target("//etc/passwd")
    assert isinstance(result, Refusal)
    assert "absolute path" in result.reason


def test_relative_joins_the_segments() -> None:
    assert FilePath(("a", "b.xml"), trailing_slash=False).relative == "a/b.xml"
    assert FilePath((), trailing_slash=True).relative == ""


_NAME = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="/\\%:"),
    min_size=1,
    max_size=12,
).filter(lambda name: name.strip(". ") != "" and not name.startswith("."))


@given(st.lists(_NAME, min_size=1, max_size=4))
def test_percent_encoded_names_round_trip(names: list[str]) -> None:
    target = "/" + "/".join(quote(name, safe="") for name in names)
    assert resolve_target(target) == FilePath(tuple(names), trailing_slash=False)


@given(st.text(max_size=40))
def test_no_target_resolves_to_a_dot_segment_or_separator(target: str) -> None:
    result = resolve_target(target)
    if isinstance(result, FilePath):
        for segment in result.segments:
            assert segment not in ("", ".", "..")
            assert "/" not in segment
            assert "\\" not in segment
            assert "\x00" not in segment
