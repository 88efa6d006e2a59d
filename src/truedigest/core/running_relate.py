"""How one digest relates to another, from the registry facts the engine read.

Pure: a RegistryView in, relations out. Used by the `running` judge for the
truth, the pins and the mixed-workload check, and by the engine to decide which
running digests to look up.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from truedigest.errors import TruedigestError
from truedigest.model.running_state import (
    ManifestKnowledge,
    RegistryView,
    RunningRecord,
    RunningRelation,
)
from truedigest.oci.digest import Digest
from truedigest.oci.manifest import Manifest
from truedigest.oci.reference import ImageRef, parse_reference, parse_repository

R = RunningRelation
EQUIVALENT = frozenset({R.IDENTICAL, R.PLATFORM_MANIFEST, R.INDEX_OF})
"""Relations under which a running digest is the same image as the target."""
RANK = (
    R.IDENTICAL,
    R.PLATFORM_MANIFEST,
    R.INDEX_OF,
    R.CONFIG_DIGEST,
    R.ATTESTATION,
    R.OTHER_IMAGE,
)
MAX_LOOKUPS = 64
"""Distinct running digests the engine should look up; more are reported as unknown."""


@dataclass(frozen=True, slots=True)
class Link:
    relation: RunningRelation
    platform: str | None = None
    note: str | None = None


def knowledge_of(manifest: Manifest) -> ManifestKnowledge:
    """What the judge needs of one manifest the engine read (may raise RegistryError)."""
    if manifest.is_index:
        children = {
            c.digest: str(c.platform) if c.platform else None
            for c in manifest.children
            if not c.is_attestation
        }
        attestations = frozenset(c.digest for c in manifest.children if c.is_attestation)
        return ManifestKnowledge(
            manifest.digest, is_index=True, children=children, attestations=attestations
        )
    config = manifest.config
    return ManifestKnowledge(
        manifest.digest, is_index=False, config=config.digest if config else None
    )


def relate(claimed: Digest, target: Digest, view: RegistryView) -> Link | None:
    """How `claimed` relates to `target`, from what the view knows (None: unknown)."""
    if claimed == target:
        return Link(R.IDENTICAL)
    known = view.manifests
    tk, ck = known.get(target), known.get(claimed)
    if tk is not None and tk.is_index and claimed in tk.attestations:
        return Link(R.ATTESTATION)
    if tk is not None and tk.is_index and claimed in tk.children:
        return Link(R.PLATFORM_MANIFEST, tk.children[claimed])
    if ck is not None and ck.is_index and target in ck.children:
        return Link(R.INDEX_OF, ck.children[target])
    for config, platform in _configs_of(target, view):
        if config == claimed:
            return Link(R.CONFIG_DIGEST, platform)
    if claimed in view.missing:
        return Link(R.NOT_IN_REGISTRY)
    if claimed in view.served or ck is not None:
        return Link(R.OTHER_IMAGE, note=_sibling(claimed, target, view))
    return None


def _configs_of(target: Digest, view: RegistryView) -> list[tuple[Digest, str | None]]:
    tk = view.manifests.get(target)
    if tk is None:
        return []
    if not tk.is_index:
        return [(tk.config, view.platform)] if tk.config else []
    out = []
    for child, platform in tk.children.items():
        ck = view.manifests.get(child)
        if ck is not None and ck.config is not None:
            out.append((ck.config, platform))
    return out


def _sibling(claimed: Digest, target: Digest, view: RegistryView) -> str | None:
    for index in view.manifests.values():
        if index.is_index and claimed in index.children and target in index.children:
            return f"the {index.children[claimed] or 'other'} child of the same index"
    return None


def truth_configs_complete(view: RegistryView) -> bool:
    """Every manifest of the truth (and its children) was read: configs are all known."""
    tk = view.manifests.get(view.truth) if view.truth else None
    if tk is None:
        return False
    if not tk.is_index:
        return tk.config is not None
    return all(c in view.manifests for c in tk.children)


def family(view: RegistryView) -> frozenset[Digest]:
    """The truth, its children, the indexes holding it, and all their configs."""
    if view.truth is None:
        return frozenset()
    found = {view.truth}
    found.update(view.manifests[view.truth].children if view.truth in view.manifests else ())
    found.update(k.digest for k in view.manifests.values() if view.truth in k.children)
    configs = {c for digest in found for c, _ in _configs_of(digest, view)}
    return frozenset(found | configs)


def _repo_ref(text: str | None) -> ImageRef | None:
    if not text:
        return None
    try:
        return parse_reference(text, default_tag=None)
    except TruedigestError:
        return None


def relevant(record: RunningRecord, target: ImageRef, kin: frozenset[Digest]) -> bool:
    """Compared with the truth: the `--image` repository (or its path on a mirror), an
    image that names no parsable repository (fail closed), or a digest of the truth."""
    ref = _repo_ref(record.digest_repo) or _repo_ref(record.image)
    if ref is None or ref.same_repository(target) or ref.repository == target.repository:
        return True
    mine = {*record.candidates, record.digest, record.image_id}
    return bool(mine & kin)


def digests_to_look_up(records: Iterable[RunningRecord], view: RegistryView) -> list[Digest]:
    """The engine asks the `--image` repository about each of these (GET manifest:
    200 -> `served` + `manifests`, 404 -> `missing`, failure -> `unknown`) before
    judging. Image IDs are included (Docker's containerd store reports a manifest
    digest there) unless they are known configs of the truth. At most MAX_LOOKUPS,
    in input order."""
    target = parse_repository(view.repository)
    kin = family(view)
    wanted: dict[Digest, None] = {}
    for rec in records:
        if rec.error is not None or not relevant(rec, target, kin):
            continue
        for digest in (*rec.candidates, rec.digest):
            if digest is not None and digest not in view.manifests and digest not in kin:
                wanted.setdefault(digest)
    return list(wanted)[:MAX_LOOKUPS]


__all__ = [
    "EQUIVALENT",
    "MAX_LOOKUPS",
    "RANK",
    "Link",
    "digests_to_look_up",
    "family",
    "knowledge_of",
    "relate",
    "relevant",
    "truth_configs_complete",
]
