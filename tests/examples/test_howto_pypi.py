"""How to test code that talks to PyPI: ``understudy.fakes.PyPIServer``.

Point the tool under test at the fake (twine at ``upload_url``, pip at ``index_url``, a client
library at ``url``), run it for real, then assert on what the fake recorded. ``tiny_dists`` (in
tests/conftest.py) is a wheel and an sdist of ``My_Pkg.Name`` 1.0 built once per session with
``python -m build``; use your own project's ``dist/`` the same way.

Reference (built by ``make docs`` into site/; every attribute, with its type): ``PyPIUpload``,
``PyPIDownload``, ``PyPIFile``: docs/reference/pypi.md.
"""

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from understudy.fakes import PyPIServer


def isolated_env(**extra: str) -> dict[str, str]:
    """No pip or twine configuration from the machine: only the fake index is seen."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "TWINE_"))}
    return {**env, "PIP_CONFIG_FILE": os.devnull, "PIP_DISABLE_PIP_VERSION_CHECK": "1", **extra}


@pytest.mark.understudy(tokens=["pypi-test-token"])  # options of the pypi_server fixture
def test_twine_uploads_with_an_api_token(pypi_server: PyPIServer, tiny_dists: list[Path]) -> None:
    twine = [sys.executable, "-m", "twine", "--no-color", "upload", "--non-interactive"]
    subprocess.run(
        [*twine, "--repository-url", pypi_server.upload_url, *map(str, tiny_dists)],
        env=isolated_env(TWINE_USERNAME="__token__", TWINE_PASSWORD="pypi-test-token"),
        check=True,
        capture_output=True,
        timeout=60,
    )

    wheel, sdist = pypi_server.wait_for_uploads(2)
    assert wheel.uploader == "__token__"
    assert wheel.metadata["requires_python"] == ">=3.8"  # read from the wheel itself
    assert sdist.filename == "my_pkg_name-1.0.tar.gz"
    assert (wheel.project, wheel.version) == ("My-Pkg.Name", "1.0")  # the form, as twine sent it
    assert (wheel.filetype, wheel.pyversion) == ("bdist_wheel", "py3")
    assert sdist.filetype == "sdist"
    assert sdist.pyversion in ("source", "")  # as twine sent it: "" from twine 5, then "source"
    assert wheel.size == tiny_dists[0].stat().st_size
    # sha256 is computed from what arrived; form holds the fields twine sent beside the file.
    assert wheel.sha256 == hashlib.sha256(tiny_dists[0].read_bytes()).hexdigest()
    assert wheel.form["sha256_digest"] == wheel.sha256  # twine's own digest agrees
    assert wheel.form["filetype"] == "bdist_wheel"
    assert wheel.request.headers["user-agent"].startswith("twine/")  # the HTTP request


def test_pip_installs_from_the_fake_index(
    pypi_server: PyPIServer, tiny_dists: list[Path], tmp_path: Path
) -> None:
    pypi_server.preload(*tiny_dists)  # served as if uploaded

    pip = [sys.executable, "-m", "pip", "install", "--no-cache-dir", "--target", str(tmp_path)]
    subprocess.run(
        [*pip, "--index-url", pypi_server.index_url, "My_Pkg.Name==1.0"],
        env=isolated_env(),
        check=True,
        capture_output=True,
        timeout=60,
    )

    assert (tmp_path / "my_pkg_name" / "__init__.py").exists()
    [download] = pypi_server.wait_for_downloads(1)
    assert download.filename == "my_pkg_name-1.0-py3-none-any.whl"


def test_the_files_the_index_serves_and_who_downloaded_them(
    pypi_server: PyPIServer, tiny_dists: list[Path]
) -> None:
    wheel, sdist = pypi_server.preload(*tiny_dists)  # a PyPIFile each
    assert (wheel.project, wheel.version, wheel.requires_python) == ("My_Pkg.Name", "1.0", ">=3.8")
    assert (wheel.packagetype, wheel.python_version) == ("bdist_wheel", "py3")
    assert (sdist.packagetype, sdist.python_version) == ("sdist", "source")
    assert wheel.size == tiny_dists[0].stat().st_size
    assert wheel.uploader is None  # preloaded, not uploaded
    assert wheel.upload_time > 0  # time.time() when preloaded
    assert wheel.fields["requires_python"] == ">=3.8"  # packaging.metadata's names
    assert wheel.metadata is not None  # the core metadata file, served as <file>.metadata
    assert wheel.metadata_digests["sha256"] == hashlib.sha256(wheel.metadata).hexdigest()
    assert (sdist.metadata, sdist.metadata_digests) == (None, {})

    # The client under test: finds the wheel through the JSON API, then downloads it.
    files = requests.get(f"{pypi_server.url}/pypi/My_Pkg.Name/json", timeout=5.0).json()["urls"]
    url = next(file["url"] for file in files if file["filename"] == wheel.filename)
    content = requests.get(url, headers={"User-Agent": "mirror-bot/2.0"}, timeout=5.0).content
    assert hashlib.sha256(content).hexdigest() == wheel.sha256 == wheel.digests["sha256"]

    [download] = pypi_server.wait_for_downloads(1)
    assert (download.filename, download.version) == (wheel.filename, "1.0")
    assert download.user_agent == "mirror-bot/2.0"
    assert download.request.path == f"/packages/{wheel.filename}"


def test_a_client_of_the_json_api_sees_a_yanked_release(
    pypi_server: PyPIServer, tiny_dists: list[Path]
) -> None:
    pypi_server.preload(*tiny_dists)
    pypi_server.yank("My_Pkg.Name", "1.0", reason="broken build")

    info = requests.get(f"{pypi_server.url}/pypi/My_Pkg.Name/json", timeout=5.0).json()["info"]

    assert info["version"] == "1.0"
    assert (info["yanked"], info["yanked_reason"]) == (True, "broken build")
    assert [(file.yanked, file.yanked_reason) for file in pypi_server.files] == [
        (True, "broken build"),
        (True, "broken build"),
    ]
