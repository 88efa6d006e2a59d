"""Settings every test folder shares: nothing but per-test isolation of global state."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from truedigest.base import redact


@pytest.fixture(autouse=True)
def _no_secrets_carried_over() -> Iterator[None]:
    """Every Secret registers its value with `redact` for the run (a CLI process).
    In-process tests share one interpreter: forget them after each test, so one
    test's secret (say, "manifest") does not mask another test's output."""
    yield
    redact.forget_all()
