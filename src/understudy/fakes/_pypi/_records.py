"""What the fake PyPI keeps and records: its files, the uploads it accepted, the downloads."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..._http._fields import Query
from ..._http._request import Request

__all__ = ["PyPIDownload", "PyPIFile", "PyPIUpload"]


@dataclass(frozen=True)
class PyPIFile:
    """A distribution file the index serves.

    Attributes:
        filename: the file's name (``my_pkg_name-1.0-py3-none-any.whl``).
        project: the project name as its metadata spells it (``My_Pkg.Name``); an upload whose
            metadata names another project is filed under the form's ``name``, as PyPI files it.
        version: the version as the file name writes it.
        packagetype: ``"bdist_wheel"`` or ``"sdist"``.
        python_version: the wheel's Python tag (``"py3"``) or ``"source"``.
        size: bytes.
        digests: hex digests: ``md5``, ``sha256``, ``blake2b_256``.
        requires_python: the ``Requires-Python`` specifier, or ``None``.
        metadata: the core metadata file (PEP 658: served as ``<file>.metadata`` for wheels),
            or ``None`` for an sdist.
        metadata_digests: the hex digests of ``metadata``, as ``digests`` (``md5``,
            ``sha256``, ``blake2b_256``; the index links give the ``sha256``), or ``{}``.
        upload_time: when it was uploaded or preloaded, ``time.time()`` float seconds.
        uploader: the user name that uploaded it (``"__token__"`` for a token), ``None`` when
            preloaded or uploaded anonymously.
        yanked: whether the file is yanked (PEP 592).
        yanked_reason: why (``""`` if no reason was given).
        fields: the core metadata fields as :func:`packaging.metadata.parse_email` reads them.

    .. versionadded:: 0.1
    """

    filename: str
    project: str
    version: str
    packagetype: str
    python_version: str
    size: int
    digests: Mapping[str, str]
    requires_python: str | None
    metadata: bytes | None = field(default=None, repr=False)
    metadata_digests: Mapping[str, str] = field(default_factory=dict, repr=False)
    upload_time: float = 0.0
    uploader: str | None = None
    yanked: bool = False
    yanked_reason: str = ""
    fields: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @property
    def sha256(self) -> str:
        """The SHA-256 hex digest of the content."""
        return self.digests["sha256"]


@dataclass(frozen=True)
class PyPIUpload:
    """One upload the fake PyPI accepted (the legacy ``file_upload`` action).

    Attributes:
        filename: the uploaded file's name.
        project: the ``name`` field as sent (twine sends ``My-Pkg.Name`` for a distribution
            whose metadata says ``My_Pkg.Name``).
        version: the ``version`` field.
        filetype: ``"bdist_wheel"`` or ``"sdist"``.
        pyversion: the ``pyversion`` field (``"py3"``, ``"source"``).
        sha256: the hex SHA-256 digest computed from the content.
        size: bytes of content.
        uploader: the authenticated user name (``"__token__"`` for an API token), ``None`` for
            an anonymous upload.
        form: every form field sent except the file (multi-valued: ``form.get_all(
            "classifiers")``).
        metadata: the core metadata read from the file (``packaging.metadata`` field names:
            ``requires_dist``, ``classifiers``...), or from the form when the file has none.
        request: the HTTP request that carried it.

    .. versionadded:: 0.1
    """

    filename: str
    project: str
    version: str
    filetype: str
    pyversion: str
    sha256: str
    size: int
    uploader: str | None
    form: Query = field(repr=False)
    metadata: Mapping[str, Any] = field(repr=False)
    request: Request = field(repr=False)


@dataclass(frozen=True)
class PyPIDownload:
    """One distribution file served (a GET of ``/packages/<filename>``).

    ``.metadata`` files (PEP 658) are not counted: they are in :attr:`PyPIServer.requests`.

    Attributes:
        filename: the file's name.
        project: the project name as its metadata spells it.
        version: the file's version.
        user_agent: the client's User-Agent field (``""`` if none): pip sends its version and
            environment as JSON there.
        request: the HTTP request.

    .. versionadded:: 0.1
    """

    filename: str
    project: str
    version: str
    user_agent: str
    request: Request = field(repr=False)
