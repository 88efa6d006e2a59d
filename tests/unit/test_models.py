"""Shared values in models: the verdict's exit code."""

from __future__ import annotations

import pytest

from truedigest.errors import ExitCode
from truedigest.models import Report, Verdict


@pytest.mark.parametrize(
    ("verdict", "code"),
    [
        (Verdict.AGREE, 0),
        (Verdict.MISMATCH, 1),
        (Verdict.UNAVAILABLE, 3),
        (Verdict.ABSENT, 10),
    ],
)
def test_verdict_exit_code(verdict: Verdict, code: int) -> None:
    assert verdict.exit_code == code
    assert isinstance(verdict.exit_code, ExitCode)
    report = Report(verdict, None, ())
    assert report.exit_code == code
    assert report.to_json()["exit_code"] == code
