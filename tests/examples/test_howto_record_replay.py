"""How to record a service's answers once and replay them offline, as WireMock mappings.

Point the client at ``HTTPServer(proxy_to=..., record=DIR)`` while the real service is up: each
distinct request is forwarded and written to ``DIR/mappings/`` (large bodies to
``DIR/__files/``). Commit DIR; later tests use ``HTTPServer(mappings=DIR)`` with no network.
Here an understudy server plays the real service.

Reference (built by ``make docs`` into site/; every attribute, with its type): ``Request`` and
``HTTPServer``'s ``proxy_to``, ``record`` and ``mappings``: docs/reference/http.md.
"""

from pathlib import Path

import requests

import understudy
from understudy.pytest_plugin import MakeHTTPServer


# The client code under test.
def latest_version(base_url: str, package: str) -> str:
    answer = requests.get(f"{base_url}/pypi/{package}/json", timeout=5)
    answer.raise_for_status()
    version: str = answer.json()["info"]["version"]
    return version


def test_record_then_replay(tmp_path: Path, make_http_server: MakeHTTPServer) -> None:
    stubs = tmp_path / "stubs"
    service = make_http_server()  # stands in for https://pypi.org
    service.expect("GET", "/pypi/attrs/json").respond(json={"info": {"version": "25.1.0"}})

    recorder = make_http_server(proxy_to=service.url, record=stubs)
    assert latest_version(recorder.url, "attrs") == "25.1.0"
    service.stop()  # the real service is gone from here on

    replay = make_http_server(mappings=stubs)
    assert latest_version(replay.url, "attrs") == "25.1.0"
    replay.assert_requested("GET", "/pypi/attrs/json", times=1)


def test_stub_files_written_by_hand(tmp_path: Path) -> None:
    (tmp_path / "mappings").mkdir()
    (tmp_path / "mappings" / "attrs.json").write_text(
        """{
          "request": {"method": "GET", "urlPath": "/pypi/attrs/json"},
          "response": {"status": 200, "jsonBody": {"info": {"version": "1.0"}}}
        }"""
    )
    with understudy.HTTPServer(mappings=tmp_path) as server:
        assert latest_version(server.url, "attrs") == "1.0"
