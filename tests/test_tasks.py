"""TaskStarter: a coroutine runs in a task from its first line, and that first step runs at once.

Every test here holds for Python 3.12's eager tasks and for the 3.11 standby task alike: they
pin down what a coroutine sees (``current_task()``, cancellation, timeouts, task groups, anyio
cancel scopes, contextvars), whichever way it was started.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import anyio
import pytest

from understudy._tasks import TaskStarter

TIMEOUT = 5.0
where: contextvars.ContextVar[str] = contextvars.ContextVar("where", default="outside")


def run(test: Callable[[TaskStarter], Awaitable[None]]) -> None:
    """Run ``test`` with a starter, then check that nothing is left running."""

    async def main() -> None:
        starter = TaskStarter(asyncio.get_running_loop())
        await asyncio.wait_for(test(starter), TIMEOUT)
        await starter.close()
        assert asyncio.all_tasks() == {asyncio.current_task()}, "a task was left running"

    asyncio.run(main())


async def from_callback(
    starter: TaskStarter, coro: Coroutine[Any, Any, None]
) -> asyncio.Task[None] | None:
    """``starter.start(coro)`` called from a plain callback of the loop, as data_received is."""
    loop = asyncio.get_running_loop()
    started: asyncio.Future[asyncio.Task[None] | None] = loop.create_future()
    loop.call_soon(lambda: started.set_result(starter.start(coro, contextvars.copy_context())))
    return await started


async def until_done(task: asyncio.Task[None] | None) -> None:
    if task is not None:
        await asyncio.wait_for(asyncio.shield(task), TIMEOUT)


def run_to_its_end(coro: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Start ``coro()`` from a plain callback and wait for its end (it records its outcome)."""

    async def test(starter: TaskStarter) -> None:
        await until_done(await from_callback(starter, coro()))

    run(test)


def test_a_coroutine_that_finishes_in_its_first_step_runs_at_once_in_a_task() -> None:
    seen: list[object] = []

    async def coro() -> None:
        seen.append(asyncio.current_task())
        where.set("inside")

    async def test(starter: TaskStarter) -> None:
        task = await from_callback(starter, coro())
        assert task is None  # finished in its first step: nothing left to run
        assert len(seen) == 1
        assert isinstance(seen[0], asyncio.Task)
        assert where.get() == "outside"  # it ran in a context of its own

    run(test)


def test_a_coroutine_that_waits_is_run_to_its_end_by_the_task_returned() -> None:
    seen: list[object] = []
    values: list[str] = []

    async def coro() -> None:
        seen.append(asyncio.current_task())
        where.set("inside")
        await asyncio.sleep(0.001)
        seen.append(asyncio.current_task())
        values.append(where.get())

    async def test(starter: TaskStarter) -> None:
        task = await from_callback(starter, coro())
        assert task is not None
        assert seen == [task]
        await until_done(task)
        assert seen == [task, task]  # the same task from its first line to its last
        assert values == ["inside"]  # its context kept across its waits
        assert where.get() == "outside"

    run(test)


def test_contextvars_do_not_leak_from_one_coroutine_to_the_next() -> None:
    values: list[str] = []

    async def first() -> None:
        where.set("first")

    async def second() -> None:
        values.append(where.get())
        where.set("second")
        await asyncio.sleep(0)
        values.append(where.get())

    async def test(starter: TaskStarter) -> None:
        assert await from_callback(starter, first()) is None
        await until_done(await from_callback(starter, second()))
        assert values == ["outside", "second"]

    run(test)


def test_cancelling_the_task_cancels_the_coroutine_where_it_waits() -> None:
    outcome: list[str] = []
    loop_future: list[asyncio.Future[None]] = []

    async def coro() -> None:
        waited: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        loop_future.append(waited)
        try:
            await waited
        except asyncio.CancelledError:
            outcome.append("cancelled")
            raise

    async def test(starter: TaskStarter) -> None:
        task = await from_callback(starter, coro())
        assert task is not None
        for _ in range(3):  # loop turns, not time: past the turn the task takes it over in
            await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, TIMEOUT)
        assert outcome == ["cancelled"]
        assert loop_future[0].cancelled()  # what it waited for was cancelled too, as a task's is

    run(test)


def test_a_cancellation_before_the_task_has_taken_over_reaches_the_coroutine() -> None:
    outcome: list[str] = []

    async def coro() -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            outcome.append("cancelled")
            raise

    async def test(starter: TaskStarter) -> None:
        task = await from_callback(starter, coro())
        assert task is not None
        task.cancel()  # at once, in the turn it was started in
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, TIMEOUT)
        assert outcome == ["cancelled"]

    run(test)


def test_a_shielded_wait_is_not_cancelled_with_the_coroutine() -> None:
    inner: list[asyncio.Future[None]] = []

    async def coro() -> None:
        waited: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        inner.append(waited)
        await asyncio.shield(waited)

    async def test(starter: TaskStarter) -> None:
        task = await from_callback(starter, coro())
        assert task is not None
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, TIMEOUT)
        assert not inner[0].cancelled()

    run(test)


@pytest.mark.parametrize("delay", [0.0, 0.01], ids=["expired-at-once", "expires-later"])
def test_asyncio_timeout_in_the_first_step_times_out_the_wait(delay: float) -> None:
    outcome: list[str] = []

    async def coro() -> None:
        try:
            async with asyncio.timeout(delay):
                await asyncio.sleep(10)
        except TimeoutError:
            outcome.append("timed out")
        await asyncio.sleep(0)  # still running, not cancelled
        outcome.append("went on")

    run_to_its_end(coro)
    assert outcome == ["timed out", "went on"]


def test_an_exception_set_on_what_it_waits_for_is_raised_in_the_coroutine() -> None:
    outcome: list[str] = []

    async def coro() -> None:
        waited: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().call_later(0.001, waited.set_exception, KeyError("gone"))
        try:
            await waited
        except KeyError as error:
            outcome.append(str(error))

    run_to_its_end(coro)
    assert outcome == ["'gone'"]


def test_a_task_group_in_the_first_step_has_the_task_as_its_parent() -> None:
    outcome: list[str] = []

    async def fail() -> None:
        raise ValueError("child")

    async def coro() -> None:
        async with asyncio.TaskGroup() as group:
            group.create_task(asyncio.sleep(0))
        outcome.append("group done")
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(fail())
                await asyncio.sleep(10)  # cancelled when the child fails
        except* ValueError:
            outcome.append("child failed")

    run_to_its_end(coro)
    assert outcome == ["group done", "child failed"]


@pytest.mark.parametrize("wait_first", [False, True], ids=["at-once", "after-a-wait"])
def test_anyio_cancel_scopes_work_from_the_first_line(wait_first: bool) -> None:
    outcome: list[str] = []

    async def coro() -> None:
        if wait_first:
            await asyncio.sleep(0)
        with anyio.move_on_after(0.01) as scope:
            await anyio.sleep(10)
        outcome.append(f"moved on: {scope.cancelled_caught}")
        async with anyio.create_task_group() as group:
            group.start_soon(anyio.sleep, 0)
        outcome.append("group done")

    run_to_its_end(coro)
    assert outcome == ["moved on: True", "group done"]


def test_a_coroutine_that_cancels_its_own_task_and_returns_leaves_the_next_unharmed() -> None:
    outcome: list[str] = []

    async def cancels_itself() -> None:
        task = asyncio.current_task()
        assert task is not None
        task.cancel()

    async def next_one() -> None:
        await asyncio.sleep(0.001)
        outcome.append("next ran to its end")

    async def test(starter: TaskStarter) -> None:
        assert await from_callback(starter, cancels_itself()) is None
        task = await from_callback(starter, next_one())
        await until_done(task)
        assert outcome == ["next ran to its end"]

    run(test)


def test_started_from_inside_a_task_it_runs_in_a_task_of_its_own() -> None:
    seen: list[object] = []

    async def coro() -> None:
        seen.append(asyncio.current_task())
        await asyncio.sleep(0)

    async def test(starter: TaskStarter) -> None:
        task = starter.start(coro(), contextvars.copy_context())  # (this test runs in a task)
        await until_done(task)
        assert len(seen) == 1
        assert seen[0] is not asyncio.current_task()
        assert isinstance(seen[0], asyncio.Task)

    run(test)


def test_close_ends_the_task_standing_by_and_a_starter_works_again_after() -> None:
    async def coro() -> None:
        await asyncio.sleep(0)

    async def test(starter: TaskStarter) -> None:
        assert await from_callback(starter, coro()) is not None
        await starter.close()
        await asyncio.sleep(0)
        await until_done(await from_callback(starter, coro()))

    run(test)


# -- what the coroutine waits for, cancellations and the order of steps ------------------------
#
# On Python 3.11 a coroutine that waits is taken over by a standby task that is either already
# waiting ("warm") or was made in the same loop turn ("cold": a second coroutine that waits,
# started in that turn). Both are held to what a task of its own does.

STANDBYS = ["warm", "cold"]


async def in_callback(make: Callable[[], Any]) -> Any:
    """``make()`` called from a plain callback of the loop; what it returned."""
    loop = asyncio.get_running_loop()
    made: asyncio.Future[Any] = loop.create_future()
    loop.call_soon(lambda: made.set_result(make()))
    return await made


def started_with(
    starter: TaskStarter, standby: str, coro: Coroutine[Any, Any, None]
) -> list[asyncio.Task[None] | None]:
    """Start ``coro`` (cold: after another coroutine that waits); every task started."""
    tasks: list[asyncio.Task[None] | None] = []
    if standby == "cold":
        tasks.append(starter.start(asyncio.sleep(0), contextvars.copy_context()))
    tasks.append(starter.start(coro, contextvars.copy_context()))
    return tasks


async def all_done(tasks: list[asyncio.Task[None] | None]) -> None:
    for task in tasks:
        await until_done(task)


def test_others_may_await_what_a_coroutine_waits_for_in_its_first_step() -> None:
    results: list[str] = []

    async def waiter(name: str, waited: asyncio.Future[str]) -> None:
        try:
            results.append(f"{name}: {await waited}")
        except RuntimeError as error:  # (await wasn't used with future)
            results.append(f"{name}: {error}")

    async def test(starter: TaskStarter) -> None:
        loop = asyncio.get_running_loop()
        waited: asyncio.Future[str] = loop.create_future()

        def start() -> list[asyncio.Task[None] | None]:
            tasks = [
                starter.start(waiter("first", waited), contextvars.copy_context()),
                starter.start(waiter("second", waited), contextvars.copy_context()),
                loop.create_task(waiter("a plain task", waited)),
            ]
            loop.call_soon(waited.set_result, "done")
            return tasks

        await all_done(await in_callback(start))
        assert sorted(results) == ["a plain task: done", "first: done", "second: done"]

    run(test)


@pytest.mark.parametrize("standby", STANDBYS)
@pytest.mark.parametrize("cancelled_by", ["the caller", "itself"])
def test_cancelling_the_task_cancels_what_the_coroutine_waits_for_at_once(
    standby: str, cancelled_by: str
) -> None:
    seen: list[tuple[str, tuple[object, ...]]] = []

    async def waiter(name: str, waited: asyncio.Future[None]) -> None:
        if name == "coroutine" and cancelled_by == "itself":
            task = asyncio.current_task()
            assert task is not None
            task.cancel("stop")
        try:
            await waited
        except asyncio.CancelledError as error:
            seen.append((name, error.args))
            raise

    async def test(starter: TaskStarter) -> None:
        loop = asyncio.get_running_loop()
        waited: asyncio.Future[None] = loop.create_future()
        other = loop.create_task(waiter("other", waited))
        await asyncio.sleep(0)  # (the other task waits on it)

        def start() -> tuple[list[asyncio.Task[None] | None], bool]:
            tasks = started_with(starter, standby, waiter("coroutine", waited))
            task = tasks[-1]
            assert task is not None
            if cancelled_by == "the caller":
                task.cancel("stop")
            return tasks, waited.cancelled()

        tasks, cancelled_at_once = await in_callback(start)
        assert cancelled_at_once  # as a task cancels the future it waits for
        with pytest.raises(asyncio.CancelledError):
            await all_done(tasks)
        with pytest.raises(asyncio.CancelledError):
            await other
        assert seen == [("other", ("stop",)), ("coroutine", ("stop",))]

    run(test)


def test_a_cancellation_a_finished_coroutine_requested_and_withdrew_does_not_reach_the_next() -> (
    None
):
    outcome: list[str] = []

    async def withdraws() -> None:
        task = asyncio.current_task()
        assert task is not None
        task.cancel()
        task.uncancel()

    async def next_one() -> None:
        await asyncio.sleep(0.001)
        outcome.append("next ran to its end")

    async def test(starter: TaskStarter) -> None:
        assert await from_callback(starter, withdraws()) is None
        await until_done(await from_callback(starter, next_one()))
        assert outcome == ["next ran to its end"]

    run(test)


@pytest.mark.parametrize("standby", STANDBYS)
def test_a_bare_yield_in_the_first_step_resumes_after_the_tasks_it_started_took_a_step(
    standby: str,
) -> None:
    steps: list[str] = []

    async def child() -> None:
        steps.append("child 1")
        await asyncio.sleep(0)
        steps.append("child 2")

    async def coro() -> None:
        started = asyncio.create_task(child())
        await asyncio.sleep(0)  # (a bare yield: on 3.11 the standby resumes it a turn later)
        steps.append("coroutine")
        await started

    async def test(starter: TaskStarter) -> None:
        await all_done(await in_callback(lambda: started_with(starter, standby, coro())))
        assert steps[0] == "child 1"
        assert sorted(steps) == ["child 1", "child 2", "coroutine"]

    run(test)


@pytest.mark.parametrize("standby", STANDBYS)
def test_an_anyio_scope_cancelled_in_the_first_step_cancels_at_the_next_checkpoint(
    standby: str,
) -> None:
    outcome: list[str] = []

    async def coro() -> None:
        with anyio.CancelScope() as scope:
            scope.cancel()  # (anyio cancels the task at its next checkpoint, from a callback)
            await anyio.lowlevel.checkpoint()
            outcome.append("passed the checkpoint")
        outcome.append(f"cancelled: {scope.cancelled_caught}")

    async def test(starter: TaskStarter) -> None:
        await all_done(await in_callback(lambda: started_with(starter, standby, coro())))
        assert outcome == ["cancelled: True"]

    run(test)


@pytest.mark.parametrize("standby", STANDBYS)
@pytest.mark.parametrize("waits_on", ["a future", "a bare yield"])
@pytest.mark.parametrize("cancelled_by", ["the caller", "itself"])
def test_a_cancellation_in_the_turn_it_started_comes_after_what_its_first_step_started(
    standby: str, waits_on: str, cancelled_by: str
) -> None:
    steps: list[str] = []
    children: list[asyncio.Task[None]] = []

    async def child() -> None:
        steps.append("child")

    async def coro() -> None:
        task = asyncio.current_task()
        assert task is not None
        if cancelled_by == "itself":
            task.cancel("stop")
        children.append(asyncio.create_task(child()))
        try:
            if waits_on == "a future":
                await asyncio.sleep(10)
            else:
                await asyncio.sleep(0)
        except asyncio.CancelledError as error:
            steps.append(f"cancelled {error.args}")
            raise

    async def test(starter: TaskStarter) -> None:
        def start() -> list[asyncio.Task[None] | None]:
            tasks = started_with(starter, standby, coro())
            task = tasks[-1]
            assert task is not None
            if cancelled_by == "the caller":
                task.cancel("stop")
            return tasks

        with pytest.raises(asyncio.CancelledError):
            await all_done(await in_callback(start))
        await asyncio.wait(children)
        assert steps == ["child", "cancelled ('stop',)"]

    run(test)


@pytest.mark.parametrize("standby", STANDBYS)
@pytest.mark.parametrize("cancelled_by", ["the caller", "itself"])
def test_cancelling_it_while_it_awaits_a_task_cancels_that_task_and_waits_for_its_end(
    standby: str, cancelled_by: str
) -> None:
    steps: list[str] = []

    async def refuses() -> str:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError as error:
            steps.append(f"inner cancelled {error.args}")
        await asyncio.sleep(0)
        return "refused"

    async def coro(inner: asyncio.Task[str]) -> None:
        if cancelled_by == "itself":
            task = asyncio.current_task()
            assert task is not None
            task.cancel("stop")
        steps.append(f"got {await inner}")  # a task's cancellation goes to what it awaits

    async def test(starter: TaskStarter) -> None:
        inner = asyncio.get_running_loop().create_task(refuses())
        await asyncio.sleep(0)

        def start() -> list[asyncio.Task[None] | None]:
            tasks = started_with(starter, standby, coro(inner))
            task = tasks[-1]
            assert task is not None
            if cancelled_by == "the caller":
                task.cancel("stop")
            return tasks

        await all_done(await in_callback(start))
        assert steps == ["inner cancelled ('stop',)", "got refused"]

    run(test)
