"""The journal: every request recorded, waits that never sleep, bounded when asked."""

from __future__ import annotations

import asyncio
import gc
import http.client
import threading
import time
import urllib.request
from collections.abc import Callable

import pytest

import understudy.tls
from understudy import ConfigurationError, HTTPServer, Request, Response, WaitTimeout
from understudy._journal import Journal


def get(url: str) -> None:
    with urllib.request.urlopen(url, timeout=5) as reply:
        reply.read()


def test_wait_returns_as_soon_as_the_requests_arrive_from_another_thread() -> None:
    with HTTPServer(response=Response(204)) as server:

        def client() -> None:
            for i in range(3):
                get(server.url + f"/{i}")

        threading.Thread(target=client).start()
        requests = server.wait_for_requests(3, timeout=5)
        assert [request.path for request in requests] == ["/0", "/1", "/2"]


def test_wait_with_match_counts_only_matching_requests() -> None:
    with HTTPServer(response=Response(204)) as server:
        for path in ("/a", "/b", "/a"):
            get(server.url + path)

        def to_a(request: Request) -> bool:
            return request.path == "/a"

        found = server.wait_for_requests(2, match=to_a)
        assert [request.path for request in found] == ["/a", "/a"]


def test_a_timeout_says_what_it_waited_for_and_what_arrived() -> None:
    with HTTPServer(response=Response(204)) as server:
        get(server.url + "/only")

        def to_other(request: Request) -> bool:
            return request.path == "/other"

        with pytest.raises(WaitTimeout) as raised:
            server.wait_for_requests(1, match=to_other, timeout=0.01)
    message = str(raised.value)
    assert "waited 0.01 s for 1 request matching to_other" in message
    assert "1 arrived, 0 of them matching" in message
    assert "GET /only" in message
    assert isinstance(raised.value, TimeoutError)


def test_clear_forgets_what_was_received() -> None:
    with HTTPServer(response=Response(204)) as server:
        get(server.url)
        server.clear()
        assert server.requests == []
        get(server.url + "/again")
        [request] = server.wait_for_requests(1)
        assert request.path == "/again"


def test_a_bounded_journal_keeps_the_last_n() -> None:
    with HTTPServer(response=Response(204), journal_size=2) as server:
        for i in range(5):
            get(server.url + f"/{i}")
        assert [request.path for request in server.requests] == ["/3", "/4"]


def test_a_timeout_on_a_bounded_journal_counts_what_arrived_not_only_what_it_kept() -> None:
    with HTTPServer(response=Response(204), journal_size=2) as server:
        for i in range(5):
            get(server.url + f"/{i}")
        server.wait_for_requests(2, match=lambda request: request.path in ("/3", "/4"))
        with pytest.raises(WaitTimeout) as raised:
            server.wait_for_requests(1, match=lambda request: request.path == "/0", timeout=0.01)
    assert "5 arrived, the last 2 kept (journal_size=2), 0 of them matching" in str(raised.value)


def test_a_timeout_on_a_bounded_journal_counts_from_the_last_clear() -> None:
    journal: Journal[int] = Journal("number", 2)
    for number in range(5):
        journal.append(number)
    journal.clear()
    journal.append(5)
    with pytest.raises(WaitTimeout, match=r"for 2 numbers; 1 arrived\n  5$"):
        journal.wait_for(2, match=None, timeout=0.01)
    for number in range(6, 9):
        journal.append(number)
    with pytest.raises(WaitTimeout, match=r"; 4 arrived, the last 2 kept \(journal_size=2\), 0 "):
        journal.wait_for(1, match=lambda number: number == 5, timeout=0.01)


@pytest.mark.parametrize("journal_size", [True, False, -1, 2.0, "10"])
def test_a_journal_size_that_is_not_a_count_is_refused(journal_size: object) -> None:
    # (True would keep one entry and False none: a flag where a count is meant)
    with pytest.raises(ConfigurationError, match="journal_size must be None"):
        HTTPServer(journal_size=journal_size)  # type: ignore[arg-type]


def test_a_journal_of_size_zero_keeps_nothing_and_refuses_waits() -> None:
    with HTTPServer(response=Response(204), journal_size=0) as server:
        get(server.url)
        assert server.requests == []
        with pytest.raises(ConfigurationError, match="journal_size=0"):
            server.wait_for_requests(1)


def test_a_wait_for_more_than_a_bounded_journal_keeps_is_refused_at_once() -> None:
    message = (
        "this server keeps only the last 2 requests (journal_size=2), so a wait for 3 could "
        "never end; pass a count of at most 2, or a larger journal_size"
    )
    with HTTPServer(response=Response(204), journal_size=2) as server:
        for i in range(3):
            get(server.url + f"/{i}")
        with pytest.raises(ConfigurationError) as raised:
            server.wait_for_requests(3, timeout=1.0)
        assert str(raised.value) == message
        with pytest.raises(ConfigurationError) as raised:
            asyncio.run(server.wait_for_requests_async(3, timeout=1.0))
        assert str(raised.value) == message
        assert [request.path for request in server.wait_for_requests(2)] == ["/1", "/2"]


@pytest.mark.parametrize(("count", "timeout"), [(0, 1.0), (-1, 1.0), (1, -1.0)])
def test_wait_arguments_are_checked(count: int, timeout: float) -> None:
    journal: Journal[int] = Journal("number")
    with pytest.raises(ConfigurationError):
        journal.wait_for(count, match=None, timeout=timeout)


@pytest.mark.asyncio
async def test_async_wait_is_woken_by_an_append_from_another_thread() -> None:
    journal: Journal[int] = Journal("number")
    threading.Timer(0.01, journal.append, args=(7,)).start()
    assert await journal.wait_for_async(1, match=None, timeout=5) == [7]


@pytest.mark.asyncio
async def test_async_wait_times_out_with_the_same_message() -> None:
    journal: Journal[int] = Journal("number")
    journal.append(1)
    with pytest.raises(WaitTimeout, match=r"waited 0.01 s for 2 numbers; 1 arrived"):
        await journal.wait_for_async(2, match=None, timeout=0.01)
    await asyncio.sleep(0)


# -- entries kept packed (what the HTTP journal does, to spare the garbage collector) ----------


def _unpacked(entry: str | tuple[str, int]) -> str:
    return entry if isinstance(entry, str) else entry[0] * entry[1]


@pytest.mark.asyncio
async def test_every_read_of_a_journal_sees_its_entries_unpacked() -> None:
    journal: Journal[str] = Journal("word", unpack=_unpacked)
    journal.append(("ab", 2))
    journal.append("as is")
    assert journal.snapshot() == ["abab", "as is"] == list(journal)
    assert journal.wait_for(2, match=None, timeout=5) == ["abab", "as is"]
    assert journal.wait_for(1, match=lambda word: word == "abab", timeout=5) == ["abab"]
    assert await journal.wait_for_async(1, match=lambda word: "is" in word, timeout=5) == ["as is"]
    with pytest.raises(WaitTimeout) as raised:
        journal.wait_for(1, match=lambda word: word == "ab", timeout=0)
    assert "'abab'" in str(raised.value)  # (the timeout lists entries as a reader sees them)


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
def test_a_journaled_request_is_kept_as_a_tuple_the_collector_stops_tracking(tls: bool) -> None:
    """A long journal must cost the cyclic GC nothing: Requests (tracked objects) cost a tenth
    of the throughput under load, in full collections visiting each one."""
    context = understudy.tls.client_context() if tls else None
    with HTTPServer(response=Response(204), tls=tls) as server:
        for path in ("/a?x=1", "/b"):
            request = urllib.request.Request(
                server.url + path, headers={"X-Twice": "1"}, method="POST", data=b"body"
            )
            request.add_header("X-Other", "2")
            urllib.request.urlopen(request, timeout=5, context=context).close()
        server.wait_for_requests(2)
        # Untracked the first time the collector sees them, but for what they hold that it had
        # not seen before (the connection's TLS fields, a tuple): those go first, they next.
        gc.collect()
        gc.collect()
        entries = list(server._journal._entries or ())
        first, second = server.requests
    assert [type(entry) for entry in entries] == [tuple, tuple]
    assert not any(gc.is_tracked(entry) for entry in entries)
    assert (first.method, first.path, first.query["x"], first.body) == ("POST", "/a", "1", b"body")
    assert (first.headers["x-twice"], first.headers["x-other"]) == ("1", "2")
    assert second.target == "/b"
    assert first.peer is not None
    assert first.peer[0] == "127.0.0.1"
    if tls:
        assert first.tls is not None
        assert (first.tls.version[:3], first.tls.alpn_protocol) == ("TLS", None)
    else:
        assert first.tls is None
    assert server.requests == [first, second]  # (each read makes equal Requests)


def test_a_match_that_takes_its_time_holds_up_no_request() -> None:
    """A wait looks without the journal's lock: the server records and answers meanwhile."""
    with HTTPServer(response=Response(204)) as server:
        get(server.url + "/first")
        asked: list[str] = []

        def second(request: Request) -> bool:
            if not asked:  # its first look: a request is answered only if the append never waits
                asked.append(request.path)
                get(server.url + "/second")
            return request.path == "/second"

        found = server.wait_for_requests(1, match=second, timeout=5)
    assert ([request.path for request in found], asked) == (["/second"], ["/first"])


@pytest.mark.asyncio
async def test_an_async_match_that_takes_its_time_holds_up_no_request() -> None:
    async with HTTPServer(response=Response(204)) as server:
        get(server.url + "/first")
        asked: list[str] = []

        def second(request: Request) -> bool:
            if not asked:
                asked.append(request.path)
                get(server.url + "/second")
            return request.path == "/second"

        found = await server.wait_for_requests_async(1, match=second, timeout=5)
    assert ([request.path for request in found], asked) == (["/second"], ["/first"])


def test_a_timeout_says_what_the_wait_looked_at() -> None:
    journal: Journal[int] = Journal("number")
    journal.append(0)

    def is_one(number: int) -> bool:
        if journal.total == 1:
            journal.append(1)  # arrives while the wait looks, after its copy was taken
        return number == 1

    with pytest.raises(WaitTimeout) as raised:
        journal.wait_for(1, match=is_one, timeout=0)
    assert "1 arrived, 0 of them matching" in str(raised.value)


def test_an_abandoned_async_wait_collected_under_the_journal_s_lock_deadlocks_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An async wait whose loop was closed without cancelling it ends when the cyclic GC
    collects it, on whatever thread the GC runs: also one holding the journal's lock."""
    journal: Journal[int] = Journal("number")
    loop = asyncio.new_event_loop()
    task = loop.create_task(journal.wait_for_async(1, match=None, timeout=60))
    loop.run_until_complete(asyncio.sleep(0))  # (the wait registers and sleeps)
    loop.close()
    del task
    journal.append(1)  # (it cannot wake the closed loop: it lets go of the wait)
    collected = threading.Event()

    def collect_under_the_lock() -> None:
        with journal._lock:
            gc.collect()  # the wait's coroutine is closed here: its finally takes the lock
        collected.set()

    collector = threading.Thread(target=collect_under_the_lock, daemon=True)
    collector.start()
    assert collected.wait(5), "the collector deadlocked on the journal's lock"
    assert journal._waiting == 0
    # asyncio says "Task was destroyed but it is pending!": what this test does on purpose.
    destroyed = [r for r in caplog.records if r.name == "asyncio"]
    assert all("Task was destroyed but it is pending" in r.getMessage() for r in destroyed)
    caplog.clear()


# -- appends from the loop's thread while waits look (append takes no lock unless one waits) --


def _spin_until(condition: Callable[[], bool]) -> None:
    """Hold this thread (and the journal's lock, in a match) until ``condition`` holds."""
    deadline = time.monotonic() + 5
    while not condition():
        assert time.monotonic() < deadline, "no append landed while the wait looked"


def test_a_wait_whose_match_runs_while_an_entry_is_appended() -> None:
    journal: Journal[int] = Journal("number")
    journal.append(0)
    looking = threading.Event()

    def is_one(number: int) -> bool:
        if not looking.is_set():  # the first look: another thread appends meanwhile
            looking.set()
            _spin_until(lambda: len(journal) == 2)
        return number == 1

    def append() -> None:
        assert looking.wait(5)
        journal.append(1)

    appender = threading.Thread(target=append)
    appender.start()
    try:
        assert journal.wait_for(1, match=is_one, timeout=5) == [1]
    finally:
        appender.join(5)


@pytest.mark.asyncio
async def test_an_async_wait_whose_match_runs_while_an_entry_is_appended() -> None:
    journal: Journal[int] = Journal("number", size=2)
    journal.append(0)
    journal.append(1)
    looking = threading.Event()

    def is_two(number: int) -> bool:
        if not looking.is_set():
            looking.set()
            _spin_until(lambda: journal.total == 3)  # (the bounded journal drops 0)
        return number == 2

    def append() -> None:
        assert looking.wait(5)
        journal.append(2)

    appender = threading.Thread(target=append)
    appender.start()
    try:
        assert await journal.wait_for_async(1, match=is_two, timeout=5) == [2]
    finally:
        appender.join(5)


def test_an_async_wait_that_timed_out_on_a_closed_loop_breaks_no_later_request() -> None:
    with HTTPServer(response=Response(204)) as server:
        with pytest.raises(WaitTimeout):
            asyncio.run(server.wait_for_requests_async(1, timeout=0.01))
        # (that loop is closed now) A request while another wait is under way:
        get(server.url + "/first")
        waiting = threading.Event()

        def second(request: Request) -> bool:
            waiting.set()  # (called under the wait's count: the next append wakes it)
            return request.path == "/second"

        found: list[Request] = []
        waiter = threading.Thread(
            target=lambda: found.extend(server.wait_for_requests(1, match=second, timeout=5))
        )
        waiter.start()
        try:
            assert waiting.wait(5)
            get(server.url + "/second")
        finally:
            waiter.join(5)
        assert [request.path for request in found] == ["/second"]
        # (the wake-up raised in the append: the request was also recorded as malformed)
        assert [(request.path, request.error) for request in server.requests] == [
            ("/first", None),
            ("/second", None),
        ]
        server.check()


@pytest.mark.parametrize("journal_size", [None, 1000], ids=["unbounded", "bounded"])
def test_waits_of_both_kinds_while_many_requests_arrive(journal_size: int | None) -> None:
    """Every wait returns what it waited for, or times out saying so, while requests arrive
    on several connections; a wait never misses the append that satisfies it."""
    clients, each = 4, 60
    with HTTPServer(response=Response(204), journal_size=journal_size) as server:
        with pytest.raises(WaitTimeout):  # (a wait whose loop is closed before the others)
            asyncio.run(server.wait_for_requests_async(1, timeout=0.01))
        start = threading.Barrier(clients + 4)
        failures: list[BaseException] = []

        def client(number: int) -> None:
            connection = http.client.HTTPConnection(*server.address, timeout=5)
            try:
                start.wait(5)
                for index in range(each):
                    connection.request("GET", f"/{number}/{index}")
                    response = connection.getresponse()
                    response.read()
                    assert response.status == 204
            finally:
                connection.close()

        def last_of(number: int) -> Callable[[Request], bool]:
            def matches(request: Request) -> bool:
                return request.path == f"/{number}/{each - 1}"

            return matches

        def never(request: Request) -> bool:
            return request.path == "/never"

        def sync_waits() -> None:
            start.wait(5)
            for number in range(clients):
                assert server.wait_for_requests(1, match=last_of(number), timeout=10)
                with pytest.raises(WaitTimeout):
                    server.wait_for_requests(1, match=never, timeout=0.01)

        async def async_waits() -> None:
            for number in reversed(range(clients)):
                with pytest.raises(WaitTimeout):
                    await server.wait_for_requests_async(1, match=never, timeout=0.01)
                assert await server.wait_for_requests_async(1, match=last_of(number), timeout=10)

        def in_a_loop_of_its_own() -> None:
            start.wait(5)
            asyncio.run(async_waits())

        def counted() -> None:
            start.wait(5)
            server.wait_for_requests(clients * each, timeout=10)

        def run(target: Callable[..., None], *args: int) -> threading.Thread:
            def guarded() -> None:
                try:
                    target(*args)
                except BaseException as error:
                    failures.append(error)

            thread = threading.Thread(target=guarded)
            thread.start()
            return thread

        threads = [run(client, number) for number in range(clients)]
        threads += [run(sync_waits), run(in_a_loop_of_its_own), run(in_a_loop_of_its_own)]
        threads.append(run(counted))
        for thread in threads:
            thread.join(30)
        assert failures == []
        assert not any(thread.is_alive() for thread in threads)
        requests = server.requests
        assert len(requests) == clients * each
        assert all(request.error is None for request in requests)
        for number in range(clients):  # each connection's requests in the order sent
            paths = [r.path for r in requests if r.path.startswith(f"/{number}/")]
            assert paths == [f"/{number}/{index}" for index in range(each)]
        server.check()


@pytest.mark.parametrize("journal_size", [None, 7], ids=["unbounded", "bounded"])
def test_snapshots_and_clear_from_other_threads_while_requests_arrive(
    journal_size: int | None,
) -> None:
    clients, each = 3, 80
    with HTTPServer(response=Response(204), journal_size=journal_size) as server:
        done = threading.Event()
        failures: list[BaseException] = []
        served = [0] * clients

        def client(number: int) -> None:
            connection = http.client.HTTPConnection(*server.address, timeout=5)
            try:
                for index in range(each):
                    connection.request("GET", f"/{number}/{index}")
                    response = connection.getresponse()
                    response.read()
                    served[number] += response.status == 204
            finally:
                connection.close()

        def reader() -> None:
            while not done.is_set():
                requests = server.requests
                assert len(requests) <= (journal_size or clients * each)
                for number in range(clients):  # in order, even if cleared in between
                    indexes = [
                        int(r.path.rsplit("/", 1)[1])
                        for r in requests
                        if r.path.startswith(f"/{number}/")
                    ]
                    assert indexes == sorted(indexes)
                server.clear()
                len(server._journal)

        def guarded(target: Callable[..., None], *args: int) -> Callable[[], None]:
            def run() -> None:
                try:
                    target(*args)
                except BaseException as error:
                    failures.append(error)

            return run

        readers = [threading.Thread(target=guarded(reader)) for _ in range(2)]
        writers = [threading.Thread(target=guarded(client, n)) for n in range(clients)]
        for thread in readers + writers:
            thread.start()
        for thread in writers:
            thread.join(30)
        done.set()
        for thread in readers:
            thread.join(30)
        assert failures == []
        assert served == [each] * clients
        server.clear()
        get(server.url + "/after")
        assert [request.path for request in server.wait_for_requests(1)] == ["/after"]
        assert server._journal.total == clients * each + 1
        server.check()


def test_replace_puts_an_entry_in_place_and_wakes_a_wait_on_it() -> None:
    journal: Journal[str] = Journal("entry", 2)
    first = journal.append("a")
    second = journal.append("b")

    async def main() -> list[str]:
        waiting = asyncio.ensure_future(
            journal.wait_for_async(1, match=lambda entry: entry == "B", timeout=5.0)
        )
        await asyncio.sleep(0)  # (one turn: the wait has looked, found nothing, and sleeps)
        assert not waiting.done()
        journal.replace(second, "B")
        return await waiting

    assert asyncio.run(main()) == ["B"]
    journal.append("c")  # the bounded journal drops "a": replacing it does nothing
    journal.replace(first, "A")
    assert journal.snapshot() == ["B", "c"]
    journal.clear()
    journal.replace(second, "x")  # cleared: nothing to replace
    assert journal.snapshot() == []


def test_follow_tells_the_listener_of_each_append_replace_and_change() -> None:
    journal: Journal[str] = Journal("entry", 2, unpack=str.upper)
    heard: list[tuple[int, str | None]] = []
    journal.append("before")  # (before following: not told)
    journal.follow(lambda number, entry: heard.append((number, entry)))
    first = journal.append("a")
    journal.append("b")
    journal.replace(first, "a2")
    journal.changed()
    journal.follow(None)
    journal.append("after")
    # (each entry as a reader sees it: unpacked; a change in place is (0, None))
    assert heard == [(2, "A"), (3, "B"), (2, "A2"), (0, None)]
    assert journal.snapshot() == ["B", "AFTER"]
