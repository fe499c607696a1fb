"""How to answer with a handler callable: ``HTTPServer(handler=fn)``.

``fn(request)`` receives an :class:`understudy.Request` and returns the reply: a
:class:`understudy.Response`, or for short a ``str``, ``bytes``, a JSON-able ``dict``/``list``,
or ``(status, body)``. A plain function runs in understudy's worker pool, an ``async def`` on its
event loop. If the handler raises, the client gets a 500 and the test gets the exception back
when the ``with`` block ends.

Reference (built by ``make docs`` into site/; every attribute, with its type): ``Request`` (what a
handler gets and a test asserts on) and ``Response``: docs/reference/http.md.
"""

import pytest
import requests

import understudy


def test_a_handler_answers_each_request() -> None:
    def handler(request: understudy.Request) -> object:
        if request.path == "/users":
            return {"users": [request.query["name"]]}  # a dict is sent as JSON
        return 404, "no such page"  # (status, body)

    with understudy.HTTPServer(handler=handler) as server:
        reply = requests.get(server.url + "/users", params={"name": "ada"}, timeout=5.0)
        assert reply.json() == {"users": ["ada"]}
        assert requests.get(server.url + "/elsewhere", timeout=5.0).status_code == 404

        # Every request is recorded, whatever the handler did with it.
        first, second = server.wait_for_requests(2)
        assert first.query["name"] == "ada"
        assert second.path == "/elsewhere"


def test_an_async_handler_and_a_full_response() -> None:
    async def handler(request: understudy.Request) -> understudy.Response:
        return understudy.Response(
            201, json={"got": request.json()}, headers={"Location": "/items/1"}
        )

    with understudy.HTTPServer(handler=handler) as server:
        reply = requests.post(server.url + "/items", json={"name": "spoon"}, timeout=5.0)
        assert reply.status_code == 201
        assert reply.headers["Location"] == "/items/1"
        assert reply.json() == {"got": {"name": "spoon"}}


def test_an_assertion_in_the_handler_fails_the_test() -> None:
    def handler(request: understudy.Request) -> str:
        assert request.headers.get("Accept") == "application/json", "the client must ask for JSON"
        return "{}"

    # The client sees a 500; the test sees the handler's own AssertionError on leaving `with`.
    with (  # noqa: PT012 - the block is the point: the error comes out of the server's `with`
        pytest.raises(AssertionError, match="must ask for JSON"),
        understudy.HTTPServer(handler=handler) as server,
    ):
        reply = requests.get(server.url, headers={"Accept": "text/html"}, timeout=5.0)
        assert reply.status_code == 500
