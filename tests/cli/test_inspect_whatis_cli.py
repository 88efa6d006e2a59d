"""`inspect` and `whatis` through click: usage errors, and a partial answer exits 3.

The partial case runs the real RegistryClient on an in-memory registry, handed to
the CLI through its public seam (`Wiring`, passed as click's `obj`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from tests.support.images import sha256_digest
from tests.support.memory_registry import REG, REPO, MemoryRegistry, seed
from truedigest.cli.main import cli
from truedigest.cli.wiring import Wiring
from truedigest.errors import ExitCode
from truedigest.oci.auth import CredentialStore
from truedigest.oci.registry import RegistryClient
from truedigest.oci.transport import ClientOptions


@pytest.fixture
def fake() -> MemoryRegistry:
    return MemoryRegistry()


@pytest.fixture
def client(fake: MemoryRegistry, tmp_path: Path) -> Iterator[RegistryClient]:
    with RegistryClient(
        ClientOptions(),
        transport=httpx.MockTransport(fake.handler),
        credentials=CredentialStore(env={"HOME": str(tmp_path)}),
        sleep=lambda _s: None,
    ) as c:
        yield c


def test_cli_whatis_usage_errors() -> None:
    runner = CliRunner()
    for args in (
        ["whatis", "sha256:abc", "--repo", f"{REG}/{REPO}"],
        ["whatis", sha256_digest(b"x"), "--repo", f"{REG}/{REPO}:v1"],
        ["whatis", sha256_digest(b"x")],
    ):
        result = runner.invoke(cli, args)
        assert result.exit_code == ExitCode.USAGE, (args, result.output)


def test_cli_partial_inspect_prints_the_document_and_exits_3(
    fake: MemoryRegistry, client: RegistryClient
) -> None:
    s = seed(fake)
    del fake.manifests[s.arm64.digest]

    def on_fake(_options: Any, **_kwargs: Any) -> RegistryClient:
        return client

    result = CliRunner().invoke(
        cli, ["inspect", f"{REG}/{REPO}:v1", "-o", "json"], obj=Wiring(registry_client=on_fake)
    )

    assert result.exit_code == ExitCode.UNAVAILABLE, result.output
    doc = json.loads(result.stdout)
    assert doc["digest"] == s.index_digest
    assert doc["children"][1]["error"] is not None
    assert result.stderr.startswith(f"warning: could not read child {s.arm64.digest}: ")
