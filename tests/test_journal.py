"""The journal: every request recorded, waits that never sleep, bounded when asked."""

from __future__ import annotations

import asyncio
import threading
import urllib.request

import pytest

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


def test_a_journal_of_size_zero_keeps_nothing_and_refuses_waits() -> None:
    with HTTPServer(response=Response(204), journal_size=0) as server:
        get(server.url)
        assert server.requests == []
        with pytest.raises(ConfigurationError, match="journal_size=0"):
            server.wait_for_requests(1)


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
