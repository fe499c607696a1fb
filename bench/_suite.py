"""(j) Per-test cost in a suite: a fresh ``http_server`` per test, beside the floor and peers.

One generated test file per case, each a test parametrized ``tests`` times (1000; 300 with
``--quick``), run by pytest in a fresh interpreter in an empty temporary directory. A
``conftest.py`` times pytest's run-test loop (``pytest_runtestloop``: every test's setup, call
and teardown, nothing of start-up or collection) and writes it to a file; the per-test cost is
that divided by the number of tests, beside the CPU time the process spent meanwhile (every
thread: the test's and understudy's loop), a figure other processes on a loaded machine disturb
less than the wall clock. Cases, interleaved round after round, each keeping its best
round (noise only ever adds time):

- **floor**: one understudy ``HTTPServer`` started for the whole session, each test one
  ``requests.get`` to it: the cost of the request alone.
- **understudy**: each test takes a fresh ``http_server`` fixture, sets one expectation
  (``expect("GET", "/").respond(...)``), makes the same ``requests.get``; the plugin stops the
  server and verifies it after the test.
- **pytest-httpserver**: its ``httpserver`` fixture (one server for the session, cleared after
  each test), ``expect_request("/").respond_with_data(...)``, the same ``requests.get``, and
  ``check_assertions()``.
- **responses**: no socket at all, ``@responses.activate`` and ``responses.get(...)`` mock
  requests' transport: the same ``requests.get``.
- **no request**: an empty test, pytest's own cost per test.

Issue 20 asks for understudy's per-test cost ≤ the floor's + 0.2 ms. Each case in a process of
its own leaves the difference at the mercy of each process's speed: on a 2-vCPU virtual machine
the floor's rounds move by a third from one process to the next (2.09 to 2.79 ms in one run),
far more than the 0.2 ms asked about. So the target is read off **paired** runs: one pytest
process holds the floor's test and the case's, which alternate (floor, case, floor, ...), each
timed from its setup to its teardown (``pytest_runtest_protocol``); the figure is the median of
the differences of each pair (after a tenth of them as a warm-up), whatever speed the process
runs at. A paired run is made for understudy and for pytest-httpserver in every round; the
target takes the median over the rounds.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ._report import Target, format_table, ms
from ._startup import child_environment

__all__ = ["SuiteResult", "paired_table", "run", "suite_json", "suite_table", "suite_targets"]

_BODY = "hello, world\n"
_CONFTEST = """
import json, os, statistics, time
import pytest

PAIRED = os.environ.get("UNDERSTUDY_BENCH_SUITE_PAIRED") == "1"
TIMES = {}

@pytest.hookimpl(wrapper=True)
def pytest_runtestloop(session):
    started, cpu = time.perf_counter(), time.process_time()
    try:
        return (yield)
    finally:
        seconds = time.perf_counter() - started
        cpu = time.process_time() - cpu
        figures = {"seconds": seconds, "cpu": cpu, "tests": session.testscollected,
                   "failed": session.testsfailed}
        if PAIRED:
            pairs = list(zip(TIMES.get("test_floor", []), TIMES.get("test_case", [])))
            measured = pairs[len(pairs) // 10:]  # (a tenth of them: the warm-up)
            figures["pairs"] = len(measured)
            figures["paired_difference"] = statistics.median(c - f for f, c in measured)
            figures["floor"] = statistics.median(f for f, _ in measured)
            figures["case"] = statistics.median(c for _, c in measured)
        with open(os.environ["UNDERSTUDY_BENCH_SUITE_OUT"], "w") as out:
            json.dump(figures, out)

if PAIRED:
    def pytest_collection_modifyitems(items):
        floor = [item for item in items if item.originalname == "test_floor"]
        case = [item for item in items if item.originalname == "test_case"]
        items[:] = [item for pair in zip(floor, case) for item in pair]

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_protocol(item, nextitem):
        started = time.perf_counter()
        try:
            return (yield)
        finally:
            TIMES.setdefault(item.originalname, []).append(time.perf_counter() - started)
"""
_CASES: dict[str, str] = {
    "floor: requests.get to a running server": """
import pytest, requests, understudy

@pytest.fixture(scope="session")
def running():
    response = understudy.Response(200, body={body!r}, content_type="text/plain")
    with understudy.HTTPServer(response=response) as server:
        yield server

@pytest.mark.parametrize("n", range({tests}))
def {name}(running, n):
    reply = requests.get(running.url + "/", timeout=5)
    assert reply.text == {body!r}
""",
    "understudy: fresh http_server fixture": """
import pytest, requests

@pytest.mark.parametrize("n", range({tests}))
def {name}(http_server, n):
    http_server.expect("GET", "/").respond(200, body={body!r})
    reply = requests.get(http_server.url + "/", timeout=5)
    assert reply.text == {body!r}
""",
    "pytest-httpserver: httpserver fixture": """
import pytest, requests

@pytest.mark.parametrize("n", range({tests}))
def {name}(httpserver, n):
    httpserver.expect_request("/").respond_with_data({body!r})
    reply = requests.get(httpserver.url_for("/"), timeout=5)
    assert reply.text == {body!r}
    httpserver.check_assertions()
""",
    "responses: mocked transport, no socket": """
import pytest, requests, responses

@pytest.mark.parametrize("n", range({tests}))
@responses.activate
def {name}(n):
    responses.get("http://127.0.0.1:9/", body={body!r})
    reply = requests.get("http://127.0.0.1:9/", timeout=5)
    assert reply.text == {body!r}
""",
    "no request: an empty test": """
import pytest

@pytest.mark.parametrize("n", range({tests}))
def {name}(n):
    pass
""",
}
FLOOR = "floor: requests.get to a running server"
OURS = "understudy: fresh http_server fixture"
PEERS = ("pytest-httpserver: httpserver fixture", "responses: mocked transport, no socket")

#: The paired runs: the floor's test (its session server) and the case's, alternating in one
#: pytest process (see the module's docstring), each made of the same sources as above.
_PAIRED = (OURS, PEERS[0])


@dataclass
class SuiteResult:
    """Seconds of pytest's run-test loop per case, one entry per round (wall clock in
    ``loops``, process CPU in ``cpu``); ``errors`` by case."""

    tests: int
    loops: dict[str, list[float]] = field(default_factory=dict)
    cpu: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    #: Paired runs, per case, one entry per round: the median of the pairs' differences
    #: (case minus floor, seconds), and the medians of the floor's and the case's tests.
    paired: dict[str, list[float]] = field(default_factory=dict)
    paired_floor: dict[str, list[float]] = field(default_factory=dict)
    paired_case: dict[str, list[float]] = field(default_factory=dict)

    def paired_over(self, case: str) -> float | None:
        """The median over the rounds of the paired difference (seconds per test)."""
        rounds = self.paired.get(case)
        return statistics.median(rounds) if rounds else None

    def per_test(self, case: str) -> float | None:
        loops = self.loops.get(case)
        return min(loops) / self.tests if loops else None

    def cpu_per_test(self, case: str) -> float | None:
        cpu = self.cpu.get(case)
        return min(cpu) / self.tests if cpu else None


def _run_case(
    directory: Path, name: str, index: int | str, *, paired: bool = False
) -> dict[str, float]:
    """Run ``test_case_{index}.py`` in a fresh pytest; the figures its conftest wrote."""
    path = directory / f"test_case_{index}.py"
    out = directory / f"case_{index}.json"
    env = {**child_environment(), "UNDERSTUDY_BENCH_SUITE_OUT": str(out)}
    if paired:
        env["UNDERSTUDY_BENCH_SUITE_PAIRED"] = "1"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", path.name],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0 or not out.exists():
        raise RuntimeError(f"{name}: pytest exited {done.returncode}: {done.stdout[-600:]}")
    figures = json.loads(out.read_text())
    if figures["failed"]:
        raise RuntimeError(f"{name}: {figures['failed']} tests failed")
    return {key: float(value) for key, value in figures.items()}


def run(*, tests: int, rounds: int) -> SuiteResult:
    result = SuiteResult(tests)
    with tempfile.TemporaryDirectory(prefix="understudy-bench-suite-") as name:
        directory = Path(name)
        (directory / "pytest.ini").write_text("[pytest]\naddopts = -p no:hypothesispytest\n")
        (directory / "conftest.py").write_text(_CONFTEST)
        for index, source in enumerate(_CASES.values()):
            text = source.format(tests=tests, body=_BODY, name="test_get")
            (directory / f"test_case_{index}.py").write_text(text)
        for index, case in enumerate(_PAIRED):
            floor = _CASES[FLOOR].format(tests=tests, body=_BODY, name="test_floor")
            text = floor + _CASES[case].format(tests=tests, body=_BODY, name="test_case")
            (directory / f"test_case_paired_{index}.py").write_text(text)
        for _ in range(rounds):
            for index, case in enumerate(_CASES):
                _run_into(result, directory, case, index)
            for index, case in enumerate(_PAIRED):
                _run_into(result, directory, case, f"paired_{index}", paired=True)
    return result


def _run_into(
    result: SuiteResult, directory: Path, case: str, index: int | str, *, paired: bool = False
) -> None:
    """One round of ``case``, its figures added to ``result`` (or its error, once)."""
    key = f"{case} (paired)" if paired else case
    if key in result.errors:
        return
    try:
        figures = _run_case(directory, case, index, paired=paired)
    except (RuntimeError, subprocess.TimeoutExpired) as error:
        result.errors[key] = str(error)
        return
    if paired:
        result.paired.setdefault(case, []).append(figures["paired_difference"])
        result.paired_floor.setdefault(case, []).append(figures["floor"])
        result.paired_case.setdefault(case, []).append(figures["case"])
    else:
        result.loops.setdefault(case, []).append(figures["seconds"])
        result.cpu.setdefault(case, []).append(figures["cpu"])


def suite_table(result: SuiteResult) -> str:
    floor, floor_cpu = result.per_test(FLOOR), result.cpu_per_test(FLOOR)
    rows = []
    for case in _CASES:
        per_test, cpu = result.per_test(case), result.cpu_per_test(case)
        if per_test is None or cpu is None:
            rows.append([case, "-", "-", "-", "-", "-", result.errors.get(case, "")[:60]])
            continue
        rounds = " / ".join(f"{ms(loop / result.tests)}" for loop in result.loops[case])
        over = ms(per_test - floor) if floor is not None else "-"
        cpu_over = ms(cpu - floor_cpu) if floor_cpu is not None else "-"
        rows.append([case, str(result.tests), ms(per_test), over, ms(cpu), cpu_over, rounds])
    headers = ["suite", "tests", "per test", "over the floor", "CPU", "CPU over", "each round"]
    return format_table(headers, rows)


def paired_table(result: SuiteResult) -> str:
    """The paired runs: per case, the median over the rounds of the pairs' median difference,
    the floor's and the case's medians, and each round's difference."""
    rows = []
    for case in _PAIRED:
        over = result.paired_over(case)
        if over is None:
            rows.append([case, "-", "-", "-", result.errors.get(f"{case} (paired)", "")[:60]])
            continue
        floor = statistics.median(result.paired_floor[case])
        mine = statistics.median(result.paired_case[case])
        rounds = " / ".join(ms(value) for value in result.paired[case])
        rows.append([case, ms(over), ms(floor), ms(mine), rounds])
    headers = ["paired with the floor", "over the floor", "floor's test", "case's test", "rounds"]
    return format_table(headers, rows)


def suite_targets(result: SuiteResult) -> list[Target]:
    """The target, read off the paired runs (median over the rounds); the separate-process
    figures beside it."""
    name = "per test: fresh http_server + one requests.get, over the floor (paired)"
    over = result.paired_over(OURS)
    if over is None:
        return [Target(name, "≤ 0.2 ms", "a run failed", None)]
    peer = result.paired_over(PEERS[0])
    peers = "" if peer is None else f"; pytest-httpserver {ms(peer)}"
    floor, ours = result.per_test(FLOOR), result.per_test(OURS)
    alone = "" if floor is None or ours is None else f"; each in its own process {ms(ours - floor)}"
    rounds = " / ".join(ms(value) for value in result.paired[OURS])
    return [
        Target(name, "≤ 0.2 ms", f"{ms(over)} ms (rounds {rounds}{peers}{alone})", over <= 0.0002)
    ]


def suite_json(result: SuiteResult) -> dict[str, object]:
    return {
        "tests": result.tests,
        "loop_seconds": result.loops,
        "per_test_seconds": {case: result.per_test(case) for case in _CASES},
        "cpu_seconds": result.cpu,
        "cpu_per_test_seconds": {case: result.cpu_per_test(case) for case in _CASES},
        "paired_difference_seconds": result.paired,
        "paired_floor_seconds": result.paired_floor,
        "paired_case_seconds": result.paired_case,
        "paired_over_seconds": {case: result.paired_over(case) for case in _PAIRED},
        "errors": result.errors,
    }
