"""What the `whatis` walk learned: every tag resolved, and the index structure under them.

Pure state and queries. `truedigest.engine.whatis_run` fills a `TagGraph` (tags,
manifests it fetched, what it could not read); `truedigest.core.classify` reads
it to name a digest's tags, parents and platform.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from truedigest.errors import TruedigestError
from truedigest.oci.digest import Digest
from truedigest.oci.manifest import INDEX_MEDIA_TYPES, Descriptor, Manifest, Platform
from truedigest.oci.reference import ImageRef


@dataclass(frozen=True, slots=True)
class WalkError:
    """A tag or manifest the walk could not read."""

    tag: str | None
    digest: Digest | None
    error: str

    def __str__(self) -> str:
        what = f"tag {self.tag}" if self.tag is not None else f"manifest {self.digest}"
        return f"{what}: {self.error}"


@dataclass(frozen=True, slots=True)
class BlobUse:
    """A manifest that uses a blob, and as what (config or layer)."""

    manifest: Digest
    as_config: bool
    """As its config; else as one of its layers."""
    media_type: str


class TagGraph:
    """Every tag of a repository resolved, and the index structure under them.

    Filled by the walk (`add_tag`, `add_manifest`, `add_error`); `expand` records
    the children of the indexes seen so far and names the nested ones still to fetch.
    """

    def __init__(self, repo: ImageRef, tag_count: int = 0) -> None:
        self.repo = repo
        self.tag_count = tag_count
        self.direct: dict[Digest, list[str]] = defaultdict(list)
        self.manifests: dict[Digest, Manifest] = {}
        self.parents: dict[Digest, list[tuple[Digest, Descriptor]]] = defaultdict(list)
        self.errors: list[WalkError] = []
        self._expanded: set[Digest] = set()

    def add_tag(self, tag: str, digest: Digest, manifest: Manifest | None) -> None:
        self.direct[digest].append(tag)
        if manifest is not None:
            self.manifests.setdefault(digest, manifest)

    def add_manifest(self, digest: Digest, manifest: Manifest) -> None:
        self.manifests[digest] = manifest

    def add_error(self, error: WalkError) -> None:
        self.errors.append(error)

    def expand(self) -> list[Digest]:
        """Record the children of every index not yet expanded; return nested indexes to fetch."""
        nested: list[Digest] = []
        for digest, manifest in list(self.manifests.items()):
            if digest in self._expanded or not manifest.is_index:
                continue
            self._expanded.add(digest)
            try:
                children = manifest.children
            except TruedigestError as exc:
                self.errors.append(WalkError(None, digest, exc.message))
                continue
            for child in children:
                self.parents[child.digest].append((digest, child))
                if child.media_type in INDEX_MEDIA_TYPES and child.digest not in self.manifests:
                    nested.append(child.digest)
        return nested

    def missing(self, digests: Iterable[Digest]) -> list[Digest]:
        """`digests` once each, in order, without those already fetched."""
        return [d for d in dict.fromkeys(digests) if d not in self.manifests]

    def image_entries(self) -> list[Digest]:
        """Index entries that are not only ever attestations (their manifests hold images)."""
        return [d for d, entries in self.parents.items() if not _all_attestations(entries)]

    def all_entries(self) -> list[Digest]:
        return list(self.parents)

    def uses(self, blob: Digest) -> list[BlobUse]:
        """Fetched manifests using `blob` as config or layer: configs first, then by digest."""
        found: list[BlobUse] = []
        for digest, manifest in self.manifests.items():
            if manifest.is_index:
                continue
            try:
                config, layers = manifest.config, manifest.layers
            except TruedigestError:
                continue
            if config is not None and config.digest == blob:
                found.append(BlobUse(digest, True, config.media_type))
            found.extend(BlobUse(digest, False, x.media_type) for x in layers if x.digest == blob)
        return sorted(found, key=lambda use: (not use.as_config, str(use.manifest)))

    def platform_of(self, digest: Digest) -> Platform | None:
        """The platform an index entry gives `digest`, when one does."""
        return single_platform(d.platform for _, d in self.parents.get(digest, ()))

    def ancestors(self, digest: Digest) -> list[Digest]:
        out: dict[Digest, None] = {}
        stack = [digest]
        while stack:
            for parent, _ in self.parents.get(stack.pop(), ()):
                if parent not in out:
                    out[parent] = None
                    stack.append(parent)
        return list(out)

    def tags_of(self, digest: Digest) -> tuple[str, ...]:
        """Tags pointing at `digest` directly or at an index that (transitively) holds it."""
        tags = set(self.direct.get(digest, ()))
        for ancestor in self.ancestors(digest):
            tags.update(self.direct.get(ancestor, ()))
        return tuple(sorted(tags))


def _all_attestations(entries: Sequence[tuple[Digest, Descriptor]]) -> bool:
    return all(desc.is_attestation for _, desc in entries)


def single_platform(platforms: Iterable[Platform | None]) -> Platform | None:
    distinct = {p for p in platforms if p is not None and not p.is_unknown}
    return distinct.pop() if len(distinct) == 1 else None


__all__ = ["BlobUse", "TagGraph", "WalkError", "single_platform"]
