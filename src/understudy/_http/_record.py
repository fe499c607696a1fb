"""Proxying to an upstream server, and recording its answers as WireMock mappings.

``HTTPServer(proxy_to=URL)`` forwards every request that no expectation or mapping answers to
the upstream with the standard library's ``http.client`` (in the worker pool), and answers with
what came back. With ``record=DIR`` it also writes one mapping per distinct request (method,
target and body) to ``DIR/mappings/``, with bodies over 1 KiB in ``DIR/__files/``, so that
``HTTPServer(mappings=DIR)`` answers the same requests offline with the same status, reason,
headers and body bytes.

What is recorded always replays: an answer understudy could not send on (a status outside
100-599, a field a response may not carry) gets 502 Bad Gateway (RFC 9110 §15.6.3) and is not
recorded, with a warning on the ``understudy.proxy`` logger; a mapping is checked by the same
parser ``mappings=`` loads with before it is written. A field value folded over lines
(``obs-fold``) is unfolded to one SP (RFC 9112 §5.2) and recorded unfolded.
"""

from __future__ import annotations

import base64
import http.client
import json
import logging
import os
import re
import threading
import uuid
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

from .._core.framing import sanitize_field_value
from .._core.targets import origin_form
from .._core.wiremock import MappingError, parse_mapping
from .._errors import ConfigurationError
from ._request import Request
from ._response import Response

__all__ = ["Recorder"]

#: Fields that describe one connection or one message's framing (RFC 9110 §7.6.1, RFC 9112
#: §6): not forwarded, and not recorded (the replaying server frames its own answer).
_HOP_BY_HOP: Final = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "content-length",
    }
)
#: Request fields not forwarded: the whole body is already here, so there is nothing to continue.
_NOT_FORWARDED: Final = _HOP_BY_HOP | {"host", "expect"}
#: Response fields not recorded: the replaying server sends its own Date.
_NOT_RECORDED: Final = _HOP_BY_HOP | {"date"}
#: Bodies larger than this go to ``__files/`` rather than into the mapping.
_INLINE_LIMIT: Final = 1024
_SLUG: Final = re.compile(r"[^A-Za-z0-9]+")
#: A line break and the whitespace after it inside a field value: obs-fold (RFC 9112 §5.2).
_OBS_FOLD: Final = re.compile(r"[ \t]*\r?\n[ \t]+")

#: Where a relayed answer that had to be mended is told of (RFC 9110 §5.5).
log = logging.getLogger("understudy.proxy")


class Recorder:
    """Forwards a request to the upstream and, when recording, writes a mapping for it.

    Args:
        proxy_to: the upstream's base URL, ``http://host:port`` or ``https://host:port``,
            optionally with a path prefix that is put before each request's target.
        record: the directory to write ``mappings/`` and ``__files/`` into, or ``None``.
        timeout: seconds to wait for the upstream (connect and each read).

    Raises:
        ConfigurationError: ``proxy_to`` is not an http(s) URL.
    """

    def __init__(
        self, proxy_to: str, record: str | os.PathLike[str] | None, *, timeout: float = 30.0
    ) -> None:
        parts = urlsplit(proxy_to) if isinstance(proxy_to, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigurationError(
                f"proxy_to must be an upstream URL such as 'http://127.0.0.1:8080', not "
                f"{proxy_to!r}"
            )
        self.scheme = parts.scheme
        self.hostname = parts.hostname
        self.port = parts.port
        self.netloc = parts.netloc
        self.prefix = parts.path.rstrip("/")
        #: What the journal says answered (see HandlerHost).
        self.answered_by = ("proxy", f"{self.scheme}://{self.netloc}{self.prefix}")
        self.timeout = timeout
        self.record = Path(record) if record is not None else None
        self._seen: set[tuple[str, str, bytes]] = set()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"proxy to {self.scheme}://{self.netloc}{self.prefix}"

    def __call__(self, request: Request) -> Response:
        """Forward ``request`` (in a worker thread); a 502 when the upstream cannot be reached."""
        target = self.prefix + origin_form(request.target)
        connection_class = (
            http.client.HTTPSConnection if self.scheme == "https" else http.client.HTTPConnection
        )
        connection = connection_class(self.hostname, self.port, timeout=self.timeout)
        try:
            connection.putrequest(request.method, target, skip_host=True, skip_accept_encoding=True)
            connection.putheader("Host", self.netloc)
            for name, value in request.headers.multi_items():
                if name.lower() not in _NOT_FORWARDED:
                    connection.putheader(name, value)
            if request.body or request.method.upper() in ("POST", "PUT", "PATCH"):
                connection.putheader("Content-Length", str(len(request.body)))
            connection.endheaders(request.body or None)
            answer = connection.getresponse()
            body = answer.read()
        except (OSError, http.client.HTTPException) as error:
            return Response(
                502,
                body=f"understudy: could not get an answer from {self!r}: "
                f"{type(error).__name__}: {error}\n",
            )
        finally:
            connection.close()
        headers, reason = self._mended(request, answer)
        try:
            response = Response(answer.status, body=body, headers=headers, reason=reason)
        except ConfigurationError as error:
            return self._bad_gateway(request, str(error))
        if self.record is not None:
            self._write(request, answer.status, reason, headers, body)
        return response

    def _bad_gateway(self, request: Request, problem: str) -> Response:
        """502 for an upstream answer that cannot be relayed (RFC 9110 §15.6.3), said on the
        ``understudy.proxy`` logger and in the body; such an answer is never recorded."""
        recorded = " (not recorded)" if self.record is not None else ""
        log.warning(
            "%r answered %s %s with a response understudy cannot relay%s: %s",
            self,
            request.method,
            request.target,
            recorded,
            problem,
        )
        return Response(
            502,
            body=f"understudy: {self!r} answered {request.method} {request.target} with a response "
            f"that cannot be relayed{recorded}: {problem}\n",
        )

    def _mended(
        self, request: Request, answer: http.client.HTTPResponse
    ) -> tuple[list[tuple[str, str]], str]:
        """The upstream's fields (those relayed) and reason phrase: a value folded over lines
        unfolded to one SP, as a proxy may (RFC 9112 §5.2), then each control character left
        (NUL, DEL...) replaced by SP, as a recipient that relays them must (RFC 9110 §5.5); a
        warning on the ``understudy.proxy`` logger names each one mended."""
        headers = []
        mended = []
        for name, value in answer.getheaders():
            if name.lower() in _NOT_RECORDED:
                continue
            unfolded, folds = _OBS_FOLD.subn(" ", value)
            if folds:
                mended.append(f"field {name}: folded {value!r} unfolded (RFC 9112 §5.2)")
            cleaned, changed = sanitize_field_value(unfolded)
            if changed:
                mended.append(
                    f"field {name}: {unfolded!r} relayed as {cleaned!r} (control characters "
                    "replaced by SP, RFC 9110 §5.5)"
                )
            headers.append((name, cleaned))
        reason, changed = sanitize_field_value(answer.reason)
        if changed:
            mended.append(
                f"reason phrase {answer.reason!r} relayed as {reason!r} (control characters "
                "replaced by SP, RFC 9110 §5.5)"
            )
        if mended:
            log.warning(
                "%r answered %s %s with fields it had to mend before relaying them: %s",
                self,
                request.method,
                request.target,
                "; ".join(mended),
            )
        return headers, reason

    def _write(
        self,
        request: Request,
        status: int,
        reason: str,
        headers: list[tuple[str, str]],
        body: bytes,
    ) -> None:
        assert self.record is not None
        target = origin_form(request.target)
        key = (request.method.upper(), target, request.body)
        with self._lock:
            if key in self._seen:
                return
            self._seen.add(key)
        ident = str(uuid.uuid4())
        slug = _SLUG.sub("-", request.path).strip("-")[:60] or "root"
        stem = f"{request.method.lower()}-{slug}-{ident[:8]}"
        mapping = {
            "id": ident,
            "name": f"{request.method} {target}",
            "request": _request_pattern(request.method, target, request.body),
            "response": self._definition(stem, status, reason, headers, body),
            "persistent": True,
        }
        try:
            # (What mappings= will load it with: a recorded directory must always load.)
            parse_mapping(json.loads(json.dumps(mapping)))
        except MappingError as error:
            log.warning(
                "%r: the answer to %s %s is relayed but not recorded, as its mapping would "
                "not load: %s",
                self,
                request.method,
                target,
                error,
            )
            return
        mappings = self.record / "mappings"
        mappings.mkdir(parents=True, exist_ok=True)
        (mappings / f"{stem}.json").write_text(json.dumps(mapping, indent=2) + "\n")

    def _definition(
        self, stem: str, status: int, reason: str, headers: list[tuple[str, str]], body: bytes
    ) -> dict[str, Any]:
        """The mapping's response: a body over the inline limit goes to ``__files``."""
        assert self.record is not None
        definition: dict[str, Any] = {"status": status}
        if reason:
            definition["statusMessage"] = reason
        if headers:
            definition["headers"] = _headers_json(headers)
        if len(body) > _INLINE_LIMIT:
            files = self.record / "__files"
            files.mkdir(parents=True, exist_ok=True)
            name = f"{stem}{_suffix(headers)}"
            (files / name).write_bytes(body)
            definition["bodyFileName"] = name
        elif body:
            try:
                definition["body"] = body.decode("utf-8")
            except UnicodeDecodeError:
                definition["base64Body"] = base64.b64encode(body).decode("ascii")
        return definition


def _request_pattern(method: str, target: str, body: bytes) -> dict[str, Any]:
    """The mapping's request: method and URL, and a UTF-8 body as it was."""
    pattern: dict[str, Any] = {"method": method, "url": target}
    if body:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            pass  # no pattern for a binary body: method and URL decide
        else:
            pattern["bodyPatterns"] = [{"equalTo": text}]
    return pattern


def _headers_json(headers: list[tuple[str, str]]) -> dict[str, Any]:
    """Fields as WireMock JSON: a repeated field becomes a list, in order."""
    result: dict[str, Any] = {}
    for name, value in headers:
        if name in result:
            previous = result[name]
            result[name] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            result[name] = value
    return result


def _suffix(headers: list[tuple[str, str]]) -> str:
    for name, value in headers:
        if name.lower() == "content-type":
            media = value.partition(";")[0].strip().lower()
            return {
                "application/json": ".json",
                "text/html": ".html",
                "text/plain": ".txt",
                "application/xml": ".xml",
                "text/xml": ".xml",
            }.get(media, ".bin")
    return ".bin"
