"""The first seed's example, with understudy: any WSGI app, port 0, stop, start again.

In 2010 this took a thread class, a global, ``make_server('', 0, app)``, ``serve_forever()``,
``shutdown()`` and a 0.2 s sleep so the port would be free again. With understudy the
server object is the whole fixture: ``start()`` returns once a client may connect, ``stop()``
returns once nothing is served, and the same object starts again.
"""

import urllib.error
import urllib.request
from wsgiref.simple_server import demo_app  # any WSGI app: this one says "Hello world!"

import pytest

import understudy


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=5.0) as response:
        body: bytes = response.read()
        return body


def test_any_wsgi_app_on_port_0_stops_and_starts_again() -> None:
    server = understudy.HTTPServer(wsgi=demo_app)  # port=0 by default: the kernel chooses

    server.start()
    assert server.start() is server  # start() on a running server changes nothing
    assert b"Hello world!" in fetch(server.url)
    server.stop()
    assert not server.running

    server.start()  # the same object again; with port=0 the kernel picks a port anew
    try:
        assert b"Hello world!" in fetch(server.url + "/again")
    finally:
        server.stop()

    # The journal spans the restarts: both requests are there, in order.
    assert [request.path for request in server.requests] == ["/", "/again"]


def test_a_fixed_port_comes_back_after_restart() -> None:
    # Find a free port by letting the kernel choose one, then ask for that port by number.
    with understudy.HTTPServer() as probe:
        port = probe.port

    server = understudy.HTTPServer(wsgi=demo_app, port=port)
    with server:
        assert server.url == f"http://127.0.0.1:{port}"
        assert b"Hello world!" in fetch(server.url)

    # Stopped means stopped: the port refuses connections (no thread left serving it).
    with pytest.raises(urllib.error.URLError):
        fetch(f"http://127.0.0.1:{port}/")

    # Started again, at once: no sleep and no gc.collect() to get the port back.
    with server:
        assert server.port == port
        assert b"Hello world!" in fetch(server.url)
