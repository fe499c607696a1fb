"""Content codings (RFC 9110 §8.4): Accept-Encoding negotiation and the coders themselves.

Pure: bytes in, bytes out; no socket, thread, clock or event loop. gzip and deflate come from the
standard library's ``zlib``; ``br`` from Google's ``brotli`` package and ``zstd`` from
``compression.zstd`` (Python 3.14) or its backport ``backports.zstd``, each imported when first
used, so that understudy works without them until a test asks for them
(:func:`coding_problem` says what to install).

The codings, by their registered names (RFC 9110 §8.4.1, §18.6):

``gzip``
    the gzip file format (RFC 1952), as ``gzip.compress`` writes it with a fixed modification
    time of 0, so the same content always gives the same bytes.
``deflate``
    the **zlib** format (RFC 1950) around a deflate stream (RFC 1951), as RFC 9110 §8.4.1.2
    defines it: not a raw deflate stream (which some servers wrongly send).
``br``
    Brotli (RFC 7932).
``zstd``
    Zstandard (RFC 8878) at the default level, whose window (2 MiB at most) is within the
    8 MiB a client may insist on (RFC 9659 §3).

Negotiation (:func:`negotiate`) follows RFC 9110 §12.5.3 and understudy's choices where the
RFC leaves one to the server:

- No Accept-Encoding field: no coding. The RFC lets the server send any coding then, but
  "does not imply that the user agent will be able to correctly process all encodings", and a
  client that sends no Accept-Encoding (urllib) does not decode; so, as most servers do, the
  content is sent as it is.
- An empty field: no coding (the client wants none).
- Otherwise the offered coding with the highest qvalue above 0 wins (an entry for the coding,
  else the ``*`` entry, else it is not acceptable), ties going to the one offered first; but
  ``identity`` wins over it when the field gives ``identity`` (or ``*``, with no ``identity``
  entry) a higher qvalue. ``x-gzip`` counts as ``gzip`` (§8.4.1.3).
- No acceptable coding offered: no coding, even when the field refuses ``identity``
  (``identity;q=0``): §12.5.3 says to send the content uncoded unless identity is refused,
  and §12.1 then lets the server disregard the field rather than answer 406, which is what
  understudy does, so that a canned response keeps its status.

Entries that do not parse (a bad qvalue, a coding that is not a token) are skipped.
"""

from __future__ import annotations

import importlib
import re
import sys
import zlib
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

__all__ = [
    "CODINGS",
    "CodingError",
    "Compressor",
    "check_codings",
    "coding_problem",
    "compressor",
    "encode",
    "malformed_gzip",
    "negotiate",
    "parse_accept_encoding",
    "tag_for_coding",
    "vary_with",
]

#: The content codings understudy can apply, in the order it prefers them when a client
#: accepts several equally (RFC 9110 §8.4.1; br: RFC 7932; zstd: RFC 8878).
CODINGS: tuple[str, ...] = ("gzip", "deflate", "br", "zstd")

#: Where each optional coding comes from: the module to import, and what to install.
_PROVIDERS: dict[str, tuple[tuple[str, ...], str]] = {
    "br": (("brotli",), "brotli (pip install 'understudy[brotli]')"),
    "zstd": (
        ("compression.zstd",) if sys.version_info >= (3, 14) else ("backports.zstd",),
        "backports.zstd (pip install 'understudy[zstd]'; Python 3.14 has compression.zstd)",
    ),
}

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_QVALUE = re.compile(r"(?:0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?)")
_WSP = " \t"


class CodingError(ValueError):
    """A content coding understudy does not know, or whose library is not installed."""


def _module(coding: str) -> ModuleType | None:
    """The module providing ``coding`` (``br``, ``zstd``), or ``None`` if none is installed."""
    names, _ = _PROVIDERS[coding]
    for name in names:
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    return None


def coding_problem(coding: object) -> str | None:
    """Why ``coding`` cannot be applied (``None``: it can), as a sentence that says what to do.

    Args:
        coding: a content-coding name: one of :data:`CODINGS`, compared without case.
    """
    if not isinstance(coding, str) or coding.lower() not in CODINGS:
        return (
            f"{coding!r} is not a content coding understudy can apply; use one of "
            f"{', '.join(map(repr, CODINGS))} (RFC 9110 §8.4.1)"
        )
    coding = coding.lower()
    if coding in _PROVIDERS and _module(coding) is None:
        return f"the {coding!r} content coding needs the package {_PROVIDERS[coding][1]}"
    return None


def check_codings(value: object, *, name: str = "content_codings") -> tuple[str, ...]:
    """Codings given as a comma-separated str or a sequence of str, checked, lower-cased.

    Raises:
        CodingError: not a str or a sequence of str, empty, a coding given twice, or a coding
            :func:`coding_problem` refuses (the message says what to install or write).
    """
    if isinstance(value, str):
        items: list[object] = [part.strip(_WSP) for part in value.split(",")]
    elif isinstance(value, Sequence):
        items = list(value)
    else:
        raise CodingError(
            f"{name} takes codings such as ('gzip', 'br') or 'gzip, br', not {value!r}"
        )
    if not items or items == [""]:
        raise CodingError(f"{name} is empty; give at least one of {', '.join(CODINGS)}")
    codings: list[str] = []
    for item in items:
        problem = coding_problem(item)
        if problem is not None:
            raise CodingError(f"{name}: {problem}")
        assert isinstance(item, str)
        if item.lower() in codings:
            raise CodingError(f"{name} names {item!r} twice")
        codings.append(item.lower())
    return tuple(codings)


def parse_accept_encoding(value: str) -> dict[str, float]:
    """An Accept-Encoding field value (RFC 9110 §12.5.3) as coding → qvalue.

    Codings are lower-cased (``x-gzip`` becomes ``gzip``, §8.4.1.3); ``*`` and ``identity`` are
    kept as such. A member without ``q`` has qvalue 1.0. Members that do not parse (a coding
    that is not a token, a qvalue outside 0-1 or with more than three decimals) are skipped; a
    coding listed twice keeps its first qvalue.
    """
    accepted: dict[str, float] = {}
    for member in value.split(","):
        coding, *params = member.split(";")
        coding = coding.strip(_WSP).lower()
        if not coding:
            continue
        if not _TOKEN.fullmatch(coding):
            continue
        quality = 1.0
        for param in params:
            key, _, given = param.strip(_WSP).partition("=")
            if key.strip(_WSP).lower() == "q":
                given = given.strip(_WSP)
                if not _QVALUE.fullmatch(given):
                    break
                quality = float(given)
        else:
            if coding == "x-gzip":
                coding = "gzip"
            accepted.setdefault(coding, quality)
    return accepted


def negotiate(accept_encoding: str | None, offered: Sequence[str]) -> str | None:
    """The coding to send: one of ``offered``, or ``None`` for none (identity).

    Args:
        accept_encoding: the request's Accept-Encoding field value (several fields joined
            with commas, RFC 9110 §5.3), or ``None`` when it sent none.
        offered: the codings the response may use, in the server's order of preference.

    See the module's description for the rules (RFC 9110 §12.5.3).
    """
    if accept_encoding is None or not offered:
        return None
    accepted = parse_accept_encoding(accept_encoding)
    if not accepted:
        return None
    star = accepted.get("*")
    best: str | None = None
    best_quality = 0.0
    for coding in offered:
        quality = accepted.get(coding, star if star is not None else 0.0)
        if quality > best_quality:
            best, best_quality = coding, quality
    if best is None:
        return None
    identity = accepted.get("identity", star)
    if identity is not None and identity > best_quality:
        return None
    return best


def encode(coding: str, data: bytes) -> bytes:
    """``data`` coded with ``coding`` (one of :data:`CODINGS`; see the module's description).

    The output depends only on the input: gzip's header carries no time or file name.

    Raises:
        CodingError: ``coding`` is unknown or its library is not installed.
    """
    if coding == "gzip":
        import gzip  # noqa: PLC0415 - only when a body is gzip-coded: every server imports this

        return gzip.compress(data, mtime=0)
    if coding == "deflate":
        return zlib.compress(data)
    problem = coding_problem(coding)
    if problem is not None:
        raise CodingError(problem)
    module = _module(coding)
    if coding == "br":
        return bytes(module.compress(data))  # type: ignore[union-attr]
    zstd: Any = module
    return bytes(zstd.compress(data))


#: Codes pieces of a streamed body: each call returns the coded bytes for a piece, flushed so
#: the client can decode all of it at once; ``None`` ends the stream (the trailer).
Compressor = Callable[[bytes | None], bytes]


def compressor(coding: str) -> Compressor:
    """A :data:`Compressor` for a body sent in pieces, such as an event stream.

    Each piece is flushed (zlib's ``Z_SYNC_FLUSH``, Brotli's and zstd's flush), so a client
    decoding as it reads gets each piece when it is sent; call it with ``None`` for the end of
    the stream (gzip's trailer, the zlib checksum, the last Brotli meta-block, zstd's frame end).

    Raises:
        CodingError: ``coding`` is unknown or its library is not installed.
    """
    problem = coding_problem(coding)
    if problem is not None:
        raise CodingError(problem)
    if coding in ("gzip", "deflate"):
        z = zlib.compressobj(wbits=31 if coding == "gzip" else 15)

        def code_zlib(piece: bytes | None) -> bytes:
            if piece is None:
                return z.flush(zlib.Z_FINISH)
            return z.compress(piece) + z.flush(zlib.Z_SYNC_FLUSH)

        return code_zlib
    module: Any = _module(coding)
    if coding == "br":
        brotli_coder = module.Compressor()

        def code_br(piece: bytes | None) -> bytes:
            if piece is None:
                return bytes(brotli_coder.finish())
            return bytes(brotli_coder.process(piece)) + bytes(brotli_coder.flush())

        return code_br
    zstd_coder = module.ZstdCompressor()

    def code_zstd(piece: bytes | None) -> bytes:
        if piece is None:
            return bytes(zstd_coder.flush(module.ZstdCompressor.FLUSH_FRAME))
        return bytes(zstd_coder.compress(piece, module.ZstdCompressor.FLUSH_BLOCK))

    return code_zstd


def tag_for_coding(etag: str, coding: str) -> str:
    """The entity tag of a coded representation, given the tag of the uncoded one.

    A strong tag names one representation's bytes (RFC 9110 §8.8.3), so the coded one gets its
    own: ``"abc"`` becomes ``"abc-gzip"`` (as Apache's mod_deflate does). A weak tag
    (``W/"abc"``) may be shared by representations that mean the same, so it is kept; so is a
    value that is not a quoted tag.
    """
    stripped = etag.strip(_WSP)
    if len(stripped) >= 2 and stripped[0] == '"' and stripped[-1] == '"':
        return f'{stripped[:-1]}-{coding}"'
    return etag


def vary_with(fields: list[tuple[str, str]], name: str) -> list[tuple[str, str]]:
    """``fields`` with ``name`` among the members of their Vary field (RFC 9110 §12.5.5).

    A Vary field that lists ``name`` (any case) or ``*`` is kept; another gets ``, name``
    appended; with none, ``("Vary", name)`` is added last. ``fields`` is not changed.
    """
    for index, (field, value) in enumerate(fields):
        if field.lower() == "vary":
            members = [member.strip(_WSP).lower() for member in value.split(",")]
            if name.lower() in members or "*" in members:
                return list(fields)
            return [*fields[:index], (field, f"{value}, {name}"), *fields[index + 1 :]]
    return [*fields, ("Vary", name)]


#: The fixed 10-byte gzip header (RFC 1952 §2.3: deflate, no flags, mtime 0, unknown OS).
_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"


def malformed_gzip() -> bytes:
    """A gzip member that no decoder accepts: a valid header, then a deflate block of the
    reserved type 3 (RFC 1951 §3.2.3: "reserved (error)"), then bytes that are never read.

    zlib reports "invalid block type" on the block, whatever comes after it, so every client
    fails on the first bytes of the body (none of it decodes).
    """
    filler = b"understudy: this is not deflate data (Fault.MALFORMED_CONTENT_CODING)\n"
    return _GZIP_HEADER + b"\x07" + filler
