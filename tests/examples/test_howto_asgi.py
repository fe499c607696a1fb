"""How to stand in for a service with an ASGI app, in an async test: ``HTTPServer(asgi=app)``.

Any ASGI 3 application works (Starlette, FastAPI, Quart, or a plain coroutine like the one
below). It runs on understudy's own event loop, not the test's; its lifespan startup runs when
the server starts and its shutdown when it stops. In ``async def`` tests use ``async with`` and
the ``_async`` twins of the waiting methods, so the test's loop is never blocked.

Reference (built by ``make docs`` into site/; every attribute, with its type): ``Request`` (what the
test asserts on) and ``HTTPServer``: docs/reference/http.md.
"""

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import httpx
import pytest

import understudy

Message = MutableMapping[str, Any]


class InventoryApp:
    """``GET /stock/<item>`` answers how many are left; the stock is loaded at startup."""

    def __init__(self) -> None:
        self.lifespan: list[str] = []

    async def __call__(
        self,
        scope: MutableMapping[str, Any],
        receive: Callable[[], Awaitable[Message]],
        send: Callable[[Message], Awaitable[None]],
    ) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                scope["state"]["stock"] = {"spoon": 3}  # on lifespan.startup
                self.lifespan.append("startup")
                await send({"type": "lifespan.startup.complete"})
            self.lifespan.append("shutdown")
            await send({"type": "lifespan.shutdown.complete"})
            return
        item = scope["path"].removeprefix("/stock/")
        count = scope["state"]["stock"].get(item, 0)
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": json.dumps({item: count}).encode()})


@pytest.mark.asyncio
async def test_an_async_client_against_an_asgi_app() -> None:
    app = InventoryApp()
    async with understudy.HTTPServer(asgi=app) as server:
        assert app.lifespan == ["startup"]  # startup ran before the server took requests

        async with httpx.AsyncClient(base_url=server.url) as client:
            reply = await client.get("/stock/spoon", headers={"X-Request-Id": "42"})
        assert reply.json() == {"spoon": 3}

        [request] = await server.wait_for_requests_async(1)
        assert request.path == "/stock/spoon"
        assert request.headers["X-Request-Id"] == "42"

    assert app.lifespan == ["startup", "shutdown"]  # and shutdown ran in stop()
