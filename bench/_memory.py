"""(d) What an idle server costs: RSS growth and OS threads per started server.

Run first in ``python -m bench``, before any load has grown (and freed) the heap, so new servers
cannot hide in memory that earlier runs left free.
"""

from __future__ import annotations

import gc
import resource
import threading
import time
from dataclasses import dataclass

import psutil

from ._subjects import Running, Subject

__all__ = ["IdleResult", "measure_idle"]

#: Descriptors kept free beyond one per server, for the runtime, wrk's pipes and the like.
_SPARE_FDS = 200


@dataclass
class IdleResult:
    """Growth measured across ``servers`` idle servers started in this process."""

    key: str
    label: str
    servers: int
    rss_bytes: int
    threads: int
    start_seconds: float
    stop_seconds: float

    @property
    def rss_per_server(self) -> float:
        return self.rss_bytes / self.servers

    @property
    def threads_per_server(self) -> float:
        return self.threads / self.servers


def _usage() -> tuple[int, int]:
    gc.collect()
    process = psutil.Process()
    return int(process.memory_info().rss), int(process.num_threads())


def _servers_allowed(wanted: int) -> int:
    """Raise the soft descriptor limit if needed; return how many servers fit under it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = wanted + _SPARE_FDS
    if soft != resource.RLIM_INFINITY and soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    if soft == resource.RLIM_INFINITY:
        return wanted
    return max(1, min(wanted, soft - _SPARE_FDS))


def _stop_all(servers: list[Running], *, parallel: bool) -> None:
    if not parallel:
        for server in servers:
            server.stop()
        return
    # Peers that poll every 0.5 s to stop are stopped side by side, to keep the run short.
    threads = [threading.Thread(target=server.stop, daemon=True) for server in servers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10.0)


def measure_idle(subject: Subject, *, count: int, warmup: int, parallel_stop: bool) -> IdleResult:
    """Start ``count`` servers of ``subject`` and measure what they add; then stop them."""
    count = _servers_allowed(count)
    warm = [subject.start() for _ in range(warmup)]
    _stop_all(warm, parallel=parallel_stop)
    del warm
    rss_before, threads_before = _usage()
    servers: list[Running] = []
    t0 = time.perf_counter()
    try:
        servers.extend(subject.start() for _ in range(count))
        t1 = time.perf_counter()
        rss_after, threads_after = _usage()
    finally:
        t2 = time.perf_counter()
        _stop_all(servers, parallel=parallel_stop)
        t3 = time.perf_counter()
    return IdleResult(
        key=subject.key,
        label=subject.label,
        servers=count,
        rss_bytes=rss_after - rss_before,
        threads=threads_after - threads_before,
        start_seconds=t1 - t0,
        stop_seconds=t3 - t2,
    )
