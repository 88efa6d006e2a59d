"""Attestations bound to digests (pure): where provenance, SBOM and signatures sit
relative to the truth digest, and the `attestation:<kind>` rows of `verify`.

A required kind is ok when it sits on the truth digest, or, for an index truth, on
every platform child; else a mismatch that says where it actually sits. An in-toto
statement whose subject is not the digest it is attached to is a mismatch too.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from truedigest.errors import TruedigestError
from truedigest.model.observation import Observation, Relation, SourceKind, Status
from truedigest.oci.digest import Digest


class AttestationKind(StrEnum):
    PROVENANCE = "provenance"
    SBOM = "sbom"
    SIGNATURE = "signature"


SBOM_MARKS = ("spdx.dev/Document", "cyclonedx.org/bom", "cyclonedx.org/BOM")
PROVENANCE_MARK = "slsa.dev/provenance"
COSIGN_SIGN_PREDICATE = "https://sigstore.dev/cosign/sign/v1"
"""The predicate of a DSSE-wrapped cosign image signature (a bundle that signs)."""

# artifactType values of referrers (OCI 1.1 API or the `sha256-<hex>` tag schema)
SIGNATURE_ARTIFACTS = frozenset(
    {
        "application/vnd.dev.cosign.artifact.sig.v1+json",  # cosign, OCI 1.1 mode
        "application/vnd.cncf.notary.signature",  # notation
    }
)
SIGSTORE_BUNDLE = "application/vnd.dev.sigstore.bundle"  # cosign --new-bundle-format
INTOTO_ARTIFACT = "application/vnd.in-toto"
SBOM_ARTIFACTS = ("application/spdx", "text/spdx", "application/vnd.cyclonedx")
BUNDLE_CONTENT_KEY = "dev.sigstore.bundle.content"
BUNDLE_PREDICATE_KEY = "dev.sigstore.bundle.predicateType"
INTOTO_PREDICATE_KEY = "in-toto.io/predicate-type"


def kind_of_predicate(predicate_type: str) -> AttestationKind | None:
    """provenance or sbom from an in-toto predicate type (None for anything else)."""
    if PROVENANCE_MARK in predicate_type:
        return AttestationKind.PROVENANCE
    if any(mark in predicate_type for mark in SBOM_MARKS):
        return AttestationKind.SBOM
    return None


def kind_of_artifact(
    artifact_type: str | None, annotations: Mapping[str, str]
) -> AttestationKind | None:
    """What a referrer is, from its artifactType and annotations (None: not a kind
    truedigest maps, or not told by these; see `artifact_needs_manifest`)."""
    base = (artifact_type or "").split(";", 1)[0].strip().lower()
    if base in SIGNATURE_ARTIFACTS:
        return AttestationKind.SIGNATURE
    if base.startswith(SIGSTORE_BUNDLE):
        predicate = annotations.get(BUNDLE_PREDICATE_KEY, "")
        if annotations.get(BUNDLE_CONTENT_KEY) == "message-signature":
            return AttestationKind.SIGNATURE
        if predicate == COSIGN_SIGN_PREDICATE:
            return AttestationKind.SIGNATURE
        return kind_of_predicate(predicate)
    if base.startswith(INTOTO_ARTIFACT):
        return kind_of_predicate(annotations.get(INTOTO_PREDICATE_KEY, ""))
    if base.startswith(SBOM_ARTIFACTS):
        return AttestationKind.SBOM
    return None


def artifact_needs_manifest(artifact_type: str | None, annotations: Mapping[str, str]) -> bool:
    """A referrer listing too terse to classify: no artifactType, or a bundle / in-toto
    artifact without the annotations that say what it holds (its manifest has them)."""
    base = (artifact_type or "").split(";", 1)[0].strip().lower()
    if not base:
        return True
    if base.startswith(SIGSTORE_BUNDLE):
        return BUNDLE_CONTENT_KEY not in annotations and BUNDLE_PREDICATE_KEY not in annotations
    return base.startswith(INTOTO_ARTIFACT) and INTOTO_PREDICATE_KEY not in annotations


def cosign_signed_digest(payload: bytes) -> Digest | None:
    """The digest a cosign simple-signing payload signs
    (`critical.image.docker-manifest-digest`); None when the payload is not one."""
    try:
        doc = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return None
    critical = doc.get("critical") if isinstance(doc, dict) else None
    image = critical.get("image") if isinstance(critical, dict) else None
    text = image.get("docker-manifest-digest") if isinstance(image, dict) else None
    if not isinstance(text, str):
        return None
    try:
        return Digest.parse(text)
    except TruedigestError:
        return None


@dataclass(frozen=True, slots=True)
class Target:
    """A digest an attestation may sit on: the truth, an index, or a platform child."""

    digest: Digest
    platform: str | None  # None: an index (or an image whose platform is not known)
    is_index: bool


@dataclass(frozen=True, slots=True)
class Attached:
    """One attestation found: `manifest` (the attestation or signature manifest) sits
    on `on`; `subject` is the digest its statement names (None: not read/no statement)."""

    kind: AttestationKind
    manifest: Digest
    on: Target
    subject: Digest | None = None
    bound: bool = True
    """False when found only in another index (another tag) that lists the same child:
    it says where the attestation sits, but does not bind it to the pinned digest."""


@dataclass(frozen=True, slots=True)
class Survey:
    """What the registry holds around the truth: the truth, its children (for an index)
    and every attestation found on them; `problem` when something could not be read."""

    truth: Target
    children: tuple[Target, ...]
    found: tuple[Attached, ...]
    where: str
    problem: str | None = None


def _name(target: Target) -> str:
    if target.is_index:
        return f"the index {target.digest}"
    if target.platform:
        return f"the {target.platform} child {target.digest}"
    return f"the image {target.digest}"


def judge(survey: Survey, kind: AttestationKind) -> Observation:
    """The `attestation:<kind>` row for a required kind."""
    found = [a for a in survey.found if a.kind is kind]
    bound = [a for a in found if a.bound]
    truth = survey.truth
    pin = "the index the pin names" if truth.is_index else "the pinned digest"
    on_truth = [a for a in bound if a.on.digest == truth.digest]
    on_children = {a.on.digest for a in bound if a.on.digest != truth.digest}
    covered = bool(survey.children) and all(c.digest in on_children for c in survey.children)
    binding = on_truth or ([a for a in bound if a.on in survey.children] if covered else [])
    wrong = [a for a in found if a.subject is not None and a.subject != a.on.digest]
    first = binding[0] if binding else (found[0] if found else None)
    extra: dict[str, object] = {
        "subject": str(first.subject or first.on.digest) if first else None,
        "attached_to": _attached_to(first),
    }
    status = Status.OK
    notes: list[str] = []
    if binding:
        places = "it" if on_truth else f"each of its {len(survey.children)} platform children"
        notes.append(f"{kind} is attached to {places}")
    elif survey.problem is not None:
        status = Status.ERROR
        notes.append(f"{kind} could not be checked: {survey.problem}")
    else:
        status = Status.MISMATCH
        if found:
            sits = ", ".join(dict.fromkeys(_name(a.on) for a in found))
            notes.append(f"{kind} is attached to {sits}, not to {pin}")
        else:
            notes.append(f"no {kind} is attached to {pin} (--require-attestation {kind})")
    for a in wrong:
        status = Status.MISMATCH
        what = "signature" if kind is AttestationKind.SIGNATURE else f"{kind} statement"
        notes.append(
            f"the {what} {a.manifest} names {a.subject} as its subject, "
            f"but it is attached to {_name(a.on)}"
        )
    return Observation(
        id=f"attestation:{kind}",
        kind=SourceKind.ATTESTATION,
        where=survey.where,
        digest=first.manifest if first else None,
        status=status,
        relation=Relation.IDENTICAL if status is Status.OK else None,
        detail="; ".join(notes),
        extra=extra,
    )


def _attached_to(found: Attached | None) -> str:
    if found is None:
        return "none"
    return "index" if found.on.is_index else "child"


def rows(survey: Survey, kinds: Sequence[AttestationKind]) -> list[Observation]:
    return [judge(survey, kind) for kind in dict.fromkeys(kinds)]


__all__ = [
    "Attached",
    "AttestationKind",
    "Survey",
    "Target",
    "artifact_needs_manifest",
    "cosign_signed_digest",
    "judge",
    "kind_of_artifact",
    "kind_of_predicate",
    "rows",
]
