"""The response to send (:class:`Response`), and what a handler may return instead
(:func:`to_response`)."""

from __future__ import annotations

import json as _json
import re
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from typing import Any

from .._core.coding import (
    CodingError,
    check_codings,
    compressor,
    encode,
    negotiate,
    tag_for_coding,
    vary_with,
)
from .._core.framing import field_value_problem, parse_digits, reason_phrase, reason_problem
from .._core.matching import MISSING
from .._errors import ConfigurationError
from ._alike import memo_alike

#: A field name (RFC 9110 §5.1: ``token``).
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_NO_NAMES: frozenset[str] = frozenset()  # (the field names of a response given no headers)

__all__ = ["Body", "Response", "to_response"]

Body = bytes | bytearray | memoryview | str | Iterable[bytes] | AsyncIterable[bytes]


class Response:
    """A response to send: status code, fields and body.

    Args:
        status_code: the status code (RFC 9110 §15), 100 to 599.
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
        "status_code",
    )

    def __init__(
        self,
        status_code: int = 200,
        *,
        body: Body = b"",
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        json: Any = MISSING,
        content_type: str | None = None,
        reason: str | None = None,
        content_coding: str | None = None,
        content_codings: str | Sequence[str] | None = None,
    ) -> None:
        code = status_code
        if not isinstance(code, int) or isinstance(code, bool) or not 100 <= code <= 599:
            raise ConfigurationError(f"status_code must be an int from 100 to 599, not {code!r}")
        if headers is None:  # (the usual)
            fields: list[tuple[str, str]] = []
            names: AbstractSet[str] = _NO_NAMES
        else:
            fields = _check_fields(headers)
            names = {name.lower() for name, _ in fields}
        body, content_type = _content(body, json, content_type)
        if "content-length" in names:
            _check_content_length(fields)
        if content_type is not None and "content-type" not in names:
            fields.append(("Content-Type", content_type))
        if reason is not None:
            _check_reason(reason)
        self.status_code = status_code
        self.reason = reason if reason is not None else reason_phrase(status_code)
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
        self, names: AbstractSet[str], content_coding: object, content_codings: object
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

    def _variant(self, coding: str) -> Response:
        """This response in ``coding`` (``"identity"``: uncoded), its fields adjusted."""
        negotiated = bool(self.content_codings)
        fields = list(self.headers)
        body = self.body
        if coding != "identity" and self.status_code >= 200 and self.status_code not in (204, 304):
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
        variant.status_code = self.status_code
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
        return f"<understudy.Response {self.status_code} {body}{coded}>"


def _content(body: Body, json: Any, content_type: str | None) -> tuple[Body, str | None]:
    """The body to send (``json`` encoded, ``str`` as UTF-8), and its Content-Type if implied."""
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
        return body, content_type or "application/json"
    if isinstance(body, str):
        return body.encode(), content_type or "text/plain; charset=utf-8"
    if isinstance(body, bytearray | memoryview):
        return bytes(body), content_type
    if not isinstance(body, bytes) and not (
        isinstance(body, Iterable | AsyncIterable) and not isinstance(body, Mapping)
    ):
        raise ConfigurationError(
            f"body must be bytes, str, or an iterable of bytes, not {type(body).__name__}; "
            "to send JSON write Response(json=...)"
        )
    return body, content_type


def _check_content_length(fields: list[tuple[str, str]]) -> None:
    for name, value in fields:
        if name.lower() == "content-length" and parse_digits(value.strip()) is None:
            raise ConfigurationError(
                f"Content-Length must be a number of bytes, not {value!r}; leave it out "
                "and understudy computes it (or sends a streamed body chunked)"
            )


def _check_reason(reason: object) -> None:
    if not isinstance(reason, str):
        raise ConfigurationError(f"reason must be a str, not {type(reason).__name__}")
    problem = reason_problem(reason)
    if problem is not None:
        raise ConfigurationError(problem)


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
        return Response(200, body=value)
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
        return Response(status, body=response.body, headers=response.headers)
    raise TypeError(
        f"the handler returned {type(value).__name__} {value!r:.80}; return a "
        "understudy.Response, str, bytes, a dict or list (sent as JSON), or (status, body)"
    )


def for_request(response: Response, raw_fields: Sequence[bytes]) -> Response:
    """The response to send to a request with these field lines (flat: name, value...):
    ``response`` itself, or its variant in the content coding chosen (see ``content_codings``)."""
    coded = response._coded
    if coded is None:
        return response
    coding = response.content_coding
    if coding is None:
        accept = _accept_encoding(raw_fields)
        coding = negotiate(accept, response.content_codings) or "identity"
    variant = coded.get(coding)
    if variant is None:
        variant = coded[coding] = response._variant(coding)
    return variant


def memo_of(response: Response) -> dict[Any, Any]:
    """The memo of ``response``'s rendered wire bytes, by what they depend on (see
    HTTP1Exchange.send); cleared with each new variant. Shared with the responses alike
    (``_alike.memo_alike``) from the first send of one with a body of bytes."""
    memo = response._cache
    if not memo and isinstance(response.body, bytes):
        memo = response._cache = memo_alike(
            response.status_code, response.reason, response.headers, response.body, memo
        )
    return memo
