"""Binding a Unix socket at a path, and knowing the file bound there: for :mod:`._base`.

Rule: no server state; sockets and paths in and out.
"""

from __future__ import annotations

import errno
import os
import socket

from .._listeners import bind_socket

__all__ = ["bind_unix", "file_id"]


def file_id(path: str) -> tuple[int, int] | None:
    """The ``(st_dev, st_ino)`` of the file at ``path`` (not followed, if a link); ``None``
    for an abstract name (no file).

    Raises:
        FileNotFoundError: no file is at ``path``.
    """
    if path.startswith("\0"):
        return None
    stat = os.lstat(path)
    return (stat.st_dev, stat.st_ino)


def bind_unix(path: str, kind: socket.SocketKind) -> socket.socket:
    """A Unix socket bound at ``path`` (listening, for a stream).

    Raises:
        OSError: ``errno.EADDRINUSE`` when a file exists at ``path``; ``errno.ENAMETOOLONG``
            when ``path`` is longer than a Unix socket's address holds (107 bytes on Linux);
            ``FileNotFoundError`` when its directory does not exist. Each names the path and
            says what to write instead.
    """
    try:
        return bind_socket(
            socket.AF_UNIX,
            kind,
            path,
            in_use=lambda: OSError(
                errno.EADDRINUSE,
                f"cannot listen on the Unix socket {path!r}: a file exists there; remove it, "
                "or pass no path= to let understudy choose one in a private directory",
            ),
        )
    except FileNotFoundError:
        raise FileNotFoundError(
            errno.ENOENT,
            f"cannot listen on the Unix socket {path!r}: its directory "
            f"{os.path.dirname(path)!r} does not exist; create the directory first, or pass "
            "no path= to let understudy choose one in a private directory",
        ) from None
    except OSError as error:
        if error.errno is not None or "too long" not in str(error):
            raise
        raise OSError(
            errno.ENAMETOOLONG,
            f"cannot listen on the Unix socket {path!r}: the path is too long "
            f"({len(os.fsencode(path))} bytes; a Unix socket's address holds 107 on Linux); "
            "choose a shorter one, e.g. under tempfile.gettempdir(), or pass no path= to let "
            "understudy choose one in a private directory",
        ) from None
