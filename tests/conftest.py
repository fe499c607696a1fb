"""Shared test configuration: every test must leave no understudy server running and no fd open."""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator

import pytest

from understudy import _runtime


def _open_fds() -> set[int]:
    return {int(fd) for fd in os.listdir("/proc/self/fd")}


@pytest.fixture(autouse=True)
def _no_leaks(request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture) -> Iterator[None]:
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
        # A client object the test dropped still holds its socket; or a captured log record
        # does, through its exception's traceback (urllib3's "Retrying ... after connection
        # broken by ConnectionResetError"): let go of the records, then collect.
        caplog.get_records("call").clear()
        gc.collect()
        leaked = _open_fds() - before
    assert not leaked, "the test leaked file descriptors: " + ", ".join(
        f"{fd} -> {_describe(fd)}" for fd in sorted(leaked)
    )


def _describe(fd: int) -> str:
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return "?"
