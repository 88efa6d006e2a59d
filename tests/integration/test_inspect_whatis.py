"""`truedigest inspect` and `truedigest whatis` against real registries (DESIGN §2, §3, §4).

Each registry (plain and token auth) is seeded once, from exact bytes built by
`tests.support.images`:
- `multi` and `multi-alias`: an OCI index of linux/amd64 (two layers, manifest
  annotations) + linux/arm64/v8, with a buildx-style attestation for amd64;
- `docker`: a Docker schema2 image;
- referrers through the tag schema (distribution 2.8 has no referrers API): an
  artifact manifest with `artifactType` and `subject` = the index, listed by an
  OCI index tagged `sha256-<hex of the index>`; and one for the amd64 child;
- an image pushed by digest only (no tag), for untagged manifests and configs.
Every expected digest and size is computed here from those bytes.

The library calls expose request counts; a few cases also run the real CLI in a
subprocess (piped text has no escape codes, JSON has the DESIGN keys, exit codes).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import cli_env, registry_credentials, run_cli_many, transport_flags
from tests.support.images import (
    DOCKER_MANIFEST,
    OCI_INDEX,
    OCI_MANIFEST,
    Image,
    Index,
    Pusher,
    RegistryEndpoint,
    build_image,
    build_platform_index,
    canonical_json,
    once_per_registry,
    push_image,
    push_index,
    sha256_digest,
)
from tests.support.registry import RegistryServer
from truedigest.core.classify import Kind, WhatIs
from truedigest.core.facts import Inspection
from truedigest.engine.inspect_run import inspect
from truedigest.engine.whatis_run import whatis
from truedigest.errors import ExitCode, NotFoundError
from truedigest.oci.auth import CredentialStore
from truedigest.oci.digest import Digest
from truedigest.oci.reference import parse_reference, parse_repository
from truedigest.oci.registry import RegistryClient
from truedigest.oci.transport import ClientOptions
from truedigest.render.forensics_view import (
    inspect_document,
    inspect_tree,
    render_plain,
    whatis_document,
)

PusherFor = Callable[[RegistryEndpoint], Pusher]

INSPECT_KEYS = {
    "schema",
    "reference",
    "digest",
    "media_type",
    "size",
    "annotations",
    "config_digest",
    "children",
    "referrers",
}
CHILD_KEYS = {
    "digest",
    "media_type",
    "size",
    "platform",
    "attestation",
    "config_digest",
    "layers",
    "layers_size",
    "annotations",
}
REFERRER_KEYS = {"digest", "artifact_type", "media_type"}
WHATIS_KEYS = {"schema", "digest", "repository", "kind", "platform", "tags", "parents"}
# Keys added beyond DESIGN §4 (allowed: "more keys may be added"); pinned so drift shows.
INSPECT_EXTRA = {
    "cosign",
    "schema_version",
    "registry",
    "repository",
    "tag",
    "kind",
    "layers",
    "layers_size",
    "created",
    "revision",
    "revision_source",
    "source",
    "platform",
    "artifact_type",
    "subject",
    "errors",
}
CHILD_EXTRA = {
    "cosign",
    "created",
    "revision",
    "revision_source",
    "source",
    "attests",
    "attached_to",
    "subject",
    "artifact_type",
    "predicate_types",
    "referrers",
    "error",
}
REFERRER_EXTRA = {"size", "annotations"}
WHATIS_EXTRA = {
    "indexes",
    "media_type",
    "size",
    "attests",
    "artifact_type",
    "revision",
    "revision_source",
    "detail",
    "tags_checked",
    "errors",
}

EMPTY_CONFIG = b"{}"
EMPTY_MEDIA_TYPE = "application/vnd.oci.empty.v1+json"
SBOM_TYPE = "application/vnd.example.sbom.v1+json"
SIG_TYPE = "application/vnd.example.signature.v1+json"
CREATED = "org.opencontainers.image.created"
REVISION = "org.opencontainers.image.revision"
SOURCE = "org.opencontainers.image.source"


# --------------------------------------------------------------------------- artifacts


@dataclass(frozen=True)
class Artifact:
    """An OCI artifact manifest (a referrer of `subject`) and its one blob."""

    manifest: bytes
    blob: bytes
    artifact_type: str
    subject: str

    @property
    def digest(self) -> str:
        return sha256_digest(self.manifest)

    def descriptor(self) -> dict[str, Any]:
        return {
            "mediaType": OCI_MANIFEST,
            "digest": self.digest,
            "size": len(self.manifest),
            "artifactType": self.artifact_type,
        }


def build_artifact(
    subject_digest: str, subject_size: int, subject_type: str, artifact_type: str, text: str
) -> Artifact:
    blob = canonical_json({"about": subject_digest, "text": text})
    manifest = canonical_json(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": artifact_type,
            "config": {
                "mediaType": EMPTY_MEDIA_TYPE,
                "digest": sha256_digest(EMPTY_CONFIG),
                "size": len(EMPTY_CONFIG),
            },
            "layers": [
                {"mediaType": "application/json", "digest": sha256_digest(blob), "size": len(blob)}
            ],
            "subject": {"mediaType": subject_type, "digest": subject_digest, "size": subject_size},
        }
    )
    return Artifact(manifest, blob, artifact_type, subject_digest)


def referrers_index(artifacts: Sequence[Artifact]) -> bytes:
    """The `sha256-<hex>` tag-schema index listing `artifacts`."""
    return canonical_json(
        {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [a.descriptor() for a in artifacts],
        }
    )


def push_referrers(pusher: Pusher, repo: str, artifacts: Sequence[Artifact]) -> str:
    """Push the artifacts by digest and their subject's tag-schema index."""
    subject = artifacts[0].subject
    for artifact in artifacts:
        pusher.push_blob(repo, EMPTY_CONFIG)
        pusher.push_blob(repo, artifact.blob)
        pusher.push_manifest(repo, artifact.digest, artifact.manifest, OCI_MANIFEST)
    tag = subject.replace(":", "-")
    return pusher.push_manifest(repo, tag, referrers_index(artifacts), OCI_INDEX)


# --------------------------------------------------------------------------- seeding


@dataclass(frozen=True)
class Seeded:
    server: RegistryServer
    repo: str
    index: Index
    amd64: Image
    arm64: Image
    attestation: Image
    docker: Image
    untagged: Image
    index_sbom: Artifact
    amd64_sig: Artifact
    index_referrers_tag: str
    amd64_referrers_tag: str

    def ref(self, tag: str) -> str:
        return f"{self.server.host}/{self.repo}:{tag}"

    @property
    def repository(self) -> str:
        return f"{self.server.host}/{self.repo}"

    @property
    def tags(self) -> list[str]:
        return sorted(
            ["multi", "multi-alias", "docker", self.index_referrers_tag, self.amd64_referrers_tag]
        )


def _seed(server: RegistryServer, pusher: Pusher) -> Seeded:
    repo = f"forensics/{server.variant}/app"
    index = build_platform_index(
        repo,
        "forensics-index",
        amd64_layers=2,
        amd64_annotations={REVISION: "0123456789abcdef0123456789abcdef01234567"},
        annotations={SOURCE: "https://example.test/index"},
    )
    amd64, arm64 = index.images
    attestation = index.manifests[-1]
    docker = build_image(repo, docker=True, salt="forensics-docker", layers=3)
    untagged = build_image(repo, salt="forensics-untagged")
    assert push_index(pusher, repo, index, tag="multi") == index.digest
    assert pusher.push_manifest(repo, "multi-alias", index.body, index.media_type)
    assert push_image(pusher, repo, docker, "docker") == docker.digest
    assert push_image(pusher, repo, untagged) == untagged.digest
    index_sbom = build_artifact(index.digest, index.size, OCI_INDEX, SBOM_TYPE, "sbom")
    amd64_sig = build_artifact(amd64.digest, amd64.size, OCI_MANIFEST, SIG_TYPE, "sig")
    push_referrers(pusher, repo, [index_sbom])
    push_referrers(pusher, repo, [amd64_sig])
    return Seeded(
        server,
        repo,
        index,
        amd64,
        arm64,
        attestation,
        docker,
        untagged,
        index_sbom,
        amd64_sig,
        index.digest.replace(":", "-"),
        amd64.digest.replace(":", "-"),
    )


@pytest.fixture(scope="module")
def seed(pusher_for: PusherFor) -> Callable[[RegistryServer], Seeded]:
    """`seed(server)`: push everything above once per registry and return what was pushed."""
    return once_per_registry(lambda server: _seed(server, pusher_for(server)))


@pytest.fixture(params=["plain", "token"])
def registry(request: pytest.FixtureRequest) -> RegistryServer:
    """The plain registry, then the token-auth one."""
    server: RegistryServer = request.getfixturevalue(f"registry_{request.param}")
    return server


@pytest.fixture
def client_for(tmp_path: Path) -> Iterator[Callable[[RegistryServer], RegistryClient]]:
    clients: list[RegistryClient] = []

    def make(server: RegistryServer) -> RegistryClient:
        env = {"HOME": str(tmp_path), **registry_credentials(server)}
        options = ClientOptions(plain_http=server.scheme == "http", ca_file=server.ca_file)
        clients.append(RegistryClient(options, credentials=CredentialStore(env=env)))
        return clients[-1]

    yield make
    for client in clients:
        client.close()


def do_inspect(client: RegistryClient, ref: str) -> Inspection:
    return inspect(client, parse_reference(ref))


def do_whatis(client: RegistryClient, seeded: Seeded, digest: str) -> WhatIs:
    return whatis(client, parse_repository(seeded.repository), Digest.parse(digest))


def layers_size(image: Image) -> int:
    return sum(len(layer) for layer in image.layers)


# =========================================================================== inspect


def test_inspect_index_tree(
    registry: RegistryServer,
    seed: Callable[[RegistryServer], Seeded],
    client_for: Callable[[RegistryServer], RegistryClient],
) -> None:
    seeded = seed(registry)

    result = do_inspect(client_for(registry), seeded.ref("multi"))

    assert result.errors == ()
    assert result.exit_code == ExitCode.OK
    doc = inspect_document(result)
    assert set(doc) == INSPECT_KEYS | INSPECT_EXTRA
    assert doc["schema"] == "truedigest.inspect/v1"
    assert doc["reference"] == seeded.ref("multi")
    assert doc["digest"] == seeded.index.digest
    assert doc["media_type"] == OCI_INDEX
    assert doc["size"] == len(seeded.index.body)
    assert doc["annotations"] == {SOURCE: "https://example.test/index"}
    assert doc["source"] == "https://example.test/index"
    assert doc["config_digest"] is None
    children = doc["children"]
    assert [c["digest"] for c in children] == [m.digest for m in seeded.index.manifests]
    for child in children:
        assert set(child) == CHILD_KEYS | CHILD_EXTRA
    amd64, arm64, att = children
    for got, image in ((amd64, seeded.amd64), (arm64, seeded.arm64), (att, seeded.attestation)):
        assert got["platform"] == image.platform
        assert got["media_type"] == image.media_type
        assert got["size"] == len(image.manifest)
        assert got["config_digest"] == image.config_digest
        assert got["layers"] == len(image.layers)
        assert got["layers_size"] == layers_size(image)
        assert got["error"] is None
    assert [c["attestation"] for c in children] == [False, False, True]
    assert att["attests"] == seeded.amd64.digest
    assert att["predicate_types"] == ["https://slsa.dev/provenance/v0.2"]
    # created/revision/source: the manifest annotation wins over the config label
    assert amd64["revision"] == "0123456789abcdef0123456789abcdef01234567"
    assert arm64["revision"] != amd64["revision"]
    assert arm64["revision"] == json.loads(seeded.arm64.config)["config"]["Labels"][REVISION]
    assert arm64["source"] == f"https://example.test/{seeded.repo}"
    assert arm64["created"] == json.loads(seeded.arm64.config)["created"]
    # referrers through the sha256-<hex> tag schema: of the index, and of the amd64 child
    assert doc["referrers"] == [
        {
            "digest": seeded.index_sbom.digest,
            "artifact_type": SBOM_TYPE,
            "media_type": OCI_MANIFEST,
            "size": len(seeded.index_sbom.manifest),
            "annotations": {},
        }
    ]
    assert [r["digest"] for r in amd64["referrers"]] == [seeded.amd64_sig.digest]
    assert amd64["referrers"][0]["artifact_type"] == SIG_TYPE
    assert arm64["referrers"] == []
    for referrer in [*doc["referrers"], *amd64["referrers"]]:
        assert set(referrer) == REFERRER_KEYS | REFERRER_EXTRA

    text = render_plain(inspect_tree(result))
    assert text.startswith(f"{seeded.ref('multi')}  (OCI index, 3 manifests)\n")
    assert f"  linux/amd64  {seeded.amd64.digest}\n" in text
    assert f"  linux/arm64/v8  {seeded.arm64.digest}\n" in text
    att_line = (
        f"unknown/unknown  {seeded.attestation.digest}  (attestation for {seeded.amd64.digest})"
    )
    assert f"\n  {att_line}\n" in text
    assert f"    config: {seeded.amd64.config_digest}\n" in text
    assert f"    layers: 2, {layers_size(seeded.amd64)} bytes" in text
    assert f"\n    {seeded.index_sbom.digest}  {SBOM_TYPE}  ({OCI_MANIFEST})\n" in text
    assert f"\n      {seeded.amd64_sig.digest}  {SIG_TYPE}  ({OCI_MANIFEST})\n" in text


def test_inspect_docker_single_manifest(
    registry: RegistryServer,
    seed: Callable[[RegistryServer], Seeded],
    client_for: Callable[[RegistryServer], RegistryClient],
) -> None:
    seeded = seed(registry)
    image = seeded.docker

    doc = inspect_document(do_inspect(client_for(registry), seeded.ref("docker")))

    config = json.loads(image.config)
    assert doc["digest"] == image.digest
    assert doc["media_type"] == DOCKER_MANIFEST
    assert doc["size"] == len(image.manifest)
    assert doc["config_digest"] == image.config_digest
    assert doc["layers"] == 3
    assert doc["layers_size"] == layers_size(image)
    assert doc["platform"] == "linux/amd64"
    assert doc["created"] == config["created"]
    assert doc["revision"] == config["config"]["Labels"][REVISION]
    assert doc["source"] == config["config"]["Labels"][SOURCE]
    assert doc["annotations"] == {}
    assert doc["children"] == []
    assert doc["referrers"] == []
    assert doc["errors"] == []


def test_inspect_request_counts(
    registry_plain: RegistryServer,
    seed: Callable[[RegistryServer], Seeded],
    client_for: Callable[[RegistryServer], RegistryClient],
) -> None:
    """Index: itself, each child, each image child's config, referrers (API + tag) and
    cosign's .sig and .att tags of the top and of each image child, and each provenance
    attestation's statement layer. Single manifest: itself, config, referrers, cosign tags."""
    seeded = seed(registry_plain)
    images = len(seeded.index.images)
    client = client_for(registry_plain)

    do_inspect(client, seeded.ref("multi"))
    provenance = len(seeded.index.manifests) - images
    assert client.requests_made == (
        1 + len(seeded.index.manifests) + images + 2 * (1 + images) + 2 * (1 + images) + provenance
    )

    before = client.requests_made
    do_inspect(client, seeded.ref("docker"))
    assert client.requests_made - before == 1 + 1 + 2 + 2


def test_inspect_absent_tag_raises_not_found(
    registry: RegistryServer,
    seed: Callable[[RegistryServer], Seeded],
    client_for: Callable[[RegistryServer], RegistryClient],
) -> None:
    seeded = seed(registry)
    with pytest.raises(NotFoundError) as caught:
        do_inspect(client_for(registry), seeded.ref("never-pushed"))
    assert caught.value.exit_code == ExitCode.ABSENT


# =========================================================================== whatis


def test_whatis_index(
    registry: RegistryServer,
    seed: Callable[[RegistryServer], Seeded],
    client_for: Callable[[RegistryServer], RegistryClient],
) -> None:
    seeded = seed(registry)

    result = do_whatis(client_for(registry), seeded, seeded.index.digest)

    assert result.kind is Kind.INDEX
    assert result.exit_code == ExitCode.OK
    assert result.tags == ("multi", "multi-alias")
    assert result.parents == ()
    assert result.platform is None
    assert result.media_type == OCI_INDEX
    assert result.size == len(seeded.index.body)
    assert result.tags_checked == len(seeded.tags)
    assert "linux/amd64, linux/arm64/v8 + 1 attestation" in result.detail
    doc = whatis_document(result)
    assert set(doc) == WHATIS_KEYS | WHATIS_EXTRA
    assert doc["schema"] == "truedigest.whatis/v1"
    assert doc["repository"] == seeded.repository
    assert doc["digest"] == seeded.index.digest
    assert doc["kind"] == "index"


@pytest.mark.parametrize("which", ["amd64", "arm64"])
def test_whatis_platform_manifest(
    registry: RegistryServer,
    which: str,
    seed: Callable[[RegistryServer], Seeded],
    client_for: Callable[[RegistryServer], RegistryClient],
) -> None:
    seeded = seed(registry)
    image: Image = getattr(seeded, which)

    result = do_whatis(client_for(registry), seeded, image.digest)

    assert result.kind is Kind.MANIFEST
    assert str(result.platform) == image.platform
    assert [str(p) for p in result.parents] == [seeded.index.digest]
    assert result.tags == ("multi", "multi-alias")
    assert result.media_type == OCI_MANIFEST
    assert result.size == len(image.manifest)
    assert f"the {image.platform} platform manifest of index {seeded.index.digest}" in (
        result.detail
    )
    assert "tags through its index: multi, multi-alias" in result.detail


def test_whatis_docker_manifest_platform_from_config(
    registry: RegistryServer,
    seed: Callable[[RegistryServer], Seeded],
    client_for: Callable[[RegistryServer], RegistryClient],
) -> None:
    seeded = seed(registry)

    result = do_whatis(client_for(registry), seeded, seeded.docker.digest)

    assert result.kind is Kind.MANIFEST
    assert str(result.platform) == "linux/amd64"
    assert result.tags == ("docker",)
    assert result.parents == ()
    assert result.media_type == DOCKER_MANIFEST


def test_whatis_untagged_manifest_and_its_config(
    registry: RegistryServer,
    seed: Callable[[RegistryServer], Seeded],
    client_for: Callable[[RegistryServer], RegistryClient],
) -> None:
    seeded = seed(registry)
    client = client_for(registry)

    manifest = do_whatis(client, seeded, seeded.untagged.digest)
    config = do_whatis(client, seeded, seeded.untagged.config_digest)

    assert manifest.kind is Kind.MANIFEST
    assert (manifest.tags, manifest.parents) == ((), ())
    assert str(manifest.platform) == "linux/amd64"
    assert "no tag points at it" in manifest.detail
    # No tagged manifest uses this config: it is recognised by its content.
    assert config.kind is Kind.CONFIG
    assert (config.tags, config.parents) == ((), ())
    assert str(config.platform) == "linux/amd64"
    assert "no manifest under its" in config.detail


def test_whatis_attestation(
    registry: RegistryServer,
    seed: Callable[[RegistryServer], Seeded],
    client_for: Callable[[RegistryServer], RegistryClient],
) -> None:
    seeded = seed(registry)

    result = do_whatis(client_for(registry), seeded, seeded.attestation.digest)

    assert result.kind is Kind.ATTESTATION
    assert str(result.attests) == seeded.amd64.digest
    assert [str(p) for p in result.parents] == [seeded.index.digest]
    assert result.tags == ("multi", "multi-alias")
    assert result.platform is None
    assert f"for the linux/amd64 manifest {seeded.amd64.digest}" in result.detail


def test_whatis_referrer_artifact_is_an_attestation(
    registry: RegistryServer,
    seed: Callable[[RegistryServer], Seeded],
    client_for: Callable[[RegistryServer], RegistryClient],
) -> None:
    seeded = seed(registry)

    result = do_whatis(client_for(registry), seeded, seeded.index_sbom.digest)

    assert result.kind is Kind.ATTESTATION
    assert str(result.attests) == seeded.index.digest
    assert result.artifact_type == SBOM_TYPE
    assert result.tags == (seeded.index_referrers_tag,)
    assert [str(p) for p in result.parents] == [sha256_digest(referrers_index([seeded.index_sbom]))]


@pytest.mark.parametrize(
    ("which", "platform"), [("amd64", "linux/amd64"), ("arm64", "linux/arm64/v8")]
)
def test_whatis_config_of_platform_manifest(
    registry: RegistryServer,
    which: str,
    platform: str,
    seed: Callable[[RegistryServer], Seeded],
    client_for: Callable[[RegistryServer], RegistryClient],
) -> None:
    seeded = seed(registry)
    image: Image = getattr(seeded, which)

    result = do_whatis(client_for(registry), seeded, image.config_digest)

    assert result.kind is Kind.CONFIG
    assert [str(p) for p in result.parents] == [image.digest]
    assert [str(i) for i in result.indexes] == [seeded.index.digest]
    assert str(result.platform) == platform
    assert result.tags == ("multi", "multi-alias")
    assert result.media_type == image.config_media_type
    assert f"manifest {image.digest} ({platform})" in result.detail


def test_whatis_config_of_docker_image(
    registry: RegistryServer,
    seed: Callable[[RegistryServer], Seeded],
    client_for: Callable[[RegistryServer], RegistryClient],
) -> None:
    seeded = seed(registry)

    result = do_whatis(client_for(registry), seeded, seeded.docker.config_digest)

    assert result.kind is Kind.CONFIG
    assert [str(p) for p in result.parents] == [seeded.docker.digest]
    assert result.indexes == ()
    assert result.tags == ("docker",)
    assert str(result.platform) == "linux/amd64"  # read from the config blob itself


def test_whatis_layer(
    registry: RegistryServer,
    seed: Callable[[RegistryServer], Seeded],
    client_for: Callable[[RegistryServer], RegistryClient],
) -> None:
    seeded = seed(registry)
    client = client_for(registry)

    result = do_whatis(client, seeded, seeded.amd64.layer_digests[1])
    statement = do_whatis(client, seeded, seeded.attestation.layer_digests[0])

    assert result.kind is Kind.LAYER
    assert [str(p) for p in result.parents] == [seeded.amd64.digest]
    assert str(result.platform) == "linux/amd64"
    assert result.tags == ("multi", "multi-alias")
    assert result.media_type == seeded.amd64.layer_media_type
    # the in-toto statement is a layer of the attestation manifest
    assert statement.kind is Kind.LAYER
    assert [str(p) for p in statement.parents] == [seeded.attestation.digest]


def test_whatis_absent(
    registry: RegistryServer,
    seed: Callable[[RegistryServer], Seeded],
    client_for: Callable[[RegistryServer], RegistryClient],
) -> None:
    seeded = seed(registry)
    client = client_for(registry)
    absent = sha256_digest(b"never pushed anywhere")

    result = do_whatis(client, seeded, absent)

    assert result.kind is Kind.ABSENT
    assert result.exit_code == ExitCode.ABSENT
    assert (result.tags, result.parents, result.platform) == ((), (), None)
    assert whatis_document(result)["kind"] == "absent"


def test_whatis_request_counts(
    registry_plain: RegistryServer,
    seed: Callable[[RegistryServer], Seeded],
    client_for: Callable[[RegistryServer], RegistryClient],
) -> None:
    """Manifest kinds: GET + tag listing + one GET per tag. Blobs: GET (404) + HEAD +
    listing + tags + the image children of the tagged indexes. Absent: GET + HEAD."""
    seeded = seed(registry_plain)
    client = client_for(registry_plain)
    n_tags = len(seeded.tags)

    def cost(digest: str) -> int:
        before = client.requests_made
        do_whatis(client, seeded, digest)
        return client.requests_made - before

    assert cost(seeded.index.digest) == 1 + 1 + n_tags
    # + its config: no revision annotation, so the revision label is looked for
    assert cost(seeded.arm64.digest) == 1 + 1 + n_tags + 1
    # amd64 + arm64 of `multi`, and the two artifacts the referrers indexes list
    image_children = len(seeded.index.images) + 2
    assert cost(seeded.arm64.config_digest) == 2 + 1 + n_tags + image_children
    assert cost(sha256_digest(b"absent")) == 2


# =========================================================================== CLI


def test_cli_inspect_and_whatis(
    registry: RegistryServer,
    seed: Callable[[RegistryServer], Seeded],
    tmp_path: Path,
) -> None:
    seeded = seed(registry)
    repo = seeded.repository
    flags = transport_flags(registry)
    calls = [
        ["inspect", *flags, seeded.ref("multi")],
        ["inspect", *flags, seeded.ref("multi"), "-o", "json"],
        ["inspect", *flags, seeded.ref("never-pushed")],
        ["whatis", *flags, seeded.arm64.config_digest, "--repo", repo, "-o", "json"],
        ["whatis", *flags, seeded.arm64.digest, "--repo", repo],
        ["whatis", *flags, sha256_digest(b"absent"), "--repo", repo, "-o", "json"],
        ["whatis", *flags, "sha256:1234", "--repo", repo],
        ["whatis", *flags, seeded.arm64.digest, "--repo", seeded.ref("multi")],
    ]
    env = cli_env(tmp_path, NO_COLOR=None, **registry_credentials(registry))
    tree, doc, absent_tag, config, manifest, absent, bad_digest, tagged_repo = run_cli_many(
        [(args, env) for args in calls]
    )

    assert tree.code == 0, str(tree)
    assert "\x1b" not in tree.stdout
    assert tree.stdout.startswith(f"{seeded.ref('multi')}  (OCI index, 3 manifests)\n")
    assert f"  linux/arm64/v8  {seeded.arm64.digest}\n" in tree.stdout
    assert tree.stderr == ""

    assert doc.code == 0, str(doc)
    parsed = json.loads(doc.stdout)
    assert set(parsed) == INSPECT_KEYS | INSPECT_EXTRA
    assert all(set(c) == CHILD_KEYS | CHILD_EXTRA for c in parsed["children"])
    assert parsed["digest"] == seeded.index.digest

    assert absent_tag.code == ExitCode.ABSENT, str(absent_tag)
    assert absent_tag.stdout == ""
    assert absent_tag.stderr.startswith("error: ")
    assert "\nhint: " in absent_tag.stderr

    assert config.code == 0, str(config)
    what = json.loads(config.stdout)
    assert set(what) == WHATIS_KEYS | WHATIS_EXTRA
    assert (what["kind"], what["platform"]) == ("config", "linux/arm64/v8")
    assert what["parents"] == [seeded.arm64.digest]
    assert what["repository"] == repo

    assert manifest.code == 0, str(manifest)
    assert "\x1b" not in manifest.stdout
    assert manifest.stdout.startswith(f"{seeded.arm64.digest}  manifest  in {repo}\n")
    assert "  platform: linux/arm64/v8\n" in manifest.stdout

    assert absent.code == ExitCode.ABSENT, str(absent)
    assert json.loads(absent.stdout)["kind"] == "absent"

    for usage in (bad_digest, tagged_repo):
        assert usage.code == ExitCode.USAGE, str(usage)
        assert usage.stdout == ""
        assert usage.stderr.startswith("error: ")
        assert "Traceback" not in usage.stderr


# =========================================================================== short digests

# Two layer bodies whose sha256 digests share their first 12 hex characters, found
# offline by a birthday search over `truedigest short digest <n>`; the test checks it.
TWINS = (b"truedigest short digest 11764710", b"truedigest short digest 30903001")


def twin_image(base: Image, layer: bytes) -> Image:
    """`base` with `layer` as its only layer (new manifest bytes, new digest)."""
    doc = json.loads(base.manifest)
    layer_digest = sha256_digest(layer)
    doc["layers"] = [
        {"mediaType": base.layer_media_type, "digest": layer_digest, "size": len(layer)}
    ]
    body = canonical_json(doc)
    return replace(
        base,
        layers=(layer,),
        layer_digests=(layer_digest,),
        manifest=body,
        digest=sha256_digest(body),
    )


def short(digest: str, n: int = 12) -> str:
    algorithm, hex_part = digest.split(":")
    return f"{algorithm}:{hex_part[:n]}"


def test_cli_whatis_short_digests(
    registry: RegistryServer,
    seed: Callable[[RegistryServer], Seeded],
    pusher_for: PusherFor,
    tmp_path: Path,
) -> None:
    """The 12-hex short digest the tables print: unique → the full answer; shared by
    two layers → exit 2 listing both; nothing starts with it → 10; too short → 2."""
    seeded = seed(registry)
    repo = seeded.repository
    twins_repo = f"{seeded.repo}-twins"
    first, second = (sha256_digest(t) for t in TWINS)
    assert short(first) == short(second)
    assert first != second
    pusher = pusher_for(registry)
    for i, twin in enumerate(TWINS):
        push_image(
            pusher,
            twins_repo,
            twin_image(build_image(twins_repo, salt=f"twin-{i}"), twin),
            f"twin-{i}",
        )
    nothing = "sha256:" + "0" * 12
    known = {seeded.index.digest, *(m.digest for m in seeded.index.manifests)}
    assert not any(d.startswith(nothing) for d in known)
    flags = transport_flags(registry)
    twins = f"{registry.host}/{twins_repo}"
    calls = [
        ["whatis", *flags, short(seeded.arm64.config_digest), "--repo", repo, "-o", "json"],
        ["whatis", *flags, seeded.arm64.config_digest, "--repo", repo, "-o", "json"],
        ["whatis", *flags, seeded.index.digest[7:19], "--repo", repo],
        ["whatis", *flags, short(first), "--repo", twins],
        ["whatis", *flags, short(second, 14), "--repo", twins, "-o", "json"],
        ["whatis", *flags, nothing, "--repo", repo],
        ["whatis", *flags, short(seeded.index.digest, 11), "--repo", repo],
    ]
    env = cli_env(tmp_path, **registry_credentials(registry))
    by_prefix, by_digest, bare, shared, longer, absent, too_short = run_cli_many(
        [(args, env) for args in calls]
    )

    assert by_prefix.code == 0, str(by_prefix)
    assert by_prefix.json() == by_digest.json()
    assert by_prefix.json()["kind"] == "config"
    assert bare.code == 0, str(bare)
    assert bare.stdout.startswith(f"{seeded.index.digest}  index  in {repo}\n"), str(bare)

    assert shared.code == ExitCode.USAGE, str(shared)
    assert shared.stdout == ""
    error, hint = shared.stderr.splitlines()
    assert error.startswith(f"error: short digest {short(first)} is ambiguous"), error
    assert f"{first} (layer, tags twin-0)" in error
    assert f"{second} (layer, tags twin-1)" in error
    assert hint.startswith("hint: give more hex characters")
    assert longer.code == 0, str(longer)
    assert (longer.json()["kind"], longer.json()["digest"]) == ("layer", second)
    assert longer.json()["tags"] == ["twin-1"]

    assert absent.code == ExitCode.ABSENT, str(absent)
    assert absent.stdout == ""
    assert absent.stderr.startswith(f"error: no digest in {repo} starts with {nothing}")
    assert too_short.code == ExitCode.USAGE, str(too_short)
    assert "at least 12 hex characters" in too_short.stderr
    for result in (shared, absent, too_short):
        assert "Traceback" not in result.stderr
