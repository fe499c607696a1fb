"""The Python blocks of README.md and docs/ are tests (tests/suite_rules.py): each is collected,
runs, and fails when what it shows no longer works."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from sybil import Document

from suite_rules import _PythonBlocks

ROOT = Path(__file__).parent.parent
TESTS = Path(__file__).parent

#: An opening fence whose info string starts with a Python-ish language name: ```python, ```py,
#: ```python3, ```pycon, ```python title="x"... Only a bare ```python is collected, so any other
#: spelling would be a block that silently never runs.
_PYTHONISH_FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})[ \t]*\{?\.?(py\w*)(.*)$", re.MULTILINE)


def _markdown_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def _python_fences(path: Path) -> int:
    return sum(1 for match in _PYTHONISH_FENCE.finditer(path.read_text(encoding="utf-8")))


def test_every_python_fence_is_spelled_python() -> None:
    odd = [
        f"{path.relative_to(ROOT)}: {match.group(0).strip()}"
        for path in _markdown_files()
        for match in _PYTHONISH_FENCE.finditer(path.read_text(encoding="utf-8"))
        if (match.group(2), match.group(3).strip()) != ("python", "")
    ]
    assert not odd, (
        "write a Python block as a bare ```python fence (it is collected as a test); "
        f"mark one that cannot run with <!-- not-runnable: reason --> before it: {odd}"
    )


def test_pytest_collects_every_python_block_of_readme_and_docs() -> None:
    """``make test`` (pytest with no paths: testpaths) collects one test per Python fence."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    testpaths = config["tool"]["pytest"]["ini_options"]["testpaths"]
    assert {"README.md", "docs"} <= set(testpaths)
    environment = {
        name: value for name, value in os.environ.items() if not name.startswith("PYTEST_")
    }
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--collect-only",
            "-q",
            "-p",
            "no:cacheprovider",
            "README.md",
            "docs",
        ],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    collected: dict[str, int] = {}
    for line in result.stdout.splitlines():
        if ".md::" in line:
            path = line.split("::", 1)[0]
            collected[path] = collected.get(path, 0) + 1
    expected = {
        str(path.relative_to(ROOT)): count
        for path in _markdown_files()
        if (count := _python_fences(path))
    }
    assert collected == expected
    assert collected["README.md"] >= 10  # README shows a dozen examples: none may drop out


def test_the_readme_first_screen_gives_a_fresh_machine_two_commands() -> None:
    """Above the README's first rule, one shell block: ``make demo`` and ``make test``, each a
    target of the Makefile (``make demo`` runs examples/demo.py: tests/examples/test_demo.py)."""
    first_screen = (ROOT / "README.md").read_text(encoding="utf-8").partition("\n---\n")[0]
    blocks = re.findall(r"^```(\w*)\n(.*?)^```", first_screen, re.MULTILINE | re.DOTALL)
    assert [language for language, _ in blocks] == ["sh"]
    commands = [line.partition("#")[0].strip() for line in blocks[0][1].splitlines()]
    assert commands == ["make demo", "make test"]
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^demo: .*\n\t\$\(BIN\)/python -m examples\.demo$", makefile, re.MULTILINE)
    assert re.search(r"^test: ", makefile, re.MULTILINE)


PAGE = """\
# A page

A block runs at the top level:

```python
assert sum([1, 2]) == 3
```

A test it defines is called, with the fixtures its parameters name:

```python
def test_with_a_fixture(tmp_path):
    assert not tmp_path.is_dir(), "this test was called"
```

```python
import urllib.request


def test_with_a_server(http_server):
    http_server.expect("GET", "/").respond(body=b"hello")
    with urllib.request.urlopen(http_server.url, timeout=5.0) as reply:
        assert reply.read() == b"hello"


async def test_async():
    import asyncio

    await asyncio.sleep(0)
```

```python
import unittest


class Checks(unittest.TestCase):
    def test_this_fails(self):
        self.assertEqual(1, 2)
```

Relative paths are the Markdown file's:

```python
from pathlib import Path

assert Path("README.md").read_text().startswith("# A page")
```

<!-- not-runnable: it shows only
  the shape of a call -->
```python
server.expect(...)
```

A block that leaves a file descriptor open fails, as any test does:

```python
import os

os.pipe()
```

A test's understudy marker reaches its fixtures; a mark the runner cannot apply is refused:

```python
import http.client

import pytest


@pytest.mark.understudy(allow_unmatched=True)
def test_with_a_marker(http_server):
    client = http.client.HTTPConnection(http_server.host, http_server.port, timeout=5)
    client.request("GET", "/nothing")
    assert client.getresponse().status == 404
    client.close()
```

```python
import pytest


@pytest.mark.parametrize("n", [1, 2])
def test_parametrized(n):
    pass
```

```python
import pytest


def test_plain(http_server):
    pass


@pytest.mark.understudy(allow_unmatched=True)
def test_marked(http_server):
    pass
```
"""


def test_blocks_run_with_fixtures_and_fail(pytester: pytest.Pytester) -> None:
    pytester.makeini(
        f"""
        [pytest]
        pythonpath = {TESTS}
        addopts = -p suite_rules
        testpaths = README.md docs
        filterwarnings = error
        asyncio_default_fixture_loop_scope = function
        """
    )
    pytester.makefile(".md", README=PAGE)
    (pytester.path / "docs" / "reference").mkdir(parents=True)
    (pytester.path / "docs" / "guide.md").write_text("```python\nimport understudy\n```\n")
    (pytester.path / "docs" / "reference" / "http.md").write_text("::: understudy.HTTPServer\n")
    (pytester.path / "NOTES.md").write_text("```python\nraise SystemExit\n```\n")  # not collected
    result = pytester.runpytest_subprocess("-rA")
    result.assert_outcomes(passed=6, failed=4, skipped=1, errors=1)  # the leak: passed, error
    result.stdout.fnmatch_lines_random(
        [
            "PASSED README.md::line:5,column:1",
            "FAILED README.md::line:11,column:1 - AssertionError: this test was called*",
            "PASSED README.md::line:16,column:1",
            "FAILED README.md::line:32,column:1 - AssertionError: Checks*",
            "E *AssertionError: Checks: 1 tests ran, 1 failed:",
            "E *AssertionError: 1 != 2",
            "PASSED README.md::line:43,column:1",
            "SKIPPED * README.md: marked not runnable: it shows only the shape of a call",
            "ERROR README.md::line:57,column:1 - AssertionError: the test leaked*",
            "E *AssertionError: the test leaked file descriptors: * -> pipe:*",
            "PASSED README.md::line:65,column:1",
            "FAILED README.md::line:79,column:1 - ValueError: test_parametrized: *",
            "E *ValueError: test_parametrized: *, not ?'parametrize'?: write it as a test under*",
            "FAILED README.md::line:88,column:1 - ValueError: test_marked: *",
            "E *ValueError: test_marked: *: put it in a block of its own",
            "PASSED docs/guide.md::line:1,column:1",
        ]
    )
    # A failure points at the block's line in the Markdown, and shows the block, not the page.
    result.stdout.fnmatch_lines(["README.md:13: AssertionError"])
    assert "# A page" not in result.stdout.str()


def test_a_not_runnable_mark_says_why() -> None:
    document = Document("<!-- not-runnable: -->\n```python\npass\n```\n", "README.md")
    with pytest.raises(ValueError, match="write why the block cannot run: <!-- not-runnable: "):
        list(_PythonBlocks()(document))
