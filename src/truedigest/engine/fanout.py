"""A few calls at once, each on its own thread: the sources of one `verify` round.

`concurrent.futures` would do, but it imports `logging` (and `logging` imports
`traceback`, `string`, `weakref`…): about 5 ms of every `verify` start-up on the CI
machine, for a pool that lives one round. Bulk work (`tags`, `inspect`, `whatis`)
keeps its thread pools.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")


def gather(calls: Sequence[Callable[[], T]]) -> list[T]:
    """Every call's result, in order. The calling thread runs the first call and one
    thread each runs the others; all are waited for. The first call (in order) that
    raised has its exception re-raised."""
    results: list[T | None] = [None] * len(calls)
    errors: list[BaseException | None] = [None] * len(calls)

    def run(i: int) -> None:
        try:
            results[i] = calls[i]()
        except BaseException as exc:  # handed to the caller below, as a pool would
            errors[i] = exc

    threads = [
        threading.Thread(target=run, args=(i,), name="truedigest-source", daemon=True)
        for i in range(1, len(calls))
    ]
    for thread in threads:
        thread.start()
    if calls:
        run(0)
    for thread in threads:
        thread.join()
    for error in errors:
        if error is not None:
            raise error
    return results  # type: ignore[return-value]  # every slot was filled


__all__ = ["gather"]
