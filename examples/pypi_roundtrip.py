"""Section: build a project, upload it with twine, install it with pip, all against a fake PyPI.

The first seed's use case: test the packaging tools' calls to PyPI by running a local server that
implements its API. ``python -m build`` makes a wheel and an sdist of a tiny project named
``My_Pkg.Name`` (PEP 503 normalises it to ``my-pkg-name``); ``twine upload`` sends them to
:class:`understudy.fakes.PyPIServer`; ``pip install --index-url`` installs the wheel from it. Every
tool runs as a subprocess with pip's own configuration shut out, so pip sees only the fake.
"""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

from understudy.fakes import PyPIServer

from ._report import Report

TITLE = "python -m build, twine upload, pip install -> understudy.fakes.PyPIServer"


def _env(**extra: str) -> dict[str, str]:
    """This environment without pip's and twine's settings: only the fake index is seen."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "TWINE_"))}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1", **extra)
    env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.null.Keyring"
    return env


def _run(report: Report, shown: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    report.line()
    report.line(f"$ {shown}")
    done = subprocess.run(
        [sys.executable, "-m", *args],
        env=_env(**env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    for line in (done.stdout + done.stderr).splitlines():
        if line.strip() and not line.startswith(("WARNING: Location", "  Link requires")):
            report.line(line.rstrip(), indent=2)
    return done


def _write_project(root: Path) -> Path:
    project = root / "project"
    (project / "my_pkg_name").mkdir(parents=True)
    (project / "my_pkg_name" / "__init__.py").write_text('__version__ = "1.0"\n')
    (project / "pyproject.toml").write_text(
        textwrap.dedent(
            """\
            [build-system]
            requires = ["hatchling"]
            build-backend = "hatchling.build"

            [project]
            name = "My_Pkg.Name"
            version = "1.0"
            requires-python = ">=3.8"

            [tool.hatch.build.targets.wheel]
            packages = ["my_pkg_name"]
            """
        )
    )
    return project


def run(report: Report) -> None:
    """Build, upload with a password, install, and show what the fake PyPI recorded."""
    with tempfile.TemporaryDirectory() as temp, PyPIServer(users={"ada": "s3cret"}) as pypi:
        root = Path(temp)
        report.line(f'server: PyPIServer(users={{"ada": "s3cret"}})  listening at {pypi.url}')
        dist = root / "dist"
        built = _run(
            report,
            "python -m build --no-isolation --outdir dist project",
            *("build", "--no-isolation", "--sdist", "--wheel", "--outdir", str(dist)),
            str(_write_project(root)),
        )
        report.check(built.returncode == 0, "python -m build to succeed")
        files = sorted(str(path) for path in dist.iterdir())

        uploaded = _run(
            report,
            "twine upload --repository-url {pypi.upload_url} dist/*   (TWINE_USERNAME=ada)",
            *("twine", "--no-color", "upload", "--repository-url", pypi.upload_url),
            *("--non-interactive", "--disable-progress-bar", *files),
            TWINE_USERNAME="ada",
            TWINE_PASSWORD="s3cret",
        )
        report.check(uploaded.returncode == 0, "twine upload to succeed")
        for upload in pypi.wait_for_uploads(2, timeout=5.0):
            report.line(
                f"server accepted  {upload.filename}  from {upload.uploader}, "
                f"sha256 {upload.sha256[:16]}...",
                indent=2,
            )

        target = root / "target"
        installed = _run(
            report,
            "pip install --index-url {pypi.index_url} --target target My_Pkg.Name",
            *("pip", "install", "--no-cache-dir", "--index-url", pypi.index_url),
            *("--target", str(target), "My_Pkg.Name"),
        )
        report.check(installed.returncode == 0, "pip install to succeed")
        versions = {
            d.metadata["Name"]: d.version
            for d in importlib.metadata.distributions(path=[str(target)])
        }
        report.line(f"installed: {versions}", indent=2)
        report.check(versions == {"My_Pkg.Name": "1.0"}, "My_Pkg.Name 1.0 to be installed")
        for request in pypi.requests:
            report.line(f"server received  {request.method} {request.target}", indent=2)
        report.check(len(pypi.downloads) == 1, "one wheel download recorded")
