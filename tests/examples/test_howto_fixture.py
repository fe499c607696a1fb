"""How to use the pytest fixtures: ``http_server`` and ``make_http_server``.

Installing understudy registers its pytest plugin; no import or conftest is needed. Each test
gets fresh, started servers. After the test body they are stopped, then checked: an exception
raised in a handler fails the test with the handler's own traceback.

Reference (built by ``make docs`` into site/; every attribute, with its type): the fixtures:
docs/reference/pytest.md; ``Request``: docs/reference/http.md.
"""

import json
import urllib.error
import urllib.request

import pytest
import requests

import understudy
from understudy.pytest_plugin import MakeHTTPServer  # the factory's type, for annotations


# The client code under test: it reports an event and does not care about the answer.
def notify(url: str, event: str) -> None:
    data = json.dumps({"event": event}).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        urllib.request.urlopen(request, timeout=5.0).close()
    except urllib.error.HTTPError as error:
        error.close()  # fire and forget: a 4xx is not our problem


def test_http_server_records_what_the_client_sent(http_server: understudy.HTTPServer) -> None:
    # Say what the server expects; an unexpected request would fail the test at teardown.
    http_server.expect("POST", "/hooks/deploy").respond(204)
    notify(http_server.url + "/hooks/deploy", "deployed")

    [request] = http_server.wait_for_requests(1)
    assert request.method == "POST"
    assert request.path == "/hooks/deploy"
    assert request.json() == {"event": "deployed"}


@pytest.mark.understudy(response=understudy.Response(json={"status": "green"}))
def test_the_marker_configures_http_server(http_server: understudy.HTTPServer) -> None:
    # The marker's keyword arguments are HTTPServer's: here, one fixed response for every request.
    assert requests.get(http_server.url + "/health", timeout=5.0).json() == {"status": "green"}


def test_make_http_server_gives_servers_with_behaviour(make_http_server: MakeHTTPServer) -> None:
    def handler(request: understudy.Request) -> object:
        return {"echo": request.query.get("say", "")}

    # As many servers as the test needs, each with its own options; all stopped after the test.
    api = make_http_server(handler=handler)
    dual_stack = make_http_server(handler=handler, host="localhost")  # 127.0.0.1 and ::1

    assert requests.get(api.url, params={"say": "hi"}, timeout=5.0).json() == {"echo": "hi"}
    assert requests.get(dual_stack.url, params={"say": "ho"}, timeout=5.0).json() == {"echo": "ho"}
    assert api.port != dual_stack.port
