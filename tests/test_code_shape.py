"""The shape the code keeps (docs/architecture.md, "Rules"): the import layering, small modules,
short functions, and no reading another module's private attributes.

Each rule is checked over the source as written, not timed or sampled. A rule with known
exceptions lists them below with their current size: an exception may only shrink, and one that
is gone must leave its list, so the lists record what is left to do.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "understudy"
PYPROJECT = SRC.parent.parent / "pyproject.toml"

MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60

#: Modules still over MAX_MODULE_LINES, with their line count today (issue 21's split goes on).
MODULES_OVER: dict[str, int] = {}

#: Functions still over MAX_FUNCTION_LINES, with their length today.
FUNCTIONS_OVER: dict[str, int] = {}

#: Reads of a private attribute another module defines that stay, each with why.
PRIVATE_READS_KEPT: dict[str, str] = {
    # asyncio's SSL protocol has no public way to send a TLS alert (CPython gh-98078).
    "_handshake.py ._sslobj": "asyncio internals",
    "_handshake.py ._process_outgoing": "asyncio internals",
    # aiosmtpd reads the same attribute: the transport under asyncio's SSL protocol.
    "_smtp/_session.py ._app_transport": "asyncio internals",
    # The stack of the thread a timeout describes (what a stuck handler is doing).
    "_runtime.py ._current_frames": "sys internals",
    # The caller's module, to name a fixture where it is defined.
    "_fixtures.py ._getframe": "sys internals",
    # Running an app's coroutine eagerly as a task of its own on 3.11 (no eager_start there).
    "_tasks.py import _current_tasks": "asyncio internals",
    "_tasks.py import _enter_task": "asyncio internals",
    "_tasks.py import _leave_task": "asyncio internals",
}


def _modules() -> list[Path]:
    return sorted(SRC.rglob("*.py"))


def _name(path: Path) -> str:
    return path.relative_to(SRC).as_posix()


def test_the_import_contracts_hold() -> None:
    """pyproject.toml's import-linter contracts: no cycle at any level, and the layers."""
    lint_imports = Path(sys.executable).parent / "lint-imports"
    if not lint_imports.exists():
        pytest.skip("import-linter is in the lint extra, not installed here")
    result = subprocess.run(
        [str(lint_imports), "--no-cache", str(PYPROJECT)],
        capture_output=True,
        text=True,
        check=False,
        cwd=SRC.parent,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_modules_are_at_most_400_lines() -> None:
    over = {
        _name(path): lines
        for path in _modules()
        if (lines := path.read_text().count("\n")) > MAX_MODULE_LINES
    }
    grown = {name: lines for name, lines in over.items() if lines > MODULES_OVER.get(name, 0)}
    assert not grown, f"modules over {MAX_MODULE_LINES} lines (split them): {grown}"
    gone = set(MODULES_OVER) - set(over)
    assert not gone, f"no longer over {MAX_MODULE_LINES} lines: drop {gone} from MODULES_OVER"


def _functions() -> dict[str, int]:
    lengths: dict[str, int] = {}
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    lengths[f"{_name(path)}::{node.name}"] = length
    return lengths


def test_functions_are_at_most_60_lines() -> None:
    over = _functions()
    grown = {name: n for name, n in over.items() if n > FUNCTIONS_OVER.get(name, 0)}
    assert not grown, f"functions over {MAX_FUNCTION_LINES} lines (split them): {grown}"
    gone = set(FUNCTIONS_OVER) - set(over)
    assert not gone, f"no longer over {MAX_FUNCTION_LINES} lines: drop {gone} from FUNCTIONS_OVER"


def _defined(tree: ast.AST) -> set[str]:
    """Every name a module defines or binds: a module may read its own private names."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            names.add(node.value)  # __slots__ entries
        elif isinstance(node, ast.arg):
            names.add(node.arg)
    return names


def _private_reads() -> set[str]:
    reads: set[str] = set()
    for path in _modules():
        tree = ast.parse(path.read_text())
        defined = _defined(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute):
                attr = node.attr
                if not attr.startswith("_") or attr.startswith("__") or attr in defined:
                    continue
                if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
                    continue  # (a base class's attribute, defined in another module: allowed)
                reads.add(f"{_name(path)} .{attr}")
            elif isinstance(node, ast.ImportFrom):
                package = path.parent
                for _ in range(max(node.level - 1, 0)):
                    package = package.parent
                if node.module:
                    package = package.joinpath(*node.module.split("."))
                for alias in node.names:
                    name = alias.name
                    is_module = (package / f"{name}.py").exists() or (package / name).is_dir()
                    if name.startswith("_") and not name.startswith("__") and not is_module:
                        reads.add(f"{_name(path)} import {name}")
    return reads


def test_no_module_reads_another_modules_private_attributes() -> None:
    """A name used across modules is package API: it loses its underscore (DESIGN.md, issue 21)."""
    reads = _private_reads()
    unexpected = sorted(reads - set(PRIVATE_READS_KEPT))
    assert not unexpected, f"private names read across modules: {unexpected}"
    gone = set(PRIVATE_READS_KEPT) - reads
    assert not gone, f"no longer read: drop {gone} from PRIVATE_READS_KEPT"
