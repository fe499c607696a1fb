"""(i) What understudy costs where it is unused: ``import understudy`` and the pytest plugin.

Each case is a fresh interpreter (``sys.executable``) run to its end, timed from outside with
the wall clock; the cases are interleaved, round after round, and each keeps its median, so a
change in the machine's load between rounds touches every case alike.

Imports: ``python -c pass`` (the floor), ``import understudy``, and ``import understudy;
understudy.HTTPServer`` (what a program that uses the HTTP server loads). Issue 20 asks for
≤ 30 ms and ≤ 60 ms over the floor.

pytest: one file with one trivial test, in a temporary directory with an empty ``pytest.ini``
(so this project's settings play no part), run with every installed plugin, with ``-p
no:understudy``, with ``-p no:pytest_httpserver`` (the peer: its plugin is in the bench extra),
and with both. A plugin's cost is the median run with it minus the median run without it. Issue
20 asks for ≤ 30 ms for understudy's.

Every child imports understudy from the same place this process does (``PYTHONPATH``), so a
worktree's bench measures the worktree's code.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import understudy

from ._report import Target, format_table, ms

__all__ = [
    "StartupResult",
    "child_environment",
    "run",
    "startup_json",
    "startup_table",
    "startup_targets",
]

IMPORT_CASES: dict[str, str] = {
    "python -c pass": "pass",
    "import understudy": "import understudy",
    "import understudy; understudy.HTTPServer": "import understudy; understudy.HTTPServer",
}
PYTEST_CASES: dict[str, tuple[str, ...]] = {
    "pytest, every plugin": (),
    "pytest -p no:understudy": ("-p", "no:understudy"),
    "pytest -p no:pytest_httpserver": ("-p", "no:pytest_httpserver"),
    "pytest, neither": ("-p", "no:understudy", "-p", "no:pytest_httpserver"),
}
_TIMEOUT = 60.0
_TEST = "def test_one():\n    assert 1 + 1 == 2\n"


@dataclass
class StartupResult:
    """Wall-clock seconds of each case, one sample per round."""

    rounds: int
    imports: dict[str, list[float]] = field(default_factory=dict)
    pytest: dict[str, list[float]] = field(default_factory=dict)

    def median(self, case: str) -> float:
        samples = self.imports.get(case) or self.pytest[case]
        return statistics.median(samples)


def child_environment() -> dict[str, str]:
    """This environment, with no pytest settings, importing understudy from where we do."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("PYTEST_ADDOPTS", "PYTEST_PLUGINS", "PYTEST_DISABLE_PLUGIN_AUTOLOAD")
    }
    src = str(Path(understudy.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [src, env.get("PYTHONPATH")]))
    return env


def _time(command: list[str], cwd: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        command,
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        timeout=_TIMEOUT,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {done.returncode}: {done.stderr[-400:]!r}")
    return elapsed


def run(*, rounds: int) -> StartupResult:
    """``rounds`` interleaved rounds of every case (after one unrecorded, to warm the caches)."""
    env = child_environment()
    result = StartupResult(rounds)
    with tempfile.TemporaryDirectory(prefix="understudy-bench-startup-") as directory:
        cwd = Path(directory)
        (cwd / "pytest.ini").write_text("[pytest]\n")
        (cwd / "test_one.py").write_text(_TEST)
        python = [sys.executable]
        pytest = [sys.executable, "-m", "pytest", "-q", "test_one.py"]
        for round_number in range(rounds + 1):
            for name, code in IMPORT_CASES.items():
                seconds = _time([*python, "-c", code], cwd, env)
                if round_number:
                    result.imports.setdefault(name, []).append(seconds)
            for name, options in PYTEST_CASES.items():
                seconds = _time([*pytest, *options], cwd, env)
                if round_number:
                    result.pytest.setdefault(name, []).append(seconds)
    return result


def startup_table(result: StartupResult) -> str:
    rows = []
    floor = result.median("python -c pass")
    for name, samples in result.imports.items():
        median = statistics.median(samples)
        rows.append([name, str(len(samples)), ms(median), ms(min(samples)), ms(median - floor)])
    bare = result.median("pytest, neither")
    for name, samples in result.pytest.items():
        median = statistics.median(samples)
        rows.append([name, str(len(samples)), ms(median), ms(min(samples)), ms(median - bare)])
    headers = ["run", "runs", "median", "min", "over the floor / bare pytest"]
    return format_table(headers, rows)


def plugin_costs(result: StartupResult) -> dict[str, float]:
    """Seconds each plugin adds to a pytest run: the median with it minus the median without."""
    every = result.median("pytest, every plugin")
    return {
        "understudy": every - result.median("pytest -p no:understudy"),
        "pytest-httpserver": every - result.median("pytest -p no:pytest_httpserver"),
    }


def startup_targets(result: StartupResult) -> list[Target]:
    floor = result.median("python -c pass")
    imported = result.median("import understudy") - floor
    http = result.median("import understudy; understudy.HTTPServer") - floor
    costs = plugin_costs(result)
    return [
        Target(
            "pytest startup: understudy's plugin adds",
            "≤ 30 ms",
            f"{ms(costs['understudy'])} ms (pytest-httpserver's: "
            f"{ms(costs['pytest-httpserver'])} ms)",
            costs["understudy"] <= 0.030,
        ),
        Target(
            "import understudy, over python -c pass",
            "≤ 30 ms",
            f"{ms(imported)} ms",
            imported <= 0.030,
        ),
        Target(
            "import understudy; understudy.HTTPServer, over pass",
            "≤ 60 ms",
            f"{ms(http)} ms",
            http <= 0.060,
        ),
    ]


def startup_json(result: StartupResult) -> dict[str, object]:
    return {
        "rounds": result.rounds,
        "imports_seconds": {
            name: {"median": statistics.median(samples), "samples": samples}
            for name, samples in result.imports.items()
        },
        "pytest_seconds": {
            name: {"median": statistics.median(samples), "samples": samples}
            for name, samples in result.pytest.items()
        },
        "plugin_cost_seconds": plugin_costs(result),
    }
