"""Serving a directory of files whose response headers may be written inside or beside them.

:class:`DirectoryHost` answers the requests under a URL prefix from the files below a root
directory (``HTTPServer.serve_directory(prefix, root, **options)``, or ``HTTPServer(root=...)``
for the prefix ``/``). Files are read in the worker pool, whole (understudy serves test
fixtures, not gigabytes); the answer is sent from the loop.

What a request gets, in order:

1. A method other than GET and HEAD: 405 with ``Allow: GET, HEAD``.
2. A target that would leave the root (see :mod:`understudy._core.paths`), a file whose real
   path (symbolic links resolved) is outside the real root, a sidecar file itself
   (``*.headers`` while ``sidecar_headers`` is on), a directory (there is no listing; its
   ``index`` file if one is configured), or a missing file: 404, with a one-line body that says
   why. Every request, refused or not, is in the server's journal.
3. The file, byte for byte (in-file directive lines included), with the status and fields of
   the merged directives (:mod:`understudy._core.directives`: computed defaults < suffix
   mapping < sidecar < in-file). The defaults are generated, each only when no source declares
   the field: Content-Type from the fixed suffix table (else Python's built-in ``mimetypes``
   table, else ``application/octet-stream``), a strong ETag from a hash of the content,
   Last-Modified from the file's mtime, and ``Accept-Ranges: bytes``. Which of them are
   generated is the server's ``generated_fields=`` (all by default), unless a source of the
   file says otherwise with the ``Generated-Fields`` pseudo-field (``Header: Generated-Fields:
   none`` in the file; read, never sent). With none generated, the response carries the
   declared fields, the framing (Content-Length, or Content-Range for a 206) and a Date (RFC
   9110 §6.6.1; the file's own Date if it declares one), nothing else.
4. When that status is 200 (set by no directive, or by ``Status: 200``), conditional requests
   are evaluated as RFC 9110 §13.2.2 orders them, against the ETag and Last-Modified that are
   sent (declared or generated): If-Match, else If-Unmodified-Since (412 when false); then
   If-None-Match, else If-Modified-Since (304 when false). A file sent without validators
   therefore gets the full 200 for If-None-Match with entity tags and for If-Modified-Since
   (nothing can match), and If-Unmodified-Since is ignored (§13.1.4); ``*`` stands for any
   current representation, so ``If-None-Match: *`` gets 304 and ``If-Match: *`` the 200, while
   If-Match naming a tag gets 412 (§13.1.1). Then, for GET, a Range (RFC 9110 §14.2) of a
   single byte range gets 206 with Content-Range, an unsatisfiable one 416 with
   ``Content-Range: bytes */<length>``; a Range of several ranges, of a unit other than bytes,
   or with an If-Range (§13.1.5) that does not match is ignored: 200 with the whole file.
   Range needs no validator and is served without one (and without Accept-Ranges, which a
   client need not have seen, §14.3); an If-Range, though, cannot match a file sent without
   validators, so it always gets the whole file. ``Accept-Ranges: none`` from a directive
   turns Range off. A file whose directives set another status (301, 404, 503, ...) is
   answered with that status, its fields and its bytes, and preconditions and Range are
   ignored (RFC 9110 §13.2.1).

5. With a content coding (``content_coding=``/``content_codings=``, or the ``Content-Coding``
   / ``Content-Codings`` pseudo-field of a source of the file), the file is coded on the fly
   (RFC 9110 §8.4): always in ``content_coding``, or in the one of ``content_codings`` the
   request's Accept-Encoding prefers (none when it sends none or accepts none; the response
   then says ``Vary: Accept-Encoding`` either way, and so does its 304). The coded bytes are
   the representation: Content-Length, a Range and Content-Range count them (RFC 9110 §14.1),
   and a strong ETag, generated or declared, gets the coding appended (``"abc"`` becomes
   ``"abc-gzip"``), so each coding has its own tag (§8.8.3) and If-None-Match, If-Match and
   If-Range compare against that. A file that declares its own Content-Encoding (a ``.gz``
   given ``{"Content-Encoding": "gzip"}``) is already coded: it is sent as it is. The coded
   bytes of recent files (up to 8 MiB each) are kept, so a file asked for again is not coded
   again.

A malformed directive (in-file or sidecar) gets the client a 500 and is raised in the test as a
:class:`~understudy.ConfigurationError` by ``check()`` and on leaving the ``with`` block.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import mimetypes
import os
import re
import stat
from collections.abc import Callable, Collection, Mapping, Sequence
from email.utils import formatdate, parsedate_to_datetime
from typing import TYPE_CHECKING, Literal

from .._core.coding import CodingError, check_codings, encode, negotiate, tag_for_coding, vary_with
from .._core.directives import (
    GENERATED_FIELDS,
    CodingChoice,
    DirectiveError,
    Directives,
    content_type_for,
    directives_from_mapping,
    for_suffix,
    merge,
    parse_generated_fields,
    parse_in_file,
    parse_sidecar,
)
from .._core.framing import parse_digits
from .._core.paths import FilePath, Refusal, resolve_target
from .._errors import ConfigurationError
from ._fields import Headers
from ._models import Request, Response

if TYPE_CHECKING:
    from ._site import Exchange, Site

__all__ = ["DirectoryHost"]

SIDECAR_SUFFIX = ".headers"
_ALLOWED = "GET, HEAD"
#: Fields a 304 carries over from the 200 it stands for (RFC 9110 §15.4.5).
_ENTITY_TAG = re.compile(r'(W/)?(?:"([^"]*)"|([^,\s"]+))')
_NOT_MODIFIED_FIELDS = frozenset(
    {"cache-control", "content-location", "date", "etag", "expires", "last-modified", "vary"}
)


class DirectoryHost:
    """Answers the requests under a URL prefix from the files below a directory.

    Args:
        prefix: the URL path the directory is served at (``"/"``, ``"/feeds"``).
        root: the directory to serve.
        in_file_headers: read ``Header: Name: value`` lines inside each file (feedparser's
            convention) as its response fields; ``Header: Status: 301`` sets the status. Off by
            default, since an ordinary file may hold such lines.
        sidecar_headers: read ``<name>.headers`` beside each file (RFC 5322 field syntax,
            ``Status:`` allowed) as its response fields. On by default; sidecars are not
            served themselves while it is on.
        suffix_headers: fields by file-name suffix, such as ``{".gz": {"Content-Encoding":
            "gzip"}}`` (``Status`` allowed); every suffix a name ends with applies, the longest
            last.
        index: a file name (such as ``"index.html"``) served for a request naming a directory;
            a request for the directory without its trailing slash is redirected (301) to it.
            ``None`` (the default): a directory gets 404.
        generated_fields: which fields the server generates for a file that does not declare
            them, from ``Content-Type`` (by suffix), ``ETag``, ``Last-Modified`` and
            ``Accept-Ranges``: ``"all"`` (the default), ``"none"`` (a file is sent with only
            the fields it declares, plus the framing and Date), or some of those names, as a
            collection (``{"Content-Type"}``) or a comma-separated str. A file overrides it
            with the ``Generated-Fields`` pseudo-field in any of its sources (``Header:
            Generated-Fields: none``, or ``all``, or a list). Without an ETag and a
            Last-Modified, If-None-Match and If-Modified-Since never match: the full 200.
        content_coding: code every file in this content coding (``"gzip"``, ``"deflate"``,
            ``"br"``, ``"zstd"``; see :class:`~understudy.Response`) whatever the request's
            Accept-Encoding. ``None`` (the default): files are sent as they are.
        content_codings: code each file in the one of these codings (a sequence, preferred
            first, or a comma-separated str) that the request's Accept-Encoding prefers (RFC
            9110 §12.5.3), or not at all when it accepts none. A file overrides either with
            the ``Content-Coding`` or ``Content-Codings`` pseudo-field (``Header:
            Content-Codings: none`` in the file).

    Raises:
        ConfigurationError: ``root`` is not a directory, an option is unknown or of the wrong
            type, a ``suffix_headers`` field is malformed, ``generated_fields`` names a field
            the server does not generate, or a content coding is unknown or its package not
            installed, or both ``content_coding`` and ``content_codings`` are given.

    .. versionadded:: 0.1
    """

    streams_body = False

    def __init__(
        self,
        prefix: str,
        root: str | os.PathLike[str],
        *,
        in_file_headers: bool = False,
        sidecar_headers: bool = True,
        suffix_headers: Mapping[str, Mapping[str, str]] | None = None,
        index: str | None = None,
        generated_fields: str | Collection[str] = "all",
        content_coding: str | None = None,
        content_codings: str | Sequence[str] | None = None,
    ) -> None:
        try:
            root_path = os.fsdecode(root)
        except TypeError:
            raise ConfigurationError(
                f"root must be the path of a directory (str or os.PathLike), not "
                f"{type(root).__name__}"
            ) from None
        if not os.path.isdir(root_path):
            what = "does not exist" if not os.path.exists(root_path) else "is not a directory"
            raise ConfigurationError(
                f"root {root_path!r} {what}; give serve_directory() the path of a directory of "
                "files to serve"
            )
        for name, value in (
            ("in_file_headers", in_file_headers),
            ("sidecar_headers", sidecar_headers),
        ):
            if not isinstance(value, bool):
                raise ConfigurationError(f"{name} must be True or False, not {value!r}")
        if index is not None and (
            not isinstance(index, str) or not index.strip(".") or any(c in index for c in "/\\\0")
        ):
            raise ConfigurationError(
                f"index must be a file name such as 'index.html' (no slashes), not {index!r}"
            )
        self.prefix = prefix
        self.root = os.path.realpath(root_path)
        self.in_file_headers = in_file_headers
        self.sidecar_headers = sidecar_headers
        self.suffix_headers = _check_suffix_headers(suffix_headers)
        self.index = index
        self.generated_fields = check_generated_fields(generated_fields)
        self.coding = check_coding_options(content_coding, content_codings)

    def __repr__(self) -> str:
        return f"<DirectoryHost {self.prefix!r} -> {self.root!r}>"

    # -- on the loop -------------------------------------------------------------------------

    def dispatch(self, site: Site, exchange: Exchange) -> None:
        """Answer ``exchange``: refusals from the loop, files from the worker pool."""
        request = exchange.request
        assert request is not None
        exchange.answered_by = ("directory", self.root)
        if request.method not in ("GET", "HEAD"):
            exchange.send(
                Response(
                    405,
                    f"understudy: {request.method} is not allowed on a served directory; "
                    f"only {_ALLOWED}.\n",
                    headers={"Allow": _ALLOWED},
                )
            )
            return
        resolved = resolve_target(request.target, self.prefix)
        if isinstance(resolved, Refusal):
            exchange.send(_not_found(f"refused {request.raw_path!r}: {resolved.reason}"))
            return
        exchange.answered_by = ("directory", os.path.join(self.root, *resolved.segments))
        future = site.runtime.run_in_worker(self.answer, request, resolved)
        site.track(future, f"serving {request.method} {request.target} from {self.root}")
        future.add_done_callback(functools.partial(_done, exchange))

    # -- in the worker pool ------------------------------------------------------------------

    def answer(self, request: Request, path: FilePath) -> Response:
        """The response to a GET or HEAD of ``path`` (blocking: reads the filesystem).

        Raises:
            ConfigurationError: a malformed in-file or sidecar directive.
        """
        shown = "/" + path.relative
        if self.sidecar_headers and path.segments and path.segments[-1].endswith(SIDECAR_SUFFIX):
            return _not_found(f"{shown!r} holds the response fields of another file (a sidecar)")
        real = self._inside(os.path.join(self.root, *path.segments))
        if real is None:
            return _not_found(f"{shown!r} resolves outside the served directory")
        info = _stat(real)
        if info is not None and stat.S_ISDIR(info.st_mode):
            return self._directory(request, path, real)
        if info is None or not stat.S_ISREG(info.st_mode):
            return _not_found(f"no file {shown!r} under {self.root}")
        if path.trailing_slash:
            return _not_found(f"{shown!r} is a file, not a directory")
        return self._file(request, real)

    def _directory(self, request: Request, path: FilePath, real: str) -> Response:
        shown = "/" + path.relative
        if self.index is None:
            return _not_found(
                f"{shown!r} is a directory; directories are not listed (set index= to serve a "
                "file for them)"
            )
        index = self._inside(os.path.join(real, self.index))
        info = _stat(index) if index is not None else None
        if index is None or info is None or not stat.S_ISREG(info.st_mode):
            return _not_found(f"the directory {shown!r} has no {self.index}")
        if not path.trailing_slash:
            query = request.query_string
            location = request.raw_path + "/" + (f"?{query}" if query else "")
            return Response(301, f"understudy: see {location}\n", headers={"Location": location})
        return self._file(request, index)

    def _inside(self, path: str) -> str | None:
        """The real path of ``path`` if it is the root or below it, else ``None``."""
        try:
            real = os.path.realpath(path)
        except (OSError, ValueError):
            return None
        root = self.root
        if real == root or real.startswith(root if root.endswith(os.sep) else root + os.sep):
            return real
        return None

    def _file(self, request: Request, real: str) -> Response:
        try:
            with open(real, "rb") as file:
                info = os.fstat(file.fileno())
                content = file.read()
        except PermissionError:
            return Response(403, "understudy: the file is not readable\n")
        except OSError as error:
            return _not_found(f"the file could not be read ({error.strerror})")
        name = os.path.basename(real)
        layers = []
        if self.suffix_headers:
            layers.append(for_suffix(name, self.suffix_headers))
        if self.sidecar_headers:
            sidecar = self._read_sidecar(real)
            if sidecar is not None:
                layers.append(_parse(parse_sidecar, sidecar, real + SIDECAR_SUFFIX, request))
        if self.in_file_headers:
            layers.append(_parse(parse_in_file, content, real, request))
        declared = merge(*layers)
        generated = declared.generated
        if generated is None:
            generated = self.generated_fields
        coding = declared.coding if declared.coding is not None else self.coding
        directives = merge(_defaults(name, content, info, generated), declared)
        return respond(request, content, directives, coding)

    def _read_sidecar(self, real: str) -> bytes | None:
        sidecar = self._inside(real + SIDECAR_SUFFIX)
        if sidecar is None:
            return None
        try:
            with open(sidecar, "rb") as file:
                if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
                    return None
                return file.read()
        except OSError:
            return None


def _parse(
    parse: Callable[[bytes], Directives], data: bytes, filename: str, request: Request
) -> Directives:
    try:
        return parse(data)
    except DirectiveError as error:
        kind = "in-file header directive" if parse is parse_in_file else "sidecar field"
        raise ConfigurationError(
            f"{filename}: malformed {kind}: {error} (the client got a 500 for "
            f"{request.method} {request.target})"
        ) from None


def _done(exchange: Exchange, future: asyncio.Future[Response]) -> None:
    if future.cancelled():
        exchange.abort()
        return
    error = future.exception()  # recorded by site.track, raised in the test by check()
    if error is not None:
        exchange.send_error(
            500, f"understudy: serving the file raised {type(error).__name__} (see check())"
        )
        return
    exchange.send(future.result())


def _stat(path: str) -> os.stat_result | None:
    try:
        return os.stat(path)
    except (OSError, ValueError):
        return None


def _not_found(why: str) -> Response:
    return Response(404, f"understudy: 404: {why}\n")


@functools.cache
def _builtin_types() -> mimetypes.MimeTypes:
    # A fresh MimeTypes holds Python's built-in table only, not the machine's mime.types.
    return mimetypes.MimeTypes()


def guess_content_type(name: str) -> str:
    """The Content-Type of a file name: the fixed table, Python's built-in one, or octet-stream.

    The fixed table (:data:`understudy._core.directives.CONTENT_TYPES`) decides for the common
    suffixes, so that the answer does not depend on the machine; Python's built-in
    ``mimetypes`` table (not ``/etc/mime.types``) for the rest.
    """
    listed = content_type_for(name)
    if listed is not None:
        return listed
    guessed, encoding = _builtin_types().guess_type("./" + name, strict=True)
    if guessed is None or encoding is not None:
        return "application/octet-stream"
    return guessed


def _defaults(
    name: str, content: bytes, info: os.stat_result, generated: frozenset[str]
) -> Directives:
    """The generated fields of :data:`GENERATED_FIELDS` that ``generated`` selects, in order."""
    fields = []
    for field in GENERATED_FIELDS:
        if field not in generated:
            continue
        if field == "Content-Type":
            fields.append((field, guess_content_type(name)))
        elif field == "ETag":
            fields.append((field, f'"{hashlib.blake2b(content, digest_size=12).hexdigest()}"'))
        elif field == "Last-Modified":
            fields.append((field, formatdate(int(info.st_mtime), usegmt=True)))
        else:
            fields.append((field, "bytes"))
    return Directives(fields=tuple(fields))


def check_coding_options(content_coding: object, content_codings: object) -> CodingChoice | None:
    """The ``content_coding=``/``content_codings=`` options as a :data:`CodingChoice`.

    Raises:
        ConfigurationError: both given, several codings in ``content_coding``, or a coding
            that is unknown or whose package is not installed (the message names it).
    """
    if content_coding is None and content_codings is None:
        return None
    if content_coding is not None and content_codings is not None:
        raise ConfigurationError(
            "give content_coding= (always that coding) or content_codings= (chosen per request "
            "by its Accept-Encoding), not both"
        )
    if isinstance(content_coding, list | tuple) or (
        isinstance(content_coding, str) and "," in content_coding
    ):
        raise ConfigurationError(
            f"content_coding= takes one coding, always applied, such as 'gzip'; to choose per "
            f"request among several write content_codings={content_coding!r}"
        )
    try:
        if content_coding is not None:
            return (True, check_codings([content_coding], name="content_coding"))
        return (False, check_codings(content_codings))
    except CodingError as error:
        raise ConfigurationError(str(error)) from None


def check_generated_fields(value: object) -> frozenset[str]:
    """The ``generated_fields=`` option as the names it selects.

    Raises:
        ConfigurationError: not a str or a collection of str, or a name the server does not
            generate (the message lists the ones it does).
    """
    if isinstance(value, str):
        text = value
    elif isinstance(value, Collection) and all(isinstance(name, str) for name in value):
        if not value:
            return frozenset()
        text = ", ".join(value)
    else:
        text = ","
    try:
        return parse_generated_fields(text)
    except DirectiveError:
        raise ConfigurationError(
            f"generated_fields must be 'all', 'none', or some of {', '.join(GENERATED_FIELDS)} "
            f"(a collection such as {{'Content-Type'}}, or a comma-separated str); not {value!r}"
        ) from None


# -- the pure part: from the request, the content and the directives to a response ------------


def respond(
    request: Request, content: bytes, directives: Directives, coding: CodingChoice | None = None
) -> Response:
    """The response to a GET or HEAD of a file with these bytes and merged directives, coded
    as ``coding`` says (``None``: not coded; see the module's description)."""
    fields = list(directives.fields)
    is_head = request.method == "HEAD"
    status = directives.status or 200
    etag = directives.get("ETag")
    coded_as = None
    if coding is not None and coding[1] and directives.get("Content-Encoding") is None:
        always, codings = coding
        if always:
            coded_as = codings[0]
        else:
            accept = request.headers.get("accept-encoding")
            coded_as = negotiate(accept, codings)
            fields = vary_with(fields, "Accept-Encoding")
        if coded_as is not None and status not in (204, 304):
            fields = [
                (name, tag_for_coding(value, coded_as) if name.lower() == "etag" else value)
                for name, value in fields
            ]
            fields.append(("Content-Encoding", coded_as))
            etag = tag_for_coding(etag, coded_as) if etag is not None else None
            content = _coded(coded_as, content)
    if status != 200:
        return _whole(status, directives.reason, fields, content, head=is_head)
    headers = request.headers
    last_modified = directives.get("Last-Modified")
    failed = evaluate_preconditions(request.method, headers, etag, last_modified)
    if failed == 304:
        kept = [(name, value) for name, value in fields if name.lower() in _NOT_MODIFIED_FIELDS]
        return Response(304, headers=kept)
    if failed == 412:
        return Response(412, "understudy: a precondition failed (RFC 9110 §13.1)\n")
    ranges_off = (directives.get("Accept-Ranges") or "").strip().lower() == "none"
    if request.method != "GET" or ranges_off or "range" not in headers:
        return _whole(200, directives.reason, fields, content, head=is_head)
    chosen = select_range(
        headers["range"], headers.get("if-range"), etag, last_modified, len(content)
    )
    if chosen is None:
        return _whole(200, directives.reason, fields, content, head=False)
    if chosen == "unsatisfiable":
        return Response(
            416,
            f"understudy: the range {headers['range']!r} is not satisfiable: the file has "
            f"{len(content)} bytes\n",
            headers={"Content-Range": f"bytes */{len(content)}"},
        )
    first, last = chosen
    part = content[first : last + 1]
    fields.append(("Content-Range", f"bytes {first}-{last}/{len(content)}"))
    fields.append(("Content-Length", str(len(part))))
    return Response(206, part, headers=fields)


#: Files up to this size have their coded bytes kept (by coding and content) for the next
#: request; larger ones are coded per request.
_CODED_KEPT_SIZE = 8 * 1024 * 1024


@functools.lru_cache(maxsize=16)
def _coded_kept(coding: str, content: bytes) -> bytes:
    return encode(coding, content)


def _coded(coding: str, content: bytes) -> bytes:
    """``content`` coded, from the recently coded files when it is one of them."""
    if len(content) <= _CODED_KEPT_SIZE:
        return _coded_kept(coding, content)
    return encode(coding, content)


def _whole(
    status: int, reason: str | None, fields: list[tuple[str, str]], content: bytes, *, head: bool
) -> Response:
    if status not in (204, 304):
        fields = [*fields, ("Content-Length", str(len(content)))]
    return Response(status, b"" if head else content, headers=fields, reason=reason)


def evaluate_preconditions(
    method: str, headers: Headers, etag: str | None, last_modified: str | None
) -> Literal[304, 412] | None:
    """Evaluate the conditional fields of a request, in the order of RFC 9110 §13.2.2.

    Args:
        method: the request method.
        headers: the request's fields.
        etag: the ETag the response would carry (``None``: none).
        last_modified: the Last-Modified the response would carry (``None``: none).

    Returns:
        412 when If-Match or If-Unmodified-Since is false, 304 when If-None-Match or
        If-Modified-Since is false for a GET or HEAD (412 for other methods), ``None`` when
        the request is to be answered as if unconditional.
    """
    if "if-match" in headers:
        if not _match_list(headers["if-match"], etag, weak=False):
            return 412
    elif "if-unmodified-since" in headers:
        since = _http_date(headers["if-unmodified-since"])
        modified = _http_date(last_modified)
        if since is not None and modified is not None and modified > since:
            return 412
    safe = method in ("GET", "HEAD")
    if "if-none-match" in headers:
        if _match_list(headers["if-none-match"], etag, weak=True):
            return 304 if safe else 412
    elif safe and "if-modified-since" in headers and last_modified is not None:
        given = headers["if-modified-since"]
        since = _http_date(given)
        modified = _http_date(last_modified)
        if since is not None and modified is not None:
            if modified <= since:
                return 304
        elif given.strip() == last_modified.strip():
            return 304
    return None


def select_range(
    range_value: str,
    if_range: str | None,
    etag: str | None,
    last_modified: str | None,
    length: int,
) -> tuple[int, int] | Literal["unsatisfiable"] | None:
    """Choose the byte range to send for a Range field (RFC 9110 §14.2, §13.1.5).

    Args:
        range_value: the Range field's value.
        if_range: the If-Range field's value, if sent.
        etag: the representation's ETag (``None``: none).
        last_modified: the representation's Last-Modified (``None``: none).
        length: the representation's length in bytes.

    Returns:
        ``(first, last)`` (inclusive byte positions) for a single satisfiable range,
        ``"unsatisfiable"`` for a single range that selects no byte, or ``None`` to ignore the
        Range and send the whole representation: a unit other than ``bytes``, a malformed
        value, several ranges, or an If-Range that does not match (a weak or different
        entity tag, or a date not exactly the Last-Modified).
    """
    if if_range is not None and not _if_range_matches(if_range.strip(), etag, last_modified):
        return None
    unit, equals, spec = range_value.partition("=")
    if not equals or unit.strip().lower() != "bytes" or "," in spec:
        return None
    first_text, dash, last_text = spec.strip().partition("-")
    first_text, last_text = first_text.strip(), last_text.strip()
    if not dash or not (first_text or last_text):
        return None
    first_pos = parse_digits(first_text) if first_text else -1
    last_pos = parse_digits(last_text) if last_text else -1
    if first_pos is None or last_pos is None:  # (not ASCII digits: "²" passes isdigit())
        return None
    if first_pos < 0:  # a suffix range: the last N bytes
        if last_pos == 0 or length == 0:
            return "unsatisfiable"
        return max(length - last_pos, 0), length - 1
    if 0 <= last_pos < first_pos:
        return None
    if first_pos >= length:
        return "unsatisfiable"
    return first_pos, min(last_pos, length - 1) if last_pos >= 0 else length - 1


def _if_range_matches(value: str, etag: str | None, last_modified: str | None) -> bool:
    if value.startswith(('"', "W/")):
        return _match_list(value, etag, weak=False)
    given = _http_date(value)
    modified = _http_date(last_modified)
    return given is not None and given == modified


def _entity_tags(value: str) -> list[tuple[bool, str]]:
    """The ``(weak, opaque)`` entity tags of a list field (RFC 9110 §8.8.3), leniently.

    Unquoted tags (as some hand-written directives have) are taken as they are.
    """
    return [
        (bool(match[1]), match[2] if match[2] is not None else match[3])
        for match in _ENTITY_TAG.finditer(value)
    ]


def _match_list(value: str, etag: str | None, *, weak: bool) -> bool:
    """Whether the If-Match/If-None-Match/If-Range ``value`` matches ``etag``.

    ``weak`` selects the weak comparison (RFC 9110 §8.8.3.2); ``*`` matches any current
    representation, with or without an entity tag (§13.1.1, §13.1.2).
    """
    if value.strip() == "*":  # the file exists: it has a current representation
        return True
    if etag is None:
        return False
    [(mine_weak, mine)] = _entity_tags(etag)[:1] or [(False, etag)]
    for their_weak, theirs in _entity_tags(value):
        if theirs != mine:
            continue
        if weak or not (their_weak or mine_weak):
            return True
    return False


def _http_date(value: str | None) -> float | None:
    """An HTTP-date (IMF-fixdate, RFC 850 or asctime, RFC 9110 §5.6.7) as a timestamp."""
    if not value:
        return None
    try:
        return parsedate_to_datetime(value.strip()).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):  # (year 10000000000: overflow)
        return None


def _check_suffix_headers(
    table: Mapping[str, Mapping[str, str]] | None,
) -> dict[str, Directives]:
    if table is None:
        return {}
    example = 'suffix_headers={".gz": {"Content-Encoding": "gzip"}}'
    if not isinstance(table, Mapping):
        raise ConfigurationError(
            f"suffix_headers must be a mapping of suffix to fields, such as {example}; "
            f"not {type(table).__name__}"
        )
    checked = {}
    for suffix, fields in table.items():
        if not isinstance(suffix, str) or not suffix.startswith(".") or len(suffix) < 2:
            raise ConfigurationError(
                f"suffix_headers keys are file-name suffixes starting with '.', such as "
                f"'.gz'; not {suffix!r}"
            )
        if not isinstance(fields, Mapping):
            raise ConfigurationError(
                f"suffix_headers[{suffix!r}] must be a mapping of field names to values, as in "
                f"{example}; not {type(fields).__name__}"
            )
        try:
            checked[suffix] = directives_from_mapping(fields)
        except DirectiveError as error:
            raise ConfigurationError(f"suffix_headers[{suffix!r}]: {error}") from None
    return checked
