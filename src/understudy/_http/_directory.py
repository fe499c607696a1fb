"""Serving a directory of files (being written: see issue 3)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from .._errors import ConfigurationError
from ._connection import Exchange

if TYPE_CHECKING:
    from ._server import HTTPServer

__all__ = ["DirectoryHost"]


class DirectoryHost:
    """Answers requests under a URL prefix from the files of a directory."""

    streams_body = False

    def __init__(self, prefix: str, root: str | os.PathLike[str], **options: Any) -> None:
        raise ConfigurationError("serving a directory is not available yet")

    def dispatch(self, server: HTTPServer, exchange: Exchange) -> None:
        raise NotImplementedError
