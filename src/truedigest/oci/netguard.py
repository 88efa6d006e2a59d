"""Time and failure bounds under the transport: whole-response deadlines, dead hosts.

- A *response deadline* bounds a whole response, not each read: httpcore gives every
  socket read the full read timeout, so headers or a body trickled one byte a second
  would never time out. `BoundedBackend` wraps httpcore's network backend and gives
  each connect, read and write only what is left of the deadline the calling thread
  set with `response_deadline()` (sync httpx does all of a request's I/O on the
  thread that sent it, so a thread-local is the request's own).
- `HostGuard` counts failures in a row per host (connect failures and whole-response
  timeouts); past a threshold, further requests to that host fail at once, so a
  registry that dies in the middle of `tags` costs a few attempts, not 400 retries.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpcore

from truedigest.errors import NetworkError

_bound = threading.local()


@contextmanager
def response_deadline(seconds: float) -> Iterator[float]:
    """Within the block, this thread's socket operations end by `now + seconds`;
    yields the deadline (time.monotonic)."""
    ends = time.monotonic() + max(seconds, 0.0)
    previous = getattr(_bound, "ends", None)
    _bound.ends = ends
    try:
        yield ends
    finally:
        _bound.ends = previous


def _left(timeout: float | None, error: type[Exception]) -> float | None:
    ends: float | None = getattr(_bound, "ends", None)
    if ends is None:
        return timeout
    left = ends - time.monotonic()
    if left <= 0:
        raise error("the whole-response deadline passed")
    return left if timeout is None else min(timeout, left)


class BoundedStream(httpcore.NetworkStream):
    """A network stream whose every operation ends by the thread's response deadline."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: Any,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        inner = self._inner.start_tls(
            ssl_context, server_hostname, _left(timeout, httpcore.ConnectTimeout)
        )
        return BoundedStream(inner)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class BoundedBackend(httpcore.NetworkBackend):
    """httpcore's backend, with connects and streams bounded by the response deadline."""

    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        stream = self._inner.connect_tcp(
            host, port, _left(timeout, httpcore.ConnectTimeout), local_address, socket_options
        )
        return BoundedStream(stream)

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        stream = self._inner.connect_unix_socket(
            path, _left(timeout, httpcore.ConnectTimeout), socket_options
        )
        return BoundedStream(stream)

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def bound(transport: Any) -> Any:
    """Install `BoundedBackend` in an `httpx.HTTPTransport`'s connection pool.

    httpx does not take a network backend, so this reaches into its pool (httpx 0.27
    and 0.28 keep it at `_pool._network_backend`); the hostile suite's trickle tests
    fail if a new httpx moves it.
    """
    pool = getattr(transport, "_pool", None)
    inner = getattr(pool, "_network_backend", None)
    if isinstance(inner, httpcore.NetworkBackend) and not isinstance(inner, BoundedBackend):
        pool._network_backend = BoundedBackend(inner)  # type: ignore[union-attr]
    return transport


@dataclass
class _HostState:
    failures: int = 0
    last: NetworkError | None = None


class HostGuard:
    """Failures in a row per host; at `threshold`, the host is given up for the run."""

    def __init__(self, threshold: int) -> None:
        self.threshold = max(threshold, 1)
        self._hosts: dict[str, _HostState] = {}
        self._lock = threading.Lock()

    def check(self, host: str) -> None:
        """Raise (a copy of the last error, saying so) if `host` was given up."""
        with self._lock:
            state = self._hosts.get(host)
            if state is None or state.failures < self.threshold or state.last is None:
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
        with self._lock:
            state = self._hosts.get(host)
            if state is not None:
                state.failures = 0
