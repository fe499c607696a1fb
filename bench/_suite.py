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
far more than the 0.2 ms asked about. So the target is read off runs **in blocks**: one pytest
process holds the floor's test and the case's, in blocks of ``BLOCK`` (25) tests of each (25 of
the floor's, 25 of the case's, 25 of the floor's, ...), every test timed from its setup to its
teardown (``pytest_runtest_protocol``). A round's figure is the median over the blocks (after a
tenth of them as a warm-up) of the difference of a case block's median and the floor block's
before it, the first ``SETTLE`` (2) tests of each block left out: whatever speed the process
runs at, the two blocks of a difference run at it. This is made for understudy and for
pytest-httpserver in every round; the target takes the median over the rounds.

Why blocks, and not the floor's test and the case's alternating one by one: in a suite of its
own, as the issue defines it, each test follows a test of its kind, whose code and data it uses
again. Alternating, every test follows the other kind's, and costs more CPU time (the caches
hold the other kind's code and data, the likeliest reading): over 20 interleaved rounds on
2026-12-07, understudy's test cost the loop's thread 90 µs and the test's thread 311 µs more
than the floor's alternating, against 37 and 217 µs in blocks of 25, and 0.36 ms over the floor
against 0.26 ms (higher in 18 of the 20 rounds). The alternating figure is still made for
understudy in every round and printed beside the target: it is the cost of a fixture test among
tests of other kinds.
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

__all__ = [
    "BLOCK",
    "SETTLE",
    "SuiteResult",
    "blocked_table",
    "run",
    "suite_json",
    "suite_table",
    "suite_targets",
]

_BODY = "hello, world\n"
_CONFTEST = """
import json, os, statistics, time
import pytest

ORDER = os.environ.get("UNDERSTUDY_BENCH_SUITE_ORDER")  # (None: one case alone)
BLOCK, SETTLE = {block}, {settle}
TIMES = {{}}

def _difference(floor, case):
    if ORDER == "alternate":
        pairs = list(zip(floor, case))
        return statistics.median(c - f for f, c in pairs[len(pairs) // 10:])
    blocks = [
        statistics.median(case[start + SETTLE:start + BLOCK])
        - statistics.median(floor[start + SETTLE:start + BLOCK])
        for start in range(0, min(len(floor), len(case)) - BLOCK + 1, BLOCK)  # (whole ones)
    ]
    return statistics.median(blocks[len(blocks) // 10:])

@pytest.hookimpl(wrapper=True)
def pytest_runtestloop(session):
    started, cpu = time.perf_counter(), time.process_time()
    try:
        return (yield)
    finally:
        seconds = time.perf_counter() - started
        cpu = time.process_time() - cpu
        figures = {{"seconds": seconds, "cpu": cpu, "tests": session.testscollected,
                   "failed": session.testsfailed}}
        if ORDER:
            floor, case = TIMES.get("test_floor", []), TIMES.get("test_case", [])
            figures["difference"] = _difference(floor, case)
            figures["floor"] = statistics.median(floor[len(floor) // 10:])
            figures["case"] = statistics.median(case[len(case) // 10:])
        with open(os.environ["UNDERSTUDY_BENCH_SUITE_OUT"], "w") as out:
            json.dump(figures, out)

if ORDER:
    def pytest_collection_modifyitems(items):
        floor = [item for item in items if item.originalname == "test_floor"]
        case = [item for item in items if item.originalname == "test_case"]
        step = 1 if ORDER == "alternate" else BLOCK
        items[:] = [
            item
            for start in range(0, len(floor), step)
            for item in floor[start:start + step] + case[start:start + step]
        ]

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

#: The runs in blocks: the floor's test (its session server) and the case's, in blocks of
#: ``BLOCK`` in one pytest process (see the module's docstring), each made of the same sources
#: as above; the first ``SETTLE`` tests of a block (those right after the other kind's) are
#: left out of its median.
_BLOCKED = (OURS, PEERS[0])
BLOCK, SETTLE = 25, 2


@dataclass
class SuiteResult:
    """Seconds of pytest's run-test loop per case, one entry per round (wall clock in
    ``loops``, process CPU in ``cpu``); ``errors`` by case."""

    tests: int
    loops: dict[str, list[float]] = field(default_factory=dict)
    cpu: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    #: Runs in blocks, per case, one entry per round: the median of the blocks' differences
    #: (case minus floor, seconds), and the medians of the floor's and the case's tests.
    blocked: dict[str, list[float]] = field(default_factory=dict)
    blocked_floor: dict[str, list[float]] = field(default_factory=dict)
    blocked_case: dict[str, list[float]] = field(default_factory=dict)
    #: understudy's test alternating with the floor's, one by one: the median of the pairs'
    #: differences (seconds), one entry per round.
    alternating: list[float] = field(default_factory=list)

    def blocked_over(self, case: str) -> float | None:
        """The median over the rounds of the difference in blocks (seconds per test)."""
        rounds = self.blocked.get(case)
        return statistics.median(rounds) if rounds else None

    def alternating_over(self) -> float | None:
        """The median over the rounds of the alternating difference (seconds per test)."""
        return statistics.median(self.alternating) if self.alternating else None

    def per_test(self, case: str) -> float | None:
        loops = self.loops.get(case)
        return min(loops) / self.tests if loops else None

    def cpu_per_test(self, case: str) -> float | None:
        cpu = self.cpu.get(case)
        return min(cpu) / self.tests if cpu else None


def _run_case(
    directory: Path, name: str, index: int | str, *, order: str | None = None
) -> dict[str, float]:
    """Run ``test_case_{index}.py`` in a fresh pytest; the figures its conftest wrote.
    ``order``: ``"blocks"`` or ``"alternate"`` for a file of the floor's test and a case's."""
    path = directory / f"test_case_{index}.py"
    out = directory / f"case_{index}.json"
    env = {**child_environment(), "UNDERSTUDY_BENCH_SUITE_OUT": str(out)}
    if order is not None:
        env["UNDERSTUDY_BENCH_SUITE_ORDER"] = order
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
    """Run each case's suite of ``tests`` tests (a multiple of ``BLOCK``) ``rounds`` times."""
    if tests < BLOCK or tests % BLOCK:
        raise ValueError(f"the suites are read in blocks of {BLOCK} tests: not {tests} tests")
    result = SuiteResult(tests)
    with tempfile.TemporaryDirectory(prefix="understudy-bench-suite-") as name:
        directory = Path(name)
        (directory / "pytest.ini").write_text("[pytest]\naddopts = -p no:hypothesispytest\n")
        conftest = _CONFTEST.format(block=BLOCK, settle=SETTLE)
        (directory / "conftest.py").write_text(conftest)
        for index, source in enumerate(_CASES.values()):
            text = source.format(tests=tests, body=_BODY, name="test_get")
            (directory / f"test_case_{index}.py").write_text(text)
        for index, case in enumerate(_BLOCKED):
            floor = _CASES[FLOOR].format(tests=tests, body=_BODY, name="test_floor")
            text = floor + _CASES[case].format(tests=tests, body=_BODY, name="test_case")
            (directory / f"test_case_with_floor_{index}.py").write_text(text)
        for _ in range(rounds):
            for index, case in enumerate(_CASES):
                _run_into(result, directory, case, index)
            for index, case in enumerate(_BLOCKED):
                _run_into(result, directory, case, f"with_floor_{index}", order="blocks")
            _run_into(result, directory, OURS, "with_floor_0", order="alternate")
    return result


def _run_into(
    result: SuiteResult,
    directory: Path,
    case: str,
    index: int | str,
    *,
    order: str | None = None,
) -> None:
    """One round of ``case``, its figures added to ``result`` (or its error, once)."""
    key = case if order is None else f"{case} ({order})"
    if key in result.errors:
        return
    try:
        figures = _run_case(directory, case, index, order=order)
    except (RuntimeError, subprocess.TimeoutExpired) as error:
        result.errors[key] = str(error)
        return
    if order == "alternate":
        result.alternating.append(figures["difference"])
    elif order == "blocks":
        result.blocked.setdefault(case, []).append(figures["difference"])
        result.blocked_floor.setdefault(case, []).append(figures["floor"])
        result.blocked_case.setdefault(case, []).append(figures["case"])
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


def blocked_table(result: SuiteResult) -> str:
    """The runs in blocks: per case, the median over the rounds of the blocks' median
    difference, the floor's and the case's medians, and each round's difference; then
    understudy's test alternating with the floor's."""
    rows = []
    for case in _BLOCKED:
        over = result.blocked_over(case)
        if over is None:
            rows.append([case, "-", "-", "-", result.errors.get(f"{case} (blocks)", "")[:60]])
            continue
        floor = statistics.median(result.blocked_floor[case])
        mine = statistics.median(result.blocked_case[case])
        rounds = " / ".join(ms(value) for value in result.blocked[case])
        rows.append([case, ms(over), ms(floor), ms(mine), rounds])
    alternating = result.alternating_over()
    if alternating is None:
        error = result.errors.get(f"{OURS} (alternate)", "")[:60]
        rows.append([f"{OURS}, alternating", "-", "-", "-", error])
    else:
        rounds = " / ".join(ms(value) for value in result.alternating)
        rows.append([f"{OURS}, alternating", ms(alternating), "", "", rounds])
    headers = ["with the floor's test", "over the floor", "floor's test", "case's test", "rounds"]
    return format_table(headers, rows)


def suite_targets(result: SuiteResult) -> list[Target]:
    """The target, read off the runs in blocks (median over the rounds); the alternating and
    separate-process figures beside it."""
    name = "per test: fresh http_server + one requests.get, over the floor (in blocks)"
    over = result.blocked_over(OURS)
    if over is None:
        return [Target(name, "≤ 0.2 ms", "a run failed", None)]
    peer = result.blocked_over(PEERS[0])
    peers = "" if peer is None else f"; pytest-httpserver {ms(peer)}"
    alternating = result.alternating_over()
    mixed = "" if alternating is None else f"; alternating {ms(alternating)}"
    floor, ours = result.per_test(FLOOR), result.per_test(OURS)
    alone = "" if floor is None or ours is None else f"; each in its own process {ms(ours - floor)}"
    rounds = " / ".join(ms(value) for value in result.blocked[OURS])
    measured = f"{ms(over)} ms (rounds {rounds}{peers}{mixed}{alone})"
    return [Target(name, "≤ 0.2 ms", measured, over <= 0.0002)]


def suite_json(result: SuiteResult) -> dict[str, object]:
    return {
        "tests": result.tests,
        "loop_seconds": result.loops,
        "per_test_seconds": {case: result.per_test(case) for case in _CASES},
        "cpu_seconds": result.cpu,
        "cpu_per_test_seconds": {case: result.cpu_per_test(case) for case in _CASES},
        "block": BLOCK,
        "blocked_difference_seconds": result.blocked,
        "blocked_floor_seconds": result.blocked_floor,
        "blocked_case_seconds": result.blocked_case,
        "blocked_over_seconds": {case: result.blocked_over(case) for case in _BLOCKED},
        "alternating_difference_seconds": result.alternating,
        "alternating_over_seconds": result.alternating_over(),
        "errors": result.errors,
    }
