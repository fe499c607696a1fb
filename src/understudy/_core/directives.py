"""Response headers written for a served file: inside it, beside it, or by its suffix.

Three sources say which fields (and which status) a served file is answered with:

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
    (``.tar.gz`` over ``.gz``). Built by :func:`directives_from_mapping` and :func:`for_suffix`.

In every source a ``Status`` pseudo-field sets the status code (``Status: 301`` or ``Status:
302 Found``; 200 to 599), and a ``Generated-Fields`` pseudo-field says which fields the server
generates for the file when no source declares them (:data:`GENERATED_FIELDS`): ``all`` (what
the server does unless told otherwise), ``none`` (the file is answered with the fields its
sources declare and the framing only), or a comma-separated list of those names (``Content-Type,
Accept-Ranges``). A ``Content-Coding`` pseudo-field codes the file on the fly whatever the
request says (``Content-Coding: gzip``; ``identity`` for none), and ``Content-Codings``
chooses per request by its Accept-Encoding (``Content-Codings: br, gzip``; ``none`` for none);
see :mod:`understudy._core.coding` for the codings and the rules. A source gives one of the two
at most. Pseudo-fields are read, never sent; each may be given once per source. A name
given twice within one source is sent twice (``Set-Cookie``, ``Link``). The framing fields
``Content-Length``, ``Transfer-Encoding`` and ``Content-Range`` are computed by the server and
refused here. Names are HTTP tokens (RFC 9110 §5.1); values
are bytes, carried as Latin-1 text so that they go back on the wire unchanged.

Precedence (:func:`merge`): the generated defaults (those of :data:`GENERATED_FIELDS` that the
merged ``Generated-Fields`` selects, all unless told otherwise; Content-Type from the suffix
table of :func:`content_type_for`), then the suffix mapping, then the sidecar, then
the in-file directives -- the more specific source wins. A field named in a later source
replaces every value of that name (compared without case) from the earlier ones; a ``Status``
in a later source replaces an earlier one, and so does a ``Generated-Fields``, and a
``Content-Coding`` or ``Content-Codings``.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass

from .coding import CodingError, check_codings

__all__ = [
    "COMPUTED_FIELDS",
    "CONTENT_TYPES",
    "GENERATED_FIELDS",
    "CodingChoice",
    "DirectiveError",
    "Directives",
    "content_type_for",
    "directives_from_mapping",
    "for_suffix",
    "merge",
    "parse_coding",
    "parse_generated_fields",
    "parse_in_file",
    "parse_sidecar",
    "render_generated_fields",
    "render_in_file",
    "render_sidecar",
]

#: Fields the server computes from the file and the request; no source may set them.
COMPUTED_FIELDS = frozenset({"content-length", "transfer-encoding", "content-range"})

#: The fields a served directory generates for a file that does not declare them, in the order
#: they are sent: the media type by suffix, a strong entity tag from the content, the file's
#: modification time, and the range unit it serves (RFC 9110 §8.3, §8.8.3, §8.8.2, §14.3).
#: ``Generated-Fields`` (a pseudo-field) and ``generated_fields=`` choose among them.
GENERATED_FIELDS: tuple[str, ...] = ("Content-Type", "ETag", "Last-Modified", "Accept-Ranges")
_GENERATED_BY_LOWER = {name.lower(): name for name in GENERATED_FIELDS}

#: The media type of a file by its last suffix (lower-cased), fixed so that it does not depend
#: on the machine's ``/etc/mime.types``. Text types carry ``charset=utf-8``; XML types carry no
#: charset, so that the XML declaration decides (RFC 7303 §3.2). Compressed files are served as
#: what they are (``application/gzip``), never with a Content-Encoding that a client would undo.
CONTENT_TYPES: Mapping[str, str] = {
    ".atom": "application/atom+xml",
    ".bin": "application/octet-stream",
    ".bz2": "application/x-bzip2",
    ".css": "text/css; charset=utf-8",
    ".csv": "text/csv; charset=utf-8",
    ".gif": "image/gif",
    ".gz": "application/gzip",
    ".htm": "text/html; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".ico": "image/vnd.microsoft.icon",
    ".jpeg": "image/jpeg",
    ".jpg": "image/jpeg",
    ".js": "text/javascript; charset=utf-8",
    ".json": "application/json",
    ".md": "text/markdown; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".pdf": "application/pdf",
    ".png": "image/png",
    ".rdf": "application/rdf+xml",
    ".rss": "application/rss+xml",
    ".svg": "image/svg+xml",
    ".tar": "application/x-tar",
    ".tgz": "application/gzip",
    ".toml": "application/toml",
    ".txt": "text/plain; charset=utf-8",
    ".wasm": "application/wasm",
    ".webp": "image/webp",
    ".whl": "application/zip",
    ".woff2": "font/woff2",
    ".xhtml": "application/xhtml+xml",
    ".xml": "application/xml",
    ".xz": "application/x-xz",
    ".yaml": "application/yaml",
    ".yml": "application/yaml",
    ".zip": "application/zip",
    ".zst": "application/zstd",
}

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_BAD_VALUE_CHAR = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_STATUS = re.compile(r"([0-9]{3})(?:[ \t]+(.*))?")
#: One in-file directive: at the start of a line (after LF or CR, or at the very start).
_IN_FILE = re.compile(rb"(?:\A|(?<=[\r\n]))Header:[ \t\f\v]+([^:\r\n]+):([^\r\n]+)")
_WSP = " \t"
#: What feedparser's ``\s`` strips around an in-file name and value (ASCII only: bytes).
_IN_FILE_SPACE = " \t\f\v"


class DirectiveError(ValueError):
    """A malformed directive: a bad field name or value, a bad or repeated pseudo-field.

    Attributes:
        line: the 1-based line of the source it was found on (0 when it has no lines).
    """

    def __init__(self, message: str, line: int = 0) -> None:
        super().__init__(f"line {line}: {message}" if line else message)
        self.line = line


#: What a source says of the content coding: ``(always, codings)``. ``(True, ("gzip",))``:
#: always gzip (``Content-Coding: gzip``); ``(False, ("br", "gzip"))``: chosen per request
#: (``Content-Codings: br, gzip``); ``(True, ())`` or ``(False, ())``: none.
CodingChoice = tuple[bool, tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class Directives:
    """What a source says about a file's response.

    Attributes:
        status: the status code (200-599), or ``None`` when the source does not set one.
        reason: the reason phrase given with the status, or ``None`` for the registered one.
        fields: the ``(name, value)`` fields, in the order given, repeated names kept.
        generated: the names from :data:`GENERATED_FIELDS` the server is to generate when no
            source declares them (``frozenset()``: none), or ``None`` when the source does not
            say (a ``Generated-Fields`` pseudo-field says).
        coding: the content coding as a :data:`CodingChoice`, or ``None`` when the source does
            not say (a ``Content-Coding`` or ``Content-Codings`` pseudo-field says).
    """

    status: int | None = None
    reason: str | None = None
    fields: tuple[tuple[str, str], ...] = ()
    generated: frozenset[str] | None = None
    coding: CodingChoice | None = None

    def get(self, name: str) -> str | None:
        """The last value of the field ``name`` (compared without case), or ``None``."""
        lowered = name.lower()
        for key, value in reversed(self.fields):
            if key.lower() == lowered:
                return value
        return None


EMPTY = Directives()


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


def parse_coding(name: str, value: str, line: int = 0) -> CodingChoice:
    """The :data:`CodingChoice` of a ``Content-Coding`` or ``Content-Codings`` pseudo-field.

    Args:
        name: the pseudo-field's name (either, any case).
        value: ``Content-Coding``: one coding, or ``identity`` for none; ``Content-Codings``: a
            comma-separated list of codings, or ``none``.
        line: the line the value was found on, for the error (0: none).

    Raises:
        DirectiveError: a coding understudy cannot apply (unknown, or its package is not
            installed: the message names it), several codings in ``Content-Coding``, or a
            coding listed twice.
    """
    always = name.lower() == "content-coding"
    word = value.strip(_WSP).lower()
    if word == ("identity" if always else "none"):
        return (always, ())
    if always and "," in value:
        raise DirectiveError(
            f"Content-Coding takes one coding, always applied; to choose per request among "
            f"several write Content-Codings: {value}",
            line,
        )
    try:
        return (always, check_codings(value, name="Content-Coding" if always else name))
    except CodingError as error:
        raise DirectiveError(str(error), line) from None


def parse_generated_fields(value: str, line: int = 0) -> frozenset[str]:
    """The names a ``Generated-Fields`` value selects from :data:`GENERATED_FIELDS`.

    Args:
        value: ``all``, ``none``, or a comma-separated list of names from
            :data:`GENERATED_FIELDS` (RFC 9110 §5.6.1 list syntax; compared without case;
            empty members are skipped).
        line: the line the value was found on, for the error (0: none).

    Returns:
        The selected names, spelled as in :data:`GENERATED_FIELDS`; ``frozenset()`` for
        ``none``.

    Raises:
        DirectiveError: an empty value, ``all`` or ``none`` within a list, or a name that
            the server does not generate.
    """
    words = [word.strip(_WSP) for word in value.split(",")]
    words = [word for word in words if word]
    choices = ", ".join(GENERATED_FIELDS)
    if not words:
        raise DirectiveError(
            f"Generated-Fields is empty; write 'none' for no generated field, 'all', or some "
            f"of {choices}",
            line,
        )
    if len(words) == 1 and words[0].lower() in ("all", "none"):
        return frozenset(GENERATED_FIELDS) if words[0].lower() == "all" else frozenset()
    selected = set()
    for word in words:
        known = _GENERATED_BY_LOWER.get(word.lower())
        if known is None:
            raise DirectiveError(
                f"Generated-Fields names {word!r}, which the server does not generate; write "
                f"'all', 'none', or a comma-separated list of {choices}",
                line,
            )
        selected.add(known)
    return frozenset(selected)


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
    for number, line in enumerate(text.splitlines(), start=1):
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


def for_suffix(name: str, table: Mapping[str, Directives]) -> Directives:
    """The directives of every suffix in ``table`` that ``name`` ends with (without case).

    Longer suffixes apply over shorter ones, as :func:`merge` applies later layers.
    """
    lowered = name.lower()
    matching = sorted((suffix for suffix in table if lowered.endswith(suffix.lower())), key=len)
    return merge(*(table[suffix] for suffix in matching))


def merge(*layers: Directives) -> Directives:
    """Combine sources, lowest precedence first.

    A field named in a later layer replaces every value of that name (compared without case)
    from the earlier ones; the others are kept, in order. The last layer that sets a status
    gives the status and reason; the last that sets ``generated`` (or ``coding``) gives it.
    """
    status: int | None = None
    reason: str | None = None
    generated: frozenset[str] | None = None
    coding: CodingChoice | None = None
    fields: list[tuple[str, str]] = []
    for layer in layers:
        if layer.status is not None:
            status, reason = layer.status, layer.reason
        if layer.generated is not None:
            generated = layer.generated
        if layer.coding is not None:
            coding = layer.coding
        if layer.fields:
            replaced = {name.lower() for name, _ in layer.fields}
            fields = [field for field in fields if field[0].lower() not in replaced]
            fields.extend(layer.fields)
    return Directives(status, reason, tuple(fields), generated, coding)


def content_type_for(name: str) -> str | None:
    """The media type of a file name from :data:`CONTENT_TYPES`, or ``None`` if not listed."""
    return CONTENT_TYPES.get(posixpath.splitext(name)[1].lower())


def render_generated_fields(generated: frozenset[str]) -> str:
    """The ``Generated-Fields`` value that :func:`parse_generated_fields` reads back."""
    if not generated:
        return "none"
    if generated >= set(GENERATED_FIELDS):
        return "all"
    return ", ".join(name for name in GENERATED_FIELDS if name in generated)


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
