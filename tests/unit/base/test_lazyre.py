"""base.lazyre.LazyPattern: compiled on first use, then the same answers as re."""

from __future__ import annotations

import re

import pytest

from truedigest.base.lazyre import LazyPattern


def test_nothing_is_compiled_until_the_pattern_is_used() -> None:
    broken = LazyPattern("(unclosed")  # re.compile would raise here
    with pytest.raises(re.error):
        broken.search("x")


@pytest.mark.parametrize(
    ("pattern", "flags", "text"),
    [
        (r"[0-9]+", re.A, "Retry-After: 120"),
        (r"(?i)\b(bearer|basic)(\s+)(\S{6,})", 0, "Authorization: Bearer abcdefgh"),
        (r"%(?![0-9A-Fa-f]{2})", 0, "/a%zz/%41"),
    ],
)
def test_answers_as_re_does(pattern: str, flags: int, text: str) -> None:
    lazy, eager = LazyPattern(pattern, flags), re.compile(pattern, flags)
    assert lazy.compiled is lazy.compiled  # compiled once
    for method in ("search", "match", "fullmatch"):
        ours, theirs = getattr(lazy, method)(text), getattr(eager, method)(text)
        assert (ours and ours.span()) == (theirs and theirs.span())
    assert lazy.sub("*", text) == eager.sub("*", text)
    assert lazy.sub(lambda m: m.group(0).upper(), text, 1) == eager.sub(
        lambda m: m.group(0).upper(), text, 1
    )
