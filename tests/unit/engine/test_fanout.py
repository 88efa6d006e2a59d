"""engine.fanout.gather: every call at once, results in order, the first failure re-raised."""

from __future__ import annotations

import threading

import pytest

from truedigest.engine.fanout import each, gather


def test_every_call_is_in_flight_at_once_and_results_keep_their_order() -> None:
    # Three calls meet at a barrier: gather() returns only if all three ran together.
    barrier = threading.Barrier(3, timeout=30)
    names: list[str] = []

    def call(value: int) -> int:
        barrier.wait()
        names.append(threading.current_thread().name)
        return value * 10

    assert gather([lambda: call(1), lambda: call(2), lambda: call(3)]) == [10, 20, 30]
    assert threading.current_thread().name in names  # the caller's thread takes one


def test_the_first_failure_in_order_is_raised_after_every_call_ended() -> None:
    ended: list[int] = []

    def fail(n: int) -> int:
        ended.append(n)
        raise ValueError(f"call {n}")

    def ok() -> int:
        ended.append(0)
        return 0

    with pytest.raises(ValueError, match="call 1"):
        gather([ok, lambda: fail(1), lambda: fail(2)])
    assert sorted(ended) == [0, 1, 2]


def test_no_calls_no_results() -> None:
    assert gather([]) == []


def test_each_keeps_the_items_order_and_never_runs_more_than_its_workers() -> None:
    lock = threading.Lock()
    running = peak = 0
    barrier = threading.Barrier(3, timeout=30)  # three workers must overlap at least once

    def call(n: int) -> int:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        if n < 3:
            barrier.wait()
        with lock:
            running -= 1
        return n * n

    assert each(call, list(range(50)), 3) == [n * n for n in range(50)]
    assert peak == 3


def test_each_re_raises_the_first_failure_and_stops_taking_items() -> None:
    calls: list[int] = []

    def call(n: int) -> int:
        calls.append(n)
        if n == 0:
            raise KeyError("first")
        return n

    with pytest.raises(KeyError, match="first"):
        each(call, list(range(1000)), 1)  # one worker: the caller's thread
    assert calls == [0]


def test_each_on_no_items() -> None:
    assert each(lambda n: n, [], 8) == []
