"""Regular expressions compiled on first use, not at import.

`re.compile` parses a pattern in pure Python: 0.1 to 1 ms a pattern on the CI
machine, which every run pays at start-up for each pattern its modules define, used
or not. Patterns that serve rare paths (an error message, a retry, a redirect, a
terminal) are defined with `LazyPattern`; the hot ones stay `re.compile`d.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable


class LazyPattern:
    """`re.compile(pattern, flags)` when first matched against; then that pattern.
    Thread-safe (two threads racing compile the same pattern twice, once wasted)."""

    __slots__ = ("_compiled", "_flags", "_pattern")

    def __init__(self, pattern: str, flags: int = 0) -> None:
        self._pattern = pattern
        self._flags = flags
        self._compiled: re.Pattern[str] | None = None

    @property
    def compiled(self) -> re.Pattern[str]:
        compiled = self._compiled
        if compiled is None:
            compiled = self._compiled = re.compile(self._pattern, self._flags)
        return compiled

    def search(self, string: str, pos: int = 0, endpos: int = sys.maxsize) -> re.Match[str] | None:
        return self.compiled.search(string, pos, endpos)

    def match(self, string: str, pos: int = 0, endpos: int = sys.maxsize) -> re.Match[str] | None:
        return self.compiled.match(string, pos, endpos)

    def fullmatch(
        self, string: str, pos: int = 0, endpos: int = sys.maxsize
    ) -> re.Match[str] | None:
        return self.compiled.fullmatch(string, pos, endpos)

    def sub(self, repl: str | Callable[[re.Match[str]], str], string: str, count: int = 0) -> str:
        return self.compiled.sub(repl, string, count)


__all__ = ["LazyPattern"]
