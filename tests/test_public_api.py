"""The one public face: `import understudy` gives everything, and says `understudy.X`."""

from __future__ import annotations

import ast
import importlib
import inspect
import pathlib
import typing
from typing import Any

import pytest

import understudy
import understudy.fakes
from understudy._http._directory import DirectoryHost
from understudy._http._options import DIRECTORY_DEFAULTS, DirectoryOptions
from understudy._publishing import WHERE
from understudy._server import Server

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
    assert set(WHERE) == set(understudy.__all__)
    for name, where in WHERE.items():
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


def _public_callables(name: str) -> list[tuple[str, Any]]:
    """``understudy.<name>``, or for a class its ``__init__`` and public methods (properties'
    getters included), as ``(label, function)``."""
    value = getattr(understudy, name)
    if not isinstance(value, type):
        return [(name, value)] if callable(value) else []
    found = []
    for attribute, member in inspect.getmembers(value):
        if attribute.startswith("_") and attribute != "__init__":
            continue
        if isinstance(inspect.getattr_static(value, attribute), property):
            continue
        if inspect.isfunction(member) or inspect.ismethod(member):
            if attribute == "__init__" and member is object.__init__:
                continue
            found.append((f"{name}.{attribute}", member))
    return found


def _hint(function: Any, parameter: inspect.Parameter) -> Any:
    """The parameter's type (``typing.get_type_hints``; the annotation as written when a name
    in it is imported for type checking only); ``None`` if it has none."""
    try:
        return typing.get_type_hints(function).get(parameter.name)
    except NameError:
        written = parameter.annotation
        if written is parameter.empty:
            return None
        return Any if written in ("Any", "typing.Any") else written


def test_no_public_signature_takes_untyped_options() -> None:
    """No ``*args``/``**kwargs`` typed ``Any`` (or not at all) in a public signature: a
    misspelt option would pass mypy. Options are typed (``**options: Unpack[SomeOptions]``,
    PEP 692) or written out as keywords."""
    problems = []
    for name in understudy.__all__:
        for label, function in _public_callables(name):
            try:
                signature = inspect.signature(function)
            except (TypeError, ValueError):  # (builtins without a signature)
                continue
            for parameter in signature.parameters.values():
                if parameter.kind not in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
                    continue
                hint = _hint(function, parameter)
                if hint is None or hint is Any:
                    problems.append(f"{label}: {parameter} is not typed")
    assert problems == []


#: What HTTPServer adds to Server: the test API, and nothing connections or hosts call.
HTTP_SERVER_API = {
    # the http_server fixture's listener, kept between tests (_http/_parking.py)
    "_park",
    "_parks",
    "_park_now",
    "_park_once_served",
    "_adopt",
    "_parked_from",
    # what the test reads
    "scheme",
    "url",
    "requests",
    "wait_for_requests",
    "wait_for_requests_async",
    "clear",
    # what the test sets up
    "load_mappings",
    "serve_directory",
    "expect",
    "expect_in_order",
    "assert_requested",
    # HTTPServer's keywords, as read back
    "unmatched_status",
    "max_header_size",
    "max_body_size",
    "header_timeout",
    "idle_timeout",
    "send_timeout",
    # WebSocket (_ws/_face.py): what the test reads and sets up
    "ws_url",
    "websocket_max_message_size",
    "websockets",
    "websocket_messages",
    "wait_for_websockets",
    "wait_for_websockets_async",
    "wait_for_websocket_messages",
    "wait_for_websocket_messages_async",
    "expect_websocket",
    # private: the journal and the stub mappings (read by tests and the command line)
    "_journal",
    "_stubs",
}


def test_http_server_adds_only_the_test_api() -> None:
    """The plumbing connections and hosts use (dispatch, hold, track, release, record,
    runtime, loop...) lives on the Site and the Router, not on the class users see and
    ``PyPIServer`` inherits."""
    added = set(dir(understudy.HTTPServer)) - set(dir(Server))
    assert added == HTTP_SERVER_API
    plumbing = {"dispatch", "hold", "track", "release", "record", "record_error", "runtime"}
    plumbing |= {"loop", "describe", "shortest_timeout", "streams_body", "host_failed"}
    assert plumbing & set(dir(understudy.fakes.PyPIServer)) == set()


SERVERS: list[type[Server]] = sorted(
    (
        value
        for value in [*map(understudy.__getattr__, understudy.__all__), understudy.fakes.PyPIServer]
        if isinstance(value, type) and issubclass(value, Server) and value is not Server
    ),
    key=lambda cls: cls.__name__,
)


@pytest.mark.parametrize("cls", SERVERS, ids=lambda cls: cls.__name__)
def test_every_server_speaks_the_same_vocabulary(cls: type[Server]) -> None:
    """Each journal ``X`` has ``wait_for_X`` and ``wait_for_X_async`` (``wait_for_bytes`` waits
    for a count of bytes, not a journal); the loop's runtime is nobody's public attribute;
    ``connections`` is always the journal of records, never the open protocol objects."""
    names = {name for name in dir(cls) if not name.startswith("_")}
    waits = {name.removeprefix("wait_for_") for name in names if name.startswith("wait_for_")}
    journals = {name for name in waits if not name.endswith("_async")}
    assert {f"{name}_async" for name in journals} == waits - journals
    assert journals - {"bytes"} <= names
    assert "runtime" not in names
    if "connections" in names:
        assert isinstance(inspect.getattr_static(cls, "connections"), property)
    server = cls(upstream=("127.0.0.1", 9)) if cls is understudy.Proxy else cls()
    assert "connections" not in vars(server)


def test_the_other_end_is_the_peer_on_every_record() -> None:
    """``peer`` on every record that knows the other end (``client`` is ASGI's scope key only)."""
    records = [understudy.Request, understudy.SMTPMessage, understudy.SyslogMessage]
    records += [understudy.ConnectionRecord, understudy.Datagram, understudy.ProxyConnection]
    records += [understudy.TLSFailure, understudy.BadFrame, understudy.WebSocketConnection]
    for record in records:
        fields = {*dir(record), *getattr(record, "__dataclass_fields__", ())}
        assert "peer" in fields, record
        assert "client" not in fields, record


def test_every_connection_record_says_when_it_opened_and_closed() -> None:
    """``opened_at``, ``closed`` and ``closed_at`` (seconds, ``time.time()``) on every record of
    a connection, whatever its protocol."""
    records = [understudy.ConnectionRecord, understudy.ProxyConnection]
    records += [understudy.WebSocketConnection]
    for record in records:
        names = {*dir(record), *getattr(record, "__slots__", ())}
        assert {"opened_at", "closed", "closed_at"} <= names, record


def _http_imports() -> dict[str, set[str]]:
    """Each ``_http`` module's imports of other ``_http`` modules, wherever they are (at the
    top, under ``TYPE_CHECKING``, inside a function)."""
    package = SRC / "_http"
    graph: dict[str, set[str]] = {}
    for path in sorted(package.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        found = set()
        for node in ast.walk(tree):
            if not isinstance(node, ast.ImportFrom):
                continue
            if node.level == 1 and node.module:
                found.add(node.module.split(".")[0])
            elif node.level == 1:
                found.update(alias.name for alias in node.names)
            elif node.level == 2 and (node.module or "").startswith("_http."):
                found.add((node.module or "").split(".")[1])
        graph[path.stem] = {name for name in found if (package / f"{name}.py").exists()}
    return graph


def test_the_http_core_has_no_import_cycle() -> None:
    """Nothing under ``_http/`` imports ``_http._server`` (the public face), and the modules of
    ``_http`` import one another without a cycle, type-checking imports counted."""
    graph = _http_imports()
    assert sorted(name for name, imports in graph.items() if "_server" in imports) == []
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        if name in path:
            cycle = [*path[path.index(name) :], name]
            pytest.fail("import cycle in _http: " + " -> ".join(cycle))
        if name in done:
            return
        for imported in sorted(graph[name]):
            visit(imported, [*path, name])
        done.add(name)

    for name in sorted(graph):
        visit(name, [])


def test_the_directory_options_are_the_directory_hosts_keywords() -> None:
    """``serve_directory``'s ``DirectoryOptions`` (kept apart so ``HTTPServer`` does not load
    the directory module) name ``DirectoryHost``'s keywords, with the same defaults."""
    keywords = {
        parameter.name: parameter.default
        for parameter in inspect.signature(DirectoryHost).parameters.values()
        if parameter.kind is parameter.KEYWORD_ONLY
    }
    assert keywords == DIRECTORY_DEFAULTS
    assert set(DirectoryOptions.__annotations__) == set(keywords)
    shown = inspect.signature(understudy.HTTPServer.serve_directory).parameters
    assert [name for name in shown if name in keywords] == list(keywords)
