"""The thread pool `inspect` and `whatis` fetch on, and how a failed fetch becomes data."""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from truedigest.errors import TruedigestError
from truedigest.oci.registry import RegistryClient

T = TypeVar("T")


def fetch_pool(client: RegistryClient, workers: int | None) -> ThreadPoolExecutor:
    """`workers` threads (default: the client's per-host cap, at least 2: its pacer,
    not the pool, decides how many requests are in flight)."""
    return ThreadPoolExecutor(
        max_workers=workers or max(2, client.max_per_host), thread_name_prefix="truedigest"
    )


def error_of(fut: Future[T]) -> str | None:
    """The message of a TruedigestError the future raised; anything else re-raises."""
    exc = fut.exception()
    if exc is None:
        return None
    if isinstance(exc, TruedigestError):
        return exc.message
    raise exc


def outcome(fut: Future[T], errors: list[str], what: str) -> T | None:
    """The future's result, or None with `what: <message>` appended to `errors`."""
    error = error_of(fut)
    if error is not None:
        errors.append(f"{what}: {error}")
        return None
    return fut.result()


__all__ = ["error_of", "fetch_pool", "outcome"]
