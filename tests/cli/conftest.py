"""Fixtures of the CLI tests: a respx registry the commands run on."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import respx

from tests.support.respx_registry import FakeRegistry


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> FakeRegistry:
    # an environment that holds no credentials and no config of the person running the tests
    for name in list(os.environ):
        if name.startswith(("TRUEDIGEST_", "DOCKER_", "REGISTRY_AUTH", "XDG_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path))
    return FakeRegistry(respx.Router(assert_all_mocked=True))
