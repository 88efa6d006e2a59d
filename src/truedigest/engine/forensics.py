"""Incident forensics: `inspect` (what an image is made of) and `whatis` (what a digest is).

Pure logic over `RegistryClient` (standard library otherwise; no click, no rich).
Both read only what they need and fetch concurrently; the client bounds requests
per host. A part that cannot be read (a dangling child, a tag that errors) is
data on the result, not an exception: the caller prints what was found and exits
3 (could not check everything). Only the top-level object missing raises
`NotFoundError` (exit 10) from `inspect`; `whatis` reports `absent` as a kind.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import TypeVar

from truedigest.base import jsonutil
from truedigest.errors import (
    DigestMismatchError,
    ExitCode,
    ManifestTooLargeError,
    NotFoundError,
    RegistryError,
    TruedigestError,
)
from truedigest.oci.digest import Digest
from truedigest.oci.manifest import (
    ATTESTATION_DIGEST_KEY,
    CREATED,
    INDEX_MEDIA_TYPES,
    Descriptor,
    Manifest,
    Platform,
)
from truedigest.oci.reference import ImageRef
from truedigest.oci.registry import RegistryClient
from truedigest.sources.tagscan import scan_tags

REVISION = "org.opencontainers.image.revision"
SOURCE = "org.opencontainers.image.source"
PREDICATE_TYPE_KEY = "in-toto.io/predicate-type"
ATTESTATION_LAYER_TYPES = frozenset(
    {
        "application/vnd.in-toto+json",
        "application/vnd.dsse.envelope.v1+json",
    }
)
IMAGE_CONFIG_TYPES = frozenset(
    {
        "application/vnd.oci.image.config.v1+json",
        "application/vnd.docker.container.image.v1+json",
    }
)
SNIFF_CAP = 1024 * 1024
"""An unreferenced blob larger than this is not a config: it is called a layer."""

T = TypeVar("T")


# -- what one manifest says about itself ----------------------------------------


@dataclass(frozen=True, slots=True)
class ManifestFacts:
    """One manifest as served, with the image facts its config adds (when read)."""

    digest: Digest
    media_type: str
    size: int
    annotations: dict[str, str]
    config_digest: Digest | None = None
    config_media_type: str | None = None
    layers: int = 0
    layers_size: int = 0
    created: str | None = None
    revision: str | None = None
    source: str | None = None
    platform: Platform | None = None
    """From the config (`os`/`architecture`/`variant`), when the config was read."""
    artifact_type: str | None = None
    subject: Digest | None = None
    predicate_types: tuple[str, ...] = ()

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_MEDIA_TYPES


def manifest_facts(manifest: Manifest, config: Mapping[str, object] | None = None) -> ManifestFacts:
    """Facts from the manifest bytes, completed by its parsed config when given.

    created/revision/source: the manifest's annotations win, then the config's
    labels; `created` finally falls back to the config's own `created`.
    """
    annotations = manifest.annotations
    labels = _config_labels(config)
    created = annotations.get(CREATED) or labels.get(CREATED)
    if created is None and config is not None:
        raw = config.get("created")
        created = raw if isinstance(raw, str) and raw else None
    cfg = manifest.config
    layers = manifest.layers
    subject = manifest.subject
    artifact_type = manifest.json.get("artifactType")
    predicate_types = tuple(
        dict.fromkeys(
            layer.annotations[PREDICATE_TYPE_KEY]
            for layer in layers
            if PREDICATE_TYPE_KEY in layer.annotations
        )
    )
    return ManifestFacts(
        digest=manifest.digest,
        media_type=manifest.media_type,
        size=manifest.size,
        annotations=annotations,
        config_digest=cfg.digest if cfg is not None else None,
        config_media_type=cfg.media_type if cfg is not None else None,
        layers=len(layers),
        layers_size=sum(layer.size for layer in layers),
        created=created,
        revision=annotations.get(REVISION) or labels.get(REVISION),
        source=annotations.get(SOURCE) or labels.get(SOURCE),
        platform=Platform.from_json(config) if config is not None else None,
        artifact_type=artifact_type if isinstance(artifact_type, str) else None,
        subject=subject.digest if subject is not None else None,
        predicate_types=predicate_types,
    )


def looks_like_attestation(manifest: Manifest) -> bool:
    """An in-toto/DSSE payload manifest, or an artifact that names a `subject`."""
    if manifest.is_index:
        return False
    if manifest.subject is not None:
        return True
    layers = manifest.layers
    return bool(layers) and all(
        layer.media_type in ATTESTATION_LAYER_TYPES or PREDICATE_TYPE_KEY in layer.annotations
        for layer in layers
    )


def _config_labels(config: Mapping[str, object] | None) -> dict[str, str]:
    if config is None:
        return {}
    inner = config.get("config")
    labels = inner.get("Labels") if isinstance(inner, dict) else None
    if not isinstance(labels, dict):
        return {}
    return {str(k): v for k, v in labels.items() if isinstance(v, str)}


# -- inspect -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChildNode:
    """One entry of an index: the descriptor, and the manifest it points at."""

    descriptor: Descriptor
    facts: ManifestFacts | None
    referrers: tuple[Descriptor, ...] = ()
    error: str | None = None

    @property
    def digest(self) -> Digest:
        return self.descriptor.digest

    @property
    def platform(self) -> Platform | None:
        return self.descriptor.platform

    @property
    def attestation(self) -> bool:
        return self.descriptor.is_attestation

    @property
    def attests(self) -> Digest | None:
        raw = self.descriptor.annotations.get(ATTESTATION_DIGEST_KEY)
        if raw is not None:
            try:
                return Digest.parse(raw)
            except TruedigestError:
                return None
        return self.facts.subject if self.facts is not None else None

    @property
    def annotations(self) -> dict[str, str]:
        """The index entry's annotations, overlaid with the manifest's own."""
        merged = dict(self.descriptor.annotations)
        if self.facts is not None:
            merged.update(self.facts.annotations)
        return merged


@dataclass(frozen=True, slots=True)
class Inspection:
    ref: ImageRef
    facts: ManifestFacts
    children: tuple[ChildNode, ...]
    referrers: tuple[Descriptor, ...]
    errors: tuple[str, ...] = ()

    @property
    def is_index(self) -> bool:
        return self.facts.is_index

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.UNAVAILABLE if self.errors else ExitCode.OK


def inspect(client: RegistryClient, ref: ImageRef, *, workers: int | None = None) -> Inspection:
    """Index → children → config/layers, plus referrers of the top and of each image child.

    Requests: 1 for the top manifest, then concurrently: per child its manifest
    (+ its config unless it is an attestation), the referrers of the top digest
    and of each non-attestation child (API, then the `sha256-<hex>` tag). A
    single manifest costs its config and its referrers.
    Raises NotFoundError when `ref` itself is not served.
    """
    top = client.get_manifest(ref)
    errors: list[str] = []
    with _pool(client, workers) as pool:
        top_referrers = pool.submit(client.referrers, ref, top.digest)
        if not top.is_index:
            config = None
            if _has_image_config(top):
                pending = pool.submit(client.get_config, ref, top)
                config = _outcome(pending, errors, f"config of {top.digest}")
            facts = manifest_facts(top, config)
            children: tuple[ChildNode, ...] = ()
        else:
            facts = manifest_facts(top)
            descriptors = top.children
            fetched = [pool.submit(_child_facts, client, ref, d) for d in descriptors]
            child_referrers: list[Future[list[Descriptor]] | None] = [
                None if d.is_attestation else pool.submit(client.referrers, ref, d.digest)
                for d in descriptors
            ]
            nodes = []
            for desc, fut, rfut in zip(descriptors, fetched, child_referrers, strict=True):
                error = _error_of(fut)
                child_facts = fut.result() if error is None else None
                refs: list[Descriptor] = []
                if rfut is not None:
                    refs = _outcome(rfut, errors, f"referrers of {desc.digest}") or []
                if error is not None:
                    errors.append(f"child {desc.digest}: {error}")
                nodes.append(ChildNode(desc, child_facts, tuple(refs), error))
            children = tuple(nodes)
        referrers = _outcome(top_referrers, errors, f"referrers of {top.digest}") or []
    return Inspection(ref, facts, children, tuple(referrers), tuple(errors))


def _child_facts(client: RegistryClient, ref: ImageRef, desc: Descriptor) -> ManifestFacts:
    manifest = client.get_manifest(ref, desc.digest)
    config = None
    if not desc.is_attestation and _has_image_config(manifest):
        config = client.get_config(ref, manifest)
    return manifest_facts(manifest, config)


def _has_image_config(manifest: Manifest) -> bool:
    """Worth a config GET: an image (not an attestation or artifact) with an image config."""
    if manifest.is_index or looks_like_attestation(manifest):
        return False
    config = manifest.config
    return config is not None and config.media_type in IMAGE_CONFIG_TYPES


# -- whatis ------------------------------------------------------------------------


class Kind(StrEnum):
    INDEX = "index"
    MANIFEST = "manifest"
    ATTESTATION = "attestation"
    CONFIG = "config"
    LAYER = "layer"
    ABSENT = "absent"


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

    @property
    def exit_code(self) -> ExitCode:
        if self.kind is Kind.ABSENT:
            return ExitCode.ABSENT
        return ExitCode.UNAVAILABLE if self.errors else ExitCode.OK


def whatis(
    client: RegistryClient, repo: ImageRef, digest: Digest, *, workers: int | None = None
) -> WhatIs:
    """Classify `digest` within `repo`.

    1. GET it as a manifest: index, or manifest / attestation;
    2. otherwise HEAD it as a blob: absent when the registry has no such blob;
    3. list the tags, GET them concurrently and walk the indexes (fetching child
       manifests only when looking for a blob's owner) to name tags and parents.
    """
    target = repo.with_digest(digest)
    manifest: Manifest | None = None
    try:
        manifest = client.get_manifest(target)
    except NotFoundError:
        pass
    except DigestMismatchError:
        raise
    except RegistryError:
        # distribution 2.8 answers 500 UNKNOWN when asked for a config or layer as a
        # manifest (it finds the blob, then fails to parse it); other registries serve
        # a body that is not a manifest. A blob that exists explains it; else re-raise.
        if client.blob_exists(target, digest):
            return _classify_blob_in(client, repo, digest, workers)
        raise
    if manifest is None and not client.blob_exists(target, digest):
        return WhatIs(
            digest,
            repo,
            Kind.ABSENT,
            f"{repo.name} serves neither a manifest nor a blob {digest}",
        )
    if manifest is None:
        return _classify_blob_in(client, repo, digest, workers)
    with _pool(client, workers) as pool:
        walk = _Walk(client, repo, pool)
        walk.run()
        return _classify_manifest(client, walk, manifest)


def _classify_blob_in(
    client: RegistryClient, repo: ImageRef, digest: Digest, workers: int | None
) -> WhatIs:
    with _pool(client, workers) as pool:
        walk = _Walk(client, repo, pool)
        walk.run()
        return _classify_blob(client, walk, digest)


def _classify_manifest(client: RegistryClient, walk: _Walk, manifest: Manifest) -> WhatIs:
    digest = manifest.digest
    entries = walk.parents.get(digest, [])
    parents = tuple(dict.fromkeys(parent for parent, _ in entries))
    tags = walk.tags_of(digest)
    where = _where(walk.direct.get(digest, []), parents, tags)
    result = replace(
        walk.result(digest, Kind.MANIFEST, ""),
        tags=tags,
        parents=parents,
        indexes=tuple(walk.ancestors(digest)),
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
    attested = [d for _, d in entries if d.is_attestation]
    if attested or looks_like_attestation(manifest):
        attests = _attested_digest(attested, facts)
        of = ""
        if attests is not None:
            plat = walk.platform_of(attests)
            of = f" for {f'the {plat} manifest ' if plat else ''}{attests}"
        return replace(
            result,
            kind=Kind.ATTESTATION,
            detail=f"an attestation manifest{of}{where}",
            attests=attests,
        )
    platform = _single_platform(d.platform for _, d in entries)
    if platform is None and facts.config_media_type in IMAGE_CONFIG_TYPES:
        platform = client.config_platform(walk.repo, manifest)
    shown = f"{platform} " if platform is not None else ""
    if parents:
        what = f"the {shown}platform manifest of index {', '.join(map(str, parents))}"
    else:
        what = f"a single-platform {shown}manifest"
    return replace(result, detail=what + where, platform=platform)


def _classify_blob(client: RegistryClient, walk: _Walk, digest: Digest) -> WhatIs:
    uses = walk.blob_uses(digest)
    as_config = [u for u in uses if u.role is Kind.CONFIG]
    chosen = as_config or [u for u in uses if u.role is Kind.LAYER]
    users = [u.manifest for u in chosen]
    tags = tuple(sorted({t for m in users for t in walk.tags_of(m)}))
    result = replace(
        walk.result(digest, Kind.LAYER, ""),
        tags=tags,
        parents=tuple(users),
        indexes=tuple(dict.fromkeys(i for m in users for i in walk.ancestors(m))),
        platform=_single_platform(walk.platform_of(m) for m in users),
        media_type=chosen[0].media_type if chosen else None,
    )
    if as_config:
        platform = result.platform
        if platform is None and len(as_config) == 1:
            platform = _platform_of_config(client, walk.repo, digest)
        return replace(
            result,
            kind=Kind.CONFIG,
            platform=platform,
            detail=f"the config blob (the image ID `docker image inspect` prints) of "
            f"{_manifests_phrase(walk, users)}{_tagged(tags)}; "
            "it is not pullable: pin the manifest or index digest instead",
        )
    if chosen:
        return replace(
            result,
            detail=f"a layer of {_manifests_phrase(walk, users)}{_tagged(tags)}; "
            "it is not pullable as an image",
        )
    # A blob no tagged manifest uses: look at it (small reads only) to tell a config.
    kind, platform = _sniff_blob(client, walk.repo, digest)
    return replace(
        result,
        kind=kind,
        platform=platform,
        detail=f"a blob the repository serves but no manifest under its {walk.tag_count} "
        f"tags uses (untagged, or left behind by a moved tag); it looks like a {kind}",
    )


def _sniff_blob(
    client: RegistryClient, repo: ImageRef, digest: Digest
) -> tuple[Kind, Platform | None]:
    try:
        body = client.get_blob(repo, digest, cap=SNIFF_CAP)
    except ManifestTooLargeError:
        return Kind.LAYER, None
    try:
        data = jsonutil.loads(body)
    except ValueError:
        return Kind.LAYER, None
    if isinstance(data, dict) and ("rootfs" in data or "architecture" in data):
        return Kind.CONFIG, Platform.from_json(data)
    return Kind.LAYER, None


def _platform_of_config(client: RegistryClient, repo: ImageRef, digest: Digest) -> Platform | None:
    try:
        data = jsonutil.loads(client.get_blob(repo, digest))
    except (ValueError, ManifestTooLargeError):
        return None
    return Platform.from_json(data)


def _attested_digest(attested: Sequence[Descriptor], facts: ManifestFacts) -> Digest | None:
    for desc in attested:
        raw = desc.annotations.get(ATTESTATION_DIGEST_KEY)
        if raw:
            try:
                return Digest.parse(raw)
            except TruedigestError:
                continue
    return facts.subject


def _single_platform(platforms: Iterable[Platform | None]) -> Platform | None:
    distinct = {p for p in platforms if p is not None and not p.is_unknown}
    return distinct.pop() if len(distinct) == 1 else None


def _manifests_phrase(walk: _Walk, manifests: Sequence[Digest]) -> str:
    parts = []
    for m in manifests:
        plat = walk.platform_of(m)
        parts.append(f"manifest {m}" + (f" ({plat})" if plat else ""))
    return ", ".join(parts)


def _tagged(tags: Sequence[str]) -> str:
    if not tags:
        return " (no tag points at it)"
    return f" (tags: {', '.join(tags)})"


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


# -- the tag walk -------------------------------------------------------------------


class _Walk:
    """Every tag of a repository resolved, and the index structure under them."""

    def __init__(self, client: RegistryClient, repo: ImageRef, pool: ThreadPoolExecutor) -> None:
        self.client = client
        self.repo = repo
        self.pool = pool
        self.direct: dict[Digest, list[str]] = defaultdict(list)
        self.manifests: dict[Digest, Manifest] = {}
        self.parents: dict[Digest, list[tuple[Digest, Descriptor]]] = defaultdict(list)
        self.errors: list[WalkError] = []
        self.tag_count = 0
        self._expanded: set[Digest] = set()

    def run(self) -> None:
        scan = scan_tags(self.client, self.repo, concurrency=self.client.max_per_host)
        self.tag_count = scan.listed
        for error in scan.errors:
            if error.exit_code != ExitCode.ABSENT:  # absent: deleted since the listing
                self.errors.append(WalkError(error.tag, None, error.error))
        for resolved in scan.resolved:
            self.direct[resolved.digest].append(str(resolved.ref.tag))
            if resolved.manifest is not None:
                self.manifests.setdefault(resolved.digest, resolved.manifest)
        self._expand()

    def _expand(self) -> None:
        """Record the children of every index; fetch nested indexes until none is left."""
        while True:
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
            if not nested:
                return
            self._fetch(nested)

    def _fetch(self, digests: Iterable[Digest]) -> None:
        wanted = [d for d in dict.fromkeys(digests) if d not in self.manifests]
        futures = [
            self.pool.submit(self.client.get_manifest, self.repo.with_digest(d)) for d in wanted
        ]
        for digest, fut in zip(wanted, futures, strict=True):
            try:
                self.manifests[digest] = fut.result()
            except TruedigestError as exc:
                self.errors.append(WalkError(None, digest, exc.message))

    def result(self, digest: Digest, kind: Kind, detail: str) -> WhatIs:
        return WhatIs(
            digest,
            self.repo,
            kind,
            detail,
            tags_checked=self.tag_count,
            errors=tuple(self.errors),
        )

    def blob_uses(self, blob: Digest) -> list[_Use]:
        """Manifests using `blob` as config or layer: image children first, then attestations."""
        found = self._uses(blob)
        if found:
            return found
        self._fetch(d for d, entries in self.parents.items() if not _all_attestations(entries))
        found = self._uses(blob)
        if found:
            return found
        self._fetch(self.parents)
        return self._uses(blob)

    def _uses(self, blob: Digest) -> list[_Use]:
        found: list[_Use] = []
        for digest, manifest in self.manifests.items():
            if manifest.is_index:
                continue
            try:
                config, layers = manifest.config, manifest.layers
            except TruedigestError:
                continue
            if config is not None and config.digest == blob:
                found.append(_Use(digest, Kind.CONFIG, config.media_type))
            found.extend(_Use(digest, Kind.LAYER, x.media_type) for x in layers if x.digest == blob)
        return sorted(found, key=lambda use: (use.role is not Kind.CONFIG, str(use.manifest)))

    def platform_of(self, digest: Digest) -> Platform | None:
        """The platform an index entry gives `digest`, when one does."""
        return _single_platform(d.platform for _, d in self.parents.get(digest, ()))

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


@dataclass(frozen=True, slots=True)
class _Use:
    manifest: Digest
    role: Kind
    media_type: str


def _all_attestations(entries: Sequence[tuple[Digest, Descriptor]]) -> bool:
    return all(desc.is_attestation for _, desc in entries)


# -- plumbing ------------------------------------------------------------------------


def _pool(client: RegistryClient, workers: int | None) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(
        max_workers=workers or max(2, client.max_per_host), thread_name_prefix="truedigest"
    )


def _error_of(fut: Future[T]) -> str | None:
    """The message of a TruedigestError the future raised; anything else re-raises."""
    exc = fut.exception()
    if exc is None:
        return None
    if isinstance(exc, TruedigestError):
        return exc.message
    raise exc


def _outcome(fut: Future[T], errors: list[str], what: str) -> T | None:
    error = _error_of(fut)
    if error is not None:
        errors.append(f"{what}: {error}")
        return None
    return fut.result()


__all__ = [
    "ChildNode",
    "Inspection",
    "Kind",
    "ManifestFacts",
    "WalkError",
    "WhatIs",
    "inspect",
    "looks_like_attestation",
    "manifest_facts",
    "whatis",
]
