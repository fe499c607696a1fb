"""The HTTP request as received and the response to send."""

from __future__ import annotations

import json as _json
from collections.abc import AsyncIterable, Iterable, Mapping
from itertools import chain
from typing import Any
from urllib.parse import parse_qsl, unquote

from .._core.framing import reason_phrase
from .._core.matching import MISSING
from .._errors import ConfigurationError
from .._tls import TLSInfo
from ._fields import Headers, Query

__all__ = [
    "Body",
    "PackedRequest",
    "Request",
    "Response",
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
    )


#: A well-formed request as a server's journal keeps it (:func:`unpack_request` makes the
#: :class:`Request`): method, target, body, HTTP version, the client's host and port (``None``
#: and ``None``: no client), received at, scheme, TLS, then the field lines, flat (name, value,
#: name, value...). One flat tuple of strings, bytes and numbers, which the cyclic garbage
#: collector stops tracking the first time it sees it (a tuple holding tuples can take it more
#: collections, and reach the oldest generation). A long journal of Requests (objects it tracks
#: for ever) cost every full collection a visit to each: a tenth of the throughput under load.
#: TLS: the :class:`TLSInfo`'s fields (version, cipher, ALPN protocol, peer subject) or ``None``.
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
    request._raw_fields = entry[9:]
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

    Raises:
        ConfigurationError: a status outside 100-599, both ``body`` and ``json``, a field name
            with a space or colon in it, a field with a line break in it, a Content-Length that
            is not a number, or a body of another type.
    """

    __slots__ = ("_cache", "body", "headers", "reason", "status")

    def __init__(
        self,
        status: int = 200,
        body: Body = b"",
        *,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        json: Any = MISSING,
        content_type: str | None = None,
        reason: str | None = None,
    ) -> None:
        if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
            raise ConfigurationError(f"status must be an int from 100 to 599, not {status!r}")
        fields = _check_fields(headers)
        names = {name.lower() for name, _ in fields}
        if json is not MISSING:
            if body != b"":
                raise ConfigurationError("give a Response either body= or json=, not both")
            body = _json.dumps(json).encode()
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
                if name.lower() == "content-length" and not value.strip().isdigit():
                    raise ConfigurationError(
                        f"Content-Length must be a number of bytes, not {value!r}; leave it out "
                        "and understudy computes it (or sends a streamed body chunked)"
                    )
        if content_type is not None and "content-type" not in names:
            fields.append(("Content-Type", content_type))
        self.status = status
        self.reason = reason if reason is not None else reason_phrase(status)
        self.headers = fields
        self.body: Body = body
        self._cache: dict[Any, Any] = {}

    def __repr__(self) -> str:
        body = f"{len(self.body)}B" if isinstance(self.body, bytes) else "streamed"
        return f"<understudy.Response {self.status} {body}>"


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
        if not name or any(c in name for c in " :\r\n\t") or "\r" in value or "\n" in value:
            raise ConfigurationError(
                f"invalid header field {name!r}: {value!r} (a name has no spaces or colons, and "
                "neither may hold a line break)"
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
