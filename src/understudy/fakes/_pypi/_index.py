"""The simple repository API as pages: PEP 503 HTML, PEP 691 JSON, and the choice between them.

Pure functions from the stored files to bytes; no sockets. The JSON form is API version 1.1
(PEP 700: ``versions``, ``size``, ``upload-time``); both forms carry PEP 592 yanking and PEP 658 /
PEP 714 metadata hashes.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from ._records import PyPIFile

__all__ = [
    "API_VERSION",
    "HTML_TYPES",
    "JSON_TYPE",
    "negotiate",
    "project_html",
    "project_json",
    "projects_html",
    "projects_json",
]

API_VERSION = "1.1"
JSON_TYPE = "application/vnd.pypi.simple.v1+json"
V1_HTML_TYPE = "application/vnd.pypi.simple.v1+html"
TEXT_HTML = "text/html"
HTML_TYPES = (TEXT_HTML, V1_HTML_TYPE)
#: What the index can answer, in the order preferred when a client likes several equally
#: (PyPI answers ``*/*`` and a missing Accept with text/html).
OFFERS = (TEXT_HTML, V1_HTML_TYPE, JSON_TYPE)
#: PyPI's ``?format=`` override of the Accept field.
FORMATS = {"text/html": TEXT_HTML, V1_HTML_TYPE: V1_HTML_TYPE, JSON_TYPE: JSON_TYPE}


def negotiate(accept: str | None, offers: Sequence[str] = OFFERS) -> str | None:
    """The media type to answer with, per the Accept field (RFC 9110 §12.5.1, PEP 691).

    Each offer takes the quality of the most specific media range that matches it
    (``type/subtype`` over ``type/*`` over ``*/*``); the offer with the highest non-zero quality
    wins, ties going to the earlier offer. A missing or empty Accept accepts everything.

    Returns:
        The chosen media type, or ``None`` when nothing offered is acceptable (answer 406).
    """
    if accept is None or not accept.strip():
        return offers[0]
    ranges: list[tuple[str, str, float]] = []
    for item in accept.split(","):
        media, *params = (part.strip() for part in item.split(";"))
        if not media:
            continue
        main, _, sub = media.lower().partition("/")
        quality = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value.strip())
                except ValueError:
                    quality = 0.0
        ranges.append((main, sub or "*", quality))
    best: tuple[float, str] | None = None
    for offer in offers:
        main, _, sub = offer.partition("/")
        found: tuple[int, float] | None = None  # (specificity, quality)
        for range_main, range_sub, quality in ranges:
            if range_main == main and range_sub == sub:
                specificity = 2
            elif range_main == main and range_sub == "*":
                specificity = 1
            elif range_main == "*" and range_sub == "*":
                specificity = 0
            else:
                continue
            if found is None or specificity > found[0]:
                found = (specificity, quality)
        if found is not None and found[1] > 0 and (best is None or found[1] > best[0]):
            best = (found[1], offer)
    return None if best is None else best[1]


def _page(title: str, links: Iterable[str]) -> bytes:
    body = "\n".join(f"    {link}<br />" for link in links)
    return (
        "<!DOCTYPE html>\n<html>\n  <head>\n"
        f'    <meta name="pypi:repository-version" content="{API_VERSION}">\n'
        f"    <title>{html.escape(title)}</title>\n  </head>\n  <body>\n"
        f"    <h1>{html.escape(title)}</h1>\n{body}\n  </body>\n</html>\n"
    ).encode()


def projects_html(names: Iterable[tuple[str, str]]) -> bytes:
    """The root page (PEP 503): per ``(normalised, display)`` name, a link to ``<normalised>/``."""
    return _page(
        "Simple index",
        (f'<a href="{html.escape(n)}/">{html.escape(shown)}</a>' for n, shown in names),
    )


def projects_json(names: Iterable[tuple[str, str]]) -> bytes:
    """The root page as PEP 691 JSON: the display name of each ``(normalised, display)``."""
    return _json(
        {"meta": {"api-version": API_VERSION}, "projects": [{"name": s} for _, s in names]}
    )


def file_url(file: PyPIFile, base: str) -> str:
    """The file's URL with its ``#sha256=`` fragment (PEP 503), relative to ``base``."""
    return f"{base}{file.filename}#sha256={file.digests['sha256']}"


def project_html(name: str, files: Sequence[PyPIFile], *, base: str) -> bytes:
    """A project page (PEP 503) with PEP 592 ``data-yanked`` and PEP 714 metadata attributes."""
    links = []
    for file in files:
        attributes = [f'href="{html.escape(file_url(file, base))}"']
        if file.requires_python:
            attributes.append(f'data-requires-python="{html.escape(file.requires_python)}"')
        if file.yanked:
            attributes.append(f'data-yanked="{html.escape(file.yanked_reason)}"')
        if file.metadata_digests:
            value = html.escape(f"sha256={file.metadata_digests['sha256']}")
            attributes.append(f'data-dist-info-metadata="{value}"')
            attributes.append(f'data-core-metadata="{value}"')
        links.append(f"<a {' '.join(attributes)}>{html.escape(file.filename)}</a>")
    return _page(f"Links for {name}", links)


def project_json(
    name: str, files: Sequence[PyPIFile], versions: Sequence[str], *, base: str
) -> bytes:
    """A project page as PEP 691 JSON (API 1.1: PEP 700 ``versions``, ``size``, ``upload-time``)."""
    entries: list[dict[str, Any]] = []
    for file in files:
        metadata: dict[str, str] | bool = (
            {"sha256": file.metadata_digests["sha256"]} if file.metadata_digests else False
        )
        entries.append(
            {
                "filename": file.filename,
                "url": f"{base}{file.filename}",
                "hashes": {"sha256": file.digests["sha256"]},
                "requires-python": file.requires_python,
                "yanked": (file.yanked_reason or True) if file.yanked else False,
                "core-metadata": metadata,
                "dist-info-metadata": metadata,
                "size": file.size,
                "upload-time": iso_time(file.upload_time),
            }
        )
    return _json(
        {
            "meta": {"api-version": API_VERSION},
            "name": name,
            "versions": list(versions),
            "files": entries,
        }
    )


def iso_time(timestamp: float) -> str:
    """``2024-05-01T12:00:00.123456Z``: PEP 700's upload-time form."""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _json(value: Any) -> bytes:
    return json.dumps(value, indent=None, separators=(",", ":")).encode()
