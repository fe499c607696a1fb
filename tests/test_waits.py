"""The one wait engine under every wait_for_* pair: woken by a change, never polling."""

from __future__ import annotations

import asyncio
import socket
import threading

import pytest

from understudy import ConfigurationError, Proxy, TCPServer, WaitTimeout
from understudy._waits import Wait, Waitable


class _Box(Waitable):
    """A state one thread changes: a list another waits on."""

    __slots__ = ("items",)

    def __init__(self) -> None:
        super().__init__()
        self.items: list[int] = []

    def add(self, item: int) -> None:
        self.items.append(item)
        self.changed()

    def wait_for_item(self, item: int) -> Wait[int]:
        return Wait(
            lambda: item if item in self.items else None,
            lambda: WaitTimeout(f"no {item} in {self.items}"),
        )


def test_a_blocking_wait_is_woken_by_a_change_from_another_thread() -> None:
    box = _Box()
    threading.Timer(0.01, box.add, args=(3,)).start()
    assert box.wait(box.wait_for_item(3), timeout=5) == 3
    assert box._waiting == 0


@pytest.mark.asyncio
async def test_an_async_wait_is_woken_by_a_change_from_another_thread() -> None:
    box = _Box()
    threading.Timer(0.01, box.add, args=(4,)).start()
    assert await box.wait_async(box.wait_for_item(4), timeout=5) == 4
    assert box._waiting == 0


def test_a_timeout_raises_what_the_wait_says_after_a_last_look() -> None:
    box = _Box()
    box.add(1)
    with pytest.raises(WaitTimeout, match=r"no 2 in \[1\]"):
        box.wait(box.wait_for_item(2), timeout=0)
    with pytest.raises(WaitTimeout, match=r"no 2 in \[1\]"):
        asyncio.run(box.wait_async(box.wait_for_item(2), timeout=0.01))


def test_a_change_takes_no_lock_while_no_wait_is_under_way() -> None:
    """The journal's append is on the hot path: it must not wait for a thread holding the lock
    (a test reading the journal) unless that thread waits."""
    box = _Box()
    holding, done = threading.Event(), threading.Event()

    def hold() -> None:
        with box._lock:
            holding.set()
            done.wait(5)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert holding.wait(5)
        changer = threading.Thread(target=box.add, args=(1,))
        changer.start()
        changer.join(5)
        assert not changer.is_alive(), "a change with no wait under way took the lock"
    finally:
        done.set()
        holder.join(5)


@pytest.mark.parametrize("timeout", [-1.0, True, "1", float("nan"), float("inf"), 1e300])
def test_a_timeout_that_is_not_seconds_is_refused(timeout: object) -> None:
    # (NaN passed a "< 0" check and the wait slept for ever; infinity, or a number of seconds
    # too large for a lock's timeout, raised OverflowError from the lock.)
    box = _Box()
    with pytest.raises(ConfigurationError, match="timeout must be seconds"):
        box.wait(box.wait_for_item(1), timeout=timeout)  # type: ignore[arg-type]


def test_a_proxy_that_keeps_no_journal_refuses_waits_as_every_server_does() -> None:
    with (
        TCPServer() as upstream,
        Proxy(upstream=upstream.address, journal_size=0) as proxy,
    ):
        with socket.create_connection(proxy.address, timeout=5) as client:
            client.sendall(b"ping")
        with pytest.raises(ConfigurationError, match="journal_size=0"):
            proxy.wait_for_connections(1)
        with pytest.raises(ConfigurationError, match="journal_size=0"):
            proxy.wait_for_bytes(b"ping")
        upstream.wait_for_bytes(b"ping")


def test_a_connection_wait_is_woken_by_bytes_on_a_connection_already_recorded() -> None:
    """A connection journal is changed after the append (bytes arrive, it closes): those
    changes wake the waits, as appends do."""
    with TCPServer() as server, socket.create_connection(server.address, timeout=5) as client:
        server.wait_for_connections(1)
        threading.Timer(0.01, client.sendall, args=(b"late",)).start()
        assert server.wait_for_bytes(b"late", timeout=5).data == b"late"
        client.close()
        [closed] = server.wait_for_connections(1, match=lambda record: record.closed, timeout=5)
    assert closed.data == b"late"
