"""The pure part of network conditions: schedules, budgets and draws, without sockets."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from understudy._core.conditions import Budget, Schedule, chosen, draw_latency, slice_size

# -- slices and draws ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bandwidth", "expected"),
    [(1, 1), (10, 1), (1000, 20), (100_000, 2000), (10_000_000, 64 * 1024)],
)
def test_slice_is_20_ms_worth_between_1_byte_and_64_kib(bandwidth: float, expected: int) -> None:
    assert slice_size(bandwidth) == expected


def test_chosen_draws_nothing_at_certainty() -> None:
    rng = random.Random(1)
    state = rng.getstate()
    assert chosen(rng, 1.0)
    assert not chosen(rng, 0.0)
    assert rng.getstate() == state


def test_chosen_follows_the_seed() -> None:
    first = [chosen(random.Random(7), 0.5) for _ in range(1)]
    rng_a, rng_b = random.Random(7), random.Random(7)
    assert [chosen(rng_a, 0.3) for _ in range(50)] == [chosen(rng_b, 0.3) for _ in range(50)]
    assert first == [random.Random(7).random() < 0.5]


def test_chosen_applies_about_as_often_as_its_probability() -> None:
    rng = random.Random(3)
    hits = sum(chosen(rng, 0.25) for _ in range(4000))
    assert 800 < hits < 1200


@pytest.mark.parametrize(
    ("latency", "jitter", "low", "high"),
    [(0.1, 0.0, 0.1, 0.1), (0.1, 0.05, 0.05, 0.15), (0.01, 0.05, 0.0, 0.06), (0.0, 0.0, 0.0, 0.0)],
)
def test_draw_latency_stays_within_jitter_and_never_negative(
    latency: float, jitter: float, low: float, high: float
) -> None:
    rng = random.Random(0)
    for _ in range(200):
        assert low <= draw_latency(rng, latency, jitter) <= high


# -- schedules: tables ---------------------------------------------------------------------------


def test_idle_schedule_delivers_at_once_in_one_piece() -> None:
    schedule = Schedule(rng=random.Random(0))
    assert schedule.idle
    assert schedule.plan(10.0, 500) == [(10.0, 500)]


def test_latency_delays_each_chunk() -> None:
    schedule = Schedule(latency=0.05, rng=random.Random(0))
    assert schedule.plan(1.0, 10) == [(1.05, 10)]
    assert schedule.plan(2.0, 10) == [(2.05, 10)]


def test_bandwidth_splits_into_slices_paced_at_the_rate() -> None:
    schedule = Schedule(bandwidth=1000, rng=random.Random(0))  # 20-byte slices
    pieces = schedule.plan(0.0, 50)
    assert [size for _, size in pieces] == [20, 20, 10]
    assert [round(at, 6) for at, _ in pieces] == [0.0, 0.02, 0.04]
    # the pipe is busy until 0.05: bytes arriving at 0.01 wait for it
    [(at, size)] = schedule.plan(0.01, 20)
    assert (round(at, 6), size) == (0.05, 20)


def test_an_idle_pipe_saves_no_burst() -> None:
    schedule = Schedule(bandwidth=1000, rng=random.Random(0))
    schedule.plan(0.0, 20)
    # long after: the next slice goes at once, and the one after waits its turn
    pieces = schedule.plan(100.0, 40)
    assert [round(at, 6) for at, _ in pieces] == [100.0, 100.02]


def test_jitter_never_reorders() -> None:
    schedule = Schedule(latency=0.05, jitter=0.05, rng=random.Random(5))
    times = [schedule.plan(i * 0.001, 1)[0][0] for i in range(200)]
    assert times == sorted(times)


def test_not_before_keeps_order_across_a_change() -> None:
    old = Schedule(latency=1.0, rng=random.Random(0))
    old.plan(0.0, 1)
    new = Schedule(rng=random.Random(0), not_before=old.last)
    assert new.plan(0.5, 1) == [(1.0, 1)]


def test_an_empty_plan_is_a_marker_after_what_came_before() -> None:
    schedule = Schedule(bandwidth=1000, rng=random.Random(0))
    pieces = schedule.plan(0.0, 40)
    assert schedule.plan(0.0, 0) == [(pieces[-1][0], 0)]


# -- schedules: properties -----------------------------------------------------------------------

chunks = st.lists(st.tuples(st.floats(0.0, 0.5), st.integers(0, 5000)), min_size=1, max_size=30)


@given(
    chunks=chunks,
    latency=st.floats(0.0, 0.2),
    jitter=st.floats(0.0, 0.2),
    bandwidth=st.one_of(st.none(), st.integers(1000, 1_000_000)),
    seed=st.integers(0, 2**32),
)
def test_schedule_keeps_order_loses_nothing_and_respects_latency(
    chunks: list[tuple[float, int]],
    latency: float,
    jitter: float,
    bandwidth: int | None,
    seed: int,
) -> None:
    schedule = Schedule(
        latency=latency, jitter=jitter, bandwidth=bandwidth, rng=random.Random(seed)
    )
    now = 0.0
    last = float("-inf")
    for gap, size in chunks:
        now += gap
        pieces = schedule.plan(now, size)
        assert sum(piece for _, piece in pieces) == size  # nothing lost or duplicated
        for at, _ in pieces:
            assert at >= last  # in order
            assert at >= now + latency - jitter - 1e-9  # never early
            last = at


@given(
    chunks=chunks,
    bandwidth=st.integers(1000, 1_000_000),
    latency=st.floats(0.0, 0.1),
)
def test_rate_never_above_the_limit_beyond_one_slice(
    chunks: list[tuple[float, int]], bandwidth: int, latency: float
) -> None:
    schedule = Schedule(latency=latency, bandwidth=bandwidth, rng=random.Random(0))
    now = 0.0
    delivered: list[tuple[float, int]] = []
    for gap, size in chunks:
        now += gap
        delivered += [(at, n) for at, n in schedule.plan(now, size) if n]
    if not delivered:
        return
    start = delivered[0][0]
    total = 0
    for at, size in delivered:
        total += size
        # everything delivered up to `at` fits the rate since the first piece, plus one slice
        assert total <= bandwidth * (at - start) + schedule.slice + 1e-6 * bandwidth


# -- budgets -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("limit", "sizes", "allowed", "exhausted"),
    [
        (None, [10, 20], [10, 20], False),
        (25, [10, 20, 5], [10, 15, 0], True),
        (30, [10, 20], [10, 20], True),
        (0, [1], [0], True),
        (100, [10], [10], False),
    ],
)
def test_budget_lets_through_up_to_its_limit(
    limit: int | None, sizes: list[int], allowed: list[int], exhausted: bool
) -> None:
    budget = Budget(limit)
    assert [budget.take(size) for size in sizes] == allowed
    assert budget.exhausted is exhausted


@given(limit=st.integers(0, 10_000), sizes=st.lists(st.integers(0, 3000), max_size=20))
def test_budget_never_exceeds_its_limit(limit: int, sizes: list[int]) -> None:
    budget = Budget(limit)
    taken = [budget.take(size) for size in sizes]
    assert sum(taken) == min(limit, sum(sizes))
    assert all(0 <= t <= s for t, s in zip(taken, sizes, strict=True))
