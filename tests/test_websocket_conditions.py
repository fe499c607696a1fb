"""``Conditions`` (latency, bandwidth) on a WebSocket connection, as a real client sees them.

As in ``test_conditions.py``, times are asserted only as lower bounds: a condition cannot make
bytes arrive early. Each direction is shown apart by the journal's times (wall-clock, as the
client's ``time.time()`` beside them), the whole by the client's round trip.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import pytest
import websockets.sync.client

import understudy
from understudy import Conditions, Direction
from ws_apps import echo_app

LATENCY = 0.05
CLOCK = 0.001  # (the journal's times are wall-clock: a margin for the clock's steps)


def _asgi(conditions: Conditions) -> understudy.HTTPServer:
    return understudy.HTTPServer(asgi=echo_app, conditions=conditions)


def _stub(conditions: Conditions) -> understudy.HTTPServer:
    server = understudy.HTTPServer(conditions=conditions)
    server.expect_websocket("/").echo()
    return server


HOSTS: dict[str, Callable[[Conditions], understudy.HTTPServer]] = {"asgi": _asgi, "stub": _stub}


class _Timed:
    """One echo through ``server``: the client's clocks around it and the journal's record."""

    def __init__(self, server: understudy.HTTPServer, payload: str | bytes) -> None:
        with websockets.sync.client.connect(server.ws_url + "/", compression=None) as client:
            started = time.monotonic()
            self.sent_at = time.time()
            client.send(payload)
            assert client.recv(timeout=10) == payload
            self.received_at = time.time()
            self.round_trip = time.monotonic() - started
        [connection] = server.wait_for_websockets(1, match=lambda c: c.closed)
        [self.at_server] = connection.received  # (the client's message, complete)
        [self.echoed] = connection.sent  # (the echo, handed to the transport)


@pytest.mark.parametrize("host", HOSTS)
@pytest.mark.parametrize(
    ("conditions", "up", "down"),
    [
        (Conditions(latency=LATENCY), LATENCY, LATENCY),
        (Conditions(upstream=Direction(latency=2 * LATENCY)), 2 * LATENCY, 0.0),
        (Conditions(downstream=Direction(latency=2 * LATENCY)), 0.0, 2 * LATENCY),
    ],
    ids=["both", "upstream", "downstream"],
)
def test_latency_delays_a_websocket_message_each_way(
    host: str, conditions: Conditions, up: float, down: float
) -> None:
    with HOSTS[host](conditions) as server:
        echo = _Timed(server, "are you there")
    assert echo.round_trip >= up + down
    assert echo.at_server.at - echo.sent_at >= up - CLOCK
    assert echo.received_at - echo.echoed.at >= down - CLOCK


SIZE, BANDWIDTH = 30_000, 200_000  # (bytes, bytes per second: 0.15 s for the message)


@pytest.mark.parametrize("host", HOSTS)
@pytest.mark.parametrize("direction", ["upstream", "downstream"])
def test_bandwidth_slows_a_websocket_message(host: str, direction: str) -> None:
    payload = os.urandom(SIZE)  # (random, and compression off: nothing to shrink)
    conditions = Conditions(**{direction: Direction(bandwidth=BANDWIDTH)})  # type: ignore[arg-type]
    with HOSTS[host](conditions) as server:
        echo = _Timed(server, payload)
    least = 0.8 * SIZE / BANDWIDTH  # (less a margin: one slice of the rate may go at once)
    assert echo.round_trip >= least
    if direction == "upstream":
        assert echo.at_server.at - echo.sent_at >= least - CLOCK
    else:
        assert echo.received_at - echo.echoed.at >= least - CLOCK
