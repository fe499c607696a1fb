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
and what the task receives (a result, an exception, a cancellation). Until the task's next step,
the standby does at once what a task does at once with what the coroutine waits for: it marks
the future taken (so that others may await it too) and a cancellation of the task cancels it.
Then a new standby task is made for the next coroutine.

Started from inside a task (a pipelined request, started as the previous response ends), a
coroutine gets a plain task on every version: eager starts nested in one another recurse, once
per request waiting in the pipeline.

What is the same as a task of its own: ``asyncio.current_task()`` is a task, and the one that
will run the coroutine to its end; cancelling it cancels the coroutine, and at once what it
waits for; contextvars set by the coroutine stay in its own context; a cancellation requested
by a coroutine that finished in its first step (even one withdrawn with ``uncancel()``) reaches
no other. ``tests/test_tasks.py`` holds 3.11 and 3.12 to all that. What differs on 3.11:

- Coroutines that finish in their first step share the standby task's identity, one after
  another: a reference to ``current_task()`` kept beyond that step acts on whatever coroutine
  the standby runs later (``cancel()`` cancels it; done callbacks run when it ends). Asyncio's
  and anyio's scopes are left by then; only code that keeps the task (a watchdog left armed)
  sees this.
- A coroutine that waits resumes up to one loop turn later than its own task would resume it
  (always after a bare yield, ``asyncio.sleep(0)``; after a future only if it completes in the
  turn the standby takes over), never before what was scheduled ahead of it. An anyio
  cancellation lands at the same checkpoint.
- The task's coroutine (``get_coro()``, the task's repr) is the standby, and the task is a
  ``_StandbyTask`` (a subclass of ``asyncio.Task``).
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
        # (made now, it is already waiting when the first coroutine comes)
        self._standby: _Standby | None = None if sys.version_info >= (3, 12) else _Standby(loop)

    # (two definitions, so that the version is not tested on every call)
    if sys.version_info >= (3, 12):

        def start(self, coro: Step, context: contextvars.Context) -> asyncio.Task[Any] | None:
            """Run ``coro``'s first step now, in a task, in ``context``.

            Returns the task that runs the rest of it, or ``None`` if it finished in that step.
            ``coro`` must handle its own errors: what it raises in its first step is lost (a
            cancellation included, as a task's would be). Started from inside a task (a pipelined
            request started as the previous response ends), it gets a plain task, first step
            included: eager starts nested in one another would recurse once per request waiting.
            """
            loop = self.loop
            if _current_task(loop) is not None:
                return loop.create_task(coro, context=context)
            task = asyncio.Task(coro, loop=loop, context=context, eager_start=True)
            return None if task.done() else task

    else:

        def start(self, coro: Step, context: contextvars.Context) -> asyncio.Task[Any] | None:
            """:meth:`start` on Python 3.11: the first step in the standby task (see above)."""
            loop = self.loop
            if loop in _current_tasks:
                # (and no two tasks can be current at once)
                return loop.create_task(coro, context=context)
            standby = self._standby
            if standby is None or standby.retired:
                # (cancelled by a coroutine it stood for, which finished: it ends by itself)
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
            standby.adopt(coro, context, yielded)
            self._standby = _Standby(loop)
            return task

    async def close(self) -> None:
        """End the standby task (the tasks running coroutines are left to their owners)."""
        standby, self._standby = self._standby, None
        if standby is not None:
            standby.task.cancel()
            await asyncio.wait([standby.task])


#: What a standby has to pass on to its task before stepping the coroutine it took over.
_NOTHING = object()


class _Deferred:
    """A cancellation to throw into the coroutine at the task's next step."""

    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error


class _Standby(Coroutine[Any, Any, Any]):
    """What a standby task runs: it waits, then steps the coroutine it took over.

    It is a coroutine by hand, not an ``async def``: a task may throw a cancellation into it
    before its first step, and that must reach the coroutine it has taken over by then.

    What the coroutine's first step yielded is ``pending`` until the task's next step, which
    passes it on to the task. A *warm* standby (its task waits on ``waker``) is woken where the
    coroutine's own task would take its next step; a *cold* one (its task made in the same loop
    turn) takes its first step before what the coroutine's first step scheduled, so it passes
    on a bare yield as one (the coroutine resumes a turn later) and defers a cancellation to
    the next turn, so that the coroutine never sees it before what was scheduled ahead of it.
    """

    __slots__ = (
        "blocking",
        "cancel_sent",
        "context",
        "coro",
        "pending",
        "retired",
        "retired_by",
        "started",
        "task",
        "waker",
    )

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.waker: asyncio.Future[None] = loop.create_future()
        self.coro: Step | None = None
        self.context: contextvars.Context | None = None
        #: What the coroutine waits for, from its first step, until the task is told.
        self.pending: Any = _NOTHING
        #: ``pending`` is a future of this loop that the task will wait on.
        self.blocking = False
        #: ``pending`` took a cancellation of the task: the task waits for its end all the same.
        self.cancel_sent = False
        #: The task's first step has run: it waits on ``waker``.
        self.started = False
        #: The task was cancelled while no coroutine was taken over: it stands by no more.
        self.retired = False
        #: The message of that cancellation.
        self.retired_by: Any = None
        self.task: asyncio.Task[Any] = _StandbyTask(self, loop=loop)

    def adopt(self, coro: Step, context: contextvars.Context, yielded: Any) -> None:
        self.coro = coro
        self.context = context
        if (
            getattr(yielded, "_asyncio_future_blocking", None)
            and yielded is not self.task
            and getattr(yielded, "get_loop", None) is not None
            and yielded.get_loop() is self.task.get_loop()
        ):
            # A future the task will wait on (not one of another loop, nor one without a loop,
            # nor the task itself: the task raises for those). A task takes it at once, and
            # so does the standby: a future left marked as yielded cannot be awaited by another
            # coroutine meanwhile.
            yielded._asyncio_future_blocking = False
            self.blocking = True
            if self.retired:
                # The coroutine cancelled its task in its first step: a task cancels what it
                # waits for as that step ends.
                self.cancel_sent = yielded.cancel(self.retired_by)
        self.pending = yielded
        if self.started and not self.waker.done():
            # The task's next step comes where the coroutine's own task's would.
            self.waker.set_result(None)  # (not started: its first step comes anyway)

    def cancel_pending(self, msg: Any) -> None:
        """The task is cancelled: cancel what the coroutine waits for, as a task does."""
        if self.blocking and self.pending.cancel(msg):
            self.cancel_sent = True

    def send(self, value: Any) -> Any:
        coro = self.coro
        if coro is None:  # standing by: wait to be woken by adopt()
            self.started = True
            waker = self.waker
            waker._asyncio_future_blocking = True  # (what awaiting a future sets)
            return waker
        assert self.context is not None
        pending = self.pending
        if pending is not _NOTHING:
            self.pending = _NOTHING
            if self.blocking:
                self.blocking = False
                pending._asyncio_future_blocking = True
                return pending  # the future the coroutine's first step waits for, to the task
            if type(pending) is _Deferred:
                return self.context.run(coro.throw, pending.error)
            # A bare yield (the task steps it again a turn later: stepping it now would pass
            # a checkpoint that anyio cancels at, as it sees the task's waker done and waits a
            # turn), or what a task raises an error for.
            return pending
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
            # Cancelled before the task knew what the coroutine waits for.
            self.pending = _NOTHING
            if self.blocking:
                self.blocking = False
                if self.cancel_sent or pending.cancel(*error.args[:1]):
                    # What it waits for took the cancellation: as its own task, the task waits
                    # for that to end (cancelled, or not: a task may refuse) and passes it on.
                    pending._asyncio_future_blocking = True
                    return pending
            elif pending is None and not (self.started and not self.waker.cancelled()):
                # A bare yield, and this turn may come before what the first step scheduled
                # (cold, or cancelled during the first step): the error a turn later.
                self.pending = _Deferred(error)
                return None
        return self.context.run(coro.throw, error)

    def close(self) -> None:
        coro, self.coro = self.coro, None
        if coro is not None and self.context is not None:
            self.context.run(coro.close)

    def __await__(self) -> Generator[Any, None, Any]:
        raise TypeError("a standby is run by its task, not awaited")


class _StandbyTask(asyncio.Task[Any]):
    """A standby's task: its cancellation acts at once, as a task's does.

    It cancels what the taken-over coroutine waits for (a task cancels the future it waits
    on), and retires a standby that stands by, so a cancellation requested by a coroutine that
    finished in its first step never reaches the next one (even one withdrawn with uncancel()).
    """

    __slots__ = ()

    def cancel(self, msg: Any = None) -> bool:
        if not self.done():
            standby = self.get_coro()
            assert isinstance(standby, _Standby)
            if standby.coro is None:
                standby.retired = True
                standby.retired_by = msg
            else:
                standby.cancel_pending(msg)
        return super().cancel(msg)


if sys.version_info >= (3, 12):
    from asyncio import current_task as _current_task
else:
    from asyncio.tasks import (  # type: ignore[attr-defined]
        _current_tasks,
        _enter_task,
        _leave_task,
    )
