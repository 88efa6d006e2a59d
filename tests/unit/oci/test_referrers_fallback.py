"""The referrers fallback tag (issue 9 item 5): only an OCI index of referrers counts.

GitLab resolves `sha256-<hex>` to the manifest `sha256:<hex>` itself, so an index's
fallback tag is the index, and its platform children looked like its referrers.
`fallback_referrers` is pure: manifests are built here from exact bytes.
"""

from __future__ import annotations

import pytest

from tests.support.images import (
    DOCKER_MANIFEST_LIST,
    OCI_INDEX,
    OCI_MANIFEST,
    build_attestation,
    build_image,
    build_index,
    canonical_json,
)
from truedigest.oci.digest import Digest
from truedigest.oci.manifest import Manifest, fallback_referrers

REPO = "team/app"
IMAGE = build_image(REPO, salt="subject")
SIG = "application/vnd.example.signature.v1+json"


def manifest(body: bytes, media_type: str = OCI_INDEX) -> Manifest:
    return Manifest(REPO, media_type, body, Digest.of_bytes(body))


def referrer(salt: str, **extra: object) -> dict[str, object]:
    body = f"artifact {salt}".encode()
    return {
        "mediaType": OCI_MANIFEST,
        "digest": str(Digest.of_bytes(body)),
        "size": len(body),
        **extra,
    }


def listing(*entries: dict[str, object], media_type: str = OCI_INDEX) -> bytes:
    return canonical_json({"schemaVersion": 2, "mediaType": media_type, "manifests": list(entries)})


def test_a_real_referrers_index_lists_its_entries() -> None:
    subject = Digest.parse(IMAGE.digest)
    entries = [referrer("sig", artifactType=SIG), referrer("sbom", annotations={"a": "b"})]
    found = fallback_referrers(manifest(listing(*entries)), subject)
    assert [str(d.digest) for d in found] == [e["digest"] for e in entries]
    assert found[0].artifact_type == SIG


def test_the_subject_itself_is_not_its_referrers_index() -> None:
    """GitLab: the fallback tag of an index is that index."""
    index = build_index([IMAGE, build_image(REPO, arch="arm64", salt="subject")])
    top = manifest(index.body)
    assert top.children  # two platform manifests, not referrers
    assert fallback_referrers(top, Digest.parse(index.digest)) == []
    # the same bytes reached with another algorithm in the subject's digest
    assert fallback_referrers(top, Digest.of_bytes(index.body, "sha512")) == []


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(
            build_index([IMAGE, build_image(REPO, arch="arm64", salt="x")]).body,
            id="platform-index",
        ),
        pytest.param(
            build_index([IMAGE], [build_attestation(IMAGE, repo_hint=REPO)]).body,
            id="attestation-index",
        ),
    ],
)
def test_an_image_index_is_not_a_referrers_index(body: bytes) -> None:
    other = Digest.of_bytes(b"some other subject")
    assert fallback_referrers(manifest(body), other) == []


def test_a_docker_manifest_list_or_a_manifest_is_not_a_referrers_index() -> None:
    other = Digest.of_bytes(b"some other subject")
    docker = listing(referrer("sig"), media_type=DOCKER_MANIFEST_LIST)
    assert fallback_referrers(manifest(docker, DOCKER_MANIFEST_LIST), other) == []
    assert fallback_referrers(manifest(IMAGE.manifest, OCI_MANIFEST), other) == []


def test_an_entry_naming_the_subject_is_dropped() -> None:
    subject = Digest.parse(IMAGE.digest)
    entry = {"mediaType": OCI_MANIFEST, "digest": IMAGE.digest, "size": IMAGE.size}
    found = fallback_referrers(manifest(listing(entry, referrer("sig"))), subject)
    assert [str(d.digest) for d in found] == [referrer("sig")["digest"]]
