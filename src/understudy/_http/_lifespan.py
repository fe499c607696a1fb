"""The ASGI ``lifespan`` scope (https://asgi.readthedocs.io/en/latest/specs/lifespan.html): an
app's startup before the server serves, its shutdown at ``stop()``."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

from .._errors import UnderstudyError, WaitTimeout

if TYPE_CHECKING:
    from ._site import Site

__all__ = ["ASGI_VERSIONS", "Lifespan"]

Message = MutableMapping[str, Any]
#: An ASGI 3 application (``_asgi.ASGIApp``, as this module sees it).
ASGIApp = Callable[[MutableMapping[str, Any], Any, Any], Awaitable[None]]

#: ``scope["asgi"]`` of every scope understudy makes (ASGI 3, HTTP spec 2.3).
ASGI_VERSIONS = {"version": "3.0", "spec_version": "2.3"}
#: Seconds an app's startup may take (``start()`` waits longer for the loop: 15 s).
_LIFESPAN_TIMEOUT = 10.0


class Lifespan:
    """An app's lifespan: ``startup()`` and ``shutdown(timeout)``, from the loop."""

    def __init__(self, app: ASGIApp, state: dict[str, Any], site: Site) -> None:
        self.app = app
        self.site = site
        self.scope = {"type": "lifespan", "asgi": dict(ASGI_VERSIONS), "state": state}
        self.events: asyncio.Queue[Message] = asyncio.Queue()
        self.started = asyncio.Event()
        self.stopped = asyncio.Event()
        self.failure: str | None = None
        self.received_startup = False
        self.supported = True
        self.task: asyncio.Task[None] | None = None

    async def receive(self) -> Message:
        message = await self.events.get()
        if message["type"] == "lifespan.startup":
            self.received_startup = True
        return message

    async def send(self, message: Message) -> None:
        kind = message.get("type")
        if kind in ("lifespan.startup.complete", "lifespan.startup.failed"):
            if kind == "lifespan.startup.failed":
                self.failure = str(message.get("message", ""))
            self.started.set()
        elif kind in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
            if kind == "lifespan.shutdown.failed":
                self.site.fail(
                    UnderstudyError(
                        f"the ASGI app's lifespan shutdown failed: {message.get('message', '')}"
                    )
                )
            self.stopped.set()
        else:  # (an app written for one scope: served without lifespan, as uvicorn's "auto" does)
            self.supported = False
            raise RuntimeError(
                f"the lifespan scope takes lifespan.* messages (ASGI lifespan spec), not {kind!r}"
            )

    async def _main(self) -> None:
        try:
            await self.app(self.scope, self.receive, self.send)
        except asyncio.CancelledError:
            raise  # stop() gave up waiting for shutdown: reported there
        except BaseException as error:  # noqa: BLE001 - reported or deemed "lifespan unsupported"
            if not self.received_startup or not self.supported:
                self.supported = False  # the app refused the lifespan scope: serve it without
            elif not self.started.is_set():
                self.failure = f"{type(error).__name__}: {error}"
            else:
                self.site.fail(error)
        finally:
            self.started.set()
            self.stopped.set()

    async def startup(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._main())
        await self.events.put({"type": "lifespan.startup"})
        try:
            await asyncio.wait_for(self.started.wait(), _LIFESPAN_TIMEOUT)
        except TimeoutError:
            self.task.cancel()
            raise WaitTimeout(
                f"the ASGI app's lifespan startup did not complete within {_LIFESPAN_TIMEOUT:g} s"
            ) from None
        if self.failure is not None:
            # No lifespan.shutdown follows a failed startup (the server does not serve): an app
            # still waiting is cancelled, so its cleanup runs now, not never.
            self.task.cancel()
            raise UnderstudyError(f"the ASGI app's lifespan startup failed: {self.failure}")

    async def shutdown(self, timeout: float) -> None:
        if not self.supported or self.task is None or self.task.done():
            return
        await self.events.put({"type": "lifespan.shutdown"})
        try:
            await asyncio.wait_for(self.stopped.wait(), timeout)
        except TimeoutError:
            self.task.cancel()
            self.site.fail(
                WaitTimeout(
                    f"the ASGI app's lifespan shutdown did not complete within {timeout:g} s"
                )
            )
