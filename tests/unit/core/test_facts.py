"""What a manifest says about itself: facts from its bytes and its config; attestations."""

from __future__ import annotations

import json

from tests.support.images import (
    OCI_INDEX,
    OCI_MANIFEST,
    build_attestation,
    build_image,
    build_index,
    canonical_json,
)
from tests.support.memory_registry import REPO, as_manifest
from truedigest.core.facts import looks_like_attestation, manifest_facts
from truedigest.oci.digest import Digest
from truedigest.oci.manifest import Manifest

CREATED = "org.opencontainers.image.created"
REVISION = "org.opencontainers.image.revision"
SOURCE = "org.opencontainers.image.source"


def test_manifest_facts_prefer_annotations_then_labels_then_config_created() -> None:
    image = build_image(REPO, salt="f", layers=3, annotations={CREATED: "2030-01-01T00:00:00Z"})
    config = json.loads(image.config)

    facts = manifest_facts(as_manifest(image), config)

    assert facts.created == "2030-01-01T00:00:00Z"
    assert facts.revision == config["config"]["Labels"][REVISION]
    assert facts.source == config["config"]["Labels"][SOURCE]
    assert str(facts.config_digest) == image.config_digest
    assert facts.layers == 3
    assert facts.layers_size == sum(len(layer) for layer in image.layers)
    assert str(facts.platform) == "linux/amd64"
    plain = manifest_facts(as_manifest(build_image(REPO, salt="g")), json.loads(image.config))
    assert plain.created == config["created"]
    assert manifest_facts(as_manifest(image)).revision is None  # no config, no label


def test_looks_like_attestation() -> None:
    image = build_image(REPO, salt="a")
    att = build_attestation(image)
    artifact = canonical_json(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": "application/vnd.oci.empty.v1+json",
                "digest": image.config_digest,
                "size": 2,
            },
            "layers": [],
            "subject": {"mediaType": OCI_MANIFEST, "digest": image.digest, "size": image.size},
        }
    )
    index = build_index([image])

    assert looks_like_attestation(as_manifest(att))
    assert not looks_like_attestation(as_manifest(image))
    assert looks_like_attestation(Manifest(REPO, OCI_MANIFEST, artifact, Digest.of_bytes(artifact)))
    assert not looks_like_attestation(
        Manifest(REPO, OCI_INDEX, index.body, Digest.parse(index.digest))
    )
