"""Tests for understudy._core.faults: fault plans, delay draws, dribble and failure schedules."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from understudy._core.faults import (
    MAX_DELAY,
    DelayKind,
    Ending,
    FailureSchedule,
    Fault,
    delay_problem,
    draw_delay,
    dribble_schedule,
    plan_fault,
)

# -- fault plans -----------------------------------------------------------------------------

#: kind -> (how the plan's bytes start, how the connection ends)
PLANS: dict[Fault, tuple[bytes, Ending]] = {
    Fault.CONNECTION_RESET: (b"", Ending.RESET),
    Fault.CLOSE: (b"", Ending.CLOSE),
    Fault.EMPTY_RESPONSE: (b"", Ending.HALF_CLOSE),
    Fault.MALFORMED_STATUS_LINE: (b"HTTP/1.1 two hundred OK\r\n", Ending.CLOSE),
    Fault.MALFORMED_CHUNK: (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n", Ending.CLOSE),
    Fault.TRUNCATED_BODY: (b"HTTP/1.1 200 OK\r\nContent-Length: ", Ending.CLOSE),
    Fault.STALL: (b"HTTP/1.1 200 OK\r\nContent-Length: 1024\r\n\r\n", Ending.STALL),
    Fault.MALFORMED_CONTENT_CODING: (b"HTTP/1.1 200 OK\r\nContent-Type: ", Ending.CLOSE),
    Fault.STREAM_RESET: (b"", Ending.RESET),
    Fault.REFUSED_STREAM: (b"", Ending.CLOSE),
    Fault.GOAWAY: (b"", Ending.CLOSE),
}


def test_every_fault_has_a_plan() -> None:
    assert set(PLANS) | {Fault.RANDOM_DATA_THEN_CLOSE} == set(Fault)


@pytest.mark.parametrize(("kind", "expected"), PLANS.items(), ids=str)
def test_fault_plans(kind: Fault, expected: tuple[bytes, Ending]) -> None:
    start, ending = expected
    plan = plan_fault(kind, random.Random(0))
    assert plan.data.startswith(start)
    assert plan.ending is ending
    if start == b"":
        assert plan.data == b""


def test_the_reset_writes_nothing_and_the_stall_no_body() -> None:
    assert plan_fault(Fault.CONNECTION_RESET, random.Random(0)).data == b""
    stall = plan_fault(Fault.STALL, random.Random(0)).data
    assert stall.endswith(b"\r\n\r\n")
    assert stall.count(b"\r\n\r\n") == 1


def test_a_truncated_body_declares_more_than_it_sends() -> None:
    data = plan_fault(Fault.TRUNCATED_BODY, random.Random(0)).data
    head, _, body = data.partition(b"\r\n\r\n")
    declared = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
    assert 0 < len(body) < declared


def test_a_malformed_chunk_has_a_size_line_that_is_not_hexadecimal() -> None:
    data = plan_fault(Fault.MALFORMED_CHUNK, random.Random(0)).data
    _, _, body = data.partition(b"\r\n\r\n")
    sizes = body.split(b"\r\n")[0::2]
    assert sizes[0] == b"5"
    with pytest.raises(ValueError, match="invalid literal"):
        int(sizes[1], 16)


@given(st.integers())
def test_random_data_is_seeded_and_never_looks_like_http(seed: int) -> None:
    first = plan_fault(Fault.RANDOM_DATA_THEN_CLOSE, random.Random(seed))
    again = plan_fault(Fault.RANDOM_DATA_THEN_CLOSE, random.Random(seed))
    assert first == again
    assert first.ending is Ending.CLOSE
    assert 16 <= len(first.data) <= 64
    assert first.data[:1] not in (b"H", b"h", b"\r", b"\n")


#: kind -> how the connection ends when a HEAD request gets it (its bytes: a cut status line).
HEAD_PLANS = {
    Fault.TRUNCATED_BODY: Ending.CLOSE,
    Fault.MALFORMED_CHUNK: Ending.CLOSE,
    Fault.MALFORMED_CONTENT_CODING: Ending.CLOSE,
    Fault.STALL: Ending.STALL,
}


@pytest.mark.parametrize(("kind", "ending"), HEAD_PLANS.items(), ids=str)
def test_a_body_fault_on_head_cuts_the_status_line(kind: Fault, ending: Ending) -> None:
    plan = plan_fault(kind, random.Random(0), method="HEAD")
    assert plan.data == b"HTTP/1.1 20"
    assert plan.ending is ending
    assert plan != plan_fault(kind, random.Random(0), method="GET")


@pytest.mark.parametrize("kind", sorted(set(Fault) - set(HEAD_PLANS), key=str), ids=str)
def test_other_faults_plan_alike_on_head(kind: Fault) -> None:
    assert plan_fault(kind, random.Random(3), method="HEAD") == plan_fault(kind, random.Random(3))


@pytest.mark.parametrize("kind", HEAD_PLANS, ids=str)
@pytest.mark.parametrize("method", ["GET", "POST", "DELETE", "head"])
def test_other_methods_keep_the_body_fault(kind: Fault, method: str) -> None:
    # Methods are case-sensitive (RFC 9110 §9.1): "head" is not HEAD.
    assert plan_fault(kind, random.Random(3), method=method) == plan_fault(kind, random.Random(3))


def test_not_a_fault_is_refused() -> None:
    with pytest.raises(ValueError, match="not a Fault"):
        plan_fault("reset", random.Random(0))  # type: ignore[arg-type]


# -- delays ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "first", "second", "problem"),
    [
        (DelayKind.FIXED, 0, 0, None),
        (DelayKind.FIXED, 0.5, 0, None),
        (DelayKind.FIXED, -0.1, 0, "finite number of seconds >= 0"),
        (DelayKind.FIXED, math.inf, 0, "finite number of seconds >= 0"),
        (DelayKind.FIXED, math.nan, 0, "finite number of seconds >= 0"),
        (DelayKind.FIXED, True, 0, "finite number of seconds >= 0"),
        (DelayKind.FIXED, "1", 0, "finite number of seconds >= 0"),
        (DelayKind.UNIFORM, 0.1, 0.5, None),
        (DelayKind.UNIFORM, 0.5, 0.5, None),
        (DelayKind.UNIFORM, 0.5, 0.1, "swap them"),
        (DelayKind.UNIFORM, -1, 0.1, "finite seconds >= 0"),
        (DelayKind.LOGNORMAL, 0.2, 0.5, None),
        (DelayKind.LOGNORMAL, 0.2, 0, None),
        (DelayKind.LOGNORMAL, 0, 0.5, "median is a finite number of seconds > 0"),
        (DelayKind.LOGNORMAL, 0.2, -1, "sigma is a finite number >= 0"),
    ],
)
def test_delay_problems(kind: DelayKind, first: float, second: float, problem: str | None) -> None:
    found = delay_problem(kind, first, second)
    if problem is None:
        assert found is None
    else:
        assert found is not None
        assert problem in found


def test_a_fixed_delay_draws_nothing() -> None:
    rng = random.Random(1)
    state = rng.getstate()
    assert draw_delay(DelayKind.FIXED, 0.25, 0, rng) == 0.25
    assert rng.getstate() == state


def test_a_lognormal_delay_with_no_spread_is_its_median() -> None:
    assert draw_delay(DelayKind.LOGNORMAL, 0.3, 0.0, random.Random(1)) == pytest.approx(0.3)


def test_half_the_lognormal_draws_are_below_the_median() -> None:
    rng = random.Random(7)
    draws = [draw_delay(DelayKind.LOGNORMAL, 0.2, 0.8, rng) for _ in range(4000)]
    below = sum(draw < 0.2 for draw in draws)
    assert 1800 < below < 2200


@given(
    st.floats(0, 10),
    st.floats(0, 10),
    st.integers(),
)
def test_uniform_draws_stay_within_their_bounds(a: float, b: float, seed: int) -> None:
    lower, upper = min(a, b), max(a, b)
    draw = draw_delay(DelayKind.UNIFORM, lower, upper, random.Random(seed))
    assert lower <= draw <= upper


@given(st.floats(1e-6, 100), st.floats(0, 3), st.integers())
def test_lognormal_draws_are_positive_and_seeded(median: float, sigma: float, seed: int) -> None:
    draw = draw_delay(DelayKind.LOGNORMAL, median, sigma, random.Random(seed))
    assert draw > 0
    assert math.isfinite(draw)
    assert draw == draw_delay(DelayKind.LOGNORMAL, median, sigma, random.Random(seed))


@given(st.floats(1e-6, MAX_DELAY), st.floats(0, 1e300), st.integers())
def test_a_lognormal_draw_never_waits_over_the_bound(
    median: float, sigma: float, seed: int
) -> None:
    """A huge sigma draws exp() of a huge number: capped at MAX_DELAY, not OverflowError."""
    draw = draw_delay(DelayKind.LOGNORMAL, median, sigma, random.Random(seed))
    assert 0 <= draw <= MAX_DELAY


@pytest.mark.parametrize(
    ("kind", "first", "second"),
    [
        (DelayKind.FIXED, MAX_DELAY + 0.001, 0.0),
        (DelayKind.FIXED, 1e300, 0.0),
        (DelayKind.UNIFORM, 0.0, MAX_DELAY * 2),
        (DelayKind.LOGNORMAL, 1e308, 1.0),
    ],
)
def test_a_delay_over_the_bound_is_a_problem(kind: DelayKind, first: float, second: float) -> None:
    problem = delay_problem(kind, first, second)
    assert problem is not None
    assert "at most 3600 seconds" in problem


# -- dribble ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "chunks", "duration", "expected"),
    [
        (b"abcdef", 3, 0.3, [(0.1, b"ab"), (0.1, b"cd"), (0.1, b"ef")]),
        (b"abcdefg", 3, 0.3, [(0.1, b"abc"), (0.1, b"de"), (0.1, b"fg")]),
        (b"abc", 1, 2.0, [(2.0, b"abc")]),
        (b"ab", 5, 1.0, [(0.5, b"a"), (0.5, b"b")]),  # never an empty piece
        (b"", 4, 1.0, []),
        (b"abcd", 2, 0.0, [(0.0, b"ab"), (0.0, b"cd")]),
    ],
)
def test_dribble_schedules(
    body: bytes, chunks: int, duration: float, expected: list[tuple[float, bytes]]
) -> None:
    schedule = dribble_schedule(body, chunks, duration)
    assert [piece for _, piece in schedule] == [piece for _, piece in expected]
    assert [pause for pause, _ in schedule] == pytest.approx([pause for pause, _ in expected])


@pytest.mark.parametrize(("chunks", "duration"), [(0, 1.0), (-1, 1.0), (2, -0.5), (2, math.inf)])
def test_a_dribble_needs_pieces_and_time(chunks: int, duration: float) -> None:
    with pytest.raises(ValueError, match=r"chunks|duration"):
        dribble_schedule(b"abc", chunks, duration)


@given(st.binary(max_size=500), st.integers(1, 60), st.floats(0, 30))
def test_dribbled_pieces_concatenate_to_the_body(body: bytes, chunks: int, duration: float) -> None:
    schedule = dribble_schedule(body, chunks, duration)
    assert b"".join(piece for _, piece in schedule) == body
    assert all(piece for _, piece in schedule)
    assert len(schedule) == min(chunks, len(body))
    sizes = {len(piece) for _, piece in schedule}
    assert not sizes or max(sizes) - min(sizes) <= 1
    if schedule:
        assert sum(pause for pause, _ in schedule) == pytest.approx(duration)


# -- failure schedules -----------------------------------------------------------------------


def fired(schedule: FailureSchedule, arrivals: int, seed: int = 0) -> list[int]:
    """The arrivals (1-based) on which ``schedule`` fires, out of ``arrivals``."""
    rng = random.Random(seed)
    return [number for number in range(1, arrivals + 1) if schedule.fires(rng)]


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({}, [1, 2, 3, 4, 5]),
        ({"nth": 3}, [3]),
        ({"nth": 9}, []),
        ({"times": 2}, [1, 2]),
        ({"nth": 2, "times": 1}, [2]),
        ({"probability": 0.0}, []),
        ({"probability": 1.0}, [1, 2, 3, 4, 5]),
    ],
)
def test_failure_schedules(options: dict[str, float], expected: list[int]) -> None:
    assert fired(FailureSchedule(**options), 5) == expected  # type: ignore[arg-type]


def test_a_probable_failure_replays_with_its_seed() -> None:
    first = fired(FailureSchedule(probability=0.5), 200, seed=42)
    again = fired(FailureSchedule(probability=0.5), 200, seed=42)
    assert first == again
    assert 60 < len(first) < 140


def test_a_certain_failure_draws_nothing() -> None:
    rng = random.Random(3)
    state = rng.getstate()
    schedule = FailureSchedule(times=1)
    assert [schedule.fires(rng) for _ in range(3)] == [True, False, False]
    assert rng.getstate() == state
    assert (schedule.arrivals, schedule.fired) == (3, 1)


@given(st.floats(0, 1), st.integers(1, 5), st.integers())
def test_a_failure_never_fires_more_than_its_times(
    probability: float, times: int, seed: int
) -> None:
    schedule = FailureSchedule(times=times, probability=probability)
    assert len(fired(schedule, 30, seed)) <= times


@pytest.mark.parametrize(
    "options",
    [{"nth": 0}, {"times": 0}, {"nth": True}, {"probability": 1.5}, {"probability": -0.1}],
)
def test_bad_failure_schedules_are_refused(options: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"nth|times|probability"):
        FailureSchedule(**options)  # type: ignore[arg-type]
