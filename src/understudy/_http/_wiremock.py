"""WireMock stub mappings on an HTTPServer: each mapping becomes an ordinary expectation.

:class:`Stubs` loads mapping files (``mappings/*.json`` beside ``__files/``), turns each
:class:`~understudy._core.wiremock.StubMapping` into an :class:`~understudy.Expectation` whose
shape is a :class:`MappingShape`, and keeps the table the admin API edits. Because they are
expectations, requests they answer are journaled, and a request none answers gets the same
near-miss report as for ``server.expect(...)``.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._core.matching import Difference, RequestShape
from .._core.targets import origin_form
from .._core.wiremock import (
    MappingError,
    RequestPattern,
    Scenarios,
    StubMapping,
    parse_mapping,
    parse_mappings_document,
)
from .._errors import ConfigurationError
from ._expect import Expectation, Expectations, answer_with
from ._faults import DelayedHost, DribbleHost, FaultHost
from ._hosts import CannedHost
from ._request import Request
from ._response import Response
from ._wiremock_faults import mapping_delay, mapping_dribble, mapping_fault

if TYPE_CHECKING:
    from ._site import Exchange, Host, Site

__all__ = ["MappingShape", "Stubs", "pattern_differences"]


def pattern_differences(pattern: RequestPattern, request: Request) -> list[Difference]:
    """How ``request`` differs from a WireMock request pattern (``[]``: it matches)."""
    return pattern.differences(
        method=request.method,
        target=origin_form(request.target),
        query=request.query.multi_items(),
        headers=request.headers.multi_items(),
        body=request.body,
    )


@dataclass(frozen=True)
class MappingShape(RequestShape):
    """The shape of an expectation made from a stub mapping: its request pattern and scenario."""

    stub: StubMapping | None = None
    scenarios: Scenarios | None = None

    def differences(self, *, request: Any, **_: Any) -> list[Difference]:
        stub = self.stub
        assert stub is not None
        found = pattern_differences(stub.request, request)
        if stub.scenario is not None and stub.required_state is not None:
            assert self.scenarios is not None
            state = self.scenarios.state(stub.scenario)
            if state != stub.required_state:
                found.append(
                    Difference(
                        f"scenario {stub.scenario!r}",
                        repr(stub.required_state),
                        repr(state),
                        "scenario",
                    )
                )
        return found

    def criteria(self) -> Counter[str]:
        stub = self.stub
        assert stub is not None
        counts = stub.request.criteria()
        if stub.scenario is not None and stub.required_state is not None:
            counts["scenario"] += 1
        return counts

    def describe(self) -> str:
        stub = self.stub
        assert stub is not None
        name = f" {stub.name!r}" if stub.name else ""
        return f"mapping{name} {stub.id}: {stub.request.describe()}"


class _ScenarioHost:
    """Moves a scenario to its new state when the mapping answers, then answers as ``host``.

    ``select`` and ``dispatch`` run one after the other on the loop, so no other request of
    this server sees the old state in between.
    """

    streams_body = False

    def __init__(self, host: Host, scenarios: Scenarios, scenario: str, state: str) -> None:
        self.host = host
        self.scenarios = scenarios
        self.scenario = scenario
        self.state = state

    def dispatch(self, site: Site, exchange: Exchange) -> None:
        self.scenarios.set(self.scenario, self.state)
        self.host.dispatch(site, exchange)


class Stubs:
    """The stub mappings of one server: loading, adding, removing, resetting."""

    def __init__(self, expectations: Expectations) -> None:
        # (The server's expectations, not the server: no cycle runs through a server, so one
        # the test drops is freed at once. The router notes the routing change, see
        # Router.load_mappings; with the admin API on, everything is routed anyway.)
        self.expectations = expectations
        self.scenarios = Scenarios()
        self._table: dict[str, tuple[StubMapping, Expectation]] = {}
        self._loaded: list[Path] = []
        self.files: Path | None = None  # the __files directory for bodyFileName
        #: Takes a file's WebSocket mappings out of its JSON (``_ws/_mappings.py``).
        self.on_websocket: Callable[[object, str], object] | None = None

    # -- loading -------------------------------------------------------------------------------

    def load(self, path: str | os.PathLike[str]) -> list[StubMapping]:
        """Load a mapping file, or every ``*.json`` of a directory; remembered for reset.

        Raises:
            ConfigurationError: a file that is not JSON, or a mapping with a field that is
                unknown, unsupported or wrong (naming the file and the field).
        """
        where = Path(path)
        loaded = self._load(where)
        self._loaded.append(where)
        return loaded

    def _load(self, where: Path) -> list[StubMapping]:
        stubs: list[StubMapping] = []
        for file, parsed, files_dir in self._read(where):
            for stub in parsed:
                self.add(stub, where=str(file), files_dir=files_dir)
                stubs.append(stub)
        return stubs

    def _read(self, where: Path) -> Iterator[tuple[Path, list[StubMapping], Path | None]]:
        """Each mapping file of ``where`` with its parsed mappings and ``__files`` directory,
        read as it is reached (so a load keeps the files before a bad one).

        Raises:
            ConfigurationError: ``where`` is gone, or a file is not JSON or not mappings.
        """
        if where.is_dir():
            directory = where / "mappings" if (where / "mappings").is_dir() else where
            files_dir = _files_dir(directory)
            # (A __files inside it holds bodies, JSON ones too: they are not mappings.)
            files = sorted(
                file
                for file in directory.rglob("*.json")
                if files_dir is None or not file.is_relative_to(files_dir)
            )
        elif where.is_file():
            files = [where]
            files_dir = _files_dir(where.parent)
        else:
            raise ConfigurationError(f"mappings: {str(where)!r} is neither a file nor a directory")
        if files_dir is not None and self.files is None:
            self.files = files_dir
        for file in files:
            try:
                document = json.loads(file.read_bytes())
                if self.on_websocket is not None:
                    document = self.on_websocket(document, str(file))
                parsed = parse_mappings_document(document)
            except (ValueError, UnicodeDecodeError) as error:
                raise ConfigurationError(f"{file}: {error}") from None
            yield file, parsed, files_dir

    def add_json(self, document: object, *, where: str = "mapping") -> StubMapping:
        """Add one mapping given as JSON (from the admin API).

        Raises:
            ConfigurationError: as for :meth:`load`.
        """
        try:
            stub = parse_mapping(document, where=where)
        except MappingError as error:
            raise ConfigurationError(str(error)) from None
        self.add(stub, where=where, files_dir=self.files)
        return stub

    def add(self, stub: StubMapping, *, where: str, files_dir: Path | None) -> Expectation:
        """Make ``stub`` an expectation of the server (replacing one with the same id).

        Raises:
            ConfigurationError: its response cannot be made (a fault, delay or header that
                is wrong, or a ``bodyFileName`` that cannot be read).
        """
        return self._install(stub, self._host(stub, where, files_dir))

    def _host(self, stub: StubMapping, where: str, files_dir: Path | None) -> Host:
        """What answers for ``stub`` (reads its body file). Raises as :meth:`add`."""
        definition = stub.response
        fault = mapping_fault(definition, where)
        delay = mapping_delay(definition, where)
        dribble = mapping_dribble(definition, where)
        body = definition.body
        if definition.body_file is not None:
            body = _read_body_file(definition.body_file, files_dir, where)
        try:
            response = Response(
                definition.status,
                body=body,
                headers=list(definition.headers),
                reason=definition.reason,
            )
        except ConfigurationError as error:
            raise ConfigurationError(f"{where}.response: {error}") from None
        host: Host
        if fault is not None:
            host = FaultHost(fault)
        elif dribble is not None and isinstance(response.body, bytes):
            host = DribbleHost(response, dribble)
        else:
            host = CannedHost(response)
        if delay is not None:
            host = DelayedHost(host, delay)
        if stub.scenario is not None and stub.new_state is not None:
            host = _ScenarioHost(host, self.scenarios, stub.scenario, stub.new_state)
        return host

    def _install(self, stub: StubMapping, host: Host) -> Expectation:
        replaced = self._table.get(stub.id)
        shape = MappingShape(stub=stub, scenarios=self.scenarios)
        expectation = self.expectations.add(shape, ordered=False)
        expectation.priority = stub.priority
        answer_with(expectation, host, None)
        if replaced is not None:  # (in its place: WireMock keeps an edited stub's precedence)
            self.expectations.replace(replaced[1], expectation)
        self._table[stub.id] = (stub, expectation)
        return expectation

    # -- the table -----------------------------------------------------------------------------

    def __iter__(self) -> Iterator[StubMapping]:
        return iter([stub for stub, _ in self._table.values()])

    def get(self, ident: str) -> StubMapping | None:
        found = self._table.get(ident)
        return found[0] if found is not None else None

    def remove(self, ident: str) -> bool:
        """Remove the mapping with this id; whether there was one."""
        found = self._table.pop(ident, None)
        if found is None:
            return False
        self.expectations.remove(found[1])
        return True

    def clear(self) -> None:
        for ident in list(self._table):
            self.remove(ident)

    def reset(self) -> None:
        """Back to the mappings loaded from files (those added since are gone), read again.

        The files are read, and each mapping's response made, before anything is removed.

        Raises:
            ConfigurationError: a file or directory loaded is gone, or is no longer valid
                mappings; the mappings and scenarios are then left as they were.
        """
        try:
            made = [
                (stub, self._host(stub, str(file), files_dir))
                for where in self._loaded
                for file, parsed, files_dir in self._read(where)
                for stub in parsed
            ]
        except ConfigurationError as error:
            raise ConfigurationError(
                f"the mappings cannot be read again, so none was reset: {error}"
            ) from None
        self.clear()
        self.scenarios.reset()
        for stub, host in made:
            self._install(stub, host)

    def scenario_names(self) -> list[str]:
        return sorted({stub.scenario for stub in self if stub.scenario is not None})

    def mappings_json(self, select: Callable[[StubMapping], bool] | None = None) -> list[Any]:
        return [dict(stub.source) for stub in self if select is None or select(stub)]


def _files_dir(mappings_dir: Path) -> Path | None:
    """``__files`` inside the mappings directory, or beside it (WireMock's root layout)."""
    for candidate in (mappings_dir / "__files", mappings_dir.parent / "__files"):
        if candidate.is_dir():
            return candidate
    return None


def _read_body_file(name: str, files_dir: Path | None, where: str) -> bytes:
    if files_dir is None:
        raise ConfigurationError(
            f"{where}.response.bodyFileName: {name!r} needs a __files directory beside the "
            "mappings directory (root/mappings and root/__files)"
        )
    root = files_dir.resolve()
    path = (root / name).resolve()
    if not path.is_relative_to(root):
        raise ConfigurationError(
            f"{where}.response.bodyFileName: {name!r} is outside {str(files_dir)!r}"
        )
    try:
        return path.read_bytes()
    except OSError as error:
        raise ConfigurationError(
            f"{where}.response.bodyFileName: cannot read {str(path)!r}: {error.strerror}"
        ) from None
