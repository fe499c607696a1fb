"""(g) HTTPS start → one GET → stop: a fresh ``HTTPServer(tls=True)`` per cycle, full handshake.

The client context is made once, as a test session makes it once (``understudy.tls``); each
cycle opens a fresh connection, so each pays a full TLS handshake (no session resumption).
"""

from __future__ import annotations

import http.client
import ssl
import time

import understudy
import understudy.tls

from ._cycle import BenchError, CycleResult
from ._subjects import BODY, HOST

__all__ = ["HTTPS_KEY", "HTTPS_LABEL", "run_https_cycles"]

HTTPS_KEY = "understudy-https"
HTTPS_LABEL = "understudy, HTTPS (tls=True)"
_CLIENT_TIMEOUT = 5.0
_RESPONSE = understudy.Response(200, body=BODY, content_type="text/plain")


def _one_cycle(context: ssl.SSLContext, result: CycleResult | None) -> None:
    t0 = time.perf_counter()
    server = understudy.HTTPServer(response=_RESPONSE, tls=True).start()
    t1 = time.perf_counter()
    try:
        conn = http.client.HTTPSConnection(
            HOST,
            server.port,
            timeout=_CLIENT_TIMEOUT,
            context=context,
        )
        try:
            conn.request("GET", "/")
            response = conn.getresponse()
            body = response.read()
        finally:
            conn.close()
        if response.status != 200 or body != BODY:
            raise BenchError(f"HTTPS GET / gave {response.status} {body[:60]!r}")
        t2 = time.perf_counter()
    finally:
        server.stop()
    t3 = time.perf_counter()
    if result is not None:
        result.start.append(t1 - t0)
        result.get.append(t2 - t1)
        result.body.append(0.0)
        result.stop.append(t3 - t2)
        result.total.append(t3 - t0)


def run_https_cycles(*, max_cycles: int, budget: float, warmup: int) -> CycleResult:
    """Up to ``max_cycles`` HTTPS cycles within ``budget`` seconds, after ``warmup`` unrecorded.

    The first warm-up cycle makes the test CA and the server certificate (once per process).
    """
    context = understudy.tls.client_context()
    result = CycleResult(HTTPS_KEY, HTTPS_LABEL, 0.0)
    for _ in range(max(warmup, 1)):
        _one_cycle(context, None)
    deadline = time.perf_counter() + budget
    for _ in range(max_cycles):
        if time.perf_counter() > deadline:
            break
        _one_cycle(context, result)
    return result
