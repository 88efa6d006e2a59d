"""What a test needs from the machine: skip locally, fail in CI (CI=true).

In CI the integration tests must run: a missing registry binary (or skopeo, podman,
shellcheck …) is a failure there, never a silent skip.
"""

from __future__ import annotations

import os

import pytest

from tests.support.registry import registry_binary


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"true", "1"}


def require_tool(available: bool, what: str, package: str) -> None:
    """Skip (locally) or fail (in CI) when a tool the test needs is missing."""
    if available:
        return
    message = f"{what} not found on PATH (apt-get install {package})"
    if in_ci():
        pytest.fail(f"CI=true and {message}", pytrace=False)
    pytest.skip(message)


def require_registry() -> None:
    require_tool(registry_binary() is not None, "the registry binary", "docker-registry")
