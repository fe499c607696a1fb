"""Fuzzing, deeper than ``make test``: tests/test_fuzz.py and tests/test_websocket_fuzz.py
with many more Hypothesis examples, and atheris (coverage-guided) on the pure parsers where it
is installed.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = ["FuzzResult", "run_fuzz"]

_ROOT = Path(__file__).resolve().parents[2]


@dataclass
class FuzzResult:
    name: str
    ok: bool | None  # None: not run
    examples: int
    seconds: float
    detail: str = ""

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _hypothesis(examples: int, timeout: float) -> FuzzResult:
    started = time.perf_counter()
    env = {**os.environ, "UNDERSTUDY_FUZZ_EXAMPLES": str(examples)}
    try:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-n",
                "2",
                "-q",
                "-p",
                "no:cacheprovider",
                "tests/test_fuzz.py",
                "tests/test_websocket_fuzz.py",
            ],
            cwd=_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return FuzzResult("hypothesis", False, examples, timeout, f"over {timeout:g} s: a hang")
    lines = done.stdout.strip().splitlines()
    detail = lines[-1] if lines else done.stderr[-300:]
    if done.returncode:
        failures = [line for line in lines if line.startswith(("FAILED", "E "))]
        detail = "\n".join(failures[:20]) or detail
    return FuzzResult(
        "hypothesis", done.returncode == 0, examples, time.perf_counter() - started, detail
    )


def _atheris(runs: int, timeout: float) -> FuzzResult:
    if importlib.util.find_spec("atheris") is None:
        return FuzzResult("atheris", None, 0, 0.0, "atheris is not installed: skipped")
    started = time.perf_counter()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "bench.stress._atheris", f"-runs={runs}"],
            cwd=_ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return FuzzResult("atheris", False, runs, timeout, f"over {timeout:g} s: a hang")
    lines = done.stderr.splitlines()
    if done.returncode == 0:
        # libFuzzer's last status line: "#200000 DONE cov: 199 ft: 853 corp: 185/10890b ..."
        status = [line for line in lines if "DONE" in line.split()[1:2]][-1:]
        detail = " ".join(status[0].split()[2:8]) if status else "done"
    else:  # the crash report: libFuzzer's own lines and the Python traceback
        detail = "\n".join(lines[-20:])
    return FuzzResult("atheris", done.returncode == 0, runs, time.perf_counter() - started, detail)


def run_fuzz(examples: int, atheris_runs: int, timeout: float) -> list[FuzzResult]:
    return [_hypothesis(examples, timeout), _atheris(atheris_runs, timeout)]
