"""Find where provenance, SBOM and signatures sit around the truth digest, for
`verify --require-attestation` (`core.attestations` judges them).

Requests, only when a kind is required (the truth's manifest is already in memory):
- provenance/SBOM: per buildx attestation manifest of the index that names the truth
  or one of its children, one manifest GET, then one blob GET per in-toto layer of a
  required kind (its statement's subject is checked). A --platform child truth first
  reads its index (one GET).
- signature: one GET of cosign's `sha256-<hex>.sig` tag per digest (the truth and each
  platform child of an index truth).
- only when a required kind is on none of them: one tag-list GET and up to
  `SCAN_TAGS` manifest GETs of other tags, to say where it sits instead (an
  `imagetools create`-made index lists the children a buildx index attests).
"""

from __future__ import annotations

from collections.abc import Sequence

from truedigest.core.attestations import (
    Attached,
    AttestationKind,
    Survey,
    Target,
    kind_of_predicate,
)
from truedigest.core.revision import load_statement, statement_subjects
from truedigest.errors import NotFoundError, TruedigestError
from truedigest.oci.digest import Digest
from truedigest.oci.manifest import ATTESTATION_DIGEST_KEY, Manifest
from truedigest.oci.registry import RegistryClient, Resolved

STATEMENT_CAP = 4 * 1024 * 1024
SCAN_TAGS = 16
_PREDICATE_TYPE_KEY = "in-toto.io/predicate-type"
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

    def manifest(self, digest: Digest) -> Manifest:
        if digest not in self.manifests:
            self.manifests[digest] = self.client.get_manifest(self.resolved.ref, digest)
        return self.manifests[digest]

    def from_index(
        self, index: Manifest, targets: dict[Digest, Target], *, bound: bool = True
    ) -> None:
        """The buildx attestation manifests of `index` that sit on one of `targets`."""
        if not self.kinds & _STATEMENT_KINDS:
            return
        for child in index.children:
            if not child.is_attestation:
                continue
            on = _digest(child.annotations.get(ATTESTATION_DIGEST_KEY, ""))
            if on is None or on not in targets:
                continue
            attestation = self.manifest(child.digest)
            for layer in attestation.layers:
                kind = kind_of_predicate(layer.annotations.get(_PREDICATE_TYPE_KEY, ""))
                if kind is None or kind not in self.kinds:
                    continue
                data = self.client.get_blob(
                    self.resolved.ref, layer.digest, cap=STATEMENT_CAP, kind=f"{kind} attestation"
                )
                statement = load_statement(data)
                subjects = statement_subjects(statement) if statement is not None else ()
                subject = on if on in subjects else (subjects[0] if subjects else None)
                self.found.append(Attached(kind, child.digest, targets[on], subject, bound))

    def signatures(self, targets: Sequence[Target]) -> None:
        if AttestationKind.SIGNATURE not in self.kinds:
            return
        for target in targets:
            tag = f"{target.digest.encoded_tag}.sig"
            try:
                sig = self.client.get_manifest(self.resolved.ref, tag)
            except NotFoundError:
                continue
            self.found.append(Attached(AttestationKind.SIGNATURE, sig.digest, target))

    def elsewhere(self, targets: dict[Digest, Target]) -> None:
        """Other tags' indexes that attest the truth or its children (bounded scan)."""
        tags = self.client.list_tags(self.resolved.ref, max_tags=SCAN_TAGS * 4, max_pages=1)
        own = self.resolved.ref.tag
        for tag in [t for t in tags if t != own and not t.endswith((".sig", ".att"))][:SCAN_TAGS]:
            try:
                other = self.client.get_manifest(self.resolved.ref, tag)
            except NotFoundError:
                continue
            if other.is_index and other.digest not in targets:
                self.from_index(other, targets, bound=False)


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
        if top.is_index:
            run.from_index(top, targets)
        elif truth.index_digest is not None:
            index = run.manifest(truth.index_digest)
            targets[index.digest] = Target(index.digest, None, True)
            run.from_index(index, targets)
        run.signatures([top_target, *children])
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
        on = {a.on.digest for a in found if a.kind is kind}
        if truth.digest in on or (children and all(c.digest in on for c in children)):
            continue
        out.add(kind)
    return frozenset(out)


def _digest(text: str) -> Digest | None:
    try:
        return Digest.parse(text)
    except TruedigestError:
        return None


__all__ = ["SCAN_TAGS", "survey"]
