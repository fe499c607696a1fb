"""How to stand in for a service with a WSGI app: ``HTTPServer(wsgi=app)``.

Any PEP 3333 application works: a Flask or Django app, wsgiref's ``demo_app``, or a few lines
like the fake below, which implements just the part of a service's API that the client under
test calls. The app runs in understudy's worker pool; the request body streams to
``wsgi.input`` as it arrives.

Reference (built by ``make docs`` into site/; every attribute, with its type): ``Request`` and
``HTTPServer``: docs/reference/http.md.
"""

import json
from collections.abc import Iterable
from wsgiref.types import StartResponse, WSGIEnvironment

import pytest
import requests

import understudy


# The client code under test: it registers a release with a package index.
def register(index_url: str, name: str, version: str) -> str:
    reply = requests.post(
        f"{index_url}/api/releases", json={"name": name, "version": version}, timeout=5.0
    )
    reply.raise_for_status()
    location: str = reply.headers["Location"]
    return location


# The fake index: only the call the client makes, answered as the real service would.
class FakeIndex:
    def __init__(self) -> None:
        self.releases: list[dict[str, str]] = []

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ["REQUEST_METHOD"] == "POST" and environ["PATH_INFO"] == "/api/releases":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            release = json.loads(environ["wsgi.input"].read(length))
            self.releases.append(release)
            start_response(
                "201 Created", [("Location", f"/p/{release['name']}/{release['version']}")]
            )
            return [b""]
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found"]


def test_the_client_registers_a_release() -> None:
    index = FakeIndex()
    with understudy.HTTPServer(wsgi=index) as server:
        location = register(server.url, "understudy", "1.0")

        # What the client got back, what the app saw, and the request exactly as sent.
        assert location == "/p/understudy/1.0"
        assert index.releases == [{"name": "understudy", "version": "1.0"}]
        [request] = server.wait_for_requests(1)
        assert request.method == "POST"
        assert request.headers["Content-Type"] == "application/json"
        assert request.json() == {"name": "understudy", "version": "1.0"}


def test_the_client_reports_an_error_status() -> None:
    with (
        understudy.HTTPServer(wsgi=FakeIndex()) as server,
        pytest.raises(requests.HTTPError, match="404 Client Error"),
    ):
        register(server.url + "/wrong-prefix", "understudy", "1.0")
