"""What a process holds: threads, open fds, RSS and listening sockets (from ``/proc``)."""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import os
import threading
from dataclasses import dataclass

__all__ = ["Usage", "usage"]

_PAGE = os.sysconf("SC_PAGE_SIZE")
#: /proc/net tables and the state that means "listening" in each (UDP: any bound socket).
_TABLES = {"tcp": "0A", "tcp6": "0A", "udp": None, "udp6": None, "unix": None}


@dataclass(frozen=True)
class Usage:
    """One reading of what this process holds."""

    threads: int  # not counting the runtime's worker pool, bounded by MAX_WORKERS
    fds: int
    rss: int  # bytes
    listening: int  # listening TCP, bound UDP and Unix sockets among our own fds
    workers: int = 0  # threads of the runtime's worker pool (kept once made, up to its bound)

    def minus(self, before: Usage) -> Usage:
        return Usage(
            self.threads - before.threads,
            self.fds - before.fds,
            self.rss - before.rss,
            self.listening - before.listening,
            self.workers - before.workers,
        )


def _socket_inodes() -> set[str]:
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def _listening(inodes: set[str]) -> int:
    count = 0
    for table, state in _TABLES.items():
        try:
            with open(f"/proc/net/{table}", encoding="ascii") as lines:
                rows = lines.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if table == "unix":
                # Num RefCount Protocol Flags Type St Inode [Path]: listening streams have
                # flag __SO_ACCEPTCON (0x10000); bound datagram sockets have a path.
                if len(fields) < 7 or fields[6] not in inodes:
                    continue
                if int(fields[3], 16) & 0x10000 or (fields[4] == "0002" and len(fields) > 7):
                    count += 1
            elif fields[9] in inodes and (state is None or fields[3] == state):
                count += 1
    return count


def _malloc_trim() -> None:
    """Give the C heap's free pages back (glibc): RSS then counts memory in use, not the
    fragmentation left by freed blocks, which is noise, not a leak."""
    name = ctypes.util.find_library("c")
    if name is None:
        return
    trim = getattr(ctypes.CDLL(name), "malloc_trim", None)
    if trim is not None:
        trim(0)


def usage() -> Usage:
    """Collect garbage, trim the heap, then read threads, fds, RSS and listening sockets."""
    gc.collect()
    _malloc_trim()
    with open("/proc/self/statm", encoding="ascii") as statm:
        rss = int(statm.read().split()[1]) * _PAGE
    return Usage(
        threads=sum(
            1 for thread in threading.enumerate() if not thread.name.startswith("understudy-worker")
        ),
        fds=len(os.listdir("/proc/self/fd")),
        rss=rss,
        listening=_listening(_socket_inodes()),
        workers=sum(1 for t in threading.enumerate() if t.name.startswith("understudy-worker")),
    )
