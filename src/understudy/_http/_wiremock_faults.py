"""WireMock's faults and slowness in a mapping's response: ``fault``, ``fixedDelayMilliseconds``,
``delayDistribution`` and ``chunkedDribbleDelay`` as understudy's :class:`~understudy.Fault`,
:class:`~understudy.Delay` and :class:`~understudy.Dribble` (WireMock's "Simulating Faults").

Each checks what the mapping wrote, in its units (milliseconds), and raises
:class:`~understudy.ConfigurationError` naming the file and the field.
"""

from __future__ import annotations

import math
from typing import Any

from .._core.faults import MAX_DELAY, Fault
from .._core.numbers import finite_number
from .._core.wiremock import ResponseDefinition
from .._errors import ConfigurationError
from .._faults import Delay, Dribble

__all__ = ["mapping_delay", "mapping_dribble", "mapping_fault"]


#: WireMock's ``fault`` names → understudy's faults.
_FAULTS = {
    "CONNECTION_RESET_BY_PEER": Fault.CONNECTION_RESET,
    "EMPTY_RESPONSE": Fault.EMPTY_RESPONSE,
    "MALFORMED_RESPONSE_CHUNK": Fault.MALFORMED_CHUNK,
    "RANDOM_DATA_THEN_CLOSE": Fault.RANDOM_DATA_THEN_CLOSE,
}


def _number(
    value: object,
    where: str,
    *,
    least: float = 0.0,
    named: str = "",
    above: bool = False,
    unit: str = "milliseconds",
) -> float:
    """``value``, a number from ``least`` (``named``, as a mapping calls it; excluded when
    ``above``) to an hour in milliseconds (no bound for another ``unit``).

    Raises:
        ConfigurationError: anything else, saying what to write in the mapping's units.
    """
    limit = MAX_DELAY * 1000 if unit == "milliseconds" else math.inf
    if finite_number(value) and (value > least if above else value >= least) and value <= limit:
        return float(value)
    lowest = (
        f" above {least:g}" if above else f", {least:g}{f' ({named})' if named else ''} or more"
    )
    bound = "" if limit == math.inf else f" and at most {limit:.0f} (one hour)"
    raise ConfigurationError(f"{where}: a number of {unit}{lowest}{bound}, not {value!r}")


def _fields(value: object, where: str, expected: dict[str, str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigurationError(f"{where}: an object such as {_example(expected)}")
    unknown = sorted(set(value) - set(expected) - {"type"})
    if unknown:
        raise ConfigurationError(
            f"{where}.{unknown[0]}: unknown field (known: {_example(expected)})"
        )
    missing = sorted(set(expected) - set(value))
    if missing:
        raise ConfigurationError(f"{where}.{missing[0]}: required ({_example(expected)})")
    return value


def _example(expected: dict[str, str]) -> str:
    return "{" + ", ".join(f'"{name}": {kind}' for name, kind in expected.items()) + "}"


def mapping_fault(definition: ResponseDefinition, where: str) -> Fault | None:
    """WireMock's ``fault`` as understudy's :class:`Fault` (``None`` when not given).

    Raises:
        ConfigurationError: a name WireMock does not define.
    """
    if definition.fault is None:
        return None
    kind = _FAULTS.get(definition.fault)
    if kind is None:
        raise ConfigurationError(
            f"{where}.response.fault: {definition.fault!r} is not one of WireMock's faults "
            f"({', '.join(_FAULTS)})"
        )
    return kind


def mapping_delay(definition: ResponseDefinition, where: str) -> Delay | None:
    """``fixedDelayMilliseconds`` or ``delayDistribution`` as a :class:`Delay` (or ``None``).

    ``delayDistribution`` is ``{"type": "uniform", "lower": ms, "upper": ms}`` or
    ``{"type": "lognormal", "median": ms, "sigma": s}`` (WireMock's "Simulating Faults").
    Milliseconds are at most 3 600 000 (one hour, ``MAX_DELAY``).

    Raises:
        ConfigurationError: both are given, or the distribution is malformed or over the bound.
    """
    distribution = definition.delay_distribution
    if distribution is None:
        return None if definition.delay is None else Delay.fixed(definition.delay)
    here = f"{where}.response.delayDistribution"
    if definition.delay is not None:
        raise ConfigurationError(
            f"{here}: give it or fixedDelayMilliseconds, not both (WireMock adds them; write the "
            "sum as one)"
        )
    kind = distribution.get("type") if isinstance(distribution, dict) else None
    if kind == "uniform":
        fields = _fields(distribution, here, {"lower": "ms", "upper": "ms"})
        lower = _number(fields["lower"], f"{here}.lower")
        upper = _number(fields["upper"], f"{here}.upper", least=lower, named="lower")
        return Delay.uniform(lower / 1000, upper / 1000)
    if kind == "lognormal":
        fields = _fields(distribution, here, {"median": "ms", "sigma": "number"})
        median = _number(fields["median"], f"{here}.median", above=True)
        sigma = _number(fields["sigma"], f"{here}.sigma", unit="standard deviations")
        return Delay.lognormal(median / 1000, sigma)
    raise ConfigurationError(
        f'{here}.type: "uniform" (with lower and upper, ms) or "lognormal" (with median, ms, '
        "and sigma)"
    )


def mapping_dribble(definition: ResponseDefinition, where: str) -> Dribble | None:
    """``chunkedDribbleDelay`` (``{"numberOfChunks": n, "totalDuration": ms}``) as a Dribble.

    Raises:
        ConfigurationError: the object is malformed.
    """
    dribble = definition.dribble
    if dribble is None:
        return None
    here = f"{where}.response.chunkedDribbleDelay"
    fields = _fields(dribble, here, {"numberOfChunks": "n", "totalDuration": "ms"})
    if "type" in fields:
        raise ConfigurationError(f"{here}.type: unknown field")
    chunks = fields["numberOfChunks"]
    if isinstance(chunks, bool) or not isinstance(chunks, int) or chunks < 1:
        raise ConfigurationError(f"{here}.numberOfChunks: a whole number, 1 or more")
    duration = _number(fields["totalDuration"], f"{here}.totalDuration")
    return Dribble(chunks=chunks, duration=duration / 1000)
