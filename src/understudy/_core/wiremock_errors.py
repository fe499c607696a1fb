"""The error every part of a WireMock mapping raises, and the object check they all make.

Pure. :class:`MappingError` names the field at fault; :func:`known_fields` checks a JSON
object's members against the ones a part of a mapping reads.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["MappingError", "known_fields"]


class MappingError(ValueError):
    """A mapping that is not valid WireMock JSON, or uses a field understudy does not support.

    The message starts with the path of the field (``request.bodyPatterns[0].equalsTo``).
    """


def known_fields(
    where: str,
    raw: object,
    known: Iterable[str],
    unsupported: Iterable[str],
    *,
    shape: str = "must be an object",
) -> dict[str, Any]:
    """A JSON object's members without its ``null`` ones (WireMock reads them as absent).

    Raises:
        MappingError: ``raw`` is not an object (the message says ``shape``), or it has a member
            that is not in ``known``, or one in ``unsupported`` (WireMock's, not understudy's).
    """
    if not isinstance(raw, Mapping):
        raise MappingError(f"{where}: {shape}")
    fields = {key: value for key, value in raw.items() if value is not None}
    for key in fields:
        if key in unsupported:
            raise MappingError(f"{where}.{key}: this WireMock field is not supported by understudy")
        if key not in known:
            raise MappingError(f"{where}.{key}: unknown field")
    return fields
