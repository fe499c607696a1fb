"""The near-miss text: how a request differs from what was expected, for every report.

Pure functions over :class:`~understudy.Request` and request shapes: the 404 body and
:class:`~understudy.UnexpectedRequest` of a request nothing answered, the nearest requests of an
:class:`~understudy.UnmetExpectation`, and the extra requests of an
:class:`~understudy.ExpectationExceeded`. It imports nothing of ``_http`` but the models.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from .._core.distance import request_distance
from .._core.matching import Difference, RequestShape
from .._errors import ExpectationExceeded, UnmetExpectation
from ._request import Request

__all__ = [
    "differences",
    "exceeded_report",
    "nearest_requests",
    "nearness",
    "report_extra",
    "report_request",
    "requested_failure",
    "unmatched_report",
    "unmet_report",
]


class Described(Protocol):
    """An expectation, as reports name it."""

    def describe(self) -> str: ...


class Bounded(Described, Protocol):
    """An expectation met too often, as its report names it."""

    @property
    def calls(self) -> int: ...
    @property
    def extra(self) -> list[Request]: ...
    @property
    def required(self) -> int: ...
    def describe_kind(self) -> str: ...


def nearness(shape: RequestShape, found: list[Difference]) -> float:
    """How far a request that differed from ``shape`` as ``found`` says is from it, 0 to 1
    (``_core.distance.request_distance``: WireMock's weighting): what near-miss reports,
    in-process and from the admin API, are ordered by."""
    return request_distance(found, shape.criteria())


def differences(shape: RequestShape, request: Request) -> list[Difference]:
    """How ``request`` differs from ``shape`` (``[]``: it matches).

    A predicate of the shape that raises makes the request differ, saying what it raised (so
    the request is unmatched and reported, rather than breaking the connection).
    """
    try:
        return shape.differences(
            method=request.method,
            path=request.path,
            # (read only for a shape that names them: most name method and path, and
            # request.query and .headers are made when first read)
            query=() if shape.query is None else request.query.multi_items(),
            headers=() if shape.headers is None else request.headers.multi_items(),
            body=request.body,
            form=lambda: request.form().multi_items(),
            request=request,
        )
    except Exception as error:  # noqa: BLE001 - user predicates; reported as a difference
        return [
            Difference(
                "predicate",
                "True or False from every predicate",
                f"{type(error).__name__}: {error}",
            )
        ]


def report_request(request: Request) -> list[str]:
    """The request as received, for reports: request line, fields, body."""
    client = f" from {request.peer[0]}:{request.peer[1]}" if request.peer else ""
    lines = [f"  {request.method} {request.target} HTTP/{request.http_version}{client}"]
    lines += [f"    {name}: {value}" for name, value in request.headers.multi_items()]
    if request.body:
        body = request.body[:200]
        more = f" ... ({len(request.body)} bytes)" if len(request.body) > 200 else ""
        lines.append(f"    body: {body!r}{more}")
    return lines


def report_extra(requests: list[Request]) -> list[str]:
    """The extra requests of an expectation met too often: method, target, client, time."""
    lines = []
    for request in requests:
        client = f" from {request.peer[0]}:{request.peer[1]}" if request.peer else ""
        moment = datetime.fromtimestamp(request.received_at).strftime("%H:%M:%S.%f")[:-3]
        lines.append(f"  {request.method} {request.target}{client} at {moment}")
    return lines


def unmatched_report(
    request: Request, nearest: Sequence[tuple[Described, list[Difference]]], *, hosted: bool
) -> str:
    """The near-miss report for a request nothing answered, given the expectations nearest it
    (``Expectations.nearest``); ``hosted``: something (a directory) is mounted."""
    lines = ["No expectation matched this request:", *report_request(request)]
    if nearest:
        lines.append("Nearest expectations:")
        for number, (expectation, found) in enumerate(nearest, 1):
            lines.append(f"  {number}. {expectation.describe()}")
            lines += [f"       {difference}" for difference in found]
    elif not hosted:
        lines.append(NOTHING_HOSTED)
    return "\n".join(lines)


#: The report's last line when no expectation is set and nothing is hosted (the ``understudy``
#: command words it for its own options).
NOTHING_HOSTED = (
    "No expectation is set and nothing is hosted: add server.expect(...) or give "
    "HTTPServer a response=, handler=, wsgi=, asgi= or root=."
)


def nearest_requests(shape: RequestShape, received: list[Request]) -> list[str]:
    """The received requests closest to ``shape`` (3 kinds at most), with how each differed."""
    if not received:
        return ["  no request was received"]
    groups: dict[tuple[str, str, tuple[Difference, ...]], int] = {}
    for request in received:
        key = (request.method, request.target, tuple(differences(shape, request)))
        groups[key] = groups.get(key, 0) + 1
    nearest = sorted(groups.items(), key=lambda item: nearness(shape, list(item[0][2])))[:3]
    lines = ["  nearest requests received:"]
    for (method, target, found), count in nearest:
        repeat = f" ({count} like it)" if count > 1 else ""
        verdict = "" if found else " - matches"
        lines.append(f"    {method} {target}{repeat}{verdict}")
        lines += [f"      {difference}" for difference in found]
    return lines


class Shaped(Described, Protocol):
    """An expectation unmet, as its report names it."""

    @property
    def shape(self) -> RequestShape: ...


def unmet_report(owner: str, unmet: Sequence[Shaped], received: list[Request]) -> str:
    """``check()``'s :class:`~understudy.UnmetExpectation` text: each expectation of the server
    ``owner`` (its repr) not met, with the requests nearest it."""
    count = len(unmet)
    lines = [f"{count} expectation{'s' * (count != 1)} of {owner} not met:"]
    for number, expectation in enumerate(unmet, 1):
        lines.append(f"  {number}. {expectation.describe()}")
        lines += ["  " + line for line in nearest_requests(expectation.shape, received)]
    return "\n".join(lines)


def exceeded_report(
    owner: str, exceeded: Sequence[tuple[Bounded, list[Request]]], unmatched_status: int
) -> str:
    """``check()``'s :class:`~understudy.ExpectationExceeded` text: each expectation met too
    often, with the counts and the extra requests (answered ``unmatched_status``)."""
    count = len(exceeded)
    lines = [f"{count} expectation{'s' * (count != 1)} of {owner} met too often:"]
    for number, (expectation, extra) in enumerate(exceeded, 1):
        got = expectation.calls + len(expectation.extra)
        lines.append(
            f"  {number}. {expectation.describe_kind()}: expected at most "
            f"{expectation.required}, got {got}; the extra request"
            f"{'s' * (len(extra) != 1)} (answered {unmatched_status}):"
        )
        lines += ["    " + line for line in report_extra(extra)]
    return "\n".join(lines)


def requested_failure(
    shape: RequestShape, found: list[Request], received: list[Request], times: int | None
) -> ExpectationExceeded | UnmetExpectation:
    """What ``assert_requested`` raises when ``found`` (of ``received``) is not ``times``
    requests of ``shape`` (``None``: at least one)."""
    if times is not None and len(found) > times:
        extra = found[times:]
        summary = (
            f"{shape.describe()} was requested too often: expected at most {times}, got "
            f"{len(found)}; the extra request{'s' * (len(extra) != 1)}:"
        )
        return ExpectationExceeded("\n".join([summary, *report_extra(extra)]))
    wanted = "at least once" if times is None else f"{times} time{'s' * (times != 1)}"
    summary = (
        f"expected {shape.describe()} to be requested {wanted}; "
        f"it was requested {len(found)} time{'s' * (len(found) != 1)}"
    )
    return UnmetExpectation("\n".join([summary, *nearest_requests(shape, received)]))
