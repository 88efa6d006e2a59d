"""A registry behind a respx router, for `truedigest` commands run through click's CliRunner.

The commands run on the real RegistryClient, built on an `httpx.MockTransport` and
handed to the CLI through its public seam (`Wiring`, passed as click's `obj`), so no
test touches the network. Manifest bytes are fixed here; digests are sha256 of them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

import httpx
import respx
from click.testing import CliRunner, Result

from truedigest.cli.main import cli
from truedigest.cli.wiring import Wiring
from truedigest.oci.auth import CredentialStore
from truedigest.oci.registry import RegistryClient
from truedigest.oci.transport import ClientOptions

REG = "reg.example"
REPO = "team/app"
REF = f"{REG}/{REPO}:v1"
MANIFEST_URL = f"https://{REG}/v2/{REPO}/manifests/v1"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


CONFIG = json.dumps({"os": "linux", "architecture": "amd64"}).encode()
MANIFEST = json.dumps(
    {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": digest_of(CONFIG),
            "size": len(CONFIG),
        },
        "layers": [],
    }
).encode()
INDEX = json.dumps(
    {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [
            {
                "mediaType": OCI_MANIFEST,
                "digest": digest_of(MANIFEST),
                "size": len(MANIFEST),
                "platform": {"os": "linux", "architecture": "amd64"},
            }
        ],
    }
).encode()


def manifest_response(body: bytes, media_type: str = OCI_MANIFEST) -> httpx.Response:
    return httpx.Response(
        200,
        headers={"Content-Type": media_type, "Docker-Content-Digest": digest_of(body)},
        content=body,
    )


def run(args: list[str], env: dict[str, str] | None = None, wiring: Wiring | None = None) -> Result:
    """`truedigest ARGS` in process; `wiring` builds its registry client."""
    return CliRunner().invoke(cli, args, prog_name="truedigest", env=env, obj=wiring)


@dataclass
class FakeRegistry:
    """The router answers every request; `options` records each client the CLI built."""

    router: respx.Router
    options: list[ClientOptions] = field(default_factory=list)

    def client(self, options: ClientOptions) -> RegistryClient:
        self.options.append(options)
        return RegistryClient(
            options,
            transport=httpx.MockTransport(self.router.handler),
            credentials=CredentialStore(),  # reads the (test's) environment
            sleep=lambda _seconds: None,
        )

    def run(self, args: list[str], env: dict[str, str] | None = None) -> Result:
        """`truedigest ARGS` on this registry."""
        return run(args, env, Wiring(registry_client=self.client))
