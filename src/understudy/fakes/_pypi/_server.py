"""PyPIServer: a fake PyPI that twine uploads to and pip installs from.

It is an :class:`~understudy.HTTPServer` whose handler answers the parts of PyPI's API that
packaging tools use:

==============================  ===============================================================
``POST /legacy/``               the legacy upload API (``:action=file_upload``), as twine uses it
``GET /simple/``                the project list (PEP 503 HTML or PEP 691 JSON, by ``Accept``)
``GET /simple/<project>/``      a project's files, with hashes, ``requires-python``, yanking
                                (PEP 592) and metadata hashes (PEP 658 / PEP 714)
``GET /packages/<file>``        the file; ``<file>.metadata`` its core metadata (wheels)
``GET /pypi/<project>/json``    the JSON API; ``/pypi/<project>/<version>/json`` one release
==============================  ===============================================================
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

from packaging.version import InvalidVersion, Version

from ..._errors import ConfigurationError
from ..._http._fields import Query
from ..._http._models import Request, Response
from ..._http._server import HTTPServer
from ..._journal import Journal
from . import _index
from ._dists import (
    CoreMetadata,
    DistName,
    InvalidDistribution,
    digests_of,
    normalize,
    parse_dist_filename,
    read_metadata,
)
from ._records import PyPIDownload, PyPIFile, PyPIUpload
from ._upload import UploadRefused, authenticate, parse_form

__all__ = ["PyPIServer"]

_DEFAULT_MAX_BODY_SIZE = 256 * 1024 * 1024
_DIST_SUFFIXES = (".whl", ".tar.gz", ".zip")
_DIGEST_FIELDS = {
    "md5_digest": "md5",
    "sha256_digest": "sha256",
    "blake2_256_digest": "blake2b_256",
}
_DIGEST_MISMATCH = "The digest supplied does not match a digest calculated from the uploaded file."


#: The HTTPServer options a PyPIServer passes through (the rest are its own, or make no sense).
_HTTP_OPTIONS = frozenset(
    {
        "tls",
        "conditions",
        "seed",
        "max_header_size",
        "header_timeout",
        "idle_timeout",
        "send_timeout",
        "unmatched_status",
    }
)


class PyPIServer(HTTPServer):
    """A fake PyPI: the legacy upload API, the simple index and the JSON API, over real HTTP.

    Point twine at :attr:`upload_url` (``--repository-url``) and pip at :attr:`index_url`
    (``--index-url``). Uploaded files are kept in memory, or written to ``directory``.

    Args:
        host: address to listen on: ``"127.0.0.1"`` by default.
        port: port to listen on; 0 (the default) lets the kernel choose.
        users: ``{"name": "password"}`` accepted for uploads (HTTP Basic, RFC 7617).
        tokens: API tokens accepted as the password of the user ``__token__``.
        anonymous: accept uploads that send no credentials at all (``False`` by default).
            With neither ``users`` nor ``tokens`` given, any credentials are accepted (the user
            name is kept as the uploader); without credentials the upload gets 403 unless
            ``anonymous`` is true.
        directory: a directory to keep the files in: the distributions already there are
            served from the start, and uploads are written there. ``None`` (the default): in
            memory.
        journal_size: keep only the last N requests, uploads and downloads (``None``: all).
        max_body_size: bytes of request body accepted (256 MiB by default); more gets 413.
        **options: these options of :class:`~understudy.HTTPServer`, with the same meaning:
            ``tls`` (serve HTTPS: give pip ``--cert`` and twine ``--cert`` the test CA's
            ``understudy.tls.ca_bundle()``), ``conditions``, ``seed``, ``max_header_size``,
            ``header_timeout``, ``idle_timeout``, ``send_timeout``, ``unmatched_status``.

    Raises:
        ConfigurationError: an option that is neither PyPIServer's nor one of the HTTPServer
            options above (``response=``, ``handler=`` ... are the fake's own);
            ``users`` that is not a mapping of str to str, ``tokens`` that is
            not a collection of str, a ``directory`` that does not exist, or a distribution in
            it that cannot be read.

    Spec: PEP 503 and PEP 691 (simple repository API), PEP 592 (yanking), PEP 658 and PEP 714
    (metadata files), PEP 700 (API version 1.1); the legacy upload API as warehouse implements it.

    .. versionadded:: 0.1
    """

    kind: ClassVar[str] = "PyPI server"

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        users: Mapping[str, str] | None = None,
        tokens: Collection[str] | None = None,
        anonymous: bool = False,
        directory: str | os.PathLike[str] | None = None,
        journal_size: int | None = None,
        max_body_size: int = _DEFAULT_MAX_BODY_SIZE,
        **options: Any,
    ) -> None:
        for name in options:
            if name not in _HTTP_OPTIONS:
                raise ConfigurationError(
                    f"PyPIServer() got an unexpected option {name}=; it takes the PyPI options "
                    f"and these of HTTPServer: {', '.join(sorted(_HTTP_OPTIONS))}"
                )
        super().__init__(
            host=host,
            port=port,
            handler=self._handle,
            journal_size=journal_size,
            max_body_size=max_body_size,
            **options,
        )
        if users is not None and (
            not isinstance(users, Mapping)
            or not all(isinstance(k, str) and isinstance(v, str) for k, v in users.items())
        ):
            raise ConfigurationError(
                f'users must map user names to passwords, e.g. users={{"ada": "s3cret"}}; got '
                f"{users!r:.60}"
            )
        if tokens is not None and (
            isinstance(tokens, str) or not all(isinstance(token, str) for token in tokens)
        ):
            raise ConfigurationError(
                f'tokens must be a list of token strings, e.g. tokens=["pypi-AgEI..."]; got '
                f"{tokens!r:.60}"
            )
        self.users = dict(users) if users is not None else None
        self.tokens = list(tokens) if tokens is not None else None
        self.anonymous = bool(anonymous)
        self._uploads: Journal[PyPIUpload] = Journal("upload", journal_size)
        self._downloads: Journal[PyPIDownload] = Journal("download", journal_size)
        self._lock = threading.Lock()
        self._files: dict[str, PyPIFile] = {}
        self._contents: dict[str, bytes] = {}
        self.directory: Path | None = None
        if directory is not None:
            path = Path(directory)
            if not path.is_dir():
                raise ConfigurationError(
                    f"directory must be an existing directory, not {str(directory)!r}; create "
                    "it first (tmp_path works) or leave it out to keep files in memory"
                )
            self.directory = path
            self.preload(path)

    # -- what the test reads -----------------------------------------------------------------

    @property
    def index_url(self) -> str:
        """The simple index, for ``pip --index-url``: ``http://host:port/simple/``."""
        return self.url + "/simple/"

    @property
    def upload_url(self) -> str:
        """The legacy upload API, for ``twine upload --repository-url``: ``.../legacy/``."""
        return self.url + "/legacy/"

    @property
    def files(self) -> list[PyPIFile]:
        """The files served, preloaded and uploaded, sorted by project, version and name."""
        with self._lock:
            files = list(self._files.values())
        return sorted(files, key=_file_order)

    @property
    def uploads(self) -> list[PyPIUpload]:
        """The uploads accepted so far (a snapshot list, oldest first)."""
        return self._uploads.snapshot()

    @property
    def downloads(self) -> list[PyPIDownload]:
        """The distribution files served so far (a snapshot list, oldest first)."""
        return self._downloads.snapshot()

    def wait_for_uploads(
        self,
        count: int = 1,
        *,
        match: Callable[[PyPIUpload], bool] | None = None,
        timeout: float = 5.0,
    ) -> list[PyPIUpload]:
        """Block until ``count`` uploads (satisfying ``match``, if given) have been accepted.

        Args:
            count: how many to wait for (1 by default).
            match: a predicate on :class:`PyPIUpload`; only uploads it accepts count.
            timeout: seconds to wait (5.0 by default).

        Returns:
            The first ``count`` such uploads, oldest first.

        Raises:
            WaitTimeout: after ``timeout`` seconds; the message lists what did arrive.
        """
        __tracebackhide__ = True
        return self._uploads.wait_for(count, match=match, timeout=timeout)

    async def wait_for_uploads_async(
        self,
        count: int = 1,
        *,
        match: Callable[[PyPIUpload], bool] | None = None,
        timeout: float = 5.0,
    ) -> list[PyPIUpload]:
        """The awaitable twin of :meth:`wait_for_uploads`, for async tests."""
        __tracebackhide__ = True
        return await self._uploads.wait_for_async(count, match=match, timeout=timeout)

    def wait_for_downloads(
        self,
        count: int = 1,
        *,
        match: Callable[[PyPIDownload], bool] | None = None,
        timeout: float = 5.0,
    ) -> list[PyPIDownload]:
        """Block until ``count`` files (satisfying ``match``, if given) have been served.

        Args:
            count: how many to wait for (1 by default).
            match: a predicate on :class:`PyPIDownload`.
            timeout: seconds to wait (5.0 by default).

        Returns:
            The first ``count`` such downloads, oldest first.

        Raises:
            WaitTimeout: after ``timeout`` seconds; the message lists what did arrive.
        """
        __tracebackhide__ = True
        return self._downloads.wait_for(count, match=match, timeout=timeout)

    async def wait_for_downloads_async(
        self,
        count: int = 1,
        *,
        match: Callable[[PyPIDownload], bool] | None = None,
        timeout: float = 5.0,
    ) -> list[PyPIDownload]:
        """The awaitable twin of :meth:`wait_for_downloads`, for async tests."""
        __tracebackhide__ = True
        return await self._downloads.wait_for_async(count, match=match, timeout=timeout)

    def clear(self) -> None:
        """Forget the requests, uploads and downloads recorded so far (the files stay)."""
        super().clear()
        self._uploads.clear()
        self._downloads.clear()

    # -- what the test sets up ---------------------------------------------------------------

    def preload(self, *paths: str | os.PathLike[str]) -> list[PyPIFile]:
        """Serve distribution files as if they had been uploaded.

        Args:
            paths: wheels (``.whl``) and sdists (``.tar.gz``, ``.zip``), or directories whose
                distributions (not recursively) are all preloaded. Name and version come from
                the file name, the rest from the metadata inside the file.

        Returns:
            The files now served, in the order given.

        Raises:
            ConfigurationError: a path that does not exist, a file name that is not a
                distribution's, or a distribution whose metadata cannot be read.
        """
        added = []
        for given in paths:
            path = Path(given)
            if path.is_dir():
                found = sorted(p for p in path.iterdir() if p.name.endswith(_DIST_SUFFIXES))
            elif path.is_file():
                found = [path]
            else:
                raise ConfigurationError(f"preload() takes files or directories; {path} is neither")
            for file_path in found:
                content = file_path.read_bytes()
                try:
                    file = self._describe(file_path.name, content, uploader=None)
                except InvalidDistribution as error:
                    raise ConfigurationError(f"cannot preload {file_path}: {error}") from None
                with self._lock:
                    self._files[file.filename] = file
                    self._store(file.filename, content, file_path)
                added.append(file)
        return added

    def yank(self, project: str, version: str, *, reason: str = "") -> list[PyPIFile]:
        """Yank a release (PEP 592): its files stay served, marked yanked.

        Args:
            project: the project name, in any spelling that normalises to it (PEP 503).
            version: the release's version (compared as versions: ``"1.0"`` is ``"1.0.0"``).
            reason: why, shown by pip when it installs a yanked file (``""``: no reason).

        Returns:
            The files now yanked.

        Raises:
            ConfigurationError: no file of that project and version is served.
        """
        return self._set_yanked(project, version, yanked=True, reason=reason)

    def unyank(self, project: str, version: str) -> list[PyPIFile]:
        """Undo :meth:`yank`. Raises ConfigurationError as it does."""
        return self._set_yanked(project, version, yanked=False, reason="")

    def _set_yanked(
        self, project: str, version: str, *, yanked: bool, reason: str
    ) -> list[PyPIFile]:
        name = normalize(project)
        changed = []
        with self._lock:
            for filename, file in list(self._files.items()):
                if normalize(file.project) == name and _same_version(file.version, version):
                    self._files[filename] = replace(file, yanked=yanked, yanked_reason=reason)
                    changed.append(self._files[filename])
        if not changed:
            raise ConfigurationError(
                f"no release {version} of {project!r} is served; serve it first with "
                "preload(path) or an upload"
            )
        return changed

    def content(self, filename: str) -> bytes:
        """The bytes of a served file.

        Raises:
            KeyError: no file of that name is served.
        """
        with self._lock:
            if filename not in self._files:
                raise KeyError(filename)
            held = self._contents.get(filename)
        if held is not None:
            return held
        assert self.directory is not None
        return (self.directory / filename).read_bytes()

    # -- internals ---------------------------------------------------------------------------

    def _describe(self, filename: str, content: bytes, *, uploader: str | None) -> PyPIFile:
        parsed = parse_dist_filename(filename)
        metadata = read_metadata(filename, content)
        fields = dict(metadata.fields) if metadata is not None else {}
        return _make_file(
            filename,
            content,
            parsed,
            project=fields.get("name") or parsed.project,
            metadata=metadata,
            uploader=uploader,
        )

    def _store(self, filename: str, content: bytes, source: Path | None) -> None:
        """With the lock held: keep ``content`` in memory, or in the directory."""
        if self.directory is None:
            self._contents[filename] = content
            return
        target = self.directory / filename
        if source is None or source.resolve() != target.resolve():
            target.write_bytes(content)

    def _handle(self, request: Request) -> Response:
        path = request.path
        if path in ("/legacy/", "/legacy"):
            if request.method != "POST":
                return _error(405, "Method Not Allowed", headers={"Allow": "POST"})
            return self._upload(request)
        if request.method not in ("GET", "HEAD"):
            return _error(405, "Method Not Allowed", headers={"Allow": "GET, HEAD"})
        if path == "/simple/":
            return self._simple_root(request)
        if path == "/simple":
            return _redirect(request, "/simple/")
        if path.startswith("/simple/"):
            return self._simple_project(request, path.removeprefix("/simple/"))
        if path.startswith("/packages/"):
            return self._package(request, path.removeprefix("/packages/"))
        if path.startswith("/pypi/"):
            return self._json_api(request, path.removeprefix("/pypi/"))
        if path == "/":
            return Response(
                200,
                f"understudy fake PyPI\nindex: {self.index_url}\nupload: {self.upload_url}\n",
            )
        return _error(404, "Not Found")

    # -- the simple index --------------------------------------------------------------------

    def _choose(self, request: Request) -> str | None:
        wanted = request.query.get("format")
        if wanted is not None:
            return _index.FORMATS.get(wanted)
        return _index.negotiate(request.headers.get("accept"))

    def _projects(self) -> dict[str, list[PyPIFile]]:
        projects: dict[str, list[PyPIFile]] = {}
        for file in self.files:
            projects.setdefault(normalize(file.project), []).append(file)
        return projects

    def _simple_root(self, request: Request) -> Response:
        chosen = self._choose(request)
        if chosen is None:
            return _not_acceptable()
        names = [(name, files[0].project) for name, files in sorted(self._projects().items())]
        if chosen == _index.JSON_TYPE:
            return _simple(chosen, _index.projects_json(names))
        return _simple(chosen, _index.projects_html(names))

    def _simple_project(self, request: Request, rest: str) -> Response:
        name, slash, extra = rest.partition("/")
        if extra or not name:
            return _error(404, "Not Found")
        canonical = normalize(name)
        if name != canonical or not slash:
            return _redirect(request, f"/simple/{canonical}/")
        files = self._projects().get(canonical)
        if files is None:
            return _error(404, "Not Found")
        chosen = self._choose(request)
        if chosen is None:
            return _not_acceptable()
        base = "../../packages/"
        if chosen == _index.JSON_TYPE:
            versions = sorted({f.version for f in files}, key=_version_key)
            return _simple(chosen, _index.project_json(canonical, files, versions, base=base))
        return _simple(chosen, _index.project_html(files[0].project, files, base=base))

    def _package(self, request: Request, filename: str) -> Response:
        metadata_only = filename.endswith(".metadata")
        name = filename.removesuffix(".metadata") if metadata_only else filename
        with self._lock:
            file = self._files.get(name)
        if file is None or (metadata_only and file.metadata is None) or "/" in name:
            return _error(404, "Not Found")
        if metadata_only:
            assert file.metadata is not None
            return Response(200, file.metadata, content_type="application/octet-stream")
        content = self.content(name)
        if request.method == "GET":
            self._downloads.append(
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
            content,
            headers={"ETag": f'"{file.digests["sha256"]}"'},
            content_type="application/octet-stream",
        )

    # -- the JSON API ------------------------------------------------------------------------

    def _json_api(self, request: Request, rest: str) -> Response:
        parts = rest.split("/")
        if len(parts) == 2 and parts[1] == "json":
            name, version = parts[0], None
        elif len(parts) == 3 and parts[2] == "json":
            name, version = parts[0], parts[1]
        else:
            return _error(404, "Not Found")
        files = self._projects().get(normalize(name))
        if not files:
            return Response(404, json={"message": "Not Found"})
        shown = files[0].project
        if name != shown:
            suffix = f"{version}/json" if version is not None else "json"
            return _redirect(request, f"/pypi/{shown}/{suffix}")
        releases: dict[str, list[PyPIFile]] = {}
        for file in files:
            releases.setdefault(file.version, []).append(file)
        if version is None:
            chosen = _latest(releases)
        else:
            found = next((v for v in releases if _same_version(v, version)), None)
            if found is None:
                return Response(404, json={"message": "Not Found"})
            chosen = found
        origin = f"{request.scheme}://{request.headers.get('host', self._url_host())}"
        body: dict[str, Any] = {
            "info": _info(shown, chosen, releases[chosen], origin),
            "last_serial": len(files),
            "urls": [_json_file(f, origin) for f in releases[chosen]],
            "vulnerabilities": [],
        }
        if version is None:
            body["releases"] = {
                v: [_json_file(f, origin) for f in fs]
                for v, fs in sorted(releases.items(), key=lambda item: _version_key(item[0]))
            }
        return Response(200, json=body)

    # -- the upload API ----------------------------------------------------------------------

    def _upload(self, request: Request) -> Response:
        try:
            upload = self._accept_upload(request)
        except UploadRefused as refused:
            return _error(refused.status, refused.message)
        if upload is not None:
            self._uploads.append(upload)
        return Response(200)

    def _accept_upload(self, request: Request) -> PyPIUpload | None:
        uploader = authenticate(
            request.headers.get("authorization"),
            users=self.users,
            tokens=self.tokens,
            anonymous=self.anonymous,
        )
        form = parse_form(request.headers.get("content-type", ""), request.body)
        fields = Query(form.fields)
        action = fields.get(":action")
        if action == "submit":
            raise UploadRefused(
                410,
                "Project pre-registration is no longer required or supported, upload your "
                "files instead.",
            )
        if action != "file_upload":
            raise UploadRefused(400, f"Invalid value for :action: {action!r}; use file_upload.")
        if fields.get("protocol_version", "1") != "1":
            raise UploadRefused(400, "Unknown protocol version.")
        for required in ("name", "version", "filetype", "metadata_version"):
            if not fields.get(required):
                raise UploadRefused(
                    400,
                    f"'' is an invalid value for {required}. Error: This field is required. See "
                    "https://packaging.python.org/specifications/core-metadata for more "
                    "information.",
                )
        if "content" not in form.files:
            raise UploadRefused(400, "Upload payload does not have a file.")
        filename, content = form.files["content"]
        project, version = fields["name"], fields["version"]
        try:
            Version(version)
        except InvalidVersion:
            raise UploadRefused(
                400,
                f"{version!r} is an invalid value for Version. Error: Must start and end with "
                "a letter or numeral and contain only ascii numeric and '.', '_' and '-'. See "
                "https://packaging.python.org/specifications/core-metadata for more information.",
            ) from None
        try:
            parsed = parse_dist_filename(filename)
        except InvalidDistribution as error:
            raise UploadRefused(400, str(error)) from None
        if parsed.project != normalize(project):
            prefix = normalize(project).replace("-", "_")
            raise UploadRefused(400, f"Start filename for {project!r} with {prefix!r}.")
        if not _same_version(parsed.version, version):
            raise UploadRefused(
                400, f"Version in filename should be {version!r} not {parsed.version!r}."
            )
        if fields["filetype"] != parsed.packagetype:
            raise UploadRefused(400, "Invalid distribution file.")
        digests = digests_of(content)
        sent = {name: fields.get(name, "") for name in _DIGEST_FIELDS}
        if not any(sent.values()):
            raise UploadRefused(400, "Include at least one message digest.")
        for name, value in sent.items():
            if value and value.lower() != digests[_DIGEST_FIELDS[name]]:
                raise UploadRefused(400, _DIGEST_MISMATCH)
        try:
            metadata = read_metadata(filename, content)
        except InvalidDistribution:
            raise UploadRefused(400, "Invalid distribution file.") from None
        file = _make_file(
            filename,
            content,
            parsed,
            project=project,
            metadata=metadata,
            uploader=uploader,
            fallback=fields,
        )
        with self._lock:
            existing = self._files.get(filename)
            if existing is not None:
                if existing.digests["blake2b_256"] == digests["blake2b_256"]:
                    return None  # PyPI answers a re-upload of the same bytes 200 and keeps one
                raise UploadRefused(
                    400,
                    f"File already exists ({filename!r}, with blake2_256 hash "
                    f"{existing.digests['blake2b_256']!r}). See "
                    "https://pypi.org/help/#file-name-reuse for more information.",
                )
            self._files[filename] = file
            self._store(filename, content, None)
        return PyPIUpload(
            filename=filename,
            project=project,
            version=version,
            filetype=fields["filetype"],
            pyversion=fields.get("pyversion", ""),
            sha256=digests["sha256"],
            size=len(content),
            uploader=uploader,
            form=fields,
            metadata=dict(file.fields),
            request=request,
        )


# -- helpers -------------------------------------------------------------------------------


def _make_file(
    filename: str,
    content: bytes,
    parsed: DistName,
    *,
    project: str,
    metadata: CoreMetadata | None,
    uploader: str | None,
    fallback: Query | None = None,
) -> PyPIFile:
    packagetype = parsed.packagetype
    fields: dict[str, Any] = dict(metadata.fields) if metadata is not None else {}
    if not fields and fallback is not None:
        fields = _fields_from_form(fallback)
    served_metadata = (
        metadata.raw if metadata is not None and packagetype == "bdist_wheel" else None
    )
    return PyPIFile(
        filename=filename,
        project=str(fields.get("name") or project),
        version=parsed.version,
        packagetype=packagetype,
        python_version=parsed.python_version,
        size=len(content),
        digests=digests_of(content),
        requires_python=fields.get("requires_python") or None,
        metadata=served_metadata,
        metadata_digests=digests_of(served_metadata) if served_metadata is not None else {},
        upload_time=time.time(),
        uploader=uploader,
        fields=fields,
    )


#: Upload form fields that repeat, and their packaging.metadata names.
_LIST_FIELDS = {
    "classifiers": "classifiers",
    "requires_dist": "requires_dist",
    "provides_extra": "provides_extra",
    "platform": "platforms",
    "dynamic": "dynamic",
}
_TEXT_FIELDS = (
    "name", "version", "summary", "description", "description_content_type", "keywords",
    "home_page", "download_url", "author", "author_email", "maintainer", "maintainer_email",
    "license", "requires_python",
)  # fmt: skip


def _fields_from_form(form: Query) -> dict[str, Any]:
    """Core metadata fields from the upload form, for an sdist without PKG-INFO."""
    fields: dict[str, Any] = {}
    for name in _TEXT_FIELDS:
        if form.get(name):
            fields[name] = form[name]
    for name, key in _LIST_FIELDS.items():
        values = [v for v in form.get_all(name) if v]
        if values:
            fields[key] = values
    urls = {}
    for entry in form.get_all("project_urls"):
        label, _, url = entry.partition(",")
        if url.strip():
            urls[label.strip()] = url.strip()
    if urls:
        fields["project_urls"] = urls
    return fields


def _version_key(version: str) -> tuple[int, Version | str]:
    try:
        return (1, Version(version))
    except InvalidVersion:
        return (0, version)


def _same_version(a: str, b: str) -> bool:
    try:
        return Version(a) == Version(b)
    except InvalidVersion:
        return a == b


def _file_order(file: PyPIFile) -> tuple[str, tuple[int, Version | str], str]:
    return (normalize(file.project), _version_key(file.version), file.filename)


def _latest(releases: Mapping[str, Iterable[PyPIFile]]) -> str:
    """The release the JSON API describes: the latest stable one not yanked, as PyPI picks."""

    def usable(version: str, stable: bool) -> bool:
        key = _version_key(version)[1]
        if stable and (not isinstance(key, Version) or key.is_prerelease):
            return False
        return not all(f.yanked for f in releases[version])

    for stable in (True, False):
        candidates = [v for v in releases if usable(v, stable)]
        if candidates:
            return max(candidates, key=_version_key)
    return max(releases, key=_version_key)


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


def _simple(media_type: str, body: bytes) -> Response:
    if media_type == _index.TEXT_HTML:
        media_type = "text/html; charset=utf-8"
    return Response(200, body, content_type=media_type, headers={"Vary": "Accept"})


def _not_acceptable() -> Response:
    offered = ", ".join(_index.OFFERS)
    return Response(
        406,
        f"Not Acceptable: this index answers {offered}\n",
        headers={"Vary": "Accept"},
    )


def _error(status: int, message: str, *, headers: Mapping[str, str] | None = None) -> Response:
    """An error as warehouse sends it: the message is also the reason phrase (twine shows it)."""
    return Response(status, f"{status} {message}\n", headers=headers, reason=message)


def _redirect(request: Request, path: str) -> Response:
    query = request.query_string
    location = path + (f"?{query}" if query else "")
    return Response(301, "", headers={"Location": location})
