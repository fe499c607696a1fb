"""The legacy upload API over plain HTTP: what PyPI refuses, with PyPI's status and words.

Each upload is a ``multipart/form-data`` POST built by requests, shaped as twine sends it.
"""

from __future__ import annotations

import hashlib
import io
import struct
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests

from understudy import ConfigurationError, WaitTimeout
from understudy.fakes import PyPIServer
from understudy.fakes._pypi._dists import InvalidDistribution, parse_dist_filename

TIMEOUT = 5.0


def upload(
    server: PyPIServer,
    dist: Path,
    *,
    auth: tuple[str, str] | None = ("ada", "s3cret"),
    content: bytes | None = None,
    filename: str | None = None,
    **fields: Any,
) -> requests.Response:
    """POST ``dist`` to the upload API as twine would; ``fields`` override or add form fields."""
    data = dist.read_bytes() if content is None else content
    wheel = dist.name.endswith(".whl")
    form: dict[str, Any] = {
        ":action": "file_upload",
        "protocol_version": "1",
        "metadata_version": "2.4",
        "name": "My_Pkg.Name",
        "version": "1.0",
        "filetype": "bdist_wheel" if wheel else "sdist",
        "pyversion": "py3" if wheel else "source",
        "requires_python": ">=3.8",
        "classifiers": ["Programming Language :: Python :: 3", "Typing :: Typed"],
        "sha256_digest": hashlib.sha256(dist.read_bytes()).hexdigest(),
        "md5_digest": hashlib.md5(dist.read_bytes()).hexdigest(),
        "blake2_256_digest": hashlib.blake2b(dist.read_bytes(), digest_size=32).hexdigest(),
    }
    form.update(fields)
    form = {name: value for name, value in form.items() if value is not None}
    return requests.post(
        server.upload_url,
        data=form,
        files={"content": (filename or dist.name, data, "application/octet-stream")},
        auth=auth,
        timeout=TIMEOUT,
    )


@pytest.fixture
def pypi(make_pypi_server: Any) -> PyPIServer:
    server: PyPIServer = make_pypi_server(users={"ada": "s3cret"}, tokens=["pypi-tok"])
    return server


def test_an_upload_is_recorded_with_its_form_and_metadata(
    pypi: PyPIServer, tiny_dists: list[Path]
) -> None:
    reply = upload(pypi, tiny_dists[0])

    assert reply.status_code == 200
    [received] = pypi.wait_for_uploads(1)
    assert received.project == "My_Pkg.Name"
    assert received.uploader == "ada"
    assert received.form.get_all("classifiers") == [
        "Programming Language :: Python :: 3",
        "Typing :: Typed",
    ]
    assert received.metadata["classifiers"] == ["Programming Language :: Python :: 3"]
    assert received.size == tiny_dists[0].stat().st_size
    [file] = pypi.files
    assert file.filename == tiny_dists[0].name
    assert file.uploader == "ada"
    assert pypi.content(file.filename) == tiny_dists[0].read_bytes()


@pytest.mark.parametrize("digest", ["md5_digest", "sha256_digest", "blake2_256_digest"])
def test_a_digest_that_does_not_match_gets_400(
    pypi: PyPIServer, tiny_dists: list[Path], digest: str
) -> None:
    wrong: dict[str, Any] = {digest: "00" * 16}
    reply = upload(pypi, tiny_dists[0], **wrong)

    assert reply.status_code == 400
    assert reply.reason == (
        "The digest supplied does not match a digest calculated from the uploaded file."
    )
    assert pypi.files == []
    assert pypi.uploads == []


def test_an_upload_without_any_digest_gets_400(pypi: PyPIServer, tiny_dists: list[Path]) -> None:
    reply = upload(pypi, tiny_dists[0], md5_digest=None, sha256_digest=None, blake2_256_digest=None)

    assert reply.status_code == 400
    assert reply.reason == "Include at least one message digest."


def test_the_same_file_again_is_a_no_op_and_other_bytes_under_its_name_get_400(
    pypi: PyPIServer, tiny_dists: list[Path]
) -> None:
    assert upload(pypi, tiny_dists[1]).status_code == 200
    # PyPI answers a byte-identical re-upload 200 and keeps one file (twine retries rely on it).
    assert upload(pypi, tiny_dists[1]).status_code == 200
    assert len(pypi.files) == 1

    other = tiny_dists[1].read_bytes() + b"\0"  # gzip ignores trailing bytes: still an sdist
    reply = upload(
        pypi,
        tiny_dists[1],
        content=other,
        sha256_digest=hashlib.sha256(other).hexdigest(),
        md5_digest=None,
        blake2_256_digest=None,
    )

    assert reply.status_code == 400
    assert reply.reason.startswith("File already exists ('my_pkg_name-1.0.tar.gz'")
    assert len(pypi.uploads) == 1
    assert pypi.content("my_pkg_name-1.0.tar.gz") == tiny_dists[1].read_bytes()


def test_a_second_sdist_of_a_release_gets_400(
    pypi: PyPIServer, tiny_dists: list[Path], tmp_path: Path
) -> None:
    """PyPI takes one sdist per release: a ``.zip`` after the ``.tar.gz`` of the same version
    (``1.0.0`` is ``1.0``) is refused; the wheel of the release is not an sdist."""
    assert upload(pypi, tiny_dists[1]).status_code == 200
    zipped = pypi_zip_sdist(tmp_path / "my_pkg_name-1.0.0.zip", "1.0.0")

    reply = upload(pypi, zipped, version="1.0.0")

    assert reply.status_code == 400
    assert reply.reason == "Only one sdist may be uploaded per release."
    assert upload(pypi, tiny_dists[0]).status_code == 200
    assert sorted(file.filename for file in pypi.files) == [
        "my_pkg_name-1.0-py3-none-any.whl",
        "my_pkg_name-1.0.tar.gz",
    ]


def test_the_same_bytes_under_another_name_get_400(
    pypi: PyPIServer, tiny_dists: list[Path]
) -> None:
    """PyPI refuses a file whose bytes it serves under another name (warehouse looks files up by
    name or by blake2 digest): "File already exists", which twine's --skip-existing reads."""
    assert upload(pypi, tiny_dists[0]).status_code == 200

    reply = upload(pypi, tiny_dists[0], filename="my_pkg_name-1.0-py2.py3-none-any.whl")

    assert reply.status_code == 400
    assert reply.reason.startswith("File already exists ('my_pkg_name-1.0-py2.py3-none-any.whl'")
    assert [file.filename for file in pypi.files] == ["my_pkg_name-1.0-py3-none-any.whl"]


def pypi_zip_sdist(path: Path, version: str) -> Path:
    """A ``.zip`` sdist of ``My_Pkg.Name`` at ``version`` (PKG-INFO only), at ``path``."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(
            f"my_pkg_name-{version}/PKG-INFO",
            f"Metadata-Version: 2.1\nName: My_Pkg.Name\nVersion: {version}\n",
        )
    return path


@pytest.mark.parametrize(
    "auth",
    [("ada", "wrong"), ("bob", "s3cret"), None],
    ids=["wrong-password", "unknown-user", "no-credentials"],
)
def test_wrong_or_missing_credentials_get_403(
    pypi: PyPIServer, tiny_dists: list[Path], auth: tuple[str, str] | None
) -> None:
    reply = upload(pypi, tiny_dists[0], auth=auth)

    assert reply.status_code == 403
    assert reply.reason.startswith("Invalid or non-existent authentication information.")
    assert pypi.files == []


def test_a_token_is_the_password_of_the_token_user(
    pypi: PyPIServer, tiny_dists: list[Path]
) -> None:
    refused = upload(pypi, tiny_dists[0], auth=("__token__", "pypi-other"))
    assert refused.status_code == 403
    assert refused.reason.startswith("Invalid API Token")

    assert upload(pypi, tiny_dists[0], auth=("__token__", "pypi-tok")).status_code == 200
    [received] = pypi.wait_for_uploads(1)
    assert received.uploader == "__token__"


def test_anonymous_uploads_when_configured(make_pypi_server: Any, tiny_dists: list[Path]) -> None:
    anonymous: PyPIServer = make_pypi_server(anonymous=True)
    assert upload(anonymous, tiny_dists[0], auth=None).status_code == 200
    assert anonymous.wait_for_uploads(1)[0].uploader is None

    # Without users or tokens configured, any credentials are taken and the name kept.
    open_server: PyPIServer = make_pypi_server()
    assert upload(open_server, tiny_dists[0], auth=("anyone", "x")).status_code == 200
    assert open_server.wait_for_uploads(1)[0].uploader == "anyone"
    assert upload(open_server, tiny_dists[1], auth=None).status_code == 403


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({":action": "submit"}, "Project pre-registration is no longer required"),
        ({":action": "doc_upload"}, "Invalid value for :action"),
        ({"protocol_version": "2"}, "Unknown protocol version."),
        ({"version": None}, "'' is an invalid value for version."),
        ({"version": "one"}, "'one' is an invalid value for Version."),
        ({"name": "other-project"}, "Start filename for 'other-project' with 'other_project'."),
        ({"name": "My_Pkg.Name."}, "'My_Pkg.Name.' is an invalid value for Name."),
        ({"version": "2.0"}, "Version in filename should be '2.0' not '1.0'."),
        ({"filetype": "sdist"}, "Invalid distribution file."),
    ],
)
def test_a_form_pypi_would_refuse_gets_its_message(
    pypi: PyPIServer, tiny_dists: list[Path], fields: dict[str, Any], reason: str
) -> None:
    reply = upload(pypi, tiny_dists[0], **fields)

    assert reply.status_code in (400, 410)
    assert reply.reason.startswith(reason)
    assert reason in reply.text
    assert pypi.files == []


@pytest.mark.parametrize("name", ["demo_", "_demo", "de+mo", "de!mo"])
def test_a_project_name_pypi_would_refuse_gets_400_even_in_a_file_of_that_name(
    pypi: PyPIServer, tmp_path: Path, name: str
) -> None:
    sdist = tmp_path / f"{name}-1.0.tar.gz"  # (the name PEP 625 asks of it)
    with tarfile.open(sdist, "w:gz") as archive:
        pkg_info = f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n".encode()
        member = tarfile.TarInfo(f"{name}-1.0/PKG-INFO")
        member.size = len(pkg_info)
        archive.addfile(member, io.BytesIO(pkg_info))

    reply = upload(pypi, sdist, name=name)

    assert reply.status_code == 400
    assert reply.reason == (
        f"{name!r} is an invalid value for Name. Error: Start and end with a letter or numeral "
        "containing only ASCII numeric and '.', '_' and '-'. See "
        "https://packaging.python.org/specifications/core-metadata for more information."
    )
    assert pypi.files == []


def test_a_local_version_gets_400(pypi: PyPIServer, tmp_path: Path) -> None:
    wheel = tmp_path / "my_pkg_name-1.0+local-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        dist_info = "my_pkg_name-1.0+local.dist-info"
        archive.writestr(f"{dist_info}/METADATA", "Metadata-Version: 2.1\nName: My_Pkg.Name\n")
        archive.writestr(f"{dist_info}/WHEEL", "Wheel-Version: 1.0\n")

    reply = upload(pypi, wheel, version="1.0+local")

    assert reply.status_code == 400
    assert reply.reason == (
        "The use of local versions in '1.0+local' is not allowed. See "
        "https://packaging.python.org/specifications/core-metadata for more information."
    )
    assert pypi.files == []


def test_a_refusal_quoting_what_a_status_line_cannot_carry_escapes_it_there(
    pypi: PyPIServer, tiny_dists: list[Path]
) -> None:
    """Found by the fuzz corpus: an ``:action`` outside Latin-1 made the refusal's reason
    phrase unsendable, and the client got a 500."""
    fields: dict[str, Any] = {":action": "up\u2603\nload"}
    reply = upload(pypi, tiny_dists[0], **fields)

    assert reply.status_code == 400
    assert reply.reason == "Invalid value for :action: 'up\\u2603\\nload'; use file_upload."
    assert "'up\u2603\\nload'" in reply.text  # (the body is UTF-8)
    pypi.check()


def test_a_file_that_is_not_a_distribution_gets_400(
    pypi: PyPIServer, tiny_dists: list[Path], tmp_path: Path
) -> None:
    fake = tmp_path / "my_pkg_name-1.0-py3-none-any.whl"
    fake.write_bytes(b"not a zip")
    assert upload(pypi, fake).reason == "Invalid distribution file."

    text = tmp_path / "my_pkg_name-1.0.txt"
    text.write_bytes(b"hello")
    assert upload(pypi, text).reason.startswith("Invalid file extension")


def damaged_wheel(wheel: Path, target: Path, *, method: int, flags: int) -> Path:
    """A copy of ``wheel`` whose METADATA is stored plain but said (in the central directory)
    to be compressed with ``method`` under ``flags``: a zip whose member cannot be read."""
    with zipfile.ZipFile(wheel) as source, zipfile.ZipFile(target, "w") as copy:
        for info in source.infolist():
            copy.writestr(info.filename, source.read(info), zipfile.ZIP_STORED)
    data = bytearray(target.read_bytes())
    entry = data.index(b"PK\x01\x02")
    while not data[entry + 46 :].startswith(b"my_pkg_name-1.0.dist-info/METADATA"):
        entry = data.index(b"PK\x01\x02", entry + 4)
    struct.pack_into("<HH", data, entry + 8, flags, method)
    target.write_bytes(bytes(data))
    return target


@pytest.mark.parametrize(
    ("method", "flags"),
    [(zipfile.ZIP_DEFLATED, 0), (99, 0), (zipfile.ZIP_STORED, 1)],
    ids=["bad-deflate-stream", "unknown-method", "encrypted"],
)
def test_a_distribution_whose_metadata_cannot_be_read_gets_400_not_500(
    pypi: PyPIServer, tiny_dists: list[Path], tmp_path: Path, method: int, flags: int
) -> None:
    damaged = damaged_wheel(
        tiny_dists[0], tmp_path / tiny_dists[0].name, method=method, flags=flags
    )

    reply = upload(pypi, damaged)

    assert (reply.status_code, reply.reason) == (400, "Invalid distribution file.")
    pypi.check()  # (no handler error)
    with pytest.raises(ConfigurationError, match="cannot preload"):
        pypi.preload(damaged)


def test_the_upload_api_takes_a_multipart_post_only(pypi: PyPIServer) -> None:
    assert requests.get(pypi.upload_url, timeout=TIMEOUT).status_code == 405
    reply = requests.post(pypi.upload_url, data=b"x", auth=("ada", "s3cret"), timeout=TIMEOUT)
    assert reply.status_code == 400
    assert "multipart/form-data" in reply.reason


def test_uploads_go_to_the_directory_and_its_files_are_served(
    make_pypi_server: Any, tiny_dists: list[Path], tmp_path: Path
) -> None:
    (tmp_path / tiny_dists[1].name).write_bytes(tiny_dists[1].read_bytes())
    server: PyPIServer = make_pypi_server(directory=tmp_path)
    assert [f.filename for f in server.files] == [tiny_dists[1].name]

    assert upload(server, tiny_dists[0], auth=("ada", "x")).status_code == 200

    assert (tmp_path / tiny_dists[0].name).read_bytes() == tiny_dists[0].read_bytes()
    reply = requests.get(f"{server.url}/packages/{tiny_dists[1].name}", timeout=TIMEOUT)
    assert reply.content == tiny_dists[1].read_bytes()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"users": ["ada"]}, "users must map user names to passwords"),
        ({"tokens": "pypi-tok"}, "tokens must be a list of token strings"),
        ({"tokens": 5}, "tokens must be a list of token strings"),
        ({"directory": "/no/such/dir"}, "directory must be an existing directory"),
    ],
)
def test_wrong_options_say_what_to_write(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        PyPIServer(**options)


def test_tokens_given_as_an_iterator_are_kept_not_used_up_by_the_check() -> None:
    tokens = (token for token in ["pypi-tok"])  # (an iterable, if not the Collection typed)
    server = PyPIServer(tokens=tokens)  # type: ignore[arg-type]
    assert server.tokens == ["pypi-tok"]


def test_preload_refuses_what_is_not_a_distribution(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hi")
    server = PyPIServer()
    with pytest.raises(ConfigurationError, match="Invalid file extension"):
        server.preload(tmp_path / "notes.txt")
    with pytest.raises(ConfigurationError, match="is neither"):
        server.preload(tmp_path / "missing.whl")


@pytest.mark.parametrize(
    "filename", ["../my_pkg_name-1.0.tar.gz", ".my_pkg_name-1.0.tar.gz", "a\\b-1.0.zip"]
)
def test_a_file_name_that_could_escape_the_directory_gets_400(
    make_pypi_server: Any, tiny_dists: list[Path], tmp_path: Path, filename: str
) -> None:
    server: PyPIServer = make_pypi_server(directory=tmp_path)
    data = tiny_dists[1].read_bytes()
    reply = requests.post(
        server.upload_url,
        data={
            ":action": "file_upload",
            "protocol_version": "1",
            "metadata_version": "2.4",
            "name": "My_Pkg.Name",
            "version": "1.0",
            "filetype": "sdist",
            "sha256_digest": hashlib.sha256(data).hexdigest(),
        },
        files={"content": (filename, data, "application/octet-stream")},
        auth=("ada", "x"),
        timeout=TIMEOUT,
    )

    assert reply.status_code == 400
    assert reply.reason.startswith("Invalid distribution file name")
    assert list(tmp_path.iterdir()) == []
    assert list(tmp_path.parent.glob("my_pkg_name-1.0.tar.gz")) == []


@pytest.mark.asyncio
async def test_wait_for_uploads_async_and_its_timeout(tiny_dists: list[Path]) -> None:
    async with PyPIServer(anonymous=True) as server:
        with pytest.raises(WaitTimeout, match="upload"):
            await server.wait_for_uploads_async(1, timeout=0.05)
        data = tiny_dists[0].read_bytes()
        async with httpx.AsyncClient(timeout=TIMEOUT) as client:
            reply = await client.post(
                server.upload_url,
                data={
                    ":action": "file_upload",
                    "protocol_version": "1",
                    "metadata_version": "2.4",
                    "name": "my-pkg-name",
                    "version": "1.0",
                    "filetype": "bdist_wheel",
                    "sha256_digest": hashlib.sha256(data).hexdigest(),
                },
                files={"content": (tiny_dists[0].name, data)},
            )
        assert reply.status_code == 200
        [received] = await server.wait_for_uploads_async(1, match=lambda u: u.uploader is None)
        assert received.project == "my-pkg-name"
        assert server.files[0].project == "My_Pkg.Name"  # the metadata's own spelling


def test_an_expectation_still_answers_first(pypi: PyPIServer, tiny_dists: list[Path]) -> None:
    """A test can make the fake fail the way PyPI sometimes does, then behave again."""
    pypi.expect("POST", "/legacy/").respond(503, body="Service Unavailable").once()

    assert upload(pypi, tiny_dists[0]).status_code == 503
    assert upload(pypi, tiny_dists[0]).status_code == 200
    assert len(pypi.wait_for_uploads(1)) == 1


def make_wheel(directory: Path, filename: str, *, name: str, version: str) -> Path:
    """A minimal wheel named ``filename`` whose METADATA says ``name`` and ``version``."""
    import zipfile  # noqa: PLC0415 - only these tests build archives by hand

    stem = "-".join(filename.split("-", 2)[:2])
    path = directory / filename
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(
            f"{stem}.dist-info/METADATA",
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        )
        archive.writestr(
            f"{stem}.dist-info/WHEEL",
            "Wheel-Version: 1.0\nGenerator: hand\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        )
        archive.writestr(f"{stem}.dist-info/RECORD", "")
    return path


def test_an_upload_is_filed_under_its_form_name_whatever_its_metadata_says(
    pypi: PyPIServer, tmp_path: Path
) -> None:
    # warehouse (forklift/legacy.py) takes the name and version from the form, not from the
    # METADATA file, which it only stores: the file belongs to the form's project.
    wheel = make_wheel(tmp_path, "demo2-1.0-py3-none-any.whl", name="demo", version="1.0")

    reply = upload(pypi, wheel, name="demo2", version="1.0")

    assert reply.status_code == 200
    [received] = pypi.wait_for_uploads(1)
    [file] = pypi.files
    assert (received.project, file.project) == ("demo2", "demo2")
    listed = requests.get(f"{pypi.url}/simple/demo2/", timeout=TIMEOUT)
    assert listed.status_code == 200
    assert wheel.name in listed.text
    assert requests.get(f"{pypi.url}/simple/demo/", timeout=TIMEOUT).status_code == 404
    assert requests.get(f"{pypi.url}/pypi/demo2/json", timeout=TIMEOUT).status_code == 200


def test_twine_sends_the_metadata_name_and_a_file_named_for_another_project_gets_400(
    pypi: PyPIServer, tmp_path: Path
) -> None:
    from pypi_tools import twine_upload  # noqa: PLC0415 - PyPI tests only

    wheel = make_wheel(tmp_path, "demo2-1.0-py3-none-any.whl", name="demo", version="1.0")

    done = twine_upload(pypi.upload_url, [wheel], username="ada", password="s3cret")

    assert done.returncode != 0
    said = " ".join((done.stdout + done.stderr).split())  # (twine wraps its lines)
    assert "400 Bad Request" in said
    assert "Start filename for 'demo' with 'demo'." in said
    assert pypi.files == []


@pytest.mark.parametrize(
    ("filename", "fields", "status", "reason"),
    [
        # PEP 503: Demo_2, demo-2 and DEMO.2 are one project; the wheel is named for it.
        ("demo_2-1.0-py3-none-any.whl", {"name": "Demo_2"}, 200, "OK"),
        ("demo_2-1.0-py3-none-any.whl", {"name": "DEMO.2"}, 200, "OK"),
        ("demo_2-1.0-py3-none-any.whl", {"version": "1.0.0"}, 200, "OK"),
        (
            "Demo_2-1.0-py3-none-any.whl",
            {},
            400,
            (
                "Filename 'Demo_2-1.0-py3-none-any.whl' should contain the normalized project "
                "name 'demo_2', not 'Demo_2'."
            ),
        ),
        ("demo_3-1.0-py3-none-any.whl", {}, 400, "Start filename for 'demo-2' with 'demo_2'."),
        (
            "demo_2-1.0-py3-none-any.whl",
            {"version": "01.1"},
            400,
            "Version in filename should be '1.1' not '1.0'.",
        ),
        (
            "demo_2-1.0.tar.gz",
            {"version": "1.0.0", "filetype": "sdist"},
            400,
            "Filename 'demo_2-1.0.tar.gz' is invalid, should be 'demo_2-1.0.0.tar.gz'.",
        ),
        (
            "Demo_2-1.0.tar.gz",
            {"filetype": "sdist"},
            400,
            "Filename 'Demo_2-1.0.tar.gz' is invalid, should be 'demo_2-1.0.tar.gz'.",
        ),
    ],
)
def test_the_file_name_must_be_the_normalized_project_name_and_form_version(
    pypi: PyPIServer,
    tmp_path: Path,
    filename: str,
    fields: dict[str, Any],
    status: int,
    reason: str,
) -> None:
    wheel = make_wheel(tmp_path, "demo_2-1.0-py3-none-any.whl", name="demo-2", version="1.0")
    form: dict[str, Any] = {"name": "demo-2", "version": "1.0", **fields}
    if form.get("filetype") == "sdist":
        form["pyversion"] = "source"

    reply = upload(pypi, wheel, filename=filename, **form)

    assert (reply.status_code, reply.reason[: len(reason)]) == (status, reason)
    assert len(pypi.files) == (status == 200)


def test_a_version_beyond_the_int_digit_limit_gets_400_not_500(
    pypi: PyPIServer, tiny_dists: list[Path], tmp_path: Path
) -> None:
    huge = "1" * 100_000
    reply = upload(pypi, tiny_dists[0], version=huge)

    assert reply.status_code == 400
    assert reply.reason.startswith(f"'{'1' * 30}...{'1' * 30}' is an invalid value for Version.")

    assert pypi.files == []
    # A file name that long is cut off by the form's header limit (and the file system's),
    # but what reads one must refuse it in words too.
    with pytest.raises(InvalidDistribution, match="Invalid wheel filename"):
        parse_dist_filename(f"my_pkg_name-{'1' * 5000}-py3-none-any.whl")
    with pytest.raises(InvalidDistribution, match="Invalid source distribution filename"):
        parse_dist_filename(f"my_pkg_name-{'1' * 5000}.tar.gz")
