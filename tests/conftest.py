"""Shared test configuration: every test must leave no understudy server running, no fd open and
no thread running."""

from __future__ import annotations

import fcntl
import gc
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from understudy import _runtime

#: Threads that live as long as the process: the runtime's loop and its worker pool, and the
#: default executor of the runtime's loop, made when an app first calls
#: ``run_in_executor(None, ...)`` (a test's own loop joins its executor's threads on closing).
_LONG_LIVED = ("understudy-loop", "understudy-worker", "asyncio_")
#: Seconds a thread started by the test may take to finish after it.
_THREAD_GRACE = 2.0


def _open_fds() -> set[int]:
    return {int(fd) for fd in os.listdir("/proc/self/fd")}


@pytest.fixture(autouse=True)
def _no_leaks(request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Fail a test that leaves a server running, a socket/file descriptor open or a thread running.

    The runtime's loop thread and its worker pool live as long as the process, by design: they
    are not counted.
    """
    if request.node.get_closest_marker("allow_leaks") or not os.path.isdir("/proc/self/fd"):
        yield
        return
    _runtime.get_runtime()  # the loop's own fds are not the test's
    before = _open_fds()
    threads_before = set(threading.enumerate())
    yield
    runtime = _runtime.get_runtime()
    running = [server for server in list(runtime.servers) if getattr(server, "running", False)]
    assert not running, f"the test left servers running: {running}"
    leaked = _open_fds() - before
    if leaked:
        # A client object the test dropped still holds its socket; or a captured log record
        # does, through its exception's traceback (urllib3's "Retrying ... after connection
        # broken by ConnectionResetError"): let go of the records, then collect.
        caplog.get_records("call").clear()
        gc.collect()
        leaked = _open_fds() - before
    assert not leaked, "the test leaked file descriptors: " + ", ".join(
        f"{fd} -> {_describe(fd)}" for fd in sorted(leaked)
    )
    new_threads = [
        thread
        for thread in set(threading.enumerate()) - threads_before
        if not thread.name.startswith(_LONG_LIVED)
    ]
    for thread in new_threads:
        thread.join(_THREAD_GRACE)  # a client thread the test let finish on its own
    still = [thread.name for thread in new_threads if thread.is_alive()]
    assert not still, f"the test left threads running: {still}"


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
