"""The simple repository API's routes: ``/simple/``, ``/simple/<project>/``, ``/packages/``.

The pages themselves (PEP 503 HTML, PEP 691 JSON, ``Accept`` negotiation) are made by the pure
:mod:`._index`; this module picks the form, redirects to the normalised name (PEP 503), and
serves the files and their PEP 658 metadata, recording each download.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..._http._request import Request
from ..._http._response import Response
from . import _index
from ._dists import normalize, version_key
from ._records import PyPIDownload
from ._responses import error, redirect

if TYPE_CHECKING:
    from ._store import Store

__all__ = ["package", "simple_project", "simple_root"]


def _choose(request: Request) -> str | None:
    wanted = request.query.get("format")
    if wanted is not None:
        return _index.FORMATS.get(wanted)
    return _index.negotiate(request.headers.get("accept"))


def simple_root(store: Store, request: Request) -> Response:
    """``GET /simple/``: every project, as HTML or JSON by ``Accept`` or ``?format=``."""
    chosen = _choose(request)
    if chosen is None:
        return _not_acceptable()
    names = [(name, files[0].project) for name, files in sorted(store.projects().items())]
    if chosen == _index.JSON_TYPE:
        return _simple(chosen, _index.projects_json(names))
    return _simple(chosen, _index.projects_html(names))


def simple_project(store: Store, request: Request, rest: str) -> Response:
    """``GET /simple/<project>/``: its files; other spellings redirect to the normalised one."""
    name, slash, extra = rest.partition("/")
    if extra or not name:
        return error(404, "Not Found")
    canonical = normalize(name)
    if name != canonical or not slash:
        return redirect(request, f"/simple/{canonical}/")
    files = store.projects().get(canonical)
    if files is None:
        return error(404, "Not Found")
    chosen = _choose(request)
    if chosen is None:
        return _not_acceptable()
    base = "../../packages/"
    if chosen == _index.JSON_TYPE:
        versions = sorted({f.version for f in files}, key=version_key)
        return _simple(chosen, _index.project_json(canonical, files, versions, base=base))
    return _simple(chosen, _index.project_html(files[0].project, files, base=base))


def package(store: Store, request: Request, filename: str) -> Response:
    """``GET /packages/<file>``: the file (a download, journaled), or its ``.metadata``."""
    metadata_only = filename.endswith(".metadata")
    name = filename.removesuffix(".metadata") if metadata_only else filename
    file = store.get(name)
    if file is None or (metadata_only and file.metadata is None) or "/" in name:
        return error(404, "Not Found")
    if metadata_only:
        assert file.metadata is not None
        return Response(200, body=file.metadata, content_type="application/octet-stream")
    content = store.content(name)
    if request.method == "GET":
        store.downloads.append(
            PyPIDownload(
                filename=name,
                project=file.project,
                version=file.version,
                user_agent=request.headers.get("user-agent", ""),
                request=request,
            )
        )
    return Response(
        200,
        body=content,
        headers={"ETag": f'"{file.digests["sha256"]}"'},
        content_type="application/octet-stream",
    )


def _simple(media_type: str, body: bytes) -> Response:
    if media_type == _index.TEXT_HTML:
        media_type = "text/html; charset=utf-8"
    return Response(200, body=body, content_type=media_type, headers={"Vary": "Accept"})


def _not_acceptable() -> Response:
    offered = ", ".join(_index.OFFERS)
    return Response(
        406,
        body=f"Not Acceptable: this index answers {offered}\n",
        headers={"Vary": "Accept"},
    )
