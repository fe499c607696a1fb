"""From a request target to a file path relative to a served directory, or a refusal.

:func:`resolve_target` maps the target of a request (RFC 9112 §3.2, as sent: still
percent-encoded) under a URL prefix onto the path segments of a file below the served
directory. It is a string function: it never touches the filesystem, so it cannot see symbolic
links (the caller checks that the real path of the file stays inside the real root).

Every way out of the root that a string can express is refused rather than normalised, so a
client that sends one learns it from a 404 instead of getting a file it did not name:

* a ``.`` or ``..`` segment, sent plainly, percent-encoded (``%2e%2e``), double-encoded
  (``%252e%252e``), as an overlong UTF-8 sequence (``%c0%ae``), or followed by dots and spaces
  that Windows strips (``...``, ``.. ``);
* a slash or backslash inside a segment (``%2f``, ``%5c``, ``\\``), and NUL or any other
  control character, sent plainly or percent-encoded;
* an empty segment (``//``), which would make the rest an absolute path;
* a segment that starts with a drive letter (``C:``);
* malformed percent-encoding (``%zz``, ``%u2216``) and bytes that are not UTF-8;
* a target that is not in origin form (``*``, ``http://host/path``).

A ``.`` or ``..`` that would stay inside the root (``/a/../b``) is refused as well: a client
that sends one is being tested for traversal, not asking for ``/b``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote_to_bytes

__all__ = ["FilePath", "Refusal", "resolve_target"]

_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
#: Percent-encoded separators, NUL and dots that a second decoding would turn into a way out.
_ENCODED_DANGER = re.compile(r"%(?:2f|5c|00|2e)", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_DRIVE = re.compile(r"[A-Za-z]:")
#: ``.``, ``..``, and the names Windows reads as them (trailing dots and spaces are dropped).
_DOTS = re.compile(r"\.[. ]*")


@dataclass(frozen=True, slots=True)
class FilePath:
    """A safe path below the served directory.

    Attributes:
        segments: the decoded path segments (``("feeds", "café.xml")``); each is a plain file
            or directory name: not empty, not ``.`` or ``..``, with no slash, backslash or
            control character. Empty for the directory itself.
        trailing_slash: whether the target ended with ``/`` (it names a directory).
    """

    segments: tuple[str, ...]
    trailing_slash: bool

    @property
    def relative(self) -> str:
        """The segments joined with ``/`` (``""`` for the directory itself)."""
        return "/".join(self.segments)


@dataclass(frozen=True, slots=True)
class Refusal:
    """A target that does not name a file below the served directory.

    Attributes:
        reason: why, in words for the client and the test's author.
    """

    reason: str


def resolve_target(target: str, prefix: str = "/") -> FilePath | Refusal:
    """Map a request target under ``prefix`` onto a path below the served directory.

    Args:
        target: the request target as received (RFC 9112 §3.2): its bytes decoded as Latin-1,
            still percent-encoded; a query (``?...``) is ignored.
        prefix: the URL path the directory is served at (``"/"``, ``"/feeds"``, ``"/feeds/"``).

    Returns:
        A :class:`FilePath`, or a :class:`Refusal` saying why the target was refused (see the
        module's docstring for every case).
    """
    if not target.startswith("/"):
        return Refusal(
            f"the target {target!r} is not in origin form (a path starting with '/', "
            "RFC 9112 §3.2.1)"
        )
    path = target.partition("?")[0].partition("#")[0]
    base = prefix.rstrip("/")
    if path in (base, base + "/"):
        return FilePath((), trailing_slash=path.endswith("/"))
    if not path.startswith(base + "/"):
        return Refusal(f"the path {path!r} is not under {prefix!r}")
    rest = path[len(base) + 1 :]
    raw_segments = rest.split("/")
    trailing_slash = raw_segments[-1] == ""
    if trailing_slash:
        raw_segments.pop()
    segments = []
    for raw in raw_segments:
        segment = _decode_segment(raw)
        if isinstance(segment, Refusal):
            return segment
        segments.append(segment)
    return FilePath(tuple(segments), trailing_slash)


def _decode_segment(raw: str) -> str | Refusal:
    """One segment, percent-decoded and checked."""
    if not raw:
        return Refusal("an empty path segment ('//') would make the rest an absolute path")
    if "\\" in raw:
        return Refusal("a backslash in the path could act as a separator")
    if _CONTROL.search(raw):
        return Refusal("a control character (NUL, CR, LF, ...) in the path")
    if _BAD_PERCENT.search(raw):
        return Refusal(f"malformed percent-encoding in the segment {raw!r} (RFC 3986 §2.1)")
    try:
        raw_bytes = raw.encode("latin-1")
    except UnicodeEncodeError:
        return Refusal(f"the segment {raw!r} holds characters that were not sent as bytes")
    lowered = raw.lower()
    if "%2f" in lowered or "%5c" in lowered:
        return Refusal("a percent-encoded slash or backslash (%2f, %5c) in the path")
    try:
        segment = unquote_to_bytes(raw_bytes).decode("utf-8")
    except UnicodeDecodeError:
        return Refusal(
            f"the segment {raw!r} does not decode to UTF-8 (overlong or invalid sequences are "
            "refused)"
        )
    encoded = " (percent-encoded)" if segment != raw else ""
    if _DOTS.fullmatch(segment):
        return Refusal(f"a {segment.rstrip()!r} segment{encoded} would leave the directory")
    if "/" in segment or "\\" in segment:
        return Refusal("a slash or backslash inside a path segment")
    if _CONTROL.search(segment):
        return Refusal("a percent-encoded control character (NUL, CR, LF, ...) in the path")
    if _DRIVE.match(segment):
        return Refusal(f"the segment {segment!r} starts with a drive letter")
    if _ENCODED_DANGER.search(segment):
        return Refusal(
            f"the segment {raw!r} is double percent-encoded (it decodes to {segment!r}, which "
            "holds another escape of a dot, slash, backslash or NUL)"
        )
    return segment
