"""The pins verdict line counts in words a person reads: one pin, two pins."""

from __future__ import annotations

import pytest

from truedigest.core.pin_audit import Disagreement, PinAudit, PinEntry, verdict_line
from truedigest.model.observation import Status


def _pin(n: int) -> PinEntry:
    return PinEntry(f"cp:cp{n}", f"cp{n}", "app", "global", None, None, Status.OK)


@pytest.mark.parametrize(
    ("pins", "expected"),
    [(0, "0 pins, 0 wrong"), (1, "1 pin, 0 wrong"), (2, "2 pins, 0 wrong")],
)
def test_the_pin_count_agrees_with_its_noun(pins: int, expected: str) -> None:
    audit = PinAudit("latest", tuple(_pin(i) for i in range(pins)), ())
    assert expected in verdict_line(audit)


def test_one_cp_disagreement_is_singular() -> None:
    one = Disagreement("app", "global", {"prod": "sha256:" + "a" * 64})
    line = verdict_line(PinAudit("latest", (_pin(0), _pin(1)), (one,)))
    assert line.endswith("1 CP disagreement")
