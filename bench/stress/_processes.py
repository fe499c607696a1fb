"""Processes: a server started after ``os.fork()`` in the child, ``multiprocessing`` with fork
and spawn, pytest-xdist ``-n 4`` on the plugin tests, and interpreter exit with running servers.
"""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import textwrap
import time
import urllib.request
import warnings
from dataclasses import asdict, dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import understudy

__all__ = ["ProcessResult", "run_processes"]

_ROOT = Path(__file__).resolve().parents[2]
_TIMEOUT = 30.0


@dataclass
class ProcessResult:
    name: str
    ok: bool
    seconds: float
    detail: str = ""

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _serve_and_fetch() -> str:
    with (
        understudy.HTTPServer(
            response=understudy.Response(200, body=f"pid {os.getpid()}")
        ) as server,
        urllib.request.urlopen(server.url, timeout=5) as reply,
    ):
        return str(reply.read().decode())


def _child(pipe: Connection) -> None:
    pipe.send(_serve_and_fetch())
    pipe.close()


def _after_fork() -> tuple[bool, str]:
    with understudy.HTTPServer(response=understudy.Response(204)):  # the parent's loop runs
        read_end, write_end = os.pipe()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
        if pid == 0:  # the child
            code = 1
            try:
                os.close(read_end)
                os.write(write_end, _serve_and_fetch().encode())
                code = 0
            finally:
                os._exit(code)
        os.close(write_end)
        with os.fdopen(read_end, "rb") as answer:
            body = answer.read().decode()
        _, status = os.waitpid(pid, 0)
    ok = os.waitstatus_to_exitcode(status) == 0 and body == f"pid {pid}"
    return ok, body


def _multiprocessing(method: str) -> tuple[bool, str]:
    context: Any = multiprocessing.get_context(method)
    parent_end, child_end = context.Pipe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        child = context.Process(target=_child, args=(child_end,))
        child.start()
    try:
        body = parent_end.recv() if parent_end.poll(_TIMEOUT) else "no answer"
    finally:
        child.join(_TIMEOUT)
        parent_end.close()
        child_end.close()
    return child.exitcode == 0 and body == f"pid {child.pid}", body


def _xdist() -> tuple[bool, str]:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-n",
            "4",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/test_plugin.py",
            "tests/test_expect_plugin.py",
        ],
        cwd=_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    last = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-200:]
    return done.returncode == 0, last


_EXIT_CODE = textwrap.dedent(
    """
    import socket, urllib.request, understudy, understudy.fakes
    servers = [
        understudy.HTTPServer(response=understudy.Response(200, body="up")),
        understudy.SMTPServer(), understudy.TCPServer(echo=True), understudy.UDPServer(),
        understudy.UnixStreamServer(), understudy.UnixDatagramServer(),
        understudy.SyslogServer(), understudy.LogRecordServer(),
        understudy.HTTPServer(tls=True), understudy.fakes.PyPIServer(),
    ]
    for server in servers:
        server.start()
    with urllib.request.urlopen(servers[0].url, timeout=5) as reply:
        assert reply.read() == b"up"
    socket.create_connection(servers[2].address).detach()  # a client connected at exit
    print("served", flush=True)
    """
)


def _exit_clean(times: int = 20) -> tuple[bool, str]:
    """The exit script ``times`` times: a race at exit shows only now and then."""
    failures = []
    slowest = 0.0
    for _ in range(times):
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-X", "dev", "-c", _EXIT_CODE],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        seconds = time.perf_counter() - started
        slowest = max(slowest, seconds)
        if done.returncode or done.stdout != "served\n" or done.stderr or seconds > 10:
            failures.append(f"exit {done.returncode} in {seconds:.2f} s: {done.stderr[-300:]!r}")
    summary = f"{times - len(failures)} of {times} clean, slowest {slowest:.2f} s"
    return not failures, "; ".join([summary, *failures[:1]])


def run_processes(*, xdist: bool = True) -> list[ProcessResult]:
    checks = [
        ("server after os.fork()", _after_fork),
        ("multiprocessing fork", lambda: _multiprocessing("fork")),
        ("multiprocessing spawn", lambda: _multiprocessing("spawn")),
        ("interpreter exit with 10 servers running, x20", _exit_clean),
    ]
    if xdist:
        checks.append(("pytest -n 4 on the plugin tests", _xdist))
    results = []
    for name, check in checks:
        started = time.perf_counter()
        try:
            ok, detail = check()
        except Exception as error:
            ok, detail = False, f"{type(error).__name__}: {error}"
        results.append(ProcessResult(name, ok, time.perf_counter() - started, detail))
    return results
