"""WireMock stub mappings as plain values: the mapping file loader, and scenario states.

Pure: a mapping is a ``dict`` as loaded from a WireMock ``mappings/*.json`` file (or posted to
``/__admin/mappings``); :func:`parse_mapping` checks every field and returns a
:class:`StubMapping`, whose halves are a :class:`RequestPattern` (``wiremock_requests``: request
matching) and a :class:`ResponseDefinition` (``wiremock_responses``); the value patterns both
use are in ``wiremock_values``, JSON comparison and JSON paths in ``wiremock_json``, and
:class:`MappingError` in ``wiremock_errors``. The names of those modules that tests and hosts
use are importable from here (see ``__all__``).

The format is WireMock's (https://wiremock.org/docs/stubbing/ and
https://wiremock.org/docs/request-matching/). A field understudy does not know, or knows but
does not implement, is an error naming the field: a stub that silently ignored a matcher would
accept requests it should refuse.
"""

from __future__ import annotations

import uuid as _uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from .wiremock_errors import MappingError, known_fields
from .wiremock_json import json_equal, json_path
from .wiremock_requests import RequestPattern, parse_request_pattern
from .wiremock_responses import ResponseDefinition, parse_response_definition
from .wiremock_values import ValuePattern, parse_value_pattern

__all__ = [
    "DEFAULT_PRIORITY",
    "STARTED",
    "MappingError",
    "RequestPattern",
    "ResponseDefinition",
    "Scenarios",
    "StubMapping",
    "ValuePattern",
    "json_equal",
    "json_path",
    "parse_mapping",
    "parse_mappings_document",
    "parse_request_pattern",
    "parse_response_definition",
    "parse_value_pattern",
]

#: The state every scenario starts in (WireMock's ``Scenario.STARTED``).
STARTED: Final = "Started"

#: WireMock's default stub priority: 1 is the highest, larger numbers are lower.
DEFAULT_PRIORITY: Final = 5


# -- mappings --------------------------------------------------------------------------------------

_MAPPING_KEYS: Final = {
    "id",
    "uuid",
    "name",
    "request",
    "response",
    "priority",
    "persistent",
    "metadata",
    "scenarioName",
    "requiredScenarioState",
    "newScenarioState",
    "insertionIndex",
}
_UNSUPPORTED_MAPPING_KEYS: Final = {"postServeActions", "serveEventListeners"}


@dataclass(frozen=True)
class StubMapping:
    """One WireMock stub mapping.

    Attributes:
        id: the mapping's UUID (made up when the JSON has none).
        name: its ``name``, or ``None``.
        priority: 1 is the highest; ``None`` when not given (WireMock's default, 5, applies).
        request: what it matches.
        response: how it answers.
        scenario: ``scenarioName``, or ``None``.
        required_state: ``requiredScenarioState``: it matches only in that state.
        new_state: ``newScenarioState``: the scenario's state after it answered.
        source: the JSON, with ``id`` filled in (what the admin API returns).
    """

    id: str
    name: str | None
    priority: int | None
    request: RequestPattern
    response: ResponseDefinition
    scenario: str | None = None
    required_state: str | None = None
    new_state: str | None = None
    source: Mapping[str, Any] = field(default_factory=dict)


def parse_mapping(raw: object, *, where: str = "mapping") -> StubMapping:
    """A :class:`StubMapping` from WireMock JSON (one mapping).

    Raises:
        MappingError: no ``request`` (as WireMock, which refuses a mapping without one), or a
            field that is unknown, unsupported or of the wrong type, named by its path from
            ``where``.
    """
    raw = known_fields(
        where,
        raw,
        _MAPPING_KEYS,
        _UNSUPPORTED_MAPPING_KEYS,
        shape="a mapping is an object with request and response",
    )
    ident = raw.get("id", raw.get("uuid"))
    if ident is None:
        ident = str(_uuid.uuid4())
    elif not isinstance(ident, str):
        raise MappingError(f"{where}.id: a UUID string, not {ident!r}")
    name = raw.get("name")
    if name is not None and not isinstance(name, str):
        raise MappingError(f"{where}.name: a string")
    priority = raw.get("priority")
    if priority is not None and (
        not isinstance(priority, int) or isinstance(priority, bool) or priority < 1
    ):
        raise MappingError(f"{where}.priority: a positive int (1 is the highest), not {priority!r}")
    if "request" not in raw:
        # (WireMock refuses it too: a mapping without one would answer every request.)
        raise MappingError(
            f'{where}.request: required: the requests it answers, such as {{"method": "GET", '
            '"urlPath": "/users"} ({"method": "ANY"} for every request)'
        )
    request = parse_request_pattern(f"{where}.request", raw["request"])
    response = parse_response_definition(f"{where}.response", raw.get("response", {}))
    scenario = raw.get("scenarioName")
    states = {key: raw.get(key) for key in ("requiredScenarioState", "newScenarioState")}
    for key, value in {"scenarioName": scenario, **states}.items():
        if value is not None and not isinstance(value, str):
            raise MappingError(f"{where}.{key}: a string, not {value!r}")
    if scenario is None and any(value is not None for value in states.values()):
        raise MappingError(f"{where}: requiredScenarioState/newScenarioState need a scenarioName")
    source = {
        "id": ident,
        "uuid": ident,
        **{k: v for k, v in raw.items() if k not in ("id", "uuid")},
    }
    return StubMapping(
        id=ident,
        name=name,
        priority=priority,
        request=request,
        response=response,
        scenario=scenario,
        required_state=states["requiredScenarioState"],
        new_state=states["newScenarioState"],
        source=source,
    )


def parse_mappings_document(raw: object, *, where: str = "mapping") -> list[StubMapping]:
    """The mappings of one file: a single mapping, or ``{"mappings": [...]}``.

    Raises:
        MappingError: as :func:`parse_mapping`, naming the item (``mappings[2].request``).
    """
    if isinstance(raw, Mapping) and "mappings" in raw:
        extra = [key for key in raw if key not in ("mappings", "meta")]
        if extra:
            raise MappingError(f"{where}.{extra[0]}: unknown field beside 'mappings'")
        items = raw["mappings"]
        if not isinstance(items, list):
            raise MappingError(f"{where}.mappings: a list of mappings")
        return [
            parse_mapping(item, where=f"{where}.mappings[{index}]")
            for index, item in enumerate(items)
        ]
    return [parse_mapping(raw, where=where)]


class Scenarios:
    """The state of each scenario (``"Started"`` until a mapping moves it)."""

    def __init__(self) -> None:
        self._states: dict[str, str] = {}

    def state(self, name: str) -> str:
        return self._states.get(name, STARTED)

    def set(self, name: str, state: str) -> None:
        self._states[name] = state

    def reset(self) -> None:
        self._states.clear()

    def snapshot(self, names: Iterable[str]) -> dict[str, str]:
        """Every named scenario's state."""
        return {name: self.state(name) for name in names}
