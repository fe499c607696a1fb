"""The syntax of the three sources of a served file's response headers: read and written.

``in-file``
    feedparser's convention: any line of the file of the form ``Header: Name: value``, matching
    ``^Header:\\s+([^:]+):(.+)$`` on one line (``\\s`` is a space, tab, form feed or vertical
    tab: a directive never spans lines). The name is the text up to the next colon and the
    value the rest, both stripped of whitespace. Lines end at LF, CRLF or CR. The file itself
    is served byte for byte, directive lines included. Parsed by :func:`parse_in_file`.
``sidecar``
    a file ``<name>.headers`` beside the served file, holding header fields in RFC 5322 §2.2
    syntax: ``Name: value`` lines, a line starting with a space or tab continuing the field
    above it (obs-fold, RFC 5322 §3.2.2: the line break and leading whitespace become one
    space), blank lines (empty or all whitespace) ignored, a continuation after a blank line
    refused. No whitespace may come between a name and its colon
    (RFC 9112 §5.1). Parsed by :func:`parse_sidecar`.
``suffix``
    a mapping from file-name suffix to fields, such as ``{".gz": {"Content-Encoding":
    "gzip"}}``; every suffix the name ends with applies, a longer one over a shorter one
    (``.tar.gz`` over ``.gz``). Built by :func:`directives_from_mapping`, applied by
    :func:`~understudy._core.directives.for_suffix`.

Each source is read into a :class:`~understudy._core.directives.Directives`, whose pseudo-fields
(``Status``, ``Generated-Fields``, ``Content-Coding(s)``), checks and precedence are described
in :mod:`understudy._core.directives`. The ``render_*`` functions write the text each parser
reads back.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from .directives import (
    COMPUTED_FIELDS,
    EMPTY,
    CodingChoice,
    DirectiveError,
    Directives,
    parse_coding,
    parse_generated_fields,
    render_generated_fields,
)

__all__ = [
    "directives_from_mapping",
    "parse_in_file",
    "parse_sidecar",
    "render_in_file",
    "render_sidecar",
]

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_BAD_VALUE_CHAR = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_STATUS = re.compile(r"([0-9]{3})(?:[ \t]+(.*))?")
#: One in-file directive: at the start of a line (after LF or CR, or at the very start).
_IN_FILE = re.compile(rb"(?:\A|(?<=[\r\n]))Header:[ \t\f\v]+([^:\r\n]+):([^\r\n]+)")
_WSP = " \t"
#: A sidecar's line break: LF, CRLF or CR only (``str.splitlines`` would also break at bytes
#: such as 0x85, NEL in Latin-1, which is obs-text in a value: the "Å" of UTF-8 ends in it).
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
#: What feedparser's ``\s`` strips around an in-file name and value (ASCII only: bytes).
_IN_FILE_SPACE = " \t\f\v"


class _Builder:
    """Collects the fields of one source, checking each."""

    def __init__(self) -> None:
        self.status: int | None = None
        self.reason: str | None = None
        self.fields: list[tuple[str, str]] = []
        self.generated: frozenset[str] | None = None
        self.coding: CodingChoice | None = None

    def add(self, name: str, value: str, line: int) -> None:
        if not _TOKEN.fullmatch(name):
            raise DirectiveError(
                f"{name!r} is not a field name (a name is letters, digits and !#$%&'*+-.^_`|~, "
                "RFC 9110 §5.1)",
                line,
            )
        if _BAD_VALUE_CHAR.search(value):
            raise DirectiveError(f"the value of {name} holds a control character", line)
        lowered = name.lower()
        if lowered in COMPUTED_FIELDS:
            raise DirectiveError(
                f"{name} is computed by the server from the file and the request; remove it",
                line,
            )
        if lowered == "status":
            if self.status is not None:
                raise DirectiveError("Status is given twice", line)
            match = _STATUS.fullmatch(value)
            if match is None or not 200 <= int(match[1]) <= 599:
                raise DirectiveError(
                    f"Status must be a code from 200 to 599, optionally followed by a reason "
                    f"phrase ('Status: 301' or 'Status: 302 Found'), not {value!r}",
                    line,
                )
            self.status = int(match[1])
            self.reason = (match[2].strip(_WSP) or None) if match[2] is not None else None
            return
        if lowered == "generated-fields":
            if self.generated is not None:
                raise DirectiveError("Generated-Fields is given twice", line)
            self.generated = parse_generated_fields(value, line)
            return
        if lowered in ("content-coding", "content-codings"):
            if self.coding is not None:
                raise DirectiveError(
                    "Content-Coding or Content-Codings is given twice (give one of them once)",
                    line,
                )
            self.coding = parse_coding(name, value, line)
            return
        self.fields.append((name, value))

    def build(self) -> Directives:
        if (
            self.status is None
            and not self.fields
            and self.generated is None
            and self.coding is None
        ):
            return EMPTY
        return Directives(self.status, self.reason, tuple(self.fields), self.generated, self.coding)


def parse_in_file(data: bytes) -> Directives:
    """The ``Header: Name: value`` lines anywhere in ``data`` (feedparser's convention).

    Args:
        data: the file's bytes; matched as Latin-1 text, so any encoding that keeps ASCII as
            ASCII works (UTF-8, Latin-1, ...; not UTF-16).

    Returns:
        The directives, in the order of the lines.

    Raises:
        DirectiveError: a directive whose name is not a token, a value with a control
            character, a computed field, or a bad or repeated Status.
    """
    if b"Header:" not in data:
        return EMPTY
    builder = _Builder()
    for match in _IN_FILE.finditer(data):
        name = match[1].decode("latin-1").strip(_IN_FILE_SPACE)
        value = match[2].decode("latin-1").strip(_IN_FILE_SPACE)
        line = data.count(b"\n", 0, match.start()) + 1
        builder.add(name, value, line)
    return builder.build()


def parse_sidecar(data: bytes) -> Directives:
    """Header fields in RFC 5322 §2.2 syntax, as in a ``<name>.headers`` sidecar file.

    Args:
        data: the sidecar's bytes (Latin-1; a leading UTF-8 byte order mark is skipped).

    Returns:
        The directives, in the order given.

    Raises:
        DirectiveError: a line that is neither a field nor a continuation, whitespace before a
            colon, a continuation with no field above it, a bad name or value, a computed
            field, or a bad or repeated Status.
    """
    text = data.removeprefix(b"\xef\xbb\xbf").decode("latin-1")
    pending: list[tuple[str, str, int]] = []
    can_continue = False
    for number, line in enumerate(_LINE_BREAK.split(text), start=1):
        if not line.strip(_WSP):
            can_continue = False
            continue
        if line[0] in _WSP:
            if not can_continue:
                raise DirectiveError(
                    "a continuation line (starting with a space or tab) with no field above it",
                    number,
                )
            name, value, start = pending[-1]
            pending[-1] = (name, f"{value} {line.strip(_WSP)}".strip(_WSP), start)
            continue
        name, colon, value = line.partition(":")
        if not colon:
            raise DirectiveError(f"expected 'Name: value', got {line!r}", number)
        if name != name.rstrip(_WSP):
            raise DirectiveError(
                f"whitespace between the field name {name.rstrip(_WSP)!r} and its colon "
                "(RFC 9112 §5.1)",
                number,
            )
        pending.append((name, value.strip(_WSP), number))
        can_continue = True
    builder = _Builder()
    for name, value, number in pending:
        builder.add(name, value, number)
    return builder.build()


def directives_from_mapping(fields: Mapping[str, str]) -> Directives:
    """Directives from a mapping of field names to values (``Status`` allowed).

    Raises:
        DirectiveError: a bad name or value, a computed field, or a bad Status.
    """
    builder = _Builder()
    for name, value in fields.items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise DirectiveError(f"field names and values must be str, not {name!r}: {value!r}")
        builder.add(name, value.strip(_WSP), 0)
    return builder.build()


def _pseudo_fields(directives: Directives) -> list[tuple[str, str]]:
    lines = []
    if directives.status is not None:
        reason = f" {directives.reason}" if directives.reason else ""
        lines.append(("Status", f"{directives.status}{reason}"))
    if directives.generated is not None:
        lines.append(("Generated-Fields", render_generated_fields(directives.generated)))
    if directives.coding is not None:
        always, codings = directives.coding
        if always:
            lines.append(("Content-Coding", codings[0] if codings else "identity"))
        else:
            lines.append(("Content-Codings", ", ".join(codings) or "none"))
    return lines


def render_sidecar(directives: Directives) -> bytes:
    """The sidecar text that :func:`parse_sidecar` reads back as ``directives``."""
    lines = [f"{name}: {value}\n" for name, value in _pseudo_fields(directives)]
    lines += [f"{name}: {value}\n" for name, value in directives.fields]
    return "".join(lines).encode("latin-1")


def render_in_file(directives: Directives) -> bytes:
    """The ``Header: Name: value`` lines that :func:`parse_in_file` reads back."""
    lines = [f"Header: {name}: {value}\n" for name, value in _pseudo_fields(directives)]
    lines += [f"Header: {name}: {value}\n" for name, value in directives.fields]
    return "".join(lines).encode("latin-1")
