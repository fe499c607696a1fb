"""What a server answered a request with: the journal's :data:`Answer` and its
:class:`ResponseRecord`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from .._core.faults import Fault
from .._http2_faults import HTTP2Fault, fault_from_text
from ._fields import Headers

__all__ = ["Answer", "Described", "Detail", "ResponseRecord", "record_of"]


class Described(Protocol):
    """What makes a :attr:`ResponseRecord.detail` when the record is read (an expectation's
    ``#1 expect('GET', '/users')``): the loop answers without formatting it, and most
    records are never read."""

    def answer_detail(self) -> str:
        """The detail, as :attr:`ResponseRecord.detail` says it."""
        ...


#: A detail as a journal keeps it: the str, or what makes it when read.
Detail = str | Described

#: What a server answered a request with, as its journal keeps it (flat, as PackedRequest):
#: what was sent (the response's head as written, status line and fields; or, for a fault, the
#: :class:`~understudy.Fault`'s name), then what answered (a kind, see
#: :attr:`ResponseRecord.answered_by`) and a detail (:attr:`ResponseRecord.detail`).
Answer = tuple[bytes | str, str, Detail]


class ResponseRecord:
    """What the server answered one request with, as it was sent. Immutable.

    Read it as ``request.response`` off :attr:`HTTPServer.requests` or
    :meth:`~HTTPServer.wait_for_requests`. (:class:`~understudy.Response` is the other way
    round: a response the test configures, to be sent.)

    Attributes:
        status_code: the status code sent (RFC 9110 §15), an int; ``None`` when the request
            was failed with a :attr:`fault` instead of answered.
        reason: the reason phrase sent (RFC 9112 §4), ``""`` if none (always on HTTP/2, which
            has none, RFC 9113 §8.3.2); ``None`` for a fault.
        headers: the response's header fields as sent, in order, those the server adds
            (Date, Content-Length or Transfer-Encoding, Connection) included, as
            :class:`~understudy.Headers` (case-insensitive, multi-valued; empty for a fault).
            On HTTP/2 the names are lower-case and there is no Connection or
            Transfer-Encoding (RFC 9113 §8.2).
        answered_by: what answered, a str: ``"expectation"`` (``server.expect(...)``),
            ``"mapping"`` (a WireMock stub mapping), ``"response"`` (``response=``),
            ``"handler"`` (``handler=``), ``"wsgi"``, ``"asgi"``, ``"directory"`` (a served
            directory), ``"proxy"`` (``proxy_to=``), ``"pypi"`` (the fake PyPI),
            ``"websocket"`` (a WebSocket handshake a stub took, 101, or one refused, 400 or
            426; an ASGI app's is ``"asgi"``),
            ``"unmatched"`` (nothing did: the near-miss answer, ``unmatched_status``) or
            ``"refused"`` (the server refused a malformed or over-limit request: 400, 408,
            413, 431, 505; :attr:`Request.error` says why).
        detail: which one, a str: for an expectation what made it (``expect('GET', '/users')``,
            numbered in the order added: ``#1 expect('GET', '/users')``); a mapping's name and
            id; a handler's or app's name; the path of the file a directory was asked for; the
            proxy's upstream; a refusal's reason; for a WebSocket handshake the stub that
            took it (``expect_websocket('/feed')``), ``"accepted"`` or ``"handshake refused"``;
            ``""`` when there is nothing to add.
        fault: the :class:`~understudy.Fault` or :class:`~understudy.HTTP2Fault` the
            request was failed with (no response, or a broken one, was sent), else ``None``.

    The record is made when the response's head is written, before its bytes reach the
    client: once a client has a response, the journal has its record.
    """

    __slots__ = ("answered_by", "detail", "fault", "headers", "reason", "status_code")

    status_code: int | None
    reason: str | None
    headers: Headers
    answered_by: str
    detail: str
    fault: Fault | HTTP2Fault | None

    def __init__(
        self,
        *,
        status_code: int | None,
        reason: str | None,
        headers: Headers | Iterable[tuple[str, str]] = (),
        answered_by: str,
        detail: str = "",
        fault: Fault | HTTP2Fault | None = None,
    ) -> None:
        set_ = object.__setattr__
        set_(self, "status_code", status_code)
        set_(self, "reason", reason)
        set_(self, "headers", headers if isinstance(headers, Headers) else Headers(headers))
        set_(self, "answered_by", answered_by)
        set_(self, "detail", detail)
        set_(self, "fault", fault)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"ResponseRecord is immutable: cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"ResponseRecord is immutable: cannot delete {name!r}")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ResponseRecord):
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in self.__slots__)

    __hash__ = None  # type: ignore[assignment]

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            _unpickle_response_record,
            (
                self.status_code,
                self.reason,
                tuple(self.headers.multi_items()),
                self.answered_by,
                self.detail,
                self.fault,
            ),
        )

    def __repr__(self) -> str:
        sent = f"fault={self.fault.name}" if self.fault is not None else str(self.status_code)
        detail = f" {self.detail}" if self.detail else ""
        return f"<understudy.ResponseRecord {sent} by {self.answered_by}{detail}>"


def _unpickle_response_record(  # noqa: PLR0917 - the order __reduce__ gives
    status_code: int | None,
    reason: str | None,
    headers: tuple[tuple[str, str], ...],
    answered_by: str,
    detail: str,
    fault: Fault | HTTP2Fault | None,
) -> ResponseRecord:
    return ResponseRecord(
        status_code=status_code,
        reason=reason,
        headers=headers,
        answered_by=answered_by,
        detail=detail,
        fault=fault,
    )


def record_of(answer: Answer) -> ResponseRecord:
    """The :class:`ResponseRecord` of an :data:`Answer` as a journal keeps it."""
    sent, answered_by, kept = answer
    detail = kept if isinstance(kept, str) else kept.answer_detail()
    if isinstance(sent, str):
        return ResponseRecord(
            status_code=None,
            reason=None,
            answered_by=answered_by,
            detail=detail,
            fault=fault_from_text(sent),
        )
    status_line, *lines = sent.decode("latin-1").split("\r\n")
    _, _, rest = status_line.partition(" ")
    code, _, reason = rest.partition(" ")
    headers = []
    for line in lines:
        if line:
            name, _, value = line.partition(":")
            headers.append((name, value.strip(" \t")))
    return ResponseRecord(
        status_code=int(code),
        reason=reason,
        headers=headers,
        answered_by=answered_by,
        detail=detail,
    )
