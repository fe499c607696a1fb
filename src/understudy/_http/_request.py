"""One HTTP request as received (:class:`Request`), and as a server's journal keeps it
(:data:`PackedRequest`, :func:`unpack_request`)."""

from __future__ import annotations

import json as _json
from collections.abc import Iterable
from itertools import chain
from typing import Any
from urllib.parse import parse_qsl, unquote

from .._core.targets import origin_form
from .._tls import TLSInfo
from ._fields import Headers, Query, field_pairs
from ._response_record import Answer, ResponseRecord, record_of

__all__ = ["PackedRequest", "Request", "unpack_request"]


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
        "error",
        "http_version",
        "method",
        "peer",
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
    peer: tuple[str, int] | None
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


class Request(_RequestFields):
    """One HTTP request as the server received it. Immutable.

    Everything a test usually asserts on is an attribute or a property: ``method``,
    ``target`` and its parts (``path``, ``query``), ``headers``, ``body`` and its decodings
    (``text``, ``json()``, ``form()``), ``peer`` and, over HTTPS, ``tls`` (whose
    ``peer_subject`` names the client certificate, if one was sent).

    Attributes:
        method (str): the method, as sent (``"GET"``; RFC 9110 §9).
        target (str): the request target as sent (RFC 9112 §3.2): ``"/path?query"`` in origin
            form; ``"http://host/path"`` in absolute form (to a proxy); ``"*"`` for
            ``OPTIONS *``.
        http_version (str): ``"1.1"`` or ``"1.0"`` (RFC 9112 §2.3); ``"2"`` for a request on
            an HTTP/2 stream (RFC 9113).
        body (bytes): the content, with any chunked transfer coding removed (RFC 9112 §7.1);
            ``b""`` when there was none.
        peer (tuple[str, int] | None): the client's ``(host, port)``; ``None`` for a Request
            made outside a server.
        received_at (float): when the request was complete, as ``time.time()`` (float seconds).
        scheme (str): ``"https"`` when it came over TLS, else ``"http"``; :attr:`url` is built
            with it.
        error (str | None): ``None`` for a well-formed request; for a malformed or refused one,
            why it was refused (the client got a 4xx; on HTTP/2, a malformed request's stream is
            reset with PROTOCOL_ERROR instead, RFC 9113 §8.1.1, and its ``response`` is
            ``None``). Fields that could not be parsed are empty.
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
        peer: tuple[str, int] | None = None,
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
        set_(self, "peer", peer)
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
        """The header fields (case-insensitive, multi-valued; values decoded as Latin-1), in
        the order received, then the trailer fields, if any (a chunked body's, RFC 9112 §7.1.2;
        on HTTP/2 a HEADERS frame after the body, RFC 9113 §8.1). On HTTP/2 the names are
        lower-case and the pseudo-header fields are not among them: ``:authority`` is given as
        the first field, ``host``, when the request has no Host field (RFC 9113 §8.3.1)."""
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
        record = record_of(answer)
        object.__setattr__(self, "_answer", record)
        return record

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
        fields = {
            "method": self.method,
            "target": self.target,
            "headers": list(self.headers.multi_items()),
            "body": self.body,
            "http_version": self.http_version,
            "peer": self.peer,
            "received_at": self.received_at,
            "scheme": self.scheme,
            "error": self.error,
            "tls": self.tls,
            "response": self.response,
            "request_line": self.request_line,
        }
        return (_unpickle_request, (fields,))

    def __repr__(self) -> str:
        body = f" body={len(self.body)}B" if self.body else ""
        error = f" error={self.error!r}" if self.error else ""
        return f"<understudy.Request {self.method} {self.target}{body}{error}>"


def _unpickle_request(fields: dict[str, Any]) -> Request:
    return Request(**fields)


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
    request.peer = None if host is None or port is None else (host, port)
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


def with_answer(request: Request, answer: Answer) -> Request:
    """A copy of ``request`` answered with ``answer`` (as a journal keeps answers)."""
    copy = object.__new__(_RequestFields)
    for name in _RequestFields.__slots__:
        setattr(copy, name, getattr(request, name))
    copy._answer = answer
    copy.__class__ = Request
    return copy  # type: ignore[return-value]
