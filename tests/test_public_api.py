"""The one public face: `import understudy` gives everything, and says `understudy.X`."""

from __future__ import annotations

import ast
import importlib
import pathlib

import understudy

SRC = pathlib.Path(understudy.__file__).parent


def test_all_is_sorted_and_complete() -> None:
    assert understudy.__all__ == sorted(understudy.__all__)
    public = {
        name
        for name in dir(understudy)
        if not name.startswith("_")
        and name != "TYPE_CHECKING"
        and not isinstance(getattr(understudy, name), type(understudy))
    }
    assert public == set(understudy.__all__)


def test_the_lazy_table_and_the_type_checkers_imports_agree() -> None:
    """Each name is imported lazily from the module that defines it, and the ``TYPE_CHECKING``
    imports (what mypy, IDEs and griffe read) name every public name once."""
    tree = ast.parse((SRC / "__init__.py").read_text(encoding="utf-8"))
    checked = {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"
        for statement in node.body
        if isinstance(statement, ast.ImportFrom) and statement.level == 1
        for alias in statement.names
    }
    assert checked == set(understudy.__all__)
    assert set(understudy._WHERE) == set(understudy.__all__)
    for name, where in understudy._WHERE.items():
        module = importlib.import_module(where, "understudy")
        assert name in vars(module), f"{name} is not defined in understudy{where}"


def test_dir_lists_every_public_name_before_it_is_loaded() -> None:
    assert set(understudy.__all__) <= set(dir(understudy))


def test_public_objects_show_the_public_module() -> None:
    for name in understudy.__all__:
        assert getattr(understudy, name).__module__ == "understudy", name


def test_errors_derive_from_the_root_and_the_builtin_a_caller_catches() -> None:
    assert issubclass(understudy.ConfigurationError, ValueError)
    assert issubclass(understudy.WaitTimeout, TimeoutError)
    assert issubclass(understudy.AddressInUse, OSError)
    assert issubclass(understudy.UnexpectedRequest, AssertionError)
    assert issubclass(understudy.UnmetExpectation, AssertionError)
    # met too often is a kind of unexpected request, never a kind of "not met"
    assert issubclass(understudy.ExpectationExceeded, understudy.UnexpectedRequest)
    assert not issubclass(understudy.ExpectationExceeded, understudy.UnmetExpectation)
    for name in understudy.__all__:
        value = getattr(understudy, name)
        if isinstance(value, type) and issubclass(value, Exception):
            assert issubclass(value, understudy.UnderstudyError), name


def test_the_tests_import_the_package_beside_them() -> None:
    """A ``.venv`` shared with another checkout (a symlink) imports that checkout's code: the
    tests would pass or fail on code other than the one they sit beside."""
    beside = pathlib.Path(__file__).resolve().parents[1] / "src" / "understudy"
    assert SRC.resolve() == beside, f"understudy is imported from {SRC}, not from {beside}"


FORBIDDEN_IN_CORE = {"socket", "threading", "selectors", "asyncio", "concurrent"}


def test_core_is_pure() -> None:
    """`_core` imports no socket, thread or event loop, and nothing of understudy outside it."""
    for path in sorted((SRC / "_core").glob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level > 1 or (node.module or "").startswith("understudy"):
                    modules = ["understudy (outside _core)"]
                else:
                    modules = [node.module or ""] if node.level == 0 else []
            else:
                continue
            for module in modules:
                root = module.split(".")[0]
                assert root not in FORBIDDEN_IN_CORE, f"{path.name} imports {module}"
                assert not module.startswith("understudy"), f"{path.name} imports {module}"
