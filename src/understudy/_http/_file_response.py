"""A served file's response: its generated fields, content coding, preconditions and Range.

The pure part of directory serving: from the request, the file's bytes and its merged
directives (:mod:`understudy._core.directives`) to the :class:`~understudy.Response` to send
(see :mod:`understudy._http._directory` for the rules, in order).
"""

from __future__ import annotations

import functools
import hashlib
import mimetypes
import os
from email.utils import formatdate

from .._core.coding import encode, negotiate, tag_for_coding, vary_with
from .._core.conditional import evaluate_preconditions, select_range
from .._core.directives import GENERATED_FIELDS, CodingChoice, Directives, content_type_for
from ._request import Request
from ._response import Response

__all__ = ["generated_defaults", "guess_content_type", "respond"]

#: Fields a 304 carries over from the 200 it stands for (RFC 9110 §15.4.5).
_NOT_MODIFIED_FIELDS = frozenset(
    {"cache-control", "content-location", "date", "etag", "expires", "last-modified", "vary"}
)


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


def generated_defaults(
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
    # (The coding chosen decided a 412 or 416 too, by its tag or length: they vary as the
    # 200 would, as the 304 does; RFC 9110 §12.5.5.)
    vary = [(name, value) for name, value in fields if name.lower() == "vary"]
    if failed == 412:
        body = "understudy: a precondition failed (RFC 9110 §13.1)\n"
        return Response(412, body=body, headers=vary)
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
            body=f"understudy: the range {headers['range']!r} is not satisfiable: the file has "
            f"{len(content)} bytes\n",
            headers=[*vary, ("Content-Range", f"bytes */{len(content)}")],
        )
    first, last = chosen
    part = content[first : last + 1]
    fields.append(("Content-Range", f"bytes {first}-{last}/{len(content)}"))
    fields.append(("Content-Length", str(len(part))))
    return Response(206, body=part, headers=fields)


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
    return Response(status, body=b"" if head else content, headers=fields, reason=reason)
