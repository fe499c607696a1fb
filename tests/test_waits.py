"""The one wait engine under every wait_for_* pair: woken by a change, never polling."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable
from typing import Any

import pytest

from understudy import (
    ConfigurationError,
    HTTPServer,
    LogRecordServer,
    Proxy,
    Server,
    SMTPServer,
    SyslogServer,
    TCPServer,
    UDPServer,
    UnixDatagramServer,
    UnixStreamServer,
    WaitTimeout,
)
from understudy._waits import Wait, Waitable
from understudy.fakes import PyPIServer


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


_STOPPED = "the server is stopped: nothing can arrive until start()"

#: Every server kind's waits: the server, and a wait on it (timing out at once).
_WAITS: list[tuple[Callable[[], Server], Callable[[Any], object]]] = [
    (HTTPServer, lambda s: s.wait_for_requests(1, timeout=0.05)),
    (HTTPServer, lambda s: s.wait_for_tls_failures(1, timeout=0.05)),
    (HTTPServer, lambda s: s.wait_for_websockets(1, timeout=0.05)),
    (HTTPServer, lambda s: s.wait_for_websocket_messages(1, timeout=0.05)),
    (TCPServer, lambda s: s.wait_for_connections(1, timeout=0.05)),
    (TCPServer, lambda s: s.wait_for_bytes(b"x", timeout=0.05)),
    (UnixStreamServer, lambda s: s.wait_for_bytes(b"x", timeout=0.05)),
    (UDPServer, lambda s: s.wait_for_datagrams(1, timeout=0.05)),
    (UnixDatagramServer, lambda s: s.wait_for_datagrams(1, timeout=0.05)),
    (SyslogServer, lambda s: s.wait_for_messages(1, timeout=0.05)),
    (LogRecordServer, lambda s: s.wait_for_records(1, timeout=0.05)),
    (LogRecordServer, lambda s: s.wait_for_bad_frames(1, timeout=0.05)),
    (SMTPServer, lambda s: s.wait_for_messages(1, timeout=0.05)),
    (PyPIServer, lambda s: s.wait_for_uploads(1, timeout=0.05)),
    (PyPIServer, lambda s: s.wait_for_downloads(1, timeout=0.05)),
    (lambda: Proxy(upstream=("127.0.0.1", 9)), lambda s: s.wait_for_connections(1, timeout=0.05)),
    (lambda: Proxy(upstream=("127.0.0.1", 9)), lambda s: s.wait_for_bytes(b"x", timeout=0.05)),
]


@pytest.mark.parametrize(("make", "wait"), _WAITS)
def test_a_wait_on_a_stopped_server_says_it_is_stopped(
    make: Callable[[], Server], wait: Callable[[Any], object]
) -> None:
    server = make()
    with server:
        with pytest.raises(WaitTimeout) as running:
            wait(server)
        assert _STOPPED not in str(running.value)
    with pytest.raises(WaitTimeout, match=r"waited 0\.05 s") as stopped:
        wait(server)
    assert _STOPPED in str(stopped.value).splitlines()[0]


@pytest.mark.parametrize(("make", "wait"), _WAITS[:1] + _WAITS[4:5])
def test_a_wait_on_a_server_never_started_says_it_is_stopped(
    make: Callable[[], Server], wait: Callable[[Any], object]
) -> None:
    with pytest.raises(WaitTimeout, match="nothing can arrive until start"):
        wait(make())


def test_an_async_wait_on_a_stopped_server_says_it_is_stopped() -> None:
    server = TCPServer()
    server.start().stop()

    async def waits() -> None:
        with pytest.raises(WaitTimeout, match="nothing can arrive until start"):
            await server.wait_for_connections_async(1, timeout=0.05)

    asyncio.run(waits())
