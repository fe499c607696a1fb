"""Starting a coroutine in a task of its own with its first step run at once (eager start).

A handler's coroutine must run in a task from its first line: ``asyncio.timeout()``,
``asyncio.TaskGroup`` and anyio's cancel scopes (which Starlette and FastAPI use) act on the
current task. A new task waits for a turn of the loop before its first step; most handlers
answer without waiting at all, so that turn is the largest cost of a request. Python 3.12
starts a task eagerly (``asyncio.Task(..., eager_start=True)``): its first step runs at once, and
a coroutine that finishes in it never goes through the loop.

Python 3.11 has no eager start, so :class:`TaskStarter` keeps one *standby* task waiting and
makes it the loop's current task while it runs a coroutine's first step (asyncio's
``_enter_task``/``_leave_task``, which is how its own tasks do it; 3.11 takes security fixes only,
so those private functions will not change under us). A coroutine that finishes in that step
cost no task and no loop turn; one that waits is taken over by the standby task, which steps it
from then on, each step in the coroutine's own context, passing on what the coroutine waits for
and what the task receives (a result, an exception, a cancellation) exactly as its own task
would. Then a new standby task is made for the next coroutine.

What is the same as a task of its own: ``asyncio.current_task()`` is a task, and the one that
will run the coroutine to its end; cancelling it cancels the coroutine; contextvars set by the
coroutine stay in its own context. What differs: coroutines that finish in their first step
share the standby task's identity, one after another.
"""

from __future__ import annotations

import asyncio
import contextvars
import sys
from collections.abc import Coroutine, Generator
from typing import Any

__all__ = ["TaskStarter"]

Step = Coroutine[Any, Any, None]


class TaskStarter:
    """Starts coroutines in tasks on ``loop``, eagerly; :meth:`close` at the end. Loop-side only."""

    __slots__ = ("_standby", "loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._standby: _Standby | None = None

    def start(self, coro: Step, context: contextvars.Context) -> asyncio.Task[Any] | None:
        """Run ``coro``'s first step now, in a task, in ``context``.

        Returns the task that runs the rest of it, or ``None`` if it finished in that step.
        ``coro`` must handle its own errors: what it raises in its first step is lost (a
        cancellation included, as a task's would be).
        """
        if sys.version_info >= (3, 12):
            task = asyncio.Task(coro, loop=self.loop, context=context, eager_start=True)
            return None if task.done() else task
        loop = self.loop
        if loop in _current_tasks:
            # Started from inside another task (a pipelined request started as the previous
            # response ends): a plain task, as no two tasks can be current at once.
            return loop.create_task(coro, context=context)
        standby = self._standby
        if standby is None or standby.task.cancelling():
            # (cancelled by the last coroutine it stood for, which finished: it ends by itself)
            standby = self._standby = _Standby(loop)
        task = standby.task
        _enter_task(loop, task)
        try:
            yielded = context.run(coro.send, None)
        except StopIteration:
            return None  # finished: the usual case
        except (KeyboardInterrupt, SystemExit):
            raise  # (as a task lets them through)
        except BaseException:  # noqa: BLE001 - see the docstring
            return None
        finally:
            _leave_task(loop, task)
        # It waits for something: the standby task takes it over, a new one stands by.
        self._standby = None
        standby.adopt(coro, context, yielded)
        return task

    async def close(self) -> None:
        """End the standby task (the tasks running coroutines are left to their owners)."""
        standby, self._standby = self._standby, None
        if standby is not None:
            standby.task.cancel()
            await asyncio.wait([standby.task])


#: What a standby has to pass on to its task before stepping the coroutine it took over.
_NOTHING = object()


class _Standby(Coroutine[Any, Any, Any]):
    """What a standby task runs: it waits, then steps the coroutine it took over.

    It is a coroutine by hand, not an ``async def``: a task may throw a cancellation into it
    before its first step, and that must reach the coroutine it has taken over by then.
    """

    __slots__ = ("context", "coro", "pending", "started", "task", "waker")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.waker: asyncio.Future[None] = loop.create_future()
        self.coro: Step | None = None
        self.context: contextvars.Context | None = None
        #: What the coroutine waits for, from its first step, until the task is told.
        self.pending: object = _NOTHING
        self.started = False
        self.task: asyncio.Task[Any] = loop.create_task(self)

    def adopt(self, coro: Step, context: contextvars.Context, yielded: object) -> None:
        self.coro = coro
        self.context = context
        self.pending = yielded
        if self.started and not self.waker.done():
            self.waker.set_result(None)  # (not started: its first step comes anyway)

    def send(self, value: Any) -> Any:
        coro = self.coro
        if coro is None:  # standing by: wait to be woken by adopt()
            self.started = True
            waker = self.waker
            waker._asyncio_future_blocking = True  # (what awaiting a future sets)
            return waker
        pending = self.pending
        if pending is not _NOTHING:
            self.pending = _NOTHING
            return pending  # what the coroutine's first step waits for, to the task
        assert self.context is not None
        return self.context.run(coro.send, value)

    def throw(self, typ: Any, val: Any = None, tb: Any = None) -> Any:
        if isinstance(typ, BaseException):
            error = typ  # (how a task throws: the exception alone)
        else:
            error = val if isinstance(val, BaseException) else typ() if val is None else typ(val)
        coro = self.coro
        if coro is None:
            raise error  # cancelled while standing by
        assert self.context is not None
        pending = self.pending
        if pending is not _NOTHING:
            # Cancelled before the task knew what the coroutine waits for: its own task would
            # have cancelled that too (what is shielded is not).
            self.pending = _NOTHING
            if isinstance(pending, asyncio.Future):
                pending.cancel()
        return self.context.run(coro.throw, error)

    def close(self) -> None:
        coro, self.coro = self.coro, None
        if coro is not None and self.context is not None:
            self.context.run(coro.close)

    def __await__(self) -> Generator[Any, None, Any]:
        raise TypeError("a standby is run by its task, not awaited")


if sys.version_info < (3, 12):
    from asyncio.tasks import (  # type: ignore[attr-defined]
        _current_tasks,
        _enter_task,
        _leave_task,
    )
