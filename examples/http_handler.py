"""Section: a handler callable, ``handler(request) -> reply``, answering ``httpx.Client``.

The handler gets an :class:`understudy.Request` and returns a :class:`understudy.Response`, or
for short a ``str``, ``bytes``, a JSON-able ``dict``/``list``, or ``(status, body)``. A plain
function runs in understudy's worker pool; an ``async def`` would run on its loop.
"""

from __future__ import annotations

import httpx

import understudy

from ._report import Got, Report, take_request

TITLE = "httpx.Client -> a handler callable: handler(request) returns the reply"


def handler(request: understudy.Request) -> object:
    """A fake login service: a form POST to /login, a JSON profile, a teapot otherwise."""
    if request.method == "POST" and request.path == "/login":
        form = request.form()
        if form.get("password") == "s3cret":
            return understudy.Response(
                204, headers={"Set-Cookie": f"session={form['user']}; HttpOnly"}
            )
        return 401, "wrong password"
    if request.path == "/profile":
        return {"user": request.query.get("user", "?"), "roles": ["reader"]}  # sent as JSON
    return 418, "I'm a teapot"


def got(response: httpx.Response, *show: str) -> Got:
    """What httpx got, in the demo's terms, with the response fields named in ``show``."""
    return Got(
        response.status_code,
        response.reason_phrase,
        response.headers.get("Content-Type", ""),
        response.content,
        tuple((name, response.headers[name]) for name in show if name in response.headers),
    )


def run(report: Report) -> None:
    """Log in, read a profile, and hit the teapot, over one ``httpx.Client``."""
    with understudy.HTTPServer(handler=handler) as server, httpx.Client() as client:
        report.server("HTTPServer(handler=handler)", server)

        reply = client.post(server.url + "/login", data={"user": "ada", "password": "s3cret"})
        received = take_request(server)
        report.exchange(
            'client.post(server.url + "/login", data={"user": "ada", "password": "s3cret"})',
            received,
            got(reply, "Set-Cookie"),
            headers=("Content-Type",),
        )
        report.check(received.form()["user"] == "ada", "the server to parse the form")
        report.check(reply.status_code == 204, "204 for the right password")
        report.check(client.cookies.get("session") == "ada", "the session cookie kept by httpx")

        reply = client.get(server.url + "/profile", params={"user": "ada"})
        report.exchange(
            'client.get(server.url + "/profile", params={"user": "ada"})',
            take_request(server),
            got(reply),
            headers=("Cookie",),
        )
        report.check(reply.json() == {"user": "ada", "roles": ["reader"]}, "the JSON profile")

        reply = client.delete(server.url + "/everything")
        report.exchange(
            'client.delete(server.url + "/everything")', take_request(server), got(reply)
        )
        report.check(reply.status_code == 418, "418 from the fallback")
