"""DirectoryOptions: the options of a served directory, typed once (PEP 692).

``HTTPServer.serve_directory(prefix, root, **options: Unpack[DirectoryOptions])`` takes them and
passes them to ``DirectoryHost`` as they are. They live here, not beside ``DirectoryHost``, so
that ``understudy.HTTPServer`` does not load the directory module before a directory is served
(``tests/test_lazy_imports.py``); ``tests/test_public_api.py`` holds the two to the same names
and defaults.
"""

from __future__ import annotations

import inspect
from collections.abc import Collection, Mapping, Sequence
from typing import TypedDict

__all__ = ["DIRECTORY_DEFAULTS", "DirectoryOptions", "directory_signature"]


class DirectoryOptions(TypedDict, total=False):
    """The keyword options of ``serve_directory`` (see ``DirectoryHost`` for each)."""

    in_file_headers: bool
    sidecar_headers: bool
    suffix_headers: Mapping[str, Mapping[str, str]] | None
    index: str | None
    generated_fields: str | Collection[str]
    content_coding: str | None
    content_codings: str | Sequence[str] | None


#: Each option's default (``DirectoryHost``'s).
DIRECTORY_DEFAULTS: dict[str, object] = {
    "in_file_headers": False,
    "sidecar_headers": True,
    "suffix_headers": None,
    "index": None,
    "generated_fields": "all",
    "content_coding": None,
    "content_codings": None,
}


def directory_signature(method: object) -> inspect.Signature:
    """``method``'s signature (``self, prefix, root, **options``) with the options spelt out,
    as ``inspect``, the docs and the keyword check (``_keywords``) show and read it."""
    signature = inspect.signature(method)  # type: ignore[arg-type]
    hints = DirectoryOptions.__annotations__
    options = [
        inspect.Parameter(
            name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=hints[name]
        )
        for name, default in DIRECTORY_DEFAULTS.items()
    ]
    fixed = [p for p in signature.parameters.values() if p.kind is not p.VAR_KEYWORD]
    return signature.replace(parameters=[*fixed, *options])
