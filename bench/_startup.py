"""(i) What understudy costs where it is unused: ``import understudy`` and the pytest plugin.

Each case is a fresh interpreter (``sys.executable``) run to its end, timed from outside: the
wall clock, and the CPU time the child used (user + system, from ``os.wait4``). The cases are
interleaved, round after round, and each keeps its medians, so a change in the machine's load
between rounds touches every case alike. On a busy machine (other processes on both cores) the
wall clock of a pytest run varies by a second from run to run, far more than the figures asked
about; the CPU time does not (loading modules is all CPU and cached disk), so the targets are
judged on the median CPU time, with the wall clock beside it.

Bytecode: the children write and read a bytecode cache of their own (``PYTHONPYCACHEPREFIX``, a
temporary directory, filled by the unrecorded first round), as an installed package has its
``.pyc`` files. Without one (``PYTHONDONTWRITEBYTECODE=1`` and no ``__pycache__``, as in some
sandboxes and CI images) every run compiles understudy's source again, and pytest rewrites the
asserts of every plugin module again (the peer's too), which costs more than loading them. The
main cases are also run so ("no bytecode cache"), for scale; the targets are judged on the
cached runs.

Imports: ``python -c pass`` (the floor), ``import understudy``, and ``import understudy;
understudy.HTTPServer`` (what a program that uses the HTTP server loads). Issue 20 asks for
≤ 30 ms and ≤ 60 ms over the floor. ``import asyncio`` alone is shown for scale: every server
runs on it, and on a busy machine it alone takes a good part of the 60 ms.

pytest: one file with one trivial test, in a temporary directory with an empty ``pytest.ini``
(so this project's settings play no part), run with every installed plugin, with ``-p
no:understudy``, with ``-p no:pytest_httpserver`` (the peer: its plugin is in the bench extra),
and with both. A plugin's cost is the median run with it minus the median run without it. Issue
20 asks for ≤ 30 ms for understudy's. The same run with no plugin autoloaded
(``PYTEST_DISABLE_PLUGIN_AUTOLOAD=1``), with and without ``-p understudy.pytest_plugin``, gives
understudy's cost again from runs a third as long, whose difference wanders less on a busy
machine.

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

#: What the name of a case run without a bytecode cache ends with.
NO_CACHE = ", no bytecode cache"
HTTP_SERVER = "import understudy; understudy.HTTPServer"
#: pytest with no plugin autoloaded (``PYTEST_DISABLE_PLUGIN_AUTOLOAD=1``), with understudy's.
ALONE = "pytest, understudy's plugin alone"
#: pytest with no plugin autoloaded.
NO_PLUGIN = "pytest, no plugin"

IMPORT_CASES: dict[str, str] = {
    "python -c pass": "pass",
    # For scale: the event loop every server needs, and what this machine takes to load it.
    "import asyncio (for scale)": "import asyncio",
    "import understudy": "import understudy",
    HTTP_SERVER: HTTP_SERVER,
    # (The floor loads nothing of understudy: it is the floor of these too.)
    "import understudy" + NO_CACHE: "import understudy",
    HTTP_SERVER + NO_CACHE: HTTP_SERVER,
}
PYTEST_CASES: dict[str, tuple[str, ...]] = {
    "pytest, every plugin": (),
    "pytest -p no:understudy": ("-p", "no:understudy"),
    "pytest -p no:pytest_httpserver": ("-p", "no:pytest_httpserver"),
    "pytest, neither": ("-p", "no:understudy", "-p", "no:pytest_httpserver"),
    "pytest, every plugin" + NO_CACHE: (),
    "pytest -p no:understudy" + NO_CACHE: ("-p", "no:understudy"),
    # understudy's plugin alone: a run a third as long, so a steadier difference.
    ALONE: ("-p", "understudy.pytest_plugin"),
    NO_PLUGIN: (),
}
_TIMEOUT = 60.0
_TEST = "def test_one():\n    assert 1 + 1 == 2\n"


@dataclass
class StartupResult:
    """Seconds of each case, one sample per round: CPU time (user + system) and wall clock."""

    rounds: int
    imports: dict[str, list[float]] = field(default_factory=dict)
    pytest: dict[str, list[float]] = field(default_factory=dict)
    wall: dict[str, list[float]] = field(default_factory=dict)

    def median(self, case: str) -> float:
        """The median CPU time of ``case``."""
        samples = self.imports.get(case) or self.pytest[case]
        return statistics.median(samples)

    def wall_median(self, case: str) -> float:
        return statistics.median(self.wall[case])


def child_environment(*, bytecode_cache: Path | None = None) -> dict[str, str]:
    """This environment, with no pytest settings, importing understudy from where we do.

    With ``bytecode_cache`` (a directory), the child writes and reads its ``.pyc`` files there
    (``PYTHONPYCACHEPREFIX``), even where this environment says ``PYTHONDONTWRITEBYTECODE``;
    otherwise the bytecode settings are this environment's."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("PYTEST_ADDOPTS", "PYTEST_PLUGINS", "PYTEST_DISABLE_PLUGIN_AUTOLOAD")
    }
    src = str(Path(understudy.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [src, env.get("PYTHONPATH")]))
    if bytecode_cache is not None:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(bytecode_cache)
    return env


def _no_cache_environment() -> dict[str, str]:
    """This environment with ``PYTHONDONTWRITEBYTECODE=1``: the standard library and the
    installed packages are read from their ``.pyc`` files, understudy's modules compiled from
    source each run (unless a ``__pycache__`` of theirs was written before), and pytest
    rewrites the asserts of every plugin module each run."""
    env = child_environment()
    env.pop("PYTHONPYCACHEPREFIX", None)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _time(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """``(cpu, wall)`` seconds of one run of ``command``; raises if it fails."""
    started = time.perf_counter()
    child = subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0 or elapsed > _TIMEOUT:
        raise RuntimeError(f"{' '.join(command)} exited {child.returncode} after {elapsed:.1f} s")
    return usage.ru_utime + usage.ru_stime, elapsed


def run(*, rounds: int) -> StartupResult:
    """``rounds`` interleaved rounds of every case (after one unrecorded, to warm the caches)."""
    result = StartupResult(rounds)
    with tempfile.TemporaryDirectory(prefix="understudy-bench-startup-") as directory:
        cwd = Path(directory) / "tests"
        cwd.mkdir()
        (cwd / "pytest.ini").write_text("[pytest]\n")
        (cwd / "test_one.py").write_text(_TEST)
        cached = child_environment(bytecode_cache=Path(directory) / "pycache")
        uncached = _no_cache_environment()
        bare = {**cached, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
        python = [sys.executable]
        pytest = [sys.executable, "-m", "pytest", "-q", "test_one.py"]
        for round_number in range(rounds + 1):
            for name, code in IMPORT_CASES.items():
                env = uncached if name.endswith(NO_CACHE) else cached
                cpu, wall = _time([*python, "-c", code], cwd, env)
                if round_number:
                    result.imports.setdefault(name, []).append(cpu)
                    result.wall.setdefault(name, []).append(wall)
            for name, options in PYTEST_CASES.items():
                env = uncached if name.endswith(NO_CACHE) else cached
                env = bare if name in (ALONE, NO_PLUGIN) else env
                cpu, wall = _time([*pytest, *options], cwd, env)
                if round_number:
                    result.pytest.setdefault(name, []).append(cpu)
                    result.wall.setdefault(name, []).append(wall)
    return result


def _base(name: str) -> str:
    """The case ``name`` is shown over: the floor, pytest with neither plugin, or (a pytest run
    with no bytecode cache) the same without understudy's plugin."""
    if name in IMPORT_CASES:
        return "python -c pass"
    if name in (ALONE, NO_PLUGIN):
        return NO_PLUGIN
    if name.endswith(NO_CACHE):
        return "pytest -p no:understudy" + NO_CACHE
    return "pytest, neither"


def startup_table(result: StartupResult) -> str:
    rows = []
    for name in [*result.imports, *result.pytest]:
        samples = result.imports.get(name) or result.pytest[name]
        base = _base(name)
        median = statistics.median(samples)
        wall = result.wall_median(name)
        rows.append(
            [
                name,
                str(len(samples)),
                ms(median),
                ms(median - result.median(base)),
                ms(min(samples) - min(result.imports.get(base) or result.pytest[base])),
                ms(wall),
                ms(wall - result.wall_median(base)),
            ]
        )
    headers = ["run", "runs", "CPU", "over base", "least over least", "wall", "wall over base"]
    return format_table(headers, rows)


def plugin_costs(
    result: StartupResult, *, wall: bool = False, best: bool = False, paired: bool = False
) -> dict[str, float]:
    """Seconds each plugin adds to a pytest run: the median with it minus the median without
    (CPU time; the wall clock's with ``wall``; with ``best``, the least CPU time of each case
    instead of its median: the other processes of a busy machine only ever add to it; with
    ``paired``, the median of the differences within a round, whose two runs met the same
    load). Also understudy's with no bytecode cache, as ``"understudy, no bytecode cache"``,
    and in a run with no other plugin, as ``"understudy alone"``."""

    def cost(with_it: str, without: str) -> float:
        if paired:
            pairs = zip(result.pytest[with_it], result.pytest[without], strict=True)
            return statistics.median(a - b for a, b in pairs)
        if best:
            return min(result.pytest[with_it]) - min(result.pytest[without])
        if wall:
            return result.wall_median(with_it) - result.wall_median(without)
        return result.median(with_it) - result.median(without)

    every = "pytest, every plugin"
    return {
        "understudy": cost(every, "pytest -p no:understudy"),
        "pytest-httpserver": cost(every, "pytest -p no:pytest_httpserver"),
        "understudy" + NO_CACHE: cost(every + NO_CACHE, "pytest -p no:understudy" + NO_CACHE),
        "understudy alone": cost(ALONE, NO_PLUGIN),
    }


def _ratio(value: float, of: float) -> str:
    return f"{value / of:.2f}x" if of > 0 else "-"


def startup_targets(result: StartupResult) -> list[Target]:
    floor = result.median("python -c pass")
    imported = result.median("import understudy") - floor
    http = result.median(HTTP_SERVER) - floor
    http_cold = result.median(HTTP_SERVER + NO_CACHE) - floor
    event_loop = result.median("import asyncio (for scale)") - floor
    costs = plugin_costs(result)
    walls = plugin_costs(result, wall=True)
    bests = plugin_costs(result, best=True)
    pairs = plugin_costs(result, paired=True)
    wall_floor = result.wall_median("python -c pass")
    wall_imported = result.wall_median("import understudy") - wall_floor
    wall_http = result.wall_median(HTTP_SERVER) - wall_floor
    # Judged on the runs with no other plugin, paired by round: among every installed plugin
    # a run costs 0.6 s, and the difference of two such medians wanders by ±40 ms on a busy
    # machine, more than the target; the plugin loads the same in both.
    ours, peer = pairs["understudy alone"], pairs["pytest-httpserver"]
    return [
        Target(
            "pytest startup: understudy's plugin adds (CPU)",
            "≤ 30 ms",
            f"{ms(ours)} ms with no other plugin (paired median), {_ratio(ours, peer)} "
            f"pytest-httpserver's {ms(peer)} ms among every plugin; among every plugin, "
            f"understudy's: {ms(pairs['understudy'])} ms paired, {ms(costs['understudy'])} ms "
            f"by medians, {ms(bests['understudy'])} ms by least CPU "
            f"({ms(bests['pytest-httpserver'])} for the peer), wall clock "
            f"{ms(walls['understudy'])} ms; no bytecode cache: "
            f"{ms(pairs['understudy' + NO_CACHE])} ms",
            ours <= 0.030,
        ),
        Target(
            "import understudy, over python -c pass (CPU)",
            "≤ 30 ms",
            f"{ms(imported)} ms (wall clock: {ms(wall_imported)} ms)",
            imported <= 0.030,
        ),
        Target(
            "import understudy; understudy.HTTPServer, over pass (CPU)",
            "≤ 60 ms",
            f"{ms(http)} ms, {_ratio(http, event_loop)} import asyncio's {ms(event_loop)} ms (wall "
            f"clock: {ms(wall_http)} ms; no bytecode cache: {ms(http_cold)} ms)",
            http <= 0.060,
        ),
    ]


def startup_json(result: StartupResult) -> dict[str, object]:
    return {
        "rounds": result.rounds,
        "bytecode": "cached in a private PYTHONPYCACHEPREFIX, except the cases whose name "
        f"ends {NO_CACHE!r} (PYTHONDONTWRITEBYTECODE=1)",
        "cpu_seconds": {
            name: {"median": statistics.median(samples), "samples": samples}
            for name, samples in {**result.imports, **result.pytest}.items()
        },
        "wall_seconds": {
            name: {"median": statistics.median(samples), "samples": samples}
            for name, samples in result.wall.items()
        },
        "plugin_cost_cpu_seconds": plugin_costs(result),
        "plugin_cost_wall_seconds": plugin_costs(result, wall=True),
        "plugin_cost_least_cpu_seconds": plugin_costs(result, best=True),
        "plugin_cost_paired_cpu_seconds": plugin_costs(result, paired=True),
    }
