"""PyPIServer: a fake PyPI that twine uploads to and pip installs from.

This module holds the server: its options, the files it serves (in memory or in a directory),
the journals and the routing. The routes are in ``_accept`` (the legacy upload API), ``_simple``
(the simple index and the files) and ``_json_api``.

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
import weakref
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import ClassVar
from urllib.parse import urlsplit

from ..._conditions import Conditions
from ..._errors import ConfigurationError
from ..._http._limits import (
    DEFAULT_HEADER_TIMEOUT,
    DEFAULT_IDLE_TIMEOUT,
    DEFAULT_MAX_HEADER_SIZE,
    DEFAULT_SEND_TIMEOUT,
)
from ..._http._request import Request
from ..._http._response import Response
from ..._http._server import HTTPServer
from ..._tls import TLS
from ._accept import preloaded_file, upload
from ._dists import (
    InvalidDistribution,
)
from ._json_api import json_api
from ._records import PyPIDownload, PyPIFile, PyPIUpload
from ._responses import error, redirect
from ._simple import package, simple_project, simple_root
from ._store import Store

__all__ = ["PyPIServer"]

_DEFAULT_MAX_BODY_SIZE = 256 * 1024 * 1024
_DIST_SUFFIXES = (".whl", ".tar.gz", ".zip")


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

    ``tls``, ``conditions``, ``seed``, ``max_header_size``, ``header_timeout``,
    ``idle_timeout``, ``send_timeout``, ``unmatched_status`` and ``allow_unmatched`` are as for
    :class:`~understudy.HTTPServer` (``tls``: serve HTTPS; give pip ``--cert`` and twine
    ``--cert`` the test CA's ``understudy.tls.ca_bundle()``). The other HTTPServer options
    (``response=``, ``handler=`` ...) are the fake's own business and not taken.

    Raises:
        ConfigurationError: an option PyPIServer does not take (naming the closest one);
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
        tls: bool | TLS | None = None,
        conditions: Conditions | None = None,
        seed: int | None = None,
        max_header_size: int = DEFAULT_MAX_HEADER_SIZE,
        header_timeout: float | None = DEFAULT_HEADER_TIMEOUT,
        idle_timeout: float | None = DEFAULT_IDLE_TIMEOUT,
        send_timeout: float | None = DEFAULT_SEND_TIMEOUT,
        unmatched_status: int = 404,
        allow_unmatched: bool = False,
    ) -> None:
        store = Store(
            users=users,
            tokens=tokens,
            anonymous=anonymous,
            directory=None,
            journal_size=journal_size,
        )
        super().__init__(
            host=host,
            port=port,
            handler=_Handler(self, store),
            journal_size=journal_size,
            max_body_size=max_body_size,
            tls=tls,
            conditions=conditions,
            seed=seed,
            max_header_size=max_header_size,
            header_timeout=header_timeout,
            idle_timeout=idle_timeout,
            send_timeout=send_timeout,
            unmatched_status=unmatched_status,
            allow_unmatched=allow_unmatched,
        )
        self._store = store
        store.uploads.belongs_to(self)
        store.downloads.belongs_to(self)
        if directory is not None:
            path = Path(directory)
            if not path.is_dir():
                raise ConfigurationError(
                    f"directory must be an existing directory, not {str(directory)!r}; create "
                    "it first (tmp_path works) or leave it out to keep files in memory"
                )
            self._store.directory = path
            self.preload(path)

    @property
    def users(self) -> dict[str, str] | None:
        """The ``users=`` accepted for uploads, ``{"name": "password"}`` (a copy), or ``None``."""
        return self._store.users

    @property
    def tokens(self) -> list[str] | None:
        """The ``tokens=`` accepted as the password of ``__token__`` (a copy), or ``None``."""
        return self._store.tokens

    @property
    def anonymous(self) -> bool:
        """Whether an upload that sends no credentials is accepted (``anonymous=``)."""
        return self._store.anonymous

    @property
    def directory(self) -> Path | None:
        """The directory the files are kept in (``directory=``), or ``None``: in memory."""
        return self._store.directory

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
        return self._store.files()

    @property
    def uploads(self) -> list[PyPIUpload]:
        """The uploads accepted so far (a snapshot list, oldest first)."""
        return self._store.uploads.snapshot()

    @property
    def downloads(self) -> list[PyPIDownload]:
        """The distribution files served so far (a snapshot list, oldest first)."""
        return self._store.downloads.snapshot()

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
        return self._store.uploads.wait_for(count, match=match, timeout=timeout)

    async def wait_for_uploads_async(
        self,
        count: int = 1,
        *,
        match: Callable[[PyPIUpload], bool] | None = None,
        timeout: float = 5.0,
    ) -> list[PyPIUpload]:
        """The awaitable twin of :meth:`wait_for_uploads`, for async tests."""
        __tracebackhide__ = True
        return await self._store.uploads.wait_for_async(count, match=match, timeout=timeout)

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
        return self._store.downloads.wait_for(count, match=match, timeout=timeout)

    async def wait_for_downloads_async(
        self,
        count: int = 1,
        *,
        match: Callable[[PyPIDownload], bool] | None = None,
        timeout: float = 5.0,
    ) -> list[PyPIDownload]:
        """The awaitable twin of :meth:`wait_for_downloads`, for async tests."""
        __tracebackhide__ = True
        return await self._store.downloads.wait_for_async(count, match=match, timeout=timeout)

    def clear(self) -> None:
        """Forget the requests, uploads and downloads recorded so far (the files stay)."""
        super().clear()
        self._store.uploads.clear()
        self._store.downloads.clear()

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
                    file = preloaded_file(file_path.name, content)
                except InvalidDistribution as error:
                    raise ConfigurationError(f"cannot preload {file_path}: {error}") from None
                self._store.put(file, content, file_path)
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
        return self._store.set_yanked(project, version, yanked=True, reason=reason)

    def unyank(self, project: str, version: str) -> list[PyPIFile]:
        """Undo :meth:`yank`. Raises ConfigurationError as it does."""
        return self._store.set_yanked(project, version, yanked=False, reason="")

    def content(self, filename: str) -> bytes:
        """The bytes of a served file.

        Raises:
            KeyError: no file of that name is served.
        """
        return self._store.content(filename)


class _Handler:
    """A PyPIServer's handler: routes each request to the pages of its :class:`Store`.

    It keeps the store, and the server only through a weak reference (for its URL): a bound
    method of the server would make a reference cycle through it, and a server the test drops,
    with the files it keeps in memory, would wait for the cyclic GC instead of being freed at
    once.
    """

    __slots__ = ("__qualname__", "_server", "_store")

    #: What the journal says answered (see HandlerHost).
    answered_by = ("pypi", "")

    def __init__(self, server: PyPIServer, store: Store) -> None:
        self._server = weakref.ref(server)
        self._store = store
        self.__qualname__ = "PyPIServer._handle"  # (what messages name: see describe_handler)

    def _served(self) -> PyPIServer:
        server = self._server()
        assert server is not None  # (it is serving this request)
        return server

    def __call__(self, request: Request) -> Response:
        store, path = self._store, request.path
        if path in ("/legacy/", "/legacy"):
            if request.method != "POST":
                return error(405, "Method Not Allowed", headers={"Allow": "POST"})
            return upload(store, request)
        if request.method not in ("GET", "HEAD"):
            return error(405, "Method Not Allowed", headers={"Allow": "GET, HEAD"})
        if path == "/simple/":
            return simple_root(store, request)
        if path == "/simple":
            return redirect(request, "/simple/")
        if path.startswith("/simple/"):
            return simple_project(store, request, path.removeprefix("/simple/"))
        if path.startswith("/packages/"):
            return package(store, request, path.removeprefix("/packages/"))
        if path.startswith("/pypi/"):
            host = request.headers.get("host")
            if host is None:
                host = urlsplit(self._served().url).netloc  # (host:port, as a Host field)
            return json_api(store, request, path.removeprefix("/pypi/"), host=host)
        if path == "/":
            server = self._served()
            return Response(
                200,
                body=f"understudy fake PyPI\nindex: {server.index_url}\n"
                f"upload: {server.upload_url}\n",
            )
        return error(404, "Not Found")
