"""WebSocket stubs declared in WireMock-style mapping files (and so through ``understudy http``).

A mapping with a ``websocket`` member instead of a ``response`` becomes an
:meth:`~understudy.HTTPServer.expect_websocket` stub. Its ``request`` matches the handshake
(``url`` or ``urlPath``, exact; ``queryParameters`` and ``headers`` with ``equalTo``); its
``websocket`` object is the script, member for member the expectation's methods::

    {"request": {"urlPath": "/feed", "headers": {"Authorization": {"equalTo": "Bearer t"}}},
     "websocket": {"subprotocol": "chat",
                   "send": ["hello", {"json": {"n": 1}}, {"base64": "AAE="}],
                   "reply": [{"when": {"equalTo": "ping"}, "send": "pong"},
                             {"when": {"matches": "sub .*"}, "send": {"json": {"ok": true}}},
                             {"when": {"equalToJson": {"op": "x"}}, "send": "x!"}],
                   "echo": true,
                   "close": {"code": 1000, "reason": "bye", "after": 3},
                   "fragment": 2, "delayMilliseconds": 10, "pingEveryMilliseconds": 500,
                   "ignoreClose": false, "ignorePings": false, "sendInvalid": "utf8",
                   "drop": {"after": 2}, "stall": {"after": 2}, "maxMessageSize": 65536}}

A reply's ``when`` is ``equalTo`` (the text), ``matches`` (the whole text matches the regular
expression, compiled with RE2 as every pattern from a mapping is), ``equalToJson`` (the message
parsed as JSON equals it) or ``base64`` (the binary payload). A message is a string (text),
``{"json": value}`` (text: the value as JSON) or
``{"base64": "..."}`` (binary); ``send`` takes one or a list. Unlike an ``expect_websocket``
made in a test, a mapping no handshake reached does not fail the test (as HTTP mappings do
not). Errors are :class:`~understudy._core.wiremock_errors.MappingError`, naming the field.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl

from .._core.regexes import RegexError, compile_linear
from .._core.wiremock_errors import MappingError, known_fields
from .._errors import ConfigurationError
from ._stubs import WebSocketExpectation

__all__ = ["take_websockets", "websocket_mapping"]

_MAPPING = ("id", "uuid", "name", "request", "websocket", "metadata")
_REQUEST = ("method", "url", "urlPath", "queryParameters", "headers")
_SCRIPT = (
    "subprotocol",
    "send",
    "reply",
    "echo",
    "close",
    "drop",
    "stall",
    "fragment",
    "delayMilliseconds",
    "pingEveryMilliseconds",
    "ignoreClose",
    "ignorePings",
    "sendInvalid",
    "maxMessageSize",
)


def _is_websocket(raw: object) -> bool:
    return isinstance(raw, Mapping) and "websocket" in raw


def take_websockets(
    document: object, file: str, add: Callable[[WebSocketExpectation], None]
) -> object:
    """``document`` (the JSON of mapping file ``file``) without its WebSocket mappings, each
    made an expectation and given to ``add``; the HTTP mappings are left to the WireMock
    loader. A mapping without an ``id`` is known by its file and place (a reload replaces it).

    Raises:
        MappingError: a WebSocket mapping that is not valid (the file is not loaded further).
    """
    if _is_websocket(document):
        add(_made(document, "mapping", file))
        return {"mappings": []}
    if not isinstance(document, Mapping) or not isinstance(document.get("mappings"), list):
        return document
    items = document["mappings"]
    for index, item in enumerate(items):
        if _is_websocket(item):
            add(_made(item, f"mapping.mappings[{index}]", file))
    return {**document, "mappings": [item for item in items if not _is_websocket(item)]}


def _made(raw: Any, where: str, file: str) -> WebSocketExpectation:
    stub = websocket_mapping(raw, where=where)
    if "id" not in raw and "uuid" not in raw:
        stub.mapping_id = f"{file}#{where}"
    return stub


def _equal_to(where: str, raw: object) -> dict[str, str]:
    if not isinstance(raw, Mapping):
        raise MappingError(f'{where}: an object of {{"name": {{"equalTo": "value"}}}}')
    found = {}
    for name, pattern in raw.items():
        inner = known_fields(f"{where}.{name}", pattern, ("equalTo",), ())
        value = inner.get("equalTo")
        if not isinstance(value, str):
            raise MappingError(
                f"{where}.{name}.equalTo: a string (WebSocket handshakes match exactly)"
            )
        found[name] = value
    return found


def _message(where: str, raw: object) -> str | bytes:
    if isinstance(raw, str):
        return raw
    fields = known_fields(
        where, raw, ("json", "base64"), (), shape='a string, {"json": ...} or {"base64": "..."}'
    )
    if len(fields) != 1:
        raise MappingError(f'{where}: one of "json" or "base64"')
    if "json" in fields:
        return json.dumps(fields["json"])
    try:
        return base64.b64decode(str(fields["base64"]), validate=True)
    except binascii.Error:
        raise MappingError(f"{where}.base64: not base64: {fields['base64']!r}") from None


def _when(where: str, raw: object) -> Any:
    fields = known_fields(where, raw, ("equalTo", "matches", "equalToJson", "base64"), ())
    if len(fields) != 1:
        raise MappingError(f'{where}: one of "equalTo", "matches", "equalToJson" or "base64"')
    ((kind, value),) = fields.items()
    if kind == "equalToJson":
        if not isinstance(value, dict | list):
            raise MappingError(f"{where}.equalToJson: a JSON object or array")
        return value
    if kind == "base64":
        return _message(where, {"base64": value})
    if not isinstance(value, str):
        raise MappingError(f"{where}.{kind}: a string")
    if kind == "matches":  # (data, not the test's code: RE2, whole text, as WireMock's)
        try:
            regex = compile_linear(value)
        except RegexError as error:
            raise MappingError(f"{where}.matches: {error}") from None
        return lambda payload: isinstance(payload, str) and regex.fullmatch(payload)
    return value


def _count(where: str, value: object, *, least: int = 0) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < least:
        raise MappingError(f"{where}: an int >= {least}, not {value!r}")
    return value


def _handshake(where: str, raw: object) -> dict[str, Any]:
    request = known_fields(where, raw, _REQUEST, ())
    if request.get("method", "GET") not in ("GET", "ANY"):
        raise MappingError(f"{where}.method: a WebSocket handshake is a GET (RFC 6455 §4.1)")
    url = request.get("urlPath", request.get("url"))
    if not isinstance(url, str) or not url.startswith("/"):
        raise MappingError(f'{where}.urlPath: required, a path such as "/feed"')
    path, _, query = url.partition("?")
    queries = dict(parse_qsl(query, keep_blank_values=True))
    queries.update(_equal_to(f"{where}.queryParameters", request.get("queryParameters", {})))
    return {
        "path": path,
        "query": queries,
        "headers": _equal_to(f"{where}.headers", request.get("headers", {})),
    }


def websocket_mapping(raw: object, *, where: str = "mapping") -> WebSocketExpectation:
    """The :class:`~understudy.WebSocketExpectation` a WebSocket mapping declares.

    Raises:
        MappingError: a field unknown or of the wrong type, named by its path from ``where``.
    """
    try:
        return _websocket_mapping(raw, where)
    except ConfigurationError as error:  # (what the expectation's methods refuse)
        raise MappingError(f"{where}.websocket: {error}") from None


def _websocket_mapping(raw: object, where: str) -> WebSocketExpectation:
    mapping = known_fields(where, raw, _MAPPING, ("response",))
    match = _handshake(f"{where}.request", mapping.get("request"))
    at = f"{where}.websocket"
    script = known_fields(at, mapping["websocket"], _SCRIPT, ())
    subprotocol = script.get("subprotocol")
    if subprotocol is not None and not isinstance(subprotocol, str):
        raise MappingError(f"{at}.subprotocol: a string")
    size = script.get("maxMessageSize", 64 * 1024 * 1024)
    stub = WebSocketExpectation(
        match["path"],
        query=match["query"],
        headers=match["headers"],
        subprotocol=subprotocol,
        max_message_size=_count(f"{at}.maxMessageSize", size, least=1),
    )
    stub.required = False
    stub.mapping_id = str(mapping.get("id", mapping.get("uuid", where)))
    _script(stub, at, script)
    return stub


def _script(stub: WebSocketExpectation, at: str, script: dict[str, Any]) -> None:
    sends = script.get("send", [])
    for index, message in enumerate(sends if isinstance(sends, list) else [sends]):
        stub.send(_message(f"{at}.send[{index}]", message))
    for index, rule in enumerate(_list(f"{at}.reply", script.get("reply", []))):
        here = f"{at}.reply[{index}]"
        fields = known_fields(here, rule, ("when", "send"), ())
        if "when" not in fields or "send" not in fields:
            raise MappingError(f'{here}: "when" and "send" are both required')
        stub.reply(_when(f"{here}.when", fields["when"]), _message(f"{here}.send", fields["send"]))
    if script.get("echo", False) is True:
        stub.echo()
    ends = [end for end in ("close", "drop", "stall") if end in script]
    if len(ends) > 1:
        raise MappingError(
            f'{at}: a script ends once: one of "close", "drop" and "stall", not {ends}'
        )
    if "close" in script:
        close = known_fields(f"{at}.close", script["close"], ("code", "reason", "after"), ())
        reason = close.get("reason", "")
        if not isinstance(reason, str):
            raise MappingError(f"{at}.close.reason: a string")
        stub.close(
            _count(f"{at}.close.code", close.get("code", 1000), least=1000),
            reason,
            after=_count(f"{at}.close.after", close.get("after", 0)),
        )
    if "drop" in script:
        drop = known_fields(f"{at}.drop", script["drop"], ("after",), ())
        stub.drop(after=_count(f"{at}.drop.after", drop.get("after", 0)))
    if "stall" in script:
        stall = known_fields(f"{at}.stall", script["stall"], ("after",), ())
        stub.stall(after=_count(f"{at}.stall.after", stall.get("after", 0)))
    if "fragment" in script:
        stub.fragment(_count(f"{at}.fragment", script["fragment"], least=1))
    if "delayMilliseconds" in script:
        stub.delay(_count(f"{at}.delayMilliseconds", script["delayMilliseconds"]) / 1000)
    if "pingEveryMilliseconds" in script:
        stub.ping_every(
            _count(f"{at}.pingEveryMilliseconds", script["pingEveryMilliseconds"], least=1) / 1000
        )
    if script.get("ignoreClose", False) is True:
        stub.ignore_close()
    if script.get("ignorePings", False) is True:
        stub.ignore_pings()
    if "sendInvalid" in script:
        stub.send_invalid(str(script["sendInvalid"]))


def _list(where: str, value: object) -> list[Any]:
    if not isinstance(value, list):
        raise MappingError(f"{where}: a list")
    return value
