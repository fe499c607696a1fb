"""The legacy upload API's request as PyPI reads it: the multipart form and the credentials.

The multipart body (RFC 7578) is parsed by python-multipart's push parser; this module only
gathers its parts. The messages are PyPI's own (warehouse ``forklift/legacy.py``), because
clients show them to users and some match on them (twine's ``--skip-existing`` looks for
"File already exists"). The checks of the form, and what an accepted upload becomes, are in
``_accept``.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from ..._errors import ConfigurationError

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

__all__ = ["Form", "UploadRefused", "authenticate", "check_credentials", "parse_form"]

INVALID_AUTH = (
    "Invalid or non-existent authentication information. See "
    "https://pypi.org/help/#invalid-auth for more information."
)
#: PyPI's message for a wrong API token.
MACAROON_REFUSED = "Invalid API Token: InvalidMacaroonError('malformed or nonexistent macaroon')"
TOKEN_USER = "__token__"  # noqa: S105 - the user name PyPI reserves for API tokens


class UploadRefused(Exception):
    """An upload PyPI would refuse: the status code and PyPI's message (its reason phrase)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Form:
    """A parsed ``multipart/form-data`` body.

    Attributes:
        fields: ``(name, value)`` for every part without a file name, in order, as UTF-8 text.
        files: ``name → (filename, content)`` for the parts with a file name.
    """

    fields: list[tuple[str, str]]
    files: dict[str, tuple[str, bytes]]


def parse_form(content_type: str, body: bytes) -> Form:
    """Parse a ``multipart/form-data`` body (RFC 7578).

    Raises:
        UploadRefused: 400 when the body is not multipart form data or is malformed.
    """
    media_type, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if media_type != b"multipart/form-data" or not boundary:
        raise UploadRefused(
            400, "Invalid request: the upload API takes a multipart/form-data body."
        )
    parts = _Parts()
    parser = MultipartParser(boundary, parts.callbacks())
    try:
        parser.write(body)
        parser.finalize()
    except FormParserError as error:
        raise UploadRefused(400, f"Invalid request: malformed multipart body ({error}).") from None
    if not parts.ended:
        raise UploadRefused(400, "Invalid request: the multipart body ends before its last part.")
    return parts.form


class _Parts:
    """python-multipart's callbacks, building a :class:`Form` part by part."""

    def __init__(self) -> None:
        self.form = Form([], {})
        #: Whether the closing boundary came.
        self.ended = False
        self._field_name = bytearray()
        self._field_value = bytearray()
        self._headers: dict[bytes, bytes] = {}
        self._data = bytearray()

    def callbacks(self) -> MultipartCallbacks:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": self._header_field,
            "on_header_value": self._header_value,
            "on_header_end": self._header_end,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
            "on_end": self._end,
        }

    def _part_begin(self) -> None:
        self._headers.clear()
        self._data.clear()

    def _header_field(self, chunk: bytes, start: int, end: int) -> None:
        self._field_name.extend(chunk[start:end])

    def _header_value(self, chunk: bytes, start: int, end: int) -> None:
        self._field_value.extend(chunk[start:end])

    def _header_end(self) -> None:
        self._headers[bytes(self._field_name).lower()] = bytes(self._field_value)
        self._field_name.clear()
        self._field_value.clear()

    def _part_data(self, chunk: bytes, start: int, end: int) -> None:
        self._data.extend(chunk[start:end])

    def _part_end(self) -> None:
        _, disposition = parse_options_header(self._headers.get(b"content-disposition", b""))
        name = disposition.get(b"name", b"").decode("utf-8", "replace")
        filename = disposition.get(b"filename")
        if filename is not None:
            self.form.files[name] = (filename.decode("utf-8", "replace"), bytes(self._data))
        else:
            self.form.fields.append((name, self._data.decode("utf-8", "replace")))

    def _end(self) -> None:
        self.ended = True


def check_credentials(
    users: Mapping[str, str] | None, tokens: Collection[str] | None
) -> tuple[dict[str, str] | None, list[str] | None]:
    """``users=`` and ``tokens=`` as given to the server, checked and copied.

    Raises:
        ConfigurationError: ``users`` that is not a mapping of str to str, ``tokens`` that is
            not a collection of str.
    """
    if users is not None and (
        not isinstance(users, Mapping)
        or not all(isinstance(k, str) and isinstance(v, str) for k, v in users.items())
    ):
        raise ConfigurationError(
            f'users must map user names to passwords, e.g. users={{"ada": "s3cret"}}; got '
            f"{users!r:.60}"
        )
    listed = None
    if tokens is not None:
        # (listed once: an iterator's tokens are kept, not used up by the check)
        iterable = isinstance(tokens, Iterable) and not isinstance(tokens, str | bytes)
        listed = list(tokens) if iterable else None
        if listed is None or not all(isinstance(token, str) for token in listed):
            raise ConfigurationError(
                f'tokens must be a list of token strings, e.g. tokens=["pypi-AgEI..."]; got '
                f"{tokens!r:.60}"
            )
    return (dict(users) if users is not None else None, listed)


def authenticate(
    authorization: str | None,
    *,
    users: Mapping[str, str] | None,
    tokens: Collection[str] | None,
    anonymous: bool,
) -> str | None:
    """Check HTTP Basic credentials (RFC 7617) as PyPI does for uploads.

    With neither ``users`` nor ``tokens`` configured, any credentials are accepted (the user
    name is kept as the uploader). A user name of ``__token__`` takes an API token as password.

    Returns:
        The uploader's user name, or ``None`` for an anonymous upload.

    Raises:
        UploadRefused: 403 with PyPI's message for missing or wrong credentials.
    """
    if not authorization:
        if anonymous:
            return None
        raise UploadRefused(403, INVALID_AUTH)
    scheme, _, encoded = authorization.partition(" ")
    if scheme.lower() != "basic":
        raise UploadRefused(403, INVALID_AUTH)
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise UploadRefused(403, INVALID_AUTH) from None
    username, colon, password = decoded.partition(":")
    if not colon:
        raise UploadRefused(403, INVALID_AUTH)
    if users is None and tokens is None:
        return username
    if username == TOKEN_USER:
        if any(hmac.compare_digest(password.encode(), token.encode()) for token in tokens or ()):
            return username
        raise UploadRefused(403, MACAROON_REFUSED)
    expected = (users or {}).get(username)
    if expected is None or not hmac.compare_digest(password.encode(), expected.encode()):
        raise UploadRefused(403, INVALID_AUTH)
    return username
