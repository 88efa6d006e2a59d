"""Calls at once on plain threads: the sources of one `verify` round (`gather`), and
one call per item on a bounded number of workers (`each`: the tags of `tags`).

`concurrent.futures` would do, but it imports `logging` (about 5 ms of every
`verify` start-up on the CI machine), and a pool's `map` makes a Future (a lock and
a condition) per item that the caller then waits on one by one: for 3000 tags,
thousands of thread hand-offs the workers below do without. `inspect` and `whatis`
keep their thread pools.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")
Item = TypeVar("Item")


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


def each(call: Callable[[Item], T], items: Sequence[Item], workers: int) -> list[T]:
    """`call(item)` for every item, on at most `workers` threads; the results in
    the items' order. The first exception a call raised (in the items' order) is
    re-raised once every worker has stopped; workers stop taking items after one."""
    results: list[T | None] = [None] * len(items)
    errors: list[tuple[int, BaseException]] = []
    taken = itertools.count()  # next() on it is atomic: the workers share it, no lock

    def work() -> None:
        while not errors:
            index = next(taken)
            if index >= len(items):
                return
            try:
                results[index] = call(items[index])
            except BaseException as exc:  # handed to the caller below
                errors.append((index, exc))  # list.append is atomic
                return

    threads = [
        threading.Thread(target=work, name=f"truedigest-{n}", daemon=True)
        for n in range(max(1, min(workers, len(items))) - 1)
    ]
    for thread in threads:
        thread.start()
    work()  # the calling thread is one of the workers
    for thread in threads:
        thread.join()
    if errors:
        raise min(errors, key=lambda pair: pair[0])[1]
    return results  # type: ignore[return-value]  # every slot was filled


__all__ = ["each", "gather"]
