"""PyPI's JSON API: ``/pypi/<project>/json`` and ``/pypi/<project>/<version>/json``.

The shapes are warehouse's (https://docs.pypi.org/api/json/): ``info`` from the core metadata of
the release described (the latest stable one not yanked, when no version is given), ``urls`` its
files, ``releases`` every version's files.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from packaging.version import Version

from ..._http._request import Request
from ..._http._response import Response
from . import _index
from ._dists import normalize, same_version, version_key
from ._records import PyPIFile
from ._responses import error, redirect

if TYPE_CHECKING:
    from ._store import Store

__all__ = ["json_api"]


def json_api(store: Store, request: Request, rest: str, *, host: str) -> Response:
    """``GET /pypi/<project>/json`` and ``/pypi/<project>/<version>/json``; ``host`` names the
    server in the URLs of the answer (the request's ``Host`` field, or the server's address)."""
    parts = rest.split("/")
    if len(parts) == 2 and parts[1] == "json":
        name, version = parts[0], None
    elif len(parts) == 3 and parts[2] == "json":
        name, version = parts[0], parts[1]
    else:
        return error(404, "Not Found")
    files = store.projects().get(normalize(name))
    if not files:
        return Response(404, json={"message": "Not Found"})
    shown = files[0].project
    if name != shown:
        suffix = f"{version}/json" if version is not None else "json"
        return redirect(request, f"/pypi/{shown}/{suffix}")
    releases: dict[str, list[PyPIFile]] = {}
    for file in files:
        releases.setdefault(file.version, []).append(file)
    if version is None:
        chosen = _latest(releases)
    else:
        found = next((v for v in releases if same_version(v, version)), None)
        if found is None:
            return Response(404, json={"message": "Not Found"})
        chosen = found
    origin = f"{request.scheme}://{host}"
    body: dict[str, Any] = {
        "info": _info(shown, chosen, releases[chosen], origin),
        "last_serial": len(files),
        "urls": [_json_file(f, origin) for f in releases[chosen]],
        "vulnerabilities": [],
    }
    if version is None:
        body["releases"] = {
            v: [_json_file(f, origin) for f in fs]
            for v, fs in sorted(releases.items(), key=lambda item: version_key(item[0]))
        }
    return Response(200, json=body)


def _latest(releases: Mapping[str, Iterable[PyPIFile]]) -> str:
    """The release the JSON API describes: the latest stable one not yanked, as PyPI picks."""

    def usable(version: str, stable: bool) -> bool:
        key = version_key(version)[1]
        if stable and (not isinstance(key, Version) or key.is_prerelease):
            return False
        return not all(f.yanked for f in releases[version])

    for stable in (True, False):
        candidates = [v for v in releases if usable(v, stable)]
        if candidates:
            return max(candidates, key=version_key)
    return max(releases, key=version_key)


def _info(project: str, version: str, files: list[PyPIFile], origin: str) -> dict[str, Any]:
    wheel_first = sorted(files, key=lambda f: f.packagetype != "bdist_wheel")
    fields = next((f.fields for f in wheel_first if f.fields), {})
    yanked = all(f.yanked for f in files)
    return {
        "author": fields.get("author", ""),
        "author_email": fields.get("author_email", ""),
        "classifiers": list(fields.get("classifiers", [])),
        "description": fields.get("description", ""),
        "description_content_type": fields.get("description_content_type"),
        "download_url": fields.get("download_url", ""),
        "dynamic": list(fields.get("dynamic", [])) or None,
        "home_page": fields.get("home_page", ""),
        "keywords": ",".join(fields.get("keywords", []))
        if isinstance(fields.get("keywords"), list)
        else fields.get("keywords", ""),
        "license": fields.get("license", ""),
        "maintainer": fields.get("maintainer", ""),
        "maintainer_email": fields.get("maintainer_email", ""),
        "name": project,
        "package_url": f"{origin}/project/{project}/",
        "platform": None,
        "project_url": f"{origin}/project/{project}/",
        "project_urls": dict(fields.get("project_urls", {})) or None,
        "provides_extra": list(fields.get("provides_extra", [])) or None,
        "release_url": f"{origin}/project/{project}/{version}/",
        "requires_dist": list(fields.get("requires_dist", [])) or None,
        "requires_python": fields.get("requires_python") or "",
        "summary": fields.get("summary", ""),
        "version": version,
        "yanked": yanked,
        "yanked_reason": (files[0].yanked_reason or None) if yanked else None,
    }


def _json_file(file: PyPIFile, origin: str) -> dict[str, Any]:
    return {
        "comment_text": "",
        "digests": dict(file.digests),
        "filename": file.filename,
        "has_sig": False,
        "md5_digest": file.digests["md5"],
        "packagetype": file.packagetype,
        "python_version": file.python_version,
        "requires_python": file.requires_python,
        "size": file.size,
        "upload_time": _index.iso_time(file.upload_time)[:19],
        "upload_time_iso_8601": _index.iso_time(file.upload_time),
        "url": f"{origin}/packages/{file.filename}",
        "yanked": file.yanked,
        "yanked_reason": file.yanked_reason or None,
    }
