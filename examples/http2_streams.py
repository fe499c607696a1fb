"""Section: httpx over HTTP/2 (h2c by prior knowledge, and h2 over TLS by ALPN).

``HTTPServer(http_versions=("1.1", "2"))`` serves HTTP/2 beside HTTP/1.1 on one port. Ten
requests go out at once over one HTTP/2 connection, each on its own stream; one stream is reset
by a fault while the others are answered; over TLS, ALPN picks ``h2``. Each request in the
journal says ``http_version == "2"``.
"""

from __future__ import annotations

import asyncio
import re

import httpx

import understudy
import understudy.tls

from ._report import Report

TITLE = "httpx with http2=True -> HTTP/2 streams (h2c and TLS+ALPN), one stream reset"


async def _fetch_all(url: str) -> list[httpx.Response | BaseException]:
    async with httpx.AsyncClient(http1=False, http2=True) as client:
        calls = [client.get(f"{url}/items/{number}") for number in range(9)]
        calls.append(client.get(f"{url}/broken"))
        return await asyncio.gather(*calls, return_exceptions=True)


def run(report: Report) -> None:
    """Ten concurrent streams on one h2c connection, one reset; then h2 over TLS."""
    with understudy.HTTPServer(http_versions=("1.1", "2")) as server:
        report.server('HTTPServer(http_versions=("1.1", "2"))', server)
        server.expect("GET", "/broken").fault(understudy.Fault.STREAM_RESET)
        server.expect("GET", re.compile(r"/items/\d+")).respond(200, json={"ok": True})
        report.line()
        report.line(">>> 10 x client.get(...) at once, httpx.AsyncClient(http1=False, http2=True)")
        replies = asyncio.run(_fetch_all(server.url))
        requests = server.wait_for_requests(10)
        answered = [r for r in replies if isinstance(r, httpx.Response)]
        failed = [r for r in replies if not isinstance(r, httpx.Response)]
        peers = {request.peer for request in requests}
        report.line(
            f"server received {len(requests)} requests on {len(peers)} connection(s), "
            f"versions {sorted({request.http_version for request in requests})}",
            indent=2,
        )
        report.line(
            f"client got {len(answered)} answers ({answered[0].http_version}) and "
            f"{len(failed)} error: {type(failed[0]).__name__ if failed else '-'}",
            indent=2,
        )
        report.check(len(answered) == 9, "nine streams answered")
        report.check(len(failed) == 1, "the reset stream to fail alone")
        report.check(len(peers) == 1, "one connection for all ten streams")

    with understudy.HTTPServer(http_versions=("1.1", "2"), tls=True) as server:
        report.line()
        report.server('HTTPServer(http_versions=("1.1", "2"), tls=True)', server)
        server.expect("GET", "/").respond(200, body="over h2")
        with httpx.Client(http2=True, verify=understudy.tls.client_context()) as client:
            reply = client.get(server.url + "/")
        [request] = server.wait_for_requests(1)
        report.line()
        report.line(">>> httpx.Client(http2=True, verify=understudy.tls.client_context()).get(...)")
        shown = f"{reply.status_code} {reply.http_version}: {reply.text!r}"
        report.line(f"client got {shown}", indent=2)
        report.check(reply.http_version == "HTTP/2", "ALPN to choose h2")
        report.check(request.http_version == "2", "the journal to say HTTP/2")
