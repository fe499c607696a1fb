"""Accepting an upload: the checks warehouse makes of the form, and the file it becomes.

``POST /legacy/`` is answered by :func:`upload`: the credentials and the form (parsed by
``_upload``) are checked as warehouse ``forklift/legacy.py`` checks them, with its messages, and
the distribution becomes a :class:`PyPIFile` (:func:`make_file`) with its metadata and digests.
A preloaded distribution becomes one the same way (:func:`preloaded_file`), as if uploaded.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from packaging.version import Version

from ..._http._fields import Query
from ..._http._request import Request
from ..._http._response import Response
from ._dists import (
    CoreMetadata,
    DistName,
    InvalidDistribution,
    digests_of,
    normalize,
    parse_dist_filename,
    read_metadata,
    same_version,
    valid_name,
)
from ._records import PyPIFile, PyPIUpload
from ._responses import error
from ._upload import UploadRefused, authenticate, parse_form

if TYPE_CHECKING:
    from ._store import Store

__all__ = ["make_file", "preloaded_file", "upload"]

_DIGEST_FIELDS = {
    "md5_digest": "md5",
    "sha256_digest": "sha256",
    "blake2_256_digest": "blake2b_256",
}
_DIGEST_MISMATCH = "The digest supplied does not match a digest calculated from the uploaded file."


def upload(store: Store, request: Request) -> Response:
    """``POST /legacy/``: accept the upload (200), or refuse it with PyPI's status and message."""
    try:
        accepted = _accept_upload(store, request)
    except UploadRefused as refused:
        return error(refused.status, refused.message)
    if accepted is not None:
        store.uploads.append(accepted)
    return Response(200)


def _accept_upload(store: Store, request: Request) -> PyPIUpload | None:
    """The upload ``request`` makes, once accepted and added to ``store``; ``None`` for a
    re-upload of the same bytes (PyPI answers it 200 and keeps one).

    Raises:
        UploadRefused: with PyPI's status and message, for the first check that fails.
    """
    uploader = authenticate(
        request.headers.get("authorization"),
        users=store.users,
        tokens=store.tokens,
        anonymous=store.anonymous,
    )
    form = parse_form(request.headers.get("content-type", ""), request.body)
    fields = Query(form.fields)
    _check_fields(fields)
    if "content" not in form.files:
        raise UploadRefused(400, "Upload payload does not have a file.")
    filename, content = form.files["content"]
    project, version = fields["name"], fields["version"]
    try:
        parsed = parse_dist_filename(filename)
    except InvalidDistribution as error:
        raise UploadRefused(400, str(error)) from None
    _check_filename(filename, parsed, project, _form_version(version))
    if fields["filetype"] != parsed.packagetype:
        raise UploadRefused(400, "Invalid distribution file.")
    digests = _checked_digests(fields, content)
    try:
        metadata = read_metadata(filename, content)
    except InvalidDistribution:
        raise UploadRefused(400, "Invalid distribution file.") from None
    spelling = _spelling(str(fields.get("name") or ""), project)
    file = make_file(
        filename,
        content,
        parsed,
        project=spelling,
        metadata=metadata,
        uploader=uploader,
        fallback=fields,
    )
    in_the_way = store.add(file, content)
    if in_the_way is not None:
        _check_reupload(*in_the_way, digests, filename)
        return None  # PyPI answers a re-upload of the same bytes 200 and keeps one
    return PyPIUpload(
        filename=filename,
        project=spelling,
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


def _check_reupload(existing: PyPIFile, why: str, digests: dict[str, str], filename: str) -> None:
    """``existing`` is in the way of ``filename`` (``why``, as ``Store.add`` says): only a
    re-upload, the same bytes under the same name, is taken (and ignored).

    Raises:
        UploadRefused: 400, with warehouse's message, for other bytes under the name, the same
            bytes under another name, or a second sdist of the release.
    """
    if why == "sdist":
        raise UploadRefused(400, "Only one sdist may be uploaded per release.")
    if why != "name" or existing.digests["blake2b_256"] != digests["blake2b_256"]:
        raise UploadRefused(
            400,
            f"File already exists ({filename!r}, with blake2_256 hash "
            f"{existing.digests['blake2b_256']!r}). See "
            "https://pypi.org/help/#file-name-reuse for more information.",
        )


def _check_fields(fields: Query) -> None:
    """The form's ``:action``, ``protocol_version``, required fields and ``name`` (a valid
    project name), as warehouse checks them (``forklift/legacy.py``), with its messages.

    Raises:
        UploadRefused: 410 for the retired ``submit`` action, else 400.
    """
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
    if not valid_name(fields["name"]):
        raise UploadRefused(
            400,
            f"{fields['name']!r} is an invalid value for Name. Error: Start and end with a "
            "letter or numeral containing only ASCII numeric and '.', '_' and '-'. See "
            "https://packaging.python.org/specifications/core-metadata for more information.",
        )


def _form_version(version: str) -> Version:
    """The form's ``version``, parsed (PEP 440).

    Raises:
        UploadRefused: 400, with warehouse's message, for one that is not a version or is a
            local version (``1.0+local``: PyPI takes none).
    """
    try:
        parsed = Version(version)
    except ValueError:  # InvalidVersion, or more digits than int() takes
        shown = f"{version[:30]}...{version[-30:]}" if len(version) > 60 else version
        raise UploadRefused(
            400,
            f"{shown!r} is an invalid value for Version. Error: Must start and end with "
            "a letter or numeral and contain only ascii numeric and '.', '_' and '-'. See "
            "https://packaging.python.org/specifications/core-metadata for more information.",
        ) from None
    if parsed.local is not None:
        raise UploadRefused(
            400,
            f"The use of local versions in '{parsed}' is not allowed. See "
            "https://packaging.python.org/specifications/core-metadata for more information.",
        )
    return parsed


def _checked_digests(fields: Query, content: bytes) -> dict[str, str]:
    """The digests of ``content``, once those the form sent (one at least) agree.

    Raises:
        UploadRefused: 400, when the form sends none, or one that differs.
    """
    digests = digests_of(content)
    sent = {name: fields.get(name, "") for name in _DIGEST_FIELDS}
    if not any(sent.values()):
        raise UploadRefused(400, "Include at least one message digest.")
    for name, value in sent.items():
        if value and value.lower() != digests[_DIGEST_FIELDS[name]]:
            raise UploadRefused(400, _DIGEST_MISMATCH)
    return digests


def _check_filename(filename: str, parsed: DistName, project: str, version: Version) -> None:
    """The file name must be the project's, normalised, and carry the form's version.

    As warehouse ``forklift/legacy.py`` checks it: the name in the file name and the form's
    ``name`` must be one project (PEP 503 normalisation: ``Demo_2`` is ``demo-2``); a wheel's
    must then be written normalised (``demo_2``, the binary distribution format spec), with the
    form's version; an sdist's whole name must be ``demo_2-1.0.tar.gz`` (PEP 625). The name and
    version in the METADATA file are not compared: PyPI files an upload under its form's name.

    Raises:
        UploadRefused: 400, with warehouse's message.
    """
    normalized = normalize(project).replace("-", "_")
    if parsed.project != normalize(project):
        raise UploadRefused(400, f"Start filename for {project!r} with {normalized!r}.")
    if parsed.packagetype == "bdist_wheel":
        written = filename.split("-", 1)[0]
        if written != normalized:
            raise UploadRefused(
                400,
                f"Filename {filename!r} should contain the normalized project name "
                f"{normalized!r}, not {written!r}.",
            )
        if not same_version(parsed.version, str(version)):
            raise UploadRefused(
                400, f"Version in filename should be {str(version)!r} not {parsed.version!r}."
            )
    elif filename.endswith(".tar.gz"):
        expected = f"{normalized}-{version}.tar.gz"
        if filename != expected:
            raise UploadRefused(400, f"Filename {filename!r} is invalid, should be {expected!r}.")
    elif not same_version(parsed.version, str(version)):  # (a .zip sdist: PEP 527's older form)
        raise UploadRefused(
            400, f"Version in filename should be {str(version)!r} not {parsed.version!r}."
        )


def preloaded_file(filename: str, content: bytes) -> PyPIFile:
    """The file a preloaded distribution becomes, as if it had been uploaded with no uploader.

    Raises:
        InvalidDistribution: a file name that is not a distribution's, or unreadable metadata.
    """
    parsed = parse_dist_filename(filename)
    metadata = read_metadata(filename, content)
    fields = dict(metadata.fields) if metadata is not None else {}
    return make_file(
        filename,
        content,
        parsed,
        project=fields.get("name") or parsed.project,
        metadata=metadata,
        uploader=None,
    )


def make_file(
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
        project=_spelling(str(fields.get("name") or ""), project),
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


def _spelling(metadata_name: str, project: str) -> str:
    """The metadata's spelling of the project's name, unless it names another project.

    PyPI files an upload under its form's ``name`` whatever the METADATA file says (warehouse
    reads the name and version from the form only).
    """
    if metadata_name and normalize(metadata_name) == normalize(project):
        return metadata_name
    return project


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
