"""The worker pool that runs sync user code: hand-over, batching, threads made on demand."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import pytest
import requests

import understudy
from understudy._runtime import get_runtime
from understudy._workers import WorkerPool

T = TypeVar("T")
TIMEOUT = 5.0
_where: contextvars.ContextVar[str] = contextvars.ContextVar("_where", default="unset")


def in_worker(fn: Callable[..., T], *args: Any) -> T:
    """Run ``fn(*args)`` through the runtime's pool, submitted from the loop, and wait."""
    runtime = get_runtime()

    async def submit() -> T:
        return await runtime.run_in_worker(fn, *args)

    return runtime.call(submit(), TIMEOUT, twin="")


def test_a_result_and_the_thread_it_ran_on() -> None:
    assert in_worker(lambda a, b: a + b, 2, 3) == 5
    name = in_worker(lambda: threading.current_thread().name)
    assert name.startswith("understudy-worker-")
    assert name != threading.current_thread().name


def test_an_exception_comes_back_as_itself() -> None:
    def fail() -> None:
        raise KeyError("nope")

    with pytest.raises(KeyError, match="nope"):
        in_worker(fail)


def test_the_callers_context_goes_with_the_job() -> None:
    runtime = get_runtime()

    async def submit() -> str:
        _where.set("the caller")
        return await runtime.run_in_worker(_where.get)

    assert runtime.call(submit(), TIMEOUT, twin="") == "the caller"


def test_a_job_blocked_in_every_thread_does_not_hold_up_the_next() -> None:
    # Several blocked calls at once: each later one gets a thread of its own, so all of them
    # are running together (they all wait for the last to arrive).
    count = 4
    barrier = threading.Barrier(count, timeout=TIMEOUT)
    runtime = get_runtime()

    async def submit_all() -> list[int]:
        futures = [runtime.run_in_worker(barrier.wait) for _ in range(count)]
        return list(await asyncio.gather(*futures))

    assert sorted(runtime.call(submit_all(), TIMEOUT * 2, twin="")) == list(range(count))


def test_a_result_is_delivered_while_its_thread_runs_a_slow_job_next() -> None:
    # The first job's thread takes the second job next and blocks in it; the first result must
    # still reach the loop (the pool looks for finished jobs while any are out).
    release = threading.Event()
    runtime = get_runtime()

    async def submit() -> str:
        first = runtime.run_in_worker(lambda: "first")
        second = runtime.run_in_worker(release.wait, TIMEOUT)
        try:
            return await asyncio.wait_for(first, TIMEOUT)
        finally:
            release.set()
            await second

    assert runtime.call(submit(), TIMEOUT * 2, twin="") == "first"


def test_a_blocked_handler_does_not_stall_the_next_request() -> None:
    release = threading.Event()

    def handler(request: understudy.Request) -> str:
        if request.path == "/slow":
            release.wait(TIMEOUT)
            return "slow"
        return "quick"

    with (
        understudy.HTTPServer(handler=handler) as server,
        requests.Session() as first,
        requests.Session() as second,
    ):
        slow = threading.Thread(
            target=first.get, args=(server.url + "/slow",), kwargs={"timeout": TIMEOUT}
        )
        slow.start()
        try:
            server.wait_for_requests(1, match=lambda r: r.path == "/slow")
            assert second.get(server.url + "/quick", timeout=TIMEOUT).text == "quick"
        finally:
            release.set()
            slow.join(TIMEOUT)


def test_a_job_cancelled_before_a_thread_takes_it_is_not_run() -> None:
    """stop() cancels the handlers still waiting for a worker at its timeout: their user code
    must not run later, after stop() has returned."""
    runtime = get_runtime()
    pool = WorkerPool(runtime.loop, 1, "understudy-worker-test")
    started, release, ran = threading.Event(), threading.Event(), threading.Event()

    def block() -> None:
        started.set()
        release.wait(TIMEOUT)

    async def submit_both() -> tuple[asyncio.Future[None], asyncio.Future[None]]:
        return pool.submit(block), pool.submit(ran.set)

    first, second = runtime.call(submit_both(), TIMEOUT, twin="")
    try:
        assert started.wait(TIMEOUT)  # (the one thread is busy: the second job waits)
        runtime.call_function(second.cancel, TIMEOUT, what=str)
    finally:
        release.set()

    async def settled() -> None:
        await asyncio.wait([first, second], timeout=TIMEOUT)
        await pool.submit(lambda: None)  # (after the second job: the pool is past it)

    runtime.call(settled(), TIMEOUT, twin="")
    runtime.call_function(pool.close, TIMEOUT, what=str)
    assert not ran.is_set()
