"""Referrers through the `sha256-<hex>` fallback tag, on the real registry (issue 9 item 5).

distribution 2.8 has no referrers API, so every lookup takes the tag-schema fallback.
Seeded once, from exact bytes:
- `gitlab`: an OCI index whose fallback tag is the index itself (GitLab resolves
  `sha256-<hex>` to the digest): its platform children are not its referrers;
- `imageindex`: a single image whose fallback tag holds another image's platform
  index: an index of images, not of referrers;
- `signed`: a single image whose fallback tag holds a real referrers index (one
  artifact naming it as `subject`): the control, listed as its referrer.
Expected digests come from the bytes.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from tests.support.cli import cli_env, run_cli
from tests.support.images import (
    OCI_INDEX,
    OCI_MANIFEST,
    Image,
    Index,
    Pusher,
    RegistryEndpoint,
    build_image,
    build_platform_index,
    canonical_json,
    push_image,
    push_index,
    sha256_digest,
)
from tests.support.registry import RegistryServer
from truedigest.engine.inspect_run import inspect
from truedigest.oci.digest import Digest
from truedigest.oci.reference import parse_reference
from truedigest.oci.registry import RegistryClient
from truedigest.oci.transport import ClientOptions

pytestmark = pytest.mark.integration

PusherFor = Callable[[RegistryEndpoint], Pusher]
EMPTY_CONFIG = b"{}"
SIG_TYPE = "application/vnd.example.signature.v1+json"


@dataclass(frozen=True)
class World:
    server: RegistryServer
    repo: str
    gitlab: Index
    single: Image
    other: Index
    signed: Image
    artifact: bytes

    def ref(self, tag: str) -> str:
        return f"{self.server.host}/{self.repo}:{tag}"


def _fallback_tag(digest: str) -> str:
    return digest.replace(":", "-")


def _artifact(subject: Image, blob: bytes) -> bytes:
    return canonical_json(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": SIG_TYPE,
            "config": {
                "mediaType": "application/vnd.oci.empty.v1+json",
                "digest": sha256_digest(EMPTY_CONFIG),
                "size": len(EMPTY_CONFIG),
            },
            "layers": [{"mediaType": SIG_TYPE, "digest": sha256_digest(blob), "size": len(blob)}],
            "subject": {"mediaType": OCI_MANIFEST, "digest": subject.digest, "size": subject.size},
        }
    )


@pytest.fixture(scope="module")
def world(registry_plain: RegistryServer, pusher_for: PusherFor) -> World:
    pusher = pusher_for(registry_plain)
    repo = f"fallback/app-{secrets.token_hex(4)}"
    gitlab = build_platform_index(repo, f"{repo}-gitlab")
    push_index(pusher, repo, gitlab, tag="gitlab")
    # GitLab: the fallback tag of the index is the index itself
    pusher.push_manifest(repo, _fallback_tag(gitlab.digest), gitlab.body, OCI_INDEX)

    single = build_image(repo, salt=f"{repo}-single")
    push_image(pusher, repo, single, "imageindex")
    other = build_platform_index(repo, f"{repo}-other")
    push_index(pusher, repo, other)
    pusher.push_manifest(repo, _fallback_tag(single.digest), other.body, OCI_INDEX)

    signed = build_image(repo, salt=f"{repo}-signed")
    push_image(pusher, repo, signed, "signed")
    blob = f"signature of {signed.digest}".encode()
    artifact = _artifact(signed, blob)
    pusher.push_blob(repo, EMPTY_CONFIG)
    pusher.push_blob(repo, blob)
    pusher.push_manifest(repo, sha256_digest(artifact), artifact, OCI_MANIFEST)
    listing = canonical_json(
        {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [
                {
                    "mediaType": OCI_MANIFEST,
                    "digest": sha256_digest(artifact),
                    "size": len(artifact),
                    "artifactType": SIG_TYPE,
                }
            ],
        }
    )
    pusher.push_manifest(repo, _fallback_tag(signed.digest), listing, OCI_INDEX)
    return World(registry_plain, repo, gitlab, single, other, signed, artifact)


@pytest.fixture
def client(world: World) -> RegistryClient:
    return RegistryClient(ClientOptions(plain_http=True))


def test_fallback_tag_that_is_the_subject_lists_no_referrers(
    world: World, client: RegistryClient
) -> None:
    with client:
        ref = parse_reference(world.ref("gitlab"))
        assert client.referrers(ref, Digest.parse(world.gitlab.digest)) == []
        result = inspect(client, ref)
    assert str(result.facts.digest) == world.gitlab.digest
    assert result.referrers == ()
    assert [str(c.digest) for c in result.children] == [m.digest for m in world.gitlab.manifests]
    assert all(c.referrers == () for c in result.children)
    assert result.errors == ()


def test_fallback_tag_holding_an_image_index_lists_no_referrers(
    world: World, client: RegistryClient
) -> None:
    with client:
        ref = parse_reference(world.ref("imageindex"))
        assert client.referrers(ref, Digest.parse(world.single.digest)) == []


def test_real_referrers_index_is_still_read(world: World, client: RegistryClient) -> None:
    with client:
        ref = parse_reference(world.ref("signed"))
        (referrer,) = client.referrers(ref, Digest.parse(world.signed.digest))
    assert str(referrer.digest) == sha256_digest(world.artifact)
    assert referrer.artifact_type == SIG_TYPE


def test_cli_inspect_of_the_gitlab_shape(
    world: World, tmp_path_factory: pytest.TempPathFactory
) -> None:
    env = cli_env(tmp_path_factory.mktemp("fallback-home"))
    result = run_cli(["inspect", "--plain-http", "-o", "json", world.ref("gitlab")], env)
    assert result.code == 0, str(result)
    doc = result.json()
    assert doc["referrers"] == [], str(result)
    children = {m.digest for m in world.gitlab.manifests}
    assert {c["digest"] for c in doc["children"]} == children
