"""Serving a directory of files whose response headers may be written inside or beside them.

:class:`DirectoryHost` answers the requests under a URL prefix from the files below a root
directory (``HTTPServer.serve_directory(prefix, root, **options)``, or ``HTTPServer(root=...)``
for the prefix ``/``). Files are read in the worker pool, whole (understudy serves test
fixtures, not gigabytes); the answer is sent from the loop.

What a request gets, in order:

1. A method other than GET and HEAD: 405 with ``Allow: GET, HEAD``.
2. A target that would leave the root (see :mod:`understudy._core.paths`), a file whose real
   path (symbolic links resolved) is outside the real root, a sidecar file itself
   (``*.headers`` in any case while ``sidecar_headers`` is on, or a symbolic link to one), a
   directory (there is no listing; its ``index`` file if one is configured), or a missing
   file: 404, with a one-line body that says why. Every request, refused or not, is in the
   server's journal.
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
   then says ``Vary: Accept-Encoding`` either way, and so do its 304, 412 and 416). The coded
   bytes are the representation: Content-Length, a Range and Content-Range count them (RFC
   9110 §14.1), and a strong ETag, generated or declared, gets the coding appended (``"abc"``
   becomes ``"abc-gzip"``), so each coding has its own tag (§8.8.3) and If-None-Match,
   If-Match and If-Range compare against that. A file that declares its own Content-Encoding
   (a ``.gz`` given ``{"Content-Encoding": "gzip"}``) is already coded: it is sent as it is.
   The coded bytes of recent files (up to 8 MiB each) are kept, so a file asked for again is
   not coded again.

A malformed directive (in-file or sidecar) gets the client a 500 and is raised in the test as a
:class:`~understudy.ConfigurationError` by ``check()`` and on leaving the ``with`` block.
"""

from __future__ import annotations

import asyncio
import functools
import os
import stat
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import TYPE_CHECKING

from .._core.directive_sources import parse_in_file, parse_sidecar
from .._core.directives import DirectiveError, Directives, for_suffix, merge
from .._core.paths import FilePath, Refusal, resolve_target
from .._errors import ConfigurationError
from ._directory_options import check_coding_options, check_generated_fields, check_suffix_headers
from ._file_response import generated_defaults, respond
from ._request import Request
from ._response import Response

if TYPE_CHECKING:
    from ._site import Exchange, Site

__all__ = ["DirectoryHost"]

SIDECAR_SUFFIX = ".headers"
_ALLOWED = "GET, HEAD"


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
        self.suffix_headers = check_suffix_headers(suffix_headers)
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
                    body=f"understudy: {request.method} is not allowed on a served directory; "
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
        if self.sidecar_headers and path.segments and _is_sidecar(path.segments[-1]):
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
            return Response(
                301, body=f"understudy: see {location}\n", headers={"Location": location}
            )
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
        if self.sidecar_headers and _is_sidecar(real):  # (a link to one, or an index naming one)
            return _not_found(
                f"{os.path.basename(real)!r} holds the response fields of another file (a sidecar)"
            )
        try:
            with open(real, "rb") as file:
                info = os.fstat(file.fileno())
                content = file.read()
        except PermissionError:
            return Response(403, body="understudy: the file is not readable\n")
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
        directives = merge(generated_defaults(name, content, info, generated), declared)
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


def _is_sidecar(name: str) -> bool:
    """Whether ``name`` (or path) is a sidecar's, without case: on a filesystem that ignores
    case (macOS, Windows) ``a.txt.HEADERS`` opens ``a.txt.headers``."""
    return name.lower().endswith(SIDECAR_SUFFIX)


def _stat(path: str) -> os.stat_result | None:
    try:
        return os.stat(path)
    except (OSError, ValueError):
        return None


def _not_found(why: str) -> Response:
    return Response(404, body=f"understudy: 404: {why}\n")
