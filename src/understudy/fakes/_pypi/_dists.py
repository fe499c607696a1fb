"""Distribution files: what their names say, the core metadata inside them, their digests.

Names and versions are parsed with :mod:`packaging` (wheel names per the binary distribution
format spec, sdist names per PEP 625); the core metadata (``METADATA`` in a wheel's
``.dist-info``, ``PKG-INFO`` in an sdist) is parsed leniently with
:func:`packaging.metadata.parse_email`, as PyPI itself reads what it is given.
"""

from __future__ import annotations

import hashlib
import io
import lzma
import re
import tarfile
import zipfile
import zlib
from dataclasses import dataclass, field
from typing import Any

from packaging.metadata import parse_email
from packaging.utils import (
    InvalidName,
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import Version

__all__ = [
    "DistName",
    "InvalidDistribution",
    "digests_of",
    "parse_dist_filename",
    "read_metadata",
    "same_version",
    "valid_name",
    "version_key",
]

#: The characters of a distribution's file name; no separator, no leading dot.
_SAFE_NAME = re.compile(r"[A-Za-z0-9_+!][A-Za-z0-9._+!-]*")

#: What reading a damaged archive raises: besides the archive modules' own errors, a corrupt
#: compressed stream (zlib, lzma), a member compressed in a way zipfile does not read or
#: encrypted (NotImplementedError, RuntimeError), an offset out of the file (ValueError).
_DAMAGED = (
    zipfile.BadZipFile,
    tarfile.TarError,
    EOFError,
    OSError,
    ValueError,
    RuntimeError,
    zlib.error,
    lzma.LZMAError,
)

#: The archive suffixes PyPI accepts (PEP 527, PEP 715).
SDIST_SUFFIXES = (".tar.gz", ".zip")


class InvalidDistribution(ValueError):
    """A file that is not a distribution PyPI would accept; the message says why."""


@dataclass(frozen=True)
class DistName:
    """What a distribution's file name says.

    Attributes:
        project: the canonical (PEP 503 normalised) project name.
        version: the version, as written in the name.
        packagetype: ``"bdist_wheel"`` or ``"sdist"`` (PyPI's ``filetype``).
        python_version: the wheel's Python tag (``"py3"``), or ``"source"`` for an sdist.
    """

    project: str
    version: str
    packagetype: str
    python_version: str


def parse_dist_filename(filename: str) -> DistName:
    """Parse a wheel or sdist file name.

    Raises:
        InvalidDistribution: the name is neither a valid wheel name nor ``name-version`` with a
            ``.tar.gz`` or ``.zip`` suffix.
    """
    if not _SAFE_NAME.fullmatch(filename):
        # Also what keeps a file written to the server's directory inside it.
        raise InvalidDistribution(f"Invalid distribution file name {filename!r}.")
    if filename.endswith(".whl"):
        try:
            name, version, _, tags = parse_wheel_filename(filename)
        except (InvalidWheelFilename, ValueError) as error:  # (ValueError: int digit limit)
            raise InvalidDistribution(f"Invalid wheel filename: {error}") from None
        python = sorted({tag.interpreter for tag in tags})
        return DistName(str(name), str(version), "bdist_wheel", ".".join(python))
    if filename.endswith(SDIST_SUFFIXES):
        stem = filename.removesuffix(".tar.gz").removesuffix(".zip")
        try:
            name, version = parse_sdist_filename(stem + ".tar.gz")
        except (InvalidSdistFilename, ValueError) as error:  # (ValueError: int digit limit)
            raise InvalidDistribution(f"Invalid source distribution filename: {error}") from None
        return DistName(str(name), str(version), "sdist", "source")
    raise InvalidDistribution(
        "Invalid file extension: Use .tar.gz, .whl or .zip extension. See "
        "https://www.python.org/dev/peps/pep-0527 and https://peps.python.org/pep-0715/ "
        "for more information"
    )


def digests_of(content: bytes) -> dict[str, str]:
    """The hex digests PyPI keeps: ``md5``, ``sha256`` and ``blake2b_256``."""
    return {
        "md5": hashlib.md5(content, usedforsecurity=False).hexdigest(),
        "sha256": hashlib.sha256(content).hexdigest(),
        "blake2b_256": hashlib.blake2b(content, digest_size=32).hexdigest(),
    }


@dataclass(frozen=True)
class CoreMetadata:
    """A distribution's core metadata: the raw file and its fields.

    Attributes:
        raw: the ``METADATA`` / ``PKG-INFO`` bytes (served as the PEP 658 ``.metadata`` file for
            a wheel).
        fields: the fields as :func:`packaging.metadata.parse_email` reads them (``name``,
            ``version``, ``requires_python``, ``requires_dist``, ``classifiers``...).
    """

    raw: bytes
    fields: dict[str, Any] = field(default_factory=dict)


def read_metadata(filename: str, content: bytes) -> CoreMetadata | None:
    """The core metadata inside a wheel or sdist, or ``None`` for an sdist without PKG-INFO.

    Raises:
        InvalidDistribution: the wheel is not a zip archive or has no ``.dist-info/METADATA``;
            the sdist is not a readable archive; the metadata file cannot be read from it
            (a damaged compressed stream, an encrypted member, a compression zipfile lacks).
    """
    raw: bytes | None
    try:
        if filename.endswith(".whl"):
            raw = _from_wheel(content)
            if raw is None:
                raise InvalidDistribution("Wheel does not contain the file METADATA")
        elif filename.endswith(".zip"):
            raw = _from_zip_sdist(content)
        else:
            raw = _from_tar_sdist(content)
    except _DAMAGED as error:
        raise InvalidDistribution(f"Invalid distribution file. ({error})") from None
    if raw is None:
        return None
    fields, _unparsed = parse_email(raw)
    return CoreMetadata(raw, dict(fields))


def _from_wheel(content: bytes) -> bytes | None:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        for name in archive.namelist():
            top, _, rest = name.partition("/")
            if top.endswith(".dist-info") and rest == "METADATA":
                return archive.read(name)
    return None


def _from_zip_sdist(content: bytes) -> bytes | None:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        for name in archive.namelist():
            if name.count("/") == 1 and name.endswith("/PKG-INFO"):
                return archive.read(name)
    return None


def _from_tar_sdist(content: bytes) -> bytes | None:
    with tarfile.open(fileobj=io.BytesIO(content), mode="r:*") as archive:
        for member in archive:
            if (
                member.isfile()
                and member.name.count("/") == 1
                and member.name.endswith("/PKG-INFO")
            ):
                extracted = archive.extractfile(member)
                if extracted is not None:
                    return extracted.read()
    return None


def normalize(name: str) -> str:
    """The PEP 503 normalised form of a project name (``My_Pkg.Name`` → ``my-pkg-name``)."""
    return str(canonicalize_name(name))


def valid_name(name: str) -> bool:
    """Whether ``name`` is a valid project name (core metadata ``Name``): ASCII letters and
    digits, with ``.``, ``_``, ``-`` only between them."""
    try:
        canonicalize_name(name, validate=True)
    except InvalidName:
        return False
    return True


def version_key(version: str) -> tuple[int, Version | str]:
    """A sort key: versions in PEP 440 order, after the strings that are not versions."""
    try:
        return (1, Version(version))
    except ValueError:  # InvalidVersion, or more digits than int() takes
        return (0, version)


def same_version(a: str, b: str) -> bool:
    """Whether two versions are equal as versions (``1.0`` is ``1.0.0``)."""
    try:
        return Version(a) == Version(b)
    except ValueError:  # InvalidVersion, or more digits than int() takes
        return a == b
