"""Response headers written for a served file: what a source says, and how sources combine.

Three sources say which fields (and which status) a served file is answered with: lines inside
it (``in-file``), a ``<name>.headers`` file beside it (``sidecar``), and a mapping by its
suffix (``suffix``); :mod:`understudy._core.directive_sources` reads (and writes) each one's
syntax into a :class:`Directives`.

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
    "for_suffix",
    "merge",
    "parse_coding",
    "parse_generated_fields",
    "render_generated_fields",
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

_WSP = " \t"


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
