"""`core.attestations`: what a referrer is, what a cosign payload signs, and how a
required kind is judged from where it sits (pure; no registry)."""

from __future__ import annotations

import hashlib
import json

import pytest

from truedigest.core.attestations import (
    Attached,
    AttestationKind,
    Survey,
    Target,
    artifact_needs_manifest,
    cosign_signed_digest,
    judge,
    kind_of_artifact,
)
from truedigest.model.observation import Status
from truedigest.oci.digest import Digest

P, S, SIG = AttestationKind.PROVENANCE, AttestationKind.SBOM, AttestationKind.SIGNATURE
BUNDLE = "application/vnd.dev.sigstore.bundle.v0.3+json"


def _digest(name: str) -> Digest:
    return Digest.parse("sha256:" + hashlib.sha256(name.encode()).hexdigest())


@pytest.mark.parametrize(
    ("artifact_type", "annotations", "kind"),
    [
        ("application/vnd.dev.cosign.artifact.sig.v1+json", {}, SIG),
        ("application/vnd.cncf.notary.signature", {}, SIG),
        (BUNDLE, {"dev.sigstore.bundle.content": "message-signature"}, SIG),
        (BUNDLE, {"dev.sigstore.bundle.predicateType": "https://sigstore.dev/cosign/sign/v1"}, SIG),
        (BUNDLE, {"dev.sigstore.bundle.predicateType": "https://slsa.dev/provenance/v1"}, P),
        (BUNDLE, {"dev.sigstore.bundle.predicateType": "https://spdx.dev/Document"}, S),
        (BUNDLE, {"dev.sigstore.bundle.predicateType": "https://cosign.sigstore.dev/vuln"}, None),
        (
            "application/vnd.in-toto+json",
            {"in-toto.io/predicate-type": "https://slsa.dev/provenance/v0.2"},
            P,
        ),
        ("application/spdx+json", {}, S),
        ("application/vnd.cyclonedx+json; version=1.5", {}, S),
        ("text/spdx", {}, S),
        ("application/vnd.example.thing", {}, None),
        (None, {}, None),
    ],
)
def test_kind_of_artifact(
    artifact_type: str | None, annotations: dict[str, str], kind: AttestationKind | None
) -> None:
    assert kind_of_artifact(artifact_type, annotations) is kind


def test_a_terse_listing_needs_the_manifest() -> None:
    assert artifact_needs_manifest(None, {})
    assert artifact_needs_manifest(BUNDLE, {})
    assert artifact_needs_manifest("application/vnd.in-toto+json", {})
    assert not artifact_needs_manifest(BUNDLE, {"dev.sigstore.bundle.content": "dsse-envelope"})
    assert not artifact_needs_manifest("application/vnd.cncf.notary.signature", {})


def test_cosign_signed_digest() -> None:
    signed = _digest("image")
    payload = json.dumps(
        {"critical": {"image": {"docker-manifest-digest": str(signed)}}, "optional": None}
    ).encode()
    assert cosign_signed_digest(payload) == signed
    for bad in (b"", b"[]", b"{}", b'{"critical": {"image": {"docker-manifest-digest": 7}}}'):
        assert cosign_signed_digest(bad) is None
    assert cosign_signed_digest(payload.replace(b"sha256:", b"sha257:")) is None


INDEX = Target(_digest("index"), None, True)
AMD64 = Target(_digest("amd64"), "linux/amd64", False)
ARM64 = Target(_digest("arm64"), "linux/arm64", False)


def _survey(*found: Attached, problem: str | None = None) -> Survey:
    return Survey(INDEX, (AMD64, ARM64), found, "r/app:1", problem)


def test_an_index_is_covered_when_every_child_carries_it() -> None:
    both = _survey(Attached(P, _digest("a1"), AMD64), Attached(P, _digest("a2"), ARM64))
    one = _survey(Attached(P, _digest("a1"), AMD64))
    assert judge(both, P).status is Status.OK
    row = judge(one, P)
    assert row.status is Status.MISMATCH
    assert f"attached to the linux/amd64 child {AMD64.digest}" in str(row.detail)


def test_found_only_elsewhere_does_not_bind() -> None:
    loose = _survey(
        Attached(P, _digest("a1"), AMD64, bound=False),
        Attached(P, _digest("a2"), ARM64, bound=False),
    )
    assert judge(loose, P).status is Status.MISMATCH


def test_a_subject_that_is_not_the_digest_it_sits_on_is_a_mismatch() -> None:
    wrong = _survey(Attached(SIG, _digest("s"), INDEX, subject=AMD64.digest))
    row = judge(wrong, SIG)
    assert row.status is Status.MISMATCH
    assert f"the signature {_digest('s')} names {AMD64.digest} as its subject" in str(row.detail)


def test_an_unreadable_survey_is_an_error_not_a_pass() -> None:
    assert judge(_survey(problem="HTTP 500"), S).status is Status.ERROR
