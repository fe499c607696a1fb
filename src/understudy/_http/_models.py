"""The HTTP request as received and the response to send."""

from __future__ import annotations

import json as _json
import re
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator, Mapping, Sequence
from itertools import chain
from typing import Any
from urllib.parse import parse_qsl, unquote

from .._core.coding import (
    CodingError,
    check_codings,
    compressor,
    encode,
    negotiate,
    tag_for_coding,
    vary_with,
)
from .._core.faults import Fault
from .._core.framing import field_value_problem, parse_digits, reason_phrase, reason_problem
from .._core.matching import MISSING
from .._errors import ConfigurationError
from .._tls import TLSInfo
from ._fields import Headers, Query

#: A field name (RFC 9110 §5.1: ``token``).
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")

__all__ = [
    "Answer",
    "Body",
    "PackedRequest",
    "Request",
    "Response",
    "ResponseRecord",
    "field_pairs",
    "origin_form",
    "to_response",
    "unpack_request",
]

Body = bytes | bytearray | memoryview | str | Iterable[bytes] | AsyncIterable[bytes]


def origin_form(target: str) -> str:
    """The request target in origin form: the absolute form's scheme and authority removed.

    ``"http://example.com/a?b"`` gives ``"/a?b"`` and ``"http://example.com"`` gives ``"/"``
    (RFC 9112 §3.2.2, §3.3); the origin form (``"/a?b"``), the asterisk form (``"*"``) and the
    authority form (``"example.com:443"``) are returned unchanged.
    """
    if target[:1] == "/" or "://" not in target:
        return target
    rest = target.partition("://")[2]
    for index, char in enumerate(rest):
        if char in "/?#":
            rest = rest[index:]
            break
    else:
        return "/"
    return rest if rest[0] == "/" else "/" + rest


class _RequestFields:
    """The fields of a :class:`Request`, stored plainly.

    :func:`unpack_request` fills one in with plain slot stores, then makes it a Request
    (whose ``__setattr__`` refuses every store): a fifth of what storing through
    ``object.__setattr__`` costs, once per request received.
    """

    __slots__ = (
        "_answer",
        "_headers",
        "_query",
        "_raw_fields",
        "body",
        "client",
        "error",
        "http_version",
        "method",
        "received_at",
        "request_line",
        "scheme",
        "target",
        "tls",
    )

    method: str
    target: str
    body: bytes
    http_version: str
    client: tuple[str, int] | None
    received_at: float
    scheme: str
    error: str | None
    request_line: str | None
    tls: TLSInfo | None
    _headers: Headers | None
    #: The field lines as received, flat: name, value, name, value... (as PackedRequest).
    _raw_fields: tuple[bytes, ...]
    _query: Query | None
    #: What the server answered (see Answer), made a ResponseRecord on first use; ``None``:
    #: not answered (yet).
    _answer: Answer | ResponseRecord | None


#: What a server answered a request with, as its journal keeps it (flat, as PackedRequest):
#: what was sent (the response's head as written, status line and fields; or, for a fault, the
#: :class:`~understudy.Fault`'s name), then what answered (a kind, see
#: :attr:`ResponseRecord.answered_by`) and a detail (:attr:`ResponseRecord.detail`).
Answer = tuple[bytes | str, str, str]


class ResponseRecord:
    """What the server answered one request with, as it was sent. Immutable.

    Read it as ``request.response`` off :attr:`HTTPServer.requests` or
    :meth:`~HTTPServer.wait_for_requests`. (:class:`~understudy.Response` is the other way
    round: a response the test configures, to be sent.)

    Attributes:
        status_code: the status code sent (RFC 9110 §15), an int; ``None`` when the request
            was failed with a :attr:`fault` instead of answered.
        reason: the reason phrase sent (RFC 9112 §4), ``""`` if none; ``None`` for a fault.
        headers: the response's header fields as sent, in order, those the server adds
            (Date, Content-Length or Transfer-Encoding, Connection) included, as
            :class:`~understudy.Headers` (case-insensitive, multi-valued; empty for a fault).
        answered_by: what answered, a str: ``"expectation"`` (``server.expect(...)``),
            ``"mapping"`` (a WireMock stub mapping), ``"response"`` (``response=``),
            ``"handler"`` (``handler=``), ``"wsgi"``, ``"asgi"``, ``"directory"`` (a served
            directory), ``"proxy"`` (``proxy_to=``), ``"pypi"`` (the fake PyPI),
            ``"unmatched"`` (nothing did: the near-miss answer, ``unmatched_status``) or
            ``"refused"`` (the server refused a malformed or over-limit request: 400, 408,
            413, 431, 505; :attr:`Request.error` says why).
        detail: which one, a str: for an expectation what made it (``expect('GET', '/users')``,
            numbered in the order added: ``#1 expect('GET', '/users')``); a mapping's name and
            id; a handler's or app's name; the path of the file a directory was asked for; the
            proxy's upstream; a refusal's reason; ``""`` when there is nothing to add.
        fault: the :class:`~understudy.Fault` the request was failed with (no response, or a
            broken one, was sent), else ``None``.

    The record is made when the response's head is written, before its bytes reach the
    client: once a client has a response, the journal has its record.
    """

    __slots__ = ("answered_by", "detail", "fault", "headers", "reason", "status_code")

    status_code: int | None
    reason: str | None
    headers: Headers
    answered_by: str
    detail: str
    fault: Fault | None

    def __init__(
        self,
        *,
        status_code: int | None,
        reason: str | None,
        headers: Headers | Iterable[tuple[str, str]] = (),
        answered_by: str,
        detail: str = "",
        fault: Fault | None = None,
    ) -> None:
        set_ = object.__setattr__
        set_(self, "status_code", status_code)
        set_(self, "reason", reason)
        set_(self, "headers", headers if isinstance(headers, Headers) else Headers(headers))
        set_(self, "answered_by", answered_by)
        set_(self, "detail", detail)
        set_(self, "fault", fault)

    @classmethod
    def _from_answer(cls, answer: Answer) -> ResponseRecord:
        """The record of an :data:`Answer` as a journal keeps it."""
        sent, answered_by, detail = answer
        if isinstance(sent, str):
            return cls(
                status_code=None,
                reason=None,
                answered_by=answered_by,
                detail=detail,
                fault=Fault[sent],
            )
        status_line, *lines = sent.decode("latin-1").split("\r\n")
        _, _, rest = status_line.partition(" ")
        code, _, reason = rest.partition(" ")
        headers = []
        for line in lines:
            if line:
                name, _, value = line.partition(":")
                headers.append((name, value.strip(" \t")))
        return cls(
            status_code=int(code),
            reason=reason,
            headers=headers,
            answered_by=answered_by,
            detail=detail,
        )

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
    fault: Fault | None,
) -> ResponseRecord:
    return ResponseRecord(
        status_code=status_code,
        reason=reason,
        headers=headers,
        answered_by=answered_by,
        detail=detail,
        fault=fault,
    )


class Request(_RequestFields):
    """One HTTP request as the server received it. Immutable.

    Everything a test usually asserts on is an attribute or a property: ``method``,
    ``target`` and its parts (``path``, ``query``), ``headers``, ``body`` and its decodings
    (``text``, ``json()``, ``form()``), ``client`` and, over HTTPS, ``tls`` (whose
    ``peer_subject`` names the client certificate, if one was sent).

    Attributes:
        method (str): the method, as sent (``"GET"``; RFC 9110 §9).
        target (str): the request target as sent (RFC 9112 §3.2): ``"/path?query"`` in origin
            form; ``"http://host/path"`` in absolute form (to a proxy); ``"*"`` for
            ``OPTIONS *``.
        http_version (str): ``"1.1"`` or ``"1.0"`` (RFC 9112 §2.3).
        body (bytes): the content, with any chunked transfer coding removed (RFC 9112 §7.1);
            ``b""`` when there was none.
        client (tuple[str, int] | None): the peer's ``(host, port)``; ``None`` for a Request
            made outside a server.
        received_at (float): when the request was complete, as ``time.time()`` (float seconds).
        scheme (str): ``"https"`` when it came over TLS, else ``"http"``; :attr:`url` is built
            with it.
        error (str | None): ``None`` for a well-formed request; for a malformed or refused one,
            why it was refused (the client got a 4xx). Fields that could not be parsed are
            empty.
        request_line (str | None): for a refused request, its request line as received (RFC
            9112 §3), without the line ending, decoded as Latin-1 (so every byte is kept, one
            character each: byte 0xFF becomes ``"ÿ"``); ``""`` when no byte of it arrived or
            it could not be told apart from what came before it on the connection (more than
            64 KiB since the connection was last between requests). ``None`` for a well-formed
            request, whose ``method``, ``target`` and ``http_version`` say the same. The
            ``target`` of a refused request whose target is not ASCII (RFC 9112 §3.2) is
            likewise decoded as Latin-1.
        tls (TLSInfo | None): what the TLS connection agreed on (version, cipher, ALPN
            protocol, the client certificate's subject) as a :class:`~understudy.TLSInfo`;
            ``None`` over plain HTTP.

    A request is journaled as soon as it is complete, before it is answered; the journal then
    records the answer in the same entry just before the response's bytes are written (see
    :attr:`response`). A Request is a snapshot: each read of the journal makes new ones, and
    a Request the server gave a handler, or kept for an expectation, stays as it arrived.
    """

    __slots__ = ()

    def __init__(
        self,
        *,
        method: str,
        target: str,
        headers: Headers | list[tuple[bytes, bytes]] | Iterable[tuple[str, str]] = (),
        body: bytes = b"",
        http_version: str = "1.1",
        client: tuple[str, int] | None = None,
        received_at: float = 0.0,
        scheme: str = "http",
        error: str | None = None,
        tls: TLSInfo | None = None,
        response: ResponseRecord | None = None,
        request_line: str | None = None,
    ) -> None:
        set_ = object.__setattr__
        set_(self, "method", method)
        set_(self, "target", target)
        set_(self, "body", body)
        set_(self, "http_version", http_version)
        set_(self, "client", client)
        set_(self, "received_at", received_at)
        set_(self, "scheme", scheme)
        set_(self, "error", error)
        set_(self, "request_line", request_line)
        set_(self, "tls", tls)
        set_(self, "_query", None)
        set_(self, "_answer", response)
        if isinstance(headers, Headers):
            set_(self, "_headers", headers)
            set_(self, "_raw_fields", ())
        elif isinstance(headers, list) and headers and isinstance(headers[0][0], bytes):
            set_(self, "_headers", None)
            set_(self, "_raw_fields", tuple(chain.from_iterable(headers)))
        else:
            set_(self, "_headers", Headers(headers))  # type: ignore[arg-type]
            set_(self, "_raw_fields", ())

    @property
    def headers(self) -> Headers:
        """The header fields (case-insensitive, multi-valued; values decoded as Latin-1)."""
        headers: Headers | None = self._headers
        if headers is None:
            headers = Headers(
                (name.decode("latin-1"), value.decode("latin-1"))
                for name, value in field_pairs(self._raw_fields)
            )
            object.__setattr__(self, "_headers", headers)
        return headers

    @property
    def response(self) -> ResponseRecord | None:
        """What the server answered this request with, as a :class:`ResponseRecord`.

        ``None`` while it is not answered: a request is journaled when complete, before its
        host answers, and its answer is recorded when the response's head is written, before
        its bytes go to the client. So once the client has the response, a read of
        ``server.requests`` shows it; to wait for it, wait for a request that has one:
        ``server.wait_for_requests(match=lambda request: request.response is not None)``.
        Stays ``None`` for a request that got no answer at all: pipelined behind a fault, cut
        off by ``stop()``, or aborted before its response began.
        """
        answer = self._answer
        if answer is None or isinstance(answer, ResponseRecord):
            return answer
        record = ResponseRecord._from_answer(answer)
        object.__setattr__(self, "_answer", record)
        return record

    def _with_answer(self, answer: Answer) -> Request:
        """A copy of this request answered with ``answer`` (as a journal keeps answers)."""
        copy = object.__new__(_RequestFields)
        for name in _RequestFields.__slots__:
            setattr(copy, name, getattr(self, name))
        copy._answer = answer
        copy.__class__ = Request
        return copy  # type: ignore[return-value]

    @property
    def path(self) -> str:
        """The target's path, percent-decoded as UTF-8 (``"/a b"`` for ``/a%20b?x=1``)."""
        return unquote(origin_form(self.target).partition("#")[0].partition("?")[0])

    @property
    def raw_path(self) -> str:
        """The target's path as sent, still percent-encoded (``"/a%20b"``)."""
        return origin_form(self.target).partition("#")[0].partition("?")[0]

    @property
    def query_string(self) -> str:
        """The target's query as sent, without the ``?`` (``""`` if none)."""
        return origin_form(self.target).partition("#")[0].partition("?")[2]

    @property
    def query(self) -> Query:
        """The query parameters, decoded (multi-valued, order kept)."""
        query: Query | None = self._query
        if query is None:
            query = Query(parse_qsl(self.query_string, keep_blank_values=True))
            object.__setattr__(self, "_query", query)
        return query

    @property
    def url(self) -> str:
        """The absolute URL the client asked for, built from the Host field and the target."""
        if "://" in self.target:
            return self.target
        host = self.headers.get("host", "")
        return f"{self.scheme}://{host}{self.target}"

    @property
    def content_type(self) -> str:
        """The media type of the body, lower-cased, without parameters (``""`` if none)."""
        return self.headers.get("content-type", "").partition(";")[0].strip().lower()

    @property
    def charset(self) -> str:
        """The ``charset`` parameter of Content-Type, or ``"utf-8"``."""
        _, _, params = self.headers.get("content-type", "").partition(";")
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.lower() == "charset" and value:
                return value.strip('"').lower()
        return "utf-8"

    @property
    def text(self) -> str:
        """The body decoded with the Content-Type's charset (UTF-8 if none; bad bytes replaced)."""
        try:
            return self.body.decode(self.charset, "replace")
        except LookupError:
            return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        """The body parsed as JSON.

        Raises:
            ValueError: the body is not valid JSON (``json.JSONDecodeError``).
        """
        return _json.loads(self.body)

    def form(self) -> Query:
        """The body parsed as ``application/x-www-form-urlencoded`` (multi-valued, order kept).

        Raises:
            ValueError: the body is of another content type.
        """
        if self.content_type not in ("application/x-www-form-urlencoded", ""):
            raise ValueError(
                f"form() reads application/x-www-form-urlencoded bodies; this one is "
                f"{self.content_type!r} (read request.body or request.json() instead)"
            )
        return Query(parse_qsl(self.body.decode(self.charset, "replace"), keep_blank_values=True))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Request):
            return NotImplemented
        return (
            self.method == other.method
            and self.target == other.target
            and self.headers == other.headers
            and self.body == other.body
            and self.error == other.error
        )

    __hash__ = None  # type: ignore[assignment]

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"Request is immutable: cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"Request is immutable: cannot delete {name!r}")

    def __copy__(self) -> Request:
        return self  # immutable: a copy would be the same in every way

    def __deepcopy__(self, memo: dict[int, Any]) -> Request:
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled as the request it is (its fields as received), e.g. to another process."""
        return (
            _unpickle_request,
            (
                self.method,
                self.target,
                tuple(self.headers.multi_items()),
                self.body,
                self.http_version,
                self.client,
                self.received_at,
                self.scheme,
                self.error,
                self.tls,
                self.response,
                self.request_line,
            ),
        )

    def __repr__(self) -> str:
        body = f" body={len(self.body)}B" if self.body else ""
        error = f" error={self.error!r}" if self.error else ""
        return f"<understudy.Request {self.method} {self.target}{body}{error}>"


def _unpickle_request(  # noqa: PLR0917 - the order __reduce__ gives
    method: str,
    target: str,
    headers: tuple[tuple[str, str], ...],
    body: bytes,
    http_version: str,
    client: tuple[str, int] | None,
    received_at: float,
    scheme: str,
    error: str | None,
    tls: TLSInfo | None,
    response: ResponseRecord | None = None,
    request_line: str | None = None,
) -> Request:
    return Request(
        method=method,
        target=target,
        headers=list(headers),
        body=body,
        http_version=http_version,
        client=client,
        received_at=received_at,
        scheme=scheme,
        error=error,
        tls=tls,
        response=response,
        request_line=request_line,
    )


#: A well-formed request as a server's journal keeps it (:func:`unpack_request` makes the
#: :class:`Request`): method, target, body, HTTP version, the client's host and port (``None``
#: and ``None``: no client), received at, scheme, TLS, then the field lines, flat (name, value,
#: name, value...). One flat tuple of strings, bytes and numbers, which the cyclic garbage
#: collector stops tracking the first time it sees it (a tuple holding tuples can take it more
#: collections, and reach the oldest generation). A long journal of Requests (objects it tracks
#: for ever) cost every full collection a visit to each: a tenth of the throughput under load.
#: TLS: the :class:`TLSInfo`'s fields (version, cipher, ALPN protocol, peer subject) or ``None``.
#: Once answered, the server replaces the entry with the same tuple followed by the
#: :data:`Answer`'s three items: the field lines being pairs, an entry of odd length is not
#: answered yet, one of even length is.
PackedRequest = tuple[
    str,
    str,
    bytes,
    str,
    str | None,
    int | None,
    float,
    str,
    tuple[str, str, str | None, str | None] | None,
    *tuple[bytes, ...],
]


def field_pairs(raw_fields: list[bytes] | tuple[bytes, ...]) -> list[tuple[bytes, bytes]]:
    """Flat field lines (name, value, name, value...) as ``(name, value)`` pairs."""
    items = iter(raw_fields)
    return list(zip(items, items, strict=True))


def unpack_request(entry: Request | PackedRequest, tls_info: TLSInfo | None = None) -> Request:
    """The :class:`Request` of a journal entry: a request kept packed, or a Request as is.

    ``tls_info``, if given, is the :class:`TLSInfo` of the connection it came on (made from
    the same fields): the request gets it rather than a new one.
    """
    if type(entry) is not tuple:
        return entry  # type: ignore[return-value] # (a Request: refused requests are kept so)
    request = object.__new__(_RequestFields)
    (
        request.method,
        request.target,
        request.body,
        request.http_version,
        host,
        port,
        request.received_at,
        request.scheme,
        tls,
    ) = entry[:9]
    request.client = None if host is None or port is None else (host, port)
    request.tls = None if tls is None else tls_info or TLSInfo(*tls)
    flat: tuple[Any, ...] = entry
    if len(flat) & 1:  # (not answered yet: see PackedRequest)
        request._raw_fields = flat[9:]
        request._answer = None
    else:
        request._raw_fields = flat[9:-3]
        request._answer = flat[-3:]
    request.error = None
    request.request_line = None
    request._query = None
    request._headers = None
    request.__class__ = Request
    return request  # type: ignore[return-value]


class Response:
    """A response to send: status code, fields and body.

    Args:
        status: the status code, 100 to 599.
        body: bytes; ``str`` (sent as UTF-8, ``text/plain; charset=utf-8`` unless a Content-Type
            is given); or an iterable / async iterable of bytes, sent chunked (RFC 9112 §7.1) as
            it is produced (to an HTTP/1.0 client: until the connection closes).
        headers: fields to send, as a mapping or ``(name, value)`` pairs (repeat a name by
            giving pairs). Content-Length and Transfer-Encoding are computed unless given.
        json: a value to send as JSON (``application/json``) instead of ``body``.
        content_type: shorthand for a Content-Type field.
        reason: the reason phrase; the registered one by default.
        content_coding: a content coding (RFC 9110 §8.4) to send the body in whatever the
            request's Accept-Encoding says: ``"gzip"``, ``"deflate"`` (the zlib format, as
            RFC 9110 §8.4.1.2 defines it), ``"br"`` (needs ``understudy[brotli]``) or
            ``"zstd"`` (needs ``understudy[zstd]`` before Python 3.14). The response then
            carries ``Content-Encoding`` and the coded bytes' Content-Length; a strong ETag
            given in ``headers`` gets the coding appended (``"v1"`` becomes ``"v1-gzip"``: a
            strong tag names one representation, §8.8.3). ``None`` (the default): as is.
        content_codings: codings the body may be sent in, chosen per request by its
            Accept-Encoding (RFC 9110 §12.5.3), as a sequence (``("br", "gzip")``, preferred
            first when a client accepts several equally) or a comma-separated str. A client
            that sends no Accept-Encoding, or accepts none of them, gets the body as it is.
            Every answer says ``Vary: Accept-Encoding`` (§12.5.5). Give this or
            ``content_coding``, not both.

    A streamed body is coded piece by piece, each piece flushed, so a client decoding as it
    reads (an event stream) gets each piece when it is produced. Coded bodies of bytes are
    computed once per coding and kept with the response, not coded per request. A request's
    Range does not apply to a Response (only a served directory answers ranges); a status
    without content (1xx, 204, 304) is never coded.

    Raises:
        ConfigurationError: a status outside 100-599, both ``body`` and ``json``, a field name
            with a space or colon in it, a field value with a control character in it (CR, LF,
            NUL, DEL...: RFC 9110 §5.5), a reason phrase with a control character or a
            character outside Latin-1 in it (RFC 9112 §4), a Content-Length that is not a
            number, a ``json`` value holding NaN or Infinity (RFC 8259 §6: JSON has no such
            number) or a cycle, a body of another type; a content coding that is unknown or
            whose package is not installed (the message names it), both ``content_coding``
            and ``content_codings``, or either with a Content-Encoding or Content-Length field.

    .. versionchanged:: 0.1
        ``content_coding`` and ``content_codings``.
    """

    __slots__ = (
        "_cache",
        "_coded",
        "body",
        "content_coding",
        "content_codings",
        "headers",
        "reason",
        "status",
    )

    def __init__(
        self,
        status: int = 200,
        body: Body = b"",
        *,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        json: Any = MISSING,
        content_type: str | None = None,
        reason: str | None = None,
        content_coding: str | None = None,
        content_codings: str | Sequence[str] | None = None,
    ) -> None:
        if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
            raise ConfigurationError(f"status must be an int from 100 to 599, not {status!r}")
        fields = _check_fields(headers)
        names = {name.lower() for name, _ in fields}
        if json is not MISSING:
            if body != b"":
                raise ConfigurationError("give a Response either body= or json=, not both")
            try:
                body = _json.dumps(json, allow_nan=False).encode()
            except ValueError as error:  # (NaN, Infinity, a cycle)
                raise ConfigurationError(
                    f"json= is not JSON ({error}): JSON has no NaN or Infinity (RFC 8259 §6); "
                    "send null or a string instead"
                ) from None
            content_type = content_type or "application/json"
        elif isinstance(body, str):
            body = body.encode()
            content_type = content_type or "text/plain; charset=utf-8"
        elif isinstance(body, bytearray | memoryview):
            body = bytes(body)
        elif not isinstance(body, bytes) and not (
            isinstance(body, Iterable | AsyncIterable) and not isinstance(body, Mapping)
        ):
            raise ConfigurationError(
                f"body must be bytes, str, or an iterable of bytes, not {type(body).__name__}; "
                "to send JSON write Response(json=...)"
            )
        if "content-length" in names:
            for name, value in fields:
                if name.lower() == "content-length" and parse_digits(value.strip()) is None:
                    raise ConfigurationError(
                        f"Content-Length must be a number of bytes, not {value!r}; leave it out "
                        "and understudy computes it (or sends a streamed body chunked)"
                    )
        if content_type is not None and "content-type" not in names:
            fields.append(("Content-Type", content_type))
        if reason is not None:
            if not isinstance(reason, str):
                raise ConfigurationError(f"reason must be a str, not {type(reason).__name__}")
            problem = reason_problem(reason)
            if problem is not None:
                raise ConfigurationError(problem)
        self.status = status
        self.reason = reason if reason is not None else reason_phrase(status)
        self.headers = fields
        self.body: Body = body
        self._cache: dict[Any, Any] = {}
        #: The content coding always applied (``None``: none; see ``content_codings``).
        self.content_coding: str | None = None
        #: The codings chosen among per request (``()``: no negotiation).
        self.content_codings: tuple[str, ...] = ()
        #: The coded variants made so far, by coding ("identity": uncoded, with Vary); ``None``
        #: when the response has no coding at all (the fast path: sent as it is).
        self._coded: dict[str, Response] | None = None
        if content_coding is not None or content_codings is not None:
            self._check_coding(names, content_coding, content_codings)

    def _check_coding(
        self, names: set[str], content_coding: object, content_codings: object
    ) -> None:
        if content_coding is not None and content_codings is not None:
            raise ConfigurationError(
                "give a Response content_coding= (always that coding) or content_codings= "
                "(chosen per request by its Accept-Encoding), not both"
            )
        if isinstance(content_coding, list | tuple):
            raise ConfigurationError(
                f"content_coding= takes one coding, always applied, such as 'gzip'; to choose "
                f"per request among several write content_codings={tuple(content_coding)!r}"
            )
        for name in ("content-encoding", "content-length"):
            if name in names:
                field = "Content-Encoding" if name == "content-encoding" else "Content-Length"
                raise ConfigurationError(
                    f"a Response with a content coding computes its {field}; leave the field "
                    "out (to send a body that is already coded, give its bytes with "
                    "headers={'Content-Encoding': 'gzip'} and no content_coding=)"
                )
        try:
            if content_coding is not None:
                [self.content_coding] = check_codings([content_coding], name="content_coding")
            else:
                self.content_codings = check_codings(content_codings)
        except CodingError as error:
            raise ConfigurationError(str(error)) from None
        self._coded = {}

    def _for_request(self, raw_fields: Sequence[bytes]) -> Response:
        """The response to send to a request with these field lines (flat: name, value...):
        itself, or its variant in the content coding chosen (see ``content_codings``)."""
        coded = self._coded
        if coded is None:
            return self
        coding = self.content_coding
        if coding is None:
            accept = _accept_encoding(raw_fields)
            coding = negotiate(accept, self.content_codings) or "identity"
        variant = coded.get(coding)
        if variant is None:
            variant = coded[coding] = self._variant(coding)
        return variant

    def _variant(self, coding: str) -> Response:
        """This response in ``coding`` (``"identity"``: uncoded), its fields adjusted."""
        negotiated = bool(self.content_codings)
        fields = list(self.headers)
        body = self.body
        if coding != "identity" and self.status >= 200 and self.status not in (204, 304):
            fields = [
                (name, tag_for_coding(value, coding) if name.lower() == "etag" else value)
                for name, value in fields
            ]
            fields.append(("Content-Encoding", coding))
            if isinstance(body, bytes):
                body = encode(coding, body)
            elif isinstance(body, AsyncIterable):
                body = _CodedAsyncIterable(body, coding)
            else:
                body = _CodedIterable(body, coding)  # type: ignore[arg-type]
        if negotiated:
            fields = vary_with(fields, "Accept-Encoding")
        variant = object.__new__(Response)
        variant.status = self.status
        variant.reason = self.reason
        variant.headers = fields
        variant.body = body
        variant._cache = {}
        variant.content_coding = self.content_coding
        variant.content_codings = self.content_codings
        variant._coded = None
        return variant

    def __repr__(self) -> str:
        body = f"{len(self.body)}B" if isinstance(self.body, bytes) else "streamed"
        coding = self.content_coding or ", ".join(self.content_codings)
        coded = f" coded {coding}" if coding else ""
        return f"<understudy.Response {self.status} {body}{coded}>"


def _accept_encoding(raw_fields: Sequence[bytes]) -> str | None:
    """The request's Accept-Encoding fields, combined (RFC 9110 §5.3); ``None`` if none."""
    values = [
        raw_fields[index + 1].decode("latin-1")
        for index in range(0, len(raw_fields) - 1, 2)
        if raw_fields[index].lower() == b"accept-encoding"
    ]
    return ", ".join(values) if values else None


class _CodedIterable:
    """A streamed body coded as it goes: each iteration codes afresh (a body sent again)."""

    __slots__ = ("body", "coding")

    def __init__(self, body: Iterable[bytes], coding: str) -> None:
        self.body = body
        self.coding = coding

    def __iter__(self) -> Iterator[bytes]:
        return _code_pieces(iter(self.body), self.coding)


def _code_pieces(pieces: Iterator[bytes], coding: str) -> Iterator[bytes]:
    code = compressor(coding)
    try:
        for piece in pieces:
            coded = code(bytes(piece))
            if coded:
                yield coded
        yield code(None)
    finally:
        close = getattr(pieces, "close", None)
        if close is not None:
            close()


class _CodedAsyncIterable:
    """The async twin of :class:`_CodedIterable`."""

    __slots__ = ("body", "coding")

    def __init__(self, body: AsyncIterable[bytes], coding: str) -> None:
        self.body = body
        self.coding = coding

    def __aiter__(self) -> AsyncIterator[bytes]:
        return _code_pieces_async(aiter(self.body), self.coding)


async def _code_pieces_async(pieces: AsyncIterator[bytes], coding: str) -> AsyncIterator[bytes]:
    code = compressor(coding)
    try:
        async for piece in pieces:
            coded = code(bytes(piece))
            if coded:
                yield coded
        yield code(None)
    finally:
        close = getattr(pieces, "aclose", None)
        if close is not None:
            await close()


def _check_fields(
    headers: Mapping[str, str] | Iterable[tuple[str, str]] | None,
) -> list[tuple[str, str]]:
    if headers is None:
        return []
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    fields = []
    for pair in pairs:
        try:
            name, value = pair
        except (TypeError, ValueError):
            raise ConfigurationError(
                f"headers must be a mapping or (name, value) pairs; got the item {pair!r}"
            ) from None
        name, value = str(name), str(value)
        if not _TOKEN.fullmatch(name):
            raise ConfigurationError(
                f"invalid header field {name!r}: {value!r} (a name is a token, RFC 9110 §5.1: "
                "letters, digits and !#$%&'*+-.^_`|~, with no spaces or colons, controls or "
                "line breaks)"
            )
        problem = field_value_problem(value)
        if problem is not None:
            raise ConfigurationError(
                f"invalid header field {name!r}: {problem}; to send a malformed response "
                "on purpose, write its bytes from a TCPServer handler"
            )
        fields.append((name, value))
    return fields


def to_response(value: object) -> Response:
    """What a handler returned, as a :class:`Response`.

    Accepted: a ``Response``; ``str`` or ``bytes`` (200); a ``dict`` or ``list`` (200, JSON);
    ``(status, body)`` where body is any of those.

    Raises:
        TypeError: for anything else, saying what to return instead.
        ConfigurationError: ``(status, body)`` with a status outside 100-599.
    """
    if isinstance(value, Response):
        return value
    if isinstance(value, str | bytes):
        return Response(200, value)
    if isinstance(value, dict | list):
        return Response(200, json=value)
    if (
        isinstance(value, tuple)
        and len(value) == 2
        and isinstance(value[0], int)
        and not isinstance(value[0], bool)
    ):
        status, body = value
        response = to_response(body)
        return Response(status, response.body, headers=response.headers)
    raise TypeError(
        f"the handler returned {type(value).__name__} {value!r:.80}; return a "
        "understudy.Response, str, bytes, a dict or list (sent as JSON), or (status, body)"
    )
