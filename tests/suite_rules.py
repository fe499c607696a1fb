"""The suite's own rules, loaded by pyproject.toml's addopts (``-p suite_rules``) for every test.

Every test, those in tests/ and the code blocks below alike, must leave no understudy server
running, no file descriptor open and no thread running (``_no_leaks``).

Every ```` ```python ```` block of README.md and of docs/**/*.md is a test (pyproject.toml's
testpaths names them), collected by Sybil (https://sybil.readthedocs.io):

- The block runs as a module of its own, in a fresh namespace, with the Markdown file's folder as
  the working directory (so a relative path in a block means what a link beside it means). No
  block sees another's names: each is independent, in any order and on any pytest-xdist worker.
- Then each ``test*`` function the block defines is called, with its arguments filled by the
  pytest fixtures of the same names (``http_server``, ``smtp_server``, ``tmp_path``...; the
  functions of one block share one instance of a fixture), ``async def`` ones under
  ``asyncio.run``; and each ``unittest.TestCase`` it defines is run, its failures failing the
  block. A test's ``@pytest.mark.understudy(...)`` reaches the fixtures it names, as in a test
  module (such a test is the only one of its block, since the fixtures are shared);
  ``asyncio`` and ``anyio`` marks say what ``asyncio.run`` does; any other mark (``parametrize``,
  ``skip``...) is refused, as it would silently do nothing.
- A block that cannot run as written says so in the Markdown, visibly in the source and hidden
  when rendered, with an HTML comment right before its fence::

      <!-- not-runnable: why, and where the same code runs instead -->

  It is collected and reported as skipped with that reason. (Sybil's own ``skip`` directive is
  not used: it is an example of its own that must run before the block in the same process,
  which pytest-xdist does not promise.)
"""

from __future__ import annotations

import asyncio
import gc
import inspect
import logging
import os
import sys
import threading
import traceback
import types
import unittest
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest
from sybil import Document, Example, Region, Sybil
from sybil.parsers.markdown import CodeBlockParser

from understudy import _runtime

#: The HTML comment that marks the next block as not runnable, and says why.
_NOT_RUNNABLE = "<!-- not-runnable:"


# --- the leak checker -------------------------------------------------------------------------

#: Threads that live as long as the process: the runtime's loop and its worker pool, and the
#: default executor of the runtime's loop, made when an app first calls
#: ``run_in_executor(None, ...)`` (a test's own loop joins its executor's threads on closing).
_LONG_LIVED = ("understudy-loop", "understudy-worker", "asyncio_")
#: Seconds a thread started by the test may take to finish after it.
_THREAD_GRACE = 2.0


def _open_fds() -> set[int]:
    """The open file descriptors, but those of listeners the ``http_server`` fixture parked
    (kept from one test's server to the next's, by design: ``understudy/_http/_parking.py``)."""
    parked = sys.modules.get("understudy._http._parked")
    kept = {sock.fileno() for sock in parked.sockets()} if parked is not None else set()
    # (listdir's own descriptor is in its listing, and closed by the time it returns)
    listed = {int(fd) for fd in os.listdir("/proc/self/fd")} - kept
    return {fd for fd in listed if _is_open(fd)}


def _is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


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
    # An error asyncio logged (an exception in a callback on the loop every server shares, a
    # task's exception never retrieved) is a bug in understudy that no assertion sees.
    loop_errors = [
        record.getMessage().splitlines()[0]
        + ("\n" + "".join(traceback.format_exception(*record.exc_info)) if record.exc_info else "")
        for when in ("setup", "call")
        for record in caplog.get_records(when)
        if record.name == "asyncio" and record.levelno >= logging.ERROR
    ]
    assert not loop_errors, "asyncio logged errors during the test:\n" + "\n".join(loop_errors)
    # (first: a client thread the test let finish on its own closes its socket as it ends)
    new_threads = [
        thread
        for thread in set(threading.enumerate()) - threads_before
        if not thread.name.startswith(_LONG_LIVED)
    ]
    for thread in new_threads:
        thread.join(_THREAD_GRACE)
    leaked = _open_fds() - before
    if leaked:
        # A client object the test dropped still holds its socket; or a captured log record
        # does, through its exception's traceback (urllib3's "Retrying ... after connection
        # broken by ConnectionResetError"): let go of the records, then collect.
        caplog.get_records("call").clear()
        gc.collect()
        leaked = _open_fds() - before
    if leaked:
        # A connection its client closed is closed by the loop as it reads that end (a parked
        # http_server leaves it to the loop): let the loop take its turns, then look again.
        for _ in range(2):
            runtime.call_function(lambda: None, 5.0, what=lambda: "a loop turn", settle=True)
        leaked = _open_fds() - before
    assert not leaked, "the test leaked file descriptors: " + ", ".join(
        f"{fd} -> {_describe(fd)}" for fd in sorted(leaked)
    )
    still = [thread.name for thread in new_threads if thread.is_alive()]
    assert not still, f"the test left threads running: {still}"


def _describe(fd: int) -> str:
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return "?"


# --- the documentation's code blocks ----------------------------------------------------------


def _run_block(example: Example) -> None:
    """Run one block as a module, then the tests it defines (see the module's docstring)."""
    __tracebackhide__ = True
    request: pytest.FixtureRequest = example.namespace["request"]
    markdown = Path(example.path)
    request.getfixturevalue("monkeypatch").chdir(markdown.parent)
    module = types.ModuleType(f"{markdown.stem}_md_line_{example.line}")
    module.__file__ = str(markdown)
    code = compile(str(example.parsed), markdown, "exec", dont_inherit=True)
    # The block's lines are the Markdown file's (with pad() instead, a failure would show
    # the whole file above the block, as the source of the module's frame).
    code = _shift_lines(code, example.line + example.parsed.line_offset)
    exec(code, module.__dict__)
    defined = [
        (name, value)
        for name, value in module.__dict__.items()
        if getattr(value, "__module__", None) == module.__name__  # not imported
    ]
    tests = [value for name, value in defined if _is_test(name, value)]
    for value in tests:
        _apply_marks(value, request.node, alone=len(tests) == 1)
    for name, value in defined:
        if _is_test(name, value):
            arguments = {
                parameter: request.getfixturevalue(parameter)
                for parameter in inspect.signature(value).parameters
            }
            if inspect.iscoroutinefunction(value):
                asyncio.run(value(**arguments))
            else:
                value(**arguments)
        elif isinstance(value, type) and issubclass(value, unittest.TestCase):
            result = unittest.TestResult()
            unittest.defaultTestLoader.loadTestsFromTestCase(value).run(result)
            problems = [text for _, text in result.errors + result.failures]
            problems += [f"{test}: unexpected success" for test in result.unexpectedSuccesses]
            if problems or not result.testsRun:
                raise AssertionError(
                    f"{name}: {result.testsRun} tests ran, {len(problems)} failed:\n"
                    + "\n".join(problems)
                )


def _is_test(name: str, value: object) -> bool:
    return inspect.isfunction(value) and name.startswith("test")


#: Marks a block's test may carry though the runner applies none: it runs every coroutine so.
_ASYNC_MARKS = ("asyncio", "anyio")


def _apply_marks(test: types.FunctionType, node: pytest.Item, *, alone: bool) -> None:
    """Give the block's item ``test``'s ``understudy`` marks, before its fixtures are made."""
    marks: list[pytest.Mark] = getattr(test, "pytestmark", [])
    other = [mark.name for mark in marks if mark.name not in ("understudy", *_ASYNC_MARKS)]
    if other:
        raise ValueError(
            f"{test.__name__}: a block's test gets its fixtures and @pytest.mark.understudy, "
            f"not {other}: write it as a test under tests/ instead"
        )
    understudy_marks = [mark for mark in marks if mark.name == "understudy"]
    if understudy_marks and not alone:
        raise ValueError(
            f"{test.__name__}: the tests of a block share their fixtures, so its "
            "@pytest.mark.understudy would reach the others: put it in a block of its own"
        )
    for mark in understudy_marks:
        node.add_marker(pytest.mark.understudy.with_args(*mark.args, **mark.kwargs))


def _shift_lines(code: types.CodeType, offset: int) -> types.CodeType:
    """``code`` (and the functions and classes in it) with every line number ``offset`` later."""
    constants = tuple(
        _shift_lines(constant, offset) if isinstance(constant, types.CodeType) else constant
        for constant in code.co_consts
    )
    return code.replace(co_firstlineno=code.co_firstlineno + offset, co_consts=constants)


class _NotRunnable:
    """The evaluator of a block marked not runnable; ``pytest_itemcollected`` marks it skipped."""

    def __init__(self, reason: str) -> None:
        self.reason = f"marked not runnable: {reason}"

    def __call__(self, example: Example) -> None:
        pytest.skip(self.reason)


class _PythonBlocks(CodeBlockParser):
    """Each ```` ```python ```` fence; one preceded by ``<!-- not-runnable: reason -->`` skips."""

    def __init__(self) -> None:
        super().__init__(language="python", evaluator=_run_block)

    def __call__(self, document: Document) -> Iterable[Region]:
        for region in super().__call__(document):
            before = document.text[: region.start].rstrip()
            if before.endswith("-->"):
                comment = before[before.rfind("<!--") :]
                if comment.startswith(_NOT_RUNNABLE):
                    reason = " ".join(comment.removeprefix(_NOT_RUNNABLE)[:-3].split())
                    if not reason:
                        raise ValueError(
                            f"{document.path}: write why the block cannot run: "
                            "<!-- not-runnable: reason -->"
                        )
                    region.evaluator = _NotRunnable(reason)
            yield region


#: Which Markdown files are read is pytest_collect_file's choice, below. A Sybil item gets no
#: autouse fixture by itself: the leak checker is named here.
_collect_markdown = Sybil(
    parsers=[_PythonBlocks()], path="/", patterns=["*.md"], fixtures=["_no_leaks", "request"]
).pytest()


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    """Collect README.md and docs/**/*.md of the rootdir (pyproject.toml's testpaths names them)."""
    root = parent.config.rootpath
    if file_path == root / "README.md" or (
        file_path.suffix == ".md" and file_path.is_relative_to(root / "docs")
    ):
        return _collect_markdown(file_path, parent)  # type: ignore[no-any-return]
    return None


def pytest_itemcollected(item: pytest.Item) -> None:
    """Skip a block marked not runnable before its fixtures are set up; reported at its line."""
    example: Example | None = getattr(item, "example", None)
    if example is not None and isinstance(example.region.evaluator, _NotRunnable):
        item.add_marker(pytest.mark.skip(reason=example.region.evaluator.reason))
