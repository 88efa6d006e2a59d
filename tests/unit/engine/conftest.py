"""Fixtures of the engine tests: an in-memory registry and a real client on it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.memory_registry import MemoryRegistry
from truedigest.oci.auth import CredentialStore
from truedigest.oci.registry import RegistryClient
from truedigest.oci.transport import ClientOptions


@pytest.fixture
def fake() -> MemoryRegistry:
    return MemoryRegistry()


@pytest.fixture
def client(fake: MemoryRegistry, tmp_path: Path) -> Iterator[RegistryClient]:
    """The real RegistryClient on `fake` (no sleeping between retries)."""
    with RegistryClient(
        ClientOptions(),
        transport=httpx.MockTransport(fake.handler),
        credentials=CredentialStore(env={"HOME": str(tmp_path)}),
        sleep=lambda _s: None,
    ) as c:
        yield c
