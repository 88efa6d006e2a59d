"""`inspect` over an in-memory registry: what it fetches, and failures as data."""

from __future__ import annotations

import pytest

from tests.support.images import OCI_INDEX, OCI_MANIFEST, canonical_json
from tests.support.memory_registry import REG, REPO, MemoryRegistry, seed
from truedigest.engine.inspect_run import inspect
from truedigest.errors import ExitCode, NotFoundError
from truedigest.oci.reference import parse_reference
from truedigest.oci.registry import RegistryClient
from truedigest.render.forensics_view import inspect_document, inspect_tree, render_plain


def test_inspect_index_fetches_children_configs_and_referrers(
    fake: MemoryRegistry, client: RegistryClient
) -> None:
    s = seed(fake)

    result = inspect(client, parse_reference(f"{REG}/{REPO}:v1"))

    assert result.exit_code == ExitCode.OK
    assert [str(c.digest) for c in result.children] == [
        s.amd64.digest,
        s.arm64.digest,
        s.attestation.digest,
    ]
    amd64, arm64, att = result.children
    assert amd64.facts is not None
    assert amd64.facts.revision == "from-annotation"
    assert arm64.facts is not None
    assert str(arm64.facts.platform) == "linux/arm64/v8"
    assert att.attestation
    assert str(att.attests) == s.amd64.digest
    assert att.facts is not None
    assert att.facts.platform is None
    gets = [c for c in fake.calls if "/blobs/" in c]
    assert sorted(gets) == sorted(
        [
            *(f"GET /v2/{REPO}/blobs/{image.config_digest}" for image in (s.amd64, s.arm64)),
            *(f"GET /v2/{REPO}/blobs/{layer}" for layer in s.attestation.layer_digests),
        ]
    )
    referrer_calls = [c for c in fake.calls if "/referrers/" in c]
    assert len(referrer_calls) == 3  # the index and its two image children
    cosign_calls = [c for c in fake.calls if c.endswith((".sig", ".att"))]
    assert len(cosign_calls) == 2 * 3  # .sig and .att of the index and of each image child
    # + the provenance statement
    assert len(fake.calls) == 1 + 3 + 2 + 2 * 3 + 2 * 3 + 1


def test_inspect_uses_the_referrers_api_when_it_answers(
    fake: MemoryRegistry, client: RegistryClient
) -> None:
    s = seed(fake)
    listing = canonical_json(
        {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [
                {
                    "mediaType": OCI_MANIFEST,
                    "digest": s.attestation.digest,
                    "size": s.attestation.size,
                    "artifactType": "application/vnd.example+json",
                }
            ],
        }
    )
    fake.referrers_api[s.single.digest] = listing

    result = inspect(client, parse_reference(f"{REG}/{REPO}:single"))

    assert [str(r.digest) for r in result.referrers] == [s.attestation.digest]
    assert result.referrers[0].artifact_type == "application/vnd.example+json"
    fallback = [c for c in fake.calls if "sha256-" in c and not c.endswith((".sig", ".att"))]
    assert not fallback  # no tag-schema fallback
    assert len(fake.calls) == 3 + 2  # manifest, config, referrers API, .sig and .att
    doc = inspect_document(result)
    assert doc["children"] == []
    assert doc["layers"] == 1
    assert doc["platform"] == "linux/amd64"


def test_inspect_dangling_child_is_reported_not_raised(
    fake: MemoryRegistry, client: RegistryClient
) -> None:
    s = seed(fake)
    del fake.manifests[s.arm64.digest]

    result = inspect(client, parse_reference(f"{REG}/{REPO}:v1"))

    assert result.exit_code == ExitCode.UNAVAILABLE
    arm64 = result.children[1]
    assert arm64.facts is None
    assert arm64.error is not None
    assert "not found" in arm64.error
    assert any(s.arm64.digest in e for e in result.errors)
    doc = inspect_document(result)
    assert doc["children"][1]["layers"] is None
    assert doc["children"][1]["error"] == arm64.error
    assert doc["children"][0]["layers"] == 2
    assert "    error: " in render_plain(inspect_tree(result))


def test_inspect_absent_tag_raises(fake: MemoryRegistry, client: RegistryClient) -> None:
    seed(fake)
    with pytest.raises(NotFoundError):
        inspect(client, parse_reference(f"{REG}/{REPO}:nope"))


def test_inspect_of_a_manifest_with_an_empty_config_digest_prints_the_rest(
    fake: MemoryRegistry, client: RegistryClient
) -> None:
    """containers/image's ociv1.artifact.json: `"digest": ""` in the config (issue 9)."""
    body = canonical_json(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": "application/vnd.oci.custom.artifact.config.v1+json",
                "digest": "",
                "size": 0,
            },
            "layers": None,
            "annotations": {"org.opencontainers.image.created": "2024-01-01T00:00:00Z"},
        }
    )
    fake.add_manifest(body, OCI_MANIFEST, "artifact")

    result = inspect(client, parse_reference(f"{REG}/{REPO}:artifact"))

    assert result.exit_code == ExitCode.UNAVAILABLE
    assert [e.split(":")[0] for e in result.errors] == ["config"]
    doc = inspect_document(result)
    assert (doc["config_digest"], doc["layers"], doc["created"]) == (
        None,
        0,
        "2024-01-01T00:00:00Z",
    )
    assert doc["errors"] == list(result.errors)
    assert not [c for c in fake.calls if "/blobs/" in c]
