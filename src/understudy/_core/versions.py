"""The HTTP versions a server offers: ``http_versions=``, checked, and its ALPN list."""

from __future__ import annotations

from collections.abc import Collection

__all__ = ["HTTP_VERSIONS", "alpn_protocols", "check_http_versions", "check_max_streams"]

#: The versions a server may offer, as ``http_versions=`` names them (RFC 9112, RFC 9113).
HTTP_VERSIONS = ("1.1", "2")
#: The ALPN protocol ids of each version (RFC 7301; RFC 9113 §3.2).
_ALPN = {"2": "h2", "1.1": "http/1.1"}


def check_http_versions(value: object) -> tuple[str, ...]:
    """``value`` as the tuple of versions offered, in HTTP_VERSIONS order.

    Raises:
        ValueError: ``value`` is not a non-empty collection of ``"1.1"`` and ``"2"`` (the
            message says what to write); the caller raises it as a ConfigurationError.
    """
    if isinstance(value, str):
        value = (value,)
    if not isinstance(value, Collection) or not value or not set(value) <= set(HTTP_VERSIONS):
        raise ValueError(
            f"http_versions must name the versions offered, from '1.1' and '2' "
            f"(http_versions=('1.1', '2') for both, ('2',) for HTTP/2 only), not {value!r}"
        )
    return tuple(version for version in HTTP_VERSIONS if version in value)


def check_max_streams(value: object) -> int:
    """``value`` as SETTINGS_MAX_CONCURRENT_STREAMS (RFC 9113 §6.5.2): an int, 1 to 2**31-1.

    Raises:
        ValueError: anything else (the caller raises it as a ConfigurationError).
    """
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value < 2**31:
        raise ValueError(
            f"max_concurrent_streams must be an int from 1 to 2**31-1 (streams a client may "
            f"open at once on one HTTP/2 connection), not {value!r}"
        )
    return value


def alpn_protocols(versions: tuple[str, ...]) -> tuple[str, ...]:
    """The ALPN ids offered over TLS for ``versions``, preferred first: ``h2``, ``http/1.1``."""
    return tuple(_ALPN[version] for version in reversed(versions))
