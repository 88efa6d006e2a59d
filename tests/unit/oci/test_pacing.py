"""The per-host window (issue 14 item 2): driven with numbers, never with a clock.

`Window` is fed completions (the epoch a request was sent in, its round trip,
whether the registry pushed back); `RegistryClient` on an `httpx.MockTransport`
shows that a 429 or 503 the transport retried reaches the window.
"""

from __future__ import annotations

import threading

import httpx
import pytest

from tests.support.images import build_image
from truedigest.oci import pacing
from truedigest.oci.auth import CredentialStore
from truedigest.oci.pacing import CAP, LATENCY_FLOOR, START, HostPacer, Window
from truedigest.oci.reference import parse_reference
from truedigest.oci.registry import RegistryClient
from truedigest.oci.transport import ClientOptions

RTT = 0.040


def steady(window: Window, n: int, rtt: float = RTT) -> None:
    """`n` requests, each sent in the current epoch, each taking `rtt`."""
    for _ in range(n):
        window.completed(window.epoch, rtt)


def test_adaptive_starts_at_32_and_doubles_each_round_trip_to_the_cap() -> None:
    window = Window()
    assert window.allowed == START == 32
    steady(window, 32)  # one round trip of 32: +1 each (slow start)
    assert window.allowed == CAP == 64
    steady(window, 10_000)
    assert window.allowed == CAP
    assert window.decreases == 0


def test_after_a_decrease_the_window_grows_by_about_one_per_round_trip() -> None:
    window = Window()
    steady(window, 48)  # at the cap
    window.completed(window.epoch, None, pushback=True)
    assert window.allowed == 32
    assert not window.slow_start
    steady(window, 33)  # about one window's worth of completions: +1
    assert window.allowed == 33
    steady(window, sum(range(33, CAP + 1)))
    assert window.allowed == CAP


def test_a_burst_of_429s_answering_one_window_halves_it_once() -> None:
    window = Window()
    steady(window, 5)
    sent = window.epoch
    for _ in range(40):  # every request of the window got a 429
        window.completed(sent, None, pushback=True)
    assert window.allowed == (START + 5) // 2
    assert window.decreases == 1


@pytest.mark.parametrize("rounds", [1, 2, 3, 4, 6])
def test_each_round_of_pushback_sent_after_the_last_decrease_halves_again(rounds: int) -> None:
    window = Window()
    for _ in range(rounds):
        window.completed(window.epoch, None, pushback=True)
    assert window.allowed == max(1, int(START * 0.5**rounds))
    # START, START/2, ..., 1: log2(START) halvings, then nothing is left to halve
    assert window.decreases == min(rounds, START.bit_length() - 1)


def test_pushback_goes_down_to_one_request_and_grows_back_additively() -> None:
    window = Window()
    for _ in range(20):
        window.completed(window.epoch, None, pushback=True)
    assert window.limit == 1
    assert window.allowed == 1
    assert not window.slow_start
    steady(window, 1)  # +1/1
    assert window.allowed == 2
    steady(window, 3)  # +1/2, +1/2.5, +1/2.9
    assert window.allowed == 3


def test_rising_latency_shrinks_the_window_but_never_below_the_old_fixed_bound() -> None:
    window = Window()
    steady(window, 100)  # best round trip: 40 ms; at the cap
    for _ in range(1000):
        window.completed(window.epoch, RTT * 10)
    assert window.allowed == LATENCY_FLOOR
    assert window.decreases > 0
    # latency alone never goes lower; pushback does
    window.completed(window.epoch, None, pushback=True)
    assert window.allowed == LATENCY_FLOOR // 2


def test_one_slow_round_trip_is_smoothed_and_the_tolerance_keeps_the_window() -> None:
    window = Window()
    steady(window, 10)
    window.completed(window.epoch, RTT * 6)  # one stall: the EWMA stays under 3x + slack
    steady(window, 10, rtt=RTT * 2.9)  # a link 2.9x slower than the best seen: tolerated
    assert window.decreases == 0
    assert window.allowed == START + 21


def test_a_round_trip_held_above_the_tolerance_shrinks_the_window() -> None:
    window = Window()
    steady(window, 100)
    steady(window, 100, rtt=RTT * pacing.TOLERANCE + 2 * pacing.SLACK)
    assert window.decreases > 0
    assert window.allowed < CAP


def test_latency_decreases_once_per_window_of_requests() -> None:
    window = Window()
    steady(window, 100)
    sent = window.epoch
    for _ in range(CAP):  # one window, all slow, all sent before the decrease
        window.completed(sent, RTT * 10)
    assert window.decreases == 1
    assert window.allowed == int(CAP * pacing.LATENCY_FACTOR)


def test_completions_without_a_round_trip_change_nothing() -> None:
    window = Window()
    for _ in range(100):
        window.completed(window.epoch, None)
    assert window.limit == START
    assert window.srtt is None


def test_a_fixed_window_never_moves() -> None:
    window = Window.fixed_at(3)
    for _ in range(10):
        window.completed(window.epoch, None, pushback=True)
        window.completed(window.epoch, RTT * 100)
    steady(window, 1000)
    assert window.allowed == 3
    assert window.decreases == 0


@pytest.mark.parametrize("n", [0, CAP + 1])
def test_a_fixed_window_is_within_one_and_the_cap(n: int) -> None:
    with pytest.raises(ValueError, match="between 1 and"):
        Window.fixed_at(n)


def test_the_pacer_admits_what_the_window_allows_and_wakes_a_waiter_on_release() -> None:
    pacer = HostPacer(Window.fixed_at(2))
    admitted = threading.Event()
    held = [pacer.acquire(), pacer.acquire()]
    try:
        assert pacer.in_flight == 2

        def third() -> None:
            ticket = pacer.acquire()
            admitted.set()
            pacer.release(ticket)

        worker = threading.Thread(target=third)
        worker.start()
        # the third waits: its thread is parked on the condition, the count unchanged
        while not pacer._cond._waiters:  # type: ignore[attr-defined]
            worker.join(0.001)
        assert not admitted.is_set()
        assert pacer.in_flight == 2
    finally:
        for ticket in held:
            pacer.release(ticket)
    worker.join()
    assert admitted.is_set()
    assert pacer.peak == 2
    assert pacer.in_flight == 0


# --- the session feeds the window ---------------------------------------------

IMAGE = build_image("app", salt="pacing")


def client_for(answers: list[int], *, max_per_host: int | None = None) -> RegistryClient:
    """A client whose registry answers each manifest GET with the next status."""
    statuses = iter(answers)

    def handler(_request: httpx.Request) -> httpx.Response:
        status = next(statuses, 200)
        headers = {"Content-Type": "application/vnd.oci.image.manifest.v1+json"}
        if status != 200:
            headers["Retry-After"] = "0"
        return httpx.Response(
            status, headers=headers, content=IMAGE.manifest if status == 200 else b""
        )

    return RegistryClient(
        ClientOptions(plain_http=True),
        transport=httpx.MockTransport(handler),
        credentials=CredentialStore(env={}),
        sleep=lambda _s: None,
        max_per_host=max_per_host,
    )


REF = parse_reference("registry.test/app:v1")


@pytest.mark.parametrize("status", [429, 503])
def test_a_retried_pushback_halves_the_hosts_window(status: int) -> None:
    with client_for([status]) as client:
        client.resolve(REF)
        window = client.pacer("registry.test").window
        assert client.requests_made == 2  # the 429/503, then the retry
    assert window.decreases == 1
    assert window.allowed == START // 2
    assert not window.slow_start


def test_a_plain_answer_is_a_round_trip_sample_and_no_pushback() -> None:
    with client_for([]) as client:
        client.resolve(REF)
        window = client.pacer("registry.test").window
        assert client.requests_made == 1
    assert window.decreases == 0
    assert window.srtt is not None


def test_max_per_host_fixes_the_window_and_sizes_pools() -> None:
    with client_for([429, 429], max_per_host=3) as client:
        client.resolve(REF)
        window = client.pacer("registry.test").window
        assert client.max_per_host == 3
    assert window.fixed
    assert window.allowed == 3
    with client_for([]) as adaptive:
        assert adaptive.max_per_host == CAP  # pools hold the cap: the pacer decides


@pytest.mark.parametrize("n", [0, 65])
def test_max_per_host_out_of_range_is_refused(n: int) -> None:
    with pytest.raises(ValueError, match="max_per_host"):
        client_for([], max_per_host=n)
