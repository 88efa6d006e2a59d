"""engine.fanout.gather: every call at once, results in order, the first failure re-raised."""

from __future__ import annotations

import threading

import pytest

from truedigest.engine.fanout import gather


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
