"""Images that record which commit they were built from, in each place buildx and
friends put it: the revision annotation, the revision label, or only a buildx-shaped
provenance attestation (an in-toto statement layer, SLSA v0.2 or v1 predicate).

Exact bytes, digests computed from them (as `tests.support.images`).
"""

from __future__ import annotations

from typing import Any, Literal

from tests.support.images import (
    INTOTO_LAYER,
    OCI_CONFIG,
    OCI_MANIFEST,
    Image,
    Index,
    _manifest_body,
    build_image,
    build_index,
    canonical_json,
    sha256_digest,
)

REVISION = "org.opencontainers.image.revision"
SPDX = "https://spdx.dev/Document"
COSIGN_LAYER = "application/vnd.dev.cosign.simplesigning.v1+json"
Slsa = Literal["v0.2", "v1"]
PREDICATE_TYPES: dict[str, str] = {
    "v0.2": "https://slsa.dev/provenance/v0.2",
    "v1": "https://slsa.dev/provenance/v1",
}

__all__ = [
    "PREDICATE_TYPES",
    "REVISION",
    "build_provenance",
    "buildx_index",
    "cosign_signature",
    "image_with_revision",
]


def image_with_revision(
    repo: str, salt: str, commit: str | None, where: Literal["annotation", "label", "none"]
) -> Image:
    """A single-platform image whose commit is an annotation, a label, or nowhere
    (`where="none"`, also for an image whose commit is only in its provenance)."""
    if where == "annotation":
        return build_image(repo, salt=salt, no_revision=True, annotations={REVISION: str(commit)})
    if where == "label":
        return build_image(repo, salt=salt, label=commit)
    return build_image(repo, salt=salt, no_revision=True)


def _predicate(commit: str, slsa: Slsa) -> dict[str, Any]:
    """A BuildKit-shaped predicate naming `commit` where BuildKit writes it."""
    git = "https://github.com/example/app.git#refs/heads/main"
    if slsa == "v0.2":
        return {
            "builder": {"id": ""},
            "buildType": "https://mobyproject.org/buildkit@v1",
            "materials": [
                {"uri": "pkg:docker/alpine@3.19", "digest": {"sha256": "0" * 64}},
                {"uri": git, "digest": {"sha1": commit}},
            ],
            "invocation": {"configSource": {"entryPoint": "Dockerfile"}},
            "metadata": {"buildInvocationID": "test", "completeness": {"materials": False}},
        }
    return {
        "buildDefinition": {
            "buildType": "https://github.com/moby/buildkit/blob/master/docs/attestations/"
            "slsa-definitions.md",
            "externalParameters": {"configSource": {"path": "Dockerfile"}, "request": {}},
            "internalParameters": {},
            "resolvedDependencies": [
                {"uri": "pkg:docker/alpine@3.19", "digest": {"sha256": "0" * 64}},
                {"uri": git, "digest": {"gitCommit": commit}},
            ],
        },
        "runDetails": {"builder": {"id": ""}, "metadata": {"invocationID": "test"}},
    }


def build_provenance(
    subject: Image,
    commit: str,
    *,
    slsa: Slsa = "v0.2",
    subject_digest: str | None = None,
    repo_hint: str = "test/app",
    sbom: bool = False,
) -> Image:
    """A buildx attestation manifest (platform unknown/unknown) for `subject` whose
    in-toto statement layer carries a SLSA provenance naming `commit`.
    `subject_digest` makes the statement name another digest than it is attached to;
    `sbom` adds an SPDX statement layer, as `buildx --sbom=true` does."""
    predicate_type = PREDICATE_TYPES[slsa]
    named = subject_digest or subject.digest
    statement = canonical_json(
        {
            "_type": "https://in-toto.io/Statement/v0.1",
            "predicateType": predicate_type,
            "subject": [
                {
                    "name": f"pkg:docker/{repo_hint}?platform={subject.platform}",
                    "digest": {"sha256": named.removeprefix("sha256:")},
                }
            ],
            "predicate": _predicate(commit, slsa),
        }
    )
    layers = [(INTOTO_LAYER, statement, {"in-toto.io/predicate-type": predicate_type})]
    if sbom:
        spdx = canonical_json(
            {
                "_type": "https://in-toto.io/Statement/v0.1",
                "predicateType": SPDX,
                "subject": [{"name": repo_hint, "digest": {"sha256": named.split(":")[1]}}],
                "predicate": {"spdxVersion": "SPDX-2.3", "name": "sbom"},
            }
        )
        layers.append((INTOTO_LAYER, spdx, {"in-toto.io/predicate-type": SPDX}))
    config = canonical_json(
        {
            "architecture": "unknown",
            "os": "unknown",
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": [sha256_digest(b) for _, b, _ in layers]},
        }
    )
    manifest = _manifest_body(OCI_MANIFEST, (OCI_CONFIG, config), layers, None)
    return Image(
        config=config,
        config_digest=sha256_digest(config),
        config_media_type=OCI_CONFIG,
        layers=tuple(b for _, b, _ in layers),
        layer_digests=tuple(sha256_digest(b) for _, b, _ in layers),
        layer_media_type=INTOTO_LAYER,
        manifest=manifest,
        digest=sha256_digest(manifest),
        media_type=OCI_MANIFEST,
        os="unknown",
        architecture="unknown",
        attests=subject.digest,
    )


def buildx_index(repo: str, salt: str, commit: str, *, slsa: Slsa = "v0.2") -> Index:
    """What `docker buildx build --platform linux/amd64,linux/arm64 --push` makes: an
    index of two images that record no revision themselves, each with a provenance
    attestation naming `commit`."""
    amd64 = build_image(repo, salt=salt, no_revision=True)
    arm64 = build_image(repo, arch="arm64", variant="v8", salt=salt, no_revision=True)
    attestations = [
        build_provenance(image, commit, slsa=slsa, repo_hint=repo) for image in (amd64, arm64)
    ]
    return build_index([amd64, arm64], attestations)


def cosign_signature(subject_digest: str, repo: str = "test/app") -> Image:
    """What `cosign sign REPO@DIGEST` pushes as the tag `sha256-<hex>.sig`: an OCI
    manifest whose simple-signing layer names the signed digest (the signature itself
    is a placeholder: truedigest maps signatures, cosign verifies them)."""
    payload = canonical_json(
        {
            "critical": {
                "identity": {"docker-reference": repo},
                "image": {"docker-manifest-digest": subject_digest},
                "type": "cosign container image signature",
            },
            "optional": None,
        }
    )
    config = canonical_json(
        {
            "architecture": "",
            "os": "",
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": [sha256_digest(payload)]},
        }
    )
    note = {"dev.cosignproject.cosign/signature": "MEUCIQ-placeholder"}
    manifest = _manifest_body(
        OCI_MANIFEST, (OCI_CONFIG, config), [(COSIGN_LAYER, payload, note)], None
    )
    return Image(
        config=config,
        config_digest=sha256_digest(config),
        config_media_type=OCI_CONFIG,
        layers=(payload,),
        layer_digests=(sha256_digest(payload),),
        layer_media_type=COSIGN_LAYER,
        manifest=manifest,
        digest=sha256_digest(manifest),
        media_type=OCI_MANIFEST,
        os="",
        architecture="",
    )
