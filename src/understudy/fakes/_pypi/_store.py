"""What a fake PyPI keeps, and what its routes may use: the store.

The routes (``_accept``, ``_simple``, ``_json_api``) take a :class:`Store` in place of the
server: the files served (in memory or in a directory), the credentials uploads are checked
against, and the journals of uploads and downloads. A store holds no reference to its server,
so the server's handler can keep it without making a reference cycle (a stopped server the test
drops is freed at once, files and all).
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Mapping
from dataclasses import replace
from pathlib import Path

from packaging.version import Version

from ..._errors import ConfigurationError
from ..._journal import Journal
from ._dists import normalize, same_version, version_key
from ._records import PyPIDownload, PyPIFile, PyPIUpload
from ._upload import check_credentials

__all__ = ["Store"]


class Store:
    """The files a fake PyPI serves, who may upload, and what was uploaded and downloaded.

    Thread-safe: the test's thread preloads and yanks while the loop serves.

    Attributes:
        users: ``{"name": "password"}`` accepted for uploads.
        tokens: API tokens accepted as the password of ``__token__``.
        anonymous: whether an upload without credentials is accepted.
        directory: where files are kept, or ``None`` (in memory).
        uploads: the journal of accepted uploads.
        downloads: the journal of distribution files served.
    """

    __slots__ = (
        "_contents",
        "_files",
        "_lock",
        "anonymous",
        "directory",
        "downloads",
        "tokens",
        "uploads",
        "users",
    )

    def __init__(
        self,
        *,
        users: Mapping[str, str] | None,
        tokens: Collection[str] | None,
        anonymous: bool,
        directory: Path | None,
        journal_size: int | None,
    ) -> None:
        self.users, self.tokens = check_credentials(users, tokens)
        self.anonymous = bool(anonymous)
        self.directory = directory
        self.uploads: Journal[PyPIUpload] = Journal("upload", journal_size)
        self.downloads: Journal[PyPIDownload] = Journal("download", journal_size)
        self._lock = threading.Lock()
        self._files: dict[str, PyPIFile] = {}
        self._contents: dict[str, bytes] = {}

    def files(self) -> list[PyPIFile]:
        """The files served, sorted by project, version and name."""
        with self._lock:
            files = list(self._files.values())
        return sorted(files, key=_file_order)

    def projects(self) -> dict[str, list[PyPIFile]]:
        """The files served by normalised project name (PEP 503), each list in file order."""
        projects: dict[str, list[PyPIFile]] = {}
        for file in self.files():
            projects.setdefault(normalize(file.project), []).append(file)
        return projects

    def get(self, filename: str) -> PyPIFile | None:
        """The file served under ``filename``, or ``None``."""
        with self._lock:
            return self._files.get(filename)

    def put(self, file: PyPIFile, content: bytes, source: Path | None) -> None:
        """Serve ``file`` with ``content`` (replacing one of the same name): read from
        ``source`` if that is already where the store keeps it."""
        with self._lock:
            self._files[file.filename] = file
            self._keep(file.filename, content, source)

    def add(self, file: PyPIFile, content: bytes) -> tuple[PyPIFile, str] | None:
        """Serve ``file``, unless PyPI would not (warehouse's ``forklift/legacy.py``): then
        the file in its way, and why: ``"name"`` (one of its name is served: the same bytes
        are a re-upload PyPI answers 200), ``"bytes"`` (its bytes are served under another
        name) or ``"sdist"`` (its release has an sdist: one per release)."""
        blake2 = file.digests["blake2b_256"]
        with self._lock:
            existing = self._files.get(file.filename)
            if existing is not None:
                return existing, "name"
            for other in self._files.values():
                if other.digests["blake2b_256"] == blake2:
                    return other, "bytes"
                if file.packagetype == other.packagetype == "sdist" and _same_release(file, other):
                    return other, "sdist"
            self._files[file.filename] = file
            self._keep(file.filename, content, None)
        return None

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

    def set_yanked(
        self, project: str, version: str, *, yanked: bool, reason: str
    ) -> list[PyPIFile]:
        """Mark a release's files yanked (PEP 592) or not; return them.

        Raises:
            ConfigurationError: no file of that project and version is served.
        """
        name = normalize(project)
        changed = []
        with self._lock:
            for filename, file in list(self._files.items()):
                if normalize(file.project) == name and same_version(file.version, version):
                    self._files[filename] = replace(file, yanked=yanked, yanked_reason=reason)
                    changed.append(self._files[filename])
        if not changed:
            raise ConfigurationError(
                f"no release {version} of {project!r} is served; serve it first with "
                "preload(path) or an upload"
            )
        return changed

    def _keep(self, filename: str, content: bytes, source: Path | None) -> None:
        """With the lock held: keep ``content`` in memory, or in the directory."""
        if self.directory is None:
            self._contents[filename] = content
            return
        target = self.directory / filename
        if source is None or source.resolve() != target.resolve():
            target.write_bytes(content)


def _file_order(file: PyPIFile) -> tuple[str, tuple[int, Version | str], str]:
    return (normalize(file.project), version_key(file.version), file.filename)


def _same_release(one: PyPIFile, other: PyPIFile) -> bool:
    """Whether two files are of one release: one project (normalized), one version (PEP 440)."""
    return normalize(one.project) == normalize(other.project) and same_version(
        one.version, other.version
    )
