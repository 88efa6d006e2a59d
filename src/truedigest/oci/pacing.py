"""How many requests go to one registry at once: a fixed number, or one found by AIMD.

`HostPacer` gates the requests to one host; its `Window` decides how many may be
in flight. Fixed (`--concurrency N`): exactly up to N, never adapted. Adaptive
(the default) starts at `START` and never exceeds `CAP`:

- slow start — until the first decrease, each request that completes in time adds
  one (the window doubles every round trip: 16, 32, 64), so a short run is not
  held back and a host that fails (a registry gone after the tag listing) costs
  one small wave of connection attempts, not 64;
- pushback — the registry answered 429 or 503, or the transport waited to retry
  (429/502/503/504, a connect error, a `Retry-After`): the window halves, down to 1;
- rising latency — the smoothed round trip (EWMA) is above `TOLERANCE` times the
  best one seen plus `SLACK`: the window shrinks by `LATENCY_FACTOR`, never below
  `LATENCY_FLOOR` (the old fixed bound), so a slow link or a busy machine alone
  never makes a run slower than a fixed 8 would;
- otherwise, after the first decrease, each request that completes adds 1/window
  (about one per round trip), up to `CAP`.

A decrease happens at most once per round trip, counted in requests, not time:
only a request sent after the last decrease can cause the next one (each request
carries the window's `epoch` from when it was sent), so a burst of 429s answering
one window of requests halves it once. The decisions take no clock: the session
measures each round trip and passes it in, and tests drive `Window` with numbers.
"""

from __future__ import annotations

import threading

START = 32
"""Requests in flight per host when a run starts (adaptive): half the cap. Each step
up opens new connections, which cost a round trip before their first answer, so
starting at 16 cost `tags` over 200 tags two round trips more than starting here."""
CAP = 64
"""The most requests in flight per host, adaptive or fixed (`--concurrency` ≤ 64)."""
LATENCY_FLOOR = 8
PUSHBACK_FACTOR = 0.5
LATENCY_FACTOR = 0.9
TOLERANCE = 3.0
SLACK = 0.005
"""Seconds added to TOLERANCE x the best round trip: on loopback, where a round trip
is a fraction of a millisecond, jitter alone is not rising latency."""
SMOOTHING = 0.1


class Window:
    """The number of requests one host may have in flight, and how it moves.
    (A plain class: a dataclass costs about 1 ms of every run's start-up to build.)"""

    __slots__ = ("best_rtt", "cap", "decreases", "epoch", "fixed", "limit", "slow_start", "srtt")

    def __init__(
        self,
        limit: float = START,
        cap: int = CAP,
        fixed: bool = False,
        slow_start: bool = True,
    ) -> None:
        self.limit = limit
        self.cap = cap
        self.fixed = fixed
        self.slow_start = slow_start
        self.epoch = 0
        self.best_rtt: float | None = None
        self.srtt: float | None = None
        self.decreases = 0

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in _WINDOW_FIELDS)
        return f"Window({fields})"

    @classmethod
    def fixed_at(cls, n: int) -> Window:
        if not 1 <= n <= CAP:
            raise ValueError(f"in-flight requests must be between 1 and {CAP}")
        return cls(limit=n, cap=n, fixed=True, slow_start=False)

    @property
    def allowed(self) -> int:
        return max(1, int(self.limit))

    def completed(self, epoch: int, rtt: float | None, *, pushback: bool = False) -> None:
        """A request sent in `epoch` finished after `rtt` seconds (None: no usable
        sample, e.g. it failed); `pushback`: the registry asked us to slow down."""
        if self.fixed:
            return
        if pushback:
            self._decrease(epoch, PUSHBACK_FACTOR, 1)
            return
        if rtt is None or rtt < 0:
            return
        self.best_rtt = rtt if self.best_rtt is None else min(self.best_rtt, rtt)
        self.srtt = rtt if self.srtt is None else self.srtt + SMOOTHING * (rtt - self.srtt)
        if self.srtt > self.best_rtt * TOLERANCE + SLACK:
            self._decrease(epoch, LATENCY_FACTOR, min(LATENCY_FLOOR, self.cap))
        else:
            step = 1.0 if self.slow_start else 1 / self.limit
            self.limit = min(float(self.cap), self.limit + step)

    def _decrease(self, epoch: int, factor: float, floor: int) -> None:
        if epoch != self.epoch or self.limit <= floor:
            return  # sent before the last decrease: its news is already acted on
        self.limit = max(float(floor), self.limit * factor)
        self.slow_start = False
        self.epoch += 1
        self.decreases += 1


_WINDOW_FIELDS = ("limit", "cap", "fixed", "slow_start", "epoch", "best_rtt", "srtt", "decreases")


class Ticket:
    """One request's place in the window: what the session learns while sending it."""

    __slots__ = ("epoch", "pushback", "rtt")

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch
        self.rtt: float | None = None
        self.pushback = False


class HostPacer:
    """Blocks a request until its host's window has room. Thread-safe."""

    __slots__ = ("_cond", "_waiting", "in_flight", "peak", "window")

    def __init__(self, window: Window | None = None) -> None:
        self.window = window or Window()
        self.in_flight = 0
        self.peak = 0
        self._waiting = 0  # requests blocked in acquire: release wakes only when there are
        self._cond = threading.Condition()

    def acquire(self) -> Ticket:
        """Wait for room in the window; the request's ticket (hand it to `release`)."""
        with self._cond:
            while self.in_flight >= self.window.allowed:
                self._waiting += 1
                try:
                    self._cond.wait()
                finally:
                    self._waiting -= 1
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            return Ticket(self.window.epoch)

    def release(self, ticket: Ticket) -> None:
        """The request is done: the window learns what its ticket says."""
        with self._cond:
            self.in_flight -= 1
            self.window.completed(ticket.epoch, ticket.rtt, pushback=ticket.pushback)
            if self._waiting:
                room = self.window.allowed - self.in_flight
                if room > 0:
                    self._cond.notify(room)


__all__ = ["CAP", "LATENCY_FLOOR", "START", "HostPacer", "Ticket", "Window"]
