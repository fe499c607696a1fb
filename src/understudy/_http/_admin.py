"""WireMock's admin API under ``/__admin``: stub mappings, the request journal, scenarios.

The JSON shapes are WireMock's (https://wiremock.org/docs/standalone/admin-api-reference/), so
its clients in other languages (and the ``wiremock`` package from PyPI) can drive an
understudy server. Requests to ``/__admin`` are answered from the loop and are not journaled.

With a token (``HTTPServer(admin_token=...)``) a request must carry it in its Authorization
field, as ``Bearer <token>`` (RFC 6750 §2.1) or ``Token <token>`` (what WireMock's
``TokenAuthenticator`` sends); one that does not gets 401 with a ``WWW-Authenticate`` challenge
(RFC 9110 §11.6.1), and is journaled as an ordinary request, not kept out as an admin call.
"""

from __future__ import annotations

import base64
import hmac
import itertools
import json
import re
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from .._core.distance import request_distance
from .._core.wiremock import MappingError, parse_request_pattern
from .._errors import ConfigurationError
from ._request import Request
from ._response import Response
from ._wiremock import pattern_differences

if TYPE_CHECKING:
    from ._site import Exchange
    from ._wiremock import Stubs

__all__ = ["PREFIX", "AdminHost", "Served", "is_admin"]

PREFIX = "/__admin"

_MAPPING_ID = re.compile(r"/mappings/([^/]+)")


def is_admin(target: str) -> bool:
    """Whether a request target is for the admin API."""
    return target == PREFIX or target.startswith((PREFIX + "/", PREFIX + "?"))


class Served(Protocol):
    """What the admin API reads and changes: the router's stubs and journal (``Router``)."""

    @property
    def stubs(self) -> Stubs: ...
    @property
    def unmatched_requests(self) -> Iterable[Request]: ...
    @property
    def requests(self) -> list[Request]: ...
    def clear(self) -> None: ...


class _Problem(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _json_response(status: int, value: Any) -> Response:
    return Response(status, body=json.dumps(value).encode(), content_type="application/json")


#: The answer to an admin request without the token (RFC 9110 §15.5.2, §11.6.1).
_UNAUTHORIZED = Response(
    401,
    body=json.dumps(
        {
            "errors": [
                {
                    "code": 10,
                    "title": "the admin API needs its token: send Authorization: Bearer <token>",
                }
            ]
        }
    ).encode(),
    content_type="application/json",
    headers={"WWW-Authenticate": 'Bearer realm="understudy admin"'},
)


class AdminHost:
    """Answers ``/__admin/...`` from the router's stubs and journal."""

    streams_body = False

    def __init__(self, token: str | None = None) -> None:
        #: The token a request must carry (``None``: no authentication).
        self.token = token

    def allows(self, request: Request) -> bool:
        """Whether ``request`` may use the admin API: it carries the token, or none is set."""
        token = self.token
        if token is None:
            return True
        expected = token.encode()
        for value in request.headers.get_all("authorization"):
            scheme, _, credentials = value.strip().partition(" ")
            if scheme.lower() in ("bearer", "token") and hmac.compare_digest(
                credentials.strip().encode(), expected
            ):
                return True
        return False

    def dispatch(self, served: Served, exchange: Exchange) -> None:
        """Answer ``exchange`` from ``served`` (the router calls this, not a mount)."""
        request = exchange.request
        assert request is not None
        if not self.allows(request):
            exchange.send(_UNAUTHORIZED)
            return
        try:
            status, value = self.answer(served, request)
        except (_Problem, ConfigurationError) as problem:  # (the latter: files gone, 500)
            status = problem.status if isinstance(problem, _Problem) else 500
            value = {"errors": [{"code": 10, "title": str(problem)}]}
        exchange.send(_json_response(status, value))

    def answer(self, served: Served, request: Request) -> tuple[int, Any]:
        path = request.path[len(PREFIX) :].rstrip("/") or "/"
        method = request.method.upper()
        stubs = served.stubs
        routes: dict[tuple[str, str], Callable[[], tuple[int, Any]]] = {
            ("GET", "/mappings"): lambda: (200, _all_mappings(served)),
            ("POST", "/mappings"): lambda: (201, self._create(served, request, None)),
            ("DELETE", "/mappings"): _empty(stubs.clear),
            ("POST", "/mappings/reset"): _empty(stubs.reset),
            ("GET", "/requests"): lambda: (200, _journal(served, request)),
            ("DELETE", "/requests"): _empty(served.clear),
            ("POST", "/requests/reset"): _empty(served.clear),
            ("POST", "/requests/count"): lambda: (200, {"count": len(_find(served, request))}),
            ("POST", "/requests/find"): lambda: (
                200,
                {"requests": [_logged(r) for r in _find(served, request)]},
            ),
            ("GET", "/requests/unmatched"): lambda: (200, _unmatched(served)),
            ("POST", "/near-misses/request"): lambda: (200, _near_misses(served, request)),
            ("GET", "/scenarios"): lambda: (200, _scenarios(served)),
            ("POST", "/scenarios/reset"): _empty(stubs.scenarios.reset),
            ("POST", "/reset"): lambda: (200, _reset(served)),
        }
        route = routes.get((method, path))
        if route is not None:
            return route()
        found = _MAPPING_ID.fullmatch(path)
        if found is not None:
            ident = found.group(1)
            if method == "GET":
                stub = stubs.get(ident)
                if stub is None:
                    raise _Problem(404, f"no stub mapping with id {ident}")
                return 200, dict(stub.source)
            if method == "PUT":
                if stubs.get(ident) is None:
                    raise _Problem(404, f"no stub mapping with id {ident}")
                return 200, self._create(served, request, ident)
            if method == "DELETE":
                if not stubs.remove(ident):
                    raise _Problem(404, f"no stub mapping with id {ident}")
                return 200, {}
        raise _Problem(404, f"understudy's admin API has no {method} {PREFIX}{path}")

    def _create(self, served: Served, request: Request, ident: str | None) -> Any:
        document = _body_json(request)
        if not isinstance(document, dict):
            raise _Problem(422, "a stub mapping is a JSON object with request and response")
        if ident is not None:
            document = {**document, "id": ident, "uuid": ident}
        try:
            stub = served.stubs.add_json(document, where="mapping")
        except ConfigurationError as error:
            raise _Problem(422, str(error)) from None
        return dict(stub.source)


def _empty(action: Callable[[], None]) -> Callable[[], tuple[int, Any]]:
    def run() -> tuple[int, Any]:
        action()
        return 200, {}

    return run


def _body_json(request: Request) -> Any:
    try:
        return json.loads(request.body or b"{}")
    except ValueError as error:
        raise _Problem(422, f"the body is not JSON: {error}") from None
    except RecursionError:
        raise _Problem(
            422, "the body is JSON nested too deeply to read; a mapping is a few levels deep"
        ) from None


def _all_mappings(served: Served) -> Any:
    mappings = served.stubs.mappings_json()
    return {"mappings": mappings, "meta": {"total": len(mappings)}}


def _stubbed(served: Served) -> list[Request]:
    return [r for r in served.requests if r.error is None]


def _find(served: Served, request: Request) -> list[Request]:
    try:
        pattern = parse_request_pattern("request", _body_json(request))
    except MappingError as error:
        raise _Problem(422, str(error)) from None
    return [r for r in _stubbed(served) if not pattern_differences(pattern, r)]


def _request_id(request: Request) -> str:
    key = f"{request.received_at!r} {request.peer} {request.method} {request.target}"
    return str(uuid.uuid5(uuid.NAMESPACE_URL, key))


def _logged(request: Request) -> dict[str, Any]:
    """A request as WireMock's ``LoggedRequest`` JSON."""
    logged_at = datetime.fromtimestamp(request.received_at, UTC)
    headers = _list_or_single(request.headers.multi_items(), fold=True)
    cookies = _list_or_single(
        pair for value in request.headers.get_all("cookie") for pair in _cookie_pairs(value)
    )
    query: dict[str, Any] = {}
    for name, value in request.query.multi_items():
        query.setdefault(name, {"key": name, "values": []})["values"].append(value)
    return {
        "id": _request_id(request),
        "url": request.target,
        "absoluteUrl": request.url,
        "method": request.method,
        "clientIp": request.peer[0] if request.peer else None,
        "headers": headers,
        "queryParams": query,
        "cookies": cookies,
        "browserProxyRequest": False,
        "body": request.body.decode("utf-8", "replace"),
        "bodyAsBase64": base64.b64encode(request.body).decode("ascii"),
        "loggedDate": int(request.received_at * 1000),
        "loggedDateString": logged_at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    }


def _list_or_single(pairs: Iterable[tuple[str, str]], *, fold: bool = False) -> dict[str, Any]:
    """Name → value, or → a list of values for a name given more than once: WireMock's JSON
    for header fields and cookies (``ListOrSingle``). With ``fold``, names that differ only
    in case are one name (field names are case-insensitive, RFC 9110 §5.1), spelt as first
    sent."""
    result: dict[str, Any] = {}
    spelling: dict[str, str] = {}
    for name, value in pairs:
        key = spelling.setdefault(name.lower(), name) if fold else name
        if key in result:
            previous = result[key]
            result[key] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            result[key] = value
    return result


def _cookie_pairs(field: str) -> list[tuple[str, str]]:
    """The ``name=value`` pairs of a Cookie field (RFC 6265 §4.2.1: separated by ``;``); a
    piece without ``=`` or without a name is skipped, as user agents never send one."""
    pairs = []
    for piece in field.split(";"):
        name, equals, value = piece.partition("=")
        name = name.strip()
        if equals and name:
            pairs.append((name, value.strip()))
    return pairs


def _journal_window(request: Request) -> tuple[int | None, datetime | None]:
    """``limit`` (the newest that many) and ``since`` (an ISO 8601 time: only requests logged
    after it) from the query of ``GET /__admin/requests``, as WireMock takes them."""
    limit = None
    since = None
    raw_limit = request.query.get("limit")
    if raw_limit is not None:
        if not (raw_limit.isascii() and raw_limit.isdigit()) or len(raw_limit) > 18:
            raise _Problem(400, f"limit: a whole number of requests such as 10, not {raw_limit!r}")
        limit = int(raw_limit)
    raw_since = request.query.get("since")
    if raw_since is not None:
        try:
            since = datetime.fromisoformat(raw_since.strip())
        except ValueError:
            raise _Problem(
                400,
                f"since: an ISO 8601 time such as 2024-05-01T12:30:00Z, not {raw_since!r:.60}",
            ) from None
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)  # (WireMock reads a time without an offset as UTC)
    return limit, since


def _journal(served: Served, admin_request: Request) -> Any:
    limit, since = _journal_window(admin_request)
    # (By id: the journal makes a new Request each time it is read.)
    unmatched = {_request_id(r) for r in served.unmatched_requests}
    everything = _stubbed(served)
    chosen = reversed(everything)  # newest first
    if since is not None:
        # (In whole milliseconds, as loggedDate: the loggedDateString of a request read back
        # as since leaves that request out, as in WireMock.)
        after = since.timestamp() * 1000
        chosen = (r for r in chosen if int(r.received_at * 1000) > after)
    if limit is not None:
        chosen = itertools.islice(chosen, limit)
    listed = []
    for request in chosen:
        request_id = _request_id(request)
        listed.append(
            {
                "id": request_id,
                "request": _logged(request),
                "wasMatched": request_id not in unmatched,
            }
        )
    # (meta.total counts every request in the journal, as WireMock's paginator does.)
    return {
        "requests": listed,
        "meta": {"total": len(everything)},
        "requestJournalDisabled": False,
    }


def _unmatched(served: Served) -> Any:
    requests = [_logged(r) for r in served.unmatched_requests]
    return {"requests": requests, "requestJournalDisabled": False}


def _near_misses(served: Served, admin_request: Request) -> Any:
    logged = _body_json(admin_request)
    if not isinstance(logged, dict) or not isinstance(logged.get("url"), str):
        raise _Problem(422, "give a logged request: an object with at least url and method")
    headers = logged.get("headers") or {}
    if not isinstance(headers, dict):
        raise _Problem(422, 'headers: an object of name to value, such as {"Accept": "*/*"}')
    pairs = [
        (str(name), str(item))
        for name, value in headers.items()
        for item in (value if isinstance(value, list) else [value])
    ]
    body = logged.get("body") or ""
    if not isinstance(body, str):
        raise _Problem(422, f"body: the request body as a string, not {body!r:.40}")
    request = Request(
        method=str(logged.get("method", "GET")),
        target=logged["url"],
        headers=pairs,
        body=body.encode("utf-8", "surrogatepass"),
    )
    scored = []
    for position, stub in enumerate(served.stubs):
        found = pattern_differences(stub.request, request)
        distance = request_distance(found, stub.request.criteria())
        scored.append((distance, position, stub, found))
    scored.sort(key=lambda item: item[:2])
    near = [
        {
            "request": logged,
            "stubMapping": dict(stub.source),
            "matchResult": {"distance": distance},
            "differences": [str(difference) for difference in found],
        }
        for distance, _, stub, found in scored[:3]
    ]
    return {"nearMisses": near}


def _scenarios(served: Served) -> Any:
    stubs = served.stubs
    scenarios = []
    for name in stubs.scenario_names():
        states = {"Started"}
        for stub in stubs:
            if stub.scenario == name:
                states.update(s for s in (stub.required_state, stub.new_state) if s is not None)
        scenarios.append(
            {
                "id": name,
                "name": name,
                "state": stubs.scenarios.state(name),
                "possibleStates": sorted(states),
            }
        )
    return {"scenarios": scenarios}


def _reset(served: Served) -> Any:
    served.stubs.reset()
    served.clear()
    return {}
