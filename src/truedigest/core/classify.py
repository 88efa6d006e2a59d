"""What a digest is within a repository: the rules of `whatis`, over a walked tag graph.

Pure. `truedigest.engine.whatis_run` lists and resolves the tags, fetches nested
indexes and, only when these rules ask for it, a config's platform or a blob's
bytes; everything it learns is recorded in a `TagGraph`, and the functions here
turn the graph into a `WhatIs`: the kind, the platform, the tags pointing at the
digest (directly or through an index) and the sentence that explains it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

from truedigest.core.facts import IMAGE_CONFIG_TYPES, looks_like_attestation, manifest_facts
from truedigest.core.taggraph import BlobUse, TagGraph, WalkError, single_platform
from truedigest.core.taggroups import derived_from
from truedigest.errors import ExitCode, TruedigestError
from truedigest.oci.digest import Digest
from truedigest.oci.manifest import (
    ATTESTATION_DIGEST_KEY,
    Descriptor,
    Manifest,
    Platform,
)
from truedigest.oci.reference import ImageRef
from truedigest.oci.schema1 import LEGACY_LABEL


class Kind(StrEnum):
    INDEX = "index"
    MANIFEST = "manifest"
    ATTESTATION = "attestation"
    CONFIG = "config"
    LAYER = "layer"
    ABSENT = "absent"


@dataclass(frozen=True, slots=True)
class WhatIs:
    digest: Digest
    repository: ImageRef
    kind: Kind
    detail: str
    platform: Platform | None = None
    tags: tuple[str, ...] = ()
    parents: tuple[Digest, ...] = ()
    """Indexes listing the digest; for a config or layer, the manifests using it."""
    indexes: tuple[Digest, ...] = ()
    """Every index that (transitively) holds the digest or the manifests using it."""
    media_type: str | None = None
    size: int | None = None
    attests: Digest | None = None
    artifact_type: str | None = None
    tags_checked: int = 0
    errors: tuple[WalkError, ...] = ()
    revision: str | None = None
    """For an image manifest or index: the commit it records (`whatis_run` sets it)."""
    revision_source: str | None = None
    """annotation | label | provenance."""

    @property
    def exit_code(self) -> ExitCode:
        if self.kind is Kind.ABSENT:
            return ExitCode.ABSENT
        return ExitCode.UNAVAILABLE if self.errors else ExitCode.OK


def absent(repo: ImageRef, digest: Digest) -> WhatIs:
    """Neither a manifest nor a blob: exit 10."""
    return WhatIs(
        digest, repo, Kind.ABSENT, f"{repo.name} serves neither a manifest nor a blob {digest}"
    )


def _blank(graph: TagGraph, digest: Digest, kind: Kind) -> WhatIs:
    return WhatIs(
        digest, graph.repo, kind, "", tags_checked=graph.tag_count, errors=tuple(graph.errors)
    )


# -- a manifest ------------------------------------------------------------------------


def needs_config_platform(graph: TagGraph, manifest: Manifest) -> bool:
    """An image manifest no index entry gives a platform: only its config can name one."""
    if manifest.is_index:
        return False
    facts = manifest_facts(manifest)
    entries = graph.parents.get(manifest.digest, [])
    if any(d.is_attestation for _, d in entries) or looks_like_attestation(manifest):
        return False
    platform = single_platform(d.platform for _, d in entries)
    return platform is None and facts.config_media_type in IMAGE_CONFIG_TYPES


def classify_manifest(
    graph: TagGraph,
    manifest: Manifest,
    *,
    config_platform: Platform | None = None,
    config_missing: bool = False,
) -> WhatIs:
    """An index, an attestation, or an image manifest (with `config_platform` when
    `needs_config_platform` asked for it; `config_missing` when the registry has no
    such config blob: still a manifest, one nobody can pull). Schema 1 (legacy) has
    no config: its platform is its `architecture`."""
    digest = manifest.digest
    entries = graph.parents.get(digest, [])
    parents = tuple(dict.fromkeys(parent for parent, _ in entries))
    tags = graph.tags_of(digest)
    where = _where(graph.direct.get(digest, []), parents, tags)
    result = replace(
        _blank(graph, digest, Kind.MANIFEST),
        tags=tags,
        parents=parents,
        indexes=tuple(graph.ancestors(digest)),
        media_type=manifest.media_type,
        size=manifest.size,
    )
    if manifest.is_index:
        children = manifest.children
        platforms = [str(c.platform) for c in children if c.platform and not c.is_attestation]
        n_att = sum(1 for c in children if c.is_attestation)
        holds = ", ".join(platforms) or "no platform manifests"
        if n_att:
            holds += f" + {n_att} attestation{'s' if n_att > 1 else ''}"
        return replace(result, kind=Kind.INDEX, detail=f"an image index ({holds}){where}")
    facts = manifest_facts(manifest)
    result = replace(result, artifact_type=facts.artifact_type)
    cosign = _cosign_target(graph.direct.get(digest, []))
    if cosign is not None:
        what, on = cosign
        plat = graph.platform_of(on)
        return replace(
            result,
            kind=Kind.ATTESTATION,
            detail=f"a cosign {what} for {f'the {plat} manifest ' if plat else ''}{on}{where}",
            attests=on,
        )
    attested = [d for _, d in entries if d.is_attestation]
    if attested or looks_like_attestation(manifest):
        attests = _attested_digest(attested, facts.subject)
        of = ""
        if attests is not None:
            plat = graph.platform_of(attests)
            of = f" for {f'the {plat} manifest ' if plat else ''}{attests}"
        return replace(
            result,
            kind=Kind.ATTESTATION,
            detail=f"an attestation manifest{of}{where}",
            attests=attests,
        )
    platform = single_platform(d.platform for _, d in entries)
    if platform is None and facts.legacy:
        platform = facts.platform
    elif platform is None and facts.config_media_type in IMAGE_CONFIG_TYPES:
        platform = config_platform
    shown = f"{platform} " if platform is not None else ""
    legacy = f"{LEGACY_LABEL} " if facts.legacy else ""
    if parents:
        what = f"the {shown}platform {legacy}manifest of index {', '.join(map(str, parents))}"
    else:
        what = f"a single-platform {shown}{legacy}manifest"
    if config_missing:
        where += (
            f"; its config blob {facts.config_digest} is missing from the registry "
            "(the image cannot be pulled)"
        )
    return replace(result, detail=what + where, platform=platform)


_COSIGN_KINDS = {"sig": "signature", "att": "attestation"}


def _cosign_target(tags: Sequence[str]) -> tuple[str, Digest] | None:
    """("signature" | "attestation", the digest) when a tag is cosign's
    `<alg>-<hex>.sig` / `.att` for a digest."""
    for tag in tags:
        derived = derived_from(tag)
        if derived is not None and derived[1] in _COSIGN_KINDS:
            return _COSIGN_KINDS[derived[1]], derived[0]
    return None


def _attested_digest(attested: Sequence[Descriptor], subject: Digest | None) -> Digest | None:
    for desc in attested:
        raw = desc.annotations.get(ATTESTATION_DIGEST_KEY)
        if raw:
            try:
                return Digest.parse(raw)
            except TruedigestError:
                continue
    return subject


def _where(direct: Sequence[str], parents: Sequence[Digest], tags: Sequence[str]) -> str:
    if not tags and parents:
        return "; an index lists it but no tag points at that index"
    if not tags:
        return "; no tag points at it"
    parts = []
    if direct:
        parts.append(f"tagged {', '.join(sorted(direct))}")
    via = [t for t in tags if t not in direct]
    if via:
        parts.append(f"tags through its index: {', '.join(via)}")
    return "; " + "; ".join(parts)


# -- a blob ------------------------------------------------------------------------------


def needs_blob_body(graph: TagGraph, uses: Sequence[BlobUse]) -> bool:
    """The blob's own JSON is wanted: a lone config whose users give no platform, or a
    blob no manifest uses (it is sniffed; read it under a small cap)."""
    if not uses:
        return True
    as_config = [u for u in uses if u.as_config]
    if len(as_config) != 1:
        return False
    return single_platform(graph.platform_of(u.manifest) for u in as_config) is None


def classify_blob(
    graph: TagGraph, digest: Digest, uses: Sequence[BlobUse], body: object = None
) -> WhatIs:
    """A config or a layer of the manifests in `uses`; `body` is the blob's parsed
    JSON when `needs_blob_body` asked for it (None: not read, too large, not JSON)."""
    as_config = [u for u in uses if u.as_config]
    chosen = as_config or [u for u in uses if not u.as_config]
    users = [u.manifest for u in chosen]
    tags = tuple(sorted({t for m in users for t in graph.tags_of(m)}))
    result = replace(
        _blank(graph, digest, Kind.LAYER),
        tags=tags,
        parents=tuple(users),
        indexes=tuple(dict.fromkeys(i for m in users for i in graph.ancestors(m))),
        platform=single_platform(graph.platform_of(m) for m in users),
        media_type=chosen[0].media_type if chosen else None,
    )
    if as_config:
        platform = result.platform
        if platform is None and len(as_config) == 1:
            platform = Platform.from_json(body)
        return replace(
            result,
            kind=Kind.CONFIG,
            platform=platform,
            detail=f"the config blob (the image ID `docker image inspect` prints) of "
            f"{_manifests_phrase(graph, users)}{_tagged(tags)}; "
            "it is not pullable: pin the manifest or index digest instead",
        )
    if chosen:
        return replace(
            result,
            detail=f"a layer of {_manifests_phrase(graph, users)}{_tagged(tags)}; "
            "it is not pullable as an image",
        )
    # A blob no tagged manifest uses: its JSON (small reads only) tells a config.
    kind, platform = sniff(body)
    return replace(
        result,
        kind=kind,
        platform=platform,
        detail=f"a blob the repository serves but no manifest under its {graph.tag_count} "
        f"tags uses (untagged, or left behind by a moved tag); it looks like a {kind}",
    )


def sniff(body: object) -> tuple[Kind, Platform | None]:
    """An image config is a JSON object with `rootfs` or `architecture`; else a layer."""
    if isinstance(body, dict) and ("rootfs" in body or "architecture" in body):
        return Kind.CONFIG, Platform.from_json(body)
    return Kind.LAYER, None


def _manifests_phrase(graph: TagGraph, manifests: Sequence[Digest]) -> str:
    parts = []
    for m in manifests:
        plat = graph.platform_of(m)
        parts.append(f"manifest {m}" + (f" ({plat})" if plat else ""))
    return ", ".join(parts)


def _tagged(tags: Sequence[str]) -> str:
    if not tags:
        return " (no tag points at it)"
    return f" (tags: {', '.join(tags)})"


__all__ = [
    "Kind",
    "WhatIs",
    "absent",
    "classify_blob",
    "classify_manifest",
    "needs_blob_body",
    "needs_config_platform",
    "sniff",
]
