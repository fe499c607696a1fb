"""PyPIServer with the real tools: twine uploads to it, pip installs and downloads from it.

The tiny project ``My_Pkg.Name`` (a name PEP 503 normalises to ``my-pkg-name``) is built once per
session (``tiny_dists`` in conftest). pip runs with its configuration shut out and only
``--index-url`` pointing at the fake, so a pass proves the fake served it.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
from pathlib import Path

import pytest

import understudy
from pypi_tools import pip, twine_upload
from understudy.fakes import PyPIDownload, PyPIFile, PyPIServer, PyPIUpload


def installed(target: Path) -> dict[str, str]:
    """``{name: version}`` of the distributions installed into ``target``."""
    return {
        dist.metadata["Name"]: dist.version
        for dist in importlib.metadata.distributions(path=[str(target)])
    }


def test_twine_uploads_then_pip_installs_it(tiny_dists: list[Path], tmp_path: Path) -> None:
    with PyPIServer(users={"ada": "s3cret"}) as pypi:
        done = twine_upload(pypi.upload_url, tiny_dists, username="ada", password="s3cret")
        assert done.returncode == 0, done.stdout + done.stderr

        wheel, sdist = pypi.wait_for_uploads(2)
        assert (wheel.filename, sdist.filename) == (
            "my_pkg_name-1.0-py3-none-any.whl",
            "my_pkg_name-1.0.tar.gz",
        )
        assert wheel.uploader == "ada"
        assert (wheel.filetype, sdist.filetype) == ("bdist_wheel", "sdist")
        assert wheel.sha256 == hashlib.sha256(tiny_dists[0].read_bytes()).hexdigest()
        assert wheel.metadata["name"] == "My_Pkg.Name"
        assert wheel.metadata["requires_python"] == ">=3.8"
        assert wheel.form[":action"] == "file_upload"

        target = tmp_path / "target"
        done = pip("install", "--index-url", pypi.index_url, "--target", str(target), "My_Pkg.Name")
        assert done.returncode == 0, done.stdout + done.stderr
        assert installed(target) == {"My_Pkg.Name": "1.0"}
        assert (target / "my_pkg_name" / "__init__.py").read_text() == '__version__ = "1.0"\n'

        # pip read the PEP 658 metadata file, then fetched the wheel (once).
        [download] = pypi.wait_for_downloads(1)
        assert download.filename == "my_pkg_name-1.0-py3-none-any.whl"
        assert download.user_agent.startswith("pip/")
        paths = [request.path for request in pypi.requests if request.method == "GET"]
        assert "/packages/my_pkg_name-1.0-py3-none-any.whl.metadata" in paths


def test_pip_download_fetches_a_preloaded_wheel(
    pypi_server: PyPIServer, tiny_dists: list[Path], tmp_path: Path
) -> None:
    pypi_server.preload(*tiny_dists)
    dest = tmp_path / "downloads"

    done = pip(
        "download",
        "--index-url",
        pypi_server.index_url,
        "--no-deps",
        "--only-binary",
        ":all:",
        "--dest",
        str(dest),
        "my-pkg-name==1.0",
    )

    assert done.returncode == 0, done.stdout + done.stderr
    [got] = dest.iterdir()
    assert got.read_bytes() == tiny_dists[0].read_bytes()
    assert [d.filename for d in pypi_server.downloads] == [got.name]


def test_a_wrong_password_gets_403_and_twine_says_so(
    tiny_dists: list[Path],
) -> None:
    with PyPIServer(users={"ada": "s3cret"}) as pypi:
        done = twine_upload(pypi.upload_url, tiny_dists[:1], username="ada", password="wrong")

        assert done.returncode != 0
        output = " ".join((done.stdout + done.stderr).split())
        assert "403 Forbidden" in output
        assert "Invalid or non-existent authentication information" in output
        assert pypi.uploads == []
        assert pypi.files == []


def test_the_fakes_package_exports_its_names() -> None:
    import understudy.fakes as fakes  # noqa: PLC0415 - the module itself is under test

    assert fakes.__all__ == sorted(fakes.__all__)
    for name in fakes.__all__:
        assert getattr(fakes, name).__module__ == "understudy.fakes"
    assert issubclass(PyPIServer, understudy.HTTPServer)
    assert {PyPIFile, PyPIUpload, PyPIDownload} <= {getattr(fakes, n) for n in fakes.__all__}


@pytest.mark.understudy(users={"ada": "s3cret"})
def test_the_fixture_takes_options_from_the_marker(pypi_server: PyPIServer) -> None:
    assert pypi_server.running
    assert pypi_server.users == {"ada": "s3cret"}
    assert pypi_server.index_url == pypi_server.url + "/simple/"
    assert pypi_server.upload_url == pypi_server.url + "/legacy/"
