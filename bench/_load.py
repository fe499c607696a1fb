"""(c) Throughput under 50 concurrent keep-alive connections, from wrk in another process.

wrk comes from Debian's packages: when it is not on PATH, ``ensure_wrk`` runs ``apt-get update``
and ``apt-get install -y wrk`` (as root, or through ``sudo -n``); if that fails the measurement is
skipped with the reason.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field

from ._subjects import HOST, Subject

__all__ = ["LoadResult", "ensure_wrk", "run_load"]

_APT_TIMEOUT = 240.0
#: Seconds a wrk run may take beyond its own duration before it is killed.
_WRK_GRACE = 15.0


@dataclass
class LoadResult:
    """One wrk run against one server."""

    key: str
    label: str
    requests_per_second: float = 0.0
    requests: int = 0
    latency_avg: str = ""
    non_2xx: int = 0
    socket_errors: dict[str, int] = field(default_factory=dict)
    details: dict[str, object] = field(default_factory=dict)
    error: str | None = None
    #: req/s of every successful round of this case (set when rounds are merged).
    rounds: list[float] = field(default_factory=list)

    @property
    def errors(self) -> int:
        return self.non_2xx + sum(self.socket_errors.values())


def _apt_prefix() -> list[str] | None:
    if os.geteuid() == 0:
        return []
    if shutil.which("sudo"):
        return ["sudo", "-n"]
    return None


def ensure_wrk(log: Callable[[str], None]) -> tuple[str | None, str]:
    """Return (path to wrk or None, how it was found or why it is missing)."""
    found = shutil.which("wrk")
    if found:
        return found, "on PATH"
    prefix = _apt_prefix()
    if not shutil.which("apt-get") or prefix is None:
        return None, "wrk is not installed and apt-get (as root or with sudo) is not available"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    lock = ["-o", "DPkg::Lock::Timeout=60"]
    for step in (["apt-get", *lock, "update"], ["apt-get", *lock, "install", "-y", "wrk"]):
        log(f"wrk is missing: running {' '.join(prefix + step)}")
        try:
            done = subprocess.run(
                prefix + step,
                capture_output=True,
                text=True,
                timeout=_APT_TIMEOUT,
                env=env,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            return None, f"{' '.join(step)} failed: {error}"
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            return None, f"{' '.join(step)} exited {done.returncode}: {' | '.join(tail)}"
    found = shutil.which("wrk")
    if found:
        return found, "installed with apt-get"
    return None, "apt-get install -y wrk succeeded but wrk is still not on PATH"


_RPS = re.compile(r"Requests/sec:\s+([\d.]+)")
_TOTAL = re.compile(r"(\d+) requests in")
_LATENCY = re.compile(r"Latency\s+(\S+)")
_NON_2XX = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
_SOCKET_ERRORS = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")


def _wrk(wrk: str, port: int, *, duration: int, connections: int) -> str:
    command = [
        wrk,
        "-t1",
        f"-c{connections}",
        f"-d{duration}s",  # wrk takes whole seconds
        "--timeout",
        "2s",
        f"http://{HOST}:{port}/",
    ]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=duration + _WRK_GRACE, check=False
    )
    if done.returncode != 0:
        said = (done.stderr.strip() or done.stdout.strip())[:200]
        raise RuntimeError(f"wrk exited {done.returncode}: {said}")
    return done.stdout


def _parse(output: str, result: LoadResult) -> None:
    rps = _RPS.search(output)
    if rps is None:
        raise RuntimeError(f"no Requests/sec in wrk's output: {output[:300]!r}")
    result.requests_per_second = float(rps.group(1))
    if total := _TOTAL.search(output):
        result.requests = int(total.group(1))
    if latency := _LATENCY.search(output):
        result.latency_avg = latency.group(1)
    if non_2xx := _NON_2XX.search(output):
        result.non_2xx = int(non_2xx.group(1))
    if errors := _SOCKET_ERRORS.search(output):
        names = ("connect", "read", "write", "timeout")
        result.socket_errors = dict(zip(names, map(int, errors.groups()), strict=True))


def run_load(
    wrk: str, subject: Subject, *, duration: int, warmup: int, connections: int
) -> LoadResult:
    """Warm ``subject`` up with wrk for ``warmup`` s, then measure for ``duration`` s (whole)."""
    result = LoadResult(subject.key, subject.label)
    try:
        running = subject.start()
    except Exception as error:
        result.error = f"did not start: {error}"
        return result
    try:
        if warmup > 0:
            _wrk(wrk, running.port, duration=warmup, connections=connections)
        _parse(_wrk(wrk, running.port, duration=duration, connections=connections), result)
        result.details = running.details()
    except (RuntimeError, subprocess.TimeoutExpired) as error:
        result.error = str(error)
    finally:
        running.stop()
    return result
