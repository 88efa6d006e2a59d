"""Time and failure bounds under the transport: whole-response deadlines, dead hosts.

- A *response deadline* bounds a whole response, not each read: a per-read timeout
  lets headers or a body trickled one byte a second go on for ever. The transport
  under httpx (`lean.LeanTransport`) gives each connect, read and write only what
  `deadline_left()` says is left of the deadline the calling thread set with
  `response_deadline()` (a request's I/O all happens on the thread that sent it, so
  a thread-local is the request's own).
- `HostGuard` counts failures in a row per host (connect failures and whole-response
  timeouts); past a threshold, further requests to that host fail at once, so a
  registry that dies in the middle of `tags` costs a few attempts, not 400 retries.
"""

from __future__ import annotations

import threading
import time

from truedigest.errors import NetworkError

_bound = threading.local()


class response_deadline:
    """Within the block, this thread's socket operations end by `now + seconds`;
    yields the deadline (time.monotonic). A class, not a generator context: every
    request enters one."""

    __slots__ = ("_ends", "_previous")

    def __init__(self, seconds: float) -> None:
        self._ends = time.monotonic() + max(seconds, 0.0)
        self._previous: float | None = None

    def __enter__(self) -> float:
        self._previous = getattr(_bound, "ends", None)
        _bound.ends = self._ends
        return self._ends

    def __exit__(self, *_exc: object) -> None:
        _bound.ends = self._previous


def deadline_left(timeout: float | None, error: type[Exception]) -> float | None:
    """Seconds a socket operation may take: what is left of this thread's response
    deadline, at most `timeout` (None: no bound); raises `error` when none is left."""
    ends: float | None = getattr(_bound, "ends", None)
    if ends is None:
        return timeout
    left = ends - time.monotonic()
    if left <= 0:
        raise error("the whole-response deadline passed")
    return left if timeout is None else min(timeout, left)


class _HostState:
    __slots__ = ("failures", "last")

    def __init__(self) -> None:
        self.failures = 0
        self.last: NetworkError | None = None


class HostGuard:
    """Failures in a row per host; at `threshold`, the host is given up for the run."""

    def __init__(self, threshold: int) -> None:
        self.threshold = max(threshold, 1)
        self._hosts: dict[str, _HostState] = {}
        self._lock = threading.Lock()

    def check(self, host: str) -> None:
        """Raise (a copy of the last error, saying so) if `host` was given up."""
        state = self._hosts.get(host)  # a dict read is atomic: no lock while all is well
        if state is None or state.failures < self.threshold:
            return
        with self._lock:
            if state.failures < self.threshold or state.last is None:
                return
            last, failures = state.last, state.failures
        raise type(last)(
            f"{last.message} (gave up on {host} after {failures} failures in a row)",
            hint=last.instance_hint,
        )

    def failed(self, host: str, error: NetworkError) -> None:
        with self._lock:
            state = self._hosts.setdefault(host, _HostState())
            state.failures += 1
            state.last = error

    def answered(self, host: str) -> None:
        state = self._hosts.get(host)
        if state is None or state.failures == 0:  # the usual case: nothing to reset
            return
        with self._lock:
            state.failures = 0
