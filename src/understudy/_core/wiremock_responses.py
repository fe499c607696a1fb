"""WireMock response definitions: the response half of a stub mapping.

Pure: :func:`parse_response_definition` checks every field of the JSON and returns a
:class:`ResponseDefinition` (status, reason, header fields, body or the ``__files`` name that
holds it, delay and fault as written); the HTTP server carries it out.

The format is WireMock's (https://wiremock.org/docs/stubbing/,
https://wiremock.org/docs/simulating-faults/). A field understudy does not know, or knows but
does not implement, is an error naming the field.
"""

from __future__ import annotations

import base64
import binascii
import json as _json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from .faults import MAX_DELAY
from .framing import field_value_problem, reason_problem
from .wiremock_errors import MappingError, known_fields

__all__ = ["ResponseDefinition", "parse_response_definition"]

_RESPONSE_KEYS: Final = {
    "status",
    "statusMessage",
    "headers",
    "body",
    "jsonBody",
    "base64Body",
    "bodyFileName",
    "fixedDelayMilliseconds",
    "fault",
    "delayDistribution",
    "chunkedDribbleDelay",
}
_UNSUPPORTED_RESPONSE_KEYS: Final = {
    "transformers",
    "transformerParameters",
    "proxyBaseUrl",
    "additionalProxyRequestHeaders",
    "removeProxyRequestHeaders",
    "proxyUrlPrefixToRemove",
}


@dataclass(frozen=True)
class ResponseDefinition:
    """The response half of a mapping.

    Attributes:
        status: the status code (200 by default).
        reason: ``statusMessage``, or ``None`` for the registered reason phrase.
        headers: the fields, in order (a list value in the JSON gives the field once per item).
        body: the body bytes from ``body``, ``jsonBody`` or ``base64Body`` (``b""`` if none).
        body_file: ``bodyFileName``: a path relative to the ``__files`` directory.
        delay: ``fixedDelayMilliseconds`` as seconds, or ``None``.
        fault: ``fault`` as written (``CONNECTION_RESET_BY_PEER``...), or ``None``.
        delay_distribution: ``delayDistribution`` as written, or ``None``.
        dribble: ``chunkedDribbleDelay`` as written, or ``None``.
    """

    status: int = 200
    reason: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    body_file: str | None = None
    delay: float | None = None
    fault: str | None = None
    delay_distribution: Mapping[str, Any] | None = None
    dribble: Mapping[str, Any] | None = None


def _parse_body(where: str, raw: Mapping[str, Any]) -> tuple[bytes, str | None]:
    """The body bytes, or the name of the file in ``__files`` that holds them."""
    bodies = [key for key in ("body", "jsonBody", "base64Body", "bodyFileName") if key in raw]
    if len(bodies) > 1:
        raise MappingError(f"{where}: give one of body, jsonBody, base64Body, bodyFileName")
    body = b""
    body_file = None
    if "body" in raw:
        if not isinstance(raw["body"], str):
            raise MappingError(f"{where}.body: a string (for JSON write jsonBody)")
        try:
            body = raw["body"].encode()
        except UnicodeEncodeError as error:
            char = raw["body"][error.start]
            raise MappingError(
                f"{where}.body: holds a lone surrogate (U+{ord(char):04X}), which UTF-8 cannot "
                "encode; for bytes that are not UTF-8 write base64Body"
            ) from None
    elif "jsonBody" in raw:
        try:
            body = _json.dumps(raw["jsonBody"], allow_nan=False).encode()
        except ValueError:
            raise MappingError(
                f"{where}.jsonBody: holds NaN or Infinity, which JSON has no number for "
                "(RFC 8259 §6); write null or a string instead"
            ) from None
    elif "base64Body" in raw:
        try:
            body = base64.b64decode(str(raw["base64Body"]), validate=True)
        except (binascii.Error, ValueError):
            raise MappingError(f"{where}.base64Body: not base64") from None
    elif "bodyFileName" in raw:
        body_file = raw["bodyFileName"]
        if not isinstance(body_file, str) or not body_file:
            raise MappingError(f"{where}.bodyFileName: a path under __files")
    return body, body_file


def parse_response_definition(where: str, raw: object) -> ResponseDefinition:
    """A :class:`ResponseDefinition` from its JSON, or :class:`MappingError` naming the field."""
    raw = known_fields(where, raw, _RESPONSE_KEYS, _UNSUPPORTED_RESPONSE_KEYS)
    status = raw.get("status", 200)
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        raise MappingError(f"{where}.status: an int from 100 to 599, not {status!r}")
    reason = raw.get("statusMessage")
    if reason is not None:
        if not isinstance(reason, str):
            raise MappingError(f"{where}.statusMessage: a string, not {reason!r}")
        problem = reason_problem(reason)
        if problem is not None:
            raise MappingError(f"{where}.statusMessage: {problem}")
    headers: list[tuple[str, str]] = []
    raw_headers = raw.get("headers", {})
    if not isinstance(raw_headers, Mapping):
        raise MappingError(f"{where}.headers: an object of field name to value")
    for name, value in raw_headers.items():
        values = value if isinstance(value, list) else [value]
        for item in values:
            if not isinstance(item, str | int | float) or isinstance(item, bool):
                raise MappingError(f"{where}.headers.{name}: a string or list of strings")
            problem = field_value_problem(str(item))
            if problem is not None:
                raise MappingError(f"{where}.headers.{name}: {problem}")
            headers.append((str(name), str(item)))
    body, body_file = _parse_body(where, raw)
    delay = None
    if "fixedDelayMilliseconds" in raw:
        millis = raw["fixedDelayMilliseconds"]
        if (
            not isinstance(millis, int | float)
            or isinstance(millis, bool)
            or not 0 <= millis <= MAX_DELAY * 1000
        ):
            raise MappingError(
                f"{where}.fixedDelayMilliseconds: milliseconds from 0 to {MAX_DELAY * 1000:.0f} "
                f"(one hour), not {millis!r}"
            )
        delay = millis / 1000
    fault = raw.get("fault")
    if fault is not None and not isinstance(fault, str):
        raise MappingError(f'{where}.fault: a string such as "CONNECTION_RESET_BY_PEER"')
    return ResponseDefinition(
        status=status,
        reason=reason,
        headers=tuple(headers),
        body=body,
        body_file=body_file,
        delay=delay,
        fault=fault,
        delay_distribution=raw.get("delayDistribution"),
        dribble=raw.get("chunkedDribbleDelay"),
    )
