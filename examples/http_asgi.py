"""Section: an ASGI 3 app with a lifespan, answering ``httpx.AsyncClient``.

The app's lifespan startup runs inside ``start()`` (here ``async with``) and its shutdown inside
``stop()``; what startup puts in ``scope["state"]`` reaches every request (ASGI lifespan spec).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs

import httpx

import understudy

from ._report import Got, Report, take_request_async

TITLE = "httpx.AsyncClient -> an ASGI app with lifespan startup and shutdown"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class GreeterApp:
    """``GET /greet?name=Ada`` answers JSON; ``POST /shout`` streams the body back upper-cased.

    Attributes:
        lifespan: the lifespan events the app went through, in order.
    """

    def __init__(self) -> None:
        self.lifespan: list[str] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(scope, receive, send)
        elif scope["path"] == "/greet":
            name = parse_qs(scope["query_string"].decode()).get("name", ["stranger"])[0]
            body = json.dumps({"message": f"{scope['state']['greeting']}, {name}!"}).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": body})
        elif scope["path"] == "/shout" and scope["method"] == "POST":
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"text/plain; charset=utf-8")],
                }
            )
            more_body = True
            while more_body:  # a streamed response, chunk for chunk as the request arrives
                message = await receive()
                more_body = message.get("more_body", False)
                chunk = message.get("body", b"").upper()
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"!"})
        else:
            await send({"type": "http.response.start", "status": 404, "headers": []})
            await send({"type": "http.response.body", "body": b"not found"})

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                scope["state"]["greeting"] = "Hello"  # e.g. open a database pool here
                self.lifespan.append("startup")
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.lifespan.append("shutdown")
                await send({"type": "lifespan.shutdown.complete"})
                return


def got(response: httpx.Response, *show: str) -> Got:
    """What httpx got, in the demo's terms, with the response fields named in ``show``."""
    return Got(
        response.status_code,
        response.reason_phrase,
        response.headers.get("Content-Type", ""),
        response.content,
        tuple((name, response.headers[name]) for name in show if name in response.headers),
    )


async def _chunks() -> Any:
    for word in (b"understudies ", b"are ", b"real servers"):
        yield word


async def main(report: Report) -> None:
    """Greet, then shout, with one AsyncClient; show the lifespan around them."""
    app = GreeterApp()
    async with understudy.HTTPServer(asgi=app) as server, httpx.AsyncClient() as client:
        report.server("HTTPServer(asgi=GreeterApp())", server)
        report.note(f"lifespan after start(): {app.lifespan}")
        report.check(app.lifespan == ["startup"], "lifespan startup to run in start()")

        reply = await client.get(server.url + "/greet", params={"name": "Ada"})
        report.exchange(
            'await client.get(server.url + "/greet", params={"name": "Ada"})',
            await take_request_async(server),
            got(reply),
        )
        report.check(reply.json() == {"message": "Hello, Ada!"}, "the greeting from the state")

        reply = await client.post(server.url + "/shout", content=_chunks())
        report.exchange(
            'await client.post(server.url + "/shout", content=<async generator of 3 chunks>)',
            await take_request_async(server),
            got(reply, "Transfer-Encoding"),
            headers=("Transfer-Encoding",),
        )
        report.check(reply.text == "UNDERSTUDIES ARE REAL SERVERS!", "the body shouted back")
    report.note(f"lifespan after stop():  {app.lifespan}")
    report.check(app.lifespan == ["startup", "shutdown"], "lifespan shutdown to run in stop()")


def run(report: Report) -> None:
    """Run :func:`main` in a fresh event loop (the servers live on understudy's own loop)."""
    asyncio.run(main(report))
