"""What every understudy fixture shares: per-test server registry, options, start and finish.

Fixtures register the servers they start with :func:`started` (or :func:`factory`), so that the
plugin's ``pytest_runtest_call`` wrapper can stop them and re-raise their handlers' errors as a
failure of the test itself. :func:`server_fixtures` makes the three fixtures of a server kind.

Nothing here imports a server: the plugin is loaded by every pytest run where understudy is
installed, so a fixture imports its server's class the first time a test asks for it
(:func:`load_server`), and a project that never uses a fixture pays nothing for them.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterator, Mapping
from inspect import Parameter, Signature
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

if TYPE_CHECKING:
    from ._server import Server

__all__ = [
    "NO_OPTIONS",
    "PUBLIC_SERVERS",
    "Run",
    "current_item",
    "enter_item",
    "factory",
    "leave_item",
    "load_server",
    "options",
    "run_of",
    "server_fixtures",
    "servers_of",
    "started",
]

S = TypeVar("S", bound="Server")

#: What a ``*_server_options`` fixture gives unless overridden: no options, read-only (it is
#: the session's, so a fixture made per test is not set up and torn down for every test).
NO_OPTIONS: Mapping[str, Any] = MappingProxyType({})

#: Every public server class, by name: where it is imported from. A marker may name any of
#: them (``@pytest.mark.understudy("SMTPServer", ...)``) before its module is loaded.
PUBLIC_SERVERS: dict[str, str] = {
    "HTTPServer": "understudy",
    "LogRecordServer": "understudy",
    "Proxy": "understudy",
    "PyPIServer": "understudy.fakes",
    "SMTPServer": "understudy",
    "Server": "understudy",
    "SyslogServer": "understudy",
    "TCPServer": "understudy",
    "UDPServer": "understudy",
    "UnixDatagramServer": "understudy",
    "UnixStreamServer": "understudy",
}


def load_server(name: str) -> type[Server]:
    """The public server class ``name`` (a key of :data:`PUBLIC_SERVERS`), imported on first use."""
    cls: type[Server] = getattr(importlib.import_module(PUBLIC_SERVERS[name]), name)
    return cls


class Run:
    """What understudy's fixtures started for a test being run: its servers, and what finishes
    a server in place of stopping it (the ``http_server`` fixture parks its listener,
    ``_http/_parking.py``), by ``id`` of the server. Kept here, not in the item's stash (whose
    every read is two Python calls), and let go with the run (the session keeps every item)."""

    __slots__ = ("parks", "servers")

    def __init__(self) -> None:
        self.servers: list[Server] = []
        self.parks: dict[int, Callable[[Any], None]] = {}


#: The test items being run, innermost last (pytester runs a session inside a test), each with
#: its :class:`Run`: the plugin pushes one before its setup and pops it after its teardown.
_RUNS: list[tuple[pytest.Item, Run]] = []


def enter_item(item: pytest.Item) -> None:
    """The plugin, before ``item``'s setup: its fixtures are set up for it."""
    _RUNS.append((item, Run()))


def leave_item(item: pytest.Item) -> None:
    """The plugin, after ``item``'s teardown."""
    if _RUNS and _RUNS[-1][0] is item:
        _RUNS.pop()


def run_of(item: pytest.Item) -> Run:
    """The :class:`Run` of ``item``; a new one, that nothing finishes, for an item not being
    run (a fixture set up outside pytest's run-test protocol stops its own servers)."""
    for each, run in reversed(_RUNS):
        if each is item:
            return run
    return Run()


def servers_of(item: pytest.Item) -> list[Server]:
    """The servers started by understudy fixtures for ``item``."""
    return run_of(item).servers


def current_item() -> pytest.Item:
    """The test a server fixture is set up for.

    The fixtures read it here rather than take pytest's ``request``: asking for ``request``
    costs pytest a fixture definition of its own for every test (about a fifth of what a
    fresh ``http_server`` costs a test, issue 20).

    Raises:
        RuntimeError: no test is being run: the plugin is not loaded, or not for this.
    """
    if not _RUNS:
        raise RuntimeError(
            "understudy's server fixtures are set up for a test its plugin sees run, and it "
            "sees none: the plugin is not loaded (-p no:understudy, or autoload disabled, and "
            "its fixtures imported): load it with -p understudy.pytest_plugin or pytest_plugins "
            "= ['understudy.pytest_plugin'] in the root conftest; or the fixture was asked for "
            "outside pytest's run-test protocol: use make_*_server, which takes request"
        )
    return _RUNS[-1][0]


def options(
    node: pytest.Item, defaults: Mapping[str, Any], server_class: type[Server]
) -> dict[str, Any]:
    """``defaults`` (a ``*_server_options`` fixture) updated by ``@pytest.mark.understudy``.

    ``@pytest.mark.understudy(**options)`` applies to every understudy server of the test,
    each taking the options its class has (``allow_unmatched=True`` reaches the HTTP servers
    and leaves an SMTP server of the same test alone);
    ``@pytest.mark.understudy(SMTPServer, **options)`` (classes, or their names as strings) only
    to servers of those classes. Markers nearer the test win (function over class over
    module), and a later one of the same place over an earlier one.

    Raises:
        pytest.UsageError: a positional argument that is not a server class or its name.
        ConfigurationError: ``defaults`` is not a mapping; an option that no server class
            takes (for a marker naming classes: that those classes do not take), saying "did
            you mean `X`?" for the closest valid one.
    """
    try:
        merged = dict(defaults)
    except (TypeError, ValueError):
        from ._keywords import not_options  # noqa: PLC0415 - loaded with a server

        raise not_options(server_class.__name__, defaults) from None
    if not _marked(node):
        return merged
    markers = list(node.iter_markers("understudy"))
    from ._keywords import keyword_names, unknown_keyword  # noqa: PLC0415 - loaded with a server

    takes = keyword_names(server_class.__init__)
    for marker in reversed(markers):
        if marker.args:
            if not any(_names(kind, server_class) for kind in marker.args):
                continue
            wrong = None if takes is None else unknown_keyword(_shown(marker), marker.kwargs, takes)
            if wrong is not None:
                raise wrong
            merged.update(marker.kwargs)
            continue
        every = _every_server_option()
        wrong = unknown_keyword(_shown(marker), marker.kwargs, every | (takes or set()))
        if wrong is not None:
            raise wrong
        # An option of another kind of server is for the servers of that kind.
        merged.update(
            (name, value) for name, value in marker.kwargs.items() if takes is None or name in takes
        )
    return merged


def _marked(node: pytest.Item) -> bool:
    """Whether ``node`` or a node above it has an ``understudy`` marker: what
    ``node.iter_markers`` looks at, without its generators (most tests have none)."""
    above: pytest.Item | pytest.Collector | None = node
    while above is not None:
        for mark in above.own_markers:
            if mark.name == "understudy":
                return True
        above = above.parent
    return False


def _shown(marker: pytest.Mark) -> str:
    """The marker as written, for messages: ``@pytest.mark.understudy(SMTPServer, ...)``."""
    kinds = [kind if isinstance(kind, str) else kind.__name__ for kind in marker.args]
    return f"@pytest.mark.understudy({''.join(f'{kind}, ' for kind in kinds)}...)"


def _every_server_option() -> frozenset[str]:
    """The keyword options of every public server class (those of any ``understudy`` module
    not private, and the user's own subclasses); imports every server (once per process)."""
    from ._keywords import keyword_names  # noqa: PLC0415 - loaded with a server

    names: set[str] = set()
    Server = load_server("Server")  # noqa: N806 - the class, imported late
    for cls in _server_classes(load=True):
        if cls is Server or any(part.startswith("_") for part in cls.__module__.split(".")):
            continue
        names |= keyword_names(cls.__init__) or set()
    return frozenset(names)


def _names(kind: object, server_class: type[Server]) -> bool:
    """Whether a marker's positional argument names ``server_class`` (or a base of it)."""
    if isinstance(kind, type) and issubclass(kind, _base()):
        return issubclass(server_class, kind)
    if isinstance(kind, str) and (kind in PUBLIC_SERVERS or kind in _server_class_names()):
        return kind in {base.__name__ for base in server_class.__mro__}
    raise pytest.UsageError(
        f"@pytest.mark.understudy takes server classes (or their names) and keyword options, "
        f"e.g. @pytest.mark.understudy(understudy.SMTPServer, hostname='mail.test') or "
        f"@pytest.mark.understudy(host='localhost'); not {kind!r}"
    )


def _server_class_names() -> set[str]:
    """The names of every server class there is (Server and its subclasses, at any depth,
    understudy's own private ones too: every server module is imported)."""
    return {cls.__name__ for cls in _server_classes(load=True)}


def _base() -> type[Server]:
    """The ``Server`` base class (imported late: see the module's docstring)."""
    from ._server import Server  # noqa: PLC0415 - a server module, loaded on first use

    return Server


def _server_classes(*, load: bool) -> list[type[Server]]:
    """Server and its subclasses, at any depth; with ``load``, after importing every public
    server class, so that those not yet used are there too."""
    if load:
        for name in PUBLIC_SERVERS:
            load_server(name)
    found: list[type[Server]] = []
    pending: list[type[Server]] = [_base()]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return found


def started(
    node: pytest.Item,
    server: S,
    *,
    start: Callable[[S], object] | None = None,
    park: Callable[[S], None] | None = None,
) -> Iterator[S]:
    """Start ``server`` for the test; stop and check it after (for a fixture to ``yield from``).

    ``start``: what starts it (``server.start()`` by default); ``park``: what the plugin calls
    after the test body before stopping and checking the server (the ``http_server`` fixture
    parks its listener there, see ``_http/_parking.py``).
    """
    run = run_of(node)
    run.servers.append(server)
    if park is not None:
        run.parks[id(server)] = park
    if start is None:
        server.start()
    else:
        start(server)
    try:
        yield server
    finally:
        # Normally already stopped and checked by pytest_runtest_call (which takes a parking
        # server out of the run's parks); this covers errors in setup and servers of other
        # fixtures.
        if park is None or id(server) in run.parks:
            server.__exit__(None, None, None)


def factory(
    request: pytest.FixtureRequest, make: type[S], defaults: Mapping[str, Any]
) -> Iterator[Callable[..., S]]:
    """A ``make_*_server(**options)`` factory; its servers are stopped and checked afterwards."""
    made: list[S] = []

    def make_started(*args: Any, **given: Any) -> S:  # (args: for the class to refuse)
        server = make(*args, **{**options(request.node, defaults, make), **given})
        servers_of(request.node).append(server)
        made.append(server)
        return server.start()

    yield make_started
    for server in made:
        server.__exit__(None, None, None)


def server_fixtures(
    server: str, name: str, *, example: str, module: str | None = None
) -> tuple[Any, Any, Any]:
    """The fixtures ``<name>_options``, ``<name>`` and ``make_<name>`` of a server kind.

    Each has the signature and docstring it would have if written out: ``<name>`` takes
    ``<name>_options`` and ``make_<name>`` also ``request`` (so a conftest that overrides the
    options fixture is heard), and ``pytest --fixtures`` describes all three.

    Args:
        server: the name of the server class the fixtures start (``"TCPServer"``, a key of
            :data:`PUBLIC_SERVERS`); imported when a test first asks for one of the fixtures.
        name: the fixture's name (``"tcp_server"``).
        example: a value the options fixture might return, for its docstring
            (``'{"echo": True}'``).
        module: the module the fixtures are listed under by ``pytest --fixtures``; by default
            the caller's (as :func:`collections.namedtuple` finds it).

    Returns:
        ``(<name>_options, <name>, make_<name>)``, to assign to those names in a module the
        plugin re-exports.
    """
    if module is None:
        module = sys._getframe(1).f_globals.get("__name__", __name__)
    options_name = f"{name}_options"
    shown = server

    def options_fixture() -> Mapping[str, Any]:
        return NO_OPTIONS

    def server_fixture(**given: Any) -> Iterator[Server]:
        item, defaults = current_item(), given[options_name]
        cls = load_server(server)
        yield from started(item, cls(**options(item, defaults, cls)))

    def make_fixture(
        request: pytest.FixtureRequest, **given: Any
    ) -> Iterator[Callable[..., Server]]:
        yield from factory(request, load_server(server), given[options_name])

    _document(
        options_fixture, server_fixture, make_fixture, shown=server, name=name, example=example
    )
    # pytest injects the parameters it reads from the signature: name the options fixture's
    # (the server fixture finds its test with current_item(), not `request`: see there).
    option = Parameter(options_name, Parameter.POSITIONAL_OR_KEYWORD, annotation=Mapping[str, Any])
    asked = Parameter("request", Parameter.POSITIONAL_OR_KEYWORD, annotation=pytest.FixtureRequest)
    # As strings, as `from __future__ import annotations` leaves them: naming the class itself
    # would import it.
    started_type = f"Iterator[{shown}]"
    factory_type = f"Iterator[Callable[..., {shown}]]"
    server_fixture.__signature__ = Signature([option], return_annotation=started_type)  # type: ignore[attr-defined]
    make_fixture.__signature__ = Signature([asked, option], return_annotation=factory_type)  # type: ignore[attr-defined]
    return (
        _fixture(options_fixture, options_name, module, scope="session"),
        _fixture(server_fixture, name, module),
        _fixture(make_fixture, f"make_{name}", module),
    )


def _document(
    options_fixture: Callable[..., Any],
    server_fixture: Callable[..., Any],
    make_fixture: Callable[..., Any],
    *,
    shown: str,
    name: str,
    example: str,
) -> None:
    """The docstrings of a server kind's three fixtures (see :func:`server_fixtures`)."""
    options_name = f"{name}_options"
    options_fixture.__doc__ = (
        f"Keyword arguments for the ``{name}`` fixtures; override it in a conftest (at any\n"
        "scope). The default, for the session, is an empty read-only mapping.\n\n"
        f"Example: ``return {example}``."
    )
    server_fixture.__doc__ = (
        f"A started :class:`understudy.{shown}`, fresh for each test.\n\n"
        f"Options come from ``{options_name}`` and ``@pytest.mark.understudy(...)``.\n"
        "After the test: stopped, then checked (a handler's exception fails the test)."
    )
    make_fixture.__doc__ = (
        f"A factory: ``make_{name}(**options)`` returns a started server.\n\n"
        f"The server is a :class:`~understudy.{shown}`; its options update\n"
        f"``{options_name}``. Every server it made is stopped and checked after the test."
    )


def _fixture(
    function: Callable[..., Any], name: str, module: str, *, scope: str = "function"
) -> Any:
    """``function`` as the fixture ``name`` of ``module`` (so in reprs and messages too)."""
    function.__name__ = function.__qualname__ = name
    function.__module__ = module
    return pytest.fixture(function, name=name, scope=scope)  # type: ignore[call-overload]
