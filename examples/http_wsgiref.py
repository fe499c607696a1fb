"""Section: wsgiref's own ``demo_app``, unchanged, answering ``urllib.request``.

This is the first seed's example ("Faking a server for client-side tests", 2010) without the
thread, the ``time.sleep(0.2)`` and the global: any WSGI app, port 0, stop, start again.
"""

from __future__ import annotations

import urllib.request
from wsgiref.simple_server import demo_app

import understudy

from ._report import Got, Report, take_request

TITLE = "urllib.request -> wsgiref's demo_app, unchanged (the first seed's example)"


def get(url: str) -> Got:
    """GET ``url`` with urllib.request."""
    with urllib.request.urlopen(url, timeout=5.0) as response:
        return Got(
            response.status,
            response.reason,
            response.headers.get("Content-Type", ""),
            response.read(),
        )


def run(report: Report) -> None:
    """Serve ``demo_app`` on a port the kernel chooses; stop, start again, ask again."""
    server = understudy.HTTPServer(wsgi=demo_app)
    with server:
        report.server("HTTPServer(wsgi=demo_app)", server)
        got = get(server.url + "/hello?name=Ada")
        report.exchange(
            'urllib.request.urlopen(server.url + "/hello?name=Ada")', take_request(server), got
        )
        report.check(got.status == 200, "200 from demo_app")
        report.check(got.body.startswith(b"Hello world!"), "demo_app's 'Hello world!'")
        report.check(b"QUERY_STRING = 'name=Ada'" in got.body, "demo_app to echo QUERY_STRING")

    # The same object starts again after stop(): the seed's run_server()/stop_server() pair.
    with server:
        report.note(
            f"server.stop(); server.start()  ->  served again, at {server.url} (port=0: a new port)"
        )
        got = get(server.url)
        report.exchange("urllib.request.urlopen(server.url)", take_request(server), got)
        report.check(got.status == 200, "200 after the restart")
