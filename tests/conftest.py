"""Shared test configuration: every test must leave no understudy server running and no fd open."""

from __future__ import annotations

import fcntl
import gc
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from understudy import _runtime


def _open_fds() -> set[int]:
    return {int(fd) for fd in os.listdir("/proc/self/fd")}


@pytest.fixture(autouse=True)
def _no_leaks(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail a test that leaves a server running or a socket/file descriptor open."""
    if request.node.get_closest_marker("allow_leaks") or not os.path.isdir("/proc/self/fd"):
        yield
        return
    _runtime.get_runtime()  # the loop's own fds are not the test's
    before = _open_fds()
    yield
    runtime = _runtime.get_runtime()
    running = [server for server in list(runtime.servers) if getattr(server, "running", False)]
    assert not running, f"the test left servers running: {running}"
    leaked = _open_fds() - before
    if leaked:
        gc.collect()  # a client object the test dropped still holds its socket
        leaked = _open_fds() - before
    assert not leaked, "the test leaked file descriptors: " + ", ".join(
        f"{fd} -> {_describe(fd)}" for fd in sorted(leaked)
    )


def _describe(fd: int) -> str:
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return "?"


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
