"""The command's words: the library's messages name Python arguments (``port=0``); the command's
name its flags (``--port 0``). One table, :data:`FLAGS`, and :func:`cli_wording` that uses it.
"""

from __future__ import annotations

import argparse
import errno
import ipaddress
import re

__all__ = ["FLAGS", "cannot_listen", "cli_wording", "is_loopback"]

#: A server's Python argument (or method) -> the flag of the command that sets it.
FLAGS: dict[str, str] = {
    "admin_token": "--admin-token",
    "auth": "--auth",
    "auth_required": "--auth-required",
    "directory": "--dir",
    "content_codings": "--content-codings",
    "echo": "--echo",
    "generated_fields": "--generated-fields",
    "host": "--host",
    "hostname": "--hostname",
    "index": "--index",
    "load_mappings()": "--mappings",
    "mappings": "--mappings",
    "port": "--port",
    "proxy_to": "--proxy-to",
    "record": "--record",
    "root": "--root",
    "serve_directory()": "--root",
    "smtputf8": "--smtputf8",
    "starttls": "--starttls",
    "tls": "--tls",
    "transport": "--transport",
    "users": "--user",
}
_NAMES = "|".join(re.escape(name) for name in sorted(FLAGS, key=len, reverse=True))
#: ``SMTPServer tls=`` -> ``--tls``: the class is the command's own.
_CLASS = re.compile(r"\b(?:HTTPServer|PyPIServer|SMTPServer|SyslogServer|TCPServer)(?:\(\))? ?")
#: ``port=0``, ``transport='udp'``, ``tls=``.
_ASSIGNED = re.compile(rf"(?<![\w-])({_NAMES})=(?:'([^']*)'|([\w.]+))?")
#: ``serve_directory()``, ``proxy_to``: names no English sentence uses.
_NAMED = re.compile(
    rf"(?<![\w-])({'|'.join(re.escape(n) for n in FLAGS if '_' in n or n.endswith('()'))})"
    r"(?![\w=])"
)
#: ``root '/nope' does not exist``: a message that opens with the argument's name.
_OPENING = re.compile(rf"^({_NAMES})\b(?![=(])")


def cli_wording(message: str) -> str:
    """``message`` (a server's error) with each Python argument named by its flag (:data:`FLAGS`).

    ``"pass port=0 to let the kernel choose"`` becomes ``"pass --port 0 to let the kernel
    choose"``; ``"give SMTPServer tls= ... or starttls="``, ``"give --tls ... or --starttls"``.
    """

    def assigned(found: re.Match[str]) -> str:
        value = found.group(2) if found.group(2) is not None else found.group(3)
        return FLAGS[found.group(1)] + (f" {value}" if value else "")

    message = _CLASS.sub("", message)
    message = _ASSIGNED.sub(assigned, message)
    message = _NAMED.sub(lambda found: FLAGS[found.group(1)], message)
    return _OPENING.sub(lambda found: FLAGS[found.group(1)], message)


def cannot_listen(args: argparse.Namespace, error: OSError) -> str:
    """What to say when ``start()`` could not bind: which flag to change, and to what."""
    reason = error.strerror or str(error)
    if error.errno == errno.EADDRINUSE:
        return str(error)  # (AddressInUse names host and port, and what to pass instead)
    if error.errno == errno.EACCES:
        return (
            f"cannot listen on port {args.port}: {reason}; ports below 1024 need privileges: "
            "give --port 0 (a free port) or one above 1023"
        )
    return (
        f"cannot listen on --host {args.host}: {reason}; give an address of this machine, "
        "such as 127.0.0.1 (the default), ::1 or localhost"
    )


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address (127.0.0.0/8, ``::1``) or ``localhost``.

    Names other than ``localhost`` are not looked up: they count as not loopback.
    """
    if host.lower() == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback
