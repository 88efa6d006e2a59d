"""`whatis`: what a digest is within a repository, read from the registry.

Requests here, rules in `truedigest.core.classify`: GET the digest as a manifest,
else HEAD it as a blob; then list and resolve every tag, fetch nested indexes,
and fetch child manifests only when looking for a blob's owner. A tag, manifest
or config that cannot be read is recorded on the answer (exit 3), not raised; a
manifest whose config blob is gone is a manifest that says so; `absent` (exit 10)
is a kind, not an exception.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from truedigest.base import jsonutil
from truedigest.core.classify import (
    WhatIs,
    absent,
    classify_blob,
    classify_manifest,
    needs_blob_body,
    needs_config_platform,
)
from truedigest.core.facts import has_image_config, looks_like_attestation
from truedigest.core.revision import Revision, from_annotations, from_config
from truedigest.core.shortdigest import Candidate, DigestPrefix, Role, ambiguous, matching
from truedigest.core.taggraph import BlobUse, TagGraph, WalkError
from truedigest.engine.inspect_run import read_statement
from truedigest.engine.tags_run import scan_tags
from truedigest.engine.workpool import fetch_pool
from truedigest.errors import (
    DigestMismatchError,
    ExitCode,
    ManifestTooLargeError,
    NotFoundError,
    RegistryError,
    TruedigestError,
)
from truedigest.oci.digest import Digest
from truedigest.oci.manifest import ATTESTATION_DIGEST_KEY, Manifest, Platform
from truedigest.oci.reference import ImageRef
from truedigest.oci.registry import RegistryClient

SNIFF_CAP = 1024 * 1024
"""An unreferenced blob larger than this is not a config: it is called a layer."""


def whatis(
    client: RegistryClient,
    repo: ImageRef,
    digest: Digest | DigestPrefix,
    *,
    workers: int | None = None,
) -> WhatIs:
    """Classify `digest` (or the one digest a short-digest prefix names) within `repo`.

    1. GET it as a manifest: index, or manifest / attestation;
    2. otherwise HEAD it as a blob: absent when the registry has no such blob;
    3. list the tags, GET them concurrently and walk the indexes (fetching child
       manifests only when looking for a blob's owner) to name tags and parents.

    A prefix walks first (`resolve_prefix`), then goes on with the digest it names,
    reusing the walk: a manifest already read costs no second GET, a config or layer
    skips steps 1 and 2.
    """
    graph: TagGraph | None = None
    if isinstance(digest, DigestPrefix):
        with fetch_pool(client, workers) as pool:
            graph = _walk(client, repo, pool)
            found = resolve_prefix(client, graph, pool, digest)
        digest = found.digest
        if found.role is not Role.MANIFEST:
            return _classify_blob_in(client, repo, digest, workers, graph)
    target = repo.with_digest(digest)
    manifest: Manifest | None = graph.manifests.get(digest) if graph is not None else None
    try:
        if manifest is None:
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
            return _classify_blob_in(client, repo, digest, workers, graph)
        raise
    if manifest is None and not client.blob_exists(target, digest):
        return absent(repo, digest)
    if manifest is None:
        return _classify_blob_in(client, repo, digest, workers, graph)
    if graph is None:
        with fetch_pool(client, workers) as pool:
            graph = _walk(client, repo, pool)
    platform, missing = None, False
    config: Mapping[str, object] | None = _UNREAD
    if needs_config_platform(graph, manifest):
        config, missing = _read_config(client, repo, graph, manifest)
        platform = _platform(manifest, config)
    revision = _revision(client, repo, graph, manifest, config)  # before: its errors count
    result = classify_manifest(graph, manifest, config_platform=platform, config_missing=missing)
    if revision is None:
        return result
    return replace(result, revision=revision.commit, revision_source=str(revision.source))


_UNREAD: dict[str, object] = {}
"""A config not read yet (None: read, and there is none)."""


def _platform(manifest: Manifest, config: Mapping[str, object] | None) -> Platform | None:
    if manifest.schema_version == 1:
        return manifest.legacy_platform
    return Platform.from_json(config) if config else None


def _read_config(
    client: RegistryClient, repo: ImageRef, graph: TagGraph, manifest: Manifest
) -> tuple[Mapping[str, object] | None, bool]:
    """The config, and whether the config blob is missing (the manifest is still a
    manifest); a config that cannot be read is a walk error (exit 3)."""
    if manifest.schema_version == 1:
        return None, False
    try:
        return client.get_config(repo, manifest), False
    except NotFoundError:
        return None, True
    except TruedigestError as exc:
        try:
            config = manifest.config
        except TruedigestError:  # the descriptor itself is malformed (an OCI artifact's "")
            config = None
        graph.add_error(WalkError(None, config.digest if config else None, exc.message))
        return None, False


def _revision(
    client: RegistryClient,
    repo: ImageRef,
    graph: TagGraph,
    manifest: Manifest,
    config: Mapping[str, object] | None,
) -> Revision | None:
    """The commit the manifest records: its annotation; for an image, its config's
    label (one config GET unless the platform already read it), else the buildx
    provenance an index of the repository attaches to it (its manifest, unless the
    walk read it, and its statement layer). An index: its annotation only."""
    found = from_annotations(manifest.annotations)
    if found is not None or manifest.is_index or looks_like_attestation(manifest):
        return found
    if config is _UNREAD:
        # Only an image config carries labels: an artifact's config (or a malformed
        # descriptor) is no revision, not a failure to say what the digest is.
        config = (
            _read_config(client, repo, graph, manifest)[0] if has_image_config(manifest) else None
        )
    found = from_config(config)
    if found is not None:
        return found
    for parent, _ in graph.parents.get(manifest.digest, ()):
        index = graph.manifests.get(parent)
        for child in index.children if index is not None else ():
            if child.annotations.get(ATTESTATION_DIGEST_KEY) != str(manifest.digest):
                continue
            try:
                attestation = graph.manifests.get(child.digest) or client.get_manifest(
                    repo.with_digest(child.digest)
                )
                found = read_statement(client, repo, attestation)[1]
            except TruedigestError as exc:
                graph.add_error(WalkError(None, child.digest, exc.message))
                continue
            if found is not None:
                return found
    return None


def resolve_prefix(
    client: RegistryClient, graph: TagGraph, pool: ThreadPoolExecutor, prefix: DigestPrefix
) -> Candidate:
    """The one digest `prefix` names among the walked tags' manifests, their index
    entries and the configs and layers of the manifests read; while nothing matches,
    the image children's manifests are read, then every child's (as for a blob).

    Several matches: AmbiguousDigestError (exit 2, the candidates listed); none:
    NotFoundError (exit 10)."""
    for widen in (None, graph.image_entries, graph.all_entries):
        if widen is not None:
            _fetch(client, graph, pool, widen())
        found = matching(graph, prefix)
        if len(found) > 1:
            raise ambiguous(prefix, graph.repo.name, found)
        if found:
            return found[0]
    raise NotFoundError(
        f"no digest in {graph.repo.name} starts with {prefix}: none of its "
        f"{graph.tag_count} tags, their index entries, configs or layers",
        hint="a short digest is looked up among what the tags point at; give the full "
        "digest to ask about an untagged manifest or blob",
    )


def _classify_blob_in(
    client: RegistryClient,
    repo: ImageRef,
    digest: Digest,
    workers: int | None,
    graph: TagGraph | None = None,
) -> WhatIs:
    with fetch_pool(client, workers) as pool:
        if graph is None:
            graph = _walk(client, repo, pool)
        uses = _blob_uses(client, graph, pool, digest)
        body: object = None
        if needs_blob_body(graph, uses):
            # a blob no manifest uses is only sniffed: a large one is a layer
            body = _read_json(client, repo, digest, sniff=not uses)
        return classify_blob(graph, digest, uses, body)


def _walk(client: RegistryClient, repo: ImageRef, pool: ThreadPoolExecutor) -> TagGraph:
    """Every tag resolved, then nested indexes fetched until none is left."""
    scan = scan_tags(client, repo)  # a pool of the client's cap: its pacer decides
    graph = TagGraph(repo, scan.listed)
    for error in scan.errors:
        if error.exit_code != ExitCode.ABSENT:  # absent: deleted since the listing
            graph.add_error(WalkError(error.tag, None, error.error))
    for resolved in scan.resolved:
        graph.add_tag(str(resolved.ref.tag), resolved.digest, resolved.manifest)
    while nested := graph.expand():
        _fetch(client, graph, pool, nested)
    return graph


def _fetch(
    client: RegistryClient, graph: TagGraph, pool: ThreadPoolExecutor, digests: Iterable[Digest]
) -> None:
    wanted = graph.missing(digests)
    futures = [pool.submit(client.get_manifest, graph.repo.with_digest(d)) for d in wanted]
    for digest, fut in zip(wanted, futures, strict=True):
        try:
            graph.add_manifest(digest, fut.result())
        except TruedigestError as exc:
            graph.add_error(WalkError(None, digest, exc.message))


def _blob_uses(
    client: RegistryClient, graph: TagGraph, pool: ThreadPoolExecutor, blob: Digest
) -> list[BlobUse]:
    """Manifests using `blob`: the tagged ones, then image children, then attestations."""
    found = graph.uses(blob)
    if found:
        return found
    _fetch(client, graph, pool, graph.image_entries())
    found = graph.uses(blob)
    if found:
        return found
    _fetch(client, graph, pool, graph.all_entries())
    return graph.uses(blob)


def _read_json(client: RegistryClient, repo: ImageRef, digest: Digest, *, sniff: bool) -> object:
    """The blob's JSON; None when it is over the cap or not JSON."""
    try:
        body = (
            client.get_blob(repo, digest, cap=SNIFF_CAP) if sniff else client.get_blob(repo, digest)
        )
        return jsonutil.loads(body)
    except (ValueError, ManifestTooLargeError):
        return None


__all__ = ["SNIFF_CAP", "resolve_prefix", "whatis"]
