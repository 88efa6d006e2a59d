"""Find where provenance, SBOM and signatures sit around the truth digest, for
`verify --require-attestation` (`core.attestations` judges them).

Looked for in stages, each only for the kinds still missing on the truth (or on one
of the platform children of an index truth), so the common case stops early. Every
request is by digest or by a tag derived from one. The truth's manifest is already in
memory.
1. buildx attestation manifests of the index that names the truth or its children:
   per attestation manifest one GET, then one blob GET per in-toto layer of a required
   kind (its statement's subject is checked). A --platform child truth first reads its
   index (one GET).
2. cosign's tag schema, per digest (the truth and each platform child): provenance or
   SBOM, the `sha256-<hex>.att` tag (one GET) and each DSSE layer of a required kind
   (one blob GET, subject checked); a signature, the `sha256-<hex>.sig` tag (one GET)
   and its simple-signing payload (one blob GET: the digest it signs is checked).
3. OCI 1.1 referrers, per digest: the referrers API (one GET; a registry without it,
   like distribution 2.8, answers 404 and the `sha256-<hex>` tag schema is read: one
   more GET). An in-toto or sigstore-bundle referrer of a required statement kind costs
   its manifest and its layer (subject checked); a listing too terse to classify costs
   the referrer's manifest.
4. only when a required provenance/SBOM is still missing: one tag-list GET and up to
   `SCAN_TAGS` manifest GETs of other tags, to say where it sits instead (an
   `imagetools create`-made index lists the children a buildx index attests).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from truedigest.core.attestations import (
    Attached,
    AttestationKind,
    Survey,
    Target,
    artifact_needs_manifest,
    cosign_signed_digest,
    kind_of_artifact,
    kind_of_predicate,
)
from truedigest.core.revision import load_statement, statement_subjects
from truedigest.core.taggroups import is_derived_tag
from truedigest.errors import NotFoundError, TruedigestError
from truedigest.oci.digest import Digest
from truedigest.oci.manifest import ATTESTATION_DIGEST_KEY, Descriptor, Manifest
from truedigest.oci.registry import RegistryClient, Resolved

STATEMENT_CAP = 4 * 1024 * 1024
SIGNATURE_CAP = 256 * 1024
SCAN_TAGS = 16
MAX_LAYERS = 8
"""Layers read per attestation or signature manifest (the rest are not looked at)."""
MAX_REFERRERS = 32
"""Referrers looked at per digest: a listing of thousands cannot turn into thousands
of requests (the first that settles a kind is enough)."""
_PREDICATE_TYPE_KEY = "in-toto.io/predicate-type"
_COSIGN_PREDICATE_KEY = "predicateType"
_COSIGN_SIGNATURE_LAYER = "application/vnd.dev.cosign.simplesigning.v1+json"
_STATEMENT_KINDS = frozenset({AttestationKind.PROVENANCE, AttestationKind.SBOM})


class _Survey:
    def __init__(
        self, client: RegistryClient, truth: Resolved, kinds: Sequence[AttestationKind]
    ) -> None:
        self.client = client
        self.resolved = truth
        self.kinds = frozenset(kinds)
        self.found: list[Attached] = []
        self.manifests: dict[Digest, Manifest] = {}
        if truth.manifest is not None:
            self.manifests[truth.digest] = truth.manifest
        if truth.index is not None:
            self.manifests[truth.index.digest] = truth.index

    def manifest(self, digest: Digest) -> Manifest:
        if digest not in self.manifests:
            self.manifests[digest] = self.client.get_manifest(self.resolved.ref, digest)
        return self.manifests[digest]

    def tagged(self, tag: str) -> Manifest | None:
        try:
            return self.client.get_manifest(self.resolved.ref, tag)
        except NotFoundError:
            return None

    def blob(self, digest: Digest, cap: int, kind: str) -> bytes:
        return self.client.get_blob(self.resolved.ref, digest, cap=cap, kind=kind)

    def statement(self, layer: Digest, on: Target, kind: AttestationKind) -> Digest | None:
        """The subject the in-toto statement in `layer` names (the target's digest when
        it is among them; None when the layer holds no statement)."""
        data = self.blob(layer, STATEMENT_CAP, f"{kind} attestation")
        statement = load_statement(data)
        if statement is not None and isinstance(statement.get("dsseEnvelope"), dict):
            statement = load_statement(json.dumps(statement["dsseEnvelope"]).encode())
        return _subject(statement, on) if statement is not None else None

    def from_index(
        self,
        index: Manifest,
        targets: dict[Digest, Target],
        kinds: frozenset[AttestationKind],
        *,
        bound: bool = True,
    ) -> None:
        """The buildx attestation manifests of `index` that sit on one of `targets`."""
        if not kinds & _STATEMENT_KINDS:
            return
        for child in index.children:
            if not child.is_attestation:
                continue
            on = _digest(child.annotations.get(ATTESTATION_DIGEST_KEY, ""))
            if on is None or on not in targets:
                continue
            attestation = self.manifest(child.digest)
            for layer in attestation.layers[:MAX_LAYERS]:
                kind = kind_of_predicate(layer.annotations.get(_PREDICATE_TYPE_KEY, ""))
                if kind is None or kind not in kinds:
                    continue
                subject = self.statement(layer.digest, targets[on], kind)
                self.found.append(Attached(kind, child.digest, targets[on], subject, bound))

    def cosign(self, targets: Sequence[Target], kinds: frozenset[AttestationKind]) -> None:
        """cosign's `sha256-<hex>.att` and `.sig` tags on each target."""
        for target in targets:
            if kinds & _STATEMENT_KINDS:
                self.cosign_attestations(target, kinds)
            if AttestationKind.SIGNATURE in kinds:
                self.cosign_signature(target)

    def cosign_attestations(self, target: Target, kinds: frozenset[AttestationKind]) -> None:
        att = self.tagged(f"{target.digest.encoded_tag}.att")
        if att is None:
            return
        for layer in att.layers[:MAX_LAYERS]:
            told = kind_of_predicate(layer.annotations.get(_COSIGN_PREDICATE_KEY, ""))
            if _COSIGN_PREDICATE_KEY in layer.annotations and told not in kinds:
                continue
            data = self.blob(layer.digest, STATEMENT_CAP, "cosign attestation")
            statement = load_statement(data)
            if statement is None:
                continue
            kind = kind_of_predicate(str(statement.get("predicateType", "")))
            if kind is None or kind not in kinds:
                continue
            self.found.append(Attached(kind, att.digest, target, _subject(statement, target)))

    def cosign_signature(self, target: Target) -> None:
        sig = self.tagged(f"{target.digest.encoded_tag}.sig")
        if sig is None:
            return
        signed: Digest | None = None
        for layer in sig.layers[:MAX_LAYERS]:
            if layer.media_type != _COSIGN_SIGNATURE_LAYER:
                continue
            signed = cosign_signed_digest(self.blob(layer.digest, SIGNATURE_CAP, "signature"))
            if signed != target.digest:
                break  # a payload that names another digest is reported as such
        self.found.append(Attached(AttestationKind.SIGNATURE, sig.digest, target, signed))

    def referrers(self, targets: Sequence[Target], kinds: frozenset[AttestationKind]) -> None:
        """OCI 1.1 referrers of each target (the API, else the tag schema)."""
        for target in targets:
            listed = self.client.referrers(self.resolved.ref, target.digest)
            for desc in listed[:MAX_REFERRERS]:
                self.referrer(desc, target, kinds)

    def referrer(self, desc: Descriptor, target: Target, kinds: frozenset[AttestationKind]) -> None:
        artifact_type, annotations = desc.artifact_type, desc.annotations
        manifest: Manifest | None = None
        if artifact_needs_manifest(artifact_type, annotations):
            manifest = self.manifest(desc.digest)
            doc = manifest.json
            told = doc.get("artifactType")
            config = manifest.config
            artifact_type = (
                told if isinstance(told, str) else (config.media_type if config else None)
            )
            annotations = {**manifest.annotations, **annotations}
        kind = kind_of_artifact(artifact_type, annotations)
        if kind is None or kind not in kinds:
            return
        subject: Digest | None = None
        if kind in _STATEMENT_KINDS:
            manifest = manifest or self.manifest(desc.digest)
            layers = manifest.layers[:1]
            subject = self.statement(layers[0].digest, target, kind) if layers else None
        self.found.append(Attached(kind, desc.digest, target, subject))

    def elsewhere(self, targets: dict[Digest, Target]) -> None:
        """Other tags' indexes that attest the truth or its children (bounded scan)."""
        tags = self.client.list_tags(self.resolved.ref, max_tags=SCAN_TAGS * 4, max_pages=1)
        own = self.resolved.ref.tag
        others = [t for t in tags if t != own and not is_derived_tag(t)]
        for tag in others[:SCAN_TAGS]:
            other = self.tagged(tag)
            if other is not None and other.is_index and other.digest not in targets:
                self.from_index(other, targets, self.kinds & _STATEMENT_KINDS, bound=False)


def survey(client: RegistryClient, truth: Resolved, kinds: Sequence[AttestationKind]) -> Survey:
    """Every attestation of a required kind on the truth (and its children)."""
    where = str(truth.ref)
    run = _Survey(client, truth, kinds)
    platform = str(truth.platform) if truth.platform else None
    top_target = Target(truth.digest, platform, truth.is_index)
    children: tuple[Target, ...] = ()
    try:
        top = run.manifest(truth.digest)
        top_target = Target(truth.digest, platform, top.is_index)
        if top.is_index:
            children = tuple(
                Target(c.digest, str(c.platform) if c.platform else None, False)
                for c in top.children
                if not c.is_attestation and not (c.platform is not None and c.platform.is_unknown)
            )
        targets = {t.digest: t for t in (top_target, *children)}
        own = (top_target, *children)
        if top.is_index:
            run.from_index(top, targets, run.kinds)
        elif truth.index_digest is not None:
            index = run.manifest(truth.index_digest)
            targets[index.digest] = Target(index.digest, None, True)
            run.from_index(index, targets, run.kinds)
        missing = kinds_missing(run.found, kinds, top_target, children)
        if missing:
            run.cosign(own, missing)
            missing = kinds_missing(run.found, kinds, top_target, children)
        if missing:
            run.referrers(own, missing)
            missing = kinds_missing(run.found, kinds, top_target, children)
        if missing & _STATEMENT_KINDS:
            run.elsewhere(targets)
    except TruedigestError as exc:
        return Survey(top_target, children, tuple(run.found), where, exc.message)
    return Survey(top_target, children, tuple(run.found), where)


def kinds_missing(
    found: Sequence[Attached],
    kinds: Sequence[AttestationKind],
    truth: Target,
    children: Sequence[Target],
) -> frozenset[AttestationKind]:
    out: set[AttestationKind] = set()
    for kind in kinds:
        on = {a.on.digest for a in found if a.kind is kind and a.bound}
        if truth.digest in on or (children and all(c.digest in on for c in children)):
            continue
        out.add(kind)
    return frozenset(out)


def _subject(statement: Mapping[str, Any], on: Target) -> Digest | None:
    """The subject the statement names: `on`'s digest when among them, else the first."""
    subjects = statement_subjects(statement)
    return on.digest if on.digest in subjects else next(iter(subjects), None)


def _digest(text: str) -> Digest | None:
    try:
        return Digest.parse(text)
    except TruedigestError:
        return None


__all__ = ["SCAN_TAGS", "survey"]
