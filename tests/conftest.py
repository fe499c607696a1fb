"""Fixtures shared by the tests under tests/ (the leak checker every test runs under, README's
and docs' code blocks included, is the plugin tests/suite_rules.py)."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

import pytest

from versions import Version


@pytest.fixture(scope="session")
def tiny_dists(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """``My_Pkg.Name`` 1.0 built with ``python -m build``: [wheel, sdist].

    Built once per run: the pytest-xdist workers share the base temporary directory, and the
    first to take the lock builds while the others wait for it.
    """
    from pypi_tools import build_project, write_project  # noqa: PLC0415 - PyPI tests only

    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent
    dist = shared / "tiny-project" / "dist"
    with open(shared / "tiny-project.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not dist.is_dir():
            (shared / "tiny-project").mkdir(exist_ok=True)
            project = write_project(shared / "tiny-project", "My_Pkg.Name", "1.0")
            build_project(project, dist)
    wheel, sdist = sorted(dist.iterdir(), key=lambda path: not path.name.endswith(".whl"))
    return [wheel, sdist]


@pytest.fixture(params=["1.1", "2"], ids=["http1.1", "http2"])
def http(request: pytest.FixtureRequest) -> Version:
    """The HTTP version a behaviour test runs over (see tests/versions.py): once each."""
    return Version(request.param)


@pytest.fixture
def pytester(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """pytest's own, with the inner sessions' terminal 120 columns wide whatever this one's
    is: the lines a test matches in their output are then cut the same way on every machine
    (a CI with ``COLUMNS`` unset, 80 or 250)."""
    monkeypatch.setenv("COLUMNS", "120")
    return pytester


@pytest.fixture
def inner_ini(pytester: pytest.Pytester) -> None:
    """The ini of the pytest sessions a test runs inside itself (pytester): asyncio fixtures
    scoped to the function, no Hypothesis end-of-run summary (a second per inner run), and
    the tests in file order (their outcomes may depend on the test before: a parked port)."""
    pytester.makeini(
        "[pytest]\n"
        "asyncio_default_fixture_loop_scope = function\n"
        "addopts = -p no:hypothesispytest -p no:randomly\n"
    )
