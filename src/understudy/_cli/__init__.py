"""The ``understudy`` command: run a server out of process until SIGINT or SIGTERM.

Each subcommand is a :class:`Command`: how to add its options to argparse, how to make the
server from them, and how to report what arrives. Adding one (``understudy pypi``, ``--tls``)
is a function and a line in :data:`COMMANDS`.

On start the command prints where it listens, then one report per thing that arrives
(request, message, connection, upload, download); with ``--json`` each of those is one JSON
object on a line of its own, flushed, for a script that starts it. SIGINT and SIGTERM stop the
server and exit 0. Every mistake — a wrong option, a busy port, a host it cannot listen on —
exits 2 with the subcommand's usage and one line naming the flag to change: the library's
messages name Python arguments (``port=0``), and :func:`cli_wording` rewords them with one
table, :data:`FLAGS`.
"""

from __future__ import annotations

from ._commands import COMMANDS
from ._main import build_parser, main
from ._options import Command
from ._reports import format_message
from ._wording import FLAGS, cannot_listen, cli_wording, is_loopback

__all__ = [
    "COMMANDS",
    "FLAGS",
    "Command",
    "build_parser",
    "cannot_listen",
    "cli_wording",
    "format_message",
    "is_loopback",
    "main",
]
