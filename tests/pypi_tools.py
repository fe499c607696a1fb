"""Real packaging tools for the fake PyPI's tests: build a tiny project, twine, pip.

Every tool runs as a subprocess of this interpreter, offline, with the user's and the machine's
pip configuration shut out (``PIP_CONFIG_FILE=/dev/null``, every other ``PIP_*`` variable
dropped), so that pip sees the fake index and nothing else.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

__all__ = ["build_project", "clean_env", "pip", "twine_upload", "write_project"]

TIMEOUT = 120.0


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without pip's or twine's own settings, plus ``extra``."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("PIP_", "TWINE_", "PYTHONPATH"))
    }
    env.update(
        PIP_CONFIG_FILE=os.devnull,
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PIP_NO_INPUT="1",
        PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring",
        NO_COLOR="1",
    )
    env.update(extra)
    return env


def write_project(root: Path, name: str, version: str, *, requires_python: str = ">=3.8") -> Path:
    """Write a one-module project built by hatchling; return its directory."""
    module = name.lower().replace("-", "_").replace(".", "_")
    project = root / f"{module}-{version}-src"
    (project / module).mkdir(parents=True)
    (project / module / "__init__.py").write_text(f'__version__ = "{version}"\n')
    (project / "pyproject.toml").write_text(
        textwrap.dedent(
            f"""\
            [build-system]
            requires = ["hatchling"]
            build-backend = "hatchling.build"

            [project]
            name = "{name}"
            version = "{version}"
            description = "A tiny project that understudy's tests upload and install"
            requires-python = "{requires_python}"
            classifiers = ["Programming Language :: Python :: 3"]

            [tool.hatch.build.targets.wheel]
            packages = ["{module}"]
            """
        )
    )
    return project


def build_project(project: Path, outdir: Path) -> list[Path]:
    """``python -m build --no-isolation`` (offline: hatchling from this venv): sdist and wheel."""
    subprocess.run(
        [
            *(sys.executable, "-m", "build", "--no-isolation", "--sdist", "--wheel"),
            *("--outdir", str(outdir), str(project)),
        ],
        env=clean_env(),
        check=True,
        capture_output=True,
        timeout=TIMEOUT,
    )
    return sorted(outdir.iterdir())


def twine_upload(
    url: str, files: list[Path], *, username: str, password: str
) -> subprocess.CompletedProcess[str]:
    """``twine upload --repository-url url --non-interactive`` with credentials from the env."""
    return subprocess.run(
        [
            *(sys.executable, "-m", "twine", "--no-color", "upload", "--repository-url", url),
            *("--non-interactive", "--disable-progress-bar", *map(str, files)),
        ],
        env=clean_env(TWINE_USERNAME=username, TWINE_PASSWORD=password),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def pip(*args: str) -> subprocess.CompletedProcess[str]:
    """``python -m pip <args> --no-cache-dir``, configuration isolated; give ``--index-url``."""
    return subprocess.run(
        [sys.executable, "-m", "pip", *args, "--no-cache-dir"],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
